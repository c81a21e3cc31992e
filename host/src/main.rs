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

/// mimalloc's setting, read from the environment when the process loads,
/// of how long (ms) freed memory stays in the process before it is handed
/// back to the OS; -1 keeps it. Its default (1 s) handed back the buffers of
/// released GLZ images between two redraws, and faulting fresh pages in for
/// the next redraw's images cost about 7 % of a glz redraw's CPU
/// (`scripts/bench-clients`, issue 14). The session's memory is bounded by
/// its budget anyway.
const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// Run this program again with [`PURGE_DELAY_VAR`] set to -1 when the
/// environment does not set it (mimalloc reads it only at load, and
/// setting it through mimalloc's C API takes `unsafe`). Carries on as it
/// is when that fails.
fn keep_freed_memory() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    // exec returns only when it failed.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(PURGE_DELAY_VAR, "-1")
        .exec();
}

/// Exit code when the server made the session exceed its memory budget.
const EXIT_OVER_BUDGET: i32 = 12;

fn main() {
    keep_freed_memory();
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
