//! QUIC decode of 1920x1080 32-bit frames, reported in MPix/s and as a ratio
//! to a plain memcpy of the same output measured in the same run.
//!
//! The inputs are made at start-up by the test encoder in `quic_support`
//! (byte-exact with spice-common's reference encoder, see `tests/quic.rs`):
//! a grainy photo-like picture, QUIC's intended content, and the desktop-like
//! frame the other codec benches use.
//!
//! Run: `cargo bench -p spice-core --bench quic`.

mod codecs_common;
mod quic_support;

use codecs_common::{best, desktop, memcpy_time, report, H, W};
use criterion::{Criterion, Throughput};
use quic_support::{encode, photo, QUIC_IMAGE_TYPE_RGB32};
use spice_core::image::quic;
use std::hint::black_box;

fn main() {
    let (w, h) = (W as usize, H as usize);
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
