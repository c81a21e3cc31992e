//! The brush operand of fills, lines, text and ternary ops: a solid colour
//! or a tile repeated from an origin.

use crate::image::Image;

/// The brush operand of a ternary raster op: a colour or a tile.
#[derive(Debug, Clone, Copy)]
pub enum Paint<'a> {
    /// A solid colour.
    Solid(u32),
    /// An image tiled with its origin at `(x, y)`.
    Tile(&'a Image, i32, i32),
}

impl Paint<'_> {
    #[inline]
    pub(super) fn at(&self, x: i32, y: i32) -> u32 {
        match *self {
            Paint::Solid(c) => c,
            Paint::Tile(t, ox, oy) => {
                let (tw, th) = (t.width as i64, t.height as i64);
                if tw == 0 || th == 0 {
                    return 0;
                }
                let tx = (x as i64 - ox as i64).rem_euclid(tw) as usize;
                let ty = (y as i64 - oy as i64).rem_euclid(th) as usize;
                t.pixels.get(ty * tw as usize + tx).copied().unwrap_or(0)
            }
        }
    }
}
