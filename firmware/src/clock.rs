//! Wall-clock time for certificate checks: unknown at boot (no RTC), set by
//! SNTP when a server is configured (`x-barespice-ntp`). While unknown,
//! barespice-transport checks certificates as at the later of the firmware
//! build time and the certificate's notBefore (so one that expired before
//! the build is refused), and the status screen says "clock unknown".
//! Must not: block, or pretend to know the time.

use core::sync::atomic::{AtomicU64, Ordering};
use embassy_time::Instant;

/// Unix seconds at embassy's `Instant` zero; 0 while unknown.
static EPOCH_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// When this firmware was built, Unix seconds (build.rs).
pub fn build_time() -> u64 {
    env!("BARESPICE_BUILD_UNIX").parse().unwrap_or(0)
}

/// Records the current Unix time (from SNTP).
pub fn set_now(unix: u64) {
    let up = Instant::now().as_secs();
    EPOCH_AT_BOOT.store(unix.saturating_sub(up).max(1), Ordering::Relaxed);
}

/// The firmware's clock as barespice-transport sees it.
#[derive(Debug)]
pub struct FirmwareClock;

impl barespice_transport::Clock for FirmwareClock {
    fn unix_now(&self) -> Option<u64> {
        match EPOCH_AT_BOOT.load(Ordering::Relaxed) {
            0 => None,
            e => Some(e + Instant::now().as_secs()),
        }
    }
}
