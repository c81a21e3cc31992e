//! A rectangle of a [`Surface`] as a decoder's [`Dest`], so an image can be
//! decoded straight onto the surface instead of into a buffer of its own.
//!
//! Kept apart from the blits: it only hands out a checked view of the pixels.

use super::{Rect, Surface};
use crate::image::Dest;

impl Surface {
    /// `r` of this surface as a [`Dest`] (rows of the surface's width apart);
    /// `None` when `r` is empty or not wholly inside the surface.
    pub fn dest_mut(&mut self, r: Rect) -> Option<Dest<'_>> {
        if r.is_empty() || r.intersect(&self.bounds()) != r {
            return None;
        }
        let stride = self.width as usize;
        let start = (r.top as usize)
            .checked_mul(stride)?
            .checked_add(r.left as usize)?;
        let pixels = self.pixels.get_mut(start..)?;
        Dest::new(pixels, r.width() as usize, r.height() as usize, stride).ok()
    }

    /// Whether pixels keep their alpha byte here (ARGB and alpha-only
    /// formats); elsewhere a copied pixel's alpha is cleared.
    pub fn keeps_alpha(&self) -> bool {
        self.keep() == !0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::SPICE_SURFACE_FMT_32_xRGB;

    #[test]
    fn dest_covers_the_rectangle_only() {
        let mut s = Surface::new(5, 4, SPICE_SURFACE_FMT_32_xRGB).unwrap();
        assert!(s.dest_mut(Rect::new(3, 0, 6, 2)).is_none());
        assert!(s.dest_mut(Rect::new(1, 1, 1, 3)).is_none());
        let mut d = s.dest_mut(Rect::new(1, 2, 4, 4)).unwrap();
        assert_eq!((d.width(), d.height(), d.stride()), (3, 2, 5));
        d.row_mut(0).fill(7);
        d.row_mut(1).fill(9);
        assert_eq!(&s.pixels[10..15], &[0, 7, 7, 7, 0]);
        assert_eq!(&s.pixels[15..20], &[0, 9, 9, 9, 0]);
        assert_eq!(s.pixels.iter().filter(|&&p| p != 0).count(), 6);
        assert!(!s.keeps_alpha());
    }
}
