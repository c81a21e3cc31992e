//! One QUIC coding pass over a row: a set of 1 or 3 channels that share a
//! wait/run state, each with its own context model and previous-residual row.
//!
//! Owns the adaptive part of the decoder: Golomb code selection per context
//! bucket, the randomised model updates, the wait-mask schedule and the
//! run-length (MELCODE) mode. Channels are read from and written to bit
//! fields of `0xAARRGGBB` pixels given by a shift each; a pass never touches
//! bits outside its channels. It must not know about image types or output
//! formats (that is the parent module's job).

use super::bits::Bits;
use super::family::{Family, FAMILY_5BPC, FAMILY_8BPC, HALVING_TRIGGER, MAX_CODES, RUN_ORDER, WAIT_CHAOS};
use crate::error::WireError;
use alloc::vec::Vec;

/// Pixels coded with one wait mask before the next (larger) one is used.
const WAIT_STEP_PIXELS: u32 = 2048;
/// Largest wait-mask index: at most 63 pixels between model updates.
const WAIT_INDEX_MAX: u32 = 6;
/// Buckets per channel model (8 for 8 bpc, 5 used for 5 bpc).
const BUCKETS: usize = 8;

/// Adaptive state shared by the channels of a pass.
struct Schedule {
    /// Pixels still to code before the next model update.
    wait: u32,
    /// Position in [`WAIT_CHAOS`].
    seed: u8,
    /// Current wait-mask index (0..=[`WAIT_INDEX_MAX`]).
    wait_index: u32,
    /// Pixels left before the wait-mask index grows.
    wait_left: u32,
    /// Counter sum above which bucket counters are halved.
    trigger: u32,
    /// Run-length coder state (index into [`RUN_ORDER`]).
    run_state: usize,
}

impl Schedule {
    fn new() -> Self {
        Schedule {
            wait: 0,
            seed: 0xff,
            wait_index: 0,
            wait_left: WAIT_STEP_PIXELS,
            trigger: HALVING_TRIGGER[0],
            run_state: 0,
        }
    }

    /// The next pseudo-random wait, masked by the current wait mask.
    #[inline]
    fn next_wait(&mut self, mask: u32) -> u32 {
        self.seed = self.seed.wrapping_add(1);
        WAIT_CHAOS[self.seed as usize] & mask
    }

    fn advance_wait_index(&mut self) {
        self.wait_index += 1;
        self.trigger = HALVING_TRIGGER[(self.wait_index as usize).min(HALVING_TRIGGER.len() - 1)];
        self.wait_left = WAIT_STEP_PIXELS;
    }
}

/// Context model of one channel: per bucket, the accumulated code lengths
/// each Golomb code would have produced, and the best code so far.
struct Model {
    counters: [[u32; MAX_CODES]; BUCKETS],
    best: [u8; BUCKETS],
}

/// A decoding pass over `N` channels of `BPC` bits each.
pub(super) struct Pass<const N: usize, const BPC: usize> {
    /// Bit position of each channel in a pixel.
    shifts: [u32; N],
    /// All bits of the pixel that belong to this pass.
    owned: u32,
    /// Per channel, the folded residuals of the row being decoded; slot 0
    /// is the context for pixel 0, slot `i + 1` holds pixel `i`. Slots not
    /// yet rewritten in the current row (and those skipped by runs) keep
    /// older values, which the format relies on.
    residuals: [Vec<u8>; N],
    models: [Model; N],
    schedule: Schedule,
}

impl<const N: usize, const BPC: usize> Pass<N, BPC> {
    const MASK: u32 = (1 << BPC) - 1;

    fn family() -> &'static Family {
        if BPC == 8 {
            &FAMILY_8BPC
        } else {
            &FAMILY_5BPC
        }
    }

    /// A fresh pass for rows of `width` pixels, channel `c` at bit `shifts[c]`.
    pub(super) fn new(width: usize, shifts: [u32; N]) -> Result<Self, WireError> {
        let mut residuals: [Vec<u8>; N] = core::array::from_fn(|_| Vec::new());
        for row in residuals.iter_mut() {
            let len = width.checked_add(1).ok_or(WireError::new(0, "image too large"))?;
            row.try_reserve_exact(len)
                .map_err(|_| WireError::new(0, "out of memory for image"))?;
            row.resize(len, 0);
        }
        let owned = shifts.iter().fold(0, |m, &s| m | (Self::MASK << s));
        Ok(Pass {
            shifts,
            owned,
            residuals,
            models: core::array::from_fn(|_| Model {
                counters: [[0; MAX_CODES]; BUCKETS],
                best: [(BPC - 1) as u8; BUCKETS],
            }),
            schedule: Schedule::new(),
        })
    }

    #[inline(always)]
    fn channel(&self, pixel: u32, c: usize) -> u32 {
        (pixel >> self.shifts[c]) & Self::MASK
    }

    #[inline(always)]
    fn same(&self, p: u32, q: u32) -> bool {
        (p ^ q) & self.owned == 0
    }

    /// Decode this pass's channels of row `cur`. `prev` is the row above,
    /// or `None` for the first row of the image.
    pub(super) fn row(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
    ) -> Result<(), WireError> {
        for r in self.residuals.iter_mut() {
            // Pixel 0's context: 0 on the first row, else pixel 0 of the row above.
            let ctx = if prev.is_some() { r.get(1).copied().unwrap_or(0) } else { 0 };
            if let Some(slot) = r.first_mut() {
                *slot = ctx;
            }
        }
        let width = cur.len();
        let mut pos = 0usize;
        loop {
            let left = width - pos;
            let s = &self.schedule;
            let mask = (1u32 << s.wait_index) - 1;
            if s.wait_index < WAIT_INDEX_MAX && s.wait_left as usize <= left {
                let end = pos + s.wait_left as usize;
                if end > pos {
                    self.segment(bits, prev, cur, pos, end, mask)?;
                }
                pos = end;
                self.schedule.advance_wait_index();
            } else {
                if left > 0 {
                    self.segment(bits, prev, cur, pos, width, mask)?;
                    if self.schedule.wait_index < WAIT_INDEX_MAX {
                        self.schedule.wait_left -= left as u32;
                    }
                }
                return Ok(());
            }
        }
    }

    fn segment(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
        start: usize,
        end: usize,
        mask: u32,
    ) -> Result<(), WireError> {
        match prev {
            None => self.segment_first(bits, &mut cur[..end], start, mask),
            Some(prev) => self.segment_next(bits, &prev[..end], &mut cur[..end], start, mask),
        }
    }

    /// Decode one pixel's channels at `i` with the given predictions; the
    /// pixel keeps its bits outside this pass.
    #[inline(always)]
    fn pixel(&mut self, bits: &mut Bits<'_>, i: usize, predict: [u32; N]) -> u32 {
        let family = Self::family();
        let mut px = 0;
        for c in 0..N {
            let row = &mut self.residuals[c];
            let ctx = row[i];
            let code = self.models[c].best[family.bucket[ctx as usize] as usize % BUCKETS];
            let (value, len) = family.decode(code as usize, bits.peek());
            bits.eat(len);
            row[i + 1] = value;
            let v = (u32::from(family.unfold[value as usize]) + predict[c]) & Self::MASK;
            px |= v << self.shifts[c];
        }
        px
    }

    /// Account pixel `i`'s residuals in the models of their contexts.
    fn update_models(&mut self, i: usize) {
        let family = Self::family();
        let trigger = self.schedule.trigger;
        for c in 0..N {
            let ctx = self.residuals[c][i];
            let value = self.residuals[c][i + 1];
            let model = &mut self.models[c];
            let b = family.bucket[ctx as usize] as usize % BUCKETS;
            let counters = &mut model.counters[b];
            let lens = &family.code_len[value as usize];
            let mut best = BPC - 1;
            counters[best] = counters[best].wrapping_add(u32::from(lens[best]));
            let mut best_sum = counters[best];
            for l in (0..BPC - 1).rev() {
                counters[l] = counters[l].wrapping_add(u32::from(lens[l]));
                if counters[l] < best_sum {
                    best = l;
                    best_sum = counters[l];
                }
            }
            model.best[b] = best as u8;
            if best_sum > trigger {
                for n in counters[..BPC].iter_mut() {
                    *n >>= 1;
                }
            }
        }
    }

    /// Handle pixel 0's wait/update bookkeeping; returns the first stop index.
    fn after_first_pixel(&mut self, mask: u32) -> usize {
        if self.schedule.wait > 0 {
            self.schedule.wait -= 1;
        } else {
            self.schedule.wait = self.schedule.next_wait(mask);
            self.update_models(0);
        }
        1 + self.schedule.wait as usize
    }

    /// A segment of the image's first row: each channel predicted from the
    /// pixel to its left; no run mode.
    fn segment_first(&mut self, bits: &mut Bits<'_>, cur: &mut [u32], start: usize, mask: u32) -> Result<(), WireError> {
        let end = cur.len();
        let mut i = start;
        if i == 0 {
            let px = self.pixel(bits, 0, [0; N]);
            cur[0] = (cur[0] & !self.owned) | px;
            i = 1;
            self.after_first_pixel(mask);
        }
        let mut stop = i + self.schedule.wait as usize;
        while i < end {
            let left = cur[i - 1];
            let predict = core::array::from_fn(|c| self.channel(left, c));
            let px = self.pixel(bits, i, predict);
            cur[i] = (cur[i] & !self.owned) | px;
            if i == stop {
                self.update_models(i);
                stop = i + 1 + self.schedule.next_wait(mask) as usize;
            }
            i += 1;
        }
        self.schedule.wait = (stop - end) as u32;
        Ok(())
    }

    /// A segment of a later row: channels predicted from the mean of the
    /// left and upper neighbours, with run mode where the row above is flat.
    fn segment_next(
        &mut self,
        bits: &mut Bits<'_>,
        prev: &[u32],
        cur: &mut [u32],
        start: usize,
        mask: u32,
    ) -> Result<(), WireError> {
        let end = cur.len();
        let mut i = start;
        if i == 0 {
            let up = prev[0];
            let predict = core::array::from_fn(|c| self.channel(up, c));
            let px = self.pixel(bits, 0, predict);
            cur[0] = (cur[0] & !self.owned) | px;
            i = 1;
            self.after_first_pixel(mask);
        }
        let mut stop = i + self.schedule.wait as usize;
        let mut run_at = 0usize;
        while i < end {
            if i > 2
                && run_at != i
                && self.same(prev[i - 1], prev[i])
                && self.same(cur[i - 1], cur[i - 2])
            {
                self.schedule.wait = (stop - i) as u32;
                run_at = i;
                let run = self.read_run(bits, end - i)?;
                for j in i..i + run {
                    cur[j] = (cur[j] & !self.owned) | (cur[j - 1] & self.owned);
                }
                i += run;
                if i == end {
                    return Ok(());
                }
                stop = i + self.schedule.wait as usize;
                continue;
            }
            let (left, up) = (cur[i - 1], prev[i]);
            let predict = core::array::from_fn(|c| (self.channel(left, c) + self.channel(up, c)) >> 1);
            let px = self.pixel(bits, i, predict);
            cur[i] = (cur[i] & !self.owned) | px;
            if i == stop {
                self.update_models(i);
                stop = i + 1 + self.schedule.next_wait(mask) as usize;
            }
            i += 1;
        }
        self.schedule.wait = (stop - end) as u32;
        Ok(())
    }

    /// Read a run length (MELCODE): a one per run of `2^order` pixels
    /// (adapting the order upwards), then a zero and the remainder in
    /// `order` bits; the order then steps back down once. Fails if the run
    /// would pass `max` pixels.
    fn read_run(&mut self, bits: &mut Bits<'_>, max: usize) -> Result<usize, WireError> {
        let too_long = |bits: &Bits<'_>| bits.error("QUIC run passes the end of the row");
        let s = &mut self.schedule;
        let mut run = 0usize;
        loop {
            let ones = bits.peek().leading_ones();
            for _ in 0..ones {
                run += 1 << RUN_ORDER[s.run_state];
                if run > max {
                    return Err(too_long(bits));
                }
                if s.run_state < RUN_ORDER.len() - 1 {
                    s.run_state += 1;
                }
            }
            if ones < 32 {
                bits.eat(ones + 1);
                break;
            }
            bits.eat(32);
        }
        let order = RUN_ORDER[s.run_state];
        if order > 0 {
            run += (bits.peek() >> (32 - order)) as usize;
            bits.eat(order);
        }
        if s.run_state > 0 {
            s.run_state -= 1;
        }
        if run > max {
            return Err(too_long(bits));
        }
        Ok(run)
    }
}
