//! Rows handed on while a decoder fills a linear pixel run: [`Rows`] is
//! told how far the run has grown, and [`RowCopy`] copies each row into a
//! [`Dest`] as soon as it is complete, while it is still in the cache, so a
//! decoder that must keep its own copy of the image (GLZ's window) writes
//! the destination in the same pass instead of a second one over the whole
//! image.
//!
//! A leaf module: it knows no codec and parses nothing; it never reads
//! outside the run or writes outside the destination.

use super::dest::Dest;

/// Handed the run a decoder has decoded so far whenever it reaches the
/// length asked for.
pub trait Rows {
    /// The run length (above `len`, at most `end`, the run's full length)
    /// at which the decoder should next call [`advance`](Self::advance).
    fn stop(&self, len: usize, end: usize) -> usize;
    /// `run` is everything decoded so far (it only grows).
    fn advance(&mut self, run: &[u32]);
}

/// Rows that go nowhere (the decoder's run is the only output).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRows;

impl Rows for NoRows {
    #[inline(always)]
    fn stop(&self, _len: usize, end: usize) -> usize {
        end
    }
    #[inline(always)]
    fn advance(&mut self, _run: &[u32]) {}
}

/// Units [`RowCopy`] lets a decoder run on before it copies rows: 16 KiB,
/// well inside a first-level data cache.
const CHUNK: usize = 4096;

/// Copies the run's rows (`dst`'s width each) into `dst` as they complete,
/// top row first, or flipped (the run's first row is `dst`'s last).
#[derive(Debug)]
pub struct RowCopy<'d, 'a> {
    dst: &'d mut Dest<'a>,
    flip: bool,
    /// Rows copied so far.
    done: usize,
    /// Run length at which the next row is complete.
    next: usize,
}

impl<'d, 'a> RowCopy<'d, 'a> {
    /// A copier into `dst`, flipped when `flip`.
    pub fn new(dst: &'d mut Dest<'a>, flip: bool) -> Self {
        let next = dst.width();
        Self {
            dst,
            flip,
            done: 0,
            next,
        }
    }

    /// Rows copied so far.
    #[cfg(test)]
    pub fn done(&self) -> usize {
        self.done
    }

    /// Copy every complete row of `run` not yet copied.
    #[inline(never)]
    fn copy_rows(&mut self, run: &[u32]) {
        let (w, h, stride) = (self.dst.width(), self.dst.height(), self.dst.stride());
        let rows = (run.len() / w.max(1)).min(h);
        let Some(src) = run.get(self.done * w..rows * w) else {
            return;
        };
        let span = self.dst.span_mut();
        for (k, row) in (self.done..).zip(src.chunks_exact(w.max(1))) {
            let y = if self.flip { h - 1 - k } else { k };
            if let Some(d) = span.get_mut(y * stride..y * stride + w) {
                d.copy_from_slice(row);
            }
        }
        self.done = rows;
        self.next = (rows + 1) * w;
    }
}

impl Rows for RowCopy<'_, '_> {
    /// Whole rows, at least [`CHUNK`] units past the last row copied
    /// (rows are handed on while they are in the first-level cache, and
    /// narrow images are not stopped for every row).
    fn stop(&self, len: usize, end: usize) -> usize {
        let w = self.dst.width().max(1);
        let copied = self.next.saturating_sub(w);
        let want = copied.saturating_add(CHUNK).max(len.saturating_add(1));
        want.div_ceil(w).saturating_mul(w).min(end)
    }

    #[inline(always)]
    fn advance(&mut self, run: &[u32]) {
        if run.len() >= self.next {
            self.copy_rows(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A 3x2 rectangle at (1, 1) of a 5-wide buffer of 4 rows.
    fn fill(flip: bool, steps: &[usize]) -> (Vec<u32>, Vec<usize>) {
        let mut buf = vec![0u32; 20];
        let mut dst = Dest::new(&mut buf[6..], 3, 2, 5).unwrap();
        let run: Vec<u32> = (1..=6).collect();
        let mut rows = RowCopy::new(&mut dst, flip);
        let mut done = Vec::new();
        for &n in steps {
            rows.advance(&run[..n]);
            done.push(rows.done());
        }
        (buf, done)
    }

    #[test]
    fn rows_land_as_they_complete_top_down_or_flipped() {
        // (flip, run steps, rows done after each step, rows 1 and 2 of the 5-wide buffer)
        type Case = (bool, &'static [usize], &'static [usize], [u32; 3], [u32; 3]);
        let cases: [Case; 2] = [
            (false, &[2, 3, 5, 6], &[0, 1, 1, 2], [1, 2, 3], [4, 5, 6]),
            (true, &[6], &[2], [4, 5, 6], [1, 2, 3]),
        ];
        for (flip, steps, want_done, row1, row2) in cases {
            let (buf, done) = fill(flip, steps);
            assert_eq!(done, want_done, "flip {flip}");
            let mut want = vec![0u32; 20];
            want[6..9].copy_from_slice(&row1);
            want[11..14].copy_from_slice(&row2);
            assert_eq!(buf, want, "flip {flip}");
        }
    }

    #[test]
    fn stops_fall_on_row_ends_a_chunk_apart() {
        let mut buf = vec![0u32; 3000 * 4];
        let mut dst = Dest::new(&mut buf, 3000, 4, 3000).unwrap();
        let mut rows = RowCopy::new(&mut dst, false);
        // Two 3000-pixel rows hold the first 4096-unit chunk; never past the end.
        assert_eq!(rows.stop(0, 12000), 6000);
        assert_eq!(rows.stop(6500, 12000), 9000);
        assert_eq!(rows.stop(0, 5000), 5000);
        let run = vec![1u32; 6000];
        rows.advance(&run);
        assert_eq!(rows.stop(6000, 12000), 12000);
        // Narrow rows: many to a chunk.
        let mut buf = vec![0u32; 32 * 1000];
        let mut dst = Dest::new(&mut buf, 32, 1000, 32).unwrap();
        let rows = RowCopy::new(&mut dst, false);
        assert_eq!(rows.stop(0, 32000), 4096);
        assert_eq!(NoRows.stop(7, 100), 100);
    }

    #[test]
    fn a_run_longer_than_the_rectangle_writes_no_more() {
        let mut buf = vec![0u32; 4];
        let mut dst = Dest::new(&mut buf, 2, 2, 2).unwrap();
        let run: Vec<u32> = (1..=8).collect();
        let mut rows = RowCopy::new(&mut dst, false);
        rows.advance(&run);
        assert_eq!(rows.done(), 2);
        assert_eq!(buf, vec![1, 2, 3, 4]);
    }
}
