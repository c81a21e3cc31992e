//! Replay a `--record` file through a fresh display handler and write the
//! resulting primary surface as PNG (for checking recordings and building
//! fuzz corpora).
//!
//! usage: cargo run -p barespice-host --example replay -- display-0.spicerec OUT.png

use spice_core::channel::{Channel, TxQueue};
use spice_core::display::{Display, DisplayConfig};
use spice_core::enums::SPICE_CHANNEL_DISPLAY;
use spice_core::image::glz::GlzWindow;
use spice_core::session::SessionConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: replay RECORDING OUT.png");
        std::process::exit(2);
    };
    let data = std::fs::read(input).unwrap_or_else(|e| {
        eprintln!("replay: {input}: {e}");
        std::process::exit(1)
    });
    let Some(stream) = data.strip_prefix(barespice_host::record::MAGIC.as_slice()) else {
        eprintln!("replay: {input}: not a barespice recording");
        std::process::exit(1)
    };
    let defaults = SessionConfig::default();
    let mut display = Display::new(
        0,
        DisplayConfig {
            preferred_compression: None,
            glz_window_pixels: defaults.glz_window_pixels,
            pixmap_cache_pixels: defaults.pixmap_cache_pixels,
            glz_dictionary_id: 0,
            pixmap_cache_id: 1,
        },
    );
    let mut glz = GlzWindow::new(defaults.glz_window_pixels);
    // The recording is a mini-header stream: the channel engine reads it as is.
    let mut ch = Channel::new(SPICE_CHANNEL_DISPLAY as u8, 0, true, TxQueue::default());
    let mut events = Vec::new();
    if let Err(e) = ch.receive(stream, &mut events, |t, body, ahead, out| {
        display.handle_ahead(t, body, ahead, &mut glz, out)
    }) {
        eprintln!(
            "replay: message {} offset {}: {}",
            e.msg_type, e.error.offset, e.error.reason
        );
        std::process::exit(1);
    }
    let Some(s) = display.primary() else {
        eprintln!("replay: no primary surface");
        std::process::exit(1)
    };
    if let Err(e) = barespice_host::snapshot::write_png(std::path::Path::new(output), s) {
        eprintln!("replay: {e}");
        std::process::exit(1);
    }
    let counts: std::collections::BTreeMap<_, _> = ch.counts().clone().into_iter().collect();
    eprintln!("replay: {}x{}, messages {counts:?}", s.width, s.height);
}
