//! SPICE LZ (the `LZ_RGB` / `LZ_PLT` image payloads and the alpha plane of
//! `JPEG_ALPHA`).
//!
//! Owns the LZ stream format of spice-common `lz.c`: a 28-byte big-endian
//! header (magic, version, LZ image type, width, height, stride, top_down)
//! followed by an LZSS-style stream of control bytes, literal runs and
//! back-references. It must not know about SPICE messages: callers hand in
//! the payload (and a palette for the paletted types). Every back-reference
//! is checked against the output produced so far and output never grows past
//! the size the header announced (itself bounded by [`alloc_pixels`]).
//! The colour pass into a strided destination (a column of a surface) is
//! `rows`' `RowPass`, resumable at row ends ([`LzRows`]).

use super::backref::copy_back;
use super::bitmap::flip_rows;
use super::dest::{pixels_for_bytes, staged_bytes};
use super::input::Input;
use super::pixel::{bgr_to_xrgb, expand_indexed, rgb555_to_xrgb};
use super::{alloc_pixels, Dest, Image, MAX_IMAGE_PIXELS};
use crate::error::WireError;
use alloc::vec::Vec;

mod rows;
pub use rows::LzRows;
use rows::RowPass;

/// `LZ_MAGIC` of `lz_common.h`: ASCII "LZ  " read as a big-endian u32.
pub const LZ_MAGIC: u32 = 0x2020_5a4c;
/// `LZ_VERSION` (major 1, minor 1).
pub const LZ_VERSION: u32 = 0x0001_0001;
/// Size of the stream header in bytes.
pub const LZ_HEADER_SIZE: usize = 28;

/// `LzImageType` of `lz_common.h`.
pub const LZ_IMAGE_TYPE_INVALID: u32 = 0;
/// 1 bit per pixel, least significant bit is the leftmost pixel.
pub const LZ_IMAGE_TYPE_PLT1_LE: u32 = 1;
/// 1 bit per pixel, most significant bit is the leftmost pixel.
pub const LZ_IMAGE_TYPE_PLT1_BE: u32 = 2;
/// 4 bits per pixel, low nibble first.
pub const LZ_IMAGE_TYPE_PLT4_LE: u32 = 3;
/// 4 bits per pixel, high nibble first.
pub const LZ_IMAGE_TYPE_PLT4_BE: u32 = 4;
/// 8-bit palette index.
pub const LZ_IMAGE_TYPE_PLT8: u32 = 5;
/// 16-bit x555 RGB.
pub const LZ_IMAGE_TYPE_RGB16: u32 = 6;
/// 24-bit RGB (b, g, r bytes).
pub const LZ_IMAGE_TYPE_RGB24: u32 = 7;
/// 32-bit xRGB (coded as b, g, r bytes).
pub const LZ_IMAGE_TYPE_RGB32: u32 = 8;
/// 32-bit ARGB: an RGB32 pass, then an alpha pass.
pub const LZ_IMAGE_TYPE_RGBA: u32 = 9;
/// Alpha only, to be merged into an existing image.
pub const LZ_IMAGE_TYPE_XXXA: u32 = 10;
/// 8-bit alpha image.
pub const LZ_IMAGE_TYPE_A8: u32 = 11;

/// Runs of up to this many literals follow one control byte (`MAX_COPY`).
const MAX_COPY: u32 = 32;
/// Added to a 16-bit "far" distance (`MAX_DISTANCE` of `lz.c`).
const MAX_DISTANCE: usize = 8191;

/// The parsed LZ stream header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzHeader {
    /// `LZ_IMAGE_TYPE_*`.
    pub kind: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row of the packed source (meaningful for the PLT types).
    pub stride: u32,
    /// Whether the first coded row is the top row.
    pub top_down: bool,
}

/// Parse and validate the 28-byte header at the start of `data`.
pub fn parse_header(data: &[u8]) -> Result<LzHeader, WireError> {
    let word = |i: usize| -> Result<u32, WireError> {
        data.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(WireError::new(data.len(), "LZ header truncated"))
    };
    if word(0)? != LZ_MAGIC {
        return Err(WireError::new(0, "LZ bad magic"));
    }
    if word(1)? != LZ_VERSION {
        return Err(WireError::new(4, "LZ bad version"));
    }
    let kind = word(2)?;
    if kind == LZ_IMAGE_TYPE_INVALID || kind > LZ_IMAGE_TYPE_A8 {
        return Err(WireError::new(8, "LZ bad image type"));
    }
    Ok(LzHeader {
        kind,
        width: word(3)?,
        height: word(4)?,
        stride: word(5)?,
        top_down: word(6)? != 0,
    })
}

/// One step of an LZ stream: a run of literals or a back-reference.
enum Step {
    /// `count` literal units follow in the stream.
    Literals(usize),
    /// Copy `len` units from `back` units before the write position.
    Match { back: usize, len: usize },
}

/// Read the next control byte (and a match's length and distance bytes)
/// and check the step against `op` units written out of `n`: a literal run
/// or match must fit in what is left, a match must reach back no further
/// than the start of the image. `len_bias` is what the format adds to a
/// coded match length (3 for 1-byte units, 2 for 16-bit pixels, 1 for
/// 24/32-bit pixels).
#[inline(always)]
fn next_step(inp: &mut Input<'_>, op: usize, n: usize, len_bias: usize) -> Result<Step, WireError> {
    let at = inp.pos;
    let ctrl = inp.byte()? as u32;
    if ctrl < MAX_COPY {
        let count = ctrl as usize + 1;
        if count > n - op {
            return Err(WireError::new(at, "LZ literal run overruns image"));
        }
        return Ok(Step::Literals(count));
    }
    let mut len = (ctrl >> 5) as usize - 1;
    let mut ofs = ((ctrl & 31) as usize) << 8;
    if len == 6 {
        loop {
            let code = inp.byte()?;
            len = len.saturating_add(code as usize);
            if code != 255 {
                break;
            }
        }
    }
    let code = inp.byte()? as usize;
    ofs += code;
    if code == 255 && ofs - code == 31 << 8 {
        let hi = inp.byte()? as usize;
        let lo = inp.byte()? as usize;
        ofs = (hi << 8) + lo + MAX_DISTANCE;
    }
    let len = len.saturating_add(len_bias);
    let back = ofs + 1;
    if back > op {
        return Err(WireError::new(at, "LZ reference before start of image"));
    }
    if len > n - op {
        return Err(WireError::new(at, "LZ match overruns image"));
    }
    Ok(Step::Match { back, len })
}

/// Decode one LZ pass into all of `out`.
///
/// `len_bias` is as for [`next_step`]; a literal unit is `UNIT` stream
/// bytes, and `literals` turns a run of them into output units (a slice of
/// `out` and its `UNIT` bytes per unit). Matches are block copies
/// ([`copy_back`]).
fn decompress<P: Copy, const UNIT: usize>(
    inp: &mut Input<'_>,
    out: &mut [P],
    len_bias: usize,
    literals: impl Fn(&[u8], &mut [P]),
) -> Result<(), WireError> {
    let n = out.len();
    let mut op = 0usize;
    while op < n {
        match next_step(inp, op, n, len_bias)? {
            Step::Match { back, len } => {
                copy_back(out, op, back, len);
                op += len;
            }
            Step::Literals(count) => {
                let src = inp.take(count * UNIT)?;
                literals(src, &mut out[op..op + count]);
                op += count;
            }
        }
    }
    Ok(())
}

/// A 16-bit literal run (x555, high byte first) as `0x00RRGGBB`.
#[inline(always)]
fn rgb16_literals(src: &[u8], out: &mut [u32]) {
    for (o, &p) in out.iter_mut().zip(src.as_chunks::<2>().0) {
        *o = rgb555_to_xrgb(u16::from_be_bytes(p));
    }
}

/// A one-byte literal run (palette indices, alpha).
#[inline(always)]
fn byte_literals(src: &[u8], out: &mut [u8]) {
    let k = out.len().min(src.len());
    out[..k].copy_from_slice(&src[..k]);
}

/// Put row `r` of a decoded buffer where it belongs (`top_down` or not).
#[inline]
fn dest_row(r: usize, height: usize, top_down: bool) -> usize {
    if top_down {
        r
    } else {
        height - 1 - r
    }
}

/// Most output units one input byte can stand for: a match's length grows
/// by at most 255 per extension byte (plus the few of its control byte).
const MAX_UNITS_PER_BYTE: u64 = 264;

/// Refuse a header whose size its data could never produce, before anything
/// is allocated for it (28 bytes must not buy a 64 MiB buffer).
fn check_expansion(h: &LzHeader, data_len: usize) -> Result<(), WireError> {
    let units = if is_plt(h.kind) {
        h.stride as u64 * h.height as u64
    } else {
        h.width as u64 * h.height as u64
    };
    let coded = data_len.saturating_sub(LZ_HEADER_SIZE) as u64;
    if units > coded.saturating_mul(MAX_UNITS_PER_BYTE) {
        return Err(WireError::new(
            LZ_HEADER_SIZE,
            "LZ image larger than its data can encode",
        ));
    }
    Ok(())
}

/// Decode an LZ payload straight into `dst`, which must have the header's
/// size, top row first. Pixels are as [`decode`] gives them.
///
/// LZ back-references are linear in the image's pixel stream, so RGB16,
/// RGB24/32 and the colour pass of RGBA are decoded in place when `dst` is
/// contiguous (`stride == width`; a bottom-up image then has its rows
/// swapped in place), and straight into the rows of a strided `dst`, literal
/// runs and matches split at row ends (QEMU sends LZ images as narrow
/// columns of the surface: no staged copy then). Palette types (whose
/// stream is packed indices) and alpha planes are decoded into a byte
/// scratch and expanded row by row into `dst`. The scratch is allocated
/// for this call: [`decode_into_with`] reuses one.
pub fn decode_into(
    data: &[u8],
    palette: Option<&[u32]>,
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    decode_into_with(data, palette, dst, &mut Vec::new())
}

/// [`decode_into`] with a caller-owned scratch for the byte planes (palette
/// indices, RGBA's and A8's alpha; see [`Staging`](super::dest::Staging),
/// [`staging_pixels`]): grown when too short, never cleared (each pass
/// writes all of it before reading back), so the steady state neither
/// allocates nor zeroes.
pub fn decode_into_with(
    data: &[u8],
    palette: Option<&[u32]>,
    dst: &mut Dest<'_>,
    stage: &mut Vec<u32>,
) -> Result<(), WireError> {
    let h = parse_header(data)?;
    dst.check_size(h.width, h.height)?;
    decode_header_into(data, &h, palette, dst, stage)
}

/// Pixels of staging [`decode_into_with`] uses for `data` into `dst`: none
/// for the colour types (decoded straight into `dst`), the alpha plane's
/// bytes for RGBA and A8, the packed index rows' bytes for the palette
/// types; none for other types or a header it refuses (also one whose size
/// its data could never produce, so a short payload cannot make the caller
/// stage much).
pub fn staging_pixels(data: &[u8], dst: &Dest<'_>) -> usize {
    let n = dst.width().saturating_mul(dst.height());
    let Ok(h) = parse_header(data) else {
        return 0;
    };
    if check_expansion(&h, data.len()).is_err() {
        return 0;
    }
    match h.kind {
        LZ_IMAGE_TYPE_RGBA | LZ_IMAGE_TYPE_A8 => pixels_for_bytes(n),
        k if is_plt(k) => {
            let bytes = (h.stride as usize).saturating_mul(dst.height());
            pixels_for_bytes(bytes.min(MAX_IMAGE_PIXELS * 4))
        }
        _ => 0,
    }
}

/// Whether every pixel [`decode`] gives for an image of LZ type `kind` has
/// its alpha byte clear (the colour types: literals carry no alpha and
/// matches copy earlier pixels).
pub fn leaves_alpha_clear(kind: u32) -> bool {
    matches!(
        kind,
        LZ_IMAGE_TYPE_RGB16 | LZ_IMAGE_TYPE_RGB24 | LZ_IMAGE_TYPE_RGB32
    )
}

/// Decode an LZ payload (header + stream) into an image.
///
/// `palette` (`0x00RRGGBB` entries) is required for the PLT types; an index
/// beyond the palette yields black.
pub fn decode(data: &[u8], palette: Option<&[u32]>) -> Result<Image, WireError> {
    let h = parse_header(data)?;
    check_expansion(&h, data.len())?;
    let mut pixels = alloc_pixels(h.width, h.height)?;
    let w = h.width as usize;
    let mut dst = Dest::new(&mut pixels, w, h.height as usize, w)?;
    decode_header_into(data, &h, palette, &mut dst, &mut Vec::new())?;
    Ok(Image {
        width: h.width,
        height: h.height,
        pixels,
        has_alpha: matches!(h.kind, LZ_IMAGE_TYPE_RGBA | LZ_IMAGE_TYPE_A8),
    })
}

/// [`decode_into`] once the header is parsed.
fn decode_header_into(
    data: &[u8],
    h: &LzHeader,
    palette: Option<&[u32]>,
    dst: &mut Dest<'_>,
    stage: &mut Vec<u32>,
) -> Result<(), WireError> {
    check_expansion(h, data.len())?;
    let mut inp = Input::new(data, LZ_HEADER_SIZE, "LZ stream truncated");
    let (w, ht) = (dst.width(), dst.height());
    match h.kind {
        LZ_IMAGE_TYPE_PLT1_LE
        | LZ_IMAGE_TYPE_PLT1_BE
        | LZ_IMAGE_TYPE_PLT4_LE
        | LZ_IMAGE_TYPE_PLT4_BE
        | LZ_IMAGE_TYPE_PLT8 => {
            let palette = palette.ok_or(WireError::new(8, "LZ palette image without palette"))?;
            let stride = h.stride as usize;
            let bits: u32 = match h.kind {
                LZ_IMAGE_TYPE_PLT8 => 8,
                LZ_IMAGE_TYPE_PLT4_LE | LZ_IMAGE_TYPE_PLT4_BE => 4,
                _ => 1,
            };
            if stride
                .checked_mul(8 / bits as usize)
                .is_none_or(|px| px < w)
            {
                return Err(WireError::new(20, "LZ stride too small for width"));
            }
            let total = stride
                .checked_mul(ht)
                .ok_or(WireError::new(20, "LZ size overflows"))?;
            if total > MAX_IMAGE_PIXELS * 4 {
                return Err(WireError::new(20, "image too large"));
            }
            // Every byte is written before it is read: old contents never show.
            let bytes = staged_bytes(stage, total)?;
            decompress::<u8, 1>(&mut inp, bytes, 3, byte_literals)?;
            let bit_order_be = matches!(h.kind, LZ_IMAGE_TYPE_PLT1_BE | LZ_IMAGE_TYPE_PLT4_BE);
            for (r, row) in bytes.chunks_exact(stride).enumerate() {
                let out = dst.row_mut(dest_row(r, ht, h.top_down));
                expand_indexed(row, bits, bit_order_be, palette, out);
            }
        }
        LZ_IMAGE_TYPE_RGB16 => pixels_into::<2>(&mut inp, h.top_down, dst, 2, rgb16_literals)?,
        LZ_IMAGE_TYPE_RGB24 | LZ_IMAGE_TYPE_RGB32 | LZ_IMAGE_TYPE_RGBA => {
            pixels_into::<3>(&mut inp, h.top_down, dst, 1, bgr_to_xrgb)?;
            if h.kind == LZ_IMAGE_TYPE_RGBA {
                let alpha = staged_bytes(stage, w * ht)?;
                decompress::<u8, 1>(&mut inp, alpha, 3, byte_literals)?;
                for (r, row) in alpha.chunks_exact(w).enumerate() {
                    let out = dst.row_mut(dest_row(r, ht, h.top_down));
                    for (p, &a) in out.iter_mut().zip(row) {
                        *p |= (a as u32) << 24;
                    }
                }
            }
        }
        LZ_IMAGE_TYPE_A8 => {
            let alpha = staged_bytes(stage, w * ht)?;
            decompress::<u8, 1>(&mut inp, alpha, 3, byte_literals)?;
            for (r, row) in alpha.chunks_exact(w).enumerate() {
                let out = dst.row_mut(dest_row(r, ht, h.top_down));
                for (p, &a) in out.iter_mut().zip(row) {
                    *p = (a as u32) << 24;
                }
            }
        }
        _ => return Err(WireError::new(8, "LZ type not decodable on its own")),
    }
    Ok(())
}

/// Decode a pass of whole pixels so that they land in `dst` top row
/// first: in place when `dst` is contiguous (a bottom-up image then has its
/// rows swapped in place), else straight into the strided rows
/// ([`RowPass`]).
fn pixels_into<const UNIT: usize>(
    inp: &mut Input<'_>,
    top_down: bool,
    dst: &mut Dest<'_>,
    len_bias: usize,
    literals: impl Fn(&[u8], &mut [u32]),
) -> Result<(), WireError> {
    if !dst.is_contiguous() {
        let (w, h, stride) = (dst.width(), dst.height(), dst.stride());
        let mut pass = RowPass::new(inp.clone(), w, h, stride, top_down);
        pass.run::<UNIT>(dst.span_mut(), h, len_bias, literals)?;
        *inp = pass.input().clone();
        return Ok(());
    }
    let w = dst.width();
    let px = dst.span_mut();
    decompress::<u32, UNIT>(inp, px, len_bias, literals)?;
    if !top_down {
        flip_rows(px, w);
    }
    Ok(())
}

/// Whether LZ type `kind` is one of the palette (PLT) types.
pub fn is_plt(kind: u32) -> bool {
    (LZ_IMAGE_TYPE_PLT1_LE..=LZ_IMAGE_TYPE_PLT8).contains(&kind)
}

/// Decode an `XXXA` (alpha-only) LZ payload into the alpha bytes of `image`
/// (used for `JPEG_ALPHA`). The header's size must match the image.
pub fn decode_alpha(data: &[u8], image: &mut Image) -> Result<(), WireError> {
    let (w, h) = (image.width as usize, image.height as usize);
    if w.checked_mul(h) != Some(image.pixels.len()) {
        return Err(WireError::new(12, "LZ alpha plane size differs from image"));
    }
    let mut dst = Dest::new(&mut image.pixels, w, h, w)
        .map_err(|_| WireError::new(12, "LZ alpha plane size differs from image"))?;
    decode_alpha_into(data, &mut dst, &mut Vec::new())?;
    image.has_alpha = true;
    Ok(())
}

/// [`decode_alpha`] into the pixels of `dst` (of the plane's size), the
/// plane's bytes staged in `stage` (grown when shorter than
/// [`alpha_staging_pixels`], never cleared: every byte is written first).
pub fn decode_alpha_into(
    data: &[u8],
    dst: &mut Dest<'_>,
    stage: &mut Vec<u32>,
) -> Result<(), WireError> {
    let h = parse_header(data)?;
    if h.kind != LZ_IMAGE_TYPE_XXXA && h.kind != LZ_IMAGE_TYPE_A8 {
        return Err(WireError::new(8, "LZ alpha plane has wrong type"));
    }
    if dst.check_size(h.width, h.height).is_err() {
        return Err(WireError::new(12, "LZ alpha plane size differs from image"));
    }
    check_expansion(&h, data.len())?;
    let (w, ht) = (dst.width(), dst.height());
    let alpha = staged_bytes(stage, w * ht)?;
    let mut inp = Input::new(data, LZ_HEADER_SIZE, "LZ stream truncated");
    decompress::<u8, 1>(&mut inp, alpha, 3, byte_literals)?;
    for (r, row) in alpha.chunks_exact(w).enumerate() {
        let out = dst.row_mut(dest_row(r, ht, h.top_down));
        for (p, &a) in out.iter_mut().zip(row) {
            *p = (*p & 0x00ff_ffff) | ((a as u32) << 24);
        }
    }
    Ok(())
}

/// Pixels of staging [`decode_alpha_into`] uses for an alpha plane of
/// `width x height`.
pub fn alpha_staging_pixels(width: u32, height: u32) -> usize {
    pixels_for_bytes((width as usize).saturating_mul(height as usize))
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn a_28_byte_header_cannot_claim_a_large_image() {
        let mut d = Vec::new();
        for word in [
            LZ_MAGIC,
            LZ_VERSION,
            LZ_IMAGE_TYPE_RGB32,
            4096,
            4096,
            16384,
            1,
        ] {
            d.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(
            decode(&d, None).unwrap_err().reason,
            "LZ image larger than its data can encode"
        );
        d.extend_from_slice(&[0; 16]);
        assert_eq!(
            decode(&d, None).unwrap_err().reason,
            "LZ image larger than its data can encode"
        );
    }

    use super::*;
    use alloc::vec;

    /// The 28-byte header laid out as lz.c writes it (big-endian words).
    fn header(kind: u32, w: u32, h: u32, stride: u32, top_down: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for word in [LZ_MAGIC, LZ_VERSION, kind, w, h, stride, top_down] {
            v.extend_from_slice(&word.to_be_bytes());
        }
        v
    }

    #[test]
    fn header_starts_with_the_lz_magic_bytes() {
        let h = header(LZ_IMAGE_TYPE_RGB32, 1, 1, 4, 1);
        assert_eq!(&h[..4], b"  ZL");
        assert_eq!(h.len(), LZ_HEADER_SIZE);
    }

    #[test]
    fn rgb32_literals_top_down() {
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 2, 2, 8, 1);
        // ctrl 3 = four literals, each b, g, r.
        d.extend_from_slice(&[
            3, 0x01, 0x02, 0x03, 0x10, 0x20, 0x30, 0xff, 0, 0, 0, 0, 0xff,
        ]);
        let img = decode(&d, None).unwrap();
        assert_eq!(img.pixels, vec![0x030201, 0x302010, 0x0000ff, 0xff0000]);
        assert!(!img.has_alpha);
    }

    #[test]
    fn rgb32_bottom_up_flips_rows() {
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 1, 2, 4, 0);
        d.extend_from_slice(&[1, 1, 0, 0, 2, 0, 0]);
        let img = decode(&d, None).unwrap();
        assert_eq!(img.pixels, vec![0x000002, 0x000001]);
    }

    #[test]
    fn rgb32_run_and_match() {
        // literal A; run (ctrl 0x60: length 3 - 1 + 1 = 3, distance 0 + 1 = 1);
        // literal B; match (ctrl 0x40: length 2, distance byte 1 -> 2) copying A, B.
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 7, 1, 28, 1);
        d.extend_from_slice(&[0, 0xaa, 0, 0]); // A
        d.extend_from_slice(&[0x60, 0]); // run: 3 x A
        d.extend_from_slice(&[0, 0xbb, 0, 0]); // B
        d.extend_from_slice(&[0x40, 1]); // len 2, ofs 2: copies A, B
        let img = decode(&d, None).unwrap();
        assert_eq!(img.pixels, vec![0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xaa, 0xbb]);
    }

    #[test]
    fn long_match_length_extension() {
        // 1 literal then a run of 7 - 1 + 255 + 4 + 1 = 266 copies.
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 267, 1, 267 * 4, 1);
        d.extend_from_slice(&[0, 7, 0, 0]);
        d.extend_from_slice(&[0xe0, 255, 4, 0]);
        let img = decode(&d, None).unwrap();
        assert_eq!(img.pixels.len(), 267);
        assert!(img.pixels.iter().all(|&p| p == 7));
    }

    #[test]
    fn far_distance_reference() {
        // 8193+2 literal-ish pixels would be long; use A8 bytes: distance 8191 + 2 + 1 = 8194.
        let n = 8194 + 3;
        let mut d = header(LZ_IMAGE_TYPE_A8, n as u32, 1, n as u32, 1);
        let mut expect = Vec::new();
        let mut remaining = 8194;
        let mut v = 0u8;
        while remaining > 0 {
            let run = remaining.min(32);
            d.push(run as u8 - 1);
            for _ in 0..run {
                d.push(v);
                expect.push(v);
                v = v.wrapping_add(1);
            }
            remaining -= run;
        }
        // len code 1 -> 1 - 1 + 3 = 3; ofs hi 31, code 255 -> far: (0<<8)+2+8191 = 8193, +1 = 8194
        d.extend_from_slice(&[0x20 | 31, 255, 0, 2]);
        expect.extend_from_slice(&[expect[0], expect[1], expect[2]]);
        let img = decode(&d, None).unwrap();
        let got: Vec<u8> = img.pixels.iter().map(|p| (p >> 24) as u8).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn rgba_two_passes() {
        let mut d = header(LZ_IMAGE_TYPE_RGBA, 3, 1, 12, 1);
        d.extend_from_slice(&[2, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        // alpha pass: three literal alpha bytes.
        d.extend_from_slice(&[2, 0x80, 0x40, 0xff]);
        let img = decode(&d, None).unwrap();
        assert!(img.has_alpha);
        assert_eq!(img.pixels, vec![0x80030201, 0x40060504, 0xff090807]);
    }

    #[test]
    fn plt8_with_palette_and_stride_padding() {
        // width 3, stride 4: 4 bytes per row coded, last byte is padding.
        let mut d = header(LZ_IMAGE_TYPE_PLT8, 3, 1, 4, 1);
        d.extend_from_slice(&[3, 0, 1, 2, 9]);
        let pal = [0x111111, 0x222222, 0x333333];
        let img = decode(&d, Some(&pal)).unwrap();
        assert_eq!(img.pixels, vec![0x111111, 0x222222, 0x333333]);
    }

    #[test]
    fn plt1_be_and_le_bit_order() {
        let pal = [0x000000, 0xffffff];
        let mut d = header(LZ_IMAGE_TYPE_PLT1_BE, 4, 1, 1, 1);
        d.extend_from_slice(&[0, 0b1010_0000]);
        assert_eq!(
            decode(&d, Some(&pal)).unwrap().pixels,
            vec![0xffffff, 0, 0xffffff, 0]
        );
        let mut d = header(LZ_IMAGE_TYPE_PLT1_LE, 4, 1, 1, 1);
        d.extend_from_slice(&[0, 0b0000_0101]);
        assert_eq!(
            decode(&d, Some(&pal)).unwrap().pixels,
            vec![0xffffff, 0, 0xffffff, 0]
        );
    }

    #[test]
    fn plt4_bottom_up() {
        let pal = [0x0, 0x10, 0x20, 0x30];
        let mut d = header(LZ_IMAGE_TYPE_PLT4_BE, 2, 2, 1, 0);
        d.extend_from_slice(&[1, 0x12, 0x30]);
        // first coded row (0x12) is the bottom row.
        assert_eq!(
            decode(&d, Some(&pal)).unwrap().pixels,
            vec![0x30, 0x0, 0x10, 0x20]
        );
        let mut d = header(LZ_IMAGE_TYPE_PLT4_LE, 2, 1, 1, 1);
        d.extend_from_slice(&[0, 0x12]);
        assert_eq!(decode(&d, Some(&pal)).unwrap().pixels, vec![0x20, 0x10]);
    }

    #[test]
    fn rgb16_555_expansion() {
        let mut d = header(LZ_IMAGE_TYPE_RGB16, 2, 1, 4, 1);
        // 0x7c00 = pure red, 0x001f = pure blue; high byte first.
        d.extend_from_slice(&[1, 0x7c, 0x00, 0x00, 0x1f]);
        assert_eq!(decode(&d, None).unwrap().pixels, vec![0xff0000, 0x0000ff]);
    }

    #[test]
    fn alpha_plane_into_existing_image() {
        let mut img = Image {
            width: 2,
            height: 2,
            pixels: vec![1, 2, 3, 4],
            has_alpha: false,
        };
        let mut d = header(LZ_IMAGE_TYPE_XXXA, 2, 2, 8, 0);
        d.extend_from_slice(&[3, 0x10, 0x20, 0x30, 0x40]);
        decode_alpha(&d, &mut img).unwrap();
        assert_eq!(
            img.pixels,
            vec![0x30000001, 0x40000002, 0x10000003, 0x20000004]
        );
        assert!(img.has_alpha);
    }

    #[test]
    fn bad_streams_are_errors() {
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 2, 1, 8, 1);
        d.extend_from_slice(&[0x20, 0]); // reference before any output
        assert_eq!(
            decode(&d, None).unwrap_err().reason,
            "LZ reference before start of image"
        );
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 2, 1, 8, 1);
        d.extend_from_slice(&[5, 1, 2, 3]); // 6 literals for 2 pixels
        assert!(decode(&d, None).is_err());
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 2, 1, 8, 1);
        d.extend_from_slice(&[1, 1, 2]); // truncated
        assert_eq!(decode(&d, None).unwrap_err().reason, "LZ stream truncated");
        let d = header(LZ_IMAGE_TYPE_RGB32, 100_000, 100_000, 8, 1);
        assert!(decode(&d, None).is_err());
        let d = header(LZ_IMAGE_TYPE_PLT8, 4, 1, 2, 1);
        assert!(decode(&d, Some(&[0])).is_err());
        assert!(decode(&d, None).is_err());
        assert!(decode(&[0x20, 0x20], None).is_err());
    }

    /// `decode_into` must give `decode`'s rows, strided or not.
    /// And so must `decode_into_with` a staging run left dirty by an
    /// earlier use, holding as much as `staging_pixels` asked for.
    fn into_matches_decode(d: &[u8], palette: Option<&[u32]>) {
        let img = decode(d, palette).unwrap();
        crate::image::dest::assert_into_matches(&img, |dst| decode_into(d, palette, dst));
        crate::image::dest::assert_staged_into_matches(
            &img,
            |dst| staging_pixels(d, dst),
            |dst, stage| decode_into_with(d, palette, dst, stage),
        );
    }

    #[test]
    fn decode_into_strided_destinations() {
        for top_down in [0, 1] {
            // 5 x 3 RGB32: literals, a run, a row copy.
            let mut d = header(LZ_IMAGE_TYPE_RGB32, 5, 3, 20, top_down);
            d.extend_from_slice(&[4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
            d.extend_from_slice(&[0x60, 0, 0x20, 1, 0, 9, 9, 9, 0x40, 4, 0x60, 4]);
            let img = decode(&d, None).unwrap();
            assert_eq!(img.pixels.len(), 15);
            into_matches_decode(&d, None);
            // RGBA: a colour pass and an alpha pass.
            let mut d = header(LZ_IMAGE_TYPE_RGBA, 2, 2, 8, top_down);
            d.extend_from_slice(&[3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
            d.extend_from_slice(&[3, 0x10, 0x20, 0x30, 0x40]);
            into_matches_decode(&d, None);
            // PLT8 with a padded source stride, A8 and RGB16.
            let mut d = header(LZ_IMAGE_TYPE_PLT8, 3, 2, 4, top_down);
            d.extend_from_slice(&[7, 0, 1, 2, 9, 2, 1, 0, 9]);
            into_matches_decode(&d, Some(&[0x111111, 0x222222, 0x333333]));
            let mut d = header(LZ_IMAGE_TYPE_A8, 2, 2, 2, top_down);
            d.extend_from_slice(&[3, 1, 2, 3, 4]);
            into_matches_decode(&d, None);
            let mut d = header(LZ_IMAGE_TYPE_RGB16, 1, 2, 2, top_down);
            d.extend_from_slice(&[1, 0x7c, 0x00, 0x00, 0x1f]);
            into_matches_decode(&d, None);
        }
        // A destination of another size is refused.
        let mut d = header(LZ_IMAGE_TYPE_RGB32, 1, 1, 4, 1);
        d.extend_from_slice(&[0, 1, 2, 3]);
        let mut buf = vec![0u32; 4];
        let mut dst = Dest::new(&mut buf, 2, 2, 2).unwrap();
        assert!(decode_into(&d, None, &mut dst).is_err());
    }

    /// A valid LZ RGB32 stream of `w x h` pixels made of random literal
    /// runs and back-references (short and long, overlapping, reaching
    /// across rows), for checking strided decoding against the linear one.
    pub(crate) fn random_rgb32(rng: &mut impl rand::Rng, w: u32, h: u32, top_down: u32) -> Vec<u8> {
        let n = (w * h) as usize;
        let mut d = header(LZ_IMAGE_TYPE_RGB32, w, h, w * 4, top_down);
        let mut op = 0usize;
        while op < n {
            let left = n - op;
            if op == 0 || rng.gen_bool(0.4) {
                let count = rng.gen_range(1..=32usize.min(left));
                d.push(count as u8 - 1);
                for _ in 0..count {
                    d.extend_from_slice(&[rng.gen(), rng.gen(), rng.gen()]);
                }
                op += count;
                continue;
            }
            let back = match rng.gen_range(0..4) {
                0 => 1,
                1 => rng.gen_range(1..=op.min(4)),
                2 => (w as usize).min(op),
                _ => rng.gen_range(1..=op.min(8191 + 600)),
            };
            let len = rng.gen_range(1..=left.min(300));
            let ofs = back - 1;
            let code = len - 1;
            let (ctrl_len, ext) = if code < 6 {
                (code + 1, None)
            } else {
                (7, Some(code - 6))
            };
            if ofs < 8191 {
                d.push(((ctrl_len as u8) << 5) | (ofs >> 8) as u8);
                if let Some(mut e) = ext {
                    while e >= 255 {
                        d.push(255);
                        e -= 255;
                    }
                    d.push(e as u8);
                }
                d.push(ofs as u8);
            } else {
                let far = ofs - 8191;
                d.push(((ctrl_len as u8) << 5) | 31);
                if let Some(mut e) = ext {
                    while e >= 255 {
                        d.push(255);
                        e -= 255;
                    }
                    d.push(e as u8);
                }
                d.extend_from_slice(&[255, (far >> 8) as u8, far as u8]);
            }
            op += len;
        }
        d
    }

    #[test]
    fn strided_decoding_matches_the_linear_stream() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        for (w, h) in [
            (1, 40),
            (2, 17),
            (3, 50),
            (7, 9),
            (32, 300),
            (33, 5),
            (100, 3),
        ] {
            for top_down in [0, 1] {
                let d = random_rgb32(&mut rng, w, h, top_down);
                into_matches_decode(&d, None);
            }
        }
    }

    #[test]
    fn random_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut refused = 0;
        for i in 0..3000 {
            let kind = i % 12;
            let mut d = header(
                kind,
                rng.gen_range(0..40),
                rng.gen_range(0..40),
                rng.gen_range(0..200),
                i & 1,
            );
            let n = rng.gen_range(0..300);
            d.extend((0..n).map(|_| rng.gen::<u8>()));
            if decode(&d, Some(&[1, 2, 3])).is_err() {
                refused += 1;
            }
            // And into a strided destination of the header's size.
            if let Ok(h) = parse_header(&d) {
                let (w, ht) = (h.width as usize, h.height as usize);
                let mut buf = vec![0u32; (w + 3) * ht];
                if let Ok(mut dst) = Dest::new(&mut buf, w, ht, w + 3) {
                    let _ = decode_into(&d, Some(&[1, 2, 3]), &mut dst);
                }
            }
            let mut img = Image {
                width: 3,
                height: 3,
                pixels: vec![0; 9],
                has_alpha: false,
            };
            let _ = decode_alpha(&d, &mut img);
            // Whatever happened, the target image keeps its size.
            assert_eq!(img.pixels.len(), 9);
        }
        assert!(
            refused > 1000,
            "only {refused} of 3000 random images refused"
        );
    }
}
