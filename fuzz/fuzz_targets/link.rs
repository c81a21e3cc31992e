//! Fuzz the client link handshake (`link::Link`): link header, the
//! `SpiceLinkReply` parser (error code, RSA public key, capability words),
//! the RSA-OAEP ticket and the link result.
//!
//! Input: one byte choosing how the rest is cut into deliveries (0 = all at
//! once, n = pieces of n bytes), then the bytes the server sends. Nothing
//! may panic; once linked, the bytes reported as consumed lie within the
//! delivery.
//!
//! Seeds: fuzz/seeds/link (what the lab server sent on each channel type,
//! link reply through the first channel messages).
#![no_main]

use barespice_fuzz::FuzzRng;
use libfuzzer_sys::fuzz_target;
use spice_core::enums::SPICE_CHANNEL_MAIN;
use spice_core::link::{Link, LinkStatus};
use spice_core::main_channel::MainChannel;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else { return };
    let mut tx = Vec::new();
    let Ok(mut link) = Link::start(0, SPICE_CHANNEL_MAIN as u8, 0, MainChannel::client_caps(), b"", &mut tx) else {
        return;
    };
    let mut rng = FuzzRng::new(7);
    let piece = if split == 0 { stream.len().max(1) } else { split as usize };
    for part in stream.chunks(piece) {
        match link.receive(part, &mut rng, &mut tx) {
            Ok(LinkStatus::Pending) => {}
            Ok(LinkStatus::Linked { consumed, .. }) => {
                assert!(consumed <= part.len(), "consumed {consumed} of {} bytes", part.len());
                return;
            }
            Err(_) => return,
        }
    }
});
