//! QUIC decoder against independent ground truth.
//!
//! - `data/quic/synthetic/`: pictures (PNM) encoded in every QUIC image type
//!   by spice-common's reference C encoder (`quic_encode`); QUIC is lossless,
//!   so decoding must give the original back exactly.
//! - `data/quic/server/`: QUIC payloads recorded from QEMU's SPICE server and
//!   the matching crop of the server's QMP `screendump`.

use spice_core::image::quic::decode;
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/quic").join(name);
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
    let raw = data(name);
    let mut fields = Vec::new();
    let mut pos = 0;
    let want = if raw.starts_with(b"P7") { usize::MAX } else { 4 };
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
        "P5" => (fields[1].parse().unwrap(), fields[2].parse().unwrap(), fields[3].parse().unwrap(), 1),
        "P6" => (fields[1].parse().unwrap(), fields[2].parse().unwrap(), fields[3].parse().unwrap(), 3),
        "P7" => (value("WIDTH"), value("HEIGHT"), value("MAXVAL") as u32, value("DEPTH")),
        m => panic!("unsupported PNM {m}"),
    };
    assert!(maxval <= 255);
    let samples = raw[pos..].to_vec();
    assert_eq!(samples.len(), width * height * depth, "{name}: sample count");
    Pnm { width, height, maxval, depth, samples }
}

/// Compare a decoded image with expected `0xAARRGGBB` pixels, reporting the
/// first mismatch.
fn assert_pixels(name: &str, got: &spice_core::image::Image, width: usize, height: usize, want: &[u32]) {
    assert_eq!((got.width as usize, got.height as usize), (width, height), "{name}: size");
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
        .map(|c| 0xff00_0000 | u32::from(widen(c[0])) << 16 | u32::from(widen(c[1])) << 8 | u32::from(widen(c[2])))
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
    let want: Vec<u32> = orig.samples.iter().map(|&v| 0xff00_0000 | u32::from(v) * 0x0001_0101).collect();
    let img = decode(&data("synthetic/gray-wide.gray.quic")).unwrap();
    assert_pixels("gray", &img, orig.width, orig.height, &want);
}
