//! QUIC: SPICE's lossless photographic image codec (an adaptive Golomb-Rice
//! coder after SFALIC, with a run-length mode), as produced by spice-common's
//! `quic.c` encoder.
//!
//! Owns turning a QUIC payload into an [`Image`]: header checks, the order of
//! the coding passes for each image type and the conversion of the decoded
//! channels to `0xAARRGGBB`. The entropy tables live in `family`, the bit
//! stream in `bits`, the adaptive models and update schedule in `model`, and
//! the per-row decoding loop in `plane`.
//!
//! Every input is untrusted: the header is checked against the payload size
//! and [`MAX_IMAGE_PIXELS`](super::MAX_IMAGE_PIXELS) before anything is
//! allocated, reads past the end of the stream are detected once per row,
//! and runs that would leave the row are refused. Nothing here may panic.

mod bits;
mod family;
mod model;
mod plane;

use super::{alloc_pixels, Dest, Image};
use crate::error::WireError;
use crate::wire::Reader;
use bits::Bits;
use plane::{Finish, Pass};

/// `"QUIC"` read as a little-endian word.
pub const QUIC_MAGIC: u32 = 0x4349_5551;
/// The only QUIC version (major 0, minor 0).
pub const QUIC_VERSION: u32 = 0;

/// QUIC image types (spice-common `QuicImageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicImageType {
    /// One 8-bit channel.
    Gray = 1,
    /// Three 5-bit channels (x1r5g5b5).
    Rgb16 = 2,
    /// Three 8-bit channels, packed.
    Rgb24 = 3,
    /// Three 8-bit channels in 32-bit pixels.
    Rgb32 = 4,
    /// Three 8-bit channels plus an 8-bit alpha plane.
    Rgba = 5,
}

impl QuicImageType {
    /// The type for a header value, if it names one.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Gray,
            2 => Self::Rgb16,
            3 => Self::Rgb24,
            4 => Self::Rgb32,
            5 => Self::Rgba,
            _ => return None,
        })
    }

    /// Codewords per pixel (channels over all passes).
    fn codewords_per_pixel(self) -> u64 {
        match self {
            Self::Gray => 1,
            Self::Rgb16 | Self::Rgb24 | Self::Rgb32 => 3,
            Self::Rgba => 4,
        }
    }
}

/// The fixed QUIC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicHeader {
    /// Image type.
    pub image_type: QuicImageType,
    /// Width in pixels (non-zero).
    pub width: u32,
    /// Height in pixels (non-zero).
    pub height: u32,
}

/// Size of the header in bytes (five words).
const HEADER_LEN: usize = 20;

/// Parse and check the header of a QUIC payload: magic, version, type, a
/// non-zero size that fits the reference's signed ints, and a payload long
/// enough to hold the smallest possible coding of that size (every pixel of
/// the first row and the first pixel of every later row cost at least one
/// bit per channel, and the decoder's 32-bit window must stay inside the data).
pub fn parse_header(data: &[u8]) -> Result<QuicHeader, WireError> {
    let mut r = Reader::new(data);
    if r.u32()? != QUIC_MAGIC {
        return Err(WireError::new(0, "bad QUIC magic"));
    }
    if r.u32()? != QUIC_VERSION {
        return Err(WireError::new(4, "unsupported QUIC version"));
    }
    let image_type =
        QuicImageType::from_u32(r.u32()?).ok_or(WireError::new(8, "bad QUIC image type"))?;
    let width = r.u32()?;
    let height = r.u32()?;
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(WireError::new(12, "bad QUIC image size"));
    }
    let stream_bits = ((data.len() - HEADER_LEN) / 4) as u64 * 32;
    let least_bits =
        image_type.codewords_per_pixel() * (u64::from(width) + u64::from(height) - 1) + 32;
    if stream_bits < least_bits {
        return Err(WireError::new(
            data.len(),
            "QUIC data too short for its size",
        ));
    }
    Ok(QuicHeader {
        image_type,
        width,
        height,
    })
}

/// Decode a QUIC payload straight into `dst`, which must have the header's
/// size: each row is decoded in place (the next row predicts from the row
/// above as written), so no image buffer exists besides the destination.
/// Pixels are as [`decode`] gives them; every pixel of the rectangle is
/// written and nothing outside it. On an error the rows before the bad
/// one are decoded, the bad one is partly written and later rows keep
/// their old contents.
pub fn decode_into(data: &[u8], dst: &mut Dest<'_>) -> Result<(), WireError> {
    decode_into_with::<OPAQUE>(data, dst)
}

/// [`decode_into`] for a destination without alpha: the types without an
/// alpha plane store their alpha byte clear, as a surface without alpha
/// holds its pixels, instead of opaque, so nobody clears it in a second
/// pass over the rectangle. RGBA keeps its alpha plane.
pub fn decode_into_clear(data: &[u8], dst: &mut Dest<'_>) -> Result<(), WireError> {
    decode_into_with::<0>(data, dst)
}

/// [`decode_into`] storing alpha byte `A` (in place) for the types
/// without an alpha plane.
fn decode_into_with<const A: u32>(data: &[u8], dst: &mut Dest<'_>) -> Result<(), WireError> {
    let header = parse_header(data)?;
    dst.check_size(header.width, header.height)?;
    decode_checked::<A>(data, header.image_type, dst)
}

/// Decode a QUIC payload (the bytes after `SpiceQUICData.data_size`).
///
/// RGB32/RGB24 give opaque pixels; RGB16 channels are widened as the SPICE
/// canvas does (`v << 3 | v >> 2`); GRAY gives `r = g = b`; RGBA keeps its
/// alpha plane and sets `has_alpha`.
pub fn decode(data: &[u8]) -> Result<Image, WireError> {
    let header = parse_header(data)?;
    let (width, height) = (header.width, header.height);
    let mut pixels = alloc_pixels(width, height)?;
    let mut dst = Dest::new(&mut pixels, width as usize, height as usize, width as usize)?;
    decode_checked::<OPAQUE>(data, header.image_type, &mut dst)?;
    Ok(Image {
        width,
        height,
        pixels,
        has_alpha: header.image_type == QuicImageType::Rgba,
    })
}

/// Alpha of the pixels of an image without an alpha plane, as [`decode`]
/// gives them.
const OPAQUE: u32 = 0xff00_0000;

/// RGB24/RGB32: the three 8-bit channels, alpha byte `A`.
struct Rgb8<const A: u32>;

impl<const A: u32> Finish for Rgb8<A> {
    #[inline(always)]
    fn finish(px: u32) -> u32 {
        px | A
    }
}

/// RGB16: each 5-bit value sits in the top of its byte; the low three bits
/// get its top three bits (as the SPICE canvas widens them), alpha byte `A`.
struct Widen5<const A: u32>;

impl<const A: u32> Finish for Widen5<A> {
    #[inline(always)]
    fn finish(px: u32) -> u32 {
        px | ((px >> 5) & 0x0007_0707) | A
    }
}

/// GRAY: the one channel (the lowest byte) in all three, alpha byte `A`.
struct GrayToRgb<const A: u32>;

impl<const A: u32> Finish for GrayToRgb<A> {
    #[inline(always)]
    fn finish(px: u32) -> u32 {
        px.wrapping_mul(0x0001_0101) | A
    }
}

/// Decode the stream of a payload whose header has been checked (type
/// `image_type`, the size of `dst`); the types without an alpha plane
/// store alpha byte `A`.
fn decode_checked<const A: u32>(
    data: &[u8],
    image_type: QuicImageType,
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    let w = dst.width();
    let mut bits = Bits::new(data.get(HEADER_LEN..).unwrap_or(&[]), HEADER_LEN);
    match image_type {
        QuicImageType::Rgb32 | QuicImageType::Rgb24 => {
            let mut rgb = Pass::<3, 8, false, 16, Rgb8<A>>::new(w)?;
            decode_rows(&mut bits, dst, &mut [&mut rgb])
        }
        QuicImageType::Rgb16 => {
            let mut rgb = Pass::<3, 5, false, 19, Widen5<A>>::new(w)?;
            decode_rows(&mut bits, dst, &mut [&mut rgb])
        }
        QuicImageType::Rgba => {
            let mut rgb = Pass::<3, 8, false, 16>::new(w)?;
            let mut alpha = Pass::<1, 8, true, 24>::new(w)?;
            decode_rows(&mut bits, dst, &mut [&mut rgb, &mut alpha])
        }
        QuicImageType::Gray => {
            let mut gray = Pass::<1, 8, false, 0, GrayToRgb<A>>::new(w)?;
            decode_rows(&mut bits, dst, &mut [&mut gray])
        }
    }
}

/// A coding pass, whatever its channel count and depth.
trait RowPass {
    fn row(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
    ) -> Result<(), WireError>;
}

impl<const N: usize, const BPC: usize, const MERGE: bool, const TOP: u32, F: Finish> RowPass
    for Pass<N, BPC, MERGE, TOP, F>
{
    fn row(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
    ) -> Result<(), WireError> {
        Pass::row(self, bits, prev, cur)
    }
}

/// Run the passes over every row of `dst` in place, giving them the row
/// above (`None` for the first), and check the stream after each row. The
/// first pass writes whole pixels, so nothing of the old contents survives.
fn decode_rows(
    bits: &mut Bits<'_>,
    dst: &mut Dest<'_>,
    passes: &mut [&mut dyn RowPass],
) -> Result<(), WireError> {
    let (width, height, stride) = (dst.width(), dst.height(), dst.stride());
    let span = dst.span_mut();
    let outside = || WireError::new(0, "destination rectangle out of bounds");
    let mut row = |bits: &mut Bits<'_>, prev: Option<&[u32]>, cur: &mut [u32]| {
        for pass in passes.iter_mut() {
            pass.row(bits, prev, cur)?;
        }
        bits.check()
    };
    let (first, mut rest) = span.split_at_mut(width.min(span.len()));
    row(bits, None, first)?;
    let mut prev: &mut [u32] = first;
    for _ in 1..height {
        // `rest` starts right after `prev`; the next row starts after the gap.
        let gap = stride - width;
        let (cur, after) = core::mem::take(&mut rest)
            .get_mut(gap..)
            .filter(|r| r.len() >= width)
            .ok_or_else(outside)?
            .split_at_mut(width);
        row(bits, Some(prev), cur)?;
        prev = cur;
        rest = after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::family::*;
    use super::*;

    /// A header as quic.c writes it: five little-endian words.
    fn header(words: [u32; 5], stream_words: usize) -> alloc::vec::Vec<u8> {
        let mut v: alloc::vec::Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        v.resize(20 + 4 * stream_words, 0);
        v
    }

    #[test]
    fn header_magic_is_ascii_quic() {
        let d = header([QUIC_MAGIC, 0, 4, 3, 2], 4);
        assert_eq!(&d[..4], b"QUIC");
        assert_eq!(
            parse_header(&d),
            Ok(QuicHeader {
                image_type: QuicImageType::Rgb32,
                width: 3,
                height: 2
            })
        );
    }

    #[test]
    fn header_errors_name_the_field() {
        assert_eq!(parse_header(b"QUI").unwrap_err().reason, "truncated");
        assert_eq!(
            parse_header(&header([0x4349_5552, 0, 4, 1, 1], 4))
                .unwrap_err()
                .reason,
            "bad QUIC magic"
        );
        // Version 1.0 would be (1 << 16) | 0.
        assert_eq!(
            parse_header(&header([QUIC_MAGIC, 1 << 16, 4, 1, 1], 4))
                .unwrap_err()
                .reason,
            "unsupported QUIC version"
        );
        for ty in [0, 6, u32::MAX] {
            assert_eq!(
                parse_header(&header([QUIC_MAGIC, 0, ty, 1, 1], 4)).unwrap_err(),
                WireError::new(8, "bad QUIC image type")
            );
        }
        assert_eq!(
            parse_header(&header([QUIC_MAGIC, 0, 4, 1, 1], 0))
                .unwrap_err()
                .reason,
            "QUIC data too short for its size"
        );
    }

    #[test]
    fn all_zero_stream_matches_the_reference_decoder() {
        // Zero bits are escape codewords; spice-common's quic_decode turns
        // this 7x5 stream into these values in every channel (RGB16: the
        // 5-bit equivalents, widened). Output of the reference C decoder.
        const REFERENCE: [u8; 35] = [
            64, 128, 192, 0, 64, 128, 192, 128, 192, 0, 64, 128, 192, 0, 192, 0, 64, 128, 192, 0,
            64, 0, 64, 128, 192, 0, 64, 128, 64, 128, 192, 0, 64, 128, 192,
        ];
        for ty in 1..=5 {
            let img = decode(&header([QUIC_MAGIC, 0, ty, 7, 5], 256)).unwrap();
            for (i, (&p, &v)) in img.pixels.iter().zip(&REFERENCE).enumerate() {
                let v = u32::from(if ty == 2 { v | v >> 5 } else { v });
                let alpha = if ty == 5 { v } else { 0xff };
                assert_eq!(p, (alpha << 24) | (v * 0x0001_0101), "type {ty} pixel {i}");
            }
        }
    }

    #[test]
    fn decode_into_a_wider_surface_writes_the_same_pixels_and_nothing_else() {
        // Reference-encoded pictures (see tests/quic.rs), one per image type.
        let payloads: [&[u8]; 5] = [
            include_bytes!("../../tests/data/quic/synthetic/color.rgb32.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color.rgb24.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color.rgb16.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color-alpha.rgba.quic"),
            include_bytes!("../../tests/data/quic/synthetic/gray-wide.gray.quic"),
        ];
        const OLD: u32 = 0x5a3c_a5c3;
        for data in payloads {
            let img = decode(data).unwrap();
            let (w, h) = (img.width as usize, img.height as usize);
            let stride = w + 3;
            // Old surface contents everywhere, plus a row's worth after the end.
            let mut surface = alloc::vec![OLD; stride * (h + 1)];
            let mut dst = Dest::new(&mut surface[stride..], w, h, stride).unwrap();
            decode_into(data, &mut dst).unwrap();
            assert!(surface[..stride].iter().all(|&p| p == OLD), "before");
            for (y, row) in surface[stride..].chunks(stride).enumerate() {
                if y < h {
                    assert_eq!(&row[..w], &img.pixels[y * w..(y + 1) * w], "row {y}");
                    assert!(row[w..].iter().all(|&p| p == OLD), "gap after row {y}");
                } else {
                    assert!(row.iter().all(|&p| p == OLD), "after");
                }
            }
        }
    }

    #[test]
    fn decode_into_clear_stores_the_alpha_byte_clear_but_keeps_an_alpha_plane() {
        let files: [&[u8]; 5] = [
            include_bytes!("../../tests/data/quic/synthetic/color.rgb32.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color.rgb24.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color.rgb16.quic"),
            include_bytes!("../../tests/data/quic/synthetic/gray-wide.gray.quic"),
            include_bytes!("../../tests/data/quic/synthetic/color-alpha.rgba.quic"),
        ];
        for data in files {
            let img = decode(data).unwrap();
            let (w, h) = (img.width as usize, img.height as usize);
            // Strided, over a destination that held something else.
            let mut surface = alloc::vec![0xa5a5_a5a5u32; (w + 3) * h];
            let mut dst = Dest::new(&mut surface, w, h, w + 3).unwrap();
            decode_into_clear(data, &mut dst).unwrap();
            let mask = if img.has_alpha { u32::MAX } else { 0x00ff_ffff };
            for (row, want) in surface.chunks(w + 3).zip(img.pixels.chunks(w)) {
                let got = &row[..w];
                let want: alloc::vec::Vec<u32> = want.iter().map(|p| p & mask).collect();
                assert_eq!(got, want);
                assert!(row[w..].iter().all(|&p| p == 0xa5a5_a5a5));
            }
        }
    }

    #[test]
    fn decode_into_refuses_a_destination_of_another_size() {
        let data = include_bytes!("../../tests/data/quic/synthetic/color.rgb32.quic");
        let img = decode(data).unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        let mut surface = alloc::vec![0u32; (w + 1) * h];
        let mut dst = Dest::new(&mut surface, w + 1, h, w + 1).unwrap();
        assert_eq!(
            decode_into(data, &mut dst).unwrap_err().reason,
            "image size differs from its destination"
        );
        assert!(surface.iter().all(|&p| p == 0));
    }

    #[test]
    fn finishes_keep_their_pass_channels_and_fill_the_rest() {
        // Every value of the pass's channels (RGB: each channel through all
        // values with the others at a pattern), as the pass writes them.
        for v in 0..=255u32 {
            for px in [(v << 16) | 0x5a3c, (v << 8) | 0xa50003, v | 0xc3_7e00] {
                assert_eq!(Rgb8::<OPAQUE>::finish(px), px | OPAQUE);
                assert_eq!(Rgb8::<0>::finish(px), px);
            }
            assert_eq!(GrayToRgb::<OPAQUE>::finish(v), (v * 0x0001_0101) | OPAQUE);
            assert_eq!(GrayToRgb::<0>::finish(v), v * 0x0001_0101);
        }
        for rgb in 0..1u32 << 15 {
            let (r, g, b) = (rgb >> 10, (rgb >> 5) & 31, rgb & 31);
            let px = (r << 19) | (g << 11) | (b << 3);
            let widen = |c: u32| (c << 3) | (c >> 2);
            assert_eq!(
                Widen5::<OPAQUE>::finish(px),
                OPAQUE | (widen(r) << 16) | (widen(g) << 8) | widen(b)
            );
            assert_eq!(
                Widen5::<0>::finish(px),
                Widen5::<OPAQUE>::finish(px) & 0x00ff_ffff
            );
        }
    }

    #[test]
    fn buckets_follow_doubling_sizes() {
        // 8 bpc: 0 | 1-2 | 3-6 | 7-14 | 15-30 | 31-62 | 63-126 | 127-255
        let b = &FAMILY_8BPC.bucket;
        assert_eq!((b[0], b[1], b[2], b[3], b[6], b[7]), (0, 1, 1, 2, 2, 3));
        assert_eq!((b[126], b[127], b[255]), (6, 7, 7));
        // 5 bpc: 0 | 1-2 | 3-6 | 7-14 | 15-31, and contexts are masked to 5 bits
        let b = &FAMILY_5BPC.bucket;
        assert_eq!((b[14], b[15], b[31], b[32], b[33]), (3, 4, 4, 0, 1));
    }

    #[test]
    fn unfold_alternates_signs() {
        let u = &FAMILY_8BPC.short.unfold;
        assert_eq!(&u[..5], &[0, 255, 1, 254, 2]);
        let u = &FAMILY_5BPC.short.unfold;
        assert_eq!((u[0], u[1], u[2], u[31], u[32]), (0, 31, 1, 16, 0));
    }

    #[test]
    fn every_codeword_decodes_to_its_value_and_length() {
        for (fam, bpc) in [(&FAMILY_8BPC, 8usize), (&FAMILY_5BPC, 5)] {
            for l in 0..bpc {
                for n in 0..(1u32 << bpc) {
                    let (bits, len) = fam.codeword(l, n as u8);
                    assert_eq!(
                        len,
                        u32::from(fam.code_len[n as usize][l]),
                        "len of {n} under code {l}"
                    );
                    // The codeword followed by ones, then by zeros, as the
                    // decoder's window sees it.
                    for tail in [u32::MAX >> len, 0] {
                        let window = (bits << (32 - len)) | tail;
                        assert_eq!(
                            fam.decode(l, u64::from(window) << 32),
                            (n as u8, len),
                            "{bpc} bpc code {l} value {n}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn codewords_never_exceed_limit() {
        for fam in [&FAMILY_8BPC, &FAMILY_5BPC] {
            for row in fam.code_len.iter() {
                assert!(row.iter().all(|&l| l as u32 <= 26));
            }
        }
        // Code 0 of 8 bpc: values 0..18 are unary (n zeros + one), then a
        // 18-zero escape with an 8-bit suffix.
        assert_eq!(FAMILY_8BPC.code_len[0][0], 1);
        assert_eq!(FAMILY_8BPC.code_len[17][0], 18);
        assert_eq!(FAMILY_8BPC.code_len[18][0], 26);
        assert_eq!(FAMILY_8BPC.decode(0, 0x8000_0000 << 32), (0, 1));
        assert_eq!(FAMILY_8BPC.decode(2, 0b0110_0000 << 56), (6, 4));
    }

    #[test]
    fn bucket_starts_bound_each_bucket_and_lanes_hold_lengths() {
        for (fam, levels) in [(&FAMILY_8BPC, 256usize), (&FAMILY_5BPC, 32)] {
            for v in 0..levels {
                let b = usize::from(fam.bucket[v]);
                let (from, to) = (fam.bucket_start[b], fam.bucket_start[b + 1]);
                assert!(
                    usize::from(from) <= v && v < usize::from(to),
                    "value {v} bucket {b}"
                );
            }
            assert_eq!(fam.bucket_start[0], 0);
            assert_eq!(*fam.bucket_start.last().unwrap(), levels as u16);
            for (lens, wide) in fam.code_len.iter().zip(&fam.code_len_wide) {
                for (&len, &w) in lens.iter().zip(wide) {
                    assert_eq!(u16::from(len), w);
                }
            }
        }
        // 8 bpc: 0 | 1-2 | 3-6 | 7-14 | 15-30 | 31-62 | 63-126 | 127-255.
        assert_eq!(FAMILY_8BPC.bucket_start, [0, 1, 3, 7, 15, 31, 63, 127, 256]);
    }
}
