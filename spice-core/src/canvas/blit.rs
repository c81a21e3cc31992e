//! Same-size copies of a source image onto a surface: plain and raster-op
//! blits (DRAW_COPY, DRAW_BLEND), colour-keyed (DRAW_TRANSPARENT),
//! alpha-blended (DRAW_ALPHA_BLEND) and ternary-op (DRAW_ROP3) copies. Each
//! clips to the surface and to the placed source, then walks rows of
//! source and destination side by side.

use super::blend::over;
use super::geometry::Rect;
use super::mask::{spans, Mask};
use super::paint::Paint;
use super::rop::{rop3, rop_row, Rop};
use super::surface::Surface;
use crate::image::Image;

/// A source image placed on a destination surface: destination pixel
/// `(x, y)` takes source pixel `(x - dx, y - dy)`.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// The source pixels.
    pub image: &'a Image,
    /// Destination x minus source x.
    pub dx: i32,
    /// Destination y minus source y.
    pub dy: i32,
}

impl<'a> Placed<'a> {
    /// `image` with its top-left pixel at destination `(dx, dy)`.
    pub fn new(image: &'a Image, dx: i32, dy: i32) -> Self {
        Self { image, dx, dy }
    }

    /// `r` cut to `bounds` and to where the source has pixels; `None` when
    /// the image's pixel count does not match its size (nothing is drawn).
    fn clip(&self, r: Rect, bounds: Rect) -> Option<Rect> {
        let img = self.image;
        if img.pixels.len() != img.width as usize * img.height as usize {
            return None;
        }
        let on_dest = Rect::of_size(img.width, img.height).translate(self.dx, self.dy);
        Some(r.intersect(&bounds).intersect(&on_dest))
    }

    /// The source pixels behind destination row `y`, columns `x0..x1`, for
    /// a run inside the rectangle [`clip`](Self::clip) returned (empty
    /// outside it).
    #[inline]
    fn row(&self, y: i32, x0: i32, x1: i32) -> &'a [u32] {
        let sw = self.image.width as usize;
        let sy = (y as i64 - self.dy as i64) as usize;
        let sx0 = (x0 as i64 - self.dx as i64) as usize;
        let start = sy * sw + sx0;
        self.image
            .pixels
            .get(start..start + (x1 - x0) as usize)
            .unwrap_or(&[])
    }
}

impl Surface {
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
        self.draw_placed(r, Placed::new(src, dx, dy), rop, mask);
    }

    /// Combine the placed source `src` into `r` through `rop` (the
    /// parameter-struct form of [`blit`](Self::blit)).
    pub fn draw_placed(&mut self, r: Rect, src: Placed<'_>, rop: Rop, mask: Option<&Mask<'_>>) {
        let Some(r) = src.clip(r, self.bounds()) else {
            return;
        };
        if r.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        // A surface without alpha stores none, whatever the source's fourth
        // byte holds (QUIC's colour types decode opaque without `has_alpha`).
        let plain = rop == Rop::Copy && keep == !0;
        spans(r, mask, |y, x0, x1| {
            let s = src.row(y, x0, x1);
            let row = self.row_mut(y, x0, x1);
            if plain && row.len() == s.len() {
                row.copy_from_slice(s);
            } else {
                rop_row(rop, row, s, keep);
            }
        });
    }

    /// Copy `src` onto `r` (offset as in [`blit`](Self::blit)) except where
    /// the source RGB equals `key` (DRAW_TRANSPARENT).
    pub fn blit_colorkey(&mut self, r: Rect, src: &Image, dx: i32, dy: i32, key: u32) {
        let src = Placed::new(src, dx, dy);
        let Some(r) = src.clip(r, self.bounds()) else {
            return;
        };
        let keep = self.keep();
        spans(r, None, |y, x0, x1| {
            let s = src.row(y, x0, x1);
            for (d, &p) in self.row_mut(y, x0, x1).iter_mut().zip(s) {
                if (p ^ key) & 0x00ff_ffff != 0 {
                    *d = p & keep;
                }
            }
        });
    }

    /// Blend `src` (premultiplied when `src_alpha`) over `r` with the global
    /// `alpha` (DRAW_ALPHA_BLEND, pixman OVER).
    pub fn blit_alpha(
        &mut self,
        r: Rect,
        src: &Image,
        dx: i32,
        dy: i32,
        alpha: u8,
        src_alpha: bool,
    ) {
        let src = Placed::new(src, dx, dy);
        let Some(r) = src.clip(r, self.bounds()) else {
            return;
        };
        let keep = self.keep();
        let ga = alpha as u32;
        spans(r, None, |y, x0, x1| {
            let s = src.row(y, x0, x1);
            for (d, &p) in self.row_mut(y, x0, x1).iter_mut().zip(s) {
                *d = over(p, *d, ga, src_alpha) & keep;
            }
        });
    }

    /// Combine `paint`, `src` (offset as in [`blit`](Self::blit)) and the
    /// destination over `r` with the ternary op `code` (DRAW_ROP3). Kept for
    /// existing callers; [`draw_rop3`](Self::draw_rop3) takes the source as
    /// one [`Placed`].
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
        self.draw_rop3(r, Placed::new(src, dx, dy), paint, code, mask);
    }

    /// Combine `paint`, the placed source `src` and the destination over `r`
    /// with the ternary op `code` (DRAW_ROP3).
    pub fn draw_rop3(
        &mut self,
        r: Rect,
        src: Placed<'_>,
        paint: Paint<'_>,
        code: u8,
        mask: Option<&Mask<'_>>,
    ) {
        let Some(r) = src.clip(r, self.bounds()) else {
            return;
        };
        let keep = self.keep();
        spans(r, mask, |y, x0, x1| {
            let s = src.row(y, x0, x1);
            for (i, (d, &p)) in self.row_mut(y, x0, x1).iter_mut().zip(s).enumerate() {
                *d = rop3(code, paint.at(x0 + i as i32, y), p, *d) & keep;
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
    fn rop3_blit_combines_tile_source_and_destination() {
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
    }
}
