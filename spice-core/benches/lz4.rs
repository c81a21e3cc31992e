//! LZ4 decode of a desktop-like 1920x1080 32-bit frame in SPICE's LZ4
//! framing, as one image, straight into a reused buffer (`decode_into`, the
//! surface path) and as the 60 32-pixel columns QEMU sends,
//! reported in MPix/s and as a ratio to a plain memcpy of the same output
//! measured in the same run; lz4_flex's safe block decoder on the same
//! block (bytes only, into a reused buffer) is a second reference.
//!
//! On a glibc host a fresh 8 MB image per decode is page-faulted in on
//! every iteration, which costs about as much as decoding; the column case
//! shows the steady state.
//!
//! The block is made with lz4_flex's compressor (input only).
//!
//! Run: `cargo bench -p spice-core --bench lz4`.

mod codecs_common;

use codecs_common::{best, columns, desktop, memcpy_time, report, COLUMN, H, W};
use criterion::{Criterion, Throughput};
use spice_core::enums::SPICE_BITMAP_FMT_32BIT;
use spice_core::image::{lz4, Dest};
use std::hint::black_box;

/// Little-endian bytes of 0x00RRGGBB pixels (a 32BIT bitmap's rows).
fn bytes(px: &[u32]) -> Vec<u8> {
    px.iter().flat_map(|p| p.to_le_bytes()).collect()
}

/// SPICE LZ4 payload (top-down flag, format, then big-endian-length
/// blocks) holding one block, and the block.
fn payload(rows: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let block = lz4_flex::block::compress(rows);
    let mut v = vec![1, SPICE_BITMAP_FMT_32BIT as u8];
    v.extend_from_slice(&(block.len() as u32).to_be_bytes());
    v.extend_from_slice(&block);
    (v, block)
}

fn main() {
    let frame = desktop(W, H, 0);
    let rows = bytes(&frame);
    let (data, block) = payload(&rows);
    assert_eq!(lz4::decode(&data, W, H).unwrap().pixels, frame);
    let cols: Vec<Vec<u8>> = columns(&frame, W, H)
        .iter()
        .map(|c| payload(&bytes(c)).0)
        .collect();

    let px = (W * H) as f64;
    let memcpy = memcpy_time(W, H);
    let ours = best(15, || {
        black_box(lz4::decode(black_box(&data), W, H).unwrap());
    });
    let mut into = vec![0u32; frame.len()];
    let ours_into = best(15, || {
        let (w, h) = (W as usize, H as usize);
        let mut d = Dest::new(&mut into, w, h, w).unwrap();
        lz4::decode_into(black_box(&data), &mut d).unwrap();
        black_box(&into);
    });
    let mut out = vec![0u8; rows.len()];
    let flex = best(15, || {
        lz4_flex::block::decompress_into(black_box(&block), &mut out).unwrap();
        black_box(&out);
    });
    let by_col = best(15, || {
        for d in &cols {
            black_box(lz4::decode(black_box(d), COLUMN, H).unwrap());
        }
    });
    println!(
        "lz4 bench, {W}x{H}, {} bytes of LZ4 ({:.1}% of raw); best-of-n, ratio = memcpy time / op time",
        data.len(),
        data.len() as f64 * 100.0 / rows.len() as f64
    );
    report("memcpy (baseline)", px, memcpy, memcpy);
    report("lz4::decode (to Image)", px, ours, memcpy);
    report("lz4::decode_into (reused buffer)", px, ours_into, memcpy);
    report("lz4::decode, 60 columns", px, by_col, memcpy);
    report("lz4_flex block decode (bytes only)", px, flex, memcpy);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("lz4_1080p");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.sample_size(20);
    g.bench_function("decode", |b| {
        b.iter(|| lz4::decode(black_box(&data), W, H).unwrap())
    });
    g.finish();
    c.final_summary();
}
