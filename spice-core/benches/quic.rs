//! QUIC decode of 1920x1080 32-bit frames, reported in MPix/s and as a ratio
//! to a plain memcpy of the same output measured in the same run.
//!
//! The inputs are made at start-up by the test encoder in `quic_support`
//! (byte-exact with spice-common's reference encoder, see `tests/quic.rs`):
//! a grainy photo-like picture, QUIC's intended content, and the desktop-like
//! frame the other codec benches use.
//!
//! The photo is also cut into QEMU's 32-pixel columns (each its own QUIC
//! image) and decoded into place, beside the whole frame: the cost of
//! narrow images alone, on the same content.
//!
//! With a recording of the lab server (`quic.spicerec` under
//! `$BARESPICE_BENCH_RECORDING`, default `.cache/bench-rec` of the
//! workspace, which `scripts/bench-decoders` records), also every recorded
//! QUIC image decoded as the client draws it: straight into its place in
//! one 1920x1080 frame buffer (QEMU's 32-pixel-wide columns, rows 7.5 KiB
//! apart), the ratio against a memcpy of as many pixels. This is the case
//! the client's CPU follows.
//!
//! `BARESPICE_QUIC_RECORDED_PASSES=N` runs only N passes of the recorded
//! case and exits (for `perf record` or `valgrind` on the bench binary).
//!
//! Run: `cargo bench -p spice-core --bench quic`.

mod codecs_common;
mod quic_support;
mod recording_support;

use codecs_common::{best, columns, desktop, memcpy_time, report, COLUMN, H, W};
use criterion::{Criterion, Throughput};
use quic_support::{encode, photo, QUIC_IMAGE_TYPE_RGB32};
use recording_support::{Codec, Drawn};
use spice_core::image::{quic, Dest};
use std::hint::black_box;
use std::path::PathBuf;

/// The recorded QUIC images, if a recording is there.
fn recorded() -> Option<Vec<Drawn>> {
    let dir = std::env::var_os("BARESPICE_BENCH_RECORDING")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/bench-rec"));
    let images = recording_support::load(&dir)
        .into_iter()
        .find(|r| r.label == "quic" && r.codec == Codec::Quic)?
        .images;
    let fits = |d: &Drawn| d.left + d.w <= W as usize && d.top + d.h <= H as usize;
    images.iter().all(fits).then_some(images)
}

/// Decode every image of `images` into its place in `fb` (a `W`-wide frame).
fn draw_all(images: &[Drawn], fb: &mut [u32]) {
    for d in images {
        let start = d.top * W as usize + d.left;
        let mut dst = Dest::new(&mut fb[start..], d.w, d.h, W as usize).expect("image fits");
        quic::decode_into(black_box(&d.data), &mut dst).expect("recorded QUIC decodes");
    }
}

fn main() {
    let (w, h) = (W as usize, H as usize);
    if let Some(passes) = std::env::var("BARESPICE_QUIC_RECORDED_PASSES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        let images = recorded().expect("no quic.spicerec under BARESPICE_BENCH_RECORDING");
        let mut fb = vec![0u32; w * h];
        for _ in 0..passes {
            draw_all(&images, &mut fb);
        }
        return;
    }
    let photo_px = photo(w, h, 1);
    let photo_quic = encode(QUIC_IMAGE_TYPE_RGB32, w, h, &photo_px);
    assert_eq!(quic::decode(&photo_quic).unwrap().pixels, photo_px);
    let desk_px: Vec<u32> = desktop(W, H, 0).iter().map(|p| p | 0xff00_0000).collect();
    let desk_quic = encode(QUIC_IMAGE_TYPE_RGB32, w, h, &desk_px);
    assert_eq!(quic::decode(&desk_quic).unwrap().pixels, desk_px);

    let px = (W * H) as f64;
    let memcpy = memcpy_time(W, H);
    let t_photo = best(15, || {
        black_box(quic::decode(black_box(&photo_quic)).unwrap());
    });
    let t_desk = best(15, || {
        black_box(quic::decode(black_box(&desk_quic)).unwrap());
    });
    let raw = (w * h * 4) as f64;
    println!(
        "quic bench, {W}x{H}: photo {} bytes ({:.1}% of raw), desktop {} bytes ({:.1}%); best-of-n, ratio = memcpy time / op time",
        photo_quic.len(),
        photo_quic.len() as f64 * 100.0 / raw,
        desk_quic.len(),
        desk_quic.len() as f64 * 100.0 / raw,
    );
    report("memcpy (baseline)", px, memcpy, memcpy);
    report("quic::decode photo (to Image)", px, t_photo, memcpy);
    report("quic::decode desktop (to Image)", px, t_desk, memcpy);
    // The same photo as QEMU sends a full-screen update: 32-pixel columns,
    // each its own QUIC image, decoded into its place in the frame. Beside
    // the whole frame, this is what narrow images cost by themselves.
    let photo_columns: Vec<Drawn> = columns(&photo_px, W, H)
        .iter()
        .enumerate()
        .map(|(c, col)| Drawn {
            data: encode(QUIC_IMAGE_TYPE_RGB32, COLUMN as usize, h, col),
            w: COLUMN as usize,
            h,
            left: c * COLUMN as usize,
            top: 0,
        })
        .collect();
    let mut fb = vec![0u32; w * h];
    draw_all(&photo_columns, &mut fb);
    assert_eq!(fb, photo_px);
    let t_cols = best(15, || draw_all(&photo_columns, &mut fb));
    report("photo in 32-px columns into place", px, t_cols, memcpy);
    println!("  columns / whole frame time: {:.2}", t_cols / t_photo);
    if let Some(images) = recorded() {
        let pixels: usize = images.iter().map(|d| d.w * d.h).sum();
        let mut fb = vec![0u32; w * h];
        let t_rec = best(15, || draw_all(&images, &mut fb));
        // memcpy of as many pixels as the images hold.
        let memcpy_rec = memcpy * pixels as f64 / px;
        report(
            &format!("recorded: {} images into place", images.len()),
            pixels as f64,
            t_rec,
            memcpy_rec,
        );
        println!(
            "  recorded: {:.2} ms per pass of {:.1} Mpixel",
            t_rec * 1e3,
            pixels as f64 / 1e6
        );
    } else {
        println!("  (no quic.spicerec: set BARESPICE_BENCH_RECORDING for the recorded case)");
    }

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("quic_1080p");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.sample_size(20);
    g.bench_function("decode_photo", |b| {
        b.iter(|| quic::decode(black_box(&photo_quic)).unwrap())
    });
    g.bench_function("decode_desktop", |b| {
        b.iter(|| quic::decode(black_box(&desk_quic)).unwrap())
    });
    g.finish();
    c.final_summary();
}
