//! DRAW_STROKE's path flattened to polylines of integer points, kept in
//! buffers reused from stroke to stroke.
//!
//! Owns the flattening (28.4 fixed point to integers, BEZIER triples to
//! line steps, CLOSE back to the start) and its storage. Must not draw.

use super::wire::Path;
use crate::enums::*;
use alloc::vec::Vec;

/// Polylines of a path: all points one after another, and where each
/// polyline ends. Both buffers grow to the largest path seen (a few times
/// the size of its message) and are then reused.
#[derive(Debug, Default)]
pub struct Polylines {
    points: Vec<(i32, i32)>,
    ends: Vec<usize>,
}

/// Line steps a BEZIER curve is flattened to.
const BEZIER_STEPS: usize = 16;

impl Polylines {
    /// Replace the polylines with those of `path`: BEGIN starts a new
    /// polyline, BEZIER points come in (control, control, end) triples and
    /// are flattened, END with CLOSE returns to the polyline's first point.
    /// Polylines of fewer than two points are left out.
    pub fn flatten(&mut self, path: &Path<'_>) {
        self.points.clear();
        self.ends.clear();
        // The polyline being built is `points[start..]`.
        let mut start = 0;
        let to_int = |p: (i32, i32)| (fix_to_int(p.0), fix_to_int(p.1));
        for seg in path.iter() {
            let flags = seg.flags as u32;
            let mut pts = seg.points();
            if flags & SPICE_PATH_BEGIN != 0 {
                self.finish(&mut start);
                if let Some(first) = pts.next() {
                    self.points.push(to_int(first));
                }
            }
            if flags & SPICE_PATH_BEZIER != 0 {
                while let (Some(c1), Some(c2), Some(end)) = (pts.next(), pts.next(), pts.next()) {
                    if self.points.len() == start {
                        break;
                    }
                    self.bezier(c1, c2, end);
                }
            } else {
                self.points.extend(pts.map(to_int));
            }
            if flags & SPICE_PATH_END != 0 {
                if flags & SPICE_PATH_CLOSE != 0 {
                    if let Some(&first) = self.points.get(start) {
                        self.points.push(first);
                    }
                }
                self.finish(&mut start);
            }
        }
        self.finish(&mut start);
    }

    /// End the polyline at `points[*start..]`: kept if it has two points or
    /// more, dropped otherwise.
    fn finish(&mut self, start: &mut usize) {
        if self.points.len() - *start > 1 {
            self.ends.push(self.points.len());
            *start = self.points.len();
        } else {
            self.points.truncate(*start);
        }
    }

    /// Append the steps of a cubic curve from the last point through
    /// controls `c1`, `c2` to `end` (28.4 fixed point).
    fn bezier(&mut self, c1: (i32, i32), c2: (i32, i32), end: (i32, i32)) {
        let Some(&(sx, sy)) = self.points.last() else {
            return;
        };
        let p = [(sx as f32, sy as f32), fx(c1), fx(c2), fx(end)];
        for i in 1..=BEZIER_STEPS {
            let t = i as f32 / BEZIER_STEPS as f32;
            let u = 1.0 - t;
            let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            let x = a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0;
            let y = a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1;
            self.points.push((round_f32(x), round_f32(y)));
        }
    }

    /// The polylines, each at least two points.
    pub fn iter(&self) -> impl Iterator<Item = &[(i32, i32)]> {
        let mut from = 0;
        self.ends.iter().map(move |&end| {
            let line = self.points.get(from..end).unwrap_or(&[]);
            from = end;
            line
        })
    }
}

/// 28.4 fixed point to the nearest integer, halves rounding down
/// (`fix_to_int` of canvas_base.c).
fn fix_to_int(v: i32) -> i32 {
    let rem = v & 0x0f;
    (v >> 4) + (rem > 8) as i32
}

/// 28.4 fixed point to float.
fn fx(p: (i32, i32)) -> (f32, f32) {
    (p.0 as f32 / 16.0, p.1 as f32 / 16.0)
}

/// Round to the nearest integer without `std` (saturating at the i32 range).
fn round_f32(v: f32) -> i32 {
    let r = if v >= 0.0 { v + 0.5 } else { v - 0.5 };
    r as i32
}
