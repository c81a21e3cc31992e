//! JPEG decode of a desktop-like 1920x1080 frame encoded like the SPICE
//! server does (quality 85, 4:2:0, RGB input), as one image and as the 60
//! 32-pixel columns QEMU sends, reported in MPix/s and as a ratio to a
//! plain memcpy of the same output measured in the same run.
//!
//! The JPEG is made with the jpeg-encoder crate (input only).
//!
//! Run: `cargo bench -p spice-core --bench jpeg`.

mod codecs_common;

use codecs_common::{best, columns, desktop, memcpy_time, report, COLUMN, H, W};
use criterion::{Criterion, Throughput};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use spice_core::image::jpeg;
use std::hint::black_box;

/// `px` (0x00RRGGBB, w x h) as a quality-85 4:2:0 JPEG.
fn encode(px: &[u32], w: u32, h: u32) -> Vec<u8> {
    let rgb: Vec<u8> = px
        .iter()
        .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
        .collect();
    let mut data = Vec::new();
    let mut enc = Encoder::new(&mut data, 85);
    enc.set_sampling_factor(SamplingFactor::R_4_2_0);
    enc.encode(&rgb, w as u16, h as u16, ColorType::Rgb)
        .unwrap();
    data
}

fn main() {
    let frame = desktop(W, H, 0);
    let data = encode(&frame, W, H);
    let img = jpeg::decode(&data).unwrap();
    assert_eq!((img.width, img.height), (W, H));
    let cols: Vec<Vec<u8>> = columns(&frame, W, H)
        .iter()
        .map(|c| encode(c, COLUMN, H))
        .collect();

    let px = (W * H) as f64;
    let memcpy = memcpy_time(W, H);
    let t = best(10, || {
        black_box(jpeg::decode(black_box(&data)).unwrap());
    });
    let by_col = best(10, || {
        for d in &cols {
            black_box(jpeg::decode(black_box(d)).unwrap());
        }
    });
    println!(
        "jpeg bench, {W}x{H}, {} bytes of JPEG; best-of-n, ratio = memcpy time / op time",
        data.len()
    );
    report("memcpy (baseline)", px, memcpy, memcpy);
    report("jpeg::decode (q85 4:2:0)", px, t, memcpy);
    report("jpeg::decode, 60 columns", px, by_col, memcpy);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("jpeg_1080p");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.sample_size(10);
    g.bench_function("decode", |b| {
        b.iter(|| jpeg::decode(black_box(&data)).unwrap())
    });
    g.finish();
    c.final_summary();
}
