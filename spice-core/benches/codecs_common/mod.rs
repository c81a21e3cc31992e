//! Shared by the codec benches (`glz`, `lz4`, `jpeg`): a desktop-like
//! 1920x1080 picture, best-of-n timing, the memcpy baseline and the summary
//! line format. Only benchmark inputs are made here; no test expectation.

#![allow(dead_code)]

use std::hint::black_box;
use std::time::Instant;

/// Frame size of every codec bench.
pub const W: u32 = 1920;
/// Frame size of every codec bench.
pub const H: u32 = 1080;

/// Small deterministic generator.
pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Self(seed | 1)
    }
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    pub fn below(&mut self, n: u32) -> u32 {
        self.next() % n.max(1)
    }
}

/// A desktop-like 0x00RRGGBB frame: gradient wallpaper, a noisy photo,
/// windows with flat title bars and rows of "text" drawn from a small glyph
/// set (so text repeats like real text does). `variant` moves the windows
/// and changes the text, as a later frame of the same desktop would.
pub fn desktop(w: u32, h: u32, variant: u32) -> Vec<u32> {
    let (wu, hu) = (w as usize, h as usize);
    let mut px = vec![0u32; wu * hu];
    for y in 0..hu {
        for x in 0..wu {
            let r = 40 + (y * 60 / hu) as u32;
            let g = 70 + (x * 50 / wu) as u32;
            px[y * wu + x] = r << 16 | g << 8 | 140;
        }
    }
    // Photo: smooth colour field plus per-pixel noise.
    let mut rng = Rng::new(0x5eed_0001);
    let (px0, py0, pw, ph) = (wu * 55 / 100, hu / 10, wu * 40 / 100, hu * 60 / 100);
    for y in py0..py0 + ph {
        for x in px0..px0 + pw {
            let n = rng.below(24) as i32 - 12;
            let c = |base: i32| (base + n).clamp(0, 255) as u32;
            let fx = (x - px0) as i32 * 200 / pw as i32;
            let fy = (y - py0) as i32 * 200 / ph as i32;
            px[y * wu + x] = c(30 + fx / 2) << 16 | c(60 + fy / 2) << 8 | c(120 + (fx - fy) / 4);
        }
    }
    // Glyphs: 64 patterns of 7x12.
    let mut grng = Rng::new(0x5eed_0002);
    let glyphs: Vec<u128> = (0..64)
        .map(|_| (grng.next() as u128) << 64 | grng.next() as u128)
        .collect();
    let mut trng = Rng::new(0x5eed_0003 + variant);
    for win in 0..4usize {
        let wx = 40 + win * 90 + variant as usize * 24;
        let wy = 60 + win * 140;
        let (ww, wh) = (wu * 45 / 100, hu * 40 / 100);
        for y in wy..(wy + wh).min(hu) {
            for x in wx..(wx + ww).min(wu) {
                let title = y < wy + 28;
                px[y * wu + x] = if title { 0x2d5f9a } else { 0xf4f4f4 };
            }
        }
        let mut y = wy + 40;
        while y + 12 < (wy + wh).min(hu) {
            let mut x = wx + 10;
            let line_len = 20 + trng.below(ww as u32 / 8 - 20) as usize;
            for _ in 0..line_len {
                let g = glyphs[trng.below(64) as usize];
                for gy in 0..12 {
                    for gx in 0..7 {
                        if g >> (gy * 7 + gx) & 1 != 0 && x + gx < wu {
                            px[(y + gy) * wu + x + gx] = 0x202020;
                        }
                    }
                }
                x += 8;
            }
            y += 16;
        }
    }
    px
}

/// Best-of-`n` seconds for `f`.
pub fn best(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Seconds to copy one `w x h` frame of u32 pixels (the baseline).
pub fn memcpy_time(w: u32, h: u32) -> f64 {
    let src = vec![0x0012_3456u32; (w * h) as usize];
    let mut dst = vec![0u32; src.len()];
    best(30, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&dst);
    })
}

/// Print one summary line: MPix/s and the ratio memcpy time / op time.
pub fn report(name: &str, pixels: f64, t: f64, memcpy: f64) {
    println!(
        "  {name:<34} {:>9.1} MPix/s  ratio {:.3}",
        pixels / t / 1e6,
        memcpy / t
    );
}

/// Width of the columns QEMU cuts each display update into
/// (`spice-display.c`, one DRAW_COPY each).
pub const COLUMN: u32 = 32;

/// `frame` (w x h) cut into `COLUMN`-wide images, left to right.
pub fn columns(frame: &[u32], w: u32, h: u32) -> Vec<Vec<u32>> {
    (0..w / COLUMN)
        .map(|c| {
            (0..h as usize)
                .flat_map(|y| {
                    let s = y * w as usize + (c * COLUMN) as usize;
                    frame[s..s + COLUMN as usize].iter().copied()
                })
                .collect()
        })
        .collect()
}
