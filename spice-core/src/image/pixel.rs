//! Pixel-format conversions shared by the image decoders: packed palette
//! indices to `0x00RRGGBB` and 16-bit x555 to `0x00RRGGBB`.
//!
//! A leaf module: it imports no other decoder, so `bitmap`, `lz` and `glz`
//! can all use it without importing each other. It must not parse any image
//! header or stream.

/// Expand one row of packed palette indices (`bits` = 1, 4 or 8 per pixel)
/// into `out.len()` pixels. `msb_first` selects the BE bit/nibble order
/// (leftmost pixel in the most significant bits). Indices beyond the palette
/// give black; palette entries lose their top byte.
pub fn expand_indexed(row: &[u8], bits: u32, msb_first: bool, palette: &[u32], out: &mut [u32]) {
    let color = |i: u8| palette.get(i as usize).map_or(0, |c| c & 0x00ff_ffff);
    match bits {
        8 => {
            for (o, &b) in out.iter_mut().zip(row) {
                *o = color(b);
            }
        }
        4 => {
            for (x, o) in out.iter_mut().enumerate() {
                let b = row.get(x / 2).copied().unwrap_or(0);
                let first = x % 2 == 0;
                let idx = if first == msb_first { b >> 4 } else { b & 0x0f };
                *o = color(idx);
            }
        }
        _ => {
            let (c0, c1) = (color(0), color(1));
            for (x, o) in out.iter_mut().enumerate() {
                let b = row.get(x / 8).copied().unwrap_or(0);
                let shift = if msb_first { 7 - (x % 8) } else { x % 8 };
                *o = if (b >> shift) & 1 != 0 { c1 } else { c0 };
            }
        }
    }
}

/// Expand a 5-bit channel to 8 bits.
#[inline(always)]
fn expand5(v: u32) -> u32 {
    (v << 3) | (v >> 2)
}

/// A 16-bit x555 pixel as `0x00RRGGBB`.
pub fn rgb555_to_xrgb(p: u16) -> u32 {
    let p = p as u32;
    (expand5((p >> 10) & 31) << 16) | (expand5((p >> 5) & 31) << 8) | expand5(p & 31)
}
