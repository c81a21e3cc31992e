//! Today's QUIC decoder against the one from before issue 14's work, on the
//! same payloads (`BARESPICE_BENCH_DUMP` of the reference bench): each
//! case's images are decoded by both through `quic::decode` (the API both
//! have; it allocates the image, as the reference bench's decoders do),
//! the outputs compared, then timed in alternating rounds, the best of
//! each printed with the ratio.
//!
//! usage: quic-history DUMP_DIR [ROUNDS]   (DUMP_DIR holds `quic/<case>/`)

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The best of `n` timings of `f`, in seconds.
fn best(n: usize, mut f: impl FnMut()) -> f64 {
    let mut b = f64::INFINITY;
    for _ in 0..n {
        let t = Instant::now();
        f();
        b = b.min(t.elapsed().as_secs_f64());
    }
    b
}

/// The entries of `dir`, sorted.
fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: quic-history DUMP_DIR [ROUNDS]"));
    let rounds: usize = args.next().map_or(7, |s| s.parse().expect("ROUNDS"));
    println!("QUIC: today's decoder against the one before issue 14 (b5a86d6), quic::decode, best of {rounds} alternating rounds of 3");
    for case in sorted(&root.join("quic")) {
        let images: Vec<Vec<u8>> = sorted(&case)
            .iter()
            .map(|f| std::fs::read(f).expect("read a payload"))
            .collect();
        let mut px = 0usize;
        for (k, d) in images.iter().enumerate() {
            let a = before::image::quic::decode(d).expect("the old decoder refused a payload");
            let b = today::image::quic::decode(d).expect("today's decoder refused a payload");
            assert_eq!(
                (a.width, a.height),
                (b.width, b.height),
                "image {k}: sizes differ"
            );
            assert!(
                a.pixels
                    .iter()
                    .zip(&b.pixels)
                    .all(|(x, y)| (x ^ y) & 0x00ff_ffff == 0),
                "image {k} of {}: the decoders' colours differ",
                case.display()
            );
            px += b.pixels.len();
        }
        // Each side's decode (the image handed to `black_box`, so none is
        // skipped); which side runs first swaps from round to round.
        let decoders: [fn(&[u8]) -> usize; 2] = [
            |d| before::image::quic::decode(d).map_or(0, |i| black_box(i).pixels.len()),
            |d| today::image::quic::decode(d).map_or(0, |i| black_box(i).pixels.len()),
        ];
        let time = |decode: fn(&[u8]) -> usize| {
            best(3, || {
                for d in &images {
                    black_box(decode(black_box(d)));
                }
            })
        };
        let mut t = [f64::INFINITY; 2];
        for r in 0..rounds {
            for k in 0..2 {
                let s = (r + k) % 2;
                t[s] = t[s].min(time(decoders[s]));
            }
        }
        let [t_old, t_new] = t;
        let mpix = px as f64 / 1e6;
        println!(
            "  {:<36} {:4} img {:6.2} MPix | before {:8.2} ms {:6.1} MPix/s | today {:8.2} ms {:6.1} MPix/s | today/before {:.2} ({:.2}x faster)",
            case.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            images.len(),
            mpix,
            t_old * 1e3,
            mpix / t_old,
            t_new * 1e3,
            mpix / t_new,
            t_new / t_old,
            t_old / t_new
        );
    }
}
