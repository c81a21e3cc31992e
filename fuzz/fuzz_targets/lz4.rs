//! Fuzz the LZ4 image decoder (SPICE_IMAGE_TYPE_LZ4).
//!
//! Input: `u16 width`, `u16 height` (little-endian; the image descriptor's
//! size, which the payload does not repeat), then the payload (top-down
//! byte, format byte, big-endian-length blocks). Nothing may panic; an `Ok`
//! image is `width x height`.
//!
//! Seeds: fuzz/seeds/lz4 (payloads recorded from the lab server with the
//! client preferring LZ4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spice_core::image::lz4;

fuzz_target!(|data: &[u8]| {
    let Some((size, payload)) = data.split_first_chunk::<4>() else { return };
    let width = u32::from(u16::from_le_bytes([size[0], size[1]]));
    let height = u32::from(u16::from_le_bytes([size[2], size[3]]));
    if let Ok(img) = lz4::decode(payload, width, height) {
        assert_eq!((img.width, img.height), (width, height));
        assert_eq!(img.pixels.len(), width as usize * height as usize);
    }
});
