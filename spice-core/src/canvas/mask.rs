//! 1-bit masks placed on a destination, and the span walk every masked
//! primitive draws through.

use super::geometry::Rect;
use crate::image::Image;

/// A 1-bit mask placed on the destination: a pixel is drawn only where the
/// mask image has a non-zero RGB value (or zero, when `invert`), and never
/// outside the mask.
#[derive(Debug, Clone, Copy)]
pub struct Mask<'a> {
    /// The mask pixels (non-zero RGB = set).
    pub image: &'a Image,
    /// Destination x of the mask's left column.
    pub x: i32,
    /// Destination y of the mask's top row.
    pub y: i32,
    /// Draw where the mask is clear instead.
    pub invert: bool,
}

impl Mask<'_> {
    #[inline]
    fn is_set(&self, px: i32, py: i32) -> bool {
        let mx = px as i64 - self.x as i64;
        let my = py as i64 - self.y as i64;
        if mx < 0 || my < 0 || mx >= self.image.width as i64 || my >= self.image.height as i64 {
            return false;
        }
        let i = my as usize * self.image.width as usize + mx as usize;
        let bit = self
            .image
            .pixels
            .get(i)
            .is_some_and(|p| p & 0x00ff_ffff != 0);
        bit != self.invert
    }
}

/// Call `f(y, x0, x1)` for each horizontal run of `r` the mask lets through.
pub(super) fn spans(r: Rect, mask: Option<&Mask<'_>>, mut f: impl FnMut(i32, i32, i32)) {
    for y in r.top..r.bottom {
        match mask {
            None => f(y, r.left, r.right),
            Some(m) => {
                let mut x = r.left;
                while x < r.right {
                    while x < r.right && !m.is_set(x, y) {
                        x += 1;
                    }
                    let start = x;
                    while x < r.right && m.is_set(x, y) {
                        x += 1;
                    }
                    if x > start {
                        f(y, start, x);
                    }
                }
            }
        }
    }
}
