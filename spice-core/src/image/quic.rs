//! QUIC (placeholder API; the decoder is being written).

use super::Image;
use crate::error::WireError;

/// Decode a QUIC payload.
pub fn decode(_data: &[u8]) -> Result<Image, WireError> {
    Err(WireError::new(0, "QUIC not implemented yet"))
}
