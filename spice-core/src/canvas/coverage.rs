//! Text: compositing a brush through an 8-bit coverage map (the rendered
//! glyphs of DRAW_TEXT).

use super::blend::mix;
use super::geometry::Rect;
use super::mask::spans;
use super::paint::Paint;
use super::surface::Surface;

impl Surface {
    /// Composite `paint` OVER the surface through an 8-bit coverage map:
    /// `cov` holds `area.width() * area.height()` values for `area`; only
    /// pixels inside `r` change (DRAW_TEXT glyphs).
    pub fn paint_coverage(&mut self, r: Rect, cov: &[u8], area: Rect, paint: Paint<'_>) {
        let aw = area.width() as usize;
        if cov.len() != aw * area.height() as usize {
            return;
        }
        let r = r.intersect(&self.bounds()).intersect(&area);
        let keep = self.keep();
        spans(r, None, |y, x0, x1| {
            let c0 = (y - area.top) as usize * aw + (x0 - area.left) as usize;
            let cov_row = cov.get(c0..c0 + (x1 - x0) as usize).unwrap_or(&[]);
            for (i, (d, &a)) in self.row_mut(y, x0, x1).iter_mut().zip(cov_row).enumerate() {
                if a == 0 {
                    continue;
                }
                let p = paint.at(x0 + i as i32, y);
                *d = if a == 255 {
                    p & keep
                } else {
                    mix(p, *d, a as u32) & keep
                };
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::testing::surf;
    use alloc::vec;

    #[test]
    fn coverage_blends_paint() {
        let mut s = surf(3, 1);
        s.pixels = vec![0, 0, 0xffffff];
        s.paint_coverage(
            s.bounds(),
            &[255, 128, 0],
            Rect::new(0, 0, 3, 1),
            Paint::Solid(0xff),
        );
        assert_eq!(s.pixels, vec![0xff, 0x80, 0xffffff]);
    }
}
