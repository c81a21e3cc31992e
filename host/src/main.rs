//! `barespice-host --server HOST:PORT [--password-file F] --snapshot OUT.png [--idle-ms N]
//! [--timeout-s N] [--type TEXT] [--compression off|lz|lz4|quic|glz|auto] [--record DIR] [--log]`
//!
//! Connects to a SPICE server, renders display 0, and writes a PNG once the
//! display has been quiet for `--idle-ms` after the first frame. Exits 0 on
//! success; otherwise prints one line saying why and exits 1 (2 for bad
//! arguments, 3 when the server made the session exceed its memory budget).

use barespice_host::{args, client};

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
    if let Err(msg) = client::run(a) {
        eprintln!("barespice-host: {msg}");
        std::process::exit(if msg.contains(spice_core::budget::OVER_BUDGET) { 3 } else { 1 });
    }
}
