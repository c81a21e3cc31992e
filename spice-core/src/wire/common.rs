//! Layouts shared by every channel after the link: the two message headers
//! (`SpiceMiniDataHeader`, `SpiceDataHeader`), `SpiceSubMessageList`, and the
//! `BaseChannel` messages of `spice.proto` (SET_ACK, PING/PONG, NOTIFY,
//! DISCONNECTING, WAIT_FOR_CHANNELS, MIGRATE, ACK_SYNC).
//!
//! Owns parsing and serialising these layouts only; ACK windows and replies
//! are the channel engine's job ([`crate::channel`]).

use crate::error::WireError;
use crate::wire::{Reader, Writer};
use alloc::string::String;
use alloc::vec::Vec;

/// Size of `SpiceMiniDataHeader {u16 type, u32 size}`.
pub const MINI_HEADER_SIZE: usize = 6;
/// Size of `SpiceDataHeader {u64 serial, u16 type, u32 size, u32 sub_list}`.
pub const FULL_HEADER_SIZE: usize = 18;

/// A message header, either form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// Serial number (full header only; 0 with the mini header).
    pub serial: u64,
    /// Message type.
    pub msg_type: u16,
    /// Body size in bytes.
    pub size: u32,
    /// Offset of a `SpiceSubMessageList` inside the body, 0 for none (full header only).
    pub sub_list: u32,
}

impl DataHeader {
    /// Header size for the negotiated form.
    pub const fn len(mini: bool) -> usize {
        if mini {
            MINI_HEADER_SIZE
        } else {
            FULL_HEADER_SIZE
        }
    }

    /// Parse a header of the given form from the start of `buf`.
    pub fn parse(buf: &[u8], mini: bool) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        if mini {
            Ok(Self {
                serial: 0,
                msg_type: r.u16()?,
                size: r.u32()?,
                sub_list: 0,
            })
        } else {
            Ok(Self {
                serial: r.u64()?,
                msg_type: r.u16()?,
                size: r.u32()?,
                sub_list: r.u32()?,
            })
        }
    }

    /// Append the header in the given form.
    pub fn emit(&self, mini: bool, w: &mut Writer) {
        if !mini {
            w.u64(self.serial);
        }
        w.u16(self.msg_type).u32(self.size);
        if !mini {
            w.u32(self.sub_list);
        }
    }
}

/// One entry of a `SpiceSubMessageList`: its type and the absolute range of
/// its data inside the containing body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubMessage {
    /// Message type.
    pub msg_type: u16,
    /// Offset of the sub-message data in the containing body.
    pub offset: usize,
    /// Length of the sub-message data.
    pub len: usize,
}

/// Parse the `SpiceSubMessageList` at `list_at` in `body`: `{u16 count,
/// u32 offsets[count]}`, each offset pointing at `SpiceSubMessage {u16 type,
/// u32 size}` followed by `size` data bytes, all inside `body`.
pub fn parse_sub_list(body: &[u8], list_at: u32) -> Result<Vec<SubMessage>, WireError> {
    let mut r = Reader::new(body).at(list_at)?;
    let count = r.u16()?;
    if (count as usize) * 4 > r.remaining() {
        return Err(r.error("sub-message list longer than message"));
    }
    let mut subs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let at = r.u32()?;
        let mut s = r.at(at)?;
        let msg_type = s.u16()?;
        let len = s.u32()? as usize;
        let offset = s.pos();
        s.skip(len)
            .map_err(|_| WireError::new(offset, "sub-message beyond end of message"))?;
        subs.push(SubMessage {
            msg_type,
            offset,
            len,
        });
    }
    Ok(subs)
}

/// `SPICE_MSG_SET_ACK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAck {
    /// Generation to echo in ACK_SYNC.
    pub generation: u32,
    /// Send one ACK every `window` messages.
    pub window: u32,
}

impl SetAck {
    /// Parse the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            generation: r.u32()?,
            window: r.u32()?,
        })
    }
}

/// `SPICE_MSG_PING` (the trailing data is only measured, never kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// Ping id, echoed in PONG.
    pub id: u32,
    /// Server timestamp, echoed in PONG.
    pub timestamp: u64,
    /// Bytes of padding data after the fixed part.
    pub data_len: usize,
}

impl Ping {
    /// Parse the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            id: r.u32()?,
            timestamp: r.u64()?,
            data_len: r.rest().len(),
        })
    }

    /// The `SPICE_MSGC_PONG` body answering this ping.
    pub fn pong(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.id).u64(self.timestamp);
        w.finish()
    }
}

/// `SPICE_MSGC_ACK_SYNC` body.
pub fn ack_sync(generation: u32) -> Vec<u8> {
    generation.to_le_bytes().to_vec()
}

/// `SPICE_MSG_DISCONNECTING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnecting {
    /// Server timestamp.
    pub time_stamp: u64,
    /// `SPICE_LINK_ERR_*` reason.
    pub reason: u32,
}

impl Disconnecting {
    /// Parse the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            time_stamp: r.u64()?,
            reason: r.u32()?,
        })
    }
}

/// `SPICE_MSG_NOTIFY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Server timestamp.
    pub time_stamp: u64,
    /// `SPICE_NOTIFY_SEVERITY_*`.
    pub severity: u32,
    /// `SPICE_NOTIFY_VISIBILITY_*`.
    pub visibility: u32,
    /// Error, warning or info code.
    pub what: u32,
    /// The text (lossy UTF-8, trailing NULs removed).
    pub text: String,
}

impl Notify {
    /// Parse the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let time_stamp = r.u64()?;
        let severity = r.u32()?;
        let visibility = r.u32()?;
        let what = r.u32()?;
        let len = r.u32()? as usize;
        let raw = r.bytes(len)?;
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&raw[..end]).into_owned();
        Ok(Self {
            time_stamp,
            severity,
            visibility,
            what,
            text,
        })
    }
}

/// Validate `SPICE_MSG_WAIT_FOR_CHANNELS` (`u8 count`, then `count` x
/// `{u8 type, u8 id, u64 serial}`); returns the count.
pub fn parse_wait_for_channels(body: &[u8]) -> Result<u8, WireError> {
    let mut r = Reader::new(body);
    let count = r.u8()?;
    r.skip(count as usize * 10)?;
    Ok(count)
}

/// `SPICE_MSG_MIGRATE` flags (`SPICE_MIGRATE_*`).
pub fn parse_migrate(body: &[u8]) -> Result<u32, WireError> {
    Reader::new(body).u32()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::*;

    #[test]
    fn headers_match_protocol_h() {
        let mini = [0x04, 0x00, 0x0C, 0x00, 0x00, 0x00];
        let h = DataHeader::parse(&mini, true).unwrap();
        assert_eq!((h.msg_type, h.size), (4, 12));
        let mut w = Writer::new();
        h.emit(true, &mut w);
        assert_eq!(w.finish(), mini);
        let full = [1, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x01, 5, 0, 0, 0, 2, 0, 0, 0];
        let h = DataHeader::parse(&full, false).unwrap();
        assert_eq!(
            h,
            DataHeader {
                serial: 1,
                msg_type: 304,
                size: 5,
                sub_list: 2
            }
        );
        let mut w = Writer::new();
        h.emit(false, &mut w);
        assert_eq!(w.finish(), full);
        assert_prefixes_rejected(&full, |b| DataHeader::parse(b, false));
        assert_prefixes_rejected(&mini, |b| DataHeader::parse(b, true));
    }

    #[test]
    fn sub_list_layout() {
        // list {count 2, offsets [10, 19]} then two SpiceSubMessages
        let body: Vec<u8> = [
            &[2u8, 0][..],
            &[10, 0, 0, 0, 19, 0, 0, 0],
            &[5, 0, 3, 0, 0, 0, 0xAA, 0xBB, 0xCC], // WAIT_FOR_CHANNELS, 3 bytes
            &[105, 0, 0, 0, 0, 0],                 // INVAL_LIST, empty
        ]
        .concat();
        let subs = parse_sub_list(&body, 0).unwrap();
        assert_eq!(
            subs[0],
            SubMessage {
                msg_type: 5,
                offset: 16,
                len: 3
            }
        );
        assert_eq!(
            subs[1],
            SubMessage {
                msg_type: 105,
                offset: 25,
                len: 0
            }
        );
        assert_prefixes_rejected(&body, |b| parse_sub_list(b, 0));
        assert!(parse_sub_list(&body, 100).is_err());
        let mut big = body.clone();
        big[0] = 0xFF;
        assert!(parse_sub_list(&big, 0).is_err());
    }

    #[test]
    fn base_messages() {
        let ping = [7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xEE, 0xEE];
        let p = Ping::parse(&ping).unwrap();
        assert_eq!((p.id, p.timestamp, p.data_len), (7, 0x0807060504030201, 2));
        assert_eq!(p.pong(), ping[..12]);
        assert_prefixes_rejected(&ping[..12], Ping::parse);
        let ack = [1, 0, 0, 0, 20, 0, 0, 0];
        assert_eq!(
            SetAck::parse(&ack).unwrap(),
            SetAck {
                generation: 1,
                window: 20
            }
        );
        assert_prefixes_rejected(&ack, SetAck::parse);
        assert_eq!(ack_sync(1), [1, 0, 0, 0]);
        let mut n = Writer::new();
        n.u64(9).u32(2).u32(1).u32(0).u32(4).bytes(b"hi!\0");
        let n = n.finish();
        let parsed = Notify::parse(&n).unwrap();
        assert_eq!(parsed.text, "hi!");
        assert_eq!(parsed.severity, crate::enums::SPICE_NOTIFY_SEVERITY_ERROR);
        assert_prefixes_rejected(&n, Notify::parse);
        let d = [0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0];
        assert_eq!(Disconnecting::parse(&d).unwrap().reason, 7);
        let w = [1, 2, 0, 5, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_wait_for_channels(&w), Ok(1));
        assert_prefixes_rejected(&w, parse_wait_for_channels);
    }

    #[test]
    fn random_input() {
        fuzz_parser(12, Ping::parse);
        fuzz_parser(8, SetAck::parse);
        fuzz_parser(24, Notify::parse);
        fuzz_parser(12, Disconnecting::parse);
        fuzz_parser(1, parse_wait_for_channels);
        fuzz_parser(2, |b| parse_sub_list(b, 0));
        fuzz_parser(6, |b| DataHeader::parse(b, true));
        fuzz_parser(18, |b| DataHeader::parse(b, false));
    }
}
