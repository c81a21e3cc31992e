//! Pixel-format conversions shared by the image decoders: packed palette
//! indices, 16-bit x555 and runs of (b, g, r) byte triples to `0x00RRGGBB`.
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

/// Convert (b, g, r) byte triples into `0x00RRGGBB` pixels: `out[i]` from
/// `src[3 * i..3 * i + 3]`, `src` holding three bytes per pixel of `out`
/// (with any other length the pixels past the shorter one are left as
/// they are, and a length not a multiple of 12 skews the last few). Four
/// pixels at a time come from three little-endian words of their twelve
/// bytes (no byte-by-byte assembly).
#[inline(always)]
pub fn bgr_to_xrgb(src: &[u8], out: &mut [u32]) {
    let (quads, rest) = src.as_chunks::<12>();
    let (out4, out_rest) = out.as_chunks_mut::<4>();
    for (o, q) in out4.iter_mut().zip(quads) {
        *o = bgr4(q);
    }
    for (o, &[b, g, r]) in out_rest.iter_mut().zip(rest.as_chunks::<3>().0) {
        *o = u32::from_le_bytes([b, g, r, 0]);
    }
}

/// Four `0x00RRGGBB` pixels from twelve bytes of (b, g, r), read as three
/// little-endian words.
#[inline(always)]
fn bgr4(q: &[u8; 12]) -> [u32; 4] {
    let word = |i: usize| u32::from_le_bytes([q[i], q[i + 1], q[i + 2], q[i + 3]]);
    let (w0, w1, w2) = (word(0), word(4), word(8));
    [
        w0 & 0x00ff_ffff,
        w0 >> 24 | (w1 & 0xffff) << 8,
        w1 >> 16 | (w2 & 0xff) << 16,
        w2 >> 8,
    ]
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
