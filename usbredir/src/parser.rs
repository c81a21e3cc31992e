//! Stream framing of usbredir packets with a bound on every packet.
//!
//! The peer's first packet must be its hello (12-byte header, as the hello
//! always goes out before the peer's capabilities are known); after it, headers
//! are 16 bytes when both sides have `USB_REDIR_CAP_64BITS_IDS`
//! (`usbredirparser_get_header_len`). A packet whose header announces more than
//! the bound is refused before anything is buffered for it, so the buffer never
//! holds more than one header, one bounded packet and the last chunk pushed.

use crate::caps::Caps;
use crate::packet::{Packet, PacketError};
use crate::proto::*;
use alloc::vec::Vec;
use core::fmt;

/// Why the stream cannot go on (the caller closes the channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields are what the Display text names
pub enum ParserError {
    /// The peer's first packet was not a hello.
    NoHello(u32),
    /// A second hello.
    SecondHello,
    /// A packet announced more bytes than the bound.
    TooLong { ty: u32, len: u32, max: usize },
    /// The packet itself was malformed.
    Packet(PacketError),
    /// More requests outstanding than the host side queues.
    TooManyRequests(usize),
}

impl fmt::Display for ParserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoHello(t) => write!(f, "usbredir peer sent packet type {t} before its hello"),
            Self::SecondHello => write!(f, "usbredir peer sent a second hello"),
            Self::TooLong { ty, len, max } => {
                write!(
                    f,
                    "usbredir packet type {ty} of {len} bytes exceeds the {max}-byte bound"
                )
            }
            Self::Packet(e) => write!(f, "{e}"),
            Self::TooManyRequests(n) => {
                write!(f, "usbredir guest has more than {n} requests outstanding")
            }
        }
    }
}

impl From<PacketError> for ParserError {
    fn from(e: PacketError) -> Self {
        Self::Packet(e)
    }
}

/// One direction of a usbredir stream being received.
pub struct Parser {
    ours: Caps,
    peer: Option<Caps>,
    peer_version: Vec<u8>,
    from_host: bool,
    max_packet: usize,
    buf: Vec<u8>,
}

impl Parser {
    /// A parser for what the usb-guest sends to us (the usb-host), refusing
    /// packets whose body exceeds `max_packet` bytes.
    pub fn for_host(ours: Caps, max_packet: usize) -> Self {
        Self::new(ours, max_packet, false)
    }

    /// A parser for what a usb-host sends (tests, and a guest-side peer).
    pub fn for_guest(ours: Caps, max_packet: usize) -> Self {
        Self::new(ours, max_packet, true)
    }

    fn new(ours: Caps, max_packet: usize, from_host: bool) -> Self {
        Self {
            ours,
            peer: None,
            peer_version: Vec::new(),
            from_host,
            max_packet,
            buf: Vec::new(),
        }
    }

    /// The capabilities both sides share, once the peer's hello arrived.
    pub fn shared(&self) -> Option<Caps> {
        self.peer.map(|p| self.ours.shared(p))
    }

    /// The peer's version string (empty before its hello).
    pub fn peer_version(&self) -> &[u8] {
        &self.peer_version
    }

    /// Bytes buffered and not yet parsed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends received bytes; call [`Parser::next_packet`] until it returns
    /// `Ok(None)` before pushing more.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole packet (its id and contents), `Ok(None)` when more
    /// bytes are needed.
    pub fn next_packet(&mut self) -> Result<Option<(u64, Packet)>, ParserError> {
        let hl = self.shared().map_or(HEADER_32BIT_ID_LEN, Caps::header_len);
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let ty = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let len = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
        match (self.peer.is_some(), ty == USB_REDIR_HELLO) {
            (false, false) => return Err(ParserError::NoHello(ty)),
            (true, true) => return Err(ParserError::SecondHello),
            _ => {}
        }
        if len as usize > self.max_packet {
            return Err(ParserError::TooLong {
                ty,
                len,
                max: self.max_packet,
            });
        }
        let total = hl + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let id = if hl == HEADER_64BIT_ID_LEN {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.buf[8..16]);
            u64::from_le_bytes(b)
        } else {
            u64::from(u32::from_le_bytes([
                self.buf[8],
                self.buf[9],
                self.buf[10],
                self.buf[11],
            ]))
        };
        let shared = self.shared().unwrap_or(Caps(0));
        let result = Packet::decode(ty, &self.buf[hl..total], shared, self.from_host);
        self.buf.drain(..total);
        let packet = result?;
        if let Packet::Hello { version, caps } = &packet {
            self.peer = Some(*caps);
            self.peer_version = version.clone();
        }
        Ok(Some((id, packet)))
    }
}
