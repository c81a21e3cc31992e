//! Software canvas: surfaces (the primary screen and off-screen surfaces),
//! rectangles, clipping and the pixel operations the display channel needs.
//!
//! Owns pixel storage and drawing (fill, copy with raster ops, scaling,
//! copy-bits) plus dirty-rectangle tracking for the primary surface. It must
//! not parse wire bytes (that is `display`) nor decode images (`image`).

use alloc::vec::Vec;

/// An axis-aligned rectangle, edges exclusive on the right/bottom side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge (inclusive).
    pub left: i32,
    /// Top edge (inclusive).
    pub top: i32,
    /// Right edge (exclusive).
    pub right: i32,
    /// Bottom edge (exclusive).
    pub bottom: i32,
}

/// A drawing surface: `width * height` pixels, `0x00RRGGBB` (or `0xAARRGGBB`
/// for ARGB surfaces), row-major, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `SPICE_SURFACE_FMT_*` the server declared.
    pub format: u32,
    /// Pixels.
    pub pixels: Vec<u32>,
}
