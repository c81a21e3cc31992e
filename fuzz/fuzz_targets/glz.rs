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
//! With bit 2 of the first byte a twin window takes every record too, the
//! plain GLZ ones through `decode_into` a strided destination (the direct
//! draw): it must succeed exactly when `decode` does, with the same rows.
//!
//! Seeds: fuzz/seeds/glz (GLZ and ZLIB_GLZ payload sequences recorded from
//! the lab server, in arrival order).
#![no_main]

use barespice_fuzz::{palette, records};
use libfuzzer_sys::fuzz_target;
use spice_core::image::glz::{GlzHeader, GlzWindow};
use spice_core::image::Dest;

/// Largest image the twin decodes into a destination (pixels).
const MAX_DIRECT_PIXELS: u64 = 1 << 20;

/// Decode `body` with `twin.decode_into` a destination 3 pixels wider than
/// the header's image and check it against `whole`, the result of `decode`.
fn check_direct(
    twin: &mut GlzWindow,
    body: &[u8],
    whole: &Result<std::sync::Arc<spice_core::image::Image>, spice_core::error::WireError>,
) {
    let Ok(h) = GlzHeader::parse(body) else {
        assert!(whole.is_err());
        return;
    };
    if u64::from(h.width) * u64::from(h.height) > MAX_DIRECT_PIXELS {
        // Kept in step with the other window all the same.
        let _ = twin.decode(body, None);
        return;
    }
    let (w, hh) = (h.width as usize, h.height as usize);
    let stride = w + 3;
    let mut buf = vec![0u32; stride * hh];
    let Ok(mut dst) = Dest::new(&mut buf, w, hh, stride) else {
        let _ = twin.decode(body, None);
        return;
    };
    let direct = twin.decode_into(body, &mut dst);
    match (whole, direct) {
        (Ok(img), Ok(())) => {
            for (y, row) in img.pixels.chunks_exact(w).enumerate() {
                assert_eq!(
                    &buf[y * stride..y * stride + w],
                    row,
                    "decode_into row {y} differs"
                );
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("decode {:?} but decode_into {:?}", a.is_ok(), b.is_ok()),
    }
}

/// Window sizes in pixels: none, small (forces eviction), the default.
const WINDOWS: [u32; 4] = [0, 1 << 16, 1 << 20, 4 << 20];

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let window = WINDOWS[(w & 3) as usize];
    let mut win = GlzWindow::new(window);
    let mut twin = (w & 4 != 0).then(|| GlzWindow::new(window));
    let pal = palette();
    for (kind, body) in records(rest) {
        let (result, gross) = match kind % 3 {
            0 => {
                let result = win.decode(body, None);
                if let Some(twin) = twin.as_mut() {
                    check_direct(twin, body, &result);
                }
                (result, GlzHeader::parse(body).map(|h| h.gross_pixels()))
            }
            1 => {
                let Some((size, zdata)) = body.split_first_chunk::<4>() else {
                    continue;
                };
                let size = u32::from_le_bytes(*size);
                if let Some(twin) = twin.as_mut() {
                    let _ = twin.decode_zlib(zdata, size);
                }
                (win.decode_zlib(zdata, size), Ok(u64::MAX / 2))
            }
            _ => {
                if let Some(twin) = twin.as_mut() {
                    let _ = twin.decode(body, Some(&pal[..]));
                }
                (
                    win.decode(body, Some(&pal[..])),
                    GlzHeader::parse(body).map(|h| h.gross_pixels()),
                )
            }
        };
        if let (Ok(img), Ok(gross)) = (result, gross) {
            assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
            // Only the image just decoded may push the window past its size.
            assert!(
                win.pixels() <= u64::from(window) + gross,
                "GLZ window holds more than its size"
            );
        }
    }
});
