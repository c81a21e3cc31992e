//! Display hot paths on a 1920x1080 frame: LZ decode, the OP_PUT blit, a
//! solid fill, a scaled blit, and the firmware's fit-to-screen redraw
//! (`fit::Layout::render`, a 1024x768 desktop on a 1920x1080 screen, and a
//! same-size one), each reported in MPix/s and as a ratio to a plain memcpy
//! of the same number of pixels measured in the same run.
//!
//! Then whole DRAW_COPY messages through `Display::handle` (decoded straight
//! into the surface) against the two-step path they replace (decode into an
//! image of its own, then blit it), as a ratio two-step time / direct time.
//!
//! Run: `cargo bench -p spice-core --bench display` (criterion statistics
//! follow the one-line summary table).

use criterion::{BenchmarkId, Criterion, Throughput};
use spice_core::canvas::{Rect, Rop, ScaleMode, Surface};
use spice_core::display::{Display, DisplayConfig};
use spice_core::enums::*;
use spice_core::fit::Layout;
use spice_core::image::glz::GlzWindow;
use spice_core::image::{bitmap, lz, Dest, Image};
use spice_core::outbox::Outbox;
use spice_core::wire::Writer;
use std::hint::black_box;
use std::time::Instant;

const W: u32 = 1920;
const H: u32 = 1080;

/// Builds an LZ_RGB32 stream by the format of spice-common `lz.c`: a
/// desktop-like picture of flat runs, row copies and noisy literal spans.
/// (Only the input of the benchmark; no expected output is derived from it.)
struct LzStream {
    out: Vec<u8>,
}

impl LzStream {
    fn new(w: u32, h: u32) -> Self {
        let mut out = Vec::new();
        for word in [
            lz::LZ_MAGIC,
            lz::LZ_VERSION,
            lz::LZ_IMAGE_TYPE_RGB32,
            w,
            h,
            w * 4,
            1,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        Self { out }
    }
    fn literals(&mut self, px: &[u32]) {
        for chunk in px.chunks(32) {
            self.out.push(chunk.len() as u8 - 1);
            for p in chunk {
                self.out
                    .extend_from_slice(&[*p as u8, (*p >> 8) as u8, (*p >> 16) as u8]);
            }
        }
    }
    /// A match of `len` pixels at distance `dist` (< 8191), RGB32 bias 1.
    fn matched(&mut self, len: usize, dist: usize) {
        let ofs = dist - 1;
        let hi = (ofs >> 8) as u8;
        if len < 7 {
            self.out.push(((len as u8) << 5) | hi);
        } else {
            self.out.push((7 << 5) | hi);
            let mut ext = len - 7;
            while ext >= 255 {
                self.out.push(255);
                ext -= 255;
            }
            self.out.push(ext as u8);
        }
        self.out.push(ofs as u8);
    }
}

fn desktop_lz() -> Vec<u8> {
    let mut s = LzStream::new(W, H);
    let mut seed = 0x1234_5678u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for y in 0..H as usize {
        let mut x = 0usize;
        while x < W as usize {
            let left = W as usize - x;
            let kind = rnd() % 4;
            if x == 0 || (y == 0 && kind == 2) || kind == 3 {
                let n = (1 + rnd() as usize % 48).min(left);
                let px: Vec<u32> = (0..n).map(|_| rnd() & 0xffffff).collect();
                s.literals(&px);
                x += n;
            } else if kind == 2 {
                let n = (8 + rnd() as usize % 400).min(left);
                s.matched(n, W as usize);
                x += n;
            } else {
                let n = (3 + rnd() as usize % 200).min(left);
                s.matched(n, 1);
                x += n;
            }
        }
    }
    s.out
}

fn frame() -> Image {
    let pixels = (0..W * H)
        .map(|i| i.wrapping_mul(2_654_435_761) & 0xffffff)
        .collect();
    Image {
        width: W,
        height: H,
        pixels,
        has_alpha: false,
    }
}

/// Best-of-`n` seconds for `f`.
fn best(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary() {
    let px = (W * H) as f64;
    let src = frame();
    let mut dst = vec![0u32; (W * H) as usize];
    let memcpy = best(30, || {
        dst.copy_from_slice(black_box(&src.pixels));
        black_box(&dst);
    });
    let stream = desktop_lz();
    let lz_t = best(15, || {
        black_box(lz::decode(black_box(&stream), None).unwrap());
    });
    // The same decode straight into a reused 1920x1080 buffer (the surface
    // path: no allocation, no second copy).
    let mut into = vec![0u32; (W * H) as usize];
    let lz_into = best(15, || {
        let mut d = Dest::new(&mut into, W as usize, H as usize, W as usize).unwrap();
        lz::decode_into(black_box(&stream), None, &mut d).unwrap();
        black_box(&into);
    });
    let mut surf = Surface::new(W, H, SPICE_SURFACE_FMT_32_xRGB).unwrap();
    let full = surf.bounds();
    let blit = best(30, || {
        surf.blit(full, black_box(&src), 0, 0, Rop::Copy, None)
    });
    let fill = best(30, || surf.fill(full, 0x336699, Rop::Copy, None));
    let xor = best(15, || {
        surf.blit(full, black_box(&src), 0, 0, Rop::Xor, None)
    });
    let half = Rect::new(0, 0, W as i32 / 2, H as i32 / 2);
    let scaled = best(10, || {
        surf.blit_scaled(full, &src, half, full, ScaleMode::Nearest, Rop::Copy, None)
    });
    let bilinear = best(5, || {
        surf.blit_scaled(
            full,
            &src,
            half,
            full,
            ScaleMode::Interpolate,
            Rop::Copy,
            None,
        )
    });
    // fit: a 1024x768 remote surface redrawn on a 1920x1080 screen (1440x1080
    // picture), and a 1920x1080 one (the copy path); ratios per output pixel.
    let mut remote = Surface::new(1024, 768, SPICE_SURFACE_FMT_32_xRGB).unwrap();
    remote.blit(remote.bounds(), &src, 0, 0, Rop::Copy, None);
    let mut screen = vec![0u32; (W * H) as usize];
    let up = Layout::fit(1024, 768, W, H);
    let fit_up = best(10, || {
        black_box(up.render(black_box(&remote), &mut screen, W as usize, up.picture()));
    });
    let same = Layout::fit(W, H, W, H);
    let fit_same = best(30, || {
        black_box(same.render(black_box(&surf), &mut screen, W as usize, same.picture()));
    });
    println!(
        "display bench, {W}x{H} ({} LZ bytes), best-of-n, ratio = memcpy time / op time",
        stream.len()
    );
    for (name, t) in [
        ("memcpy (baseline)", memcpy),
        ("lz decode rgb32", lz_t),
        ("lz decode_into", lz_into),
        ("blit OP_PUT", blit),
        ("fill OP_PUT", fill),
        ("blit XOR", xor),
        ("scaled 2x nearest", scaled),
        ("scaled 2x bilinear", bilinear),
    ] {
        println!(
            "  {name:<20} {:>9.1} MPix/s  ratio {:.3}",
            px / t / 1e6,
            memcpy / t
        );
    }
    for (name, t, out) in [
        ("fit 1024x768 bilinear", fit_up, up.w * up.h),
        ("fit 1920x1080 (copy)", fit_same, W * H),
    ] {
        let out = out as f64;
        println!(
            "  {name:<20} {:>9.1} MPix/s  ratio {:.3} (per output pixel)",
            out / t / 1e6,
            (memcpy / px) / (t / out)
        );
    }
}

/// A DRAW_COPY (OP_PUT, unclipped, unmasked) of the whole `W x H` image
/// `kind` with codec payload `payload` (after the descriptor) onto surface 0.
fn draw_copy(kind: u32, payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(0).i32(0).i32(0).i32(H as i32).i32(W as i32);
    w.u8(SPICE_CLIP_TYPE_NONE as u8);
    let src = 21 + 36;
    w.u32(src).i32(0).i32(0).i32(H as i32).i32(W as i32);
    w.u16(SPICE_ROPD_OP_PUT as u16).u8(0);
    w.u8(0).i32(0).i32(0).u32(0);
    w.u64(1).u8(kind as u8).u8(0).u32(W).u32(H);
    w.bytes(payload);
    w.finish()
}

/// A display channel with a `W x H` primary surface.
fn display_1080p() -> (Display, GlzWindow, Outbox) {
    let config = DisplayConfig {
        preferred_compression: None,
        glz_window_pixels: 0,
        pixmap_cache_pixels: 0,
        glz_dictionary_id: 0,
        pixmap_cache_id: 0,
    };
    let mut d = Display::new(0, config);
    let (mut glz, mut out) = (GlzWindow::new(0), Outbox::new());
    let mut b = Writer::new();
    b.u32(0)
        .u32(W)
        .u32(H)
        .u32(SPICE_SURFACE_FMT_32_xRGB)
        .u32(SPICE_SURFACE_FLAGS_PRIMARY);
    d.handle(
        SPICE_MSG_DISPLAY_SURFACE_CREATE,
        &b.finish(),
        &mut glz,
        &mut out,
    )
    .unwrap();
    (d, glz, out)
}

/// DRAW_COPY through the display channel against decode-then-blit, for a
/// 32-bit BITMAP and an LZ_RGB image of the whole screen.
fn draw_copy_summary() {
    let src = frame();
    let info = bitmap::BitmapInfo {
        format: SPICE_BITMAP_FMT_32BIT as u8,
        flags: SPICE_BITMAP_FLAGS_TOP_DOWN as u8,
        width: W,
        height: H,
        stride: W * 4,
    };
    let raw: Vec<u8> = src.pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
    let mut bmp = Writer::new();
    bmp.u8(info.format)
        .u8(info.flags)
        .u32(W)
        .u32(H)
        .u32(W * 4)
        .u32(0)
        .bytes(&raw);
    let bmp_msg = draw_copy(SPICE_IMAGE_TYPE_BITMAP, &bmp.finish());
    let stream = desktop_lz();
    let mut lzp = Writer::new();
    lzp.u32(stream.len() as u32).bytes(&stream);
    let lz_msg = draw_copy(SPICE_IMAGE_TYPE_LZ_RGB, &lzp.finish());
    let (mut d, mut glz, mut out) = display_1080p();
    let mut surf = Surface::new(W, H, SPICE_SURFACE_FMT_32_xRGB).unwrap();
    let full = surf.bounds();
    println!("DRAW_COPY {W}x{H}, best-of-n, ratio = decode+blit time / direct time");
    for (name, msg, n) in [("BITMAP 32-bit", &bmp_msg, 20), ("LZ_RGB", &lz_msg, 10)] {
        let mut two_step = || {
            let img = if name == "LZ_RGB" {
                lz::decode(black_box(&stream), None).unwrap()
            } else {
                bitmap::decode(&info, black_box(&raw), None).unwrap()
            };
            surf.blit(full, &img, 0, 0, Rop::Copy, None);
        };
        let old = best(n, &mut two_step);
        let new = best(n, || {
            d.handle(
                SPICE_MSG_DISPLAY_DRAW_COPY,
                black_box(msg),
                &mut glz,
                &mut out,
            )
            .unwrap()
        });
        println!(
            "  {name:<20} decode+blit {:>7.2} ms  direct {:>7.2} ms  ratio {:.3}",
            old * 1e3,
            new * 1e3,
            old / new
        );
    }
    assert_eq!(
        d.primary().unwrap().pixels,
        surf.pixels,
        "both paths must paint the same pixels"
    );
}

fn benches(c: &mut Criterion) {
    let src = frame();
    let stream = desktop_lz();
    let mut g = c.benchmark_group("display_1080p");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.sample_size(20);
    let mut dst = vec![0u32; (W * H) as usize];
    g.bench_function(BenchmarkId::new("memcpy", "baseline"), |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src.pixels)))
    });
    g.bench_function("lz_decode_rgb32", |b| {
        b.iter(|| lz::decode(black_box(&stream), None).unwrap())
    });
    let mut surf = Surface::new(W, H, SPICE_SURFACE_FMT_32_xRGB).unwrap();
    let full = surf.bounds();
    g.bench_function("blit_op_put", |b| {
        b.iter(|| surf.blit(full, black_box(&src), 0, 0, Rop::Copy, None))
    });
    g.finish();
}

fn main() {
    summary();
    draw_copy_summary();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
