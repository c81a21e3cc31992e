//! One QUIC decoding pass over a row: a set of 1 or 3 channels that share a
//! [`Schedule`] and a row of residuals (a pixel's side by side), each with
//! its own context [`Model`].
//!
//! Owns the per-row decoding loop: prediction from the neighbours, Golomb
//! decoding with the code the context's bucket chose, model updates at the
//! scheduled pixels and the run-length (MELCODE) mode. Channels are read from
//! and written to bit fields of `0xAARRGGBB` pixels, 8 bits apart from the
//! highest one down (a compile-time layout, so the hot loop shifts by
//! constants, and predicts and adds all channels of a pixel at once with
//! per-channel masks); a pass never touches bits outside its channels. It must not
//! know about image types or output formats (that is the parent module's
//! job).

use super::bits::{Bits, Buffered};
use super::family::{Family, ShortCodes, RUN_LENGTH_BEFORE, RUN_ORDER};
use super::model::{family, update_pixel, Model, Schedule};
use crate::error::WireError;
use alloc::vec::Vec;
use core::marker::PhantomData;

/// What a pass makes of each pixel it writes: a map of the pixel (its
/// channels, zero elsewhere) that may set other bits but keeps the pass's
/// own as they are (the next pixel and row predict from them). Done as
/// each pixel is stored, so no second pass over the row is needed.
pub(super) trait Finish {
    /// The pixel to store for a pixel holding only the pass's channels.
    fn finish(px: u32) -> u32;
}

/// A [`Finish`] that stores the pass's channels as they are.
pub(super) struct Keep;

impl Finish for Keep {
    #[inline(always)]
    fn finish(px: u32) -> u32 {
        px
    }
}

/// A decoding pass over `N` channels of `BPC` bits each; channel `c` sits
/// at bit `TOP - 8 * c` of a pixel. With `MERGE` the pass keeps the other
/// bits of each destination pixel (a later pass, such as RGBA's alpha
/// plane); without it the pass writes whole pixels (its channels mapped
/// through `F`), whatever the destination held before.
pub(super) struct Pass<
    const N: usize,
    const BPC: usize,
    const MERGE: bool,
    const TOP: u32,
    F: Finish = Keep,
> {
    /// The folded residuals of the row being decoded, all channels of a
    /// pixel side by side; slot 0 is the context for pixel 0, slot `i + 1`
    /// holds pixel `i`. Slots not yet rewritten in the current row (and
    /// those skipped by runs) keep older values, which the format relies on.
    residuals: Vec<[u8; N]>,
    models: [Model; N],
    /// This pass's copy of its family's codeword tables (next to the
    /// models, so the pixel loop needs one base address for both).
    short: ShortCodes,
    schedule: Schedule,
    finish: PhantomData<F>,
}

impl<const N: usize, const BPC: usize, const MERGE: bool, const TOP: u32, F: Finish>
    Pass<N, BPC, MERGE, TOP, F>
{
    const MASK: u32 = (1 << BPC) - 1;
    /// Bit position of each channel in a pixel.
    const SHIFTS: [u32; N] = {
        let mut s = [0u32; N];
        let mut c = 0;
        while c < N {
            s[c] = TOP - 8 * c as u32;
            c += 1;
        }
        s
    };
    /// All bits of the pixel that belong to this pass.
    const OWNED: u32 = {
        let mut m = 0u32;
        let mut c = 0;
        while c < N {
            m |= Self::MASK << Self::SHIFTS[c];
            c += 1;
        }
        m
    };

    /// The lowest bit of each channel.
    const LOW_BITS: u32 = {
        let mut m = 0u32;
        let mut c = 0;
        while c < N {
            m |= 1 << Self::SHIFTS[c];
            c += 1;
        }
        m
    };
    /// The highest bit of each channel.
    const HIGH_BITS: u32 = Self::LOW_BITS << (BPC - 1);

    /// Per channel, the mean of `p` and `q` rounded down (other bits
    /// zero), all channels at once: the common bits plus half the
    /// differing ones, with each channel's lowest bit dropped before the
    /// halving so that it does not fall into the channel below.
    #[inline(always)]
    fn mean(p: u32, q: u32) -> u32 {
        (p & q & Self::OWNED) + (((p ^ q) & (Self::OWNED & !Self::LOW_BITS)) >> 1)
    }

    /// Per channel, `p + q` modulo `2^BPC` (`p` and `q` hold only this
    /// pass's bits), all channels at once: the sums below each channel's
    /// top bit cannot carry out of the channel, and the top bit is their
    /// carry plus the two top bits, modulo 2.
    #[inline(always)]
    fn add(p: u32, q: u32) -> u32 {
        let below = Self::OWNED & !Self::HIGH_BITS;
        ((p & below) + (q & below)) ^ ((p ^ q) & Self::HIGH_BITS)
    }

    fn family() -> &'static Family {
        family(BPC)
    }

    /// A fresh pass for rows of `width` pixels.
    pub(super) fn new(width: usize) -> Result<Self, WireError> {
        let len = width
            .checked_add(1)
            .ok_or(WireError::new(0, "image too large"))?;
        let mut residuals = Vec::new();
        residuals
            .try_reserve_exact(len)
            .map_err(|_| WireError::new(0, "out of memory for image"))?;
        residuals.resize(len, [0; N]);
        Ok(Pass {
            residuals,
            models: core::array::from_fn(|_| Model::new(BPC)),
            short: Self::family().short.clone(),
            schedule: Schedule::new(),
            finish: PhantomData,
        })
    }

    /// Decode this pass's channels of row `cur`. `prev` is the row above,
    /// or `None` for the first row of the image.
    pub(super) fn row(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
    ) -> Result<(), WireError> {
        // Pixel 0's context: 0 on the first row, else pixel 0 of the row above.
        let ctx = match prev {
            Some(_) => self.residuals.get(1).copied().unwrap_or([0; N]),
            None => [0; N],
        };
        if let Some(slot) = self.residuals.first_mut() {
            *slot = ctx;
        }
        let width = cur.len();
        let mut pos = 0usize;
        loop {
            let (end, last) = self.schedule.segment_end(pos, width);
            if end > pos {
                let cur = &mut cur[..end];
                match prev {
                    None => self.segment::<true>(bits, &[], cur, pos)?,
                    Some(prev) => self.segment::<false>(bits, prev, cur, pos)?,
                }
            }
            self.schedule.segment_done(end - pos, last);
            if last {
                return Ok(());
            }
            pos = end;
        }
    }

    /// Decode pixels `start..cur.len()` of a row. On the image's first row
    /// (`FIRST`) each channel is predicted from the pixel to its left and
    /// there is no run mode; on later rows the prediction is the mean of the
    /// left and upper neighbours, and a run may start where the row above
    /// is flat and the last two pixels are equal.
    ///
    /// After each model update the next one comes a pseudo-random number of
    /// pixels later; the count left over carries into the next segment.
    fn segment<const FIRST: bool>(
        &mut self,
        bits: &mut Bits<'_>,
        prev: &[u32],
        cur: &mut [u32],
        start: usize,
    ) -> Result<(), WireError> {
        let end = cur.len();
        let family = Self::family();
        let shifts = Self::SHIFTS;
        let owned = Self::OWNED;
        let same = |p: u32, q: u32| (p ^ q) & owned == 0;
        let Pass {
            residuals,
            models,
            short,
            schedule,
            finish: _,
        } = self;
        // Residual slots 0..=end; slot i is the context of pixel i. All the
        // slices are cut to the segment so that `i < end` bounds them all.
        let Some(res) = residuals.get_mut(..=end) else {
            return Err(bits.error("QUIC row too long"));
        };
        let prev = if FIRST {
            prev
        } else {
            prev.get(..end).ok_or(bits.error("QUIC row too short"))?
        };
        let mut b = Buffered::at(bits);

        // Decode pixel `i` given the prediction of all its channels (a
        // pixel holding only this pass's bits); returns the pixel written.
        // The contexts are the residuals of the pixel on the left (slot
        // `i`); this pixel's go to slot `i + 1`.
        //
        // The buffer is topped up once per pixel to at least 32 valid bits,
        // and a codeword from the short table takes at most 8 of them, so
        // every channel's lookup sees 8 valid bits. A longer codeword is
        // decoded from a fresh window at its position (which holds at
        // least 33 bits), and the buffer restarts after it, again with at
        // least 32 valid bits. So a pixel starts with at least 8 valid bits
        // (32 less the at most 24 of the pixel before, a run's 8, see
        // `run`, or a segment's fresh 32): the first channel looks its codeword up in the buffer as
        // it was before the top-up, so that the top-up is done while that
        // lookup's load is under way instead of before it.
        macro_rules! pixel {
            ($i:expr, $predict:expr) => {{
                let predict: u32 = $predict;
                let ahead = b.peek();
                b.refill();
                let ctx = res[$i];
                let mut residual = 0u32;
                for c in 0..N {
                    let code = models[c].code(ctx[c]);
                    let window = if c == 0 { ahead } else { b.peek() };
                    let v = match short.decode_short(code, window) {
                        Some((v, len)) => {
                            b.eat(len);
                            v
                        }
                        None => {
                            // Rare (a codeword longer than 8 bits): keep
                            // the short path straight.
                            core::hint::cold_path();
                            let mut long = b.bits();
                            let (v, len) = family.decode_long(code, long.window());
                            long.eat(len);
                            b = Buffered::at(&long);
                            v
                        }
                    };
                    // Stored at once, so the codeword is done with.
                    res[$i + 1][c] = v;
                    let unfolded = u32::from(short.unfold[usize::from(v)]);
                    residual |= unfolded << shifts[c];
                }
                let mut px = F::finish(Self::add(predict, residual));
                if MERGE {
                    px |= cur[$i] & !owned;
                }
                cur[$i] = px;
                px
            }};
        }

        let mut i = start;
        // The pixel on the left of `i` (one register, not one per channel).
        // Pixel 0 has none: it is predicted from the pixel above alone (0
        // on the first row), which is what the mean of that pixel with
        // itself gives, so it takes the pixel above as its left.
        let mut left = match i.checked_sub(1) {
            Some(l) => cur[l],
            None if FIRST => 0,
            None => prev[0],
        };
        let mut stop = i + schedule.wait as usize;
        // A run may start only past this pixel: a run needs two pixels on
        // its left, and none starts where an empty one just ended (a run
        // leaves `i` at or past its start, so one comparison covers both).
        let mut run_after = 2usize;
        // The pixel above `left` (so each pixel of the row above is loaded
        // once).
        let mut up_left = if FIRST { 0 } else { prev[i.saturating_sub(1)] };
        'segment: while i < end {
            // The pixels up to the next model update (after pixel `stop`)
            // or the end of the segment, whichever comes first.
            let limit = end.min(stop + 1);
            while i < limit {
                let up = if FIRST { 0 } else { prev[i] };
                if !FIRST
                    && same(up_left, up)
                    && cur.get(i.wrapping_sub(2)).is_some_and(|&p| same(left, p))
                    && i > run_after
                {
                    schedule.wait = (stop - i) as u32;
                    run_after = i;
                    // The run repeats the pixel on its left; `left` stays valid.
                    let next = Self::run(&mut schedule.run_state, &mut b, cur, i, left);
                    if next == RUN_FAILED {
                        *bits = b.bits();
                        return Err(bits.error("QUIC run passes the end of the row"));
                    }
                    i = next;
                    if i >= end {
                        *bits = b.bits();
                        return Ok(());
                    }
                    // Run pixels do not count towards the next update.
                    stop = i + schedule.wait as usize;
                    up_left = prev[i - 1];
                    continue 'segment;
                }
                left = if FIRST {
                    pixel!(i, left & owned)
                } else {
                    up_left = up;
                    pixel!(i, Self::mean(left, up))
                };
                i += 1;
            }
            if i == stop + 1 {
                update_pixel::<N, BPC>(models, &res[stop], &res[i], schedule.trigger);
                stop = i + schedule.next_wait() as usize;
            }
        }
        schedule.wait = (stop - end) as u32;
        *bits = b.bits();
        Ok(())
    }

    /// Read a run starting at pixel `i` of `cur` and fill it with the
    /// channels of `left` (the pixel before it): the index after the run,
    /// or [`RUN_FAILED`] if the run would leave the row (the buffer is then
    /// where that was found). Out of line: runs are rare, and their fill
    /// loop would otherwise take registers from the pixel loop.
    #[cold]
    #[inline(never)]
    fn run(
        state: &mut usize,
        bits: &mut Buffered<'_>,
        cur: &mut [u32],
        i: usize,
        left: u32,
    ) -> usize {
        let owned = Self::OWNED;
        let Some(run) = read_run(state, bits, cur.len().saturating_sub(i)) else {
            return RUN_FAILED;
        };
        // The pixel after the run looks up its first codeword before it
        // tops the buffer up: leave it at least 8 valid bits.
        bits.refill_below(8);
        let fill = F::finish(left & owned);
        let end = i.saturating_add(run);
        for p in cur.get_mut(i..end).unwrap_or(&mut []) {
            *p = if MERGE { (*p & !owned) | fill } else { fill };
        }
        end
    }
}

/// [`Pass::run`]'s index for a run that would leave its row.
const RUN_FAILED: usize = usize::MAX;

/// Read a run length (MELCODE): a one per run of `2^order` pixels (the
/// order adapting upwards after each), then a zero and the remainder in
/// `order` bits; the order then steps back down once. `None` if the run
/// would pass `max` pixels.
#[inline(always)]
fn read_run(state: &mut usize, bits: &mut Buffered<'_>, max: usize) -> Option<usize> {
    const LAST: usize = RUN_ORDER.len() - 1;
    let mut run = 0usize;
    loop {
        // Each read takes at most 32 bits, so a refill before it suffices.
        bits.refill();
        let ones = ((bits.peek() >> 32) as u32).leading_ones() as usize;
        // The states the ones pass through count their own lengths; ones
        // beyond the last state count its length each.
        let from = (*state).min(LAST);
        let to = (from + ones).min(LAST);
        let stepped = RUN_LENGTH_BEFORE[to] - RUN_LENGTH_BEFORE[from];
        run += stepped as usize + ((ones - (to - from)) << RUN_ORDER[LAST]);
        *state = to;
        if run > max {
            return None;
        }
        if ones < 32 {
            bits.eat(ones as u32 + 1);
            break;
        }
        bits.eat(32);
    }
    let order = RUN_ORDER[*state % RUN_ORDER.len()];
    if order > 0 {
        bits.refill();
        run += (bits.peek() >> (64 - order)) as usize;
        bits.eat(order);
    }
    *state = state.saturating_sub(1);
    if run > max {
        return None;
    }
    Some(run)
}
