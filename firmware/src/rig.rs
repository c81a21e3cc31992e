//! The test-rig oracle's glue (`barespice.rig=1` on the kernel command line):
//! once the remote desktop has been unchanged for 1 s, log one line
//! `frame: WIDTHxHEIGHT sha256=HEX` with the SHA-256 of the remote primary
//! surface as PPM pixel data (`barespice-rig` holds the digest and the
//! quiet-period rule; `tests/rig/` compares it with the server's screendump).
//! Hashing runs on the session task and blocks it while it runs (1024x768
//! under QEMU TCG raspi3b: 30-530 ms seen, on a loaded host); it happens
//! only after a second without changes, so no drawing waits for it.
//! Must not: draw, or cost anything when the switch is off.

use core::sync::atomic::{AtomicBool, Ordering};
use embassy_time::{Duration, Instant};
use spice_core::canvas::Surface;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the `frame:` lines on (called once from `main`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// One per SPICE session: watches for quiet periods of the remote desktop.
pub struct Watch {
    quiet: barespice_rig::QuietWatch,
}

impl Watch {
    /// A watch for a new session (nothing shown yet).
    pub const fn new() -> Self {
        Self {
            quiet: barespice_rig::QuietWatch::new(),
        }
    }

    /// Called on every pass of the session loop: `changed` when new remote
    /// pixels were presented. Logs the `frame:` line when one is due.
    pub fn update(&mut self, surface: Option<&Surface>, changed: bool) {
        if !ENABLED.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now().as_millis();
        if changed {
            self.quiet.changed(now);
        }
        if let Some(s) = surface.filter(|_| self.quiet.due(now)) {
            let hex = alloc::format!(
                "{}",
                barespice_rig::surface_sha256(s.width, s.height, &s.pixels)
            );
            defmt::info!(
                "frame: {=u32}x{=u32} sha256={=str}",
                s.width,
                s.height,
                hex.as_str()
            );
        }
    }

    /// How long the session loop may sleep: `max`, or less when a `frame:`
    /// line falls due sooner.
    pub fn sleep(&self, max: Duration) -> Duration {
        match self.quiet.wait_ms(Instant::now().as_millis()) {
            Some(ms) if ENABLED.load(Ordering::Relaxed) => {
                max.min(Duration::from_millis(ms.max(1)))
            }
            _ => max,
        }
    }
}
