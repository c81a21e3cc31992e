//! [`Dest`]: a writable rectangle of `0xAARRGGBB` pixels that a decoder
//! writes straight into (a surface region, or a reusable scratch buffer), so
//! a decoded image need not be copied a second time.
//!
//! A leaf module: it knows no codec and parses nothing.

#[cfg(test)]
use super::Image;
use crate::error::WireError;

/// `height` rows of `width` pixels, row `y` starting at `y * stride` in the
/// backing slice. Constructed only through [`Dest::new`], which checks the
/// slice is long enough, so row access never goes out of bounds.
#[derive(Debug)]
pub struct Dest<'a> {
    pixels: &'a mut [u32],
    width: usize,
    height: usize,
    stride: usize,
}

impl<'a> Dest<'a> {
    /// A rectangle over `pixels`; refuses an empty rectangle, a stride
    /// narrower than the width, or a slice too short for the last row.
    pub fn new(
        pixels: &'a mut [u32],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, WireError> {
        let need = height
            .checked_sub(1)
            .and_then(|h| h.checked_mul(stride))
            .and_then(|n| n.checked_add(width));
        match need {
            Some(n) if width > 0 && stride >= width && n <= pixels.len() => Ok(Self {
                pixels,
                width,
                height,
                stride,
            }),
            _ => Err(WireError::new(0, "destination rectangle out of bounds")),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Pixels from the start of one row to the start of the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Whether the rows follow each other with no gap (`stride == width`),
    /// so the rectangle is one linear run of `width * height` pixels.
    pub fn is_contiguous(&self) -> bool {
        self.stride == self.width
    }

    /// Row `y` (`width` pixels); empty when `y >= height`.
    pub fn row_mut(&mut self, y: usize) -> &mut [u32] {
        if y >= self.height {
            return &mut [];
        }
        let at = y * self.stride;
        &mut self.pixels[at..at + self.width]
    }

    /// The whole backing run from row 0 to the end of the last row
    /// (`(height - 1) * stride + width` pixels, gaps included).
    pub fn span_mut(&mut self) -> &mut [u32] {
        let n = (self.height - 1) * self.stride + self.width;
        &mut self.pixels[..n]
    }

    /// Refuse a header size different from the rectangle's.
    pub fn check_size(&self, width: u32, height: u32) -> Result<(), WireError> {
        if width as usize == self.width && height as usize == self.height {
            Ok(())
        } else {
            Err(WireError::new(0, "image size differs from its destination"))
        }
    }
}

/// Test support for the decoders' `decode_into`: decoding into a
/// destination with 3 spare pixels per row, and into a contiguous one, must
/// give `expected`'s rows and leave the spare pixels and everything past the
/// last row as they were.
#[cfg(test)]
pub(crate) fn assert_into_matches(
    expected: &Image,
    mut decode_into: impl FnMut(&mut Dest<'_>) -> Result<(), WireError>,
) {
    use alloc::vec;
    const GAP: u32 = 0xdead_beef;
    let (w, h) = (expected.width as usize, expected.height as usize);
    for stride in [w, w + 3] {
        let mut buf = vec![GAP; stride * h + 5];
        let mut dst = Dest::new(&mut buf, w, h, stride).expect("fits");
        decode_into(&mut dst).expect("decode_into");
        for (y, row) in buf.chunks(stride).enumerate() {
            if y < h {
                assert_eq!(&row[..w], &expected.pixels[y * w..(y + 1) * w], "row {y}");
                assert!(row[w..].iter().all(|&p| p == GAP), "gap of row {y}");
            } else {
                assert!(row.iter().all(|&p| p == GAP), "past the last row");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn refuses_short_slices_and_narrow_strides() {
        let mut buf = vec![0u32; 10];
        assert!(Dest::new(&mut buf, 4, 3, 3).is_err()); // stride < width
        assert!(Dest::new(&mut buf, 4, 3, 4).is_err()); // needs 12
        assert!(Dest::new(&mut buf, 0, 3, 4).is_err()); // empty
        assert!(Dest::new(&mut buf, 4, 0, 4).is_err()); // empty
        assert!(Dest::new(&mut buf, 2, 3, 4).is_ok()); // needs 10
    }

    #[test]
    fn rows_land_at_their_stride() {
        let mut buf = vec![0u32; 11];
        let mut d = Dest::new(&mut buf, 3, 3, 4).expect("fits");
        assert!(!d.is_contiguous());
        for y in 0..3 {
            for (x, p) in d.row_mut(y).iter_mut().enumerate() {
                *p = (y * 3 + x + 1) as u32;
            }
        }
        assert!(d.row_mut(3).is_empty());
        assert_eq!(d.span_mut().len(), 11);
        assert_eq!(buf, [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]);
    }

    #[test]
    fn size_mismatch_is_refused() {
        let mut buf = vec![0u32; 4];
        let d = Dest::new(&mut buf, 2, 2, 2).expect("fits");
        assert!(d.check_size(2, 2).is_ok());
        assert!(d.check_size(1, 4).is_err());
    }
}
