//! Fuzz the QUIC decoder: it must return `Ok` or `Err` for any input, never
//! panic, and an `Ok` image must have exactly `width * height` pixels.
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
use spice_core::image::quic;

fuzz_target!(|data: &[u8]| {
    let result = if data.starts_with(b"QUIC") || data.len() < 3 {
        quic::decode(data)
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
        quic::decode(&payload)
    };
    if let Ok(img) = result {
        assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
    }
});
