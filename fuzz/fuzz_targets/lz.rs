//! Fuzz the LZ decoder (SPICE_IMAGE_TYPE_LZ_RGB / LZ_PLT payloads).
//!
//! Input: one mode byte, then the payload as it sits in the image's data.
//! Mode bit 0 hands the decoder a 256-entry palette (palette types need one);
//! bit 1 also runs the alpha-plane decoder (JPEG_ALPHA's LZ part) over the
//! same payload on an image of the header's size; bit 2 also decodes an
//! image `decode` accepted into a strided destination (a column of a wider
//! surface, as QEMU sends LZ images), whose rows must equal `decode`'s;
//! bit 3 decodes a colour image into a strided destination both whole and
//! with `LzRows` a band of `1 + (mode >> 4)` rows at a time, which must
//! give the same pixels and the same result.
//! It must return `Ok` or `Err`, never panic; an `Ok` image has exactly
//! `width * height` pixels.
//!
//! Seeds: fuzz/seeds/lz (LZ_RGB payloads recorded from the lab server).
#![no_main]

use barespice_fuzz::palette;
use libfuzzer_sys::fuzz_target;
use spice_core::image::{alloc_pixels, lz, Dest, Image};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else { return };
    let pal = palette();
    let result = lz::decode(payload, (mode & 1 == 1).then_some(&pal[..]));
    if let Ok(img) = &result {
        assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
        if mode & 4 == 4 {
            let (w, h) = (img.width as usize, img.height as usize);
            let stride = w + 3;
            let mut surface = vec![0u32; stride * h];
            let mut dst = Dest::new(&mut surface, w, h, stride).expect("fits");
            lz::decode_into(payload, (mode & 1 == 1).then_some(&pal[..]), &mut dst)
                .expect("decode accepted it");
            for (y, row) in surface.chunks(stride).enumerate() {
                assert_eq!(&row[..w], &img.pixels[y * w..(y + 1) * w], "row {y}");
            }
        }
    }
    if mode & 8 == 8 {
        banded_matches_whole(payload, 1 + usize::from(mode >> 4));
    }
    if mode & 2 == 2 {
        // The alpha plane lands on an image of the header's size (capped so
        // a lying header does not make every run allocate 64 MiB).
        if let Ok(h) = lz::parse_header(payload) {
            if u64::from(h.width) * u64::from(h.height) > 1 << 20 {
                return;
            }
            if let Ok(pixels) = alloc_pixels(h.width, h.height) {
                let mut img = Image { width: h.width, height: h.height, pixels, has_alpha: false };
                let _ = lz::decode_alpha(payload, &mut img);
                assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
            }
        }
    }
});

/// Decode `payload` into a strided destination of its header's size whole
/// and `band` rows at a time ([`lz::LzRows`]): same pixels, same result.
fn banded_matches_whole(payload: &[u8], band: usize) {
    let Ok(h) = lz::parse_header(payload) else { return };
    let (w, ht) = (h.width as usize, h.height as usize);
    if w == 0 || ht == 0 || w * ht > 1 << 20 {
        return;
    }
    let stride = w + 5;
    let len = (ht - 1) * stride + w;
    let mut whole = vec![0u32; len];
    let mut banded = vec![0u32; len];
    let want = lz::decode_into(payload, None, &mut Dest::new(&mut whole, w, ht, stride).expect("fits"));
    let mut dst = Dest::new(&mut banded, w, ht, stride).expect("fits");
    let got = match lz::LzRows::new(payload, &dst) {
        Ok(None) => return,
        Err(e) => Err(e),
        Ok(Some(mut rows)) => {
            let mut stop = 0;
            loop {
                stop = (stop + band).min(ht);
                let r = rows.run(&mut dst, stop);
                if r.is_err() || stop == ht {
                    break r;
                }
            }
        }
    };
    assert_eq!(got, want);
    assert!(banded == whole, "banded pixels differ");
}
