//! Fuzz the JPEG decoder wrapper (SPICE_IMAGE_TYPE_JPEG payloads and MJPEG
//! stream frames).
//!
//! Input: the JPEG bytes. Nothing may panic; an `Ok` image has exactly
//! `width * height` pixels.
//!
//! Seeds: fuzz/seeds/jpeg (JPEG payloads recorded from the lab server with
//! `jpeg-wan-compression=always`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spice_core::image::jpeg;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = jpeg::decode(data) {
        assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
    }
});
