//! Fuzz the QUIC decoder: it must return `Ok` or `Err` for any input, never
//! panic, and an `Ok` image must have exactly `width * height` pixels.
//! `decode_into_clear` (for a surface without alpha) must agree: the same
//! pixels with the alpha byte clear unless the image has alpha, or an error
//! when `decode` fails.
//!
//! An input that starts with the QUIC magic is decoded as it is (so recorded
//! payloads are good seeds); any other input uses bytes 0..3 to choose a
//! small valid header (type, width, height) and the rest as the bit stream,
//! so most runs exercise the entropy decoder rather than the header checks.
//!
//! Run (from the repository root): `cargo fuzz run quic fuzz/corpus/quic
//! spice-core/tests/data/quic/server` (nightly; on stable add
//! `--sanitizer none`). The recorded server payloads are good seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spice_core::error::WireError;
use spice_core::image::{quic, Dest};

fuzz_target!(|data: &[u8]| {
    let payload = if data.starts_with(b"QUIC") || data.len() < 3 {
        data.to_vec()
    } else {
        let image_type = 1 + u32::from(data[0]) % 5;
        let width = 1 + u32::from(data[1]) % 96;
        let height = 1 + u32::from(data[2]) % 48;
        let mut payload = Vec::with_capacity(20 + data.len());
        for word in [
            quic::QUIC_MAGIC,
            quic::QUIC_VERSION,
            image_type,
            width,
            height,
        ] {
            payload.extend_from_slice(&word.to_le_bytes());
        }
        payload.extend_from_slice(&data[3..]);
        payload
    };
    let Ok(img) = quic::decode(&payload) else {
        if let Ok(h) = quic::parse_header(&payload) {
            let (w, ht) = (h.width as usize, h.height as usize);
            if w * ht <= 1 << 16 {
                assert!(decode_clear(&payload, w, ht).0.is_err());
            }
        }
        return;
    };
    let (w, h) = (img.width as usize, img.height as usize);
    assert_eq!(img.pixels.len(), w * h);
    let (r, px) = decode_clear(&payload, w, h);
    r.expect("decode_into_clear agrees with decode");
    let mask = if img.has_alpha { u32::MAX } else { 0x00ff_ffff };
    assert!(px.iter().zip(&img.pixels).all(|(a, b)| *a == b & mask));
});

/// `quic::decode_into_clear` of `payload` into a fresh `w x h` destination:
/// its result and the pixels.
fn decode_clear(payload: &[u8], w: usize, h: usize) -> (Result<(), WireError>, Vec<u32>) {
    let mut px = vec![0u32; w * h];
    let mut dst = Dest::new(&mut px, w, h, w).expect("destination of the header's size");
    let r = quic::decode_into_clear(payload, &mut dst);
    (r, px)
}
