//! Wall clock of our LZ decoder on a recording of the lab server (the
//! `lz.spicerec` that `scripts/bench-decoders` records, under
//! `$BARESPICE_BENCH_RECORDING`), written several ways into 1920x1080
//! frame buffers (issue 14):
//!   surface   each image decoded straight into its place in the frame
//!             buffer, as the client draws (QEMU sends 32-pixel-wide
//!             columns: every 128-byte row of a column lies on its own
//!             4 KiB page)
//!   packed    the same images decoded one after another into the same
//!             buffer (the same bytes written, in long runs; not a picture,
//!             the floor for the decode)
//!   gathered  each run of adjacent columns of one update (same top and
//!             height, each starting where the last ended) decoded packed
//!             into a reused buffer, then copied into place a surface row
//!             at a time across the whole run (what batching the columns
//!             of an update before drawing them would cost)
//!   st-cols   no decode: each image's pixels, decoded once before the
//!             rounds, copied into place column after column (the store
//!             pattern of `surface` alone)
//!   st-rows   the same pixels copied a surface row at a time across each
//!             run of adjacent columns (the store pattern of interleaved
//!             decoding of a run: the ceiling of what it can save)
//!   bandN     each run of adjacent columns decoded straight into place,
//!             N rows of each column in turn ([`lz::LzRows`]: the
//!             interleaved decoding a client could do)
//!   b16xK     band16 with at most K columns decoded side by side (the
//!             client's display decodes runs of up to 16, 16 rows a band)
//!   rdN       b16x16 as the stream arrives in reads of N bytes: a run
//!             holds only the columns complete in the read that completes
//!             its first (the client reads about 130 KB per wakeup)
//!   rowsnear  as packed, but rows `width + 1` apart: the strided row
//!             stepping of `surface` (the same instructions) with nearly
//!             the store pattern of `packed`
//! each with the frame buffer warm (one buffer, written pass after pass)
//! and cold (a pass writes one of 12 buffers in turn, so its lines were
//! last touched eleven passes earlier, as the client's surface is between
//! redraws; each buffer has room for a whole pass packed, so `packed` and
//! `rowsnear` never come back to lines they wrote in the same pass). All are run in turn, round after round (load drifts
//! hit them alike); prints each one's median pass time and range and the
//! ratios to `surface` at each temperature.
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
/// Pixels per frame buffer: room for a whole pass written packed (8.3
/// Mpixel on the lab recording), so `packed` and `rowsnear` never wrap
/// onto lines they wrote earlier in the same pass (which would be warm).
const ROOM: usize = W * H * 5;
/// Frame buffers a cold run cycles through.
const COLD_BUFFERS: usize = 12;
/// Passes per mode per round (the median of them is the round's figure).
const PASSES: usize = 5;

/// How a pass writes the images.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Surface,
    Packed,
    Gathered,
    StoreColumns,
    StoreRows,
    RowsPacked,
    Banded(usize, usize),
    Reads(usize),
}

const MODES: [(&str, Mode); 13] = [
    ("surface", Mode::Surface),
    ("packed", Mode::Packed),
    ("gathered", Mode::Gathered),
    ("st-cols", Mode::StoreColumns),
    ("st-rows", Mode::StoreRows),
    ("rowsnear", Mode::RowsPacked),
    ("band4", Mode::Banded(4, usize::MAX)),
    ("band16", Mode::Banded(16, usize::MAX)),
    ("band64", Mode::Banded(64, usize::MAX)),
    ("b16x8", Mode::Banded(16, 8)),
    ("b16x16", Mode::Banded(16, 16)),
    ("rd64k", Mode::Reads(64 * 1024)),
    ("rd130k", Mode::Reads(130 * 1024)),
];

/// Decode `d` into `buf` at `start`, rows `stride` apart.
fn decode(d: &Drawn, buf: &mut [u32], start: usize, stride: usize, stage: &mut Vec<u32>) {
    let mut dst = Dest::new(&mut buf[start..], d.w, d.h, stride).expect("image fits");
    lz::decode_into_with(black_box(&d.data), None, &mut dst, stage).expect("our LZ decode");
}

/// The images from `i` on that continue the column run `images[i]` starts.
fn run_len(images: &[Drawn], i: usize) -> usize {
    let first = &images[i];
    let mut right = first.left + first.w;
    let mut n = 1;
    for d in &images[i + 1..] {
        if d.top != first.top || d.h != first.h || d.left != right {
            break;
        }
        right += d.w;
        n += 1;
    }
    n
}

/// Decode the run `run` packed into `buf`, then copy it into `fb` a row
/// at a time across the run.
fn gather(run: &[Drawn], fb: &mut [u32], buf: &mut Vec<u32>, stage: &mut Vec<u32>) {
    let total: usize = run.iter().map(|d| d.w * d.h).sum();
    if buf.len() < total {
        buf.resize(total, 0);
    }
    let mut off = 0;
    for d in run {
        decode(d, buf, off, d.w, stage);
        off += d.w * d.h;
    }
    let (top, left, h) = (run[0].top, run[0].left, run[0].h);
    for r in 0..h {
        let (mut off, mut at) = (0, (top + r) * W + left);
        for d in run {
            fb[at..at + d.w].copy_from_slice(&buf[off + r * d.w..off + (r + 1) * d.w]);
            at += d.w;
            off += d.w * d.h;
        }
    }
}

/// Copy the already-decoded pixels of `run` (`pixels[k]` packed, one per
/// image) into their places in `fb`: column by column (as drawing each
/// image straight into place stores) or a surface row at a time across
/// the whole run (as interleaved decoding of the run would store).
fn store(run: &[Drawn], pixels: &[Vec<u32>], fb: &mut [u32], rows: bool) {
    let (top, h) = (run[0].top, run[0].h);
    if rows {
        for r in 0..h {
            for (d, p) in run.iter().zip(pixels) {
                let at = (top + r) * W + d.left;
                fb[at..at + d.w].copy_from_slice(black_box(&p[r * d.w..(r + 1) * d.w]));
            }
        }
    } else {
        for (d, p) in run.iter().zip(pixels) {
            for r in 0..h {
                let at = (top + r) * W + d.left;
                fb[at..at + d.w].copy_from_slice(black_box(&p[r * d.w..(r + 1) * d.w]));
            }
        }
    }
}

/// Decode the run `run` straight into place in `fb`, `band` rows of each
/// column in turn ([`lz::LzRows`]).
fn banded(run: &[Drawn], band: usize, fb: &mut [u32], stage: &mut Vec<u32>) {
    if run.len() == 1 {
        let d = &run[0];
        return decode(d, fb, d.top * W + d.left, W, stage);
    }
    let at = |d: &Drawn| d.top * W + d.left;
    let mut passes: Vec<lz::LzRows<'_>> = run
        .iter()
        .map(|d| {
            let dst = Dest::new(&mut fb[at(d)..], d.w, d.h, W).expect("image fits");
            lz::LzRows::new(black_box(&d.data), &dst)
                .expect("LZ header")
                .expect("LZ colour image")
        })
        .collect();
    let h = run[0].h;
    let mut rows = 0;
    while rows < h {
        rows = (rows + band).min(h);
        for (d, p) in run.iter().zip(&mut passes) {
            let mut dst = Dest::new(&mut fb[at(d)..], d.w, d.h, W).expect("image fits");
            p.run(&mut dst, rows).expect("our LZ decode");
        }
    }
}

/// One pass of `mode` into `fb`; milliseconds.
fn pass(
    images: &[Drawn],
    read_of: &[usize],
    decoded: &[Vec<u32>],
    mode: Mode,
    fb: &mut [u32],
    buf: &mut Vec<u32>,
    stage: &mut Vec<u32>,
) -> f64 {
    let t = Instant::now();
    let mut next = 0;
    let mut i = 0;
    while i < images.len() {
        let d = &images[i];
        match mode {
            Mode::Surface => decode(d, fb, d.top * W + d.left, W, stage),
            Mode::Packed => {
                if next + d.w * d.h > ROOM {
                    next = 0;
                }
                decode(d, fb, next, d.w, stage);
                next += d.w * d.h;
            }
            Mode::RowsPacked => {
                let span = d.h * (d.w + 1);
                if span > W * H {
                    // A full-surface image: as `surface`.
                    decode(d, fb, d.top * W + d.left, W, stage);
                    i += 1;
                    continue;
                }
                if next + span > ROOM {
                    next = 0;
                }
                decode(d, fb, next, d.w + 1, stage);
                next += span;
            }
            Mode::Gathered => {
                let n = run_len(images, i);
                gather(&images[i..i + n], fb, buf, stage);
                i += n;
                continue;
            }
            Mode::Banded(band, most) => {
                let n = run_len(images, i).min(most);
                banded(&images[i..i + n], band, fb, stage);
                i += n;
                continue;
            }
            Mode::Reads(read) => {
                // The columns complete in the read that completes image i
                // (`read_of`: where each message ends in the stream).
                let last = read_of[i].div_ceil(read);
                let n = run_len(images, i).min(16).min(
                    read_of[i..]
                        .iter()
                        .take_while(|&&e| e.div_ceil(read) == last)
                        .count(),
                );
                banded(&images[i..i + n], 16, fb, stage);
                i += n;
                continue;
            }
            Mode::StoreColumns | Mode::StoreRows => {
                let n = run_len(images, i);
                let rows = mode == Mode::StoreRows;
                store(&images[i..i + n], &decoded[i..i + n], fb, rows);
                i += n;
                continue;
            }
        }
        i += 1;
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
    let mut fbs = vec![vec![0u32; ROOM]; COLD_BUFFERS];
    let (mut buf, mut stage) = (Vec::new(), Vec::new());
    // Where each image's message ends in the stream (a message is its
    // payload and about 100 bytes of header and draw).
    let read_of: Vec<usize> = images
        .iter()
        .scan(0, |end, d| {
            *end += d.data.len() + 100;
            Some(*end)
        })
        .collect();
    // Each image decoded once, packed, for the store-only modes.
    let decoded: Vec<Vec<u32>> = images
        .iter()
        .map(|d| {
            let mut p = vec![0u32; d.w * d.h];
            decode(d, &mut p, 0, d.w, &mut stage);
            p
        })
        .collect();
    let runs = (0..images.len())
        .scan(0, |next, i| {
            let start = *next == i;
            if start {
                *next = i + run_len(&images, i);
            }
            Some(start)
        })
        .filter(|&s| s)
        .count();
    // [mode][warm, cold]: one median per round.
    let mut times = vec![[Vec::new(), Vec::new()]; MODES.len()];
    let mut turn = 0;
    for _ in 0..rounds {
        for (m, &(_, mode)) in MODES.iter().enumerate() {
            for (c, cold) in [false, true].into_iter().enumerate() {
                let mut round: Vec<f64> = (0..PASSES)
                    .map(|_| {
                        turn += 1;
                        let fb = &mut fbs[if cold { turn % COLD_BUFFERS } else { 0 }];
                        pass(&images, &read_of, &decoded, mode, fb, &mut buf, &mut stage)
                    })
                    .collect();
                times[m][c].push(median(&mut round));
            }
        }
    }
    println!(
        "{} LZ images in {runs} column runs, {:.1} Mpixel per pass, {rounds} rounds of {PASSES} passes each",
        images.len(),
        pixels as f64 / 1e6
    );
    let mut med = vec![[0.0; 2]; MODES.len()];
    for (m, (name, _)) in MODES.iter().enumerate() {
        for (c, temp) in ["warm", "cold"].iter().enumerate() {
            let v = &mut times[m][c];
            med[m][c] = median(v);
            println!(
                "  {name:<8} {temp}  {:7.2} ms per pass (rounds {:.2}-{:.2})  / surface {:.2}",
                med[m][c],
                v[0],
                v[v.len() - 1],
                med[m][c] / med[0][c]
            );
        }
    }
}
