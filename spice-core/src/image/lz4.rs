//! LZ4 image decoding (SPICE_IMAGE_TYPE_LZ4).
//!
//! Owns SPICE's LZ4 image payload (learnt from spice-common
//! `canvas_base.c:canvas_get_lz4` and the server's `lz4-encoder.c`): one byte
//! top-down flag, one byte `SPICE_BITMAP_FMT_*` (16BIT, 24BIT, 32BIT or
//! RGBA), then one or more blocks, each a big-endian u32 compressed length
//! followed by an LZ4 *block* (not frame). Blocks are decoded as one stream:
//! a match may reach back into the output of earlier blocks (the server
//! compresses with `LZ4_compress_fast_continue`). The decoded bytes are the
//! bitmap's rows, `width * bytes_per_pixel` each, without padding. 32-bit
//! formats (what QEMU sends) are decoded straight into a contiguous
//! destination's pixels, whose bytes the LZ4 output is, and fixed up in
//! place (a strided destination gets the rows of a scratch image, fixed up
//! on the way); 16/24-bit rows go through a byte scratch and `bitmap`'s row
//! conversion.
//!
//! The block decoder is written here (the format is small) so every length
//! and offset is checked against the image size: it must not panic, read
//! outside a buffer, or allocate more than the image the descriptor names
//! and the data could possibly encode. It does not draw.

use super::backref::{copy_back_bytes, CHUNK};
use super::bitmap::{self, flip_rows};
use super::dest::{pixels_for_bytes, staged, staged_bytes};
use super::{alloc_pixels, Dest, Image, MAX_IMAGE_PIXELS};
use crate::enums::{
    SPICE_BITMAP_FMT_16BIT, SPICE_BITMAP_FMT_24BIT, SPICE_BITMAP_FMT_32BIT, SPICE_BITMAP_FMT_RGBA,
};
use crate::error::WireError;
use alloc::vec::Vec;

/// The LZ4 block format cannot expand one input byte into more than this
/// many output bytes (a length-extension byte adds 255).
const MAX_EXPANSION: usize = 255;

/// Shortest LZ4 match (`MINMATCH`).
const MIN_MATCH: usize = 4;

/// Literal runs up to this long are copied as whole [`CHUNK`]s when both
/// buffers have room; longer ones with one exact copy.
const CHUNKED_LITERALS: usize = 64;

/// Input the short-sequence shortcut may read from the literals on: 16
/// literal bytes or 14 literals and the 2 offset bytes, with room to spare.
const SHORTCUT_IN: usize = CHUNK + 2;

/// Output room the shortcut needs from the sequence's start: 14 literals
/// then two 16-byte match chunks, rounded up.
const SHORTCUT_OUT: usize = 3 * CHUNK;

/// Step of the shortcut's match copy for offsets below [`CHUNK`]: no
/// more than the offset, so each step reads only bytes already written.
const SHORT_STEP: usize = 8;

/// Farthest back an LZ4 match can reach (`LZ4_DISTANCE_MAX`, a u16 offset):
/// output more than this many bytes behind the write position is final.
const MAX_DISTANCE: usize = 65_535;

/// The two header bytes of a SPICE LZ4 payload.
#[derive(Debug, Clone, Copy)]
struct Lz4Header {
    /// The first decoded row is the top row.
    top_down: bool,
    /// `SPICE_BITMAP_FMT_*` of the decoded rows.
    format: u32,
    /// Bytes per pixel of `format`.
    bpp: usize,
}

/// Parse the header and refuse sizes out of range or beyond what `data`
/// can encode, before anything is allocated.
fn parse_header(data: &[u8], width: u32, height: u32) -> Result<Lz4Header, WireError> {
    let (&top_down, rest) = data
        .split_first()
        .ok_or(WireError::new(0, "LZ4: missing header"))?;
    let (&format, _) = rest
        .split_first()
        .ok_or(WireError::new(1, "LZ4: missing header"))?;
    let format = format as u32;
    let bpp = match format {
        SPICE_BITMAP_FMT_16BIT => 2,
        SPICE_BITMAP_FMT_24BIT => 3,
        SPICE_BITMAP_FMT_32BIT | SPICE_BITMAP_FMT_RGBA => 4,
        _ => return Err(WireError::new(1, "LZ4: unsupported bitmap format")),
    };
    let n = (width as usize).saturating_mul(height as usize);
    if n == 0 || n > MAX_IMAGE_PIXELS {
        return Err(WireError::new(0, "LZ4: image size out of range"));
    }
    if n * bpp > data.len().saturating_mul(MAX_EXPANSION) {
        return Err(WireError::new(
            0,
            "LZ4: image larger than its data can encode",
        ));
    }
    Ok(Lz4Header {
        top_down: top_down != 0,
        format,
        bpp,
    })
}

/// Decode an LZ4 image payload straight into `dst` (the descriptor's size),
/// top row first. Pixels are as [`decode`] gives them.
///
/// 32-bit formats into a contiguous `dst` (`stride == width`) are decoded in
/// place: the LZ4 output bytes are the pixels' bytes, fixed up (pad byte
/// cleared for 32BIT) once they are out of reach of later matches, and a
/// bottom-up image has its rows swapped in place at the end. Into a
/// strided `dst` they are decoded into a scratch image whose rows are fixed
/// up as they are copied into place; 16/24-bit formats are decoded into a
/// byte scratch and their rows converted into `dst`. The scratch is
/// allocated for this call: [`decode_into_with`] reuses one.
pub fn decode_into(data: &[u8], dst: &mut Dest<'_>) -> Result<(), WireError> {
    decode_into_with(data, dst, &mut Vec::new())
}

/// [`decode_into`] with a caller-owned scratch image for a strided `dst`
/// and the rows of 16/24-bit formats (see [`Staging`](super::dest::Staging),
/// [`staging_pixels`]): grown when too short, never cleared (the stream
/// must fill it exactly, and matches read only what it wrote), so the
/// steady state neither allocates nor zeroes.
pub fn decode_into_with(
    data: &[u8],
    dst: &mut Dest<'_>,
    stage: &mut Vec<u32>,
) -> Result<(), WireError> {
    let h = parse_header(data, dst.width() as u32, dst.height() as u32)?;
    decode_header_into(data, &h, dst, stage)
}

/// Pixels of staging [`decode_into_with`] uses for `data` into `dst`: none
/// for 32-bit rows into a contiguous `dst` (decoded in place), the image
/// for 32-bit rows into a strided one, the stream's bytes for 16/24-bit
/// rows; none for a format it refuses.
pub fn staging_pixels(data: &[u8], dst: &Dest<'_>) -> usize {
    let n = dst.width().saturating_mul(dst.height());
    match data.get(1).map(|&f| f as u32) {
        Some(SPICE_BITMAP_FMT_32BIT | SPICE_BITMAP_FMT_RGBA) if !dst.is_contiguous() => n,
        Some(SPICE_BITMAP_FMT_16BIT) => pixels_for_bytes(n.saturating_mul(2)),
        Some(SPICE_BITMAP_FMT_24BIT) => pixels_for_bytes(n.saturating_mul(3)),
        _ => 0,
    }
}

/// Whether every pixel [`decode`] gives for `SPICE_BITMAP_FMT_*` `format`
/// has its alpha byte clear: all but RGBA (32BIT's pad byte is cleared,
/// 16/24-bit rows are widened without alpha).
pub fn leaves_alpha_clear(format: u32) -> bool {
    format != SPICE_BITMAP_FMT_RGBA
}

/// Decode an LZ4 image payload of `width x height` (from the image descriptor).
pub fn decode(data: &[u8], width: u32, height: u32) -> Result<Image, WireError> {
    let h = parse_header(data, width, height)?;
    let mut pixels = alloc_pixels(width, height)?;
    let w = width as usize;
    let mut dst = Dest::new(&mut pixels, w, height as usize, w)?;
    decode_header_into(data, &h, &mut dst, &mut Vec::new())?;
    Ok(Image {
        width,
        height,
        pixels,
        has_alpha: h.format == SPICE_BITMAP_FMT_RGBA,
    })
}

/// [`decode_into`] once the header is parsed.
fn decode_header_into(
    data: &[u8],
    h: &Lz4Header,
    dst: &mut Dest<'_>,
    stage: &mut Vec<u32>,
) -> Result<(), WireError> {
    let (w, ht) = (dst.width(), dst.height());
    if h.bpp == 4 {
        if dst.is_contiguous() {
            return decode_pixels(data, h, dst.span_mut(), w);
        }
        // Strided: the stream in the staging run, then its rows fixed up
        // on their way into place (bottom-up ones from the last).
        let px = staged(stage, w * ht)?;
        decode_blocks(data, bytemuck::cast_slice_mut(px), |_, _| {})?;
        let keep = pad_mask(h.format);
        for (r, row) in px.chunks_exact(w).enumerate() {
            let y = if h.top_down { r } else { ht - 1 - r };
            for (o, p) in dst.row_mut(y).iter_mut().zip(row) {
                *o = u32::from_le(*p) & keep;
            }
        }
        return Ok(());
    }
    // Staged: the stream's rows, converted row by row into `dst`.
    let row_bytes = w * h.bpp;
    let bytes = staged_bytes(stage, row_bytes * ht)?;
    decode_blocks(data, bytes, |_, _| {})?;
    for (r, src) in bytes.chunks_exact(row_bytes).enumerate() {
        let y = if h.top_down { r } else { ht - 1 - r };
        bitmap::convert_row(h.format, None, src, dst.row_mut(y))?;
    }
    Ok(())
}

/// Decode a 32-bit payload into `px` (the image's `width`-pixel rows, one
/// linear run) in place: the LZ4 output bytes are the pixels' bytes, fixed
/// up (pad byte cleared for 32BIT) once they are out of reach of later
/// matches. A bottom-up image has its rows swapped in place at the end.
fn decode_pixels(
    data: &[u8],
    h: &Lz4Header,
    px: &mut [u32],
    width: usize,
) -> Result<(), WireError> {
    let keep = pad_mask(h.format);
    let mut fixed = 0;
    decode_blocks(data, bytemuck::cast_slice_mut(px), |out, op| {
        // Bytes over MAX_DISTANCE behind `op` are never read again.
        let done = op.saturating_sub(MAX_DISTANCE) / 4;
        fix_pixels(out, fixed, done, keep);
        fixed = fixed.max(done);
    })?;
    let n = px.len();
    fix_pixels(bytemuck::cast_slice_mut(px), fixed, n, keep);
    if !h.top_down {
        flip_rows(px, width);
    }
    Ok(())
}

/// What of a decoded 32-bit pixel (its little-endian bytes) is kept: all of
/// RGBA, the colour bytes of 32BIT (whose fourth byte is padding).
fn pad_mask(format: u32) -> u32 {
    if format == SPICE_BITMAP_FMT_RGBA {
        u32::MAX
    } else {
        0x00ff_ffff
    }
}

/// Turn pixels `from..to` of `out` (little-endian pixel bytes as decoded)
/// into `0xAARRGGBB` values, keeping the bits of `keep`.
fn fix_pixels(out: &mut [u8], from: usize, to: usize, keep: u32) {
    let Some(bytes) = out.get_mut(from * 4..to * 4) else {
        return;
    };
    if keep == u32::MAX && cfg!(target_endian = "little") {
        return;
    }
    // `out` is the bytes of a `u32` slice, so the cast succeeds; the byte
    // loop only keeps the function total.
    match bytemuck::try_cast_slice_mut::<u8, u32>(bytes) {
        Ok(px) => px.iter_mut().for_each(|p| *p = u32::from_le(*p) & keep),
        Err(_) => {
            for c in bytes.chunks_exact_mut(4) {
                let p = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) & keep;
                c.copy_from_slice(&p.to_ne_bytes());
            }
        }
    }
}

/// Decode the blocks after the two header bytes of `data` as one stream
/// filling `out` exactly; `after_block(out, op)` runs after each block with
/// the write position.
fn decode_blocks(
    data: &[u8],
    out: &mut [u8],
    mut after_block: impl FnMut(&mut [u8], usize),
) -> Result<(), WireError> {
    let mut pos = 2;
    let mut op = 0;
    loop {
        let len_bytes = data
            .get(pos..pos + 4)
            .ok_or(WireError::new(pos, "LZ4: truncated block length"))?;
        let n =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        pos += 4;
        let block = data
            .get(pos..pos.saturating_add(n))
            .ok_or(WireError::new(pos - 4, "LZ4: block longer than the data"))?;
        op = decode_block(block, out, op).map_err(|e| e.at_base(pos))?;
        after_block(out, op);
        pos += n;
        if pos >= data.len() {
            break;
        }
    }
    if op != out.len() {
        return Err(WireError::new(
            pos,
            "LZ4: decoded size differs from the image size",
        ));
    }
    Ok(())
}

/// Read an LZ4 length extension (bytes of 255 continue) onto `len`.
#[inline(always)]
fn extend_len(block: &[u8], ip: &mut usize, mut len: usize) -> Result<usize, WireError> {
    loop {
        let b = *block
            .get(*ip)
            .ok_or(WireError::new(*ip, "LZ4: truncated length"))?;
        *ip += 1;
        len += b as usize;
        if b != 255 {
            return Ok(len);
        }
    }
}

/// Decode one LZ4 block into `out` from byte `op` on; the bytes before `op`
/// are the dictionary (the output of earlier blocks). Returns the new write
/// position; nothing is written past `out.len()`.
pub fn decode_block(block: &[u8], out: &mut [u8], mut op: usize) -> Result<usize, WireError> {
    if block.is_empty() {
        return Err(WireError::new(0, "LZ4: empty block"));
    }
    let limit = out.len();
    let mut ip = 0;
    loop {
        let token = *block
            .get(ip)
            .ok_or(WireError::new(ip, "LZ4: truncated block"))?;
        ip += 1;
        let mut lit = (token >> 4) as usize;
        let short_match = (token & 0x0f) as usize;
        if lit < 15 && short_match < 15 && op + SHORTCUT_OUT <= limit {
            // Shortcut for the common short sequence far from both ends:
            // fixed-size copies of 16 literal bytes and 32 match bytes
            // (what they copy past the sequence is rewritten later), from
            // a fixed-size view of the input (no per-byte bounds checks).
            let inp = block
                .get(ip..ip + SHORTCUT_IN)
                .and_then(|s| <&[u8; SHORTCUT_IN]>::try_from(s).ok());
            if let Some(inp) = inp {
                out[op..op + CHUNK].copy_from_slice(&inp[..CHUNK]);
                let offset = u16::from_le_bytes([inp[lit], inp[lit + 1]]) as usize;
                ip += lit;
                op += lit;
                if (CHUNK..=op).contains(&offset) {
                    ip += 2;
                    // The source and the two chunks as one window: the
                    // source's 32 bytes end `offset >= 16` before the
                    // chunks' end.
                    let win = &mut out[op - offset..op + 2 * CHUNK];
                    win.copy_within(..CHUNK, offset);
                    win.copy_within(CHUNK..2 * CHUNK, offset + CHUNK);
                    op += short_match + MIN_MATCH;
                    continue;
                }
                if (SHORT_STEP..=op).contains(&offset) {
                    ip += 2;
                    // 8..15 back: three 8-byte steps (18 bytes at most),
                    // each reading only bytes already written.
                    let win = &mut out[op - offset..op + 3 * SHORT_STEP];
                    win.copy_within(..SHORT_STEP, offset);
                    win.copy_within(SHORT_STEP..2 * SHORT_STEP, offset + SHORT_STEP);
                    win.copy_within(2 * SHORT_STEP..3 * SHORT_STEP, offset + 2 * SHORT_STEP);
                    op += short_match + MIN_MATCH;
                    continue;
                }
                // A close or bad offset: the general match path below.
                lit = 0;
            }
        }
        if lit == 15 {
            lit = extend_len(block, &mut ip, lit)?;
        }
        if lit > limit - op {
            return Err(WireError::new(
                ip,
                "LZ4: literals past the end of the image",
            ));
        }
        let chunked = lit.next_multiple_of(CHUNK);
        if lit <= CHUNKED_LITERALS && ip + chunked <= block.len() && op + chunked <= limit {
            // Whole chunks (the bytes past the run are rewritten later).
            let mut k = 0;
            while k < chunked {
                out[op + k..op + k + CHUNK].copy_from_slice(&block[ip + k..ip + k + CHUNK]);
                k += CHUNK;
            }
        } else {
            let src = block.get(ip..ip.saturating_add(lit)).ok_or(WireError::new(
                ip,
                "LZ4: literals past the end of the block",
            ))?;
            out[op..op + lit].copy_from_slice(src);
        }
        ip += lit;
        op += lit;
        if ip == block.len() {
            return Ok(op);
        }
        let at = ip;
        let ofs = block
            .get(ip..ip + 2)
            .ok_or(WireError::new(ip, "LZ4: truncated match offset"))?;
        let offset = u16::from_le_bytes([ofs[0], ofs[1]]) as usize;
        ip += 2;
        let mut len = (token & 0x0f) as usize;
        if len == 15 {
            len = extend_len(block, &mut ip, len)?;
        }
        len += MIN_MATCH;
        if offset == 0 || offset > op {
            return Err(WireError::new(at, "LZ4: match offset outside the output"));
        }
        if len > limit - op {
            return Err(WireError::new(at, "LZ4: match past the end of the image"));
        }
        copy_back_bytes(out, op, offset, len);
        op += len;
    }
}

#[cfg(test)]
mod tests {
    //! Payloads built by hand from the LZ4 block format (token: literal
    //! length nibble, match length - 4 nibble; 15 = more length bytes;
    //! offset u16 LE) in SPICE's framing; expected pixels come from the
    //! literal bytes.
    use super::*;
    use alloc::vec;

    fn payload(top_down: u8, format: u32, blocks: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![top_down, format as u8];
        for b in blocks {
            v.extend_from_slice(&(b.len() as u32).to_be_bytes());
            v.extend_from_slice(b);
        }
        v
    }

    const P: [u8; 4] = [0x33, 0x22, 0x11, 0x00]; // b, g, r, x
    const Q: [u8; 4] = [0x66, 0x55, 0x44, 0x99];

    #[test]
    fn one_block_with_overlapping_match() {
        // 4 literal bytes, a match of 8 (4 + 4) at offset 4, then 4 literal bytes.
        let mut b = vec![0x44];
        b.extend_from_slice(&P);
        b.extend_from_slice(&[4, 0, 0x40]);
        b.extend_from_slice(&Q);
        let img = decode(&payload(1, SPICE_BITMAP_FMT_32BIT, &[&b]), 2, 2).unwrap();
        assert_eq!(
            img.pixels,
            vec![0x0011_2233, 0x0011_2233, 0x0011_2233, 0x0044_5566]
        );
        assert!(!img.has_alpha);
        // RGBA keeps the fourth byte as alpha.
        let img = decode(&payload(1, SPICE_BITMAP_FMT_RGBA, &[&b]), 2, 2).unwrap();
        assert_eq!(img.pixels[3], 0x9944_5566);
        assert!(img.has_alpha);
        // Bottom-up: the last row in the stream is the top row.
        let img = decode(&payload(0, SPICE_BITMAP_FMT_32BIT, &[&b]), 2, 2).unwrap();
        assert_eq!(
            img.pixels,
            vec![0x0011_2233, 0x0044_5566, 0x0011_2233, 0x0011_2233]
        );
    }

    #[test]
    fn later_blocks_reference_earlier_output() {
        let mut b1 = vec![0x80];
        b1.extend_from_slice(&P);
        b1.extend_from_slice(&Q);
        // No literals, match of 8 at offset 8 (into block 1), then an empty literal run.
        let b2 = [0x04, 8, 0, 0x00];
        let img = decode(&payload(1, SPICE_BITMAP_FMT_32BIT, &[&b1, &b2]), 4, 1).unwrap();
        assert_eq!(
            img.pixels,
            vec![0x0011_2233, 0x0044_5566, 0x0011_2233, 0x0044_5566]
        );
    }

    #[test]
    fn long_lengths_and_16_24_bit_formats() {
        // RGB24: 3 literal bytes then a match of 3 * 99 at offset 3 (15 + 4 + 278: ext 255, 23).
        let b = [0x3f, 0x01, 0x02, 0x03, 3, 0, 255, 23, 0x00];
        let img = decode(&payload(1, SPICE_BITMAP_FMT_24BIT, &[&b]), 100, 1).unwrap();
        assert_eq!(img.pixels, vec![0x0003_0201; 100]);
        // RGB16 little-endian x1r5g5b5: 0x7c00 red, 0x001f blue.
        let b = [0x40, 0x00, 0x7c, 0x1f, 0x00];
        let img = decode(&payload(1, SPICE_BITMAP_FMT_16BIT, &[&b]), 2, 1).unwrap();
        assert_eq!(img.pixels, vec![0x00ff_0000, 0x0000_00ff]);
        // Literal length with extension: 15 + 1 = 16 bytes.
        let mut b = vec![0xf0, 1];
        b.extend_from_slice(&[7; 16]);
        let img = decode(&payload(1, SPICE_BITMAP_FMT_32BIT, &[&b]), 4, 1).unwrap();
        assert_eq!(img.pixels, vec![0x0007_0707; 4]);
    }

    /// `decode_into` must give `decode`'s rows, strided or not.
    /// And so must `decode_into_with` a staging run left dirty by an
    /// earlier use, holding as much as `staging_pixels` asked for.
    fn into_matches_decode(d: &[u8], w: usize, h: usize) {
        let img = decode(d, w as u32, h as u32).unwrap();
        crate::image::dest::assert_into_matches(&img, |dst| decode_into(d, dst));
        crate::image::dest::assert_staged_into_matches(
            &img,
            |dst| staging_pixels(d, dst),
            |dst, stage| decode_into_with(d, dst, stage),
        );
    }

    #[test]
    fn decode_into_strided_destinations() {
        // 16 literal bytes, then a match at offset 16 (repeating them) up
        // to `total` bytes, in two blocks.
        let mut b1 = vec![0xf0, 1];
        b1.extend((0..16u8).map(|i| i.wrapping_mul(29)));
        let b2 = |total: usize| [0x0f, 16, 0, (total - 16 - 15 - 4) as u8, 0x00];
        let (b32, b24) = (b2(128), b2(96));
        for top_down in [0, 1] {
            for f in [SPICE_BITMAP_FMT_32BIT, SPICE_BITMAP_FMT_RGBA] {
                into_matches_decode(&payload(top_down, f, &[&b1, &b32]), 8, 4);
            }
            let f = SPICE_BITMAP_FMT_24BIT;
            into_matches_decode(&payload(top_down, f, &[&b1, &b24]), 4, 8);
            let f = SPICE_BITMAP_FMT_16BIT;
            into_matches_decode(&payload(top_down, f, &[&b1, &b32]), 4, 16);
        }
        let mut buf = vec![0u32; 4];
        let mut dst = Dest::new(&mut buf, 2, 2, 2).unwrap();
        let d = payload(1, SPICE_BITMAP_FMT_32BIT, &[&b1, &b32]);
        assert!(decode_into(&d, &mut dst).is_err());
    }

    /// Images longer than a match can reach (64 KiB) are fixed up after
    /// each block, but only where no later match can read: the pad bytes a
    /// match copies into colour positions are the stream's.
    #[test]
    fn fixup_behind_the_match_window_keeps_copied_bytes() {
        // Block 1: 70003 literal bytes (pad byte 0x7f in every pixel).
        let lit = 70_003;
        let mut b1 = vec![0xf0];
        let mut n = lit - 15;
        while n >= 255 {
            b1.push(255);
            n -= 255;
        }
        b1.push(n as u8);
        let raw: Vec<u8> = (0..lit)
            .map(|i| if i % 4 == 3 { 0x7f } else { i as u8 })
            .collect();
        b1.extend_from_slice(&raw);
        // Block 2: a match of 15 + 2 + 4 = 21 at the farthest offset, which
        // reads from the first pixel block 1's fix-up must leave alone and
        // shifts pad bytes into colour positions; then the end.
        let b2 = [0x0f, 0xff, 0xff, 2, 0x00];
        let total = lit + 21;
        let d = payload(1, SPICE_BITMAP_FMT_32BIT, &[&b1, &b2]);
        let img = decode(&d, (total / 4) as u32, 1).unwrap();
        let mut want = raw.clone();
        for _ in lit..total {
            want.push(want[want.len() - 65_535]);
        }
        assert!(want[lit..].contains(&0x7f));
        for (k, p) in img.pixels.iter().enumerate() {
            let c = &want[k * 4..k * 4 + 4];
            assert_eq!(*p, u32::from_le_bytes([c[0], c[1], c[2], 0]), "pixel {k}");
        }
    }

    /// Rows made by lz4_flex's compressor (an independent LZ4 encoder)
    /// decode back to the same bytes, contiguous and strided, through both
    /// the short-sequence shortcut and the general path: noise, runs, short periods (every
    /// offset below 16), repeated rows, split into several blocks.
    #[test]
    fn lz4_flex_blocks_round_trip() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let (w, h) = (61usize, 40usize);
        let mut raw = vec![0u8; w * h * 4];
        for (i, chunk) in raw.chunks_mut(97).enumerate() {
            match i % 5 {
                0 => rng.fill(chunk),
                1 => chunk.fill(rng.gen()),
                2 => {
                    let period = 2 + i % 14;
                    let pat: Vec<u8> = (0..period).map(|_| rng.gen()).collect();
                    for (k, b) in chunk.iter_mut().enumerate() {
                        *b = pat[k % period];
                    }
                }
                3 => {
                    for b in chunk.iter_mut() {
                        *b = if rng.gen_ratio(1, 6) { rng.gen() } else { 7 };
                    }
                }
                _ => {
                    let n = chunk.len().min(20);
                    rng.fill(&mut chunk[..n]);
                }
            }
        }
        // Some rows repeat earlier ones.
        let row = w * 4;
        for y in (3..h).step_by(4) {
            raw.copy_within((y - 2) * row..(y - 1) * row, y * row);
        }
        // Blocks as the server makes them: one stream, each block may refer
        // back into the earlier ones.
        let mut blocks = Vec::new();
        for part in raw.chunks(row * 7) {
            let start = part.as_ptr() as usize - raw.as_ptr() as usize;
            let dict = &raw[start.saturating_sub(65_535)..start];
            blocks.push(lz4_flex::block::compress_with_dict(part, dict));
        }
        let refs: Vec<&[u8]> = blocks.iter().map(|b| b.as_slice()).collect();
        let img = decode(
            &payload(1, SPICE_BITMAP_FMT_RGBA, &refs),
            w as u32,
            h as u32,
        )
        .unwrap();
        let want: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(img.pixels, want);
        // Strided destinations, both row orders and both 32-bit formats.
        for (f, keep) in [
            (SPICE_BITMAP_FMT_RGBA, u32::MAX),
            (SPICE_BITMAP_FMT_32BIT, 0x00ff_ffff),
        ] {
            for top_down in [1, 0] {
                let mut rows: Vec<&[u32]> = want.chunks_exact(w).collect();
                if top_down == 0 {
                    rows.reverse();
                }
                let expected = Image {
                    width: w as u32,
                    height: h as u32,
                    pixels: rows.concat().iter().map(|p| p & keep).collect(),
                    has_alpha: f == SPICE_BITMAP_FMT_RGBA,
                };
                let d = payload(top_down, f, &refs);
                crate::image::dest::assert_into_matches(&expected, |dst| decode_into(&d, dst));
            }
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let f = SPICE_BITMAP_FMT_32BIT;
        let err = |d: &[u8], w, h| decode(d, w, h).unwrap_err().reason;
        assert_eq!(err(&[1], 1, 1), "LZ4: missing header");
        assert_eq!(
            err(&payload(1, 5, &[&[0x40, 1, 2, 3, 4]]), 1, 1),
            "LZ4: unsupported bitmap format"
        );
        assert_eq!(
            err(&[1, f as u8, 0, 0], 1, 1),
            "LZ4: truncated block length"
        );
        assert_eq!(
            err(&[1, f as u8, 0, 0, 0, 9, 0x40], 1, 1),
            "LZ4: block longer than the data"
        );
        assert_eq!(err(&payload(1, f, &[&[]]), 1, 1), "LZ4: empty block");
        assert_eq!(
            err(&payload(1, f, &[&[0x40, 1, 2, 3]]), 1, 1),
            "LZ4: literals past the end of the block"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x50, 1, 2, 3, 4, 5]]), 1, 1),
            "LZ4: literals past the end of the image"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x10, 1, 0, 0, 0x00]]), 2, 1),
            "LZ4: match offset outside the output"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x10, 1, 2, 0, 0x00]]), 2, 1),
            "LZ4: match offset outside the output"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x1f, 1, 1, 0, 200, 0x00]]), 2, 1),
            "LZ4: match past the end of the image"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x10, 1, 1]]), 2, 1),
            "LZ4: truncated match offset"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x1f, 1, 1, 0]]), 2, 1),
            "LZ4: truncated length"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x40, 1, 2, 3, 4]]), 2, 1),
            "LZ4: decoded size differs from the image size"
        );
        // Header sizes the data cannot fill are refused before allocating.
        assert_eq!(
            err(&payload(1, f, &[&[0x40, 1, 2, 3, 4]]), 4096, 4096),
            "LZ4: image larger than its data can encode"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x40, 1, 2, 3, 4]]), 5000, 5000),
            "LZ4: image size out of range"
        );
        assert_eq!(
            err(&payload(1, f, &[&[0x40, 1, 2, 3, 4]]), 0, 5),
            "LZ4: image size out of range"
        );
        // A decoding error reports the offset in the whole payload.
        let e = decode(&payload(1, f, &[&[0x10, 1, 0, 0, 0x00]]), 2, 1).unwrap_err();
        assert_eq!(e.offset, 2 + 4 + 2);
    }

    #[test]
    fn truncations_and_corruption_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut b1 = vec![0x80];
        b1.extend_from_slice(&P);
        b1.extend_from_slice(&Q);
        // 1 literal, a match of 15 + 0 + 4 at offset 8, then 4 literals: 32 bytes in all.
        let b2 = [0x1f, 0xaa, 8, 0, 0, 0x40, 1, 2, 3, 4];
        let full = payload(1, SPICE_BITMAP_FMT_32BIT, &[&b1, &b2]);
        assert!(decode(&full, 8, 1).is_ok());
        for n in 0..full.len() {
            assert!(decode(&full[..n], 8, 1).is_err(), "prefix {n}");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for _ in 0..20_000 {
            let mut d = full.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..d.len());
                d[i] = rng.gen();
            }
            let (w, h) = (rng.gen_range(1..16), rng.gen_range(1..3));
            let _ = decode(&d, w as u32, h as u32);
            // Into a strided destination too.
            let mut buf = vec![0u32; (w + 2) * h];
            let mut dst = Dest::new(&mut buf, w, h, w + 2).unwrap();
            let _ = decode_into(&d, &mut dst);
        }
    }
}
