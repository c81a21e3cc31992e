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
    bgr_quads_to_xrgb(quads, out4);
    for (o, &[b, g, r]) in out_rest.iter_mut().zip(rest.as_chunks::<3>().0) {
        *o = u32::from_le_bytes([b, g, r, 0]);
    }
}

/// [`bgr_to_xrgb`] by groups of four pixels: `out[i]` from `src[i]` (the
/// shorter of the two decides how many). For callers that may write and
/// read a few units past a run, and so need no loop for its tail.
#[inline(always)]
pub fn bgr_quads_to_xrgb(src: &[[u8; 12]], out: &mut [[u32; 4]]) {
    for (o, q) in out.iter_mut().zip(src) {
        *o = bgr4(q);
    }
}

/// Append the `0x00RRGGBB` pixels of the (b, g, r) byte triples in `src`
/// to `out` (a trailing partial triple is ignored): [`bgr_to_xrgb`] for a
/// growing buffer.
#[inline(always)]
pub fn extend_bgr_to_xrgb(src: &[u8], out: &mut alloc::vec::Vec<u32>) {
    let (quads, rest) = src.as_chunks::<12>();
    out.extend(quads.iter().flat_map(bgr4));
    out.extend(
        rest.as_chunks::<3>()
            .0
            .iter()
            .map(|&[b, g, r]| u32::from_le_bytes([b, g, r, 0])),
    );
}

/// Four `0x00RRGGBB` pixels from twelve bytes of (b, g, r): two
/// little-endian 64-bit words (bytes 0..8 and 4..12) hold two pixels each,
/// assembled as two pixel pairs so that they are stored as two 8-byte words
/// rather than four 4-byte ones (fewer stores in flight when the frame
/// buffer is not in cache).
#[inline(always)]
fn bgr4(q: &[u8; 12]) -> [u32; 4] {
    const PIXEL: u64 = 0x00ff_ffff;
    let (lo_bytes, _) = q.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let (_, hi_bytes) = q.split_last_chunk::<8>().unwrap_or((&[], &[0; 8]));
    let a = u64::from_le_bytes(*lo_bytes);
    let b = u64::from_le_bytes(*hi_bytes);
    let lo = (a & PIXEL) | ((a << 8) & (PIXEL << 32));
    let hi = ((b >> 16) & PIXEL) | ((b >> 8) & (PIXEL << 32));
    // A pair's first pixel is its low half: the first in memory on a
    // little-endian machine, the second on a big-endian one.
    let pair = |v: u64| {
        if cfg!(target_endian = "big") {
            v.rotate_left(32)
        } else {
            v
        }
    };
    bytemuck::cast([pair(lo), pair(hi)])
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn bgr_runs_of_every_length_match_the_byte_triples() {
        for n in 0..40usize {
            let src: Vec<u8> = (0..3 * n).map(|i| (i * 37 + 11) as u8).collect();
            let mut out = vec![0xdead_beef; n + 2];
            bgr_to_xrgb(&src, &mut out[..n]);
            for (i, c) in src.chunks_exact(3).enumerate() {
                let want = (c[2] as u32) << 16 | (c[1] as u32) << 8 | c[0] as u32;
                assert_eq!(out[i], want, "run {n} pixel {i}");
            }
            assert_eq!(out[n..], [0xdead_beef; 2], "run {n} wrote past its end");
        }
    }
}
