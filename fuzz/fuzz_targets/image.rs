//! Fuzz the SpiceImage dispatcher (`image::decode_image`): descriptor,
//! BITMAP (every format, palettes by pointer and from the palette cache,
//! 1-bit masks), LZ_PLT palettes, JPEG_ALPHA, SURFACE, and the pixmap /
//! palette caches shared by consecutive images.
//!
//! Input: records (`u16 mode`, `u32 size`, body; see
//! `barespice_fuzz::records`) decoded in order with one set of caches. Each
//! body is `u32 image pointer` followed by the draw message body the pointer
//! points into; mode bit 0 decodes the image as a mask. Nothing may panic;
//! an `Ok` image has exactly `width * height` pixels and fitted the session
//! budget (a larger one must have been refused), and after every image the
//! budget holds only the pixmap cache's bookkeeping (the decode's own charge
//! was given back, also on errors).
//!
//! Seeds: fuzz/seeds/image (draw messages recorded from the lab server with
//! the pointer to their source image; BITMAP from `image-compression=off`).
#![no_main]

use barespice_fuzz::{display_config, records};
use libfuzzer_sys::fuzz_target;
use spice_core::budget::Budget;
use spice_core::image::cache::{PaletteCache, PixmapCache, ENTRY_OVERHEAD};
use spice_core::image::glz::GlzWindow;
use spice_core::image::{decode_bytes, decode_image, DecodeContext, Decoded};

/// A small budget, so that fuzzed sizes reach it.
const BUDGET: usize = 32 << 20;

fuzz_target!(|data: &[u8]| {
    let cfg = display_config();
    let budget = Budget::new(BUDGET);
    let Ok(mut pixmaps) = PixmapCache::with_budget(cfg.pixmap_cache_pixels, &budget) else { return };
    let mut palettes = PaletteCache::new();
    let mut glz = GlzWindow::new(cfg.glz_window_pixels);
    for (mode, rec) in records(data) {
        let Some((ptr, body)) = rec.split_first_chunk::<4>() else { continue };
        let mut ctx = DecodeContext { pixmaps: &mut pixmaps, palettes: &mut palettes, glz: &mut glz, budget: &budget };
        let result = decode_image(body, u32::from_le_bytes(*ptr), &mut ctx, mode & 1 == 1);
        if let Ok(Decoded::Image(img)) = &result {
            assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
            assert!(decode_bytes(img.width, img.height) <= BUDGET, "an image over the budget was accepted");
        }
        assert_eq!(budget.used(), pixmaps.len() * ENTRY_OVERHEAD, "a decode kept its charge");
    }
});
