//! GLZ and ZLIB_GLZ (placeholder API; the decoder is being written).

use super::Image;
use crate::error::WireError;

/// The cross-image GLZ dictionary window shared by display channels with
/// the same `glz_dictionary_id`.
#[derive(Debug, Default)]
pub struct GlzWindow {
    _window_pixels: u32,
}

impl GlzWindow {
    /// A window that holds up to `window_pixels` decoded pixels.
    pub fn new(window_pixels: u32) -> Self {
        Self { _window_pixels: window_pixels }
    }
    /// Decode a GLZ_RGB payload.
    pub fn decode(&mut self, _data: &[u8], _palette: Option<&[u32]>) -> Result<Image, WireError> {
        Err(WireError::new(0, "GLZ not implemented yet"))
    }
    /// Decode a ZLIB_GLZ_RGB payload (`glz_data_size` = inflated size).
    pub fn decode_zlib(&mut self, _data: &[u8], _glz_data_size: u32) -> Result<Image, WireError> {
        Err(WireError::new(0, "ZLIB_GLZ not implemented yet"))
    }
}
