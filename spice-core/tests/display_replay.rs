//! The display channel against a real SPICE server: a recorded session is
//! replayed through a fresh [`Display`] and the primary surface must equal
//! the server's own screendump, pixel for pixel.
//!
//! Fixture `data/display/lz-192x144.spicerec` was recorded by
//! `barespice-host --record` from QEMU's SPICE server (scripts/lab-server
//! `--image-compression lz --resolution 192x144`, bochs-drm guest, scenes
//! 1..3, client PREFERRED_COMPRESSION=LZ): SURFACE_CREATE, MONITORS_CONFIG,
//! MARK and 13 DRAW_COPYs of genuine LZ_RGB images. `lz-192x144.png` is the
//! QMP `screendump` taken once the guest's last scene was static. Format of
//! the recording: 16-byte magic, then `u16 type, u32 size, body` per message.

mod common;

use spice_core::display::{Display, DisplayConfig};
use spice_core::enums::*;
use spice_core::image::glz::GlzWindow;
use spice_core::outbox::Outbox;

/// A file of `tests/data/display`.
fn read(name: &str) -> Vec<u8> {
    common::read(&format!("display/{name}"))
}

/// A fresh display channel with room for the whole recording in its pixmap cache.
fn display(preferred_compression: Option<u8>) -> Display {
    let config = DisplayConfig {
        preferred_compression,
        glz_window_pixels: 0,
        pixmap_cache_pixels: 1 << 24,
        glz_dictionary_id: 0,
        pixmap_cache_id: 0,
    };
    Display::new(0, config)
}

fn replay(rec: &[u8]) -> Display {
    let mut d = display(Some(SPICE_IMAGE_COMPRESSION_LZ as u8));
    let mut glz = GlzWindow::new(0);
    let mut out = Outbox::new();
    for (t, body) in common::messages(rec) {
        if t >= 101 {
            d.handle(t, body, &mut glz, &mut out)
                .unwrap_or_else(|e| panic!("message {t}: {e}"));
        }
    }
    d
}

#[test]
fn lz_session_matches_server_screendump() {
    let rec = read("lz-192x144.spicerec");
    let copies = common::messages(&rec)
        .iter()
        .filter(|(t, _)| *t == SPICE_MSG_DISPLAY_DRAW_COPY)
        .count();
    assert!(copies >= 10, "fixture should hold the recorded LZ draws");
    let mut d = replay(&rec);
    let (w, h, want) = common::screendump("display/lz-192x144.png");
    let s = d.primary().expect("primary surface");
    assert_eq!((s.width, s.height), (w, h));
    let bad = s
        .pixels
        .iter()
        .zip(&want)
        .filter(|(a, b)| (**a & 0x00ff_ffff) != **b)
        .count();
    assert_eq!(bad, 0, "{bad} pixels differ from the screendump");
    assert_eq!(d.stats().draws, copies as u64);
    assert!(d.take_dirty().is_some());
}

#[test]
fn lz_session_truncated_messages_never_panic() {
    let rec = read("lz-192x144.spicerec");
    let mut d = display(None);
    let mut glz = GlzWindow::new(0);
    let mut out = Outbox::new();
    for (t, body) in common::messages(&rec) {
        if t < 101 {
            continue;
        }
        // Every prefix (coarsely for big bodies), then a corrupted copy, then the real one.
        let step = (body.len() / 97).max(1);
        for cut in (0..body.len()).step_by(step) {
            let _ = d.handle(t, &body[..cut], &mut glz, &mut out);
        }
        let mut bad = body.to_vec();
        for i in (0..bad.len()).step_by(13) {
            bad[i] ^= 0x5a;
        }
        let _ = d.handle(t, &bad, &mut glz, &mut out);
        d.handle(t, body, &mut glz, &mut out).unwrap();
    }
    assert!(d.primary().is_some());
}
