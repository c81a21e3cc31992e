//! Images out of `barespice-host --record` files (format in
//! `host/src/record.rs`), for the `reference` and `instructions` benches:
//! every DRAW_COPY whose source is a QUIC, LZ, GLZ or LZ4 image, in arrival
//! order (GLZ references stay valid), with where the draw puts it.
#![allow(dead_code)]

use spice_core::display::wire::{copy, display_base};
use spice_core::enums::{
    SPICE_IMAGE_TYPE_GLZ_RGB, SPICE_IMAGE_TYPE_LZ4, SPICE_IMAGE_TYPE_LZ_RGB, SPICE_IMAGE_TYPE_QUIC,
    SPICE_MSG_DISPLAY_DRAW_COPY,
};
use spice_core::image::ImageDescriptor;
use spice_core::wire::Reader;
use std::path::Path;

/// The lossless codecs the benches compare.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Codec {
    Quic,
    Lz,
    Glz,
    Lz4,
}

/// One recorded image: its payload (copied to a 4-byte boundary, as
/// quic.c reads words), size, and the draw's top-left corner.
pub struct Drawn {
    pub data: Vec<u8>,
    pub w: usize,
    pub h: usize,
    pub left: usize,
    pub top: usize,
}

/// The images of one recording file with one codec.
pub struct Recorded {
    /// The file's stem (`lz4` for `lz4.spicerec`).
    pub label: String,
    pub codec: Codec,
    pub images: Vec<Drawn>,
}

/// A copy of `data` starting on a 4-byte boundary (quic.c reads words).
pub fn aligned(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 4);
    v.extend_from_slice(data);
    assert_eq!(v.as_ptr() as usize % 4, 0);
    v
}

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
fn image(body: &[u8]) -> Option<(Codec, Drawn)> {
    let mut r = Reader::new(body);
    let base = display_base(&mut r).ok()?;
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
    Some((
        codec,
        Drawn {
            data,
            w: d.width as usize,
            h: d.height as usize,
            left: base.bbox.left.max(0) as usize,
            top: base.bbox.top.max(0) as usize,
        },
    ))
}

/// The images of every `*.spicerec` under `dir`: one entry per file and
/// codec.
pub fn load(dir: &Path) -> Vec<Recorded> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "spicerec"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let data = std::fs::read(&f).unwrap_or_default();
        let label = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for codec in [Codec::Quic, Codec::Lz, Codec::Glz, Codec::Lz4] {
            let images: Vec<Drawn> = messages(&data)
                .into_iter()
                .filter(|(t, _)| *t == SPICE_MSG_DISPLAY_DRAW_COPY)
                .filter_map(|(_, b)| image(b))
                .filter(|(c, _)| *c == codec)
                .map(|(_, d)| d)
                .collect();
            if !images.is_empty() {
                out.push(Recorded {
                    label: label.clone(),
                    codec,
                    images,
                });
            }
        }
    }
    out
}
