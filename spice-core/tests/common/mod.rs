//! Helpers shared by the spice-core integration tests: reading fixtures from
//! `tests/data`, the recorded DRAW_COPY list of a `.draws` fixture (layout
//! documented in `codecs.rs`), the server's screendump PNG as pixels, the messages of a `barespice-host
//! --record` file, and PSNR.
//! Must not: hold test logic or expected values of its own (those come from
//! the fixtures, which were recorded from QEMU's SPICE server).

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod zlib;

/// The bytes of `tests/data/PATH`; panics naming the file when it is missing.
pub fn read(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One recorded DRAW_COPY of a `.draws` fixture.
pub struct Draw {
    pub image_type: u32,
    /// Destination box: left, top, right, bottom (relative to the screendump crop).
    pub dst: [i32; 4],
    /// Source area in the image: left, top, right, bottom.
    pub src: [i32; 4],
    pub width: u32,
    pub height: u32,
    /// ZLIB_GLZ: glz_data_size; otherwise unused.
    pub extra: u32,
    /// The codec payload (empty: the server sent this draw in another format).
    pub data: Vec<u8>,
}

/// Every record of the `.draws` fixture `tests/data/PATH`, in arrival order.
pub fn draws(path: &str) -> Vec<Draw> {
    let raw = read(path);
    let mut out = Vec::new();
    let mut p = 0;
    let u32_at = |p: usize| u32::from_le_bytes(raw[p..p + 4].try_into().unwrap());
    while p < raw.len() {
        let image_type = raw[p] as u32;
        let i = |k: usize| u32_at(p + 1 + 4 * k) as i32;
        let dst = [i(0), i(1), i(2), i(3)];
        let src = [i(4), i(5), i(6), i(7)];
        let (width, height, extra, len) = (i(8) as u32, i(9) as u32, i(10) as u32, i(11) as usize);
        let start = p + 1 + 48;
        out.push(Draw {
            image_type,
            dst,
            src,
            width,
            height,
            extra,
            data: raw[start..start + len].to_vec(),
        });
        p = start + len;
    }
    out
}

/// The screendump PNG `tests/data/PATH` as (width, height, 0x00RRGGBB pixels).
pub fn screendump(path: &str) -> (u32, u32, Vec<u32>) {
    let mut dec = png::Decoder::new(std::io::Cursor::new(read(path)));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{path}");
    let px = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|c| ((c[0] as u32) << 16) | ((c[1] as u32) << 8) | c[2] as u32)
        .collect();
    (info.width, info.height, px)
}

/// PSNR in dB of `got` against `want` (same length) over their R, G and B bytes.
pub fn psnr(got: &[u32], want: &[u32]) -> f64 {
    let mut se = 0f64;
    for (&a, &b) in got.iter().zip(want) {
        for sh in [0, 8, 16] {
            let d = ((a >> sh) & 0xff) as f64 - ((b >> sh) & 0xff) as f64;
            se += d * d;
        }
    }
    let mse = se / (got.len() as f64 * 3.0);
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// The messages of a `barespice-host --record` file (`barespice-rec-1\n`,
/// then per message: type u16, size u32, body), as (type, body).
pub fn messages(rec: &[u8]) -> Vec<(u16, &[u8])> {
    assert_eq!(&rec[..16], b"barespice-rec-1\n");
    let mut out = Vec::new();
    let mut p = 16;
    while p < rec.len() {
        let t = u16::from_le_bytes([rec[p], rec[p + 1]]);
        let n = u32::from_le_bytes([rec[p + 2], rec[p + 3], rec[p + 4], rec[p + 5]]) as usize;
        out.push((t, &rec[p + 6..p + 6 + n]));
        p += 6 + n;
    }
    out
}

/// `jpeg` without its DHT segments (as libjpeg writes MJPEG frames after the
/// first when the tables have not changed).
pub fn strip_dht(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut p = 2;
    while jpeg[p] == 0xff && jpeg[p + 1] != 0xda {
        let end = p + 2 + u16::from_be_bytes([jpeg[p + 2], jpeg[p + 3]]) as usize;
        if jpeg[p + 1] != 0xc4 {
            out.extend_from_slice(&jpeg[p..end]);
        }
        p = end;
    }
    out.extend_from_slice(&jpeg[p..]);
    out
}
