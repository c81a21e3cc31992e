//! LZ, LZ4 and GLZ decodes of the same bytes by ours and by spice-common's
//! C decoders (`spice-cref`), once each, through `#[inline(never)]` entry
//! points named `bench_<side>_<codec>` so that `valgrind --tool=callgrind`
//! counts each side's instructions exactly (an instruction count does not
//! move with the machine's load). `scripts/bench-instructions` runs it and
//! prints the ratios. The sides:
//!
//! - `ours`: our decoder straight into the destination (`decode_into_with`
//!   a [`Dest`] over a 1920-wide frame buffer and one staging run reused
//!   for strided ones, as the client's direct draw does; GLZ into its
//!   window and, row by row as it decodes, into the destination);
//! - `theirs`: spice-common's decoder alone into a buffer of the image's
//!   size (for LZ4, liblz4 driven as `canvas_get_lz4` drives it; for GLZ,
//!   spice-gtk's decoder, whose output is a new pixman surface);
//! - `canvas`: what spice-gtk's software canvas does for the same draw: a
//!   new pixman surface per image, the decode into it, the surface
//!   composited onto the destination frame buffer and freed.
//!
//! Frames: `desktop` and `photo` (the `reference` bench's 1920x1080
//! frames, each one image) and `columns` (the desktop cut into 32-pixel
//! columns as QEMU sends a full-screen update, each decoded into its place
//! in the frame buffer: strided destinations). LZ is encoded by
//! spice-common's encoder, LZ4 by liblz4 (spice-server's), GLZ by the
//! benches' encoder (`glz_support`; GLZ: `desktop` only, two frames, the
//! second referring to the first). All outputs are compared pixel for
//! pixel; a difference fails the run. Frame `recorded`: every image of
//! `<codec>.spicerec` under `$BARESPICE_BENCH_RECORDING` (what
//! `scripts/bench-decoders` records from the lab server), in order, each
//! drawn where the server drew it.
//!
//! QUIC (frame `recorded` only; the generated frames are the
//! `quic_instructions` bench's): every QUIC image of `quic.spicerec`,
//! `ours` and `theirs` (`quic_decode`) each into a buffer of the image's
//! size, compared image by image; spice-common's canvas side is not built
//! for QUIC.
//!
//! usage: instructions [lz|lz4|glz|quic] [desktop|photo|columns|recorded]

mod codecs_common;
mod glz_support;
mod quic_support;
mod recording_support;

use codecs_common::{columns, desktop, COLUMN, H, W};
use quic_support::photo;
use spice_core::enums::SPICE_BITMAP_FMT_32BIT;
use spice_core::image::glz::GlzWindow;
use spice_core::image::{lz, lz4, quic, Dest};
use spice_cref::Rect;
use std::hint::black_box;

/// GLZ window (pixels) of our decoder, as the client advertises it.
const GLZ_WINDOW: u32 = 1 << 23;

/// Frame buffer width (pixels per row of every destination).
const STRIDE: usize = W as usize;

/// One image of a case: its payload, size and place in the frame buffer.
struct Part {
    data: Vec<u8>,
    w: usize,
    h: usize,
    /// First pixel of the image in the frame buffer.
    at: usize,
}

#[inline(never)]
fn bench_ours_lz(parts: &[Part], fb: &mut [u32]) {
    let mut stage = Vec::new();
    for p in parts {
        let mut dst = Dest::new(&mut fb[p.at..], p.w, p.h, STRIDE).expect("fits");
        lz::decode_into_with(black_box(&p.data), None, &mut dst, &mut stage)
            .expect("our LZ decode");
    }
}

#[inline(never)]
fn bench_theirs_lz(parts: &[Part], codecs: &mut spice_cref::Codecs, outs: &mut [Vec<u32>]) {
    for (p, out) in parts.iter().zip(outs) {
        assert!(codecs.lz_decode(black_box(&p.data), out, p.w, p.h));
    }
}

#[inline(never)]
fn bench_canvas_lz(parts: &[Part], codecs: &mut spice_cref::Codecs, fb: &mut [u32]) {
    for p in parts {
        let to = rect(p);
        assert!(codecs.lz_draw_canvas(black_box(&p.data), &mut fb[p.at..], to));
    }
}

#[inline(never)]
fn bench_ours_lz4(parts: &[Part], fb: &mut [u32]) {
    let mut stage = Vec::new();
    for p in parts {
        let mut dst = Dest::new(&mut fb[p.at..], p.w, p.h, STRIDE).expect("fits");
        lz4::decode_into_with(black_box(&p.data), &mut dst, &mut stage).expect("our LZ4 decode");
    }
}

#[inline(never)]
fn bench_theirs_lz4(parts: &[Part], outs: &mut [Vec<u32>]) {
    for (p, out) in parts.iter().zip(outs) {
        assert!(spice_cref::lz4_decode(black_box(&p.data), out, p.w, p.h));
    }
}

#[inline(never)]
fn bench_canvas_lz4(parts: &[Part], fb: &mut [u32]) {
    for p in parts {
        assert!(spice_cref::lz4_draw_canvas(
            black_box(&p.data),
            &mut fb[p.at..],
            rect(p)
        ));
    }
}

#[inline(never)]
fn bench_ours_quic(parts: &[Part], outs: &mut [Vec<u32>]) {
    for (p, out) in parts.iter().zip(outs) {
        let mut dst = Dest::new(out, p.w, p.h, p.w).expect("fits");
        quic::decode_into(black_box(&p.data), &mut dst).expect("our QUIC decode");
    }
}

#[inline(never)]
fn bench_theirs_quic(parts: &[Part], codecs: &mut spice_cref::Codecs, outs: &mut [Vec<u32>]) {
    for (p, out) in parts.iter().zip(outs) {
        assert!(codecs.quic_decode(black_box(&p.data), out, p.w, p.h));
    }
}

/// Our GLZ decode of each image into its window and, row by row as it
/// is decoded, onto the destination (as the client's direct draw does).
#[inline(never)]
fn bench_ours_glz(parts: &[Part], fb: &mut [u32]) {
    let mut win = GlzWindow::new(GLZ_WINDOW);
    for p in parts {
        let mut dst = Dest::new(&mut fb[p.at..], p.w, p.h, STRIDE).expect("fits");
        win.decode_into(black_box(&p.data), &mut dst)
            .expect("our GLZ decode");
    }
}

/// spice-gtk's GLZ decode of each image (a pixman surface, dropped).
#[inline(never)]
fn bench_theirs_glz(parts: &[Part]) {
    let mut glz = spice_cref::Glz::new();
    for p in parts {
        assert!(glz.decode(black_box(&p.data), None, p.w, p.h));
    }
}

#[inline(never)]
fn bench_canvas_glz(parts: &[Part], fb: &mut [u32]) {
    let mut glz = spice_cref::Glz::new();
    for p in parts {
        assert!(glz.draw_canvas(black_box(&p.data), &mut fb[p.at..], rect(p)));
    }
}

fn rect(p: &Part) -> Rect {
    Rect {
        w: p.w,
        h: p.h,
        stride: STRIDE,
    }
}

/// A SPICE LZ4 payload (top-down 32BIT, one block) of `px`.
fn lz4_payload(px: &[u32]) -> Vec<u8> {
    let rows: Vec<u8> = px.iter().flat_map(|p| p.to_le_bytes()).collect();
    let mut out = vec![1u8, SPICE_BITMAP_FMT_32BIT as u8];
    let block = spice_cref::lz4_compress(&rows);
    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
    out.extend_from_slice(&block);
    out
}

/// The images of `frame` for `codec`: (pixels, width, place) of each.
fn images(frame: &str) -> Vec<(Vec<u32>, usize, usize)> {
    let (w, h) = (W as usize, H as usize);
    match frame {
        "desktop" => vec![(desktop(W, H, 0), w, 0)],
        "photo" => vec![(
            photo(w, h, 1).iter().map(|p| p & 0x00ff_ffff).collect(),
            w,
            0,
        )],
        "columns" => columns(&desktop(W, H, 0), W, H)
            .into_iter()
            .enumerate()
            .map(|(c, px)| (px, COLUMN as usize, c * COLUMN as usize))
            .collect(),
        _ => panic!("unknown frame {frame}"),
    }
}

/// The frame buffer's pixels of `p`'s rectangle, row after row.
fn crop(fb: &[u32], p: &Part) -> Vec<u32> {
    (0..p.h)
        .flat_map(|y| fb[p.at + y * STRIDE..][..p.w].iter().copied())
        .collect()
}

fn same_colours(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x ^ y) & 0x00ff_ffff == 0)
}

/// The recorded images of `codec` (the `<codec>.spicerec` that
/// `scripts/bench-decoders` records) under `$BARESPICE_BENCH_RECORDING`,
/// each where its draw put it.
fn recorded(codec: &str) -> Vec<Part> {
    let dir = std::env::var_os("BARESPICE_BENCH_RECORDING")
        .expect("recorded: set BARESPICE_BENCH_RECORDING to a recording directory");
    let want = match codec {
        "lz" => recording_support::Codec::Lz,
        "lz4" => recording_support::Codec::Lz4,
        "quic" => recording_support::Codec::Quic,
        _ => recording_support::Codec::Glz,
    };
    let rec = recording_support::load(std::path::Path::new(&dir))
        .into_iter()
        .find(|r| r.label == codec && r.codec == want)
        .unwrap_or_else(|| panic!("recorded: no {codec} images in {codec}.spicerec"));
    rec.images
        .into_iter()
        .map(|d| {
            let fits = d.left + d.w <= STRIDE && d.top + d.h <= H as usize;
            Part {
                at: if fits { d.top * STRIDE + d.left } else { 0 },
                data: d.data,
                w: d.w,
                h: d.h,
            }
        })
        .collect()
}

fn run(codec: &str, frame: &str) {
    let h = H as usize;
    let mut codecs = spice_cref::Codecs::new();
    let parts: Vec<Part> = match (codec, frame) {
        (_, "recorded") => recorded(codec),
        ("lz", _) => images(frame)
            .iter()
            .map(|(px, w, at)| Part {
                data: codecs
                    .lz_encode(lz::LZ_IMAGE_TYPE_RGB32 as i32, *w, h, px)
                    .expect("lz_encode"),
                w: *w,
                h,
                at: *at,
            })
            .collect(),
        ("lz4", _) => images(frame)
            .iter()
            .map(|(px, w, at)| Part {
                data: lz4_payload(px),
                w: *w,
                h,
                at: *at,
            })
            .collect(),
        ("glz", "desktop") => {
            let (d1, d2) = (desktop(W, H, 0), desktop(W, H, 1));
            let (w, hh) = (W as usize, H as usize);
            vec![
                Part {
                    data: glz_support::encode(&d1, w, hh, 0, None),
                    w,
                    h: hh,
                    at: 0,
                },
                Part {
                    data: glz_support::encode(&d2, w, hh, 1, Some((&d1, 1))),
                    w,
                    h: hh,
                    at: 0,
                },
            ]
        }
        _ => panic!("unknown codec and frame {codec} {frame}"),
    };
    let n = STRIDE * h;
    let (mut fb_ours, mut fb_canvas) = (vec![0u32; n], vec![0u32; n]);
    let mut outs: Vec<Vec<u32>> = parts.iter().map(|p| vec![0u32; p.w * p.h]).collect();
    if codec == "quic" {
        let mut ours: Vec<Vec<u32>> = parts.iter().map(|p| vec![0u32; p.w * p.h]).collect();
        bench_ours_quic(&parts, &mut ours);
        bench_theirs_quic(&parts, &mut codecs, &mut outs);
        for (k, (a, b)) in ours.iter().zip(&outs).enumerate() {
            assert!(
                same_colours(a, b),
                "quic {frame}: image {k}: ours and theirs differ"
            );
        }
        report(codec, frame, &parts);
        return;
    }
    match codec {
        "lz" => {
            bench_ours_lz(&parts, &mut fb_ours);
            bench_theirs_lz(&parts, &mut codecs, &mut outs);
            bench_canvas_lz(&parts, &mut codecs, &mut fb_canvas);
        }
        "lz4" => {
            bench_ours_lz4(&parts, &mut fb_ours);
            bench_theirs_lz4(&parts, &mut outs);
            bench_canvas_lz4(&parts, &mut fb_canvas);
        }
        _ => {
            bench_ours_glz(&parts, &mut fb_ours);
            bench_theirs_glz(&parts);
            bench_canvas_glz(&parts, &mut fb_canvas);
        }
    }
    // Both frame buffers had every image drawn in the same order.
    assert!(
        same_colours(&fb_ours, &fb_canvas),
        "{codec} {frame}: ours and spice-common's canvas draw differ"
    );
    if codec != "glz" && frame != "recorded" {
        // The generated images do not overlap: each is also compared with
        // spice-common's decode alone.
        for (k, (p, out)) in parts.iter().zip(&outs).enumerate() {
            assert!(
                same_colours(&crop(&fb_ours, p), out),
                "{codec} {frame}: image {k}: ours and theirs differ"
            );
        }
    }
    report(codec, frame, &parts);
}

/// Print what a run decoded (its outputs were found equal).
fn report(codec: &str, frame: &str, parts: &[Part]) {
    let px: usize = parts.iter().map(|p| p.w * p.h).sum();
    let bytes: usize = parts.iter().map(|p| p.data.len()).sum();
    println!(
        "{codec} {frame}: {} images, {px} pixels, {bytes} bytes, outputs equal",
        parts.len()
    );
}

fn main() {
    if !spice_cref::available() {
        eprintln!("instructions: spice-common source missing (run scripts/spice-common-src)");
        std::process::exit(1);
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let codec = args.first().map_or("lz4", String::as_str);
    let frame = args.get(1).map_or("desktop", String::as_str);
    run(codec, frame);
}
