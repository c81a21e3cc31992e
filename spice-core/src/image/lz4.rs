//! LZ4 (placeholder API; the decoder is being written).

use super::Image;
use crate::error::WireError;

/// Decode an LZ4 image payload of `width x height` (from the image descriptor).
pub fn decode(_data: &[u8], _width: u32, _height: u32) -> Result<Image, WireError> {
    Err(WireError::new(0, "LZ4 not implemented yet"))
}
