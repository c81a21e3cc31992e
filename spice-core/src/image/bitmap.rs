//! Uncompressed `BITMAP` images (`SpiceBitmap`): every `SPICE_BITMAP_FMT_*`.
//!
//! Owns turning raw rows (1/4/8-bit indexed, 16-bit x555, 24-bit, 32-bit
//! xRGB, RGBA, 8-bit alpha; top-down or bottom-up, with a stride) into an
//! [`Image`] (the per-pixel conversions live in `pixel`). It must
//! not parse the SPICE image descriptor or look up palettes in a cache (that
//! is the dispatcher in `image`).

use super::pixel::{expand_indexed, rgb555_to_xrgb};
use super::{alloc_pixels, Dest, Image};
use crate::enums::*;
use crate::error::WireError;

/// Bits per pixel of a `SPICE_BITMAP_FMT_*`, or `None` for an unknown format.
pub fn bits_per_pixel(format: u8) -> Option<u32> {
    Some(match format as u32 {
        SPICE_BITMAP_FMT_1BIT_LE | SPICE_BITMAP_FMT_1BIT_BE => 1,
        SPICE_BITMAP_FMT_4BIT_LE | SPICE_BITMAP_FMT_4BIT_BE => 4,
        SPICE_BITMAP_FMT_8BIT | SPICE_BITMAP_FMT_8BIT_A => 8,
        SPICE_BITMAP_FMT_16BIT => 16,
        SPICE_BITMAP_FMT_24BIT => 24,
        SPICE_BITMAP_FMT_32BIT | SPICE_BITMAP_FMT_RGBA => 32,
        _ => return None,
    })
}

/// The fields of a `SpiceBitmap` needed to decode its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitmapInfo {
    /// `SPICE_BITMAP_FMT_*`.
    pub format: u8,
    /// `SPICE_BITMAP_FLAGS_*` (only `TOP_DOWN` matters here).
    pub flags: u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
}

/// Decode raw bitmap rows. `palette` is needed for the 1/4/8-bit indexed
/// formats. `data` must hold `stride * (height - 1)` bytes plus one full row.
pub fn decode(info: &BitmapInfo, data: &[u8], palette: Option<&[u32]>) -> Result<Image, WireError> {
    check(info, data)?;
    // Only now, with the rows known to be there, is the image allocated.
    let mut pixels = alloc_pixels(info.width, info.height)?;
    let w = info.width as usize;
    let mut dst = Dest::new(&mut pixels, w, info.height as usize, w)?;
    decode_into(info, data, palette, &mut dst)?;
    Ok(Image {
        width: info.width,
        height: info.height,
        pixels,
        has_alpha: has_alpha(info.format),
    })
}

/// Whether pixels of `SPICE_BITMAP_FMT_*` `format` carry alpha (as
/// [`Image::has_alpha`] says of a decoded bitmap).
pub fn has_alpha(format: u8) -> bool {
    matches!(
        format as u32,
        SPICE_BITMAP_FMT_RGBA | SPICE_BITMAP_FMT_8BIT_A
    )
}

/// Refuse an unknown format, an empty size, a stride narrower than a row or
/// rows missing from `data`; gives the bytes of one packed row.
fn check(info: &BitmapInfo, data: &[u8]) -> Result<usize, WireError> {
    let bpp = bits_per_pixel(info.format).ok_or(WireError::new(0, "unknown bitmap format"))?;
    let w = info.width as usize;
    let h = info.height as usize;
    if w == 0 || h == 0 {
        return Err(WireError::new(0, "empty image"));
    }
    let row_bytes = (w * bpp as usize).div_ceil(8);
    let stride = info.stride as usize;
    if stride < row_bytes {
        return Err(WireError::new(0, "bitmap stride smaller than a row"));
    }
    let needed = stride
        .checked_mul(h - 1)
        .and_then(|n| n.checked_add(row_bytes))
        .ok_or(WireError::new(0, "bitmap size overflows"))?;
    if data.len() < needed {
        return Err(WireError::new(data.len(), "bitmap data truncated"));
    }
    Ok(row_bytes)
}

/// Decode raw bitmap rows straight into `dst`, which must have the bitmap's
/// size; pixels as [`decode`] gives them.
pub fn decode_into(
    info: &BitmapInfo,
    data: &[u8],
    palette: Option<&[u32]>,
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    let row_bytes = check(info, data)?;
    dst.check_size(info.width, info.height)?;
    let h = info.height as usize;
    let stride = info.stride as usize;
    let indexed = bits_per_pixel(info.format).is_some_and(|b| b <= 8)
        && info.format as u32 != SPICE_BITMAP_FMT_8BIT_A;
    let palette = if indexed {
        Some(palette.ok_or(WireError::new(0, "indexed bitmap without palette"))?)
    } else {
        None
    };
    let top_down = info.flags as u32 & SPICE_BITMAP_FLAGS_TOP_DOWN != 0;
    let fmt = info.format as u32;
    for r in 0..h {
        let src = &data[r * stride..r * stride + row_bytes];
        let out = dst.row_mut(if top_down { r } else { h - 1 - r });
        convert_row(fmt, palette, src, out)?;
    }
    Ok(())
}

/// Whether every pixel [`convert_row`] gives for the direct colour
/// `SPICE_BITMAP_FMT_*` `format` has its alpha byte clear (16, 24 and 32
/// bits: 32BIT's fourth byte is padding and is dropped).
pub fn leaves_alpha_clear(format: u32) -> bool {
    matches!(
        format,
        SPICE_BITMAP_FMT_16BIT | SPICE_BITMAP_FMT_24BIT | SPICE_BITMAP_FMT_32BIT
    )
}

/// Convert one row of `SPICE_BITMAP_FMT_*` pixels (`fmt`) into `out.len()`
/// pixels; `src` holds at least the row's bytes (shorter input leaves the
/// rest of `out` as it was). `palette` is required for the indexed formats.
pub(crate) fn convert_row(
    fmt: u32,
    palette: Option<&[u32]>,
    src: &[u8],
    out: &mut [u32],
) -> Result<(), WireError> {
    match (fmt, palette) {
        (SPICE_BITMAP_FMT_1BIT_LE, Some(p)) => expand_indexed(src, 1, false, p, out),
        (SPICE_BITMAP_FMT_1BIT_BE, Some(p)) => expand_indexed(src, 1, true, p, out),
        (SPICE_BITMAP_FMT_4BIT_LE, Some(p)) => expand_indexed(src, 4, false, p, out),
        (SPICE_BITMAP_FMT_4BIT_BE, Some(p)) => expand_indexed(src, 4, true, p, out),
        (SPICE_BITMAP_FMT_8BIT, Some(p)) => expand_indexed(src, 8, false, p, out),
        (SPICE_BITMAP_FMT_8BIT_A, _) => {
            for (o, &a) in out.iter_mut().zip(src) {
                *o = (a as u32) << 24;
            }
        }
        (SPICE_BITMAP_FMT_16BIT, _) => {
            for (o, b) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = rgb555_to_xrgb(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        (SPICE_BITMAP_FMT_24BIT, _) => {
            for (o, b) in out.iter_mut().zip(src.chunks_exact(3)) {
                *o = u32::from_le_bytes([b[0], b[1], b[2], 0]);
            }
        }
        (SPICE_BITMAP_FMT_32BIT, _) => {
            for (o, b) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = u32::from_le_bytes([b[0], b[1], b[2], 0]);
            }
        }
        (SPICE_BITMAP_FMT_RGBA, _) => {
            for (o, b) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        _ => return Err(WireError::new(0, "unknown bitmap format")),
    }
    Ok(())
}

/// Swap the rows of a `width`-pixel-wide image in place, turning a
/// bottom-up bitmap's rows top row first (a trailing partial row is left).
pub(crate) fn flip_rows(px: &mut [u32], width: usize) {
    let h = px.len().checked_div(width).unwrap_or(0);
    for r in 0..h / 2 {
        let (a, b) = px.split_at_mut((h - 1 - r) * width);
        a[r * width..(r + 1) * width].swap_with_slice(&mut b[..width]);
    }
}

/// Decode a 1-bit bitmap as a mask: one `bool` per pixel, `true` where the
/// bit is set (the palette is ignored, as masks are used by `canvas_base.c`).
pub fn decode_mask(info: &BitmapInfo, data: &[u8]) -> Result<Image, WireError> {
    check_mask(info)?;
    decode(info, data, Some(&MASK_PALETTE))
}

/// [`decode_mask`] straight into `dst`, which must have the bitmap's size.
pub fn decode_mask_into(
    info: &BitmapInfo,
    data: &[u8],
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    check_mask(info)?;
    decode_into(info, data, Some(&MASK_PALETTE), dst)
}

/// A two-entry palette 0 / all-ones: turns mask bits into "set" pixels.
const MASK_PALETTE: [u32; 2] = [0, 0x00ff_ffff];

/// Refuse a mask bitmap that is not 1 bit per pixel.
fn check_mask(info: &BitmapInfo) -> Result<(), WireError> {
    let fmt = info.format as u32;
    if fmt != SPICE_BITMAP_FMT_1BIT_LE && fmt != SPICE_BITMAP_FMT_1BIT_BE {
        return Err(WireError::new(0, "mask bitmap is not 1 bit per pixel"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn info(format: u32, flags: u32, w: u32, h: u32, stride: u32) -> BitmapInfo {
        BitmapInfo {
            format: format as u8,
            flags: flags as u8,
            width: w,
            height: h,
            stride,
        }
    }

    #[test]
    fn rgb32_bottom_up_with_stride_padding() {
        // 1x2, stride 8: rows are [B G R X] [pad x4]; first row in memory is the bottom one.
        let data = [0x01, 0x02, 0x03, 0xee, 9, 9, 9, 9, 0x11, 0x12, 0x13, 0xee];
        let img = decode(&info(SPICE_BITMAP_FMT_32BIT, 0, 1, 2, 8), &data, None).unwrap();
        assert_eq!(img.pixels, vec![0x131211, 0x030201]);
        assert!(!img.has_alpha);
    }

    #[test]
    fn rgba_keeps_alpha_and_top_down() {
        let data = [0x01, 0x02, 0x03, 0x80, 0x11, 0x12, 0x13, 0xff];
        let i = info(SPICE_BITMAP_FMT_RGBA, SPICE_BITMAP_FLAGS_TOP_DOWN, 1, 2, 4);
        let img = decode(&i, &data, None).unwrap();
        assert_eq!(img.pixels, vec![0x80030201, 0xff131211]);
        assert!(img.has_alpha);
    }

    #[test]
    fn rgb24_and_rgb16() {
        let i = info(SPICE_BITMAP_FMT_24BIT, SPICE_BITMAP_FLAGS_TOP_DOWN, 2, 1, 6);
        let img = decode(&i, &[1, 2, 3, 4, 5, 6], None).unwrap();
        assert_eq!(img.pixels, vec![0x030201, 0x060504]);
        let i = info(SPICE_BITMAP_FMT_16BIT, SPICE_BITMAP_FLAGS_TOP_DOWN, 2, 1, 4);
        // 0x03e0 = pure green (little-endian bytes e0 03), 0x7fff = white.
        let img = decode(&i, &[0xe0, 0x03, 0xff, 0x7f], None).unwrap();
        assert_eq!(img.pixels, vec![0x00ff00, 0xffffff]);
    }

    #[test]
    fn indexed_formats() {
        let pal = [0x000000, 0x0000ff, 0x00ff00, 0xff0000];
        let td = SPICE_BITMAP_FLAGS_TOP_DOWN;
        let img = decode(
            &info(SPICE_BITMAP_FMT_1BIT_BE, td, 3, 1, 1),
            &[0b0100_0000],
            Some(&pal),
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0, 0xff, 0]);
        let img = decode(
            &info(SPICE_BITMAP_FMT_1BIT_LE, td, 3, 1, 1),
            &[0b0000_0010],
            Some(&pal),
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0, 0xff, 0]);
        let img = decode(
            &info(SPICE_BITMAP_FMT_4BIT_BE, td, 3, 1, 2),
            &[0x23, 0x10],
            Some(&pal),
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0x00ff00, 0xff0000, 0x0000ff]);
        let img = decode(
            &info(SPICE_BITMAP_FMT_4BIT_LE, td, 3, 1, 2),
            &[0x23, 0x01],
            Some(&pal),
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0xff0000, 0x00ff00, 0x0000ff]);
        let img = decode(
            &info(SPICE_BITMAP_FMT_8BIT, td, 2, 1, 2),
            &[3, 200],
            Some(&pal),
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0xff0000, 0]);
        let img = decode(
            &info(SPICE_BITMAP_FMT_8BIT_A, td, 2, 1, 2),
            &[0x80, 0xff],
            None,
        )
        .unwrap();
        assert_eq!(img.pixels, vec![0x8000_0000, 0xff00_0000]);
    }

    #[test]
    fn bad_bitmaps_are_errors() {
        let td = SPICE_BITMAP_FLAGS_TOP_DOWN;
        assert!(decode(&info(SPICE_BITMAP_FMT_32BIT, td, 2, 2, 4), &[0; 16], None).is_err());
        assert!(decode(&info(SPICE_BITMAP_FMT_32BIT, td, 2, 2, 8), &[0; 15], None).is_err());
        assert!(decode(&info(SPICE_BITMAP_FMT_8BIT, td, 2, 1, 2), &[0; 2], None).is_err());
        assert!(decode(&info(0, td, 2, 1, 8), &[0; 8], None).is_err());
        assert!(decode(&info(SPICE_BITMAP_FMT_32BIT, td, 0, 1, 8), &[0; 8], None).is_err());
        assert!(decode(
            &info(SPICE_BITMAP_FMT_32BIT, td, 65536, 65536, u32::MAX),
            &[0; 8],
            None
        )
        .is_err());
    }
}
