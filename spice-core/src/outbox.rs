//! [`Outbox`]: messages a channel handler wants to send, before framing.
//!
//! Channel handlers (main, display, inputs, cursor) push `(type, body)` pairs;
//! the channel engine (`channel`) adds the header (mini or full) and queues
//! the bytes for the caller to transmit. Handlers never see the framing.

use alloc::vec::Vec;

/// Queue of unframed outgoing messages.
#[derive(Debug, Default)]
pub struct Outbox {
    msgs: Vec<(u16, Vec<u8>)>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }
    /// Queue a message of type `msg_type` (a `SPICE_MSGC_*`) with `body`.
    pub fn push(&mut self, msg_type: u16, body: Vec<u8>) {
        self.msgs.push((msg_type, body));
    }
    /// Take every queued message, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = (u16, Vec<u8>)> + '_ {
        self.msgs.drain(..)
    }
    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}
