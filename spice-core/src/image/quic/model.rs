//! The adaptive state of a QUIC coding pass, common to coding and decoding:
//! per-channel context models (which Golomb code each context bucket uses)
//! and the schedule that decides when models are updated and how rows are
//! cut into segments.
//!
//! Owns state transitions only; it reads no input and must not depend on
//! anything outside `family`, so that the reference-checked test encoder can
//! share it.

use super::family::{Family, FAMILY_5BPC, FAMILY_8BPC, HALVING_TRIGGER, MAX_CODES, WAIT_CHAOS};

/// Pixels coded with one wait mask before the next (larger) one is used.
const WAIT_STEP_PIXELS: u32 = 2048;
/// Largest wait-mask index: at most 63 pixels between model updates.
const WAIT_INDEX_MAX: u32 = 6;
/// Buckets per channel model (8 for 8 bpc, 5 used for 5 bpc).
pub(super) const BUCKETS: usize = 8;

/// The code family for channels of `bpc` bits (8, or 5 for RGB16).
pub(super) fn family(bpc: usize) -> &'static Family {
    if bpc == 8 {
        &FAMILY_8BPC
    } else {
        &FAMILY_5BPC
    }
}

/// Adaptive state shared by the channels of a pass.
pub(super) struct Schedule {
    /// Pixels still to code before the next model update.
    pub(super) wait: u32,
    /// Position in [`WAIT_CHAOS`].
    seed: u8,
    /// Current wait-mask index (0..=[`WAIT_INDEX_MAX`]).
    wait_index: u32,
    /// Pixels left before the wait-mask index grows.
    wait_left: u32,
    /// Counter sum above which bucket counters are halved.
    pub(super) trigger: u32,
    /// Run-length coder state (index into `RUN_ORDER`).
    pub(super) run_state: usize,
}

impl Schedule {
    /// The state at the start of an image.
    pub(super) fn new() -> Self {
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
    pub(super) fn next_wait(&mut self) -> u32 {
        self.seed = self.seed.wrapping_add(1);
        WAIT_CHAOS[self.seed as usize] & self.wait_mask()
    }

    /// Largest wait between two model updates in the current segment.
    pub(super) fn wait_mask(&self) -> u32 {
        (1u32 << self.wait_index) - 1
    }

    /// Where the segment starting at `pos` of a `width`-pixel row ends, and
    /// whether it is the row's last: a new segment (with a larger wait mask)
    /// starts every 2048 pixels until the largest mask is reached.
    pub(super) fn segment_end(&self, pos: usize, width: usize) -> (usize, bool) {
        let left = width - pos;
        if self.wait_index < WAIT_INDEX_MAX && self.wait_left as usize <= left {
            (pos + self.wait_left as usize, false)
        } else {
            (width, true)
        }
    }

    /// Account a coded segment of `len` pixels ([`Self::segment_end`] said
    /// whether it was the `last` of its row).
    pub(super) fn segment_done(&mut self, len: usize, last: bool) {
        if !last {
            self.wait_index += 1;
            self.trigger =
                HALVING_TRIGGER[(self.wait_index as usize).min(HALVING_TRIGGER.len() - 1)];
            self.wait_left = WAIT_STEP_PIXELS;
        } else if self.wait_index < WAIT_INDEX_MAX {
            // `len < wait_left` here, or the segment would not be the last.
            self.wait_left -= len as u32;
        }
    }
}

/// Context model of one channel: per bucket, the accumulated code lengths
/// each Golomb code would have produced, and the best code so far.
pub(super) struct Model {
    counters: [[u32; MAX_CODES]; BUCKETS],
    /// The code to use in each bucket.
    pub(super) best: [u8; BUCKETS],
    /// The code to use for each context value, as its row of the family's
    /// short-codeword table ([`Family::short_row`]): `best` looked up through
    /// the family's bucket table ahead of time, so the decoder's hot loop
    /// does one load instead of two dependent ones. Filled for every byte value
    /// (the bucket table repeats every `2^bpc`), so no masking is needed.
    code_of: [u16; 256],
    /// First context value of each bucket (contexts are `0..2^bpc`, and a
    /// bucket is a contiguous range of them), then `2^bpc`.
    bucket_start: [u16; BUCKETS + 1],
    /// `2^bpc - 1`: the family's bucket table repeats with this period.
    ctx_mask: u8,
}

impl Model {
    /// A fresh model for `bpc`-bit channels (every bucket starts on the
    /// largest code).
    pub(super) fn new(bpc: usize) -> Self {
        Model {
            counters: [[0; MAX_CODES]; BUCKETS],
            best: [(bpc - 1) as u8; BUCKETS],
            code_of: [Family::short_row(bpc - 1) as u16; 256],
            bucket_start: bucket_starts(family(bpc), bpc),
            ctx_mask: ((1u32 << bpc) - 1) as u8,
        }
    }

    /// The code for context `ctx` as its row of the family's short-codeword
    /// table.
    #[inline(always)]
    pub(super) fn short_row(&self, ctx: u8) -> usize {
        usize::from(self.code_of[usize::from(ctx)])
    }

    /// Account a residual `value` coded in context `ctx`: add each code's
    /// codeword length to the bucket's counters, pick the code with the
    /// smallest sum (ties keep the larger code), and halve the counters once
    /// that sum passes `trigger`.
    pub(super) fn update<const BPC: usize>(
        &mut self,
        family: &Family,
        ctx: u8,
        value: u8,
        trigger: u32,
    ) {
        let b = family.bucket[ctx as usize] as usize % BUCKETS;
        let counters = &mut self.counters[b];
        let lens = &family.code_len[value as usize];
        // Branch-free minimum search (which code wins is data-dependent and
        // mispredicts a lot): scanning down, a strictly smaller sum wins, so
        // ties keep the larger code.
        let mut best = BPC - 1;
        counters[best] = counters[best].wrapping_add(u32::from(lens[best]));
        let mut best_sum = counters[best];
        for l in (0..BPC - 1).rev() {
            let sum = counters[l].wrapping_add(u32::from(lens[l]));
            counters[l] = sum;
            let smaller = sum < best_sum;
            best = if smaller { l } else { best };
            best_sum = best_sum.min(sum);
        }
        if self.best[b] != best as u8 {
            self.best[b] = best as u8;
            let (from, to) = (self.bucket_start[b], self.bucket_start[b + 1]);
            let period = usize::from(self.ctx_mask) + 1;
            for contexts in self.code_of.chunks_exact_mut(period) {
                if let Some(codes) = contexts.get_mut(from as usize..to as usize) {
                    codes.fill(Family::short_row(best) as u16);
                }
            }
        }
        if best_sum > trigger {
            for n in counters[..BPC].iter_mut() {
                *n >>= 1;
            }
        }
    }
}

/// Where each bucket's contexts start in `0..2^bpc` (buckets grow with the
/// context value); an unused bucket starts where the next one does.
fn bucket_starts(family: &Family, bpc: usize) -> [u16; BUCKETS + 1] {
    let top = 1usize << bpc;
    let mut start = [top as u16; BUCKETS + 1];
    for b in (0..BUCKETS).rev() {
        start[b] = start[b + 1];
        if let Some(first) = (0..top).find(|&v| family.bucket[v] as usize % BUCKETS == b) {
            start[b] = first as u16;
        }
    }
    start
}

/// Update every channel's model with one pixel's residuals `value`, coded
/// in contexts `ctx`.
#[inline]
pub(super) fn update_pixel<const N: usize, const BPC: usize>(
    models: &mut [Model; N],
    ctx: [u8; N],
    value: [u8; N],
    trigger: u32,
) {
    let family = family(BPC);
    for ((model, ctx), value) in models.iter_mut().zip(ctx).zip(value) {
        model.update::<BPC>(family, ctx, value, trigger);
    }
}
