//! Software canvas: surfaces (the primary screen and off-screen surfaces),
//! rectangles, raster operations and the pixel work the display channel needs.
//!
//! Owns pixel storage and drawing (solid and tiled fills, copies with one of
//! the 16 boolean raster ops, scaling, colour-keyed and alpha-blended copies,
//! overlapping copy-bits, 1-bit masks) plus dirty-rectangle tracking for the
//! primary surface. Every primitive clips to the surface and to its source,
//! so no rectangle, however wild, can index out of bounds. It must not parse
//! wire bytes (that is `display`) nor decode images (`image`).

use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::enums::*;
use crate::error::WireError;
use crate::image::{alloc_pixels, Image};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

mod surface_dest;

/// An axis-aligned rectangle; `left`/`top` inclusive, `right`/`bottom` exclusive.
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

impl Rect {
    /// A rectangle from its four edges.
    pub const fn new(left: i32, top: i32, right: i32, bottom: i32) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
        }
    }
    /// A rectangle at the origin of `width x height`.
    pub fn of_size(width: u32, height: u32) -> Self {
        Self::new(
            0,
            0,
            width.min(i32::MAX as u32) as i32,
            height.min(i32::MAX as u32) as i32,
        )
    }
    /// Width (0 when empty or inverted).
    pub fn width(&self) -> i32 {
        self.right.saturating_sub(self.left).max(0)
    }
    /// Height (0 when empty or inverted).
    pub fn height(&self) -> i32 {
        self.bottom.saturating_sub(self.top).max(0)
    }
    /// True when it covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.left >= self.right || self.top >= self.bottom
    }
    /// The overlap of two rectangles (possibly empty).
    pub fn intersect(&self, o: &Rect) -> Rect {
        Rect::new(
            self.left.max(o.left),
            self.top.max(o.top),
            self.right.min(o.right),
            self.bottom.min(o.bottom),
        )
    }
    /// The smallest rectangle holding both (an empty side is ignored).
    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        Rect::new(
            self.left.min(o.left),
            self.top.min(o.top),
            self.right.max(o.right),
            self.bottom.max(o.bottom),
        )
    }
    /// Moved by `(dx, dy)` (saturating).
    pub fn translate(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(
            self.left.saturating_add(dx),
            self.top.saturating_add(dy),
            self.right.saturating_add(dx),
            self.bottom.saturating_add(dy),
        )
    }
    /// Same width and height as `o`.
    pub fn same_size(&self, o: &Rect) -> bool {
        self.width() == o.width() && self.height() == o.height()
    }
}

/// The 16 boolean raster operations on (source, destination), in the order
/// of `SpiceROP` (`pixman_utils.h`) / X11 GX codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rop {
    /// 0
    Clear,
    /// src AND dst
    And,
    /// src AND NOT dst
    AndReverse,
    /// src
    Copy,
    /// NOT src AND dst
    AndInverted,
    /// dst
    Noop,
    /// src XOR dst
    Xor,
    /// src OR dst
    Or,
    /// NOT (src OR dst)
    Nor,
    /// NOT src XOR dst
    Equiv,
    /// NOT dst
    Invert,
    /// src OR NOT dst
    OrReverse,
    /// NOT src
    CopyInverted,
    /// NOT src OR dst
    OrInverted,
    /// NOT (src AND dst)
    Nand,
    /// all ones
    Set,
}

/// Which operand of a draw command plays "source" or "destination" when a
/// `SpiceRopd` descriptor is turned into a [`Rop`] (`canvas_base.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopInput {
    /// The source image.
    Src,
    /// The brush.
    Brush,
    /// The destination surface.
    Dest,
}

impl Rop {
    const ALL: [Rop; 16] = [
        Rop::Clear,
        Rop::And,
        Rop::AndReverse,
        Rop::Copy,
        Rop::AndInverted,
        Rop::Noop,
        Rop::Xor,
        Rop::Or,
        Rop::Nor,
        Rop::Equiv,
        Rop::Invert,
        Rop::OrReverse,
        Rop::CopyInverted,
        Rop::OrInverted,
        Rop::Nand,
        Rop::Set,
    ];

    /// Turn a `SPICE_ROPD_*` descriptor into a raster op. `src` / `dest` say
    /// which inversion bits (INVERS_SRC / INVERS_BRUSH / INVERS_DEST) apply
    /// to the op's two inputs, as `ropd_descriptor_to_rop` does.
    pub fn from_descriptor(desc: u16, src: RopInput, dest: RopInput) -> Rop {
        let d = desc as u32;
        let inv_bit = |i: RopInput| match i {
            RopInput::Src => SPICE_ROPD_INVERS_SRC,
            RopInput::Brush => SPICE_ROPD_INVERS_BRUSH,
            RopInput::Dest => SPICE_ROPD_INVERS_DEST,
        };
        let inv_s = d & inv_bit(src) != 0;
        let inv_d = d & inv_bit(dest) != 0;
        let inv_r = d & SPICE_ROPD_INVERS_RES != 0;
        let op: fn(bool, bool) -> bool = if d & SPICE_ROPD_OP_PUT != 0 {
            |s, _| s
        } else if d & SPICE_ROPD_OP_OR != 0 {
            |s, d| s | d
        } else if d & SPICE_ROPD_OP_AND != 0 {
            |s, d| s & d
        } else if d & SPICE_ROPD_OP_XOR != 0 {
            |s, d| s ^ d
        } else if d & SPICE_ROPD_OP_BLACKNESS != 0 {
            return Rop::Clear;
        } else if d & SPICE_ROPD_OP_WHITENESS != 0 {
            return Rop::Set;
        } else if d & SPICE_ROPD_OP_INVERS != 0 {
            return Rop::Invert;
        } else {
            return Rop::Copy;
        };
        // GX code: bit ((!s) << 1 | !d) holds f(s, d).
        let mut code = 0usize;
        for s in [false, true] {
            for dv in [false, true] {
                if op(s ^ inv_s, dv ^ inv_d) ^ inv_r {
                    code |= 1 << (((!s as usize) << 1) | !dv as usize);
                }
            }
        }
        Rop::ALL[code]
    }

    /// Apply to one pair of pixels.
    #[inline(always)]
    pub fn apply(self, s: u32, d: u32) -> u32 {
        match self {
            Rop::Clear => 0,
            Rop::And => s & d,
            Rop::AndReverse => s & !d,
            Rop::Copy => s,
            Rop::AndInverted => !s & d,
            Rop::Noop => d,
            Rop::Xor => s ^ d,
            Rop::Or => s | d,
            Rop::Nor => !(s | d),
            Rop::Equiv => !s ^ d,
            Rop::Invert => !d,
            Rop::OrReverse => s | !d,
            Rop::CopyInverted => !s,
            Rop::OrInverted => !s | d,
            Rop::Nand => !(s & d),
            Rop::Set => !0,
        }
    }
}

/// `SPICE_IMAGE_SCALE_MODE_*` as an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleMode {
    /// Bilinear interpolation.
    Interpolate,
    /// Nearest neighbour.
    Nearest,
}

impl ScaleMode {
    /// From the wire value (anything but NEAREST interpolates).
    pub fn from_wire(v: u8) -> Self {
        if v as u32 == SPICE_IMAGE_SCALE_MODE_NEAREST {
            ScaleMode::Nearest
        } else {
            ScaleMode::Interpolate
        }
    }
}

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

/// `d[i] = rop(s[i], d[i]) & keep` with the op chosen once per row.
fn rop_row(rop: Rop, d: &mut [u32], s: &[u32], keep: u32) {
    macro_rules! each {
        (|$s:ident, $d:ident| $e:expr) => {
            for (dp, &$s) in d.iter_mut().zip(s) {
                let $d = *dp;
                *dp = ($e) & keep;
            }
        };
    }
    match rop {
        Rop::Clear => each!(|_s, _d| 0),
        Rop::And => each!(|s, d| s & d),
        Rop::AndReverse => each!(|s, d| s & !d),
        Rop::Copy => each!(|s, _d| s),
        Rop::AndInverted => each!(|s, d| !s & d),
        Rop::Noop => {}
        Rop::Xor => each!(|s, d| s ^ d),
        Rop::Or => each!(|s, d| s | d),
        Rop::Nor => each!(|s, d| !(s | d)),
        Rop::Equiv => each!(|s, d| !s ^ d),
        Rop::Invert => each!(|_s, d| !d),
        Rop::OrReverse => each!(|s, d| s | !d),
        Rop::CopyInverted => each!(|s, _d| !s),
        Rop::OrInverted => each!(|s, d| !s | d),
        Rop::Nand => each!(|s, d| !(s & d)),
        Rop::Set => each!(|_s, _d| !0),
    }
}

/// Like [`rop_row`] with one source value for the whole row.
fn rop_fill_row(rop: Rop, d: &mut [u32], s: u32, keep: u32) {
    let v = rop.apply(s, 0) & keep;
    let dependent = rop.apply(s, !0) & keep != v;
    if !dependent {
        d.fill(v);
        return;
    }
    for dp in d.iter_mut() {
        *dp = rop.apply(s, *dp) & keep;
    }
}

/// Call `f(y, x0, x1)` for each horizontal run of `r` the mask lets through.
fn spans(r: Rect, mask: Option<&Mask<'_>>, mut f: impl FnMut(i32, i32, i32)) {
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
}

impl Surface {
    /// A black surface of `width x height` (refuses empty or over-limit sizes).
    pub fn new(width: u32, height: u32, format: u32) -> Result<Self, WireError> {
        Ok(Self {
            width,
            height,
            format,
            pixels: alloc_pixels(width, height)?,
        })
    }

    /// The whole surface as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::of_size(self.width, self.height)
    }

    /// Bits a stored pixel may carry (alpha only on formats that have it).
    fn keep(&self) -> u32 {
        match self.format {
            SPICE_SURFACE_FMT_32_ARGB | SPICE_SURFACE_FMT_8_A | SPICE_SURFACE_FMT_1_A => !0,
            _ => 0x00ff_ffff,
        }
    }

    #[inline]
    fn row_mut(&mut self, y: i32, x0: i32, x1: i32) -> &mut [u32] {
        let w = self.width as usize;
        let base = y as usize * w;
        &mut self.pixels[base + x0 as usize..base + x1 as usize]
    }

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

    /// Copy `src` onto `r`, where destination `(x, y)` takes source pixel
    /// `(x - dx, y - dy)`; parts of `r` with no source pixel are left alone.
    pub fn blit(
        &mut self,
        r: Rect,
        src: &Image,
        dx: i32,
        dy: i32,
        rop: Rop,
        mask: Option<&Mask<'_>>,
    ) {
        if src.pixels.len() != src.width as usize * src.height as usize {
            return;
        }
        let src_on_dest = Rect::of_size(src.width, src.height).translate(dx, dy);
        let r = r.intersect(&self.bounds()).intersect(&src_on_dest);
        if r.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        let sw = src.width as usize;
        // Masking the alpha away is only needed when the source has alpha.
        let plain = rop == Rop::Copy && (keep == !0 || !src.has_alpha);
        spans(r, mask, |y, x0, x1| {
            let sy = (y - dy) as usize;
            let sx0 = (x0 - dx) as usize;
            let s = &src.pixels[sy * sw + sx0..sy * sw + sx0 + (x1 - x0) as usize];
            let row = self.row_mut(y, x0, x1);
            if plain {
                row.copy_from_slice(s);
            } else {
                rop_row(rop, row, s, keep);
            }
        });
    }

    /// Scale `src_area` of `src` onto `dst_box`, drawing only the part inside
    /// `r` (a clip piece of `dst_box`).
    #[allow(clippy::too_many_arguments)]
    pub fn blit_scaled(
        &mut self,
        r: Rect,
        src: &Image,
        src_area: Rect,
        dst_box: Rect,
        mode: ScaleMode,
        rop: Rop,
        mask: Option<&Mask<'_>>,
    ) {
        let sa = src_area.intersect(&Rect::of_size(src.width, src.height));
        let too_big = |r: &Rect| r.width() > MAX_SCALE_EXTENT || r.height() > MAX_SCALE_EXTENT;
        if sa.is_empty()
            || too_big(&src_area)
            || too_big(&dst_box)
            || dst_box.is_empty()
            || src_area.is_empty()
            || src.pixels.len() != src.width as usize * src.height as usize
        {
            return;
        }
        let r = r.intersect(&self.bounds()).intersect(&dst_box);
        if r.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        let sw = src.width as usize;
        // Map destination centres to source coordinates in 16.16 fixed point.
        let (aw, ah) = (src_area.width() as i64, src_area.height() as i64);
        let (bw, bh) = (dst_box.width() as i64, dst_box.height() as i64);
        let map = |p: i32, b0: i32, a0: i32, a: i64, b: i64| -> i64 {
            // source position of the destination pixel centre, minus 0.5
            (((p as i64 - b0 as i64) * 2 + 1) * a * 65536) / (2 * b) - 32768 + ((a0 as i64) << 16)
        };
        let cx = |v: i64| v.clamp(sa.left as i64, sa.right as i64 - 1) as usize;
        let cy = |v: i64| v.clamp(sa.top as i64, sa.bottom as i64 - 1) as usize;
        // Per-column source taps, computed once: (left, right, weight 0..256).
        let mut cols = Vec::new();
        if cols.try_reserve_exact(r.width() as usize).is_err() {
            return;
        }
        for x in r.left..r.right {
            let fx = map(x, dst_box.left, src_area.left, aw, bw);
            cols.push(match mode {
                ScaleMode::Nearest => (cx((fx + 32768) >> 16), 0, 0),
                ScaleMode::Interpolate => {
                    (cx(fx >> 16), cx((fx >> 16) + 1), (fx & 0xffff) as u32 >> 8)
                }
            });
        }
        spans(r, mask, |y, x0, x1| {
            let fy = map(y, dst_box.top, src_area.top, ah, bh);
            let taps = &cols[(x0 - r.left) as usize..(x1 - r.left) as usize];
            let row = self.row_mut(y, x0, x1);
            match mode {
                ScaleMode::Nearest => {
                    let sy = cy((fy + 32768) >> 16);
                    let srow = &src.pixels[sy * sw..(sy + 1) * sw];
                    if rop == Rop::Copy {
                        for (d, t) in row.iter_mut().zip(taps) {
                            *d = srow[t.0] & keep;
                        }
                    } else {
                        for (d, t) in row.iter_mut().zip(taps) {
                            *d = rop.apply(srow[t.0], *d) & keep;
                        }
                    }
                }
                ScaleMode::Interpolate => {
                    let (ya, yb) = (cy(fy >> 16), cy((fy >> 16) + 1));
                    let wy = (fy & 0xffff) as u32 >> 8;
                    let ra = &src.pixels[ya * sw..(ya + 1) * sw];
                    let rb = &src.pixels[yb * sw..(yb + 1) * sw];
                    for (d, &(xa, xb, wx)) in row.iter_mut().zip(taps) {
                        let (Some(&a), Some(&b), Some(&c), Some(&e)) =
                            (ra.get(xa), ra.get(xb), rb.get(xa), rb.get(xb))
                        else {
                            continue;
                        };
                        let p = bilerp(a, b, c, e, wx, wy);
                        *d = if rop == Rop::Copy {
                            p
                        } else {
                            rop.apply(p, *d)
                        } & keep;
                    }
                }
            }
        });
    }

    /// Copy `src` onto `r` (offset as in [`blit`](Self::blit)) except where
    /// the source RGB equals `key` (DRAW_TRANSPARENT).
    pub fn blit_colorkey(&mut self, r: Rect, src: &Image, dx: i32, dy: i32, key: u32) {
        if src.pixels.len() != src.width as usize * src.height as usize {
            return;
        }
        let r = r
            .intersect(&self.bounds())
            .intersect(&Rect::of_size(src.width, src.height).translate(dx, dy));
        let keep = self.keep();
        let sw = src.width as usize;
        spans(r, None, |y, x0, x1| {
            let sy = (y - dy) as usize;
            let sx0 = (x0 - dx) as usize;
            let s = &src.pixels[sy * sw + sx0..sy * sw + sx0 + (x1 - x0) as usize];
            for (d, &p) in self.row_mut(y, x0, x1).iter_mut().zip(s) {
                if (p ^ key) & 0x00ff_ffff != 0 {
                    *d = p & keep;
                }
            }
        });
    }

    /// Blend `src` (premultiplied when `src_alpha`) over `r` with the global
    /// `alpha` (DRAW_ALPHA_BLEND, pixman OVER).
    #[allow(clippy::too_many_arguments)]
    pub fn blit_alpha(
        &mut self,
        r: Rect,
        src: &Image,
        dx: i32,
        dy: i32,
        alpha: u8,
        src_alpha: bool,
    ) {
        if src.pixels.len() != src.width as usize * src.height as usize {
            return;
        }
        let r = r
            .intersect(&self.bounds())
            .intersect(&Rect::of_size(src.width, src.height).translate(dx, dy));
        let keep = self.keep();
        let sw = src.width as usize;
        let ga = alpha as u32;
        spans(r, None, |y, x0, x1| {
            let sy = (y - dy) as usize;
            let sx0 = (x0 - dx) as usize;
            let s = &src.pixels[sy * sw + sx0..sy * sw + sx0 + (x1 - x0) as usize];
            for (d, &p) in self.row_mut(y, x0, x1).iter_mut().zip(s) {
                *d = over(p, *d, ga, src_alpha) & keep;
            }
        });
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
    fn at(&self, x: i32, y: i32) -> u32 {
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

/// A Windows-numbered ternary raster op on (pattern, source, destination):
/// bit `(p << 2) | (s << 1) | d` of `code` is the result for those inputs.
#[inline]
pub fn rop3(code: u8, p: u32, s: u32, d: u32) -> u32 {
    let mut out = 0;
    for idx in 0..8 {
        if (code >> idx) & 1 != 0 {
            let pm = if idx & 4 != 0 { p } else { !p };
            let sm = if idx & 2 != 0 { s } else { !s };
            let dm = if idx & 1 != 0 { d } else { !d };
            out |= pm & sm & dm;
        }
    }
    out
}

impl Surface {
    /// Combine `paint`, `src` (offset as in [`blit`](Self::blit)) and the
    /// destination over `r` with the ternary op `code` (DRAW_ROP3).
    #[allow(clippy::too_many_arguments)]
    pub fn blit_rop3(
        &mut self,
        r: Rect,
        src: &Image,
        dx: i32,
        dy: i32,
        paint: Paint<'_>,
        code: u8,
        mask: Option<&Mask<'_>>,
    ) {
        if src.pixels.len() != src.width as usize * src.height as usize {
            return;
        }
        let r = r
            .intersect(&self.bounds())
            .intersect(&Rect::of_size(src.width, src.height).translate(dx, dy));
        let keep = self.keep();
        let sw = src.width as usize;
        spans(r, mask, |y, x0, x1| {
            let sy = (y - dy) as usize;
            let sx0 = (x0 - dx) as usize;
            let s = &src.pixels[sy * sw + sx0..sy * sw + sx0 + (x1 - x0) as usize];
            for (i, (d, &p)) in self.row_mut(y, x0, x1).iter_mut().zip(s).enumerate() {
                *d = rop3(code, paint.at(x0 + i as i32, y), p, *d) & keep;
            }
        });
    }
}

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
            let cov_row = &cov[c0..c0 + (x1 - x0) as usize];
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

    /// A zero-width line from `(x0, y0)` towards `(x1, y1)`, end point
    /// excluded (Windows cosmetic lines), drawn only inside `clip`.
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
                let d = self.pixels[i];
                self.pixels[i] = rop.apply(paint.at(x as i32, y as i32), d) & keep;
            }
        }
    }
}

/// `s*a + d*(255-a)` per channel, `a` in 0..=255.
#[inline]
fn mix(s: u32, d: u32, a: u32) -> u32 {
    let mut out = 0;
    for shift in [0u32, 8, 16, 24] {
        let v = (((s >> shift) & 0xff) * a + ((d >> shift) & 0xff) * (255 - a)) / 255;
        out |= v << shift;
    }
    out
}

/// Largest width or height of a scaled source area or destination box
/// (keeps the fixed-point mapping inside i64).
pub const MAX_SCALE_EXTENT: i32 = 1 << 16;

/// `src_area` of `src` resampled to `width x height` (for operations that
/// need a same-size source).
pub fn scale_image(
    src: &Image,
    src_area: Rect,
    width: u32,
    height: u32,
    mode: ScaleMode,
) -> Result<Image, WireError> {
    let mut tmp = Surface::new(width, height, SPICE_SURFACE_FMT_32_ARGB)?;
    let b = tmp.bounds();
    tmp.blit_scaled(b, src, src_area, b, mode, Rop::Copy, None);
    Ok(Image {
        width,
        height,
        pixels: tmp.pixels,
        has_alpha: src.has_alpha,
    })
}

/// Blend two pixels, all four channels at once: `a*(256-w) + b*w`, `w` in 0..=256.
#[inline(always)]
fn lerp2(a: u32, b: u32, w: u32) -> u32 {
    let iw = 256 - w;
    let rb = (((a & 0x00ff_00ff) * iw + (b & 0x00ff_00ff) * w) >> 8) & 0x00ff_00ff;
    let ag = (((a >> 8) & 0x00ff_00ff) * iw + ((b >> 8) & 0x00ff_00ff) * w) & 0xff00_ff00;
    rb | ag
}

#[inline(always)]
pub(crate) fn bilerp(a: u32, b: u32, c: u32, d: u32, wx: u32, wy: u32) -> u32 {
    lerp2(lerp2(a, b, wx), lerp2(c, d, wx), wy)
}

/// Premultiplied OVER with a global alpha: `dst = src*ga + dst*(1 - sa*ga)`.
#[inline]
fn over(s: u32, d: u32, ga: u32, src_alpha: bool) -> u32 {
    let sa = if src_alpha { s >> 24 } else { 255 };
    let a = sa * ga / 255;
    let mut out = 0u32;
    for shift in [0u32, 8, 16, 24] {
        let sc = if shift == 24 { sa } else { (s >> shift) & 0xff };
        let dc = (d >> shift) & 0xff;
        let v = (sc * ga + dc * (255 - a)) / 255;
        out |= v.min(255) << shift;
    }
    out
}

/// All surfaces of one display channel, which one is the primary, and the
/// primary's dirty region since it was last taken.
#[derive(Debug, Default)]
pub struct Canvas {
    surfaces: BTreeMap<u32, Surface>,
    /// What each surface costs the session's budget.
    charges: BTreeMap<u32, Charge>,
    budget: Budget,
    primary: Option<u32>,
    dirty: Option<Rect>,
}

/// Most surfaces one channel may hold at once (the server's limit is 10000
/// ids, but each needs memory; this keeps a hostile server bounded).
pub const MAX_SURFACES: usize = 1024;

impl Canvas {
    /// No surfaces; they will be charged to the default budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// No surfaces; each one created is charged to `budget`.
    pub fn with_budget(budget: Budget) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    /// Create (or re-create) surface `id`; `primary` makes it the screen.
    pub fn create_surface(
        &mut self,
        id: u32,
        width: u32,
        height: u32,
        format: u32,
        primary: bool,
    ) -> Result<(), WireError> {
        if !self.surfaces.contains_key(&id) && self.surfaces.len() >= MAX_SURFACES {
            return Err(WireError::new(0, "too many surfaces"));
        }
        // A re-created surface gives its old pixels back first.
        self.charges.remove(&id);
        self.surfaces.remove(&id);
        let charge = self
            .budget
            .charge(pixel_bytes(width, height), Use::Surface)?;
        let s = Surface::new(width, height, format)?;
        self.surfaces.insert(id, s);
        self.charges.insert(id, charge);
        if primary {
            self.primary = Some(id);
            self.dirty = Some(Rect::of_size(width, height));
        }
        Ok(())
    }

    /// Destroy surface `id` (forgetting the primary if it was).
    pub fn destroy_surface(&mut self, id: u32) {
        self.surfaces.remove(&id);
        self.charges.remove(&id);
        if self.primary == Some(id) {
            self.primary = None;
            self.dirty = None;
        }
    }

    /// Drop every surface.
    pub fn clear(&mut self) {
        self.surfaces.clear();
        self.charges.clear();
        self.primary = None;
        self.dirty = None;
    }

    /// Surface `id`, if it exists.
    pub fn surface(&self, id: u32) -> Option<&Surface> {
        self.surfaces.get(&id)
    }

    /// Surface `id` for drawing, if it exists.
    pub fn surface_mut(&mut self, id: u32) -> Option<&mut Surface> {
        self.surfaces.get_mut(&id)
    }

    /// The primary surface's id.
    pub fn primary_id(&self) -> Option<u32> {
        self.primary
    }

    /// The primary surface.
    pub fn primary(&self) -> Option<&Surface> {
        self.primary.and_then(|id| self.surfaces.get(&id))
    }

    /// Record that `r` changed on surface `id` (ignored unless it is the primary).
    pub fn mark_dirty(&mut self, id: u32, r: Rect) {
        if self.primary != Some(id) {
            return;
        }
        let Some(s) = self.surfaces.get(&id) else {
            return;
        };
        let r = r.intersect(&s.bounds());
        if r.is_empty() {
            return;
        }
        self.dirty = Some(self.dirty.map_or(r, |d| d.union(&r)));
    }

    /// The union of changed primary rectangles since the last call.
    pub fn take_dirty(&mut self) -> Option<Rect> {
        self.dirty.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn surf(w: u32, h: u32) -> Surface {
        Surface::new(w, h, SPICE_SURFACE_FMT_32_xRGB).unwrap()
    }

    fn img(w: u32, h: u32, pixels: Vec<u32>) -> Image {
        Image {
            width: w,
            height: h,
            pixels,
            has_alpha: false,
        }
    }

    #[test]
    fn ropd_descriptors_match_canvas_base_table() {
        use RopInput::*;
        let r = |d: u32| Rop::from_descriptor(d as u16, Src, Dest);
        assert_eq!(r(SPICE_ROPD_OP_PUT), Rop::Copy);
        assert_eq!(
            r(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC),
            Rop::CopyInverted
        );
        assert_eq!(
            r(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_RES),
            Rop::Copy
        );
        assert_eq!(r(SPICE_ROPD_OP_OR), Rop::Or);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_RES), Rop::Nor);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC), Rop::OrInverted);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_DEST), Rop::OrReverse);
        assert_eq!(
            r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_DEST),
            Rop::Nand
        );
        assert_eq!(
            r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_RES),
            Rop::AndReverse
        );
        assert_eq!(r(SPICE_ROPD_OP_AND), Rop::And);
        assert_eq!(r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_RES), Rop::Nand);
        assert_eq!(
            r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_SRC),
            Rop::AndInverted
        );
        assert_eq!(
            r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_DEST),
            Rop::AndReverse
        );
        assert_eq!(r(SPICE_ROPD_OP_XOR), Rop::Xor);
        assert_eq!(r(SPICE_ROPD_OP_XOR | SPICE_ROPD_INVERS_RES), Rop::Equiv);
        assert_eq!(
            r(SPICE_ROPD_OP_XOR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_DEST),
            Rop::Xor
        );
        assert_eq!(
            r(SPICE_ROPD_OP_BLACKNESS | SPICE_ROPD_INVERS_RES),
            Rop::Clear
        );
        assert_eq!(r(SPICE_ROPD_OP_WHITENESS), Rop::Set);
        assert_eq!(r(SPICE_ROPD_OP_INVERS), Rop::Invert);
        assert_eq!(r(0), Rop::Copy);
        // For a fill the brush inversion bit is the one that counts.
        let f = |d: u32| Rop::from_descriptor(d as u16, Brush, Dest);
        assert_eq!(
            f(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_BRUSH),
            Rop::CopyInverted
        );
        assert_eq!(f(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC), Rop::Copy);
    }

    #[test]
    fn rop_apply_truth_tables() {
        assert_eq!(Rop::AndReverse.apply(0b1100, 0b1010) & 0xf, 0b0100);
        assert_eq!(Rop::Equiv.apply(0b1100, 0b1010) & 0xf, 0b1001);
        assert_eq!(Rop::OrInverted.apply(0b1100, 0b1010) & 0xf, 0b1011);
        assert_eq!(Rop::Nor.apply(0b1100, 0b1010) & 0xf, 0b0001);
    }

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
    fn blit_offsets_and_rop() {
        let mut s = surf(3, 2);
        let src = img(2, 2, vec![1, 2, 3, 4]);
        // destination (1,0)..(3,2) takes source (0,0)..
        s.blit(Rect::new(1, 0, 3, 2), &src, 1, 0, Rop::Copy, None);
        assert_eq!(s.pixels, vec![0, 1, 2, 0, 3, 4]);
        s.blit(Rect::new(0, 0, 3, 2), &src, 1, 0, Rop::Xor, None);
        assert_eq!(s.pixels, vec![0, 0, 0, 0, 0, 0]);
        // a destination larger than the source is clipped to the source
        s.blit(Rect::new(-10, -10, 10, 10), &src, 2, 1, Rop::Copy, None);
        assert_eq!(s.pixels, vec![0, 0, 0, 0, 0, 1]);
    }

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

    #[test]
    fn scaled_nearest_doubles_pixels() {
        let mut s = surf(4, 2);
        let src = img(2, 1, vec![0x10, 0x20]);
        let b = Rect::new(0, 0, 4, 2);
        s.blit_scaled(
            b,
            &src,
            Rect::new(0, 0, 2, 1),
            b,
            ScaleMode::Nearest,
            Rop::Copy,
            None,
        );
        assert_eq!(
            s.pixels,
            vec![0x10, 0x10, 0x20, 0x20, 0x10, 0x10, 0x20, 0x20]
        );
        // interpolate between 0x00 and 0xff across 4 pixels: monotonic, ends clamped
        let src = img(2, 1, vec![0x00, 0xff]);
        s.blit_scaled(
            b,
            &src,
            Rect::new(0, 0, 2, 1),
            b,
            ScaleMode::Interpolate,
            Rop::Copy,
            None,
        );
        assert_eq!(s.pixels[0], 0);
        assert_eq!(s.pixels[3], 0xff);
        assert!(s.pixels[1] > 0 && s.pixels[1] < s.pixels[2] && s.pixels[2] < 0xff);
        // bogus areas do nothing (the pixels stay as they were) and do not panic
        let before = s.pixels.clone();
        s.blit_scaled(
            b,
            &src,
            Rect::new(5, 5, 9, 9),
            b,
            ScaleMode::Nearest,
            Rop::Copy,
            None,
        );
        s.blit_scaled(
            b,
            &src,
            Rect::new(0, 0, 2, 1),
            Rect::new(0, 0, 0, 0),
            ScaleMode::Nearest,
            Rop::Copy,
            None,
        );
        assert_eq!(s.pixels, before);
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

    #[test]
    fn colorkey_and_alpha() {
        let mut s = surf(2, 1);
        s.pixels = vec![0x111111, 0x111111];
        s.blit_colorkey(
            Rect::new(0, 0, 2, 1),
            &img(2, 1, vec![0xff00ff, 0x222222]),
            0,
            0,
            0xff00ff,
        );
        assert_eq!(s.pixels, vec![0x111111, 0x222222]);
        s.pixels = vec![0x000000, 0xffffff];
        s.blit_alpha(
            Rect::new(0, 0, 2, 1),
            &img(2, 1, vec![0xffffff, 0x000000]),
            0,
            0,
            128,
            false,
        );
        assert_eq!(s.pixels, vec![0x808080, 0x7f7f7f]);
    }

    #[test]
    fn rop3_codes() {
        // SRCCOPY 0xCC, PATCOPY 0xF0, DSTINVERT 0x55, PATINVERT 0x5A, SRCAND 0x88
        assert_eq!(rop3(0xcc, 1, 2, 3), 2);
        assert_eq!(rop3(0xf0, 1, 2, 3), 1);
        assert_eq!(rop3(0x55, 1, 2, 3), !3);
        assert_eq!(rop3(0x5a, 0b1100, 0, 0b1010), 0b0110);
        assert_eq!(rop3(0x88, 0, 0b1100, 0b1010), 0b1000);
        let mut s = surf(2, 1);
        s.pixels = vec![0x0f, 0xf0];
        let t = img(1, 1, vec![0xff]);
        s.blit_rop3(
            Rect::new(0, 0, 2, 1),
            &img(2, 1, vec![0, 0]),
            0,
            0,
            Paint::Tile(&t, 0, 0),
            0x5a,
            None,
        );
        assert_eq!(s.pixels, vec![0xf0, 0x0f]);
        let scaled = scale_image(
            &img(1, 1, vec![5]),
            Rect::new(0, 0, 1, 1),
            2,
            2,
            ScaleMode::Nearest,
        )
        .unwrap();
        assert_eq!(scaled.pixels, vec![5; 4]);
    }

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

    #[test]
    fn canvas_dirty_tracking() {
        let mut c = Canvas::new();
        c.create_surface(0, 10, 10, SPICE_SURFACE_FMT_32_xRGB, true)
            .unwrap();
        assert_eq!(c.take_dirty(), Some(Rect::new(0, 0, 10, 10)));
        assert_eq!(c.take_dirty(), None);
        c.mark_dirty(0, Rect::new(1, 1, 2, 2));
        c.mark_dirty(0, Rect::new(5, 5, 20, 6));
        c.mark_dirty(3, Rect::new(0, 0, 10, 10));
        assert_eq!(c.take_dirty(), Some(Rect::new(1, 1, 10, 6)));
        c.destroy_surface(0);
        assert!(c.primary().is_none());
        assert!(c.create_surface(1, 0, 10, 32, false).is_err());
    }
}
