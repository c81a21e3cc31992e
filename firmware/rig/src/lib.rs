//! `barespice-rig`: the firmware's side of the hardware-in-the-loop oracle.
//!
//! With `barespice.rig=1` on the kernel command line the firmware logs
//! `frame: WIDTHxHEIGHT sha256=HEX` every time the remote desktop has been
//! unchanged for 1 s. This crate owns the two pure parts of that:
//! - [`surface_sha256`]: SHA-256 of a surface as 8-bit R,G,B triples, row by
//!   row from the top: exactly the pixel data of a binary PPM (`P6`, maxval
//!   255) of the surface, so a rig can hash the server's screendump the same
//!   way (`tests/rig/`);
//! - [`QuietWatch`]: when "unchanged for 1 s" has been reached, once per
//!   quiet period.
//!
//! Must not: log, read clocks or know about sessions (the firmware's
//! `rig.rs` glue does); it is `no_std` and tested on the host.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use sha2::{Digest, Sha256};

/// How long the remote desktop must stay unchanged before a `frame:` line.
pub const QUIET_MS: u64 = 1000;

/// A SHA-256 digest, shown as 64 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sha256Hex(pub [u8; 32]);

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// SHA-256 of `width x height` pixels (`0x??RRGGBB`, row-major, the top
/// row first; the top byte is ignored) as R,G,B bytes. Missing pixels (a
/// `pixels` slice shorter than `width * height`) hash as black, so a
/// truncated surface cannot match a full one by accident.
pub fn surface_sha256(width: u32, height: u32, pixels: &[u32]) -> Sha256Hex {
    const CHUNK: usize = 256;
    let total = width as usize * height as usize;
    let mut hasher = Sha256::new();
    let mut buf = [0u8; CHUNK * 3];
    let mut done = 0;
    while done < total {
        let n = CHUNK.min(total - done);
        for (i, out) in buf.chunks_exact_mut(3).take(n).enumerate() {
            let p = pixels.get(done + i).copied().unwrap_or(0);
            out.copy_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
        }
        hasher.update(&buf[..n * 3]);
        done += n;
    }
    Sha256Hex(hasher.finalize().into())
}

/// Decides when the remote desktop has been quiet for [`QUIET_MS`]: one
/// report per quiet period. Times are milliseconds of any monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuietWatch {
    last_change: Option<u64>,
    reported: bool,
}

impl QuietWatch {
    /// Nothing shown yet: no report until the first change.
    pub const fn new() -> Self {
        Self {
            last_change: None,
            reported: false,
        }
    }

    /// The remote desktop changed at `now`.
    pub fn changed(&mut self, now: u64) {
        self.last_change = Some(now);
        self.reported = false;
    }

    /// True exactly once per quiet period: at the first call made at least
    /// [`QUIET_MS`] after the last change.
    pub fn due(&mut self, now: u64) -> bool {
        match self.last_change {
            Some(t) if !self.reported && now.saturating_sub(t) >= QUIET_MS => {
                self.reported = true;
                true
            }
            _ => false,
        }
    }

    /// Milliseconds from `now` until a report becomes due, if one is pending
    /// (so a caller can sleep exactly that long).
    pub fn wait_ms(&self, now: u64) -> Option<u64> {
        match self.last_change {
            Some(t) if !self.reported => Some((t + QUIET_MS).saturating_sub(now)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
