//! Software canvas: surfaces (the primary screen and off-screen surfaces),
//! rectangles, raster operations and the pixel work the display channel needs.
//!
//! Owns pixel storage and drawing (solid and tiled fills, copies with one of
//! the 16 boolean raster ops, scaling, colour-keyed and alpha-blended copies,
//! overlapping copy-bits, 1-bit masks) plus dirty-rectangle tracking for the
//! primary surface. Every primitive clips to the surface and to its source,
//! so no rectangle, however wild, can index out of bounds. It must not parse
//! wire bytes (that is `display`) nor decode images (`image`).
//!
//! Layout, leaves first (a module uses only those above it):
//! - `geometry`: rectangles and clipping;
//! - `rop`: the boolean and ternary raster ops and their row kernels;
//! - `blend`: per-pixel blending arithmetic;
//! - `mask`, `paint`: the mask and brush operands;
//! - `scratch`: working memory a surface reuses between draws;
//! - `surface`: pixel storage, COPY_BITS, extracting an area;
//! - `fill`, `blit`, `scale`, `line`, `coverage`: the drawing primitives,
//!   each an `impl Surface` block;
//! - `table`: the surface table ([`Canvas`]) with budget and dirty region.

mod blend;
mod blit;
mod coverage;
mod fill;
mod geometry;
mod line;
mod mask;
mod paint;
mod rop;
mod scale;
mod scratch;
mod surface;
mod surface_dest;
mod table;
#[cfg(test)]
mod testing;

pub(crate) use blend::bilerp;
pub use blit::Placed;
pub use geometry::Rect;
pub use line::Segment;
pub use mask::Mask;
pub use paint::Paint;
pub use rop::{rop3, Rop, RopInput};
pub use scale::{scale_image, ScaleMode, Scaled, MAX_SCALE_EXTENT};
pub use surface::Surface;
pub use table::{Canvas, MAX_SURFACES};
