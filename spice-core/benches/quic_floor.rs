//! How fast a QUIC-shaped bit stream can be walked at all on this machine:
//! the floor under any QUIC decoder, beside our decoder and a memcpy in the
//! same run (issue 14's "QUIC within 10× memcpy").
//!
//! A QUIC pixel is three Golomb codewords read one after another from one
//! bit stream, and the code of each depends on the previous value of the
//! same channel. So where a codeword starts is known only once the one
//! before it is decoded: one chain of dependent steps per codeword, each a
//! table load and a shift. The walk here keeps only that: a synthetic
//! stream of three Rice codewords per pixel (none longer than 8 bits),
//! read through the decoder's mechanism (a 64-bit register buffer topped
//! up once per pixel from a word loaded ahead, a 256-entry `value << 8 |
//! length` row per code, the code looked up from the channel's previous
//! value), and nothing else: no model updates, no prediction, no runs, no
//! pixel stores. Its time over a 1920x1080 frame's worth of codewords is a
//! lower bound for a decoder that must also do all of those.
//!
//! Beside it, two such streams walked in one loop, a pixel of each in
//! turn: how much of the machine one chain leaves idle (what decoding two
//! independent images together, such as two of QEMU's columns, could
//! use).
//!
//! With the `cref-bench` feature (spice-common's source unpacked, see
//! `scripts/spice-common-src`), spice-common's own `quic_decode` of the
//! same photo and desktop frames is timed in the same rounds, so the
//! floor's share of spice-common's time comes out of one process: whether
//! a decoder at half of spice-common's time is above the floor at all.
//!
//! Run: `cargo bench -p spice-core --bench quic_floor [--features cref-bench]`.

mod codecs_common;
mod quic_support;
#[cfg(feature = "cref-bench")]
mod recording_support;

use codecs_common::{best, desktop, memcpy_time, report, Rng, H, W};
use quic_support::{encode, photo, QUIC_IMAGE_TYPE_RGB32};
use spice_core::image::quic;
use std::hint::black_box;

/// Largest Rice parameter the walk uses (QUIC's 8-bit family has 0..=7).
const CODES: usize = 8;

/// Per code `k`, indexed by the stream's next 8 bits: the codeword's value
/// in the high byte and its length in the low one (0 = longer than 8).
fn tables() -> Vec<[u16; 256]> {
    (0..CODES)
        .map(|k| {
            core::array::from_fn(|top| {
                let zeros = (top as u8).leading_zeros();
                let len = zeros + 1 + k as u32;
                if len > 8 {
                    return 0;
                }
                let low = (top as u32 >> (8 - len)) & ((1 << k) - 1);
                (((zeros << k) | low) as u16) << 8 | len as u16
            })
        })
        .collect()
}

/// The code a channel uses after a value: small values, small codes (a
/// photo's residuals keep codes 2..4 busy).
fn code_after(value: u8) -> u8 {
    match value {
        0..=3 => 2,
        4..=11 => 3,
        _ => 4,
    }
}

/// `pixels` pixels of three Rice codewords each, packed MSB first into
/// little-endian 32-bit words as QUIC packs them, plus zero padding.
fn stream(pixels: usize) -> Vec<u32> {
    let mut rng = Rng::new(0x0f10_0a11);
    let mut words = Vec::new();
    let (mut acc, mut held) = (0u64, 0u32);
    let mut prev = [0u8; 3];
    for _ in 0..pixels {
        for p in prev.iter_mut() {
            let k = u32::from(code_after(*p));
            // At most two zeros before the one: every codeword fits 8 bits.
            let v = rng.below(3 << k);
            let len = (v >> k) + 1 + k;
            let bits = (1 << k) | (v & ((1 << k) - 1));
            acc = acc << len | u64::from(bits);
            held += len;
            if held >= 32 {
                held -= 32;
                words.push((acc >> held) as u32);
            }
            *p = v as u8;
        }
    }
    words.push(((acc << (32 - held)) & 0xffff_ffff) as u32);
    words.extend([0; 4]);
    words
}

/// One stream being walked: the decoder's register buffer and each
/// channel's previous value.
struct Walker<'a> {
    words: &'a [u32],
    buf: u64,
    valid: u32,
    next: usize,
    word: u64,
    prev: [u8; 3],
    sum: u64,
}

impl<'a> Walker<'a> {
    fn new(words: &'a [u32]) -> Self {
        let mut w = Walker {
            words,
            buf: 0,
            valid: 64,
            next: 2,
            word: 0,
            prev: [0; 3],
            sum: 0,
        };
        w.buf = w.load(0) << 32 | w.load(1);
        w.word = w.load(2);
        w
    }

    #[inline(always)]
    fn load(&self, i: usize) -> u64 {
        u64::from(self.words.get(i).copied().unwrap_or(0))
    }

    /// One pixel: a top-up, then three codewords.
    #[inline(always)]
    fn pixel(&mut self, tables: &[[u16; 256]]) {
        self.buf |= (self.word << 32) >> (self.valid & 63);
        let whole = self.valid <= 32;
        self.next += usize::from(whole);
        self.valid += u32::from(whole) << 5;
        self.word = self.load(self.next);
        for c in 0..3 {
            let row = &tables[usize::from(code_after(self.prev[c])) % CODES];
            let entry = row[(self.buf >> 56) as usize];
            let len = u32::from(entry & 0xff);
            self.buf <<= len & 63;
            self.valid = self.valid.wrapping_sub(len);
            self.prev[c] = (entry >> 8) as u8;
            self.sum += u64::from(self.prev[c]);
        }
    }
}

/// Walk `pixels` pixels of `words`; returns the sum of the values (so
/// nothing can be skipped).
fn walk(words: &[u32], tables: &[[u16; 256]], pixels: usize) -> u64 {
    let mut w = Walker::new(words);
    for _ in 0..pixels {
        w.pixel(tables);
    }
    w.sum
}

/// Walk two streams at once, a pixel of one then a pixel of the other
/// (two independent chains of dependent steps in one loop, as decoding
/// two of QEMU's column images together would have): `pixels` of each.
fn walk_two(a: &[u32], b: &[u32], tables: &[[u16; 256]], pixels: usize) -> u64 {
    let (mut wa, mut wb) = (Walker::new(a), Walker::new(b));
    for _ in 0..pixels {
        wa.pixel(tables);
        wb.pixel(tables);
    }
    wa.sum + wb.sum
}

fn main() {
    let (w, h) = (W as usize, H as usize);
    let pixels = w * h;
    let tables = tables();
    let words = stream(pixels);
    let photo_px = photo(w, h, 1);
    let photo_quic = encode(QUIC_IMAGE_TYPE_RGB32, w, h, &photo_px);
    let desk_px: Vec<u32> = desktop(W, H, 0).iter().map(|p| p | 0xff00_0000).collect();
    let desk_quic = encode(QUIC_IMAGE_TYPE_RGB32, w, h, &desk_px);
    let px = pixels as f64;
    let memcpy = memcpy_time(W, H);
    let mut theirs = Theirs::new(w, h, [&photo_quic, &desk_quic]);
    // Alternate them all so load from other processes hits each alike.
    let (mut t_walk, mut t_photo, mut t_desk) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut t_two = f64::INFINITY;
    let mut t_theirs = [f64::INFINITY; 2];
    for _ in 0..5 {
        t_walk = t_walk.min(best(3, || {
            black_box(walk(black_box(&words), &tables, pixels));
        }));
        // Two frames' worth, so per pixel it compares with the walk.
        t_two = t_two.min(best(3, || {
            black_box(walk_two(
                black_box(&words),
                black_box(&words),
                &tables,
                pixels,
            ));
        }));
        t_photo = t_photo.min(best(3, || {
            black_box(quic::decode(black_box(&photo_quic)).unwrap());
        }));
        t_desk = t_desk.min(best(3, || {
            black_box(quic::decode(black_box(&desk_quic)).unwrap());
        }));
        for (f, t) in t_theirs.iter_mut().enumerate() {
            *t = t.min(theirs.time(f));
        }
    }
    println!(
        "quic floor, {W}x{H}: walk of {} codewords ({:.2} bits each) vs quic::decode of the photo ({:.2} bits per codeword); ratio = memcpy time / op time",
        3 * pixels,
        words.len() as f64 * 32.0 / (3 * pixels) as f64,
        photo_quic.len() as f64 * 8.0 / (3 * pixels) as f64,
    );
    report("memcpy (baseline)", px, memcpy, memcpy);
    report("codeword walk alone (the floor)", px, t_walk, memcpy);
    report(
        "two walks interleaved, per pixel",
        2.0 * px,
        t_two,
        2.0 * memcpy,
    );
    report("quic::decode photo", px, t_photo, memcpy);
    report("quic::decode desktop", px, t_desk, memcpy);
    println!(
        "  memcpy multiples: walk {:.1}x, decode {:.1}x; decode / walk {:.2}",
        t_walk / memcpy,
        t_photo / memcpy,
        t_photo / t_walk
    );
    println!(
        "  two streams interleaved: {:.2} of the walk's time per pixel",
        t_two / (2.0 * t_walk)
    );
    if t_theirs.iter().all(|t| t.is_finite()) {
        let [photo, desk] = t_theirs;
        report("spice-common quic_decode photo", px, photo, memcpy);
        report("spice-common quic_decode desktop", px, desk, memcpy);
        // The walk is the photo's floor only (the desktop's runs skip
        // codewords the walk reads).
        println!(
            "  / spice-common's time: walk {:.2} of its photo; ours {:.2} (photo) {:.2} (desktop)",
            t_walk / photo,
            t_photo / photo,
            t_desk / desk
        );
    } else {
        println!(
            "  (spice-common not built: --features cref-bench after scripts/spice-common-src)"
        );
    }
}

/// spice-common's decoder on the bench's frames (photo, desktop), when the
/// `cref-bench` feature builds it.
#[cfg(feature = "cref-bench")]
struct Theirs {
    codecs: spice_cref::Codecs,
    frames: [Vec<u8>; 2],
    out: Vec<u32>,
    w: usize,
    h: usize,
}

#[cfg(feature = "cref-bench")]
impl Theirs {
    fn new(w: usize, h: usize, frames: [&[u8]; 2]) -> Self {
        assert!(spice_cref::available(), "spice-common source not unpacked");
        let mut theirs = Theirs {
            codecs: spice_cref::Codecs::new(),
            frames: frames.map(recording_support::aligned),
            out: vec![0; w * h],
            w,
            h,
        };
        for f in 0..2 {
            let data = &theirs.frames[f];
            assert!(theirs.codecs.quic_decode(data, &mut theirs.out, w, h));
            let ours = quic::decode(data).unwrap().pixels;
            // spice-common leaves the alpha byte as it decodes it (zero).
            let same = ours
                .iter()
                .zip(&theirs.out)
                .all(|(a, b)| a & 0xff_ffff == b & 0xff_ffff);
            assert!(same, "spice-common decodes frame {f} differently");
        }
        theirs
    }

    /// Best of 3 decodes of frame `f`, seconds.
    fn time(&mut self, f: usize) -> f64 {
        let Theirs {
            codecs,
            frames,
            out,
            w,
            h,
        } = self;
        best(3, || {
            black_box(codecs.quic_decode(black_box(&frames[f]), out, *w, *h));
        })
    }
}

/// Without `cref-bench`: no spice-common, no times.
#[cfg(not(feature = "cref-bench"))]
struct Theirs;

#[cfg(not(feature = "cref-bench"))]
impl Theirs {
    fn new(_: usize, _: usize, _: [&[u8]; 2]) -> Self {
        Theirs
    }

    fn time(&mut self, _: usize) -> f64 {
        f64::INFINITY
    }
}
