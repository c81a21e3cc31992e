//! Scaled copies (DRAW_COPY and friends whose source area and destination
//! box differ in size): nearest-neighbour and bilinear resampling through a
//! raster op, and resampling a whole image for ops without a scaled form.

use super::blend::bilerp;
use super::geometry::Rect;
use super::mask::{spans, Mask};
use super::rop::Rop;
use super::scratch::Tap;
use super::surface::Surface;
use crate::enums::*;
use crate::error::WireError;
use crate::image::Image;

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

/// Largest width or height of a scaled source area or destination box
/// (keeps the fixed-point mapping inside i64).
pub const MAX_SCALE_EXTENT: i32 = 1 << 16;

/// A source area stretched onto a destination box.
#[derive(Debug, Clone, Copy)]
pub struct Scaled<'a> {
    /// The source pixels.
    pub image: &'a Image,
    /// The part of `image` that is stretched (clamped to the image).
    pub area: Rect,
    /// Where `area` lands on the destination.
    pub dst_box: Rect,
    /// How source pixels are sampled.
    pub mode: ScaleMode,
}

impl Surface {
    /// Scale `src_area` of `src` onto `dst_box`, drawing only the part inside
    /// `r` (a clip piece of `dst_box`). Kept for existing callers;
    /// [`draw_scaled`](Self::draw_scaled) takes the source as one [`Scaled`].
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
        let src = Scaled {
            image: src,
            area: src_area,
            dst_box,
            mode,
        };
        self.draw_scaled(r, src, rop, mask);
    }

    /// Stretch `src` onto its destination box through `rop`, drawing only
    /// the part inside `r` (a clip piece of the box). Bogus areas or boxes
    /// (empty, over [`MAX_SCALE_EXTENT`], outside the image) draw nothing.
    pub fn draw_scaled(&mut self, r: Rect, src: Scaled<'_>, rop: Rop, mask: Option<&Mask<'_>>) {
        let Scaled {
            image,
            area,
            dst_box,
            mode,
        } = src;
        let sa = area.intersect(&Rect::of_size(image.width, image.height));
        let too_big = |r: &Rect| r.width() > MAX_SCALE_EXTENT || r.height() > MAX_SCALE_EXTENT;
        if sa.is_empty()
            || too_big(&area)
            || too_big(&dst_box)
            || dst_box.is_empty()
            || area.is_empty()
            || image.pixels.len() != image.width as usize * image.height as usize
        {
            return;
        }
        let r = r.intersect(&self.bounds()).intersect(&dst_box);
        if r.is_empty() || rop == Rop::Noop {
            return;
        }
        let keep = self.keep();
        let sw = image.width as usize;
        // Map destination centres to source coordinates in 16.16 fixed point.
        let (aw, ah) = (area.width() as i64, area.height() as i64);
        let (bw, bh) = (dst_box.width() as i64, dst_box.height() as i64);
        let map = |p: i32, b0: i32, a0: i32, a: i64, b: i64| -> i64 {
            // source position of the destination pixel centre, minus 0.5
            (((p as i64 - b0 as i64) * 2 + 1) * a * 65536) / (2 * b) - 32768 + ((a0 as i64) << 16)
        };
        let cx = |v: i64| v.clamp(sa.left as i64, sa.right as i64 - 1) as u32;
        let cy = |v: i64| v.clamp(sa.top as i64, sa.bottom as i64 - 1) as usize;
        // Per-column source taps, computed once per draw into the surface's
        // reused scratch (taken out while the rows are drawn).
        let mut taps = core::mem::take(&mut self.scratch.taps);
        taps.clear();
        if taps.try_reserve(r.width() as usize).is_err() {
            return;
        }
        for x in r.left..r.right {
            let fx = map(x, dst_box.left, area.left, aw, bw);
            taps.push(match mode {
                ScaleMode::Nearest => Tap {
                    left: cx((fx + 32768) >> 16),
                    right: 0,
                    weight: 0,
                },
                ScaleMode::Interpolate => Tap {
                    left: cx(fx >> 16),
                    right: cx((fx >> 16) + 1),
                    weight: (fx & 0xffff) as u32 >> 8,
                },
            });
        }
        spans(r, mask, |y, x0, x1| {
            let fy = map(y, dst_box.top, area.top, ah, bh);
            let taps = taps
                .get((x0 - r.left) as usize..(x1 - r.left) as usize)
                .unwrap_or(&[]);
            let row = self.row_mut(y, x0, x1);
            match mode {
                ScaleMode::Nearest => {
                    let sy = cy((fy + 32768) >> 16);
                    let srow = &image.pixels[sy * sw..(sy + 1) * sw];
                    if rop == Rop::Copy {
                        for (d, t) in row.iter_mut().zip(taps) {
                            *d = srow[t.left as usize] & keep;
                        }
                    } else {
                        for (d, t) in row.iter_mut().zip(taps) {
                            *d = rop.apply(srow[t.left as usize], *d) & keep;
                        }
                    }
                }
                ScaleMode::Interpolate => {
                    let (ya, yb) = (cy(fy >> 16), cy((fy >> 16) + 1));
                    let wy = (fy & 0xffff) as u32 >> 8;
                    let ra = &image.pixels[ya * sw..(ya + 1) * sw];
                    let rb = &image.pixels[yb * sw..(yb + 1) * sw];
                    for (d, t) in row.iter_mut().zip(taps) {
                        let (xa, xb, wx) = (t.left as usize, t.right as usize, t.weight);
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
        self.scratch.taps = taps;
    }
}

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
    let scaled = Scaled {
        image: src,
        area: src_area,
        dst_box: b,
        mode,
    };
    tmp.draw_scaled(b, scaled, Rop::Copy, None);
    Ok(Image {
        width,
        height,
        pixels: tmp.pixels,
        has_alpha: src.has_alpha,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::testing::{img, surf};
    use alloc::vec;

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
    fn scale_image_resamples_to_the_asked_size() {
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

    /// A surface's reused taps never carry one draw into the next: a narrow
    /// draw after a wide one matches the same draw on a surface with the
    /// same pixels and an empty scratch, and the buffer is not reallocated.
    #[test]
    fn reused_scratch_does_not_leak_between_draws() {
        let src = img(3, 2, vec![1, 2, 3, 4, 5, 6]);
        let mut used = surf(8, 4);
        used.blit_scaled(
            used.bounds(),
            &src,
            Rect::new(0, 0, 3, 2),
            used.bounds(),
            ScaleMode::Interpolate,
            Rop::Copy,
            None,
        );
        let cap = used.scratch.taps.capacity();
        assert!(cap >= 8);
        let mut fresh = Surface::from_pixels(8, 4, used.format, used.pixels.clone()).unwrap();
        for s in [&mut used, &mut fresh] {
            s.blit_scaled(
                Rect::new(1, 1, 4, 3),
                &src,
                Rect::new(1, 0, 3, 2),
                Rect::new(0, 0, 5, 4),
                ScaleMode::Nearest,
                Rop::Xor,
                None,
            );
        }
        assert_eq!(used.scratch.taps.capacity(), cap);
        assert_eq!(used.pixels, fresh.pixels);
        assert_eq!(used, fresh);
    }
}
