//! [`Dest`]: a writable rectangle of `0xAARRGGBB` pixels that a decoder
//! writes straight into (a surface region, or a reusable scratch buffer), so
//! a decoded image need not be copied a second time.
//!
//! Also [`Staging`]: the reusable pixel run a decoder whose output cannot
//! be written row by row into a strided rectangle (LZ4 matches reach back
//! across rows; LZ's byte planes) decodes into before copying the rows into
//! place.
//!
//! A leaf module: it knows no codec and parses nothing.

#[cfg(test)]
use super::Image;
use crate::budget::{Budget, Charge, Use};
use crate::error::WireError;
use alloc::vec::Vec;

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

/// A caller-owned pixel run, reused from decode to decode, for decoders that
/// cannot write a strided [`Dest`] directly. It keeps its high-water length
/// (new pixels are zeroed once, when it grows; afterwards a decode gets the
/// previous decode's leftovers, which the LZ/LZ4 decoders overwrite before
/// reading) and its charge to the budget is its largest size.
#[derive(Debug, Default)]
pub struct Staging {
    pixels: Vec<u32>,
    charge: Charge,
}

impl Staging {
    /// Make room for `n` pixels, charging `budget` for the growth before
    /// anything is allocated; a no-op when the run is long enough.
    pub fn reserve(&mut self, n: usize, budget: &Budget) -> Result<(), WireError> {
        if n <= self.pixels.len() {
            return Ok(());
        }
        let bytes = n
            .checked_mul(4)
            .ok_or(WireError::new(0, "staging size overflows"))?;
        if self.charge.bytes() == 0 {
            self.charge = budget.charge(bytes, Use::Image)?;
        } else {
            self.charge.resize(bytes, Use::Image)?;
        }
        grow(&mut self.pixels, n)
    }

    /// The reusable run, for a decoder's `decode_into_with`.
    pub fn pixels_mut(&mut self) -> &mut Vec<u32> {
        &mut self.pixels
    }

    /// Bytes charged to the budget (its largest size).
    pub fn charged(&self) -> usize {
        self.charge.bytes()
    }
}

/// The first `n` pixels of `run`, growing it (zero-filled, once) when it
/// is shorter; contents left by an earlier use are kept, not cleared.
pub fn staged(run: &mut Vec<u32>, n: usize) -> Result<&mut [u32], WireError> {
    grow(run, n)?;
    run.get_mut(..n)
        .ok_or(WireError::new(0, "out of memory for image"))
}

/// The first `n` bytes of `run` (grown as by [`staged`] to hold them), for
/// a decoder that stages bytes rather than pixels; old contents are kept.
pub fn staged_bytes(run: &mut Vec<u32>, n: usize) -> Result<&mut [u8], WireError> {
    let px = staged(run, n.div_ceil(4))?;
    bytemuck::cast_slice_mut::<u32, u8>(px)
        .get_mut(..n)
        .ok_or(WireError::new(0, "out of memory for image"))
}

/// Pixels of staging needed for `bytes` staged bytes.
pub fn pixels_for_bytes(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// Lengthen `run` to at least `n` pixels.
fn grow(run: &mut Vec<u32>, n: usize) -> Result<(), WireError> {
    if n > run.len() {
        run.try_reserve_exact(n - run.len())
            .map_err(|_| WireError::new(0, "out of memory for image"))?;
        run.resize(n, 0);
    }
    Ok(())
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

/// Test support for the decoders' `decode_into_with`: [`assert_into_matches`]
/// twice more through one staging buffer left dirty between uses (the
/// second round's is all dirty), which must never hold more than
/// `staging_pixels` asked for.
#[cfg(test)]
pub(crate) fn assert_staged_into_matches(
    expected: &Image,
    staging_pixels: impl Fn(&Dest<'_>) -> usize,
    mut decode_into_with: impl FnMut(&mut Dest<'_>, &mut Vec<u32>) -> Result<(), WireError>,
) {
    use alloc::vec;
    let mut stage = vec![0xdead_beef; 3];
    let mut most = 3;
    for _ in 0..2 {
        assert_into_matches(expected, |dst| {
            most = most.max(staging_pixels(dst));
            stage.fill(0xdead_beef);
            decode_into_with(dst, &mut stage)?;
            assert!(stage.len() <= most, "staged {} > {most}", stage.len());
            Ok(())
        });
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
    fn staging_grows_once_keeps_its_contents_and_is_charged() {
        let budget = Budget::new(1 << 10);
        let mut s = Staging::default();
        s.reserve(16, &budget).expect("fits");
        assert_eq!(s.charged(), 64);
        assert_eq!(budget.used(), 64);
        staged(s.pixels_mut(), 16).expect("room").fill(7);
        let bytes = staged_bytes(s.pixels_mut(), 5).expect("room");
        assert_eq!((bytes.len(), &bytes[..4]), (5, &7u32.to_ne_bytes()[..]));
        let ptr = s.pixels_mut().as_ptr();
        s.reserve(8, &budget).expect("fits");
        let run = staged(s.pixels_mut(), 8).expect("room");
        assert_eq!(run, [7; 8], "not cleared");
        assert_eq!(run.as_ptr(), ptr, "no new buffer");
        assert_eq!(budget.used(), 64, "charged at its largest");
        assert!(s.reserve(1 << 10, &budget).is_err(), "over budget");
        assert_eq!(s.pixels_mut().len(), 16, "left as it was");
        drop(s);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn size_mismatch_is_refused() {
        let mut buf = vec![0u32; 4];
        let d = Dest::new(&mut buf, 2, 2, 2).expect("fits");
        assert!(d.check_size(2, 2).is_ok());
        assert!(d.check_size(1, 4).is_err());
    }
}
