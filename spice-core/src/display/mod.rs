//! The display channel: parses draw, surface, stream and cache messages and
//! renders them onto the software canvas.
//!
//! Owns the display-channel state (surfaces, pixmap and palette caches,
//! video streams) and the client messages it answers with (INIT,
//! PREFERRED_COMPRESSION, STREAM_REPORT). It must not do I/O or framing:
//! bodies come in from the channel engine, replies go out through an
//! [`Outbox`].

use crate::canvas::{Rect, Surface};
use crate::enums::*;
use crate::error::WireError;
use crate::image::glz::GlzWindow;
use crate::outbox::Outbox;
use crate::wire::Writer;
use alloc::vec::Vec;

/// What the client tells the server at link time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayConfig {
    /// `SPICE_IMAGE_COMPRESSION_*` to ask for, if any.
    pub preferred_compression: Option<u8>,
    /// GLZ dictionary window in pixels (0 disables GLZ in practice).
    pub glz_window_pixels: u32,
    /// Pixmap cache budget in pixels.
    pub pixmap_cache_pixels: i64,
    /// GLZ dictionary id (shared by channels with the same id).
    pub glz_dictionary_id: u8,
    /// Pixmap cache id.
    pub pixmap_cache_id: u8,
}

/// One display channel's state.
#[derive(Debug)]
pub struct Display {
    channel_id: u8,
    config: DisplayConfig,
    primary: Option<Surface>,
    dirty: Option<Rect>,
}

fn set_cap(words: &mut Vec<u32>, cap: u32) {
    let w = (cap / 32) as usize;
    if words.len() <= w {
        words.resize(w + 1, 0);
    }
    words[w] |= 1 << (cap % 32);
}

fn has_cap(words: &[u32], cap: u32) -> bool {
    words.get((cap / 32) as usize).is_some_and(|w| w & (1 << (cap % 32)) != 0)
}

impl Display {
    /// A display channel handler for channel `channel_id`.
    pub fn new(channel_id: u8, config: DisplayConfig) -> Self {
        Self { channel_id, config, primary: None, dirty: None }
    }

    /// The display capability words to advertise in the link message.
    pub fn client_caps() -> Vec<u32> {
        let mut w = Vec::new();
        for cap in [
            SPICE_DISPLAY_CAP_SIZED_STREAM,
            SPICE_DISPLAY_CAP_MONITORS_CONFIG,
            SPICE_DISPLAY_CAP_STREAM_REPORT,
            SPICE_DISPLAY_CAP_LZ4_COMPRESSION,
            SPICE_DISPLAY_CAP_PREF_COMPRESSION,
            SPICE_DISPLAY_CAP_MULTI_CODEC,
            SPICE_DISPLAY_CAP_CODEC_MJPEG,
        ] {
            set_cap(&mut w, cap);
        }
        w
    }

    /// Channel linked: queue DISPLAY_INIT and, if the server accepts it,
    /// PREFERRED_COMPRESSION.
    pub fn on_linked(&mut self, server_caps: &[u32], out: &mut Outbox) {
        let mut w = Writer::new();
        w.u8(self.config.pixmap_cache_id)
            .i64(self.config.pixmap_cache_pixels)
            .u8(self.config.glz_dictionary_id)
            .i32(self.config.glz_window_pixels.min(i32::MAX as u32) as i32);
        out.push(SPICE_MSGC_DISPLAY_INIT, w.finish());
        if let Some(c) = self.config.preferred_compression {
            if has_cap(server_caps, SPICE_DISPLAY_CAP_PREF_COMPRESSION) {
                out.push(SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION, alloc::vec![c]);
            }
        }
    }

    /// Handle one display-specific message (type >= 101).
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        glz: &mut GlzWindow,
        out: &mut Outbox,
    ) -> Result<(), WireError> {
        let _ = (msg_type, body, glz, out, self.channel_id);
        Ok(())
    }

    /// The primary surface, once created.
    pub fn primary(&self) -> Option<&Surface> {
        self.primary.as_ref()
    }

    /// Union of the primary-surface rectangles changed since the last call.
    pub fn take_dirty(&mut self) -> Option<Rect> {
        self.dirty.take()
    }
}
