//! A QUIC *encoder* for the benchmark and the tests only; the client never
//! encodes QUIC.
//!
//! It exists so the benchmark can build a 1920x1080 photo-like QUIC image at
//! run time instead of shipping megabytes of data. It shares the decoder's
//! tables and adaptive models (`family.rs`, `model.rs`, included by path) and
//! mirrors its row loop. `tests/quic.rs` checks that it reproduces the bytes
//! of spice-common's reference encoder exactly, so what it produces is what a
//! SPICE server would send for the same picture.
//!
//! Pixels are given the way the decoder returns them (`0xAARRGGBB`; RGB16 as
//! widened 8-bit channels, GRAY in the low byte).
#![allow(dead_code)]

#[path = "../../src/image/quic/family.rs"]
mod family;
#[path = "../../src/image/quic/model.rs"]
mod model;

use family::{Family, RUN_ORDER};
use model::{family as family_for, Model, Schedule};

/// QUIC image type numbers (spice-common `QuicImageType`).
pub const QUIC_IMAGE_TYPE_GRAY: u32 = 1;
/// Three 5-bit channels.
pub const QUIC_IMAGE_TYPE_RGB16: u32 = 2;
/// Three 8-bit channels, packed.
pub const QUIC_IMAGE_TYPE_RGB24: u32 = 3;
/// Three 8-bit channels in 32-bit pixels.
pub const QUIC_IMAGE_TYPE_RGB32: u32 = 4;
/// RGB plus an alpha plane.
pub const QUIC_IMAGE_TYPE_RGBA: u32 = 5;

/// Update every channel's model with pixel `i`'s residuals, where
/// `res[c][i]` is the context and `res[c][i + 1]` the residual (the
/// encoder keeps one residual row per channel).
fn update_models<const N: usize, const BPC: usize, R: AsRef<[u8]>>(
    models: &mut [Model; N],
    res: &[R; N],
    i: usize,
    trigger: u32,
) {
    let family = family_for(BPC);
    for (model, row) in models.iter_mut().zip(res) {
        let row = row.as_ref();
        if let (Some(&ctx), Some(&value)) = (row.get(i), row.get(i + 1)) {
            model.update::<BPC>(family, ctx, value, trigger);
        }
    }
}

/// MSB-first bit writer producing little-endian 32-bit words.
struct Writer {
    out: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl Writer {
    fn put(&mut self, bits: u32, len: u32) {
        debug_assert!((1..=32).contains(&len));
        let bits = u64::from(bits) & ((1u64 << len) - 1);
        self.acc = (self.acc << len) | bits;
        self.pending += len;
        if self.pending >= 32 {
            self.pending -= 32;
            self.out
                .extend_from_slice(&((self.acc >> self.pending) as u32).to_le_bytes());
            self.acc &= (1u64 << self.pending) - 1;
        }
    }

    /// Pad to a whole word, then one zero word (as the reference does).
    fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.put(0, 32 - self.pending);
        }
        self.put(0, 32);
        self.out
    }
}

/// One coding pass: `N` channels of `BPC` bits at the given shifts.
struct Pass<const N: usize, const BPC: usize> {
    shifts: [u32; N],
    owned: u32,
    residuals: [Vec<u8>; N],
    models: [Model; N],
    schedule: Schedule,
}

trait RowPass {
    fn row(&mut self, w: &mut Writer, prev: Option<&[u32]>, cur: &[u32]);
}

impl<const N: usize, const BPC: usize> Pass<N, BPC> {
    const MASK: u32 = (1 << BPC) - 1;

    fn new(width: usize, shifts: [u32; N]) -> Self {
        Pass {
            shifts,
            owned: shifts.iter().fold(0, |m, &s| m | (Self::MASK << s)),
            residuals: core::array::from_fn(|_| vec![0; width + 1]),
            models: core::array::from_fn(|_| Model::new(BPC)),
            schedule: Schedule::new(),
        }
    }

    fn channel(&self, p: u32, c: usize) -> u32 {
        (p >> self.shifts[c]) & Self::MASK
    }

    fn same(&self, p: u32, q: u32) -> bool {
        (p ^ q) & self.owned == 0
    }

    /// Code pixel `i`'s channels against the predictions.
    fn pixel(&mut self, w: &mut Writer, fam: &Family, px: u32, i: usize, predict: [u32; N]) {
        for (c, &pred) in predict.iter().enumerate() {
            let diff = self.channel(px, c).wrapping_sub(pred) & Self::MASK;
            // Fold the signed difference: 0, -1, +1, -2, ... -> 0, 1, 2, 3, ...
            let folded = if diff <= Self::MASK >> 1 {
                diff << 1
            } else {
                ((Self::MASK - diff) << 1) + 1
            } as u8;
            let code = self.models[c].code(self.residuals[c][i]);
            let (bits, len) = fam.codeword(code, folded);
            w.put(bits, len);
            self.residuals[c][i + 1] = folded;
        }
    }

    fn put_run(&mut self, w: &mut Writer, mut run: usize) {
        let state = &mut self.schedule.run_state;
        let mut hits = 0u32;
        while run >= 1 << RUN_ORDER[*state] {
            hits += 1;
            run -= 1 << RUN_ORDER[*state];
            if *state < RUN_ORDER.len() - 1 {
                *state += 1;
            }
        }
        for _ in 0..hits / 32 {
            w.put(u32::MAX, 32);
        }
        let rest = hits % 32;
        if rest > 0 {
            w.put((1 << rest) - 1, rest);
        }
        w.put(run as u32, RUN_ORDER[*state] + 1);
        *state = state.saturating_sub(1);
    }

    fn segment(&mut self, w: &mut Writer, prev: Option<&[u32]>, cur: &[u32], start: usize) {
        let fam = family_for(BPC);
        let end = cur.len();
        let mut i = start;
        if i == 0 {
            let predict = core::array::from_fn(|c| prev.map_or(0, |p| self.channel(p[0], c)));
            self.pixel(w, fam, cur[0], 0, predict);
            if self.schedule.wait > 0 {
                self.schedule.wait -= 1;
            } else {
                self.schedule.wait = self.schedule.next_wait();
                update_models::<N, BPC, _>(
                    &mut self.models,
                    &self.residuals,
                    0,
                    self.schedule.trigger,
                );
            }
            i = 1;
        }
        let mut stop = i + self.schedule.wait as usize;
        let mut run_at = 0;
        while i < end {
            if let Some(p) = prev {
                if i > 2
                    && run_at != i
                    && self.same(p[i - 1], p[i])
                    && self.same(cur[i - 1], cur[i - 2])
                {
                    run_at = i;
                    self.schedule.wait = (stop - i) as u32;
                    let mut run = 0;
                    while self.same(cur[i], cur[i - 1]) {
                        run += 1;
                        i += 1;
                        if i == end {
                            self.put_run(w, run);
                            return;
                        }
                    }
                    self.put_run(w, run);
                    stop = i + self.schedule.wait as usize;
                    continue;
                }
            }
            let predict = core::array::from_fn(|c| {
                let left = self.channel(cur[i - 1], c);
                prev.map_or(left, |p| (left + self.channel(p[i], c)) >> 1)
            });
            self.pixel(w, fam, cur[i], i, predict);
            if i == stop {
                update_models::<N, BPC, _>(
                    &mut self.models,
                    &self.residuals,
                    i,
                    self.schedule.trigger,
                );
                stop = i + 1 + self.schedule.next_wait() as usize;
            }
            i += 1;
        }
        self.schedule.wait = (stop - end) as u32;
    }
}

impl<const N: usize, const BPC: usize> RowPass for Pass<N, BPC> {
    fn row(&mut self, w: &mut Writer, prev: Option<&[u32]>, cur: &[u32]) {
        for r in self.residuals.iter_mut() {
            r[0] = if prev.is_some() { r[1] } else { 0 };
        }
        let mut pos = 0;
        loop {
            let (end, last) = self.schedule.segment_end(pos, cur.len());
            if end > pos {
                self.segment(w, prev, &cur[..end], pos);
            }
            self.schedule.segment_done(end - pos, last);
            if last {
                return;
            }
            pos = end;
        }
    }
}

/// Encode a `width x height` picture as QUIC of the given type.
pub fn encode(image_type: u32, width: usize, height: usize, pixels: &[u32]) -> Vec<u8> {
    assert_eq!(pixels.len(), width * height);
    let mut w = Writer {
        out: Vec::new(),
        acc: 0,
        pending: 0,
    };
    for word in [0x4349_5551, 0, image_type, width as u32, height as u32] {
        w.put(word, 32);
    }
    let mut passes: Vec<Box<dyn RowPass>> = match image_type {
        QUIC_IMAGE_TYPE_RGB32 | QUIC_IMAGE_TYPE_RGB24 => {
            vec![Box::new(Pass::<3, 8>::new(width, [16, 8, 0]))]
        }
        QUIC_IMAGE_TYPE_RGB16 => vec![Box::new(Pass::<3, 5>::new(width, [19, 11, 3]))],
        QUIC_IMAGE_TYPE_RGBA => vec![
            Box::new(Pass::<3, 8>::new(width, [16, 8, 0])),
            Box::new(Pass::<1, 8>::new(width, [24])),
        ],
        QUIC_IMAGE_TYPE_GRAY => vec![Box::new(Pass::<1, 8>::new(width, [0]))],
        t => panic!("bad QUIC image type {t}"),
    };
    for (y, cur) in pixels.chunks_exact(width).enumerate() {
        let prev = y.checked_sub(1).map(|p| &pixels[p * width..y * width]);
        for pass in passes.iter_mut() {
            pass.row(&mut w, prev, cur);
        }
    }
    w.finish()
}

/// A deterministic photo-like `width x height` RGB picture (`0xFFRRGGBB`):
/// sky gradient with a sun glow, textured hills with film grain, and a flat
/// sign with sharp-edged stripes (so runs and escapes both occur).
pub fn photo(width: usize, height: usize, seed: u32) -> Vec<u32> {
    let mut rng = seed.wrapping_mul(0x9E37_79B9) | 1;
    let mut grain = move |amp: i32| -> i32 {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        (rng % (2 * amp as u32 + 1)) as i32 - amp
    };
    let (w, h) = (width as f32, height as f32);
    let (sx, sy, sr) = (w * 0.7, h * 0.25, (w.min(h) * 0.12).max(3.0));
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let (xf, yf) = (x as f32, y as f32);
            let hill =
                h * (0.55 + 0.12 * (xf / w * 7.0 + 1.3).sin() + 0.05 * (xf / w * 23.0).sin());
            let (mut r, mut g, mut b, amp);
            if yf < hill {
                let t = yf / h;
                (r, g, b) = (90.0 + 80.0 * t, 140.0 + 60.0 * t, 230.0 - 30.0 * t);
                let d = ((xf - sx).powi(2) + (yf - sy).powi(2)).sqrt();
                if d < sr {
                    (r, g, b) = (255.0, 230.0, 120.0);
                } else if d < 2.0 * sr {
                    let k = (2.0 * sr - d) / sr * 0.6;
                    (r, g, b) = (
                        r + (255.0 - r) * k,
                        g + (230.0 - g) * k,
                        b + (120.0 - b) * k,
                    );
                }
                amp = 2;
            } else {
                let t = (yf - hill) / (h - hill).max(1.0);
                r = 40.0 + 60.0 * t + 30.0 * (xf * 0.3 + yf * 0.2).sin();
                g = 110.0 + 50.0 * (xf * 0.05).sin() - 40.0 * t;
                b = 30.0 + 20.0 * t;
                amp = 6;
            }
            let mut px = [
                r as i32 + grain(amp),
                g as i32 + grain(amp),
                b as i32 + grain(amp),
            ];
            if xf >= w * 0.08 && xf < w * 0.35 && yf >= h * 0.62 && yf < h * 0.9 {
                px = if (x / 3 + y / 5) % 4 != 0 {
                    [250, 250, 245]
                } else {
                    [20, 20, 30]
                };
            }
            let [r, g, b] = px.map(|v| v.clamp(0, 255) as u32);
            out.push(0xff00_0000 | r << 16 | g << 8 | b);
        }
    }
    out
}
