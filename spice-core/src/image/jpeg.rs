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
//! The entropy decoding, IDCT and colour conversion are zune-jpeg's. This
//! module must not panic or allocate an image larger than
//! [`MAX_IMAGE_PIXELS`](super::MAX_IMAGE_PIXELS): the frame size is read and
//! checked before any pixel buffer exists.

use super::{alloc_pixels, Image};
use crate::error::WireError;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Largest width or height accepted in a JPEG frame header.
const MAX_JPEG_SIDE: usize = 4096;

/// Decode a baseline JPEG payload (also MJPEG stream frames).
pub fn decode(data: &[u8]) -> Result<Image, WireError> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::BGRA)
        .set_max_width(MAX_JPEG_SIDE)
        .set_max_height(MAX_JPEG_SIDE)
        .set_strict_mode(false);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), options);
    dec.decode_headers().map_err(|_| WireError::new(0, "JPEG: bad or unsupported header"))?;
    let info = dec.info().ok_or(WireError::new(0, "JPEG: no frame header"))?;
    let (width, height) = (info.width as u32, info.height as u32);
    if dec.output_colorspace() != Some(ColorSpace::BGRA) {
        return Err(WireError::new(0, "JPEG: unsupported colour space"));
    }
    let mut pixels = alloc_pixels(width, height)?;
    if dec.output_buffer_size() != Some(pixels.len() * 4) {
        return Err(WireError::new(0, "JPEG: unexpected output size"));
    }
    // zune writes B, G, R, 255 per pixel straight into the pixel buffer:
    // little-endian u32 0xFFRRGGBB.
    dec.decode_into(bytemuck::cast_slice_mut(&mut pixels))
        .map_err(|_| WireError::new(0, "JPEG: corrupt data"))?;
    #[cfg(target_endian = "big")]
    for p in &mut pixels {
        *p = p.swap_bytes();
    }
    Ok(Image { width, height, pixels, has_alpha: false })
}

#[cfg(test)]
mod tests {
    use super::*;

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
