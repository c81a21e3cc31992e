//! One QUIC decoding pass over a row: a set of 1 or 3 channels that share a
//! [`Schedule`], each with its own context [`Model`], and a row of residuals.
//!
//! Owns the per-row decoding loop: prediction from the neighbours, Golomb
//! decoding with the code the context's bucket chose, model updates at the
//! scheduled pixels and the run-length (MELCODE) mode. Channels are read from
//! and written to bit fields of `0xAARRGGBB` pixels given by a shift each.
//! The pass decodes all its channels of a pixel at once, keeping the left
//! neighbour, the contexts and the pixel above in registers. It must not know
//! about image types (that is the parent module's job); what a finished
//! pixel looks like is given to it as a `finish` function.

use super::bits::Bits;
use super::family::{Family, RUN_ORDER};
use super::model::{family, Model, Schedule};
use crate::error::WireError;
use alloc::vec::Vec;

/// A decoding pass over `N` channels of `BPC` bits each. With `MERGE` the
/// pass keeps the other bits of each destination pixel (a later pass, such
/// as RGBA's alpha plane); without it the pass writes whole pixels.
pub(super) struct Pass<const N: usize, const BPC: usize, const MERGE: bool> {
    /// Bit position of each channel in a pixel.
    shifts: [u32; N],
    /// All bits of the pixel that belong to this pass.
    owned: u32,
    /// The folded residuals of the row being decoded, all channels of a
    /// pixel together; slot 0 is the context for pixel 0, slot `i + 1`
    /// holds pixel `i`. Slots not yet rewritten in the current row (and
    /// those skipped by runs) keep older values, which the format relies on.
    residuals: Vec<[u8; N]>,
    models: [Model; N],
    schedule: Schedule,
}

impl<const N: usize, const BPC: usize, const MERGE: bool> Pass<N, BPC, MERGE> {
    const MASK: u32 = (1 << BPC) - 1;

    fn family() -> &'static Family {
        family(BPC)
    }

    /// A fresh pass for rows of `width` pixels, channel `c` at bit `shifts[c]`.
    pub(super) fn new(width: usize, shifts: [u32; N]) -> Result<Self, WireError> {
        let len = width
            .checked_add(1)
            .ok_or(WireError::new(0, "image too large"))?;
        let mut residuals = Vec::new();
        residuals
            .try_reserve_exact(len)
            .map_err(|_| WireError::new(0, "out of memory for image"))?;
        residuals.resize(len, [0; N]);
        let owned = shifts.iter().fold(0, |m, &s| m | (Self::MASK << s));
        Ok(Pass {
            shifts,
            owned,
            residuals,
            models: core::array::from_fn(|_| Model::new(BPC)),
            schedule: Schedule::new(),
        })
    }

    /// Decode this pass's channels of row `cur`. `prev` is the row above
    /// (as finished), or `None` for the first row of the image. Each
    /// decoded pixel goes through `finish`, which must keep the pass's
    /// channel bits (the next row predicts from them).
    pub(super) fn row(
        &mut self,
        bits: &mut Bits<'_>,
        prev: Option<&[u32]>,
        cur: &mut [u32],
        finish: impl Fn(u32) -> u32 + Copy,
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
                let cur = cur.get_mut(..end).ok_or(bits.error("QUIC row too long"))?;
                match prev {
                    None => self.segment::<true>(bits, &[], cur, pos, finish)?,
                    Some(prev) => {
                        let prev = prev.get(..end).ok_or(bits.error("QUIC row too short"))?;
                        self.segment::<false>(bits, prev, cur, pos, finish)?
                    }
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
        finish: impl Fn(u32) -> u32 + Copy,
    ) -> Result<(), WireError> {
        let end = cur.len();
        let family = Self::family();
        let shifts = self.shifts;
        let owned = self.owned;
        let channels = |p: u32| -> [u32; N] { shifts.map(|s| (p >> s) & Self::MASK) };
        let pack = |v: [u32; N]| -> u32 {
            let mut p = 0;
            for c in 0..N {
                p |= v[c] << shifts[c];
            }
            p
        };
        let Pass {
            residuals,
            models,
            schedule,
            ..
        } = self;
        // Residual slots 0..=end; slot i is the context of pixel i.
        let res = match residuals.get_mut(..end + 1) {
            Some(r) => r,
            None => return Err(bits.error("QUIC row too long")),
        };
        if !FIRST && prev.len() != end {
            return Err(bits.error("QUIC row too short"));
        }
        let mut b = *bits;

        // Store pixel `i` (its channels packed as `px`).
        let store = |cur: &mut [u32], i: usize, px: u32| {
            if let Some(p) = cur.get_mut(i) {
                *p = if MERGE {
                    (*p & !owned) | px
                } else {
                    finish(px)
                };
            }
        };

        let mut i = start;
        let mut ctx: [u8; N] = res.get(i).copied().unwrap_or([0; N]);
        if i == 0 {
            let up = if FIRST {
                0
            } else {
                prev.first().copied().unwrap_or(0)
            };
            let before = ctx;
            let vals = Self::decode(models, &mut b, &mut ctx, channels(up));
            if let Some(slot) = res.get_mut(1) {
                *slot = ctx;
            }
            store(cur, 0, pack(vals));
            if schedule.wait > 0 {
                schedule.wait -= 1;
            } else {
                schedule.wait = schedule.next_wait();
                update::<N, BPC>(models, family, before, ctx, schedule.trigger);
            }
            i = 1;
        }
        if i >= end {
            *bits = b;
            return Ok(());
        }
        // The left neighbour's channels and packed value, the packed value
        // of the pixel before it, and the pixel above-left.
        let left_px = cur.get(i - 1).copied().unwrap_or(0) & owned;
        let mut left = channels(left_px);
        let mut left_px = left_px;
        let mut left2_px = if i >= 2 {
            cur.get(i - 2).copied().unwrap_or(0) & owned
        } else {
            !left_px
        };
        let mut up_left = if FIRST {
            0
        } else {
            prev.get(i - 1).copied().unwrap_or(0)
        };
        let mut stop = i + schedule.wait as usize;
        while i < end {
            let up = if FIRST {
                0
            } else {
                prev.get(i).copied().unwrap_or(0)
            };
            if !FIRST && i > 2 && (up_left ^ up) & owned == 0 && left_px == left2_px {
                let run = match read_run(&mut schedule.run_state, &mut b, end - i) {
                    Ok(run) => run,
                    Err(e) => {
                        *bits = b;
                        return Err(e);
                    }
                };
                if run > 0 {
                    // The run repeats the pixel on its left; `left` stays valid.
                    if let Some(span) = cur.get_mut(i..i + run) {
                        if MERGE {
                            for p in span.iter_mut() {
                                *p = (*p & !owned) | left_px;
                            }
                        } else {
                            span.fill(finish(left_px));
                        }
                    }
                    i += run;
                    stop += run;
                    if i == end {
                        break;
                    }
                    // Residual slots under the run were not rewritten: the
                    // next context is whatever they hold. Another run may
                    // start right here (only an empty run forbids one).
                    ctx = res.get(i).copied().unwrap_or([0; N]);
                    up_left = prev.get(i - 1).copied().unwrap_or(0);
                    continue;
                }
            }
            let before = ctx;
            let predict = if FIRST {
                left
            } else {
                let above = channels(up);
                core::array::from_fn(|c| (left[c] + above[c]) >> 1)
            };
            left = Self::decode(models, &mut b, &mut ctx, predict);
            if let Some(slot) = res.get_mut(i + 1) {
                *slot = ctx;
            }
            left2_px = left_px;
            left_px = pack(left);
            store(cur, i, left_px);
            up_left = up;
            if i == stop {
                update::<N, BPC>(models, family, before, ctx, schedule.trigger);
                stop = i + 1 + schedule.next_wait() as usize;
            }
            i += 1;
        }
        schedule.wait = (stop - end) as u32;
        *bits = b;
        Ok(())
    }
}

impl<const N: usize, const BPC: usize, const MERGE: bool> Pass<N, BPC, MERGE> {
    /// Decode one pixel's codewords under contexts `ctx` (updated to the
    /// new residuals) and predictions `predict`; gives the channel values.
    #[inline(always)]
    fn decode(
        models: &[Model; N],
        b: &mut Bits<'_>,
        ctx: &mut [u8; N],
        predict: [u32; N],
    ) -> [u32; N] {
        let family = Self::family();
        let mut vals = [0u32; N];
        for c in 0..N {
            let code = models[c].code_for::<BPC>(ctx[c]);
            let (value, len) = family.decode(code, b.peek());
            b.eat(len);
            ctx[c] = value;
            vals[c] = (u32::from(family.unfold[value as usize]) + predict[c]) & Self::MASK;
        }
        vals
    }
}

/// Update each channel's model with the residual `value[c]` coded in
/// context `ctx[c]`.
#[inline]
fn update<const N: usize, const BPC: usize>(
    models: &mut [Model; N],
    family: &Family,
    ctx: [u8; N],
    value: [u8; N],
    trigger: u32,
) {
    for c in 0..N {
        models[c].update::<BPC>(family, ctx[c], value[c], trigger);
    }
}

/// Read a run length (MELCODE): a one per run of `2^order` pixels (the
/// order adapting upwards after each), then a zero and the remainder in
/// `order` bits; the order then steps back down once. Fails if the run would
/// pass `max` pixels.
fn read_run(state: &mut usize, bits: &mut Bits<'_>, max: usize) -> Result<usize, WireError> {
    let mut run = 0usize;
    loop {
        let ones = bits.peek().leading_ones();
        for _ in 0..ones {
            run += 1 << RUN_ORDER[*state % RUN_ORDER.len()];
            if run > max {
                return Err(bits.error("QUIC run passes the end of the row"));
            }
            if *state < RUN_ORDER.len() - 1 {
                *state += 1;
            }
        }
        if ones < 32 {
            bits.eat(ones + 1);
            break;
        }
        bits.eat(32);
    }
    let order = RUN_ORDER[*state % RUN_ORDER.len()];
    if order > 0 {
        run += (bits.peek() >> (32 - order)) as usize;
        bits.eat(order);
    }
    *state = state.saturating_sub(1);
    if run > max {
        return Err(bits.error("QUIC run passes the end of the row"));
    }
    Ok(run)
}
