//! QUIC decoder against independent ground truth.
//!
//! - `data/quic/synthetic/`: pictures (PNM) encoded in every QUIC image type
//!   by spice-common's reference C encoder (`quic_encode`); QUIC is lossless,
//!   so decoding must give the original back exactly.
//! - `data/quic/server/`: QUIC payloads recorded from QEMU's SPICE server and
//!   the matching crop of the server's QMP `screendump` (see its README).
//! - The test encoder of the benchmark (`benches/quic_support`) must
//!   reproduce the reference encoder's bytes; it then provides random
//!   round-trip pictures and valid streams to damage.

#[path = "../benches/quic_support/mod.rs"]
mod quic_support;

use quic_support::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use spice_core::image::quic::{decode, parse_header};
use spice_core::image::Image;
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/quic")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A PNM picture (P5 gray, P6 RGB, P7 RGB_ALPHA), samples as stored.
struct Pnm {
    width: usize,
    height: usize,
    maxval: u32,
    depth: usize,
    samples: Vec<u8>,
}

fn pnm(name: &str) -> Pnm {
    pnm_from(name, data(name))
}

fn pnm_from(name: &str, raw: Vec<u8>) -> Pnm {
    let mut fields = Vec::new();
    let mut pos = 0;
    let want = if raw.starts_with(b"P7") {
        usize::MAX
    } else {
        4
    };
    // Header tokens up to ENDHDR (P7) or four tokens (P5/P6), then one whitespace byte.
    while fields.len() < want {
        while raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while !raw[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let tok = String::from_utf8(raw[start..pos].to_vec()).unwrap();
        if tok == "ENDHDR" {
            break;
        }
        fields.push(tok);
    }
    pos += 1;
    let value = |key: &str| -> usize {
        let i = fields.iter().position(|f| f == key).unwrap();
        fields[i + 1].parse().unwrap()
    };
    let (width, height, maxval, depth) = match fields[0].as_str() {
        "P5" => (
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
            1,
        ),
        "P6" => (
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
            3,
        ),
        "P7" => (
            value("WIDTH"),
            value("HEIGHT"),
            value("MAXVAL") as u32,
            value("DEPTH"),
        ),
        m => panic!("unsupported PNM {m}"),
    };
    assert!(maxval <= 255);
    let samples = raw[pos..].to_vec();
    assert_eq!(
        samples.len(),
        width * height * depth,
        "{name}: sample count"
    );
    Pnm {
        width,
        height,
        maxval,
        depth,
        samples,
    }
}

/// Compare a decoded image with expected `0xAARRGGBB` pixels, reporting the
/// first mismatch.
fn assert_pixels(name: &str, got: &Image, width: usize, height: usize, want: &[u32]) {
    assert_eq!(
        (got.width as usize, got.height as usize),
        (width, height),
        "{name}: size"
    );
    if let Some(i) = got.pixels.iter().zip(want).position(|(g, w)| g != w) {
        panic!(
            "{name}: pixel ({}, {}) is {:08x}, expected {:08x}",
            i % width,
            i / width,
            got.pixels[i],
            want[i]
        );
    }
    assert_eq!(got.pixels.len(), want.len());
}

fn rgb_pixels(p: &Pnm, widen: impl Fn(u8) -> u8) -> Vec<u32> {
    assert_eq!(p.depth, 3);
    p.samples
        .chunks_exact(3)
        .map(|c| {
            0xff00_0000
                | u32::from(widen(c[0])) << 16
                | u32::from(widen(c[1])) << 8
                | u32::from(widen(c[2]))
        })
        .collect()
}

#[test]
fn reference_encoded_rgb32_and_rgb24_decode_to_the_original() {
    let orig = pnm("synthetic/color.ppm");
    let want = rgb_pixels(&orig, |v| v);
    for file in ["synthetic/color.rgb32.quic", "synthetic/color.rgb24.quic"] {
        let img = decode(&data(file)).unwrap();
        assert!(!img.has_alpha);
        assert_pixels(file, &img, orig.width, orig.height, &want);
    }
}

#[test]
fn reference_encoded_rgb16_decodes_to_the_widened_original() {
    // The encoder was given each channel's top five bits (`v >> 3`); the
    // SPICE canvas widens a 5-bit value `c` to `c << 3 | c >> 2`.
    let orig = pnm("synthetic/color.ppm");
    let want = rgb_pixels(&orig, |v| {
        let c = v >> 3;
        c << 3 | c >> 2
    });
    let img = decode(&data("synthetic/color.rgb16.quic")).unwrap();
    assert_pixels("rgb16", &img, orig.width, orig.height, &want);
}

#[test]
fn reference_encoded_rgba_keeps_its_alpha_plane() {
    let orig = pnm("synthetic/color.ppm");
    let alpha = pnm("synthetic/alpha.pgm");
    let want: Vec<u32> = rgb_pixels(&orig, |v| v)
        .iter()
        .zip(&alpha.samples)
        .map(|(p, &a)| (p & 0x00ff_ffff) | u32::from(a) << 24)
        .collect();
    let img = decode(&data("synthetic/color-alpha.rgba.quic")).unwrap();
    assert!(img.has_alpha);
    assert_pixels("rgba", &img, orig.width, orig.height, &want);
}

#[test]
fn reference_encoded_wide_gray_decodes_to_the_original() {
    // 2600 pixels per row: the wait-mask schedule changes inside rows.
    let orig = pnm("synthetic/gray-wide.pgm");
    assert_eq!(orig.maxval, 255);
    let want: Vec<u32> = orig
        .samples
        .iter()
        .map(|&v| 0xff00_0000 | (u32::from(v) * 0x0001_0101))
        .collect();
    let img = decode(&data("synthetic/gray-wide.gray.quic")).unwrap();
    assert_pixels("gray", &img, orig.width, orig.height, &want);
}

#[test]
fn server_recorded_columns_match_the_screendump() {
    for name in ["scene3-x0", "scene3-x224"] {
        let zipped = data(&format!("server/{name}.ppm.zlib"));
        let ppm = miniz_oxide::inflate::decompress_to_vec_zlib(&zipped).expect("crop inflates");
        let crop = pnm_from(name, ppm);
        let img = decode(&data(&format!("server/{name}.quic"))).unwrap();
        assert!(!img.has_alpha);
        assert_pixels(
            name,
            &img,
            crop.width,
            crop.height,
            &rgb_pixels(&crop, |v| v),
        );
    }
}

/// The original pictures in the form the test encoder takes.
fn originals() -> Vec<(u32, usize, usize, Vec<u32>, &'static str)> {
    let color = pnm("synthetic/color.ppm");
    let alpha = pnm("synthetic/alpha.pgm");
    let gray = pnm("synthetic/gray-wide.pgm");
    let rgb = rgb_pixels(&color, |v| v);
    let rgb16 = rgb_pixels(&color, |v| {
        let c = v >> 3;
        c << 3 | c >> 2
    });
    let rgba = rgb
        .iter()
        .zip(&alpha.samples)
        .map(|(p, &a)| (p & 0x00ff_ffff) | u32::from(a) << 24)
        .collect();
    let grays = gray
        .samples
        .iter()
        .map(|&v| 0xff00_0000 | (u32::from(v) * 0x0001_0101))
        .collect();
    let (w, h) = (color.width, color.height);
    vec![
        (
            QUIC_IMAGE_TYPE_RGB32,
            w,
            h,
            rgb.clone(),
            "synthetic/color.rgb32.quic",
        ),
        (
            QUIC_IMAGE_TYPE_RGB24,
            w,
            h,
            rgb,
            "synthetic/color.rgb24.quic",
        ),
        (
            QUIC_IMAGE_TYPE_RGB16,
            w,
            h,
            rgb16,
            "synthetic/color.rgb16.quic",
        ),
        (
            QUIC_IMAGE_TYPE_RGBA,
            w,
            h,
            rgba,
            "synthetic/color-alpha.rgba.quic",
        ),
        (
            QUIC_IMAGE_TYPE_GRAY,
            gray.width,
            gray.height,
            grays,
            "synthetic/gray-wide.gray.quic",
        ),
    ]
}

#[test]
fn test_encoder_reproduces_the_reference_encoder_bytes() {
    for (ty, w, h, pixels, file) in originals() {
        let ours = encode(ty, w, h, &pixels);
        let reference = data(file);
        assert_eq!(ours.len(), reference.len(), "{file}: length");
        assert!(ours == reference, "{file}: bytes differ");
    }
}

/// A random picture mixing flat areas (runs), repeated rows, smooth ramps
/// and noise, in `0xAARRGGBB` as the decoder returns `ty`.
fn random_picture(rng: &mut StdRng, ty: u32, w: usize, h: usize) -> Vec<u32> {
    let mut px = Vec::with_capacity(w * h);
    let flat: u32 = rng.gen();
    for y in 0..h {
        let kind = rng.gen_range(0..4);
        for x in 0..w {
            let v: u32 = match kind {
                0 => flat,
                1 if y > 0 => px[(y - 1) * w + x],
                2 => {
                    (x as u32 * 3 + y as u32 * 5).wrapping_mul(0x0001_0101)
                        ^ (rng.gen::<u32>() & 0x0003_0303)
                }
                _ => rng.gen(),
            };
            px.push(v);
        }
    }
    for p in px.iter_mut() {
        *p = match ty {
            QUIC_IMAGE_TYPE_RGBA => *p,
            QUIC_IMAGE_TYPE_GRAY => 0xff00_0000 | ((*p & 0xff) * 0x0001_0101),
            QUIC_IMAGE_TYPE_RGB16 => {
                let c = *p & 0x00f8_f8f8;
                0xff00_0000 | c | ((c >> 5) & 0x0007_0707)
            }
            _ => 0xff00_0000 | *p,
        };
    }
    px
}

const ALL_TYPES: [u32; 5] = [
    QUIC_IMAGE_TYPE_GRAY,
    QUIC_IMAGE_TYPE_RGB16,
    QUIC_IMAGE_TYPE_RGB24,
    QUIC_IMAGE_TYPE_RGB32,
    QUIC_IMAGE_TYPE_RGBA,
];

#[test]
fn random_pictures_round_trip_in_every_type() {
    let mut rng = StdRng::seed_from_u64(0x0051_5543);
    for round in 0..150 {
        let ty = ALL_TYPES[round % ALL_TYPES.len()];
        let w = if round % 10 == 9 {
            rng.gen_range(2040..2200)
        } else {
            rng.gen_range(1..80)
        };
        let h = rng.gen_range(1..(12_000 / w).clamp(2, 60));
        let pixels = random_picture(&mut rng, ty, w, h);
        let img =
            decode(&encode(ty, w, h, &pixels)).unwrap_or_else(|e| panic!("type {ty} {w}x{h}: {e}"));
        assert_eq!(img.has_alpha, ty == QUIC_IMAGE_TYPE_RGBA);
        assert_pixels(&format!("type {ty} {w}x{h}"), &img, w, h, &pixels);
    }
}

#[test]
fn every_truncation_of_real_payloads_is_an_error() {
    for file in [
        "server/scene3-x0.quic",
        "synthetic/gray-wide.gray.quic",
        "synthetic/color.rgb16.quic",
    ] {
        let full = data(file);
        assert!(decode(&full).is_ok());
        // Dropping the final padding word still leaves a complete stream;
        // anything shorter must be refused (never a panic).
        for cut in (0..full.len() - 4).step_by(3) {
            assert!(
                decode(&full[..cut]).is_err(),
                "{file} cut to {cut} bytes decoded"
            );
        }
    }
}

#[test]
fn damaged_payloads_never_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut files: Vec<Vec<u8>> = [
        "server/scene3-x0.quic",
        "synthetic/color-alpha.rgba.quic",
        "synthetic/color.rgb16.quic",
    ]
    .iter()
    .map(|f| data(f))
    .collect();
    files.push(encode(
        QUIC_IMAGE_TYPE_GRAY,
        40,
        30,
        &vec![0xff80_8080; 1200],
    ));
    let mut errors = 0;
    for round in 0..3000 {
        let mut d = files[round % files.len()].clone();
        match round % 3 {
            0 => {
                let i = rng.gen_range(20..d.len());
                d[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let i = rng.gen_range(20..d.len());
                let n = rng.gen_range(1..64).min(d.len() - i);
                rng.fill(&mut d[i..i + n]);
            }
            _ => {
                // Long runs of ones stress the run-length reader.
                let i = rng.gen_range(20..d.len());
                let n = rng.gen_range(1..256).min(d.len() - i);
                d[i..i + n].fill(0xff);
            }
        }
        if let Ok(img) = decode(&d) {
            assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
        } else {
            errors += 1;
        }
    }
    // Damage is usually caught (runs leaving the row, reading past the end).
    assert!(
        errors > 300,
        "only {errors} of 3000 damaged payloads were refused"
    );
}

#[test]
fn header_sizes_are_checked_before_allocating() {
    let header = |ty: u32, w: u32, h: u32, words: usize| {
        let mut v = Vec::new();
        for x in [0x4349_5551u32, 0, ty, w, h] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.resize(20 + 4 * words, 0);
        v
    };
    // 65536 x 65536 claimed with a few bytes of data.
    let e = decode(&header(QUIC_IMAGE_TYPE_RGB32, 65536, 65536, 8)).unwrap_err();
    assert_eq!(e.reason, "QUIC data too short for its size");
    // Enough data for the minimum coding, but over MAX_IMAGE_PIXELS.
    let (w, h) = (8192u32, 4096u32);
    let least_words = (3 * (w as usize + h as usize - 1) + 32).div_ceil(32);
    let d = header(QUIC_IMAGE_TYPE_GRAY, w, h, least_words * 3);
    assert!(parse_header(&d).is_ok());
    assert_eq!(decode(&d).unwrap_err().reason, "image too large");
    // Sizes the reference rejects (zero, or negative as a C int).
    for (w, h) in [(0, 10), (10, 0), (0x8000_0000, 1), (1, 0xffff_ffff)] {
        assert_eq!(
            decode(&header(QUIC_IMAGE_TYPE_GRAY, w, h, 64))
                .unwrap_err()
                .reason,
            "bad QUIC image size"
        );
    }
}

#[test]
fn damaged_streams_decode_like_the_reference_decoder() {
    // (name, bytes per pixel in the reference output, has alpha)
    for (name, bpp, alpha) in [
        ("gray-54x11", 1, false),
        ("rgb16-72x6", 4, false),
        ("rgb32-17x4", 4, false),
        ("rgba-25x13", 4, true),
    ] {
        let reference = data(&format!("fuzzed/{name}.ref"));
        let want: Vec<u32> = reference
            .chunks_exact(bpp)
            .map(|p| match *p {
                [v] => 0xff00_0000 | (u32::from(v) * 0x0001_0101),
                [b, g, r, a] => {
                    let a = if alpha { u32::from(a) } else { 0xff };
                    (a << 24) | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
                }
                _ => unreachable!(),
            })
            .collect();
        let img = decode(&data(&format!("fuzzed/{name}.quic"))).unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        assert_pixels(name, &img, w, h, &want);
        assert_eq!(w * h, want.len(), "{name}: size");
    }
}
