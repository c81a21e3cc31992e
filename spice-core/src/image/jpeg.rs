//! JPEG image decoding (SPICE_IMAGE_TYPE_JPEG, the colour part of
//! JPEG_ALPHA, and MJPEG stream frames).
//!
//! Owns turning one baseline (or progressive) JFIF payload into an opaque
//! [`Image`]. The server's encoder (`jpeg-encoder.c`) converts its BGRX,
//! BGR24 or x1r5g5b5 rows to real RGB before handing them to libjpeg as
//! `JCS_RGB`, so a standard decode gives the right colours; rows are always
//! top row first (the server feeds bottom-up bitmaps in reverse). The alpha
//! plane of JPEG_ALPHA is LZ data decoded elsewhere (`lz`); the dispatcher
//! combines the two.
//!
//! MJPEG stream frames may come without Huffman tables: the server's
//! `mjpeg-encoder.c` reuses one libjpeg compressor and asks for all tables
//! only on the first frame (`jpeg_start_compress(.., first_frame)`), so
//! libjpeg leaves the unchanged standard Huffman tables out of later frames
//! (the quantisation tables are reset, hence re-sent, every frame). As
//! libjpeg's decoder does for such "abbreviated" Motion-JPEG frames, a frame
//! without a DHT segment is decoded with the standard tables of ITU-T T.81
//! Annex K.3, which are the ones libjpeg's `jpeg_set_defaults` encodes with.
//!
//! The entropy decoding, IDCT and colour conversion are zune-jpeg's. This
//! module must not panic or allocate an image larger than
//! [`MAX_IMAGE_PIXELS`](super::MAX_IMAGE_PIXELS): the frame size is read and
//! checked before any pixel buffer exists.

use super::{alloc_pixels, Image};
use crate::error::WireError;
use alloc::vec::Vec;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Largest width or height accepted in a JPEG frame header.
const MAX_JPEG_SIDE: usize = 4096;

/// Decode a baseline JPEG payload (also MJPEG stream frames).
pub fn decode(data: &[u8]) -> Result<Image, WireError> {
    let mut pixels = Vec::new();
    let out = &mut pixels;
    let (width, height) = decode_with(data, &mut Vec::new(), move |w, h| {
        let out = out;
        *out = alloc_pixels(w, h)?;
        Ok(out.as_mut_slice())
    })?;
    Ok(Image {
        width,
        height,
        pixels,
        has_alpha: false,
    })
}

/// Decode a JPEG payload into the pixels `dest` hands out for the frame's
/// size (asked once the headers are read and checked, before any pixel is
/// decoded; it must give exactly `width * height` pixels, and may refuse).
/// A frame without Huffman tables is first completed with the standard
/// ones in `spliced`, a buffer the caller may keep for the next frame.
/// Returns the frame size; the pixels are opaque `0xFFRRGGBB`.
pub fn decode_with<'d>(
    data: &[u8],
    spliced: &mut Vec<u8>,
    dest: impl FnOnce(u32, u32) -> Result<&'d mut [u32], WireError>,
) -> Result<(u32, u32), WireError> {
    decode_lent(data, spliced, dest).map(|(w, h, _)| (w, h))
}

/// [`decode_with`], handing back the pixels `dest` lent as well (to add an
/// alpha plane to them, say).
pub fn decode_lent<'d>(
    data: &[u8],
    spliced: &mut Vec<u8>,
    dest: impl FnOnce(u32, u32) -> Result<&'d mut [u32], WireError>,
) -> Result<(u32, u32, &'d mut [u32]), WireError> {
    if has_huffman_tables(data) {
        return decode_complete(data, dest);
    }
    spliced.clear();
    spliced
        .try_reserve(data.len() + STANDARD_DHT.len())
        .map_err(|_| WireError::new(0, "JPEG: out of memory"))?;
    spliced.extend_from_slice(data.get(..2).unwrap_or(data));
    spliced.extend_from_slice(&STANDARD_DHT);
    spliced.extend_from_slice(data.get(2..).unwrap_or(&[]));
    decode_complete(spliced, dest)
}

/// JPEG markers (ITU-T T.81 Table B.1).
const SOI: u8 = 0xd8;
const DHT: u8 = 0xc4;
const SOS: u8 = 0xda;
const EOI: u8 = 0xd9;

/// Whether a DHT segment comes before the first SOS (or the data is not a
/// JPEG we can walk, in which case the decoder reports the problem).
fn has_huffman_tables(data: &[u8]) -> bool {
    if data.get(..2) != Some(&[0xff, SOI]) {
        return true;
    }
    let mut p = 2;
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        while data.get(p) == Some(&0xff) && data.get(p + 1) == Some(&0xff) {
            p += 1;
        }
        match (data.get(p), data.get(p + 1)) {
            (Some(0xff), Some(&DHT)) => return true,
            (Some(0xff), Some(&SOS)) | (Some(0xff), Some(&EOI)) => return false,
            (Some(0xff), Some(_)) => {}
            _ => return true,
        }
        let len = match data.get(p + 2..p + 4) {
            Some(l) => u16::from_be_bytes([l[0], l[1]]) as usize,
            None => return true,
        };
        p += 2 + len;
    }
}

/// A DHT segment holding the four standard Huffman tables (ITU-T T.81
/// Annex K.3: K.3.1 luminance DC, K.3.2 luminance AC, chrominance DC and
/// AC): per table, class << 4 | id, 16 code-length counts, the values.
const STANDARD_DHT: [u8; 420] = standard_dht();

const fn standard_dht() -> [u8; 420] {
    const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
    const AC_LUMA_VALUES: [u8; 162] = [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];
    const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
    const AC_CHROMA_VALUES: [u8; 162] = [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];
    // Segment length counts itself: 2 + 4 * 17 + 12 + 162 + 12 + 162 = 418.
    let mut out = [0u8; 420];
    out[0] = 0xff;
    out[1] = DHT;
    out[2] = (418u16 >> 8) as u8;
    out[3] = (418u16 & 0xff) as u8;
    let mut p = 4;
    let tables: [(u8, &[u8; 16], &[u8]); 4] = [
        (0x00, &DC_LUMA_BITS, &DC_VALUES),
        (0x10, &AC_LUMA_BITS, &AC_LUMA_VALUES),
        (0x01, &DC_CHROMA_BITS, &DC_VALUES),
        (0x11, &AC_CHROMA_BITS, &AC_CHROMA_VALUES),
    ];
    let mut t = 0;
    while t < tables.len() {
        let (class_id, bits, values) = tables[t];
        out[p] = class_id;
        p += 1;
        let mut i = 0;
        while i < 16 {
            out[p] = bits[i];
            p += 1;
            i += 1;
        }
        let mut i = 0;
        while i < values.len() {
            out[p] = values[i];
            p += 1;
            i += 1;
        }
        t += 1;
    }
    out
}

/// The frame size a JPEG's headers declare (read without decoding, so a
/// budget can be asked first); `None` if the headers do not parse.
pub fn frame_size(data: &[u8]) -> Option<(u32, u32)> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_JPEG_SIDE)
        .set_max_height(MAX_JPEG_SIDE)
        .set_strict_mode(false);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), options);
    dec.decode_headers().ok()?;
    dec.info().map(|i| (i.width as u32, i.height as u32))
}

/// Decode a JPEG that carries its Huffman tables into the pixels `dest`
/// hands out (see [`decode_lent`]).
fn decode_complete<'d>(
    data: &[u8],
    dest: impl FnOnce(u32, u32) -> Result<&'d mut [u32], WireError>,
) -> Result<(u32, u32, &'d mut [u32]), WireError> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::BGRA)
        .set_max_width(MAX_JPEG_SIDE)
        .set_max_height(MAX_JPEG_SIDE)
        .set_strict_mode(false);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), options);
    dec.decode_headers()
        .map_err(|_| WireError::new(0, "JPEG: bad or unsupported header"))?;
    let info = dec
        .info()
        .ok_or(WireError::new(0, "JPEG: no frame header"))?;
    let (width, height) = (info.width as u32, info.height as u32);
    if dec.output_colorspace() != Some(ColorSpace::BGRA) {
        return Err(WireError::new(0, "JPEG: unsupported colour space"));
    }
    let pixels = dest(width, height)?;
    if dec.output_buffer_size() != Some(pixels.len() * 4) {
        return Err(WireError::new(0, "JPEG: unexpected output size"));
    }
    // zune writes B, G, R, 255 per pixel straight into the pixel buffer:
    // little-endian u32 0xFFRRGGBB.
    dec.decode_into(bytemuck::cast_slice_mut(pixels))
        .map_err(|_| WireError::new(0, "JPEG: corrupt data"))?;
    #[cfg(target_endian = "big")]
    for p in pixels.iter_mut() {
        *p = p.swap_bytes();
    }
    Ok((width, height, pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_tables_are_well_formed() {
        // Per table: class/id, 16 counts, then as many values as the counts add up to.
        let mut p = 4;
        let mut seen = alloc::vec::Vec::new();
        while p < STANDARD_DHT.len() {
            seen.push(STANDARD_DHT[p]);
            let n: usize = STANDARD_DHT[p + 1..p + 17]
                .iter()
                .map(|&c| c as usize)
                .sum();
            p += 17 + n;
        }
        assert_eq!(p, STANDARD_DHT.len());
        assert_eq!(seen, [0x00, 0x10, 0x01, 0x11]);
        assert_eq!(
            u16::from_be_bytes([STANDARD_DHT[2], STANDARD_DHT[3]]) as usize,
            STANDARD_DHT.len() - 2
        );
    }

    #[test]
    fn huffman_table_detection() {
        // SOI, APP0 (length 4), DHT: tables present.
        assert!(has_huffman_tables(&[
            0xff, SOI, 0xff, 0xe0, 0, 4, 1, 2, 0xff, DHT, 0, 2
        ]));
        // SOI, DQT (length 3), SOS: none before the scan.
        assert!(!has_huffman_tables(&[
            0xff, SOI, 0xff, 0xdb, 0, 3, 9, 0xff, SOS, 0, 2, 0xff, DHT
        ]));
        // Fill bytes before a marker.
        assert!(!has_huffman_tables(&[
            0xff, SOI, 0xff, 0xff, 0xff, SOS, 0, 2
        ]));
        // Not walkable: left to the decoder to reject.
        assert!(has_huffman_tables(&[0xff, SOI, 0x12]));
        assert!(has_huffman_tables(b"GIF89a"));
    }

    #[test]
    fn not_a_jpeg_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(b"GIF89a").is_err());
        assert!(decode(&[0xff, 0xd8]).is_err());
    }

    #[test]
    fn huge_frame_header_is_refused_before_allocation() {
        // SOI, then SOF0 (ITU T.81 B.2.2): precision 8, 65535 x 65535, 3 components.
        let mut d = alloc::vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8, 0xff, 0xff, 0xff, 0xff, 3];
        for id in 1..=3u8 {
            d.extend_from_slice(&[id, 0x11, 0]);
        }
        d.extend_from_slice(&[0xff, 0xd9]);
        assert!(decode(&d).is_err());
    }
}
