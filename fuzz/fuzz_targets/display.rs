//! Fuzz the display message parser and renderer (`Display::handle_ahead`).
//!
//! Input: records (`u16 msg_type`, `u32 size`, body) — exactly the body of a
//! barespice-host `--record` file, and the mini-header framing — handed to
//! one display handler in order, each with the records after it in view
//! (runs of LZ columns are drawn together), as the channel engine would,
//! stopping at the first error (the session closes the channel there).
//! Nothing may panic; the dirty rectangle stays inside the primary surface.
//!
//! Seeds: fuzz/seeds/display (slices of recordings made against the lab
//! server with every image compression).
#![no_main]

use barespice_fuzz::{display_config, records};
use libfuzzer_sys::fuzz_target;
use spice_core::channel::{Ahead, MAX_MESSAGE_SIZE};
use spice_core::display::Display;
use spice_core::image::glz::GlzWindow;
use spice_core::outbox::Outbox;

fuzz_target!(|data: &[u8]| {
    let cfg = display_config();
    let mut display = Display::new(0, cfg);
    let mut glz = GlzWindow::new(cfg.glz_window_pixels);
    let mut out = Outbox::new();
    display.on_linked(&[], &mut out);
    for (msg_type, body) in records(data) {
        // The records after this one: where its body ends in `data`.
        let end = body.as_ptr() as usize - data.as_ptr() as usize + body.len();
        let ahead = Ahead::new(&data[end..], true, MAX_MESSAGE_SIZE);
        let result = display.handle_ahead(msg_type, body, ahead, &mut glz, &mut out);
        out.drain().for_each(drop);
        if let (Some(dirty), Some(s)) = (display.take_dirty(), display.primary()) {
            assert!(dirty.left >= 0 && dirty.top >= 0, "dirty rectangle {dirty:?} starts outside");
            assert!(
                dirty.right <= s.width as i32 && dirty.bottom <= s.height as i32,
                "dirty rectangle {dirty:?} beyond the {}x{} primary",
                s.width,
                s.height
            );
        }
        if result.is_err() {
            break;
        }
    }
});
