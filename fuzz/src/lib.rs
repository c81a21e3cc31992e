//! Shared pieces of the fuzz targets (fuzz_targets/*.rs).
//!
//! Owns: the input framing the targets share (records of `u16 type`,
//! `u32 size`, body — the same layout as barespice-host `--record` files, so
//! recordings are seeds as they are), a deterministic RNG for the RSA ticket,
//! the display configuration every target uses, and the server link replies
//! captured from the lab server (fixtures/, written by fuzz/make-seeds).
//! Must not: hold assertions about decoder output (each target states its
//! own) or anything that needs I/O at run time.

use rand_core::{CryptoRng, RngCore};
use spice_core::display::DisplayConfig;
use spice_core::enums::{SPICE_CHANNEL_CURSOR, SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_INPUTS};
use spice_core::session::{ChannelHandle, Session, SessionConfig};

/// Split `data` into `(type, body)` records: little-endian `u16 type`,
/// `u32 size`, then `size` bytes. A truncated last record is dropped.
pub fn records(data: &[u8]) -> Records<'_> {
    Records { rest: data }
}

/// Iterator returned by [`records`].
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let hdr = self.rest.get(..6)?;
        let t = u16::from_le_bytes([hdr[0], hdr[1]]);
        let n = u32::from_le_bytes([hdr[2], hdr[3], hdr[4], hdr[5]]) as usize;
        let body = self.rest.get(6..6usize.checked_add(n)?)?;
        self.rest = &self.rest[6 + n..];
        Some((t, body))
    }
}

/// Split `data` into chunks `[selector u8][len u16 LE][len bytes]` (the
/// session target's framing: which channel, then what arrived on it). A
/// short last chunk is delivered with what is there.
pub fn chunks(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    core::iter::from_fn(move || {
        let (&sel, tail) = rest.split_first()?;
        let len = match tail {
            [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
            _ => return None,
        };
        let body = &tail[2..];
        let n = len.min(body.len());
        rest = &body[n..];
        Some((sel, &body[..n]))
    })
}

/// A deterministic xorshift generator standing in for the OS RNG (fuzzing
/// needs reproducible runs; the ticket's secrecy is not under test).
pub struct FuzzRng(u64);

impl FuzzRng {
    /// A generator with a fixed, non-zero state derived from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
}

impl RngCore for FuzzRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FuzzRng {}

/// The display configuration barespice-host uses (session defaults).
pub fn display_config() -> DisplayConfig {
    let d = SessionConfig::default();
    DisplayConfig {
        preferred_compression: None,
        glz_window_pixels: d.glz_window_pixels,
        pixmap_cache_pixels: d.pixmap_cache_pixels,
        glz_dictionary_id: 0,
        pixmap_cache_id: 1,
    }
}

/// A 256-entry palette (0x00RRGGBB) for palette images whose palette the
/// input does not carry.
pub fn palette() -> [u32; 256] {
    core::array::from_fn(|i| {
        let i = i as u32;
        (i << 16) | ((255 - i) << 8) | (i.wrapping_mul(37) & 0xff)
    })
}

/// What the lab server (QEMU 10, spice-server 0.15) sent on each channel
/// before the first channel message: link header, `SpiceLinkReply` and the
/// 4-byte link result; for MAIN also the messages up to and including
/// MAIN_INIT. Captured by fuzz/make-seeds.
pub mod fixtures {
    /// MAIN channel: link reply, result, first messages through MAIN_INIT.
    pub const MAIN: &[u8] = include_bytes!("../fixtures/main.bin");
    /// DISPLAY channel 0: link reply and result.
    pub const DISPLAY: &[u8] = include_bytes!("../fixtures/display.bin");
    /// INPUTS channel: link reply and result.
    pub const INPUTS: &[u8] = include_bytes!("../fixtures/inputs.bin");
    /// CURSOR channel 0: link reply and result.
    pub const CURSOR: &[u8] = include_bytes!("../fixtures/cursor.bin");
}

/// Write out everything the session queued and forget the events.
pub fn drain(s: &mut Session) {
    for h in s.handles() {
        let n = s.pending(h).len();
        s.consume(h, n);
    }
    while s.poll_event().is_some() {}
}

/// A session with MAIN, DISPLAY 0, INPUTS 0 and CURSOR 0 linked by the
/// captured fixtures, or `None` when the fixtures do not bring it up
/// (checked by this crate's tests).
pub fn linked_session() -> Option<(Session, [ChannelHandle; 4])> {
    let mut s = Session::new(SessionConfig::default(), Box::new(FuzzRng::new(3))).ok()?;
    let main = s.main_handle();
    drain(&mut s);
    s.receive(main, fixtures::MAIN).ok()?;
    drain(&mut s);
    let mut handles = [main; 4];
    for (i, (t, reply)) in [
        (SPICE_CHANNEL_DISPLAY, fixtures::DISPLAY),
        (SPICE_CHANNEL_INPUTS, fixtures::INPUTS),
        (SPICE_CHANNEL_CURSOR, fixtures::CURSOR),
    ]
    .into_iter()
    .enumerate()
    {
        let h = s.open(t as u8, 0).ok()?;
        drain(&mut s);
        s.receive(h, reply).ok()?;
        if !s.is_linked(h) {
            return None;
        }
        handles[i + 1] = h;
    }
    drain(&mut s);
    Some((s, handles))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_the_recording_layout() {
        let data = [0x30, 0x01, 2, 0, 0, 0, 0xAA, 0xBB, 0x66, 0x00, 0, 0, 0, 0, 0x01];
        let got: Vec<_> = records(&data).collect();
        assert_eq!(got, [(0x130, &[0xAA, 0xBB][..]), (0x66, &[][..])]);
    }

    #[test]
    fn fixtures_link_all_four_channels() {
        let (s, handles) = linked_session().expect("fixtures bring the session up");
        assert!(s.session_id().is_some());
        for h in handles {
            assert!(s.is_linked(h), "{h:?} not linked");
        }
    }

    #[test]
    fn chunks_keep_a_short_tail() {
        let data = [1, 2, 0, 9, 9, 3, 5, 0, 7];
        let got: Vec<_> = chunks(&data).collect();
        assert_eq!(got, [(1, &[9, 9][..]), (3, &[7][..])]);
    }
}
