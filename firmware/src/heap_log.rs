//! Heap figures in the log: a line every [`PERIOD`] while the firmware runs,
//! and one after each session's teardown (what a soak or a hostile-server
//! run compares with its baseline).
//! Must not: change anything; it only reads boot's counters.

use embassy_time::{Duration, Timer};

/// How often the periodic line is written.
pub const PERIOD: Duration = Duration::from_secs(10);

/// Log the heap figures with `when` ("periodic", "after teardown").
pub fn log(when: &str) {
    let s = barespice_boot::heap_stats();
    defmt::info!(
        "heap: {=str}: in use {=usize} KiB of {=usize} KiB, high-water {=usize} KiB, live allocations {=usize}",
        when,
        s.in_use >> 10,
        s.size >> 10,
        s.high_water >> 10,
        s.live
    );
}

/// Writes the periodic line for ever.
#[embassy_executor::task]
pub async fn task() {
    loop {
        Timer::after(PERIOD).await;
        log("periodic");
    }
}

/// The session's memory budget for a heap with `free` bytes unused when the
/// session starts: seven eighths of it, less 4 MiB for what the budget does
/// not charge (event queues, outgoing messages, the presenter's work).
pub fn session_budget(free: usize) -> usize {
    (free / 8 * 7).saturating_sub(4 << 20)
}
