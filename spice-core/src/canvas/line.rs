//! Cosmetic lines (DRAW_STROKE with a zero-width pen): one segment at a
//! time, end point excluded, clipped before stepping.

use super::geometry::Rect;
use super::paint::Paint;
use super::rop::Rop;
use super::surface::Surface;

/// A line segment from `(x0, y0)` towards `(x1, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start x (drawn).
    pub x0: i32,
    /// Start y (drawn).
    pub y0: i32,
    /// End x (not drawn).
    pub x1: i32,
    /// End y (not drawn).
    pub y1: i32,
}

impl Surface {
    /// A zero-width line from `(x0, y0)` towards `(x1, y1)`, end point
    /// excluded (Windows cosmetic lines), drawn only inside `clip`. Kept for
    /// existing callers; [`draw_line`](Self::draw_line) takes a [`Segment`].
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        clip: Rect,
        x0: i32,
        y0: i32,
        x1: i32,
        y1: i32,
        paint: Paint<'_>,
        rop: Rop,
    ) {
        self.draw_line(clip, Segment { x0, y0, x1, y1 }, paint, rop);
    }

    /// Draw `seg` with `paint` through `rop`, end point excluded (Windows
    /// cosmetic lines), only inside `clip`.
    pub fn draw_line(&mut self, clip: Rect, seg: Segment, paint: Paint<'_>, rop: Rop) {
        let Segment { x0, y0, x1, y1 } = seg;
        let clip = clip.intersect(&self.bounds());
        if clip.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        let w = self.width as usize;
        let (dx, dy) = (x1 as i64 - x0 as i64, y1 as i64 - y0 as i64);
        // Walk the major axis only over the steps that fall inside the
        // clip; the minor coordinate is the rounded exact position.
        let x_major = dx.abs() >= dy.abs();
        let (steps, s0, lo, hi, major_d, minor_d, m0) = if x_major {
            (
                dx.abs(),
                x0 as i64,
                clip.left as i64,
                clip.right as i64,
                dx,
                dy,
                y0 as i64,
            )
        } else {
            (
                dy.abs(),
                y0 as i64,
                clip.top as i64,
                clip.bottom as i64,
                dy,
                dx,
                x0 as i64,
            )
        };
        if steps == 0 {
            return;
        }
        let dir = major_d.signum();
        let (k_lo, k_hi) = if dir > 0 {
            (lo - s0, hi - s0)
        } else {
            (s0 - hi + 1, s0 - lo + 1)
        };
        let (k_lo, k_hi) = (k_lo.max(0), k_hi.min(steps));
        for k in k_lo..k_hi.max(k_lo) {
            let major = s0 + k * dir;
            let num = k as i128 * minor_d as i128 * 2 + steps as i128;
            let minor = m0 + num.div_euclid(2 * steps as i128) as i64;
            let (x, y) = if x_major {
                (major, minor)
            } else {
                (minor, major)
            };
            if x >= clip.left as i64
                && x < clip.right as i64
                && y >= clip.top as i64
                && y < clip.bottom as i64
            {
                let i = y as usize * w + x as usize;
                if let Some(d) = self.pixels.get_mut(i) {
                    *d = rop.apply(paint.at(x as i32, y as i32), *d) & keep;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::testing::surf;

    #[test]
    fn lines_exclude_end_point_and_clip() {
        let mut s = surf(4, 4);
        s.line(s.bounds(), 0, 0, 3, 3, Paint::Solid(1), Rop::Copy);
        assert_eq!(
            (s.pixels[0], s.pixels[5], s.pixels[10], s.pixels[15]),
            (1, 1, 1, 0)
        );
        s.line(
            Rect::new(0, 0, 2, 4),
            0,
            3,
            4,
            3,
            Paint::Solid(2),
            Rop::Copy,
        );
        assert_eq!(&s.pixels[12..16], &[2, 2, 0, 0]);
        // far outside: terminates quickly, draws nothing
        s.line(
            s.bounds(),
            i32::MIN,
            i32::MIN,
            i32::MAX,
            i32::MIN + 5,
            Paint::Solid(3),
            Rop::Copy,
        );
        assert!(!s.pixels.contains(&3));
    }
}
