//! Log lines on stderr, each written with one `write` call.
//!
//! `eprintln!` writes every formatted piece of a line separately (stderr is
//! unbuffered), which costs a dozen system calls for a `--log` dirty line
//! and runs inside the measured window of `scripts/bench-clients`; the
//! `log!` macro formats the line first and writes it whole.

use std::io::Write;

/// Write one already formatted line (newline included) to stderr in a
/// single call; a failed write is ignored (a log line is not worth an exit).
pub fn write_line(line: &str) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `eprintln!` with the line formatted first and written at once.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::write_line(&format!("{}\n", format_args!($($arg)*)))
    };
}
