//! Link-stage layouts: `SpiceLinkHeader`, `SpiceLinkMess` (client to server)
//! and `SpiceLinkReply` (server to client), plus capability-word helpers.
//!
//! Owns only byte layouts (`spice/protocol.h`, all fields little-endian and
//! packed). The handshake's order of steps and the ticket live in
//! [`crate::link`]; nothing here keeps state.

use crate::enums::{SPICE_TICKET_PUBKEY_BYTES, SPICE_VERSION_MAJOR, SPICE_VERSION_MINOR};
use crate::error::WireError;
use crate::wire::{Reader, Writer};
use alloc::vec::Vec;

/// `SPICE_MAGIC`: the four bytes "REDQ" that open every link header.
pub const SPICE_MAGIC: [u8; 4] = *b"REDQ";
/// Size of `SpiceLinkHeader` (magic, major, minor, size).
pub const LINK_HEADER_SIZE: usize = 16;
/// Size of the fixed part of `SpiceLinkMess`; also its `caps_offset`.
pub const LINK_MESS_SIZE: usize = 18;
/// Size of the fixed part of `SpiceLinkReply` (error, pub_key, 3 x u32).
pub const LINK_REPLY_SIZE: usize = 4 + SPICE_TICKET_PUBKEY_BYTES as usize + 12;
/// Largest link reply body we accept (the server applies the same 4096-byte
/// bound to the client's link message).
pub const MAX_LINK_REPLY_SIZE: u32 = 4096;

/// `SpiceLinkHeader`: precedes both the link message and the link reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHeader {
    /// Must be [`SPICE_MAGIC`] (checked by [`LinkHeader::parse`]).
    pub major_version: u32,
    /// Protocol minor version.
    pub minor_version: u32,
    /// Number of bytes that follow the header.
    pub size: u32,
}

impl LinkHeader {
    /// A header of our protocol version announcing `size` following bytes.
    pub fn ours(size: u32) -> Self {
        Self {
            major_version: SPICE_VERSION_MAJOR,
            minor_version: SPICE_VERSION_MINOR,
            size,
        }
    }

    /// Parse the 16 header bytes. A wrong magic is reported at offset 0.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let magic = r.bytes(4)?;
        if magic != SPICE_MAGIC {
            return Err(WireError::new(0, "bad link magic (not a SPICE server?)"));
        }
        Ok(Self {
            major_version: r.u32()?,
            minor_version: r.u32()?,
            size: r.u32()?,
        })
    }

    /// Append the header to `w`.
    pub fn emit(&self, w: &mut Writer) {
        w.bytes(&SPICE_MAGIC)
            .u32(self.major_version)
            .u32(self.minor_version)
            .u32(self.size);
    }
}

/// `SpiceLinkMess` plus its capability words: the client's link request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMess {
    /// 0 for the main channel; the main channel's `session_id` otherwise.
    pub connection_id: u32,
    /// `SPICE_CHANNEL_*`.
    pub channel_type: u8,
    /// Channel id (0 for the first of a type).
    pub channel_id: u8,
    /// Common capability words (`SPICE_COMMON_CAP_*` bits).
    pub common_caps: Vec<u32>,
    /// Channel capability words (`SPICE_<CHANNEL>_CAP_*` bits).
    pub channel_caps: Vec<u32>,
}

impl LinkMess {
    /// Serialise header + message + caps: the complete first flight.
    pub fn emit_with_header(&self) -> Vec<u8> {
        let caps = self.common_caps.len() + self.channel_caps.len();
        let body = LINK_MESS_SIZE + 4 * caps;
        let mut w = Writer::new();
        LinkHeader::ours(body as u32).emit(&mut w);
        w.u32(self.connection_id)
            .u8(self.channel_type)
            .u8(self.channel_id)
            .u32(self.common_caps.len() as u32)
            .u32(self.channel_caps.len() as u32)
            .u32(LINK_MESS_SIZE as u32);
        for c in self.common_caps.iter().chain(self.channel_caps.iter()) {
            w.u32(*c);
        }
        w.finish()
    }
}

/// `SpiceLinkReply` with its capability words, parsed from the reply body
/// (the `size` bytes after the link header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReply {
    /// `SPICE_LINK_ERR_*` (0 = OK).
    pub error: u32,
    /// DER SubjectPublicKeyInfo of the server's RSA key.
    pub pub_key: [u8; SPICE_TICKET_PUBKEY_BYTES as usize],
    /// Server common capability words.
    pub common_caps: Vec<u32>,
    /// Server channel capability words.
    pub channel_caps: Vec<u32>,
}

impl LinkReply {
    /// Read just the error word (a refusal may carry nothing else useful).
    pub fn parse_error(body: &[u8]) -> Result<u32, WireError> {
        Reader::new(body).u32()
    }

    /// Parse a whole reply body. Capability words are located through
    /// `caps_offset` (relative to the start of the body) and must lie inside it.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let error = r.u32()?;
        let mut pub_key = [0u8; SPICE_TICKET_PUBKEY_BYTES as usize];
        pub_key.copy_from_slice(r.bytes(SPICE_TICKET_PUBKEY_BYTES as usize)?);
        let n_common = r.u32()?;
        let n_channel = r.u32()?;
        let caps_at = r.pos();
        let caps_offset = r.u32()?;
        let total = (n_common as u64) + (n_channel as u64);
        let end = (caps_offset as u64) + 4 * total;
        if end > body.len() as u64 {
            return Err(WireError::new(
                caps_at,
                "link reply capabilities beyond end of reply",
            ));
        }
        let mut c = r.at(caps_offset)?;
        let mut read =
            |n: u32| -> Result<Vec<u32>, WireError> { (0..n).map(|_| c.u32()).collect() };
        let common_caps = read(n_common)?;
        let channel_caps = read(n_channel)?;
        Ok(Self {
            error,
            pub_key,
            common_caps,
            channel_caps,
        })
    }
}

/// True when bit `cap` is set in the capability words `caps`.
pub fn has_cap(caps: &[u32], cap: u32) -> bool {
    caps.get((cap / 32) as usize)
        .is_some_and(|w| w & (1 << (cap % 32)) != 0)
}

/// Capability words with each bit of `bits` set (as many words as needed).
pub fn caps_from_bits(bits: &[u32]) -> Vec<u32> {
    let mut words = Vec::new();
    for &b in bits {
        let i = (b / 32) as usize;
        if words.len() <= i {
            words.resize(i + 1, 0);
        }
        words[i] |= 1 << (b % 32);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::*;

    #[test]
    fn link_mess_layout_matches_protocol_h() {
        // SpiceLinkHeader {magic "REDQ", major 2, minor 2, size 18 + 4*2},
        // SpiceLinkMess {connection_id, channel_type, channel_id,
        // num_common_caps, num_channel_caps, caps_offset = 18}, caps.
        let m = LinkMess {
            connection_id: 0x11223344,
            channel_type: SPICE_CHANNEL_DISPLAY as u8,
            channel_id: 1,
            common_caps: alloc::vec![0b1001],
            channel_caps: alloc::vec![0x40],
        };
        let expected: [u8; 42] = [
            b'R', b'E', b'D', b'Q', 2, 0, 0, 0, 2, 0, 0, 0, 26, 0, 0, 0, // header
            0x44, 0x33, 0x22, 0x11, 2, 1, // connection id, type, id
            1, 0, 0, 0, 1, 0, 0, 0, 18, 0, 0, 0, // counts, caps_offset
            0x09, 0, 0, 0, 0x40, 0, 0, 0, // caps
        ];
        assert_eq!(m.emit_with_header(), expected);
    }

    fn reply_bytes(error: u32, caps_offset: u32, common: &[u32], channel: &[u32]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(error).bytes(&[0xAB; 162]);
        w.u32(common.len() as u32)
            .u32(channel.len() as u32)
            .u32(caps_offset);
        for c in common.iter().chain(channel) {
            w.u32(*c);
        }
        w.finish()
    }

    #[test]
    fn link_reply_parses_caps_at_offset_178() {
        let b = reply_bytes(0, 178, &[0b1011], &[0x1234]);
        assert_eq!(b.len(), LINK_REPLY_SIZE + 8);
        let r = LinkReply::parse(&b).unwrap();
        assert_eq!(r.error, 0);
        assert_eq!(r.pub_key[0], 0xAB);
        assert_eq!(r.common_caps, [0b1011]);
        assert_eq!(r.channel_caps, [0x1234]);
        assert!(has_cap(&r.common_caps, SPICE_COMMON_CAP_MINI_HEADER));
        assert!(!has_cap(&r.common_caps, SPICE_COMMON_CAP_AUTH_SASL));
        assert!(!has_cap(&r.common_caps, 40));
    }

    #[test]
    fn link_reply_rejects_caps_outside_body() {
        let b = reply_bytes(0, 178, &[1, 2, 3], &[]);
        assert!(LinkReply::parse(&b[..b.len() - 1]).is_err());
        let b = reply_bytes(0, 0xFFFF_FFF0, &[1], &[]);
        assert!(LinkReply::parse(&b).is_err());
        let mut b = reply_bytes(0, 178, &[], &[]);
        b[166..170].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LinkReply::parse(&b).is_err());
    }

    #[test]
    fn link_header_checks_magic() {
        let h = [b'R', b'E', b'D', b'Q', 2, 0, 0, 0, 2, 0, 0, 0, 178, 0, 0, 0];
        assert_eq!(LinkHeader::parse(&h).unwrap(), LinkHeader::ours(178));
        let mut bad = h;
        bad[0] = b'H';
        assert_eq!(LinkHeader::parse(&bad).unwrap_err().offset, 0);
        assert!(LinkHeader::parse(&h[..10]).is_err());
    }

    #[test]
    fn caps_from_bits_sets_words() {
        assert_eq!(caps_from_bits(&[0, 3]), [9]);
        assert_eq!(caps_from_bits(&[33]), [0, 2]);
        assert!(caps_from_bits(&[]).is_empty());
    }

    #[test]
    fn parsers_survive_random_and_truncated_input() {
        use crate::wire::testutil::*;
        fuzz_parser(LINK_HEADER_SIZE, LinkHeader::parse);
        fuzz_parser(LINK_REPLY_SIZE, LinkReply::parse);
        fuzz_parser(4, LinkReply::parse_error);
        assert_prefixes_rejected(&reply_bytes(0, 178, &[1], &[2, 3]), LinkReply::parse);
    }
}
