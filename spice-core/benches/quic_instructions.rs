//! QUIC decode of the same bytes by ours and by spice-common's C decoder
//! (`spice-cref`), once each, through two `#[inline(never)]` entry points
//! (`bench_ours_quic`, `bench_theirs_quic`) so that
//! `valgrind --tool=callgrind` can count each side's instructions exactly:
//! an instruction count does not move with the machine's load, unlike the
//! timings of the `reference` bench. `scripts/bench-quic-instructions` runs
//! it under callgrind and prints the ratio.
//!
//! Inputs: the `reference` bench's 1920x1080 desktop- and photo-like frames,
//! encoded by spice-common's own QUIC encoder (RGB32). The outputs are
//! compared pixel for pixel; a difference fails the run.

mod codecs_common;
mod quic_support;

use codecs_common::{desktop, H, W};
use quic_support::{photo, QUIC_IMAGE_TYPE_RGB32};
use spice_core::image::{quic, Dest};
use std::hint::black_box;

/// Our decode into a buffer of the image's size, as the client decodes
/// onto a surface and as spice-common's side is measured (allocating and
/// clearing the buffer is left out of both counts).
#[inline(never)]
fn bench_ours_quic(data: &[u8], out: &mut [u32]) -> bool {
    let (w, h) = (W as usize, H as usize);
    match Dest::new(out, w, h, w) {
        Ok(mut dst) => quic::decode_into(data, &mut dst).is_ok(),
        Err(_) => false,
    }
}

/// spice-common's decode into a buffer of the same size.
#[inline(never)]
fn bench_theirs_quic(codecs: &mut spice_cref::Codecs, data: &[u8], out: &mut [u32]) -> bool {
    codecs.quic_decode(data, out, W as usize, H as usize)
}

fn main() {
    if !spice_cref::available() {
        eprintln!("quic_instructions: spice-common source missing (run scripts/spice-common-src)");
        std::process::exit(1);
    }
    let (w, h) = (W as usize, H as usize);
    let desk = desktop(W, H, 0);
    let pic: Vec<u32> = photo(w, h, 1).iter().map(|p| p & 0x00ff_ffff).collect();
    let mut codecs = spice_cref::Codecs::new();
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for (label, frame) in [("desktop", &desk), ("photo", &pic)] {
        if !wanted.is_empty() && !wanted.iter().any(|x| x == label) {
            continue;
        }
        let mut data = Vec::with_capacity(w * h * 4);
        data.extend(
            codecs
                .quic_encode(QUIC_IMAGE_TYPE_RGB32 as i32, w, h, frame)
                .expect("quic_encode"),
        );
        let mut theirs = vec![0u32; w * h];
        assert!(bench_theirs_quic(
            &mut codecs,
            black_box(&data),
            &mut theirs
        ));
        let mut ours = vec![0u32; w * h];
        assert!(
            bench_ours_quic(black_box(&data), &mut ours),
            "our QUIC decode failed"
        );
        let same = ours
            .iter()
            .zip(&theirs)
            .all(|(a, b)| (a ^ b) & 0x00ff_ffff == 0);
        assert!(same, "{label}: decoded pixels differ");
        println!("{label}: {} bytes of QUIC, outputs equal", data.len());
    }
}
