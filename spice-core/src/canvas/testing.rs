//! Fixtures shared by the canvas modules' unit tests.

use super::surface::Surface;
use crate::enums::SPICE_SURFACE_FMT_32_xRGB;
use crate::image::Image;
use alloc::vec::Vec;

/// A black xRGB surface of `w x h`.
pub fn surf(w: u32, h: u32) -> Surface {
    Surface::new(w, h, SPICE_SURFACE_FMT_32_xRGB).unwrap()
}

/// An opaque image of `w x h` holding `pixels`.
pub fn img(w: u32, h: u32, pixels: Vec<u32>) -> Image {
    Image {
        width: w,
        height: h,
        pixels,
        has_alpha: false,
    }
}
