//! GLZ decode on a desktop-like 1920x1080 frame: the first frame alone
//! (runs, row copies, literals) and a second frame that mostly refers to
//! the first through the window, plus ZLIB_GLZ; each as one image and as
//! the 60 32-pixel columns QEMU actually sends. Reported in MPix/s and as a
//! ratio to a plain memcpy of the same output measured in the same run.
//!
//! The same frames are also decoded straight onto a frame buffer
//! (`decode_into`: the window's ring, as the client draws them).
//!
//! On a glibc host, a fresh 8 MB image per decode is page-faulted in on
//! every iteration (the allocator returns big blocks to the kernel), which
//! costs about as much as decoding; the column case shows the steady state.
//!
//! The GLZ streams are made by the small greedy encoder in `glz_support`
//! that writes the format of the server's `glz-encode*.c` (the input only;
//! the bench checks the decode gives the frame back as a sanity check).
//!
//! Run: `cargo bench -p spice-core --bench glz`.

mod codecs_common;
mod glz_support;
#[path = "../tests/common/zlib.rs"]
mod zlib;

use codecs_common::{best, columns, desktop, memcpy_time, report, COLUMN, H, W};
use criterion::{Criterion, Throughput};
use glz_support::encode;
use spice_core::image::glz::GlzWindow;
use spice_core::image::Dest;
use std::hint::black_box;
use zlib::zlib_stored;

struct Inputs {
    first: Vec<u8>,
    second: Vec<u8>,
    second_zlib: Vec<u8>,
    /// Frame 1 then frame 2 as 32-pixel columns (ids 0..60, 60..120).
    cols1: Vec<Vec<u8>>,
    cols2: Vec<Vec<u8>>,
}

fn inputs() -> Inputs {
    let (w, h) = (W as usize, H as usize);
    let f1 = desktop(W, H, 0);
    let f2 = desktop(W, H, 1);
    let first = encode(&f1, w, h, 0, None);
    let second = encode(&f2, w, h, 1, Some((&f1, 1)));
    let (c1, c2) = (columns(&f1, W, H), columns(&f2, W, H));
    let n = c1.len();
    let cw = COLUMN as usize;
    let cols1: Vec<Vec<u8>> = c1
        .iter()
        .enumerate()
        .map(|(k, c)| encode(c, cw, h, k as u64, None))
        .collect();
    let cols2: Vec<Vec<u8>> = c2
        .iter()
        .enumerate()
        .map(|(k, c)| encode(c, cw, h, (n + k) as u64, Some((&c1[k], n as u32))))
        .collect();
    // Sanity: the decoder gives the pictures back.
    let mut win = GlzWindow::new(WINDOW);
    assert_eq!(win.decode(&first, None).unwrap().pixels, f1);
    assert_eq!(win.decode(&second, None).unwrap().pixels, f2);
    let mut win = GlzWindow::new(WINDOW);
    for (d, c) in cols1.iter().zip(&c1).chain(cols2.iter().zip(&c2)) {
        assert_eq!(&win.decode(d, None).unwrap().pixels, c);
    }
    let second_zlib = zlib_stored(&second);
    Inputs {
        first,
        second,
        second_zlib,
        cols1,
        cols2,
    }
}

/// GLZ window of the benches (as advertised by a client), in pixels.
const WINDOW: u32 = 1 << 23;

fn window_with(images: &[Vec<u8>]) -> GlzWindow {
    let mut win = GlzWindow::new(WINDOW);
    for d in images {
        win.decode(d, None).unwrap();
    }
    win
}

fn summary(i: &Inputs) {
    let px = (W * H) as f64;
    let memcpy = memcpy_time(W, H);
    let mut win = GlzWindow::new(WINDOW);
    let t1 = best(15, || {
        black_box(win.decode(black_box(&i.first), None).unwrap());
    });
    let mut win = window_with(std::slice::from_ref(&i.first));
    let t2 = best(15, || {
        black_box(win.decode(black_box(&i.second), None).unwrap());
    });
    let mut win = window_with(std::slice::from_ref(&i.first));
    let t3 = best(15, || {
        black_box(
            win.decode_zlib(black_box(&i.second_zlib), i.second.len() as u32)
                .unwrap(),
        );
    });
    let mut win = GlzWindow::new(WINDOW);
    let c1 = best(15, || {
        for d in &i.cols1 {
            black_box(win.decode(black_box(d), None).unwrap());
        }
    });
    let mut win = window_with(&i.cols1);
    let c2 = best(15, || {
        for d in &i.cols2 {
            black_box(win.decode(black_box(d), None).unwrap());
        }
    });
    // Straight onto a frame buffer, as the client draws (the window's ring).
    let mut fb = vec![0u32; (W * H) as usize];
    let (w, h) = (W as usize, H as usize);
    let mut win = GlzWindow::new(WINDOW);
    let r1 = best(15, || {
        let mut dst = Dest::new(&mut fb, w, h, w).unwrap();
        win.decode_into(black_box(&i.first), &mut dst).unwrap();
    });
    let mut win = window_with(std::slice::from_ref(&i.first));
    let r2 = best(15, || {
        let mut dst = Dest::new(&mut fb, w, h, w).unwrap();
        win.decode_into(black_box(&i.second), &mut dst).unwrap();
    });
    let mut win = window_with(&i.cols1);
    let rc2 = best(15, || {
        for (k, d) in i.cols2.iter().enumerate() {
            let at = k * COLUMN as usize;
            let mut dst = Dest::new(&mut fb[at..], COLUMN as usize, h, w).unwrap();
            win.decode_into(black_box(d), &mut dst).unwrap();
        }
    });
    black_box(&fb);
    let col_bytes = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
    println!(
        "glz bench, {W}x{H}, frame 1 {} bytes, frame 2 {} bytes (columns: {} + {}); best-of-n, \
         ratio = memcpy time / op time",
        i.first.len(),
        i.second.len(),
        col_bytes(&i.cols1),
        col_bytes(&i.cols2)
    );
    report("memcpy (baseline)", px, memcpy, memcpy);
    report("glz frame 1 (intra)", px, t1, memcpy);
    report("glz frame 2 (refs to frame 1)", px, t2, memcpy);
    report("zlib_glz frame 2 (stored deflate)", px, t3, memcpy);
    report("glz frame 1, 60 columns", px, c1, memcpy);
    report("glz frame 2, 60 columns (refs)", px, c2, memcpy);
    report("glz frame 1 into a frame buffer", px, r1, memcpy);
    report("glz frame 2 into a frame buffer", px, r2, memcpy);
    report("glz frame 2, 60 columns into a fb", px, rc2, memcpy);
}

fn main() {
    let i = inputs();
    summary(&i);
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("glz_1080p");
    g.throughput(Throughput::Elements((W * H) as u64));
    g.sample_size(20);
    let mut win = GlzWindow::new(WINDOW);
    g.bench_function("frame1_intra", |b| {
        b.iter(|| win.decode(black_box(&i.first), None).unwrap())
    });
    let mut win = window_with(std::slice::from_ref(&i.first));
    g.bench_function("frame2_refs", |b| {
        b.iter(|| win.decode(black_box(&i.second), None).unwrap())
    });
    let mut win = window_with(&i.cols1);
    g.bench_function("frame2_columns_refs", |b| {
        b.iter(|| {
            for d in &i.cols2 {
                black_box(win.decode(black_box(d), None).unwrap());
            }
        })
    });
    g.finish();
    c.final_summary();
}
