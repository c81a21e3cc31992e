//! The LZ colour pass (RGB16, RGB24/32 and the colour pass of RGBA)
//! decoded straight into the rows of a strided destination, resumable at
//! row boundaries.
//!
//! Owns the stepping loop of a strided pass ([`RowPass`]): literal runs and
//! matches are split where the write position or a match's source crosses
//! a row end, and the pass can stop when it reaches a given row and go on
//! later from there (its state between calls: input position, write
//! position, the step in progress). The whole-image decode is one pass run
//! to the end; [`LzRows`] lets a caller run the passes of several images
//! side by side a band of rows at a time (QEMU sends each screen update as
//! 32-pixel-wide columns: decoding them in bands walks every surface row
//! left to right instead of touching a new page per row).

use super::super::backref::{copy_apart, copy_back};
use super::super::input::Input;
use super::super::pixel::bgr_to_xrgb;
use super::super::Dest;
use super::{
    check_expansion, dest_row, next_step, parse_header, rgb16_literals, Step, LZ_HEADER_SIZE,
    LZ_IMAGE_TYPE_RGB16, LZ_IMAGE_TYPE_RGB24, LZ_IMAGE_TYPE_RGB32,
};
use crate::error::WireError;

/// The rows of a strided destination an LZ pass writes, in stream order.
#[derive(Clone, Copy)]
struct Rows {
    width: usize,
    height: usize,
    stride: usize,
    top_down: bool,
}

/// A position in [`Rows`]: span index `pos` on row `r` (stream order),
/// which starts at span index `start` and ends (one past its last pixel)
/// at `end`.
#[derive(Clone, Copy)]
struct RowCursor {
    r: usize,
    start: usize,
    pos: usize,
    end: usize,
}

impl RowCursor {
    /// The column of `pos` on its row.
    #[inline(always)]
    fn column(&self) -> usize {
        self.pos - self.start
    }

    /// Pixels left on the row.
    #[inline(always)]
    fn room(&self) -> usize {
        self.end - self.pos
    }
}

impl Rows {
    /// The position of image pixel `i` (stream order).
    #[inline(always)]
    fn cursor(&self, i: usize) -> RowCursor {
        let r = i / self.width;
        let start = dest_row(r, self.height, self.top_down) * self.stride;
        RowCursor {
            r,
            start,
            pos: start + i % self.width,
            end: start + self.width,
        }
    }

    /// Move `at` on by `k` pixels, which end at or before its row's end;
    /// at the row's end it moves to the start of the next row (the last
    /// row's cursor stays at its end).
    #[inline(always)]
    fn advance(&self, at: &mut RowCursor, k: usize) {
        at.pos += k;
        if at.pos == at.end && at.r + 1 < self.height {
            at.r += 1;
            at.start = if self.top_down {
                at.start + self.stride
            } else {
                at.start - self.stride
            };
            at.pos = at.start;
            at.end = at.start + self.width;
        }
    }
}

/// The step a pass is in the middle of (when it stopped at a row end).
#[derive(Clone, Copy)]
enum Piece<'a> {
    /// Between steps: the next one is read from the stream.
    Idle,
    /// The coded literal units still to be written.
    Literals(&'a [u8]),
    /// `left` more copies of the pixel `v` (a match one pixel back).
    Fill { v: u32, left: usize },
    /// `left` more units copied from `from` on.
    Match { from: RowCursor, left: usize },
}

/// One LZ pass of whole pixels into strided rows: image pixel `i` (stream
/// order) is column `i % width` of row `dest_row(i / width)`. A piece
/// (literal run or match, cut at row ends) whose source overlaps it on the
/// row being written is copied with LZ semantics ([`copy_back`] within that
/// row), any other piece as block copies that stay on the row being written
/// ([`copy_apart`]); only a match reaching back past the start of the row
/// being written locates its source by division. Nothing is written
/// outside the image's own row spans.
pub(super) struct RowPass<'a> {
    inp: Input<'a>,
    rows: Rows,
    /// Pixels written so far (stream order).
    op: usize,
    at: RowCursor,
    piece: Piece<'a>,
}

impl<'a> RowPass<'a> {
    /// A pass reading `inp` into a `width x height` destination whose rows
    /// are `stride` apart.
    pub(super) fn new(
        inp: Input<'a>,
        width: usize,
        height: usize,
        stride: usize,
        top_down: bool,
    ) -> Self {
        let rows = Rows {
            width,
            height,
            stride,
            top_down,
        };
        Self {
            inp,
            rows,
            op: 0,
            at: rows.cursor(0),
            piece: Piece::Idle,
        }
    }

    /// Whether every pixel has been written.
    pub(super) fn done(&self) -> bool {
        self.op == self.rows.width * self.rows.height
    }

    /// The input, where the pass stands in it.
    pub(super) fn input(&mut self) -> &mut Input<'a> {
        &mut self.inp
    }

    /// Decode into `px` (the destination's span) until the first `stop`
    /// rows (stream order) are written or the image is. `len_bias` is as
    /// for [`next_step`]; a literal unit is `UNIT` stream bytes, which
    /// `literals` turns into pixels.
    #[inline(always)]
    pub(super) fn run<const UNIT: usize>(
        &mut self,
        px: &mut [u32],
        stop: usize,
        len_bias: usize,
        literals: impl Fn(&[u8], &mut [u32]),
    ) -> Result<(), WireError> {
        let mut w = Writer {
            px,
            rows: self.rows,
            op: self.op,
            at: self.at,
            stop,
        };
        let n = w.rows.width * w.rows.height;
        // First the rest of the step the last call stopped in.
        let mut piece = match self.piece {
            Piece::Idle => Piece::Idle,
            Piece::Literals(src) => w.literals::<UNIT>(src, src.len() / UNIT, &literals),
            Piece::Fill { v, left } => w.fill(v, left),
            Piece::Match { from, left } => w.copy(from, left),
        };
        let inp = &mut self.inp;
        let mut result = Ok(());
        // A step cut short leaves the write position on row `stop`.
        while w.op < n && w.at.r < stop {
            piece = match next_step(inp, w.op, n, len_bias) {
                Ok(Step::Literals(count)) => match inp.take(count * UNIT) {
                    Ok(src) => w.literals::<UNIT>(src, count, &literals),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                },
                Ok(Step::Match { back: 1, len }) => {
                    // A run of the last pixel: a fill of each row piece.
                    let v = if w.at.column() > 0 {
                        w.px[w.at.pos - 1]
                    } else {
                        w.px[w.rows.cursor(w.op - 1).pos]
                    };
                    w.fill(v, len)
                }
                Ok(Step::Match { back, len }) => {
                    let from = if back <= w.at.column() {
                        RowCursor {
                            pos: w.at.pos - back,
                            ..w.at
                        }
                    } else {
                        w.rows.cursor(w.op - back)
                    };
                    w.copy(from, len)
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
        }
        (self.op, self.at, self.piece) = (w.op, w.at, piece);
        result
    }
}

/// The write side of a [`RowPass`] call: the span, where the pass writes
/// next and the row it stops at.
struct Writer<'p> {
    px: &'p mut [u32],
    rows: Rows,
    op: usize,
    at: RowCursor,
    stop: usize,
}

impl Writer<'_> {
    /// Write the `left` literal units `src`, cut at row ends; what is left
    /// of them if row `stop` is reached first.
    #[inline(always)]
    fn literals<'a, const UNIT: usize>(
        &mut self,
        mut src: &'a [u8],
        mut left: usize,
        literals: &impl Fn(&[u8], &mut [u32]),
    ) -> Piece<'a> {
        // Usually the run fits on the row: one piece, no split.
        while left > self.at.room() {
            let k = self.at.room();
            let (now, rest) = src.split_at(k * UNIT);
            literals(now, &mut self.px[self.at.pos..self.at.end]);
            src = rest;
            left -= k;
            self.op += k;
            self.rows.advance(&mut self.at, k);
            if self.at.r >= self.stop {
                return Piece::Literals(src);
            }
        }
        literals(src, &mut self.px[self.at.pos..self.at.pos + left]);
        self.op += left;
        self.rows.advance(&mut self.at, left);
        Piece::Idle
    }

    /// Write `left` copies of `v`, cut at row ends; what is left of them if
    /// row `stop` is reached first.
    #[inline(always)]
    fn fill(&mut self, v: u32, mut left: usize) -> Piece<'static> {
        loop {
            let k = left.min(self.at.room());
            self.px[self.at.pos..self.at.pos + k].fill(v);
            left -= k;
            self.op += k;
            self.rows.advance(&mut self.at, k);
            if left == 0 {
                return Piece::Idle;
            }
            if self.at.r >= self.stop {
                return Piece::Fill { v, left };
            }
        }
    }

    /// Copy `left` units from `from` on, cut where either side crosses a
    /// row end; what is left of them if row `stop` is reached first.
    #[inline(always)]
    fn copy(&mut self, mut from: RowCursor, mut left: usize) -> Piece<'static> {
        let at = &mut self.at;
        loop {
            let k = left.min(at.room()).min(from.room());
            if from.r != at.r || at.pos - from.pos >= k {
                copy_apart(self.px, from.pos, at.pos, k, at.end);
            } else {
                copy_back(&mut self.px[..at.end], at.pos, at.pos - from.pos, k);
            }
            left -= k;
            self.op += k;
            self.rows.advance(at, k);
            self.rows.advance(&mut from, k);
            if left == 0 {
                return Piece::Idle;
            }
            if at.r >= self.stop {
                return Piece::Match { from, left };
            }
        }
    }
}

/// How an [`LzRows`] image's literals are coded.
#[derive(Clone, Copy)]
enum Coding {
    /// RGB16: x555, two bytes a pixel.
    Rgb16,
    /// RGB24/32: b, g, r bytes.
    Bgr,
}

/// An LZ colour image (RGB16, RGB24 or RGB32: no alpha, no palette) being
/// decoded into a strided destination a band of rows at a time: each
/// [`LzRows::run`] goes on from where the last stopped. Stopped and resumed
/// or not, it writes what [`decode_into`](super::decode_into) writes into
/// a destination whose rows are not contiguous (the same pass), and fails
/// where it fails.
pub struct LzRows<'a> {
    pass: RowPass<'a>,
    coding: Coding,
}

impl<'a> LzRows<'a> {
    /// Start decoding `data` (an LZ payload) into `dst`'s geometry.
    /// `Ok(None)`: not a colour type this decodes (use
    /// [`decode_into`](super::decode_into)); an error: what
    /// [`decode_into`](super::decode_into) would report before writing
    /// anything (bad header, wrong size, too little data for the size).
    pub fn new(data: &'a [u8], dst: &Dest<'_>) -> Result<Option<Self>, WireError> {
        let h = parse_header(data)?;
        dst.check_size(h.width, h.height)?;
        let coding = match h.kind {
            LZ_IMAGE_TYPE_RGB16 => Coding::Rgb16,
            LZ_IMAGE_TYPE_RGB24 | LZ_IMAGE_TYPE_RGB32 => Coding::Bgr,
            _ => return Ok(None),
        };
        check_expansion(&h, data.len())?;
        let inp = Input::new(data, LZ_HEADER_SIZE, "LZ stream truncated");
        let pass = RowPass::new(inp, dst.width(), dst.height(), dst.stride(), h.top_down);
        Ok(Some(Self { pass, coding }))
    }

    /// Whether every row has been written.
    pub fn done(&self) -> bool {
        self.pass.done()
    }

    /// Decode into `dst` (the same rectangle as at [`LzRows::new`]) until
    /// the first `rows` rows of the stream are written, or all of them.
    pub fn run(&mut self, dst: &mut Dest<'_>, rows: usize) -> Result<(), WireError> {
        let Rows {
            width,
            height,
            stride,
            ..
        } = self.pass.rows;
        if (dst.width(), dst.height(), dst.stride()) != (width, height, stride) {
            return Err(WireError::new(0, "destination rectangle out of bounds"));
        }
        let px = dst.span_mut();
        match self.coding {
            Coding::Rgb16 => self.pass.run::<2>(px, rows, 2, rgb16_literals),
            Coding::Bgr => self.pass.run::<3>(px, rows, 1, bgr_to_xrgb),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::random_rgb32;
    use super::super::{decode_into, LZ_HEADER_SIZE};
    use super::LzRows;
    use crate::image::Dest;
    use alloc::vec;
    use rand::{Rng, SeedableRng};

    /// Decode `data` (`w x h`) into a `stride`-wide buffer whole, and with
    /// [`LzRows`] in bands of random heights: the same pixels and the same
    /// error.
    fn same_both_ways(rng: &mut impl Rng, data: &[u8], w: usize, h: usize, stride: usize) {
        let len = (h - 1) * stride + w;
        let mut whole = vec![0u32; len];
        let want = decode_into(
            data,
            None,
            &mut Dest::new(&mut whole, w, h, stride).unwrap(),
        );
        let mut banded = vec![0u32; len];
        let mut dst = Dest::new(&mut banded, w, h, stride).unwrap();
        let got = match LzRows::new(data, &dst) {
            Err(e) => Err(e),
            Ok(None) => panic!("a colour image"),
            Ok(Some(mut rows)) => {
                let mut stop = 0;
                loop {
                    stop = (stop + rng.gen_range(1..=h.min(20))).min(h);
                    let r = rows.run(&mut dst, stop);
                    if r.is_err() || stop == h {
                        assert!(r.is_err() || rows.done());
                        break r;
                    }
                }
            }
        };
        assert_eq!(got, want, "{w}x{h}");
        if let Some(i) = (0..len).find(|&i| banded[i] != whole[i]) {
            panic!(
                "{w}x{h} stride {stride}: pixel {} of row {} {:08x} whole, {:08x} banded ({want:?})",
                i % stride,
                i / stride,
                whole[i],
                banded[i]
            );
        }
    }

    #[test]
    fn banded_decoding_matches_whole_decoding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for round in 0..400 {
            let w = rng.gen_range(1..=40);
            let h = rng.gen_range(1..=50);
            let top_down = rng.gen_range(0..2);
            let mut data = random_rgb32(&mut rng, w as u32, h as u32, top_down);
            match round % 3 {
                1 => data.truncate(rng.gen_range(LZ_HEADER_SIZE..=data.len())),
                2 => {
                    for _ in 0..rng.gen_range(1..4) {
                        let at = rng.gen_range(LZ_HEADER_SIZE..data.len());
                        data[at] ^= rng.gen_range(1..=255u8);
                    }
                }
                _ => {}
            }
            // Strided, as columns of a surface (a contiguous bottom-up image
            // that fails is left unflipped by `decode_into`).
            let stride = w + rng.gen_range(1..30);
            same_both_ways(&mut rng, &data, w, h, stride);
        }
    }
}
