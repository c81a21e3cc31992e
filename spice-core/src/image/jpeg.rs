//! JPEG (placeholder API; the decoder is being written).

use super::Image;
use crate::error::WireError;

/// Decode a baseline JPEG payload (also MJPEG stream frames).
pub fn decode(_data: &[u8]) -> Result<Image, WireError> {
    Err(WireError::new(0, "JPEG not implemented yet"))
}
