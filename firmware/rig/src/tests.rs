//! Host tests: the digest's byte order against Python's hashlib over the
//! pixel data of a PPM that Pillow wrote from real QMP screendumps (the
//! spice-core fixtures, recorded from QEMU's SPICE server), and the
//! quiet-period rule.
//!
//! Expected digests were produced outside this code with:
//! ```text
//! python3 -c 'import hashlib,io,sys; from PIL import Image
//! im = Image.open(sys.argv[1]).convert("RGB"); b = io.BytesIO(); im.save(b, format="PPM")
//! ppm = b.getvalue(); hdr = b"P6\n%d %d\n255\n" % im.size; assert ppm.startswith(hdr)
//! print(hashlib.sha256(ppm[len(hdr):]).hexdigest())' FILE.png
//! ```
extern crate std;

use super::*;
use std::format;
use std::vec::Vec;

/// A screendump PNG as `0x00RRGGBB` pixels, the layout of spice-core's surfaces.
fn screendump(rel: &str) -> (u32, u32, Vec<u32>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../spice-core/tests/data")
        .join(rel);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("png header");
    let mut buf = std::vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let px = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|c| (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]))
        .collect();
    (info.width, info.height, px)
}

#[test]
fn digest_equals_hashlib_of_pillow_ppm_192x144() {
    let (w, h, px) = screendump("display/lz-192x144.png");
    assert_eq!((w, h), (192, 144));
    assert_eq!(
        format!("{}", surface_sha256(w, h, &px)),
        "5175ef4bbcfdaa913003d814123bf61fb7e29315bf575528be3b193864bf8e96"
    );
}

#[test]
fn digest_equals_hashlib_of_pillow_ppm_128x96() {
    let (w, h, px) = screendump("glz/screen-128x96.png");
    assert_eq!(
        format!("{}", surface_sha256(w, h, &px)),
        "c2dea3a88d47fc09e34da727f0f6f24f0fe5b8267c73fee780aa4c7599d4da04"
    );
}

#[test]
fn top_byte_ignored_and_one_pixel_changes_digest() {
    let (w, h, mut px) = screendump("display/lz-192x144.png");
    let base = surface_sha256(w, h, &px);
    for p in px.iter_mut() {
        *p |= 0xff00_0000;
    }
    assert_eq!(
        surface_sha256(w, h, &px),
        base,
        "alpha/padding byte must not count"
    );
    px[w as usize * 7 + 3] ^= 1;
    assert_ne!(surface_sha256(w, h, &px), base);
}

#[test]
fn known_vector_and_short_slice() {
    // SHA-256 of the 6 bytes 01 02 03 04 05 06 (two pixels).
    let two = surface_sha256(2, 1, &[0x0001_0203, 0x0004_0506]);
    let expected = "7192385c3c0605de55bb9476ce1d90748190ecb32a8eed7f5207b30cf6a1fe89";
    assert_eq!(format!("{two}"), expected);
    // A short slice hashes the missing pixels as black.
    assert_eq!(
        surface_sha256(2, 1, &[0x0001_0203]),
        surface_sha256(2, 1, &[0x0001_0203, 0])
    );
}

#[test]
fn quiet_watch_reports_once_per_quiet_period() {
    let mut q = QuietWatch::new();
    assert!(!q.due(5_000), "nothing shown yet");
    assert_eq!(q.wait_ms(0), None);
    q.changed(100);
    assert_eq!(q.wait_ms(600), Some(500));
    assert!(!q.due(1_099));
    assert!(q.due(1_100));
    assert!(!q.due(1_200), "only once");
    assert_eq!(q.wait_ms(1_200), None);
    q.changed(2_000);
    q.changed(2_500);
    assert!(!q.due(3_000), "a later change restarts the second");
    assert!(q.due(3_600));
}
