//! Error values for everything that can go wrong with bytes from the network.
//!
//! Owns the two error shapes used across the crate: [`WireError`] (a parser's
//! verdict: what was wrong and at which byte offset of the message body) and
//! [`ProtocolError`] (a `WireError` placed in context: which channel and which
//! message type). Nothing here may panic; every parser returns these instead.

use core::fmt;

/// What a parser found wrong, and where (offset from the start of the message body
/// or of the image being decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    /// Byte offset at which the problem was detected.
    pub offset: usize,
    /// Short, human-readable reason ("truncated", "image too large", ...).
    pub reason: &'static str,
}

impl WireError {
    /// A new error at `offset` with `reason`.
    pub const fn new(offset: usize, reason: &'static str) -> Self {
        Self { offset, reason }
    }

    /// Shift the offset by `base` (when a sub-parser worked on a slice that
    /// starts `base` bytes into the message).
    pub const fn at_base(self, base: usize) -> Self {
        Self {
            offset: self.offset.saturating_add(base),
            reason: self.reason,
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

/// A malformed message: the channel it came on, its type and the parser's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError {
    /// SPICE channel type (`SPICE_CHANNEL_*`).
    pub channel_type: u8,
    /// Channel id (display 0, display 1, ...).
    pub channel_id: u8,
    /// Message type (`SPICE_MSG_*`), or 0 for the framing/link layer.
    pub msg_type: u16,
    /// What went wrong and where.
    pub error: WireError,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol error on {} channel {}, message {}: {}",
            channel_name(self.channel_type),
            self.channel_id,
            self.msg_type,
            self.error
        )
    }
}

/// The lower-case name of a SPICE channel type, for messages.
pub fn channel_name(channel_type: u8) -> &'static str {
    use crate::enums::*;
    match channel_type as u32 {
        SPICE_CHANNEL_MAIN => "main",
        SPICE_CHANNEL_DISPLAY => "display",
        SPICE_CHANNEL_INPUTS => "inputs",
        SPICE_CHANNEL_CURSOR => "cursor",
        SPICE_CHANNEL_PLAYBACK => "playback",
        SPICE_CHANNEL_RECORD => "record",
        SPICE_CHANNEL_SMARTCARD => "smartcard",
        SPICE_CHANNEL_USBREDIR => "usbredir",
        SPICE_CHANNEL_PORT => "port",
        SPICE_CHANNEL_WEBDAV => "webdav",
        _ => "unknown",
    }
}
