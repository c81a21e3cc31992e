//! Solid and tiled fills (DRAW_FILL, DRAW_BLACKNESS/WHITENESS/INVERS and
//! pattern brushes), through a raster op and an optional mask.

use super::geometry::Rect;
use super::mask::{spans, Mask};
use super::rop::{rop_fill_row, Rop};
use super::surface::Surface;
use crate::image::Image;

impl Surface {
    /// Fill `r` with `color` combined through `rop`.
    pub fn fill(&mut self, r: Rect, color: u32, rop: Rop, mask: Option<&Mask<'_>>) {
        let r = r.intersect(&self.bounds());
        if r.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        spans(r, mask, |y, x0, x1| {
            let row = self.row_mut(y, x0, x1);
            rop_fill_row(rop, row, color, keep);
        });
    }

    /// Tile `tile` over `r`; the tile's origin sits at `(ox, oy)`.
    pub fn tile(
        &mut self,
        r: Rect,
        tile: &Image,
        ox: i32,
        oy: i32,
        rop: Rop,
        mask: Option<&Mask<'_>>,
    ) {
        let r = r.intersect(&self.bounds());
        let (tw, th) = (tile.width as i64, tile.height as i64);
        if r.is_empty() || tw == 0 || th == 0 || tile.pixels.len() as i64 != tw * th {
            return;
        }
        let keep = self.keep();
        spans(r, mask, |y, x0, x1| {
            let ty = (y as i64 - oy as i64).rem_euclid(th) as usize;
            let trow = &tile.pixels[ty * tw as usize..(ty + 1) * tw as usize];
            let mut tx = (x0 as i64 - ox as i64).rem_euclid(tw) as usize;
            for d in self.row_mut(y, x0, x1) {
                *d = rop.apply(trow[tx], *d) & keep;
                tx += 1;
                if tx == trow.len() {
                    tx = 0;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::testing::{img, surf};
    use alloc::vec;

    #[test]
    fn fill_clips_to_surface_and_masks_alpha() {
        let mut s = surf(4, 3);
        s.fill(Rect::new(-5, 1, 2, 100), 0xff123456, Rop::Copy, None);
        assert_eq!(
            s.pixels,
            vec![0, 0, 0, 0, 0x123456, 0x123456, 0, 0, 0x123456, 0x123456, 0, 0]
        );
        s.fill(Rect::new(0, 0, 4, 3), 0, Rop::Invert, None);
        assert_eq!(s.pixels[0], 0xffffff);
        assert_eq!(s.pixels[4], 0xedcba9);
        s.fill(
            Rect::new(i32::MIN, i32::MIN, i32::MAX, i32::MAX),
            0,
            Rop::Clear,
            None,
        );
        assert!(s.pixels.iter().all(|&p| p == 0));
    }

    #[test]
    fn tile_and_mask() {
        let mut s = surf(3, 2);
        let t = img(2, 1, vec![7, 8]);
        s.tile(Rect::new(0, 0, 3, 2), &t, 1, 0, Rop::Copy, None);
        assert_eq!(s.pixels, vec![8, 7, 8, 8, 7, 8]);
        let m = img(2, 2, vec![0xffffff, 0, 0, 0xffffff]);
        let mask = Mask {
            image: &m,
            x: 1,
            y: 0,
            invert: false,
        };
        s.fill(Rect::new(0, 0, 3, 2), 1, Rop::Copy, Some(&mask));
        assert_eq!(s.pixels, vec![8, 1, 8, 8, 7, 1]);
        let mask = Mask {
            image: &m,
            x: 1,
            y: 0,
            invert: true,
        };
        s.fill(Rect::new(0, 0, 3, 2), 2, Rop::Copy, Some(&mask));
        assert_eq!(s.pixels, vec![8, 1, 2, 8, 2, 1]);
    }
}
