//! A reusable image buffer for draws whose source cannot be decoded straight
//! onto the surface (clipped, masked, scaled or combined through a ROP), for
//! sources read from a surface (a SURFACE image, which may be the very
//! surface drawn on) and for video-stream frames: the pixels are decoded or
//! copied here and blitted from here, and the buffer stays for the next such
//! draw instead of being allocated per draw.
//!
//! [`Scratches`] holds one such buffer per operand a draw may need at once
//! (source, mask, two brush tiles) and [`Resampled`], where a source is
//! stretched to its box for the operations without a scaled primitive.
//!
//! Owns the buffers and their charges to the session budget (each the
//! largest image it has held, at most [`MAX_IMAGE_PIXELS`] pixels; they
//! never shrink while the channel lives, so a channel holds at most five
//! such images here, all charged). Must not decode or draw (the resampling
//! itself is the canvas's).

use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::canvas::{Rect, Rop, ScaleMode, Scaled, Surface};
use crate::enums::SPICE_SURFACE_FMT_32_ARGB;
use crate::error::WireError;
#[cfg(doc)]
use crate::image::MAX_IMAGE_PIXELS;
use crate::image::{pixel_count, Dest, Image};
use alloc::vec::Vec;

/// The display's reused buffers, lent to a draw together.
#[derive(Debug, Default)]
pub struct Scratches {
    /// The source image (and stream frames).
    pub source: Scratch,
    /// The mask.
    pub mask: Scratch,
    /// Pattern brush tiles: DRAW_TEXT has two brushes, others one.
    pub tiles: [Scratch; 2],
    /// The source resampled to its box.
    pub scaled: Resampled,
}

/// The buffer and what it costs the budget.
#[derive(Debug)]
pub struct Scratch {
    image: Image,
    charge: Charge,
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            image: Image {
                width: 0,
                height: 0,
                pixels: Vec::new(),
                has_alpha: false,
            },
            charge: Charge::default(),
        }
    }
}

impl Scratch {
    /// Make the buffer a `width x height` image (growing it, and its charge
    /// to `budget`, only when it is too small) and hand it out to decode
    /// into. Refuses empty, overflowing or over-limit sizes.
    pub fn prepare(
        &mut self,
        width: u32,
        height: u32,
        has_alpha: bool,
        budget: &Budget,
    ) -> Result<Dest<'_>, WireError> {
        let pixels = self.prepare_pixels(width, height, has_alpha, budget)?;
        Dest::new(pixels, width as usize, height as usize, width as usize)
    }

    /// [`prepare`](Self::prepare), handing out the pixels as one slice
    /// (rows `width` apart).
    pub fn prepare_pixels(
        &mut self,
        width: u32,
        height: u32,
        has_alpha: bool,
        budget: &Budget,
    ) -> Result<&mut [u32], WireError> {
        let n = pixel_count(width, height)?;
        if n > self.image.pixels.capacity() {
            // Give the old buffer back before asking for the bigger one.
            self.image.pixels = Vec::new();
            self.charge = Charge::default();
            self.charge = budget.charge(pixel_bytes(width, height), Use::Image)?;
            self.image
                .pixels
                .try_reserve_exact(n)
                .map_err(|_| WireError::new(0, "out of memory for image"))?;
        }
        // Within the capacity: truncates, or zero-fills what is new.
        self.image.pixels.resize(n, 0);
        self.image.width = width;
        self.image.height = height;
        self.image.has_alpha = has_alpha;
        Ok(&mut self.image.pixels)
    }

    /// The image last prepared (and decoded into).
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Copy `area` of `surface`, cut to the surface, into the buffer (with
    /// alpha when the surface keeps it); returns the part copied. Refuses
    /// an area wholly outside the surface.
    pub fn copy_from(
        &mut self,
        surface: &Surface,
        area: Rect,
        budget: &Budget,
    ) -> Result<Rect, WireError> {
        let a = area.intersect(&surface.bounds());
        if a.is_empty() {
            return Err(WireError::new(0, "source area outside surface"));
        }
        let sw = surface.width as usize;
        let (w, h) = (a.width() as u32, a.height() as u32);
        let mut dst = self.prepare(w, h, surface.keeps_alpha(), budget)?;
        for y in 0..dst.height() {
            let start = (a.top as usize + y) * sw + a.left as usize;
            let row = dst.row_mut(y);
            let src = surface
                .pixels
                .get(start..start + row.len())
                .ok_or(WireError::new(0, "source area outside surface"))?;
            row.copy_from_slice(src);
        }
        Ok(a)
    }

    /// Reverse the row order of the image last prepared (bottom-up frames).
    pub fn flip_rows(&mut self) {
        self.image.flip_rows();
    }
}

/// A source area resampled to a given size: the canvas's scaler draws it
/// onto a surface kept for the purpose (so its per-column taps are reused
/// too), whose pixels are then lent out as an image, and taken back for
/// the next draw.
#[derive(Debug, Default)]
pub struct Resampled {
    /// The surface drawn on (its pixels are in `image` between draws).
    surface: Option<Surface>,
    image: Image,
    charge: Charge,
}

impl Resampled {
    /// `area` of `src` stretched to `width x height` with `mode`, as
    /// [`scale_image`](crate::canvas::scale_image) gives it; the buffer
    /// grows (and its charge to `budget`) only when too small. Refuses
    /// empty, overflowing or over-limit sizes.
    pub fn resample(
        &mut self,
        src: &Image,
        area: Rect,
        (width, height): (u32, u32),
        mode: ScaleMode,
        budget: &Budget,
    ) -> Result<&Image, WireError> {
        let n = pixel_count(width, height)?;
        let mut pixels = core::mem::take(&mut self.image.pixels);
        if n > pixels.capacity() {
            // Give the old buffer back before asking for the bigger one.
            pixels = Vec::new();
            self.charge = Charge::default();
            self.charge = budget.charge(pixel_bytes(width, height), Use::Image)?;
            pixels
                .try_reserve_exact(n)
                .map_err(|_| WireError::new(0, "out of memory for image"))?;
        }
        // Black where the scaler draws nothing, as on a new surface.
        pixels.clear();
        pixels.resize(n, 0);
        let surface = match self.surface.as_mut() {
            Some(s) => {
                s.pixels = pixels;
                s.width = width;
                s.height = height;
                s
            }
            None => self.surface.insert(
                Surface::from_pixels(width, height, SPICE_SURFACE_FMT_32_ARGB, pixels)
                    .ok_or(WireError::new(0, "image size overflows"))?,
            ),
        };
        let dst_box = surface.bounds();
        let scaled = Scaled {
            image: src,
            area,
            dst_box,
            mode,
        };
        surface.draw_scaled(dst_box, scaled, Rop::Copy, None);
        self.image = Image {
            width,
            height,
            pixels: core::mem::take(&mut surface.pixels),
            has_alpha: src.has_alpha,
        };
        Ok(&self.image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_once_and_is_charged_for_its_largest_image() {
        let budget = Budget::new(1 << 20);
        let mut s = Scratch::default();
        s.prepare(16, 16, false, &budget)
            .unwrap()
            .row_mut(15)
            .fill(5);
        assert_eq!(budget.used(), 16 * 16 * 4);
        let ptr = s.image().pixels.as_ptr();
        let d = s.prepare(8, 4, true, &budget).unwrap();
        assert_eq!((d.width(), d.height()), (8, 4));
        assert_eq!(s.image().pixels.len(), 32);
        assert!(s.image().has_alpha);
        assert_eq!(s.image().pixels.as_ptr(), ptr, "no new buffer");
        assert_eq!(budget.used(), 16 * 16 * 4);
        assert!(s.prepare(1024, 1024, false, &budget).is_err());
        assert_eq!(budget.used(), 0, "the old buffer was given back");
        assert!(s.prepare(0, 4, false, &budget).is_err());
        drop(s);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn resamples_as_scale_image_does_and_reuses_its_buffer() {
        use crate::canvas::scale_image;
        let budget = Budget::new(1 << 20);
        let src = Image {
            width: 3,
            height: 2,
            pixels: alloc::vec![1, 2, 3, 0x40, 0x50, 0x60],
            has_alpha: true,
        };
        let area = Rect::new(0, 0, 3, 2);
        let mut r = Resampled::default();
        for (w, h, mode) in [
            (7, 5, ScaleMode::Interpolate),
            (2, 3, ScaleMode::Nearest),
            (7, 4, ScaleMode::Nearest),
        ] {
            let want = scale_image(&src, area, w, h, mode).unwrap();
            let got = r.resample(&src, area, (w, h), mode, &budget).unwrap();
            assert_eq!(*got, want, "{w}x{h} {mode:?}");
        }
        let ptr = r.image.pixels.as_ptr();
        // Asked again, a size that fits is drawn in the same buffer, and
        // a bogus area leaves it black, as on a new surface.
        let got = r
            .resample(
                &src,
                Rect::new(5, 5, 9, 9),
                (6, 5),
                ScaleMode::Nearest,
                &budget,
            )
            .unwrap();
        assert!(got.pixels.iter().all(|&p| p == 0));
        assert_eq!(r.image.pixels.as_ptr(), ptr, "no new buffer");
        assert_eq!(budget.used(), 7 * 5 * 4, "charged at its largest");
        assert!(r
            .resample(&src, area, (1024, 1024), ScaleMode::Nearest, &budget)
            .is_err());
        assert_eq!(budget.used(), 0, "the old buffer was given back");
    }

    #[test]
    fn copies_the_part_of_an_area_inside_the_surface() {
        let budget = Budget::new(1 << 20);
        let mut surface = Surface::new(4, 3, crate::enums::SPICE_SURFACE_FMT_32_xRGB).unwrap();
        for (i, p) in surface.pixels.iter_mut().enumerate() {
            *p = i as u32;
        }
        let mut s = Scratch::default();
        let got = s
            .copy_from(&surface, Rect::new(2, 1, 9, 9), &budget)
            .unwrap();
        assert_eq!(got, Rect::new(2, 1, 4, 3));
        let img = s.image();
        assert_eq!((img.width, img.height, img.has_alpha), (2, 2, false));
        assert_eq!(img.pixels, [6, 7, 10, 11]);
        assert!(s
            .copy_from(&surface, Rect::new(5, 0, 9, 9), &budget)
            .is_err());
    }
}
