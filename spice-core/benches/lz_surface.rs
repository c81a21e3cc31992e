//! Wall clock of our LZ decoder on a recording of the lab server (the
//! `lz.spicerec` that `scripts/bench-decoders` records, under
//! `$BARESPICE_BENCH_RECORDING`), written two ways into 1920x1080 frame
//! buffers (issue 14):
//!   surface  each image at its place in the frame buffer, as the client
//!            draws (QEMU sends 32-pixel-wide columns: every 128-byte row
//!            of a column lies on its own 4 KiB page)
//!   packed   the same images one after another in the same buffer (the
//!            same bytes written, in long runs)
//! each with the frame buffer warm (one buffer, written pass after pass)
//! and cold (a pass writes one of 12 buffers in turn, 96 MiB, so its lines
//! were last touched eleven passes earlier, as the client's surface is
//! between redraws). The four are run in turn, round after round (load
//! drifts hit them alike); prints each one's median pass time and range and
//! the ratio surface / packed at each temperature, the cost of the
//! column pattern itself.
//!
//! Run: `BARESPICE_BENCH_RECORDING=.cache/bench-rec cargo bench -p
//! spice-core --bench lz_surface [-- ROUNDS]`.

mod recording_support;

use recording_support::{Codec, Drawn};
use spice_core::image::{lz, Dest};
use std::hint::black_box;
use std::time::Instant;

/// Frame buffer width and height (the recording's surface).
const W: usize = 1920;
const H: usize = 1080;
/// Frame buffers a cold run cycles through.
const COLD_BUFFERS: usize = 12;
/// Passes per mode per round (the median of them is the round's figure).
const PASSES: usize = 5;

/// Where each image goes in a `W x H` buffer: its draw position, or
/// packed one after another (starting again at 0 when the buffer is full).
fn places(images: &[Drawn], packed: bool) -> Vec<(usize, usize)> {
    let mut next = 0;
    images
        .iter()
        .map(|d| {
            if !packed {
                return (d.top * W + d.left, W);
            }
            if next + d.w * d.h > W * H {
                next = 0;
            }
            next += d.w * d.h;
            (next - d.w * d.h, d.w)
        })
        .collect()
}

/// One pass: decode every image into `fb` at its place; milliseconds.
fn pass(images: &[Drawn], at: &[(usize, usize)], fb: &mut [u32], stage: &mut Vec<u32>) -> f64 {
    let t = Instant::now();
    for (d, &(start, stride)) in images.iter().zip(at) {
        let mut dst = Dest::new(&mut fb[start..], d.w, d.h, stride).expect("image fits");
        lz::decode_into_with(black_box(&d.data), None, &mut dst, stage).expect("our LZ decode");
    }
    t.elapsed().as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::var_os("BARESPICE_BENCH_RECORDING")
        .expect("set BARESPICE_BENCH_RECORDING to a directory holding lz.spicerec");
    let images = recording_support::load(std::path::Path::new(&dir))
        .into_iter()
        .find(|r| r.label == "lz" && r.codec == Codec::Lz)
        .expect("no LZ images in lz.spicerec")
        .images;
    assert!(
        images.iter().all(|d| d.left + d.w <= W && d.top + d.h <= H),
        "recording not of a {W}x{H} surface"
    );
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let pixels: usize = images.iter().map(|d| d.w * d.h).sum();
    let mut fbs = vec![vec![0u32; W * H]; COLD_BUFFERS];
    let mut stage = Vec::new();
    let modes = [("surface", false), ("packed", true)];
    // [mode][warm, cold] -> one median per round
    let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut turn = 0;
    for _ in 0..rounds {
        for (m, &(_, packed)) in modes.iter().enumerate() {
            let at = places(&images, packed);
            for (c, cold) in [false, true].into_iter().enumerate() {
                let mut round: Vec<f64> = (0..PASSES)
                    .map(|_| {
                        let fb = if cold {
                            turn += 1;
                            &mut fbs[turn % COLD_BUFFERS]
                        } else {
                            &mut fbs[0]
                        };
                        pass(&images, &at, fb, &mut stage)
                    })
                    .collect();
                times[m][c].push(median(&mut round));
            }
        }
    }
    println!(
        "{} LZ images, {:.1} Mpixel per pass, {rounds} rounds of {PASSES} passes each",
        images.len(),
        pixels as f64 / 1e6
    );
    let mut med = [[0.0; 2]; 2];
    for (m, (name, _)) in modes.iter().enumerate() {
        for (c, temp) in ["warm", "cold"].iter().enumerate() {
            let v = &mut times[m][c];
            med[m][c] = median(v);
            println!(
                "  {name:<8} {temp}  {:7.2} ms per pass (rounds {:.2}-{:.2})",
                med[m][c],
                v[0],
                v[v.len() - 1]
            );
        }
    }
    for (c, temp) in ["warm", "cold"].iter().enumerate() {
        println!(
            "  surface / packed, {temp}: {:.2}",
            med[0][c] / med[1][c]
        );
    }
}
