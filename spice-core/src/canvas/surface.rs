//! A drawing surface's pixel storage: creation, bounds, row access for the
//! drawing modules, in-surface moves (COPY_BITS) and extracting an area as
//! an image. Drawing primitives live in the sibling modules, each in its
//! own `impl Surface` block.

use super::geometry::Rect;
use super::scratch::Scratch;
use crate::enums::*;
use crate::error::WireError;
use crate::image::{alloc_pixels, Image};
use alloc::vec::Vec;

/// A drawing surface: `width * height` pixels, row-major, top row first;
/// `0x00RRGGBB` on xRGB/16-bit surfaces, `0xAARRGGBB` on ARGB/A8 surfaces.
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
    /// Working memory the drawing primitives reuse between draws.
    pub(super) scratch: Scratch,
}

impl Surface {
    /// A black surface of `width x height` (refuses empty or over-limit sizes).
    pub fn new(width: u32, height: u32, format: u32) -> Result<Self, WireError> {
        Ok(Self {
            width,
            height,
            format,
            pixels: alloc_pixels(width, height)?,
            scratch: Scratch::default(),
        })
    }

    /// A surface over existing `pixels` (row-major, `width * height` of
    /// them); `None` when the count does not match the size.
    pub fn from_pixels(width: u32, height: u32, format: u32, pixels: Vec<u32>) -> Option<Self> {
        if pixels.len() as u64 != width as u64 * height as u64 {
            return None;
        }
        Some(Self {
            width,
            height,
            format,
            pixels,
            scratch: Scratch::default(),
        })
    }

    /// The whole surface as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::of_size(self.width, self.height)
    }

    /// Bits a stored pixel may carry (alpha only on formats that have it).
    pub(super) fn keep(&self) -> u32 {
        match self.format {
            SPICE_SURFACE_FMT_32_ARGB | SPICE_SURFACE_FMT_8_A | SPICE_SURFACE_FMT_1_A => !0,
            _ => 0x00ff_ffff,
        }
    }

    #[inline]
    pub(super) fn row_mut(&mut self, y: i32, x0: i32, x1: i32) -> &mut [u32] {
        let w = self.width as usize;
        let base = y as usize * w;
        &mut self.pixels[base + x0 as usize..base + x1 as usize]
    }

    /// Copy the pixels of `r - (dx, dy)` to `r` within this surface,
    /// handling overlap (COPY_BITS).
    pub fn copy_bits(&mut self, r: Rect, dx: i32, dy: i32) {
        let r = r
            .intersect(&self.bounds())
            .intersect(&self.bounds().translate(dx, dy));
        if r.is_empty() || (dx == 0 && dy == 0) {
            return;
        }
        let w = self.width as usize;
        let len = r.width() as usize;
        let mut copy_row = |y: i32| {
            let src = (y - dy) as usize * w + (r.left - dx) as usize;
            let dst = y as usize * w + r.left as usize;
            self.pixels.copy_within(src..src + len, dst);
        };
        if dy > 0 {
            for y in (r.top..r.bottom).rev() {
                copy_row(y);
            }
        } else {
            for y in r.top..r.bottom {
                copy_row(y);
            }
        }
    }

    /// The pixels of `area` (clipped to the surface) as an image.
    pub fn extract(&self, area: Rect) -> Result<(Image, Rect), WireError> {
        let a = area.intersect(&self.bounds());
        if a.is_empty() {
            return Err(WireError::new(0, "source area outside surface"));
        }
        let (w, h) = (a.width() as u32, a.height() as u32);
        let mut pixels = alloc_pixels(w, h)?;
        let sw = self.width as usize;
        for (i, row) in pixels.chunks_exact_mut(w as usize).enumerate() {
            let s = (a.top as usize + i) * sw + a.left as usize;
            row.copy_from_slice(&self.pixels[s..s + w as usize]);
        }
        let has_alpha = self.keep() == !0;
        Ok((
            Image {
                width: w,
                height: h,
                pixels,
                has_alpha,
            },
            a,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::testing::surf;
    use alloc::vec;

    #[test]
    fn copy_bits_overlapping_both_directions() {
        let mut s = surf(4, 1);
        s.pixels = vec![1, 2, 3, 4];
        s.copy_bits(Rect::new(1, 0, 4, 1), 1, 0);
        assert_eq!(s.pixels, vec![1, 1, 2, 3]);
        s.copy_bits(Rect::new(0, 0, 3, 1), -1, 0);
        assert_eq!(s.pixels, vec![1, 2, 3, 3]);
        let mut s = surf(1, 4);
        s.pixels = vec![1, 2, 3, 4];
        s.copy_bits(Rect::new(0, 1, 1, 4), 0, 1);
        assert_eq!(s.pixels, vec![1, 1, 2, 3]);
        s.copy_bits(Rect::new(0, 0, 1, 3), 0, -1);
        assert_eq!(s.pixels, vec![1, 2, 3, 3]);
        // source partly outside: only the valid part moves
        s.copy_bits(Rect::new(0, 0, 1, 4), 0, 2);
        assert_eq!(s.pixels, vec![1, 2, 1, 2]);
    }
}
