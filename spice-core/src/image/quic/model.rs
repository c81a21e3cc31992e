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
    /// Largest wait between two model updates in the current segment:
    /// `2^wait_index - 1`.
    wait_mask: u32,
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
            wait_mask: 0,
            wait_left: WAIT_STEP_PIXELS,
            trigger: HALVING_TRIGGER[0],
            run_state: 0,
        }
    }

    /// The next pseudo-random wait, masked by the current wait mask.
    #[inline]
    pub(super) fn next_wait(&mut self) -> u32 {
        self.seed = self.seed.wrapping_add(1);
        WAIT_CHAOS[self.seed as usize] & self.wait_mask
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
            self.wait_mask = (1 << self.wait_index) - 1;
            self.trigger =
                HALVING_TRIGGER[(self.wait_index as usize).min(HALVING_TRIGGER.len() - 1)];
            self.wait_left = WAIT_STEP_PIXELS;
        } else if self.wait_index < WAIT_INDEX_MAX {
            // `len < wait_left` here, or the segment would not be the last.
            self.wait_left -= len as u32;
        }
    }
}

/// Per code `b`, a one for each code above `b` that a family of `bpc` codes
/// has (what a larger code's sum must exceed `b`'s by to win from it), and
/// in the last row (`MAX_CODES`) all ones for the codes the family has at
/// all (the codes whose sums are compared).
const fn codes_above(bpc: usize) -> [[u16; MAX_CODES]; MAX_CODES + 1] {
    let mut t = [[0u16; MAX_CODES]; MAX_CODES + 1];
    let mut b = 0;
    while b < MAX_CODES {
        let mut l = b + 1;
        while l < bpc {
            t[b][l] = 1;
            l += 1;
        }
        b += 1;
    }
    let mut l = 0;
    while l < bpc {
        t[MAX_CODES][l] = u16::MAX;
        l += 1;
    }
    t
}

const CODES_ABOVE_8BPC: [[u16; MAX_CODES]; MAX_CODES + 1] = codes_above(8);
const CODES_ABOVE_5BPC: [[u16; MAX_CODES]; MAX_CODES + 1] = codes_above(5);

/// Context model of one channel: per bucket, the accumulated code lengths
/// each Golomb code would have produced, and the best code so far.
///
/// Counters fit 16 bits: the smallest grows by at least 1 per update and
/// all are halved once it passes the trigger (at most 900), so between
/// halvings there are at most 901 updates of at most
/// [`CODEWORD_LIMIT`](super::family) (26) bits each, and a counter (or a
/// counter plus one) never reaches `2 * 26 * 901 < 2^16`. So all codes of
/// a bucket are added and compared in one 128-bit vector.
pub(super) struct Model {
    counters: [[u16; MAX_CODES]; BUCKETS],
    /// The code to use in each bucket.
    pub(super) best: [u8; BUCKETS],
    /// The code to use for each context value: `best` looked up through
    /// the family's bucket table ahead of time, so the decoder's hot loop
    /// does one load instead of two dependent ones. Filled for every byte
    /// value (the bucket table repeats every `2^bpc`), so no masking is
    /// needed.
    code_of: [u8; 256],
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
            code_of: [(bpc - 1) as u8; 256],
            ctx_mask: ((1u32 << bpc) - 1) as u8,
        }
    }

    /// The code for context `ctx`.
    #[inline(always)]
    pub(super) fn code(&self, ctx: u8) -> usize {
        usize::from(self.code_of[usize::from(ctx)])
    }

    /// Account a residual `value` coded in context `ctx`: add each code's
    /// codeword length to the bucket's counters, pick the code with the
    /// smallest sum (ties keep the larger code), and halve the counters once
    /// that sum passes `trigger`.
    ///
    /// The common case (the bucket's code stays) is settled by comparing
    /// all lanes against the current code's sum at once; only when some
    /// code catches up is the minimum searched.
    #[inline(always)]
    pub(super) fn update<const BPC: usize>(
        &mut self,
        family: &Family,
        ctx: u8,
        value: u8,
        trigger: u32,
    ) {
        let b = usize::from(family.bucket[usize::from(ctx)]) % BUCKETS;
        let lens = &family.code_len_wide[usize::from(value)];
        let above: &[[u16; MAX_CODES]; MAX_CODES + 1] = if BPC == 8 {
            &CODES_ABOVE_8BPC
        } else {
            &CODES_ABOVE_5BPC
        };
        let cur = usize::from(self.best[b]) % BPC;
        let counts = &self.counters[b];
        // The current code's new sum, read on its own (not out of the
        // vector of sums below).
        let cur_sum = counts[cur].wrapping_add(lens[cur]);
        let mut sums = [0u16; MAX_CODES];
        // The current code stays if every code's sum is at least its own
        // (a larger code's at least one more): no lane of `need` less the
        // sum (saturating) is above zero. Codes the family lacks compare 0
        // with 0.
        let mut below = 0u16;
        for l in 0..MAX_CODES {
            sums[l] = counts[l].wrapping_add(lens[l]);
            let need = (cur_sum & above[MAX_CODES][l]).wrapping_add(above[cur][l]);
            below |= need.saturating_sub(sums[l]);
        }
        let best_sum = if below == 0 {
            u32::from(cur_sum)
        } else {
            self.switch::<BPC>(b, lens)
        };
        if best_sum > trigger {
            for sum in sums.iter_mut() {
                *sum >>= 1;
            }
        }
        self.counters[b] = sums;
    }

    /// Make the code with the smallest sum of bucket `b`'s counters and
    /// `lens` (ties keep the larger code) the bucket's, refilling its
    /// contexts' rows; that sum. (The sums are added again here rather
    /// than passed in, so the common path keeps them in registers.)
    #[cold]
    #[inline(never)]
    fn switch<const BPC: usize>(&mut self, b: usize, lens: &[u16; MAX_CODES]) -> u32 {
        let counts = self.counters.get(b).copied().unwrap_or_default();
        let sum = |l: usize| u32::from(counts[l % MAX_CODES]) + u32::from(lens[l % MAX_CODES]);
        let mut best = BPC - 1;
        let mut best_sum = sum(best);
        for l in (0..BPC - 1).rev() {
            let sum = sum(l);
            if sum < best_sum {
                best = l;
                best_sum = sum;
            }
        }
        if let Some(slot) = self.best.get_mut(b) {
            *slot = best as u8;
        }
        let starts = &family(BPC).bucket_start;
        let from = usize::from(starts.get(b).copied().unwrap_or(0));
        let to = usize::from(starts.get(b + 1).copied().unwrap_or(0));
        let period = usize::from(self.ctx_mask) + 1;
        for contexts in self.code_of.chunks_exact_mut(period) {
            if let Some(codes) = contexts.get_mut(from..to) {
                codes.fill(best as u8);
            }
        }
        best_sum
    }
}

/// Update every channel's model with one pixel's residuals `value`, coded
/// in contexts `ctx`.
#[inline(always)]
pub(super) fn update_pixel<const N: usize, const BPC: usize>(
    models: &mut [Model; N],
    ctx: &[u8; N],
    value: &[u8; N],
    trigger: u32,
) {
    let family = family(BPC);
    for ((model, &ctx), &value) in models.iter_mut().zip(ctx).zip(value) {
        model.update::<BPC>(family, ctx, value, trigger);
    }
}
