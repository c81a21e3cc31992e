//! Showing a remote surface on a local screen of another size: the
//! [`Layout`] (where the picture lands and how big, 1:1 centred or scaled
//! to fit keeping the aspect ratio), redrawing a screen rectangle from the
//! surface (a copy at 1:1, bilinear filtering in 8-bit fixed point
//! otherwise, the same filter as the canvas's `blit_scaled`), dirty
//! rectangles and pointer positions mapped both ways, and the pointer shape
//! blended on top at the same scale.
//! Must not: know about devices or keep state; the caller owns both pixel
//! buffers (pixels are 0x00RRGGBB, the screen has a stride).

use crate::canvas::{bilerp, Rect, Surface};
use crate::cursor::CursorShape;
use alloc::vec::Vec;

/// Scratch for scaled rendering: per screen column of the area drawn, the
/// two source columns it blends and the weight of the second (8-bit).
#[derive(Debug, Default)]
pub struct Columns(Vec<(usize, usize, u32)>);

impl Columns {
    /// An empty table (allocates on first use).
    pub const fn new() -> Self {
        Self(Vec::new())
    }
}

/// Where a `src_w` x `src_h` remote surface lands on a `screen_w` x
/// `screen_h` screen: its top-left corner and its size there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Remote surface width.
    pub src_w: u32,
    /// Remote surface height.
    pub src_h: u32,
    /// Screen width.
    pub screen_w: u32,
    /// Screen height.
    pub screen_h: u32,
    /// Left edge of the picture on the screen (negative when cropped).
    pub x: i32,
    /// Top edge of the picture on the screen.
    pub y: i32,
    /// Width of the picture on the screen.
    pub w: u32,
    /// Height of the picture on the screen.
    pub h: u32,
}

impl Layout {
    /// Remote pixels 1:1, centred (cropped when the surface is larger).
    pub fn one_to_one(src_w: u32, src_h: u32, screen_w: u32, screen_h: u32) -> Self {
        let x = (screen_w as i32 - src_w as i32) / 2;
        let y = (screen_h as i32 - src_h as i32) / 2;
        Self {
            src_w,
            src_h,
            screen_w,
            screen_h,
            x,
            y,
            w: src_w,
            h: src_h,
        }
    }

    /// Scaled to fill the screen as far as the aspect ratio allows, centred.
    /// A surface of the screen's size is 1:1.
    pub fn fit(src_w: u32, src_h: u32, screen_w: u32, screen_h: u32) -> Self {
        if src_w == 0 || src_h == 0 || screen_w == 0 || screen_h == 0 {
            return Self::one_to_one(src_w, src_h, screen_w, screen_h);
        }
        let (sw, sh, dw, dh) = (
            u64::from(src_w),
            u64::from(src_h),
            u64::from(screen_w),
            u64::from(screen_h),
        );
        // Width-bound when dw/sw <= dh/sh.
        let (w, h) = if dw * sh <= dh * sw {
            (dw, (sh * dw / sw).max(1))
        } else {
            ((sw * dh / sh).max(1), dh)
        };
        let (w, h) = (w as u32, h as u32);
        Self {
            src_w,
            src_h,
            screen_w,
            screen_h,
            x: ((screen_w - w) / 2) as i32,
            y: ((screen_h - h) / 2) as i32,
            w,
            h,
        }
    }

    /// True when remote pixels map 1:1 to screen pixels.
    pub fn is_identity(&self) -> bool {
        self.w == self.src_w && self.h == self.src_h
    }

    /// The screen area the picture covers, clipped to the screen.
    pub fn picture(&self) -> Rect {
        Rect::new(
            self.x,
            self.y,
            self.x + self.w as i32,
            self.y + self.h as i32,
        )
        .intersect(&self.screen())
    }

    fn screen(&self) -> Rect {
        Rect::of_size(self.screen_w, self.screen_h)
    }

    /// Screen pixels whose filtered value depends on remote area `r`
    /// (a dirty rectangle), clipped to the picture.
    pub fn to_screen_rect(&self, r: Rect) -> Rect {
        if self.is_identity() {
            return r.translate(self.x, self.y).intersect(&self.picture());
        }
        // A screen pixel reads the two remote pixels around its centre, so
        // widen by one remote pixel each side, then round outwards.
        let lo = |v: i32, s: u32, d: u32, o: i32| {
            (i64::from(v - 1) * i64::from(d)).div_euclid(i64::from(s)) as i32 + o - 1
        };
        let hi = |v: i32, s: u32, d: u32, o: i32| {
            (i64::from(v + 1) * i64::from(d) + i64::from(s) - 1).div_euclid(i64::from(s)) as i32
                + o
                + 1
        };
        Rect::new(
            lo(r.left, self.src_w, self.w, self.x),
            lo(r.top, self.src_h, self.h, self.y),
            hi(r.right, self.src_w, self.w, self.x),
            hi(r.bottom, self.src_h, self.h, self.y),
        )
        .intersect(&self.picture())
    }

    /// The remote pixel shown at screen pixel (`sx`, `sy`) (the nearest
    /// one, clamped to the surface): where a click there should land.
    pub fn to_remote(&self, sx: i32, sy: i32) -> (u32, u32) {
        let map = |v: i32, o: i32, d: u32, s: u32| -> u32 {
            if d == 0 || s == 0 {
                return 0;
            }
            let p = (i64::from(v - o) * 2 + 1) * i64::from(s) / (2 * i64::from(d));
            p.clamp(0, i64::from(s) - 1) as u32
        };
        (
            map(sx, self.x, self.w, self.src_w),
            map(sy, self.y, self.h, self.src_h),
        )
    }

    /// The screen rectangle a remote rectangle (e.g. the pointer's) covers
    /// at this scale, not clipped.
    pub fn scale_rect(&self, r: Rect) -> Rect {
        let m = |v: i32, s: u32, d: u32, o: i32| {
            (i64::from(v) * i64::from(d)).div_euclid(i64::from(s.max(1))) as i32 + o
        };
        let mut out = Rect::new(
            m(r.left, self.src_w, self.w, self.x),
            m(r.top, self.src_h, self.h, self.y),
            m(r.right, self.src_w, self.w, self.x),
            m(r.bottom, self.src_h, self.h, self.y),
        );
        out.right = out.right.max(out.left + 1);
        out.bottom = out.bottom.max(out.top + 1);
        out
    }

    /// Redraw screen area `area` (clipped to the picture) from `surface`
    /// into `screen` (`stride` pixels per row). Returns the area drawn.
    /// Scaling allocates its column table each call; a caller that renders
    /// often keeps one [`Columns`] and uses [`render_with`](Self::render_with).
    pub fn render(
        &self,
        surface: &Surface,
        screen: &mut [u32],
        stride: usize,
        area: Rect,
    ) -> Option<Rect> {
        self.render_with(surface, screen, stride, area, &mut Columns::new())
    }

    /// [`render`](Self::render) with the caller's column table, which only
    /// grows (to the widest area scaled), so steady-state redraws allocate nothing.
    pub fn render_with(
        &self,
        surface: &Surface,
        screen: &mut [u32],
        stride: usize,
        area: Rect,
        columns: &mut Columns,
    ) -> Option<Rect> {
        let r = area.intersect(&self.picture());
        if r.is_empty() || surface.width != self.src_w || surface.height != self.src_h {
            return None;
        }
        let sw = self.src_w as usize;
        if self.is_identity() {
            let w = r.width() as usize;
            for y in r.top..r.bottom {
                let s = (y - self.y) as usize * sw + (r.left - self.x) as usize;
                let d = y as usize * stride + r.left as usize;
                if let (Some(src), Some(dst)) =
                    (surface.pixels.get(s..s + w), screen.get_mut(d..d + w))
                {
                    dst.copy_from_slice(src);
                }
            }
            return Some(r);
        }
        // Remote position of a screen pixel centre, minus half a pixel, in
        // 16.16 fixed point (as the canvas's blit_scaled maps).
        let map = |p: i32, o: i32, s: u32, d: u32| -> i64 {
            ((i64::from(p - o) * 2 + 1) * i64::from(s) * 65536) / (2 * i64::from(d)) - 32768
        };
        let clamp = |v: i64, s: u32| v.clamp(0, i64::from(s) - 1) as usize;
        let cols = &mut columns.0;
        cols.clear();
        if cols.try_reserve_exact(r.width() as usize).is_err() {
            return None;
        }
        for x in r.left..r.right {
            let fx = map(x, self.x, self.src_w, self.w);
            cols.push((
                clamp(fx >> 16, self.src_w),
                clamp((fx >> 16) + 1, self.src_w),
                (fx & 0xffff) as u32 >> 8,
            ));
        }
        for y in r.top..r.bottom {
            let fy = map(y, self.y, self.src_h, self.h);
            let (ya, yb) = (
                clamp(fy >> 16, self.src_h),
                clamp((fy >> 16) + 1, self.src_h),
            );
            let wy = (fy & 0xffff) as u32 >> 8;
            let (Some(ra), Some(rb)) = (
                surface.pixels.get(ya * sw..(ya + 1) * sw),
                surface.pixels.get(yb * sw..(yb + 1) * sw),
            ) else {
                continue;
            };
            let d = y as usize * stride + r.left as usize;
            let Some(row) = screen.get_mut(d..d + r.width() as usize) else {
                continue;
            };
            for (px, &(xa, xb, wx)) in row.iter_mut().zip(cols.iter()) {
                *px = bilerp(ra[xa], ra[xb], rb[xa], rb[xb], wx, wy) & 0x00ff_ffff;
            }
        }
        Some(r)
    }

    /// Where the pointer `shape` with its hot spot at remote (`x`, `y`)
    /// lands on the screen (scaled like the picture, not clipped).
    pub fn cursor_rect(&self, x: i32, y: i32, shape: &CursorShape) -> Rect {
        let l = x - i32::from(shape.hot_x);
        let t = y - i32::from(shape.hot_y);
        self.scale_rect(Rect::new(
            l,
            t,
            l + i32::from(shape.width),
            t + i32::from(shape.height),
        ))
    }

    /// Blend `shape` (0xAARRGGBB, straight alpha) over `at` (from
    /// [`cursor_rect`](Self::cursor_rect)), nearest-neighbour scaled,
    /// clipped to the picture. Returns the area drawn.
    pub fn draw_cursor(
        &self,
        screen: &mut [u32],
        stride: usize,
        at: Rect,
        shape: &CursorShape,
    ) -> Option<Rect> {
        let r = at.intersect(&self.picture());
        if r.is_empty() || at.width() <= 0 || at.height() <= 0 {
            return None;
        }
        let (cw, ch) = (i64::from(shape.width), i64::from(shape.height));
        let (aw, ah) = (i64::from(at.width()), i64::from(at.height()));
        for y in r.top..r.bottom {
            let sy = (i64::from(y - at.top) * ch / ah) as usize;
            for x in r.left..r.right {
                let sx = (i64::from(x - at.left) * cw / aw) as usize;
                let d = y as usize * stride + x as usize;
                if let (Some(&c), Some(dst)) = (
                    shape.pixels.get(sy * shape.width as usize + sx),
                    screen.get_mut(d),
                ) {
                    *dst = blend(c, *dst);
                }
            }
        }
        Some(r)
    }
}

/// `src` (0xAARRGGBB, straight alpha) over `dst` (0x00RRGGBB).
fn blend(src: u32, dst: u32) -> u32 {
    let a = src >> 24;
    match a {
        0 => dst,
        255 => src & 0x00ff_ffff,
        _ => {
            let ch = |shift: u32| {
                let s = (src >> shift) & 0xff;
                let d = (dst >> shift) & 0xff;
                ((s * a + d * (255 - a) + 127) / 255) << shift
            };
            ch(16) | ch(8) | ch(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::SPICE_SURFACE_FMT_32_xRGB;

    fn surface(w: u32, h: u32, f: impl Fn(u32, u32) -> u32) -> Surface {
        let mut s = Surface::new(w, h, SPICE_SURFACE_FMT_32_xRGB).unwrap();
        for y in 0..h {
            for x in 0..w {
                s.pixels[(y * w + x) as usize] = f(x, y);
            }
        }
        s
    }

    #[test]
    fn fit_keeps_aspect_and_centres() {
        let l = Layout::fit(1024, 768, 1280, 800);
        assert_eq!((l.x, l.y, l.w, l.h), (107, 0, 1066, 800));
        let l = Layout::fit(1024, 768, 1920, 1080);
        assert_eq!((l.x, l.y, l.w, l.h), (240, 0, 1440, 1080));
        let l = Layout::fit(1920, 1080, 1024, 768);
        assert_eq!((l.x, l.y, l.w, l.h), (0, 96, 1024, 576));
        assert!(Layout::fit(1280, 800, 1280, 800).is_identity());
        let l = Layout::one_to_one(1024, 768, 1920, 1080);
        assert_eq!((l.x, l.y, l.w, l.h), (448, 156, 1024, 768));
        assert_eq!(
            Layout::one_to_one(2000, 100, 1000, 100).picture(),
            Rect::new(0, 0, 1000, 100)
        );
    }

    #[test]
    fn identity_render_is_a_copy_and_crops() {
        let s = surface(40, 30, |x, y| x * 1000 + y);
        let l = Layout::one_to_one(40, 30, 20, 40);
        let mut screen = alloc::vec![7u32; 20 * 40];
        let drawn = l
            .render(&s, &mut screen, 20, Rect::of_size(20, 40))
            .unwrap();
        assert_eq!(drawn, Rect::new(0, 5, 20, 35));
        assert_eq!(screen[5 * 20], 10 * 1000); // screen (0,5) = remote (10,0)
        assert_eq!(screen[0], 7);
        assert_eq!(l.to_remote(0, 5), (10, 0));
    }

    #[test]
    fn upscale_by_two_interpolates_between_pixels() {
        // Two columns, black and 0xFF grey: at 2x the inner pixels are blends.
        let s = surface(2, 1, |x, _| if x == 0 { 0 } else { 0x00ff_ffff });
        let l = Layout::fit(2, 1, 4, 2);
        assert_eq!((l.w, l.h), (4, 2));
        let mut screen = alloc::vec![0u32; 8];
        l.render(&s, &mut screen, 4, Rect::of_size(4, 2));
        let red: Vec<u32> = screen[..4].iter().map(|p| p >> 16).collect();
        assert_eq!(red, [0, 0x3f, 0xbf, 0xff]);
        assert_eq!(&screen[..4], &screen[4..]);
    }

    #[test]
    fn dirty_rect_rendering_equals_full_rendering() {
        let mut s = surface(64, 48, |x, y| {
            (x * 4) << 16 | (y * 5) << 8 | ((x ^ y) & 0xff)
        });
        let l = Layout::fit(64, 48, 100, 70);
        let stride = 104;
        let mut a = alloc::vec![0u32; stride * 70];
        // One column table for both redraws of `a` (the presenter's way).
        let mut cols = Columns::new();
        l.render_with(&s, &mut a, stride, Rect::of_size(100, 70), &mut cols);
        let capacity = cols.0.capacity();
        // Change a small area, redraw only its mapped rectangle.
        let dirty = Rect::new(20, 10, 23, 12);
        for y in dirty.top..dirty.bottom {
            for x in dirty.left..dirty.right {
                s.pixels[(y * 64 + x) as usize] = 0x00ff_00ff;
            }
        }
        l.render_with(&s, &mut a, stride, l.to_screen_rect(dirty), &mut cols);
        assert_eq!(
            cols.0.capacity(),
            capacity,
            "a narrower redraw reuses the table"
        );
        let mut b = alloc::vec![0u32; stride * 70];
        l.render(&s, &mut b, stride, Rect::of_size(100, 70));
        assert_eq!(a, b);
    }

    #[test]
    fn pointer_maps_back_to_the_pixel_under_it() {
        let l = Layout::fit(1024, 768, 1280, 800);
        // The screen pixel showing remote (512, 384)'s centre maps back to it.
        for (rx, ry) in [(0u32, 0u32), (512, 384), (1023, 767), (100, 700)] {
            let sx = l.x + ((2 * rx + 1) * l.w / (2 * l.src_w)) as i32;
            let sy = l.y + ((2 * ry + 1) * l.h / (2 * l.src_h)) as i32;
            assert_eq!(l.to_remote(sx, sy), (rx, ry));
        }
        // Outside the picture: clamped to the edge.
        assert_eq!(l.to_remote(0, 0), (0, 0));
        assert_eq!(l.to_remote(1279, 799), (1023, 767));
    }

    #[test]
    fn cursor_is_scaled_with_the_picture() {
        let shape = CursorShape {
            width: 4,
            height: 4,
            hot_x: 1,
            hot_y: 1,
            pixels: alloc::vec![0xff00_ff00; 16],
        };
        let l = Layout::fit(100, 100, 200, 200);
        let at = l.cursor_rect(10, 10, &shape);
        assert_eq!(at, Rect::new(18, 18, 26, 26));
        let mut screen = alloc::vec![0u32; 200 * 200];
        assert_eq!(l.draw_cursor(&mut screen, 200, at, &shape), Some(at));
        assert_eq!(screen.iter().filter(|&&p| p == 0x0000_ff00).count(), 64);
        assert_eq!(blend(0x8000_0000, 0x00ff_ffff), 0x007f_7f7f);
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        let s = surface(1, 1, |_, _| 5);
        for (w, h) in [(0, 0), (1, 0), (3, 1), (1, 1000)] {
            let l = Layout::fit(1, 1, w, h);
            let mut screen = alloc::vec![0u32; (w * h) as usize];
            let _ = l.render(&s, &mut screen, w as usize, Rect::of_size(w, h));
            let _ = l.to_remote(0, 0);
            let _ = l.to_screen_rect(Rect::of_size(1, 1));
        }
        // A surface of another size than the layout's is not drawn.
        let l = Layout::fit(2, 2, 4, 4);
        assert_eq!(l.render(&s, &mut [0; 16], 4, Rect::of_size(4, 4)), None);
    }
}
