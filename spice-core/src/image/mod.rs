//! Images: the decoded pixel type, the image-descriptor dispatcher and one
//! module per SPICE image codec.
//!
//! Owns turning a `SpiceImage` (descriptor + codec payload) into an [`Image`].
//! Each codec module exposes a pure function over the codec payload (the
//! bytes after the per-type `data_size` field) and must never panic, read out
//! of bounds, or allocate more than the header's width x height allows
//! ([`alloc_pixels`] enforces the limit). Drawing the image is `canvas`'s job.

use crate::error::WireError;
use alloc::vec::Vec;

pub mod bitmap;
pub mod cache;
pub mod glz;
pub mod jpeg;
pub mod lz;
pub mod lz4;
pub mod quic;

/// Largest image (in pixels) any decoder will allocate: 4096 x 4096.
pub const MAX_IMAGE_PIXELS: usize = 4096 * 4096;

/// A decoded image: `width * height` pixels, row-major, top row first,
/// each pixel `0xAARRGGBB` (alpha meaningful only when `has_alpha`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixels, `width * height` of them, `0xAARRGGBB`.
    pub pixels: Vec<u32>,
    /// Whether the alpha byte carries information.
    pub has_alpha: bool,
}

/// Allocate a zeroed pixel buffer for a `width x height` image, refusing
/// empty, overflowing or over-limit sizes.
pub fn alloc_pixels(width: u32, height: u32) -> Result<Vec<u32>, WireError> {
    let n = (width as usize)
        .checked_mul(height as usize)
        .ok_or(WireError::new(0, "image size overflows"))?;
    if n == 0 {
        return Err(WireError::new(0, "empty image"));
    }
    if n > MAX_IMAGE_PIXELS {
        return Err(WireError::new(0, "image too large"));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| WireError::new(0, "out of memory for image"))?;
    v.resize(n, 0);
    Ok(v)
}
