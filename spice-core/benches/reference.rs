//! barespice's lossless decoders against **spice-common's own C decoders**
//! (the code libspice-client-glib runs: `common/quic.c`, `common/lz.c`,
//! spice-gtk's `decode-glz.c`, and liblz4 driven as `canvas_get_lz4` does),
//! built from Debian's spice-gtk source package by the bench-only crate
//! `spice-cref` (`scripts/spice-common-src` unpacks it into `.cache/`).
//!
//! Inputs, the same bytes for both decoders:
//! - generated: a 1920x1080 desktop-like frame and a photo-like frame,
//!   encoded at run time by spice-common's own QUIC and LZ *encoders* (the
//!   server's code), liblz4's `LZ4_compress_default` (spice-server's LZ4
//!   encoder) and, for GLZ (whose encoder only spice-server has), the
//!   benches' greedy GLZ encoder (`glz_support`);
//! - recorded, when `BARESPICE_BENCH_RECORDING` names a directory of
//!   `barespice-host --record` files (`scripts/bench-decoders` records the
//!   lab server with each compression): every QUIC, LZ, GLZ and LZ4 image
//!   the real server sent, decoded in order.
//!
//! Both decoders write a fresh image per decode (as both clients do), and
//! their outputs are compared pixel for pixel before timing. Runs of ours,
//! theirs and a memcpy alternate; printed per codec: best-of-n time of
//! each, `ours/theirs` (time ratio, < 1 = ours is faster), and each as a
//! multiple of a memcpy of the decoded bytes.
//!
//! Run: `scripts/bench-decoders` (or `cargo bench -p spice-core --bench reference`
//! once the source is unpacked).
//!
//! With `BARESPICE_BENCH_DUMP` naming a directory, nothing is timed: each
//! selected case's payloads are written there instead, as
//! `<codec>/<case>/NNNNN.bin` in decode order (`scripts/bench-quic-history`
//! feeds the QUIC ones to the decoder as it was before issue 14).

mod codecs_common;
mod glz_support;
mod quic_support;
mod recording_support;

use codecs_common::{best, desktop, H, W};
use quic_support::photo;
use recording_support::{aligned, Codec};
use spice_core::image::glz::GlzWindow;
use spice_core::image::{lz, lz4, quic, Image};
use std::hint::black_box;
use std::sync::Arc;

/// spice-common's `QUIC_IMAGE_TYPE_RGB32`.
const QUIC_IMAGE_TYPE_RGB32: i32 = 4;

/// GLZ window (pixels) of our decoder, as the client advertises it.
const GLZ_WINDOW: u32 = 1 << 23;

/// Timing repetitions (best of).
const RUNS: usize = 11;

/// One comparison: a named sequence of images decoded by both sides.
struct Case {
    name: String,
    codec: Codec,
    /// (payload, width, height) in decode order.
    images: Vec<(Vec<u8>, usize, usize)>,
}

/// Our decode of one image (GLZ shares its buffer with the window, so
/// every codec hands out an `Arc`, as the dispatcher does).
fn ours(c: Codec, win: &mut GlzWindow, data: &[u8], w: usize, h: usize) -> Arc<Image> {
    match c {
        Codec::Quic => Arc::new(quic::decode(data).unwrap()),
        Codec::Lz => Arc::new(lz::decode(data, None).unwrap()),
        Codec::Glz => win.decode(data, None).unwrap(),
        Codec::Lz4 => Arc::new(lz4::decode(data, w as u32, h as u32).unwrap()),
    }
}

fn theirs(
    c: Codec,
    codecs: &mut spice_cref::Codecs,
    glz: &mut spice_cref::Glz,
    data: &[u8],
    w: usize,
    h: usize,
    check: bool,
) -> Vec<u32> {
    let mut out = vec![0u32; w * h];
    let ok = match c {
        Codec::Quic => codecs.quic_decode(data, &mut out, w, h),
        Codec::Lz => codecs.lz_decode(data, &mut out, w, h),
        Codec::Glz => glz.decode(data, check.then_some(&mut out[..]), w, h),
        Codec::Lz4 => spice_cref::lz4_decode(data, &mut out, w, h),
    };
    assert!(ok, "{c:?}: spice-common's decoder refused the input");
    out
}

/// Opaque as both decoders return RGB32 (spice-common leaves the pad byte
/// as the stream has it; ours sets alpha 0xff): compare the colour bits.
fn same_colours(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x ^ y) & 0x00ff_ffff == 0)
}

fn run(case: &Case) {
    let px: usize = case.images.iter().map(|(_, w, h)| w * h).sum();
    let bytes: usize = case.images.iter().map(|(d, _, _)| d.len()).sum();
    // Check: both decoders give the same pixels.
    let mut win = GlzWindow::new(GLZ_WINDOW);
    let mut codecs = spice_cref::Codecs::new();
    let mut glz = spice_cref::Glz::new();
    for (k, (d, w, h)) in case.images.iter().enumerate() {
        let a = ours(case.codec, &mut win, d, *w, *h);
        let b = theirs(case.codec, &mut codecs, &mut glz, d, *w, *h, true);
        if case.codec != Codec::Glz || !b.is_empty() {
            assert!(
                same_colours(&a.pixels, &b),
                "{}: image {k} ({w}x{h}) differs between the decoders",
                case.name
            );
        }
    }
    drop(glz);
    // Time: the whole sequence (fresh GLZ windows each run), ours, theirs
    // and the memcpy alternating so that load from other processes hits
    // all three alike; the best of each. Which decoder goes first swaps
    // from run to run: a pass that follows the other side's can find the
    // heap it freed (or the kernel's pages gone, when glibc trimmed them),
    // and that should not always favour the same side.
    let src = vec![0x0012_3456u32; px];
    let mut dst = vec![0u32; px];
    let time_ours = || {
        timed_faults(|| {
            let mut win = GlzWindow::new(GLZ_WINDOW);
            for (d, w, h) in &case.images {
                black_box(ours(case.codec, &mut win, black_box(d), *w, *h));
            }
        })
    };
    let mut time_theirs = || {
        timed_faults(|| {
            let mut glz = spice_cref::Glz::new();
            for (d, w, h) in &case.images {
                black_box(theirs(
                    case.codec,
                    &mut codecs,
                    &mut glz,
                    black_box(d),
                    *w,
                    *h,
                    false,
                ));
            }
        })
    };
    let (mut t_ours, mut t_theirs, mut t_memcpy) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let (mut f_ours, mut f_theirs) = (0, 0);
    for run in 0..RUNS {
        let ((to, fo), (tt, ft)) = if run % 2 == 0 {
            let o = time_ours();
            (o, time_theirs())
        } else {
            let t = time_theirs();
            (time_ours(), t)
        };
        t_ours = t_ours.min(to);
        t_theirs = t_theirs.min(tt);
        f_ours += fo;
        f_theirs += ft;
        t_memcpy = t_memcpy.min(best(2, || {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        }));
    }
    println!(
        "  {:<34} {:>4} img {:>6.2} MPix {:>9} B | ours {:>8.2} ms  spice-common {:>8.2} ms  \
         ours/theirs {:.2} ({:.2}x faster) | vs memcpy: ours {:.1}x  theirs {:.1}x | \
         minor page faults in all {} runs: ours {} theirs {}",
        case.name,
        case.images.len(),
        px as f64 / 1e6,
        bytes,
        t_ours * 1e3,
        t_theirs * 1e3,
        t_ours / t_theirs,
        t_theirs / t_ours,
        t_ours / t_memcpy,
        t_theirs / t_memcpy,
        RUNS,
        f_ours,
        f_theirs,
    );
}

/// Seconds one run of `f` took and the minor page faults it caused.
fn timed_faults(f: impl FnMut()) -> (f64, u64) {
    let before = minor_faults();
    let t = best(1, f);
    (t, minor_faults().saturating_sub(before))
}

/// Minor page faults of this process so far (field 10 of `/proc/self/stat`;
/// 0 where there is no such file). A decode pass that writes fresh pages
/// pays the kernel's first touch of each: allocator behaviour (glibc can
/// hand large freed blocks back to the kernel), not decoder work, so the
/// count is printed beside the times.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which ends with the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

fn generated() -> Vec<Case> {
    let (w, h) = (W as usize, H as usize);
    let desk: Vec<u32> = desktop(W, H, 0);
    let desk2: Vec<u32> = desktop(W, H, 1);
    let pic: Vec<u32> = photo(w, h, 1).iter().map(|p| p & 0x00ff_ffff).collect();
    let mut codecs = spice_cref::Codecs::new();
    let mut cases = Vec::new();
    for (label, frame) in [("desktop", &desk), ("photo", &pic)] {
        let q = codecs
            .quic_encode(QUIC_IMAGE_TYPE_RGB32, w, h, frame)
            .expect("quic_encode");
        cases.push(Case {
            name: format!("quic {label} (spice-common enc)"),
            codec: Codec::Quic,
            images: vec![(aligned(&q), w, h)],
        });
        let l = codecs
            .lz_encode(lz::LZ_IMAGE_TYPE_RGB32 as i32, w, h, frame)
            .expect("lz_encode");
        cases.push(Case {
            name: format!("lz {label} (spice-common enc)"),
            codec: Codec::Lz,
            images: vec![(l, w, h)],
        });
        let rows: Vec<u8> = frame.iter().flat_map(|p| p.to_le_bytes()).collect();
        let mut p4 = vec![1u8, spice_core::enums::SPICE_BITMAP_FMT_32BIT as u8];
        let block = spice_cref::lz4_compress(&rows);
        p4.extend_from_slice(&(block.len() as u32).to_be_bytes());
        p4.extend_from_slice(&block);
        cases.push(Case {
            name: format!("lz4 {label} (liblz4 enc)"),
            codec: Codec::Lz4,
            images: vec![(p4, w, h)],
        });
    }
    let g1 = glz_support::encode(&desk, w, h, 0, None);
    let g2 = glz_support::encode(&desk2, w, h, 1, Some((&desk, 1)));
    cases.push(Case {
        name: "glz desktop 2 frames (bench enc)".into(),
        codec: Codec::Glz,
        images: vec![(g1, w, h), (g2, w, h)],
    });
    cases
}

fn main() {
    if !spice_cref::available() {
        println!(
            "reference bench skipped: spice-common's C decoders were not built \
             (run scripts/spice-common-src, or scripts/bench-decoders)"
        );
        return;
    }
    println!(
        "decoders vs spice-common's C decoders (same bytes, same output checked); best of {RUNS}"
    );
    // `cargo bench ... -- WORD`: only the cases whose name contains WORD.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |c: &Case| filter.as_ref().is_none_or(|f| c.name.contains(f.as_str()));
    let dump = std::env::var_os("BARESPICE_BENCH_DUMP").map(std::path::PathBuf::from);
    let act = |case: &Case| match &dump {
        Some(dir) => dump_case(dir, case),
        None => run(case),
    };
    println!("generated {W}x{H} frames:");
    for case in generated().iter().filter(|c| wanted(c)) {
        act(case);
    }
    if let Some(dir) = std::env::var_os("BARESPICE_BENCH_RECORDING") {
        println!("recorded from the lab server ({}):", dir.to_string_lossy());
        for case in recording::cases(std::path::Path::new(&dir))
            .iter()
            .filter(|c| wanted(c))
        {
            act(case);
        }
    }
}

/// Write `case`'s payloads under `dir` as `<codec>/<case>/NNNNN.bin` (the
/// case name's words of letters, digits and `-`, joined by `_`).
fn dump_case(dir: &std::path::Path, case: &Case) {
    let name = case
        .name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let out = dir
        .join(format!("{:?}", case.codec).to_lowercase())
        .join(name);
    std::fs::create_dir_all(&out).expect("create the dump directory");
    for (k, (d, _, _)) in case.images.iter().enumerate() {
        std::fs::write(out.join(format!("{k:05}.bin")), d).expect("write a payload");
    }
    println!(
        "  {:<36} {:4} img -> {}",
        case.name,
        case.images.len(),
        out.display()
    );
}

mod recording {
    //! The recorded images as cases (`recording_support` reads the files).
    use super::Case;
    use crate::recording_support::load;
    use std::path::Path;

    /// The cases of every `*.spicerec` under `dir`: one per file and codec.
    pub fn cases(dir: &Path) -> Vec<Case> {
        load(dir)
            .into_iter()
            .map(|r| Case {
                name: format!("{} {}", format!("{:?}", r.codec).to_lowercase(), r.label),
                codec: r.codec,
                images: r.images.into_iter().map(|d| (d.data, d.w, d.h)).collect(),
            })
            .collect()
    }
}
