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

mod codecs_common;
mod glz_support;
mod quic_support;

use codecs_common::{best, desktop, H, W};
use quic_support::photo;
use spice_core::image::glz::GlzWindow;
use spice_core::image::{lz, lz4, quic};
use std::hint::black_box;

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Codec {
    Quic,
    Lz,
    Glz,
    Lz4,
}

/// A copy of `data` starting on a 4-byte boundary (quic.c reads words).
fn aligned(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 4);
    v.extend_from_slice(data);
    assert_eq!(v.as_ptr() as usize % 4, 0);
    v
}

fn ours(c: Codec, win: &mut GlzWindow, data: &[u8], w: usize, h: usize) -> Vec<u32> {
    match c {
        Codec::Quic => quic::decode(data).unwrap().pixels,
        Codec::Lz => lz::decode(data, None).unwrap().pixels,
        Codec::Glz => win.decode(data, None).unwrap().pixels,
        Codec::Lz4 => lz4::decode(data, w as u32, h as u32).unwrap().pixels,
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
                same_colours(&a, &b),
                "{}: image {k} ({w}x{h}) differs between the decoders",
                case.name
            );
        }
    }
    drop(glz);
    // Time: the whole sequence (fresh GLZ windows each run), ours, theirs
    // and the memcpy alternating so that load from other processes hits
    // all three alike; the best of each.
    let src = vec![0x0012_3456u32; px];
    let mut dst = vec![0u32; px];
    let (mut t_ours, mut t_theirs, mut t_memcpy) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..RUNS {
        t_ours = t_ours.min(best(1, || {
            let mut win = GlzWindow::new(GLZ_WINDOW);
            for (d, w, h) in &case.images {
                black_box(ours(case.codec, &mut win, black_box(d), *w, *h));
            }
        }));
        t_theirs = t_theirs.min(best(1, || {
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
        }));
        t_memcpy = t_memcpy.min(best(2, || {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        }));
    }
    println!(
        "  {:<34} {:>4} img {:>6.2} MPix {:>9} B | ours {:>8.2} ms  spice-common {:>8.2} ms  \
         ours/theirs {:.2} ({:.2}x faster) | vs memcpy: ours {:.1}x  theirs {:.1}x",
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
    );
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
    println!("generated {W}x{H} frames:");
    for case in generated().iter().filter(|c| wanted(c)) {
        run(case);
    }
    if let Some(dir) = std::env::var_os("BARESPICE_BENCH_RECORDING") {
        println!("recorded from the lab server ({}):", dir.to_string_lossy());
        for case in recording::cases(std::path::Path::new(&dir))
            .iter()
            .filter(|c| wanted(c))
        {
            run(case);
        }
    }
}

mod recording {
    //! Images out of `barespice-host --record` files (format in
    //! `host/src/record.rs`): every DRAW_COPY whose source is a QUIC, LZ,
    //! GLZ or LZ4 image, in arrival order (GLZ references stay valid).
    use super::{aligned, Case, Codec};
    use spice_core::display::wire::{copy, display_base};
    use spice_core::enums::{
        SPICE_IMAGE_TYPE_GLZ_RGB, SPICE_IMAGE_TYPE_LZ4, SPICE_IMAGE_TYPE_LZ_RGB,
        SPICE_IMAGE_TYPE_QUIC, SPICE_MSG_DISPLAY_DRAW_COPY,
    };
    use spice_core::image::ImageDescriptor;
    use spice_core::wire::Reader;
    use std::path::Path;

    /// The recording's `(type, body)` messages.
    fn messages(data: &[u8]) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        let Some(mut rest) = data.strip_prefix(b"barespice-rec-1\n".as_slice()) else {
            return out;
        };
        while rest.len() >= 6 {
            let t = u16::from_le_bytes([rest[0], rest[1]]);
            let n = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
            let Some(body) = rest.get(6..6 + n) else {
                break;
            };
            out.push((t, body));
            rest = &rest[6 + n..];
        }
        out
    }

    /// The compressed source image of a DRAW_COPY body, if it has one.
    fn image(body: &[u8]) -> Option<(Codec, Vec<u8>, usize, usize)> {
        let mut r = Reader::new(body);
        display_base(&mut r).ok()?;
        let c = copy(&mut r).ok()?;
        let mut r = Reader::new(body).at(c.src).ok()?;
        let d = ImageDescriptor::parse(&mut r).ok()?;
        let codec = match u32::from(d.kind) {
            SPICE_IMAGE_TYPE_QUIC => Codec::Quic,
            SPICE_IMAGE_TYPE_LZ_RGB => Codec::Lz,
            SPICE_IMAGE_TYPE_GLZ_RGB => Codec::Glz,
            SPICE_IMAGE_TYPE_LZ4 => Codec::Lz4,
            _ => return None,
        };
        let n = r.u32().ok()? as usize;
        let data = aligned(r.bytes(n).ok()?);
        Some((codec, data, d.width as usize, d.height as usize))
    }

    /// The cases of every `*.spicerec` under `dir`: one per file and codec.
    pub fn cases(dir: &Path) -> Vec<Case> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "spicerec"))
            .collect();
        files.sort();
        let mut cases = Vec::new();
        for f in files {
            let data = std::fs::read(&f).unwrap_or_default();
            let label = f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            for codec in [Codec::Quic, Codec::Lz, Codec::Glz, Codec::Lz4] {
                let images: Vec<_> = messages(&data)
                    .into_iter()
                    .filter(|(t, _)| *t == SPICE_MSG_DISPLAY_DRAW_COPY)
                    .filter_map(|(_, b)| image(b))
                    .filter(|(c, ..)| *c == codec)
                    .map(|(_, d, w, h)| (d, w, h))
                    .collect();
                if !images.is_empty() {
                    cases.push(Case {
                        name: format!("{} {label}", format!("{codec:?}").to_lowercase()),
                        codec,
                        images,
                    });
                }
            }
        }
        cases
    }
}
