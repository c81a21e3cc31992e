//! Fuzz the GLZ decoder and its cross-image dictionary window, plain and
//! zlib-wrapped (SPICE_IMAGE_TYPE_GLZ_RGB, ZLIB_GLZ_RGB).
//!
//! Input: one byte choosing the window size, then records (`u16 kind`,
//! `u32 size`, body; see `barespice_fuzz::records`) decoded in order into
//! one [`GlzWindow`], so later images may reference earlier ones:
//! kind 0 = GLZ_RGB payload, kind 1 = ZLIB_GLZ_RGB (body = `u32
//! glz_data_size` then the zlib stream), kind 2 = GLZ with a palette.
//! Nothing may panic; an `Ok` image has exactly `width * height` pixels, and
//! the window never holds more than its size plus the newest image.
//!
//! Seeds: fuzz/seeds/glz (GLZ and ZLIB_GLZ payload sequences recorded from
//! the lab server, in arrival order).
#![no_main]

use barespice_fuzz::{palette, records};
use libfuzzer_sys::fuzz_target;
use spice_core::image::glz::{GlzHeader, GlzWindow};

/// Window sizes in pixels: none, small (forces eviction), the default.
const WINDOWS: [u32; 4] = [0, 1 << 16, 1 << 20, 4 << 20];

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else { return };
    let window = WINDOWS[(w & 3) as usize];
    let mut win = GlzWindow::new(window);
    let pal = palette();
    for (kind, body) in records(rest) {
        let (result, gross) = match kind % 3 {
            0 => (win.decode(body, None), GlzHeader::parse(body).map(|h| h.gross_pixels())),
            1 => {
                let Some((size, zdata)) = body.split_first_chunk::<4>() else { continue };
                (win.decode_zlib(zdata, u32::from_le_bytes(*size)), Ok(u64::MAX / 2))
            }
            _ => (win.decode(body, Some(&pal[..])), GlzHeader::parse(body).map(|h| h.gross_pixels())),
        };
        if let (Ok(img), Ok(gross)) = (result, gross) {
            assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
            // Only the image just decoded may push the window past its size.
            assert!(win.pixels() <= u64::from(window) + gross, "GLZ window holds more than its size");
        }
    }
});
