//! `barespice-host (FILE.vv | --server HOST:PORT) [--password-file F] --snapshot OUT.png [--idle-ms N]
//! [--timeout-s N] [--type TEXT] [--compression off|lz|lz4|quic|glz|auto] [--record DIR] [--log]`
//!
//! Connects to a SPICE server, renders display 0, and writes a PNG once the
//! display has been quiet for `--idle-ms` after the first frame. Exits 0 on
//! success; otherwise prints one line saying why and what to check, and
//! exits with the failure's code (README "Exit codes": 3-11 for connection
//! failures, 12 when the server made the session exceed its memory budget,
//! 2 for bad arguments, 1 for anything else).

use barespice_host::{args, client};

/// The process heap: mimalloc, whose small-block paths are cheaper than
/// glibc's (about 10 % less client CPU with glz and lz in
/// `scripts/bench-clients`, issue 14). Built without transparent huge
/// pages: with them, faulting in and compacting 2 MiB pages for every new
/// GLZ image doubled the CPU of a glz redraw.
#[global_allocator]
static HEAP: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code when the server made the session exceed its memory budget.
const EXIT_OVER_BUDGET: i32 = 12;

fn main() {
    let a = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("barespice-host: {msg}");
            }
            eprintln!("{}", args::USAGE);
            std::process::exit(2);
        }
    };
    match client::run(a) {
        Ok(()) => {}
        Err(client::Exit::Failure(f)) => {
            eprintln!("barespice-host: {f} (check {})", f.hint());
            let over_budget = f.to_string().contains(spice_core::budget::OVER_BUDGET);
            std::process::exit(if over_budget {
                EXIT_OVER_BUDGET
            } else {
                f.exit_code()
            });
        }
        Err(client::Exit::Other(msg)) => {
            eprintln!("barespice-host: {msg}");
            std::process::exit(if msg.contains(spice_core::budget::OVER_BUDGET) {
                EXIT_OVER_BUDGET
            } else {
                1
            });
        }
    }
}
