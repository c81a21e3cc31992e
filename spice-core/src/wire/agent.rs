//! Guest agent layouts (`spice/vd_agent.h`), carried in the main channel's
//! `AGENT_DATA` messages: the 20-byte `VDAgentMessage` header,
//! `VDAgentAnnounceCapabilities`, `VDAgentMonitorsConfig` (one
//! `VDAgentMonConfig`), `VDAgentDisplayConfig`, `VDAgentReply`, and the
//! 4-byte bodies of the main channel's `AGENT_START` / `AGENT_TOKEN`.
//!
//! Owns byte layouts only; the stream, the tokens and what to send when are
//! [`crate::agent`]. Every parser checks lengths and never allocates more
//! than the bytes it was given.

use crate::enums::VD_AGENT_PROTOCOL;
use crate::error::WireError;
use crate::wire::{Reader, Writer};
use alloc::vec::Vec;

/// Size of `VDAgentMessage` without its data: protocol, type, opaque, size.
pub const AGENT_HEADER_SIZE: usize = 20;

/// Most capability words read from an `ANNOUNCE_CAPABILITIES` (the header
/// defines 18 bits, one word; later words are ignored).
pub const MAX_CAP_WORDS: usize = 8;

/// `VDAgentMessage` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentHeader {
    /// `VD_AGENT_PROTOCOL` (1).
    pub protocol: u32,
    /// `VD_AGENT_*` message type.
    pub msg_type: u32,
    /// Opaque value (echoed by nobody we care about; 0 when we send).
    pub opaque: u64,
    /// Bytes of data after the header.
    pub size: u32,
}

impl AgentHeader {
    /// A header for a message of ours.
    pub fn new(msg_type: u32, size: u32) -> Self {
        Self {
            protocol: VD_AGENT_PROTOCOL,
            msg_type,
            opaque: 0,
            size,
        }
    }

    /// Parse the 20 header bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        Ok(Self {
            protocol: r.u32()?,
            msg_type: r.u32()?,
            opaque: r.u64()?,
            size: r.u32()?,
        })
    }

    /// Append the 20 header bytes to `w`.
    pub fn emit(&self, w: &mut Writer) {
        w.u32(self.protocol)
            .u32(self.msg_type)
            .u64(self.opaque)
            .u32(self.size);
    }
}

/// A whole agent message (header + data) ready to be chunked.
pub fn message(msg_type: u32, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    AgentHeader::new(msg_type, data.len() as u32).emit(&mut w);
    w.bytes(data);
    w.finish()
}

/// `VDAgentAnnounceCapabilities` data: `u32 request`, then the cap words.
pub fn announce_capabilities(request: bool, caps: &[u32]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(u32::from(request));
    for c in caps {
        w.u32(*c);
    }
    w.finish()
}

/// Parse `VDAgentAnnounceCapabilities`: `(request, cap words)`; at most
/// [`MAX_CAP_WORDS`] words are kept, a trailing partial word is ignored (as
/// `VD_AGENT_CAPS_SIZE_FROM_MSG_SIZE` rounds down).
pub fn parse_announce_capabilities(data: &[u8]) -> Result<(bool, Vec<u32>), WireError> {
    let mut r = Reader::new(data);
    let request = r.u32()? != 0;
    let n = (r.remaining() / 4).min(MAX_CAP_WORDS);
    let caps = (0..n).map(|_| r.u32()).collect::<Result<Vec<u32>, _>>()?;
    Ok((request, caps))
}

/// Whether capability `bit` is set in `caps` (`VD_AGENT_HAS_CAPABILITY`).
pub fn has_cap(caps: &[u32], bit: u32) -> bool {
    caps.get((bit / 32) as usize)
        .is_some_and(|w| w & (1 << (bit % 32)) != 0)
}

/// `VDAgentMonitorsConfig` with one monitor of `width` x `height` at 0,0,
/// 32 bits deep, no flags.
pub fn monitors_config(width: u32, height: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(1).u32(0); // num_of_monitors, flags
    w.u32(height).u32(width).u32(32).i32(0).i32(0); // VDAgentMonConfig: height first
    w.finish()
}

/// Parse `VDAgentMonitorsConfig`'s first monitor as `(width, height)` (used
/// by the tests and the fuzz target to check what we send).
pub fn parse_monitors_config(data: &[u8]) -> Result<(u32, u32), WireError> {
    let mut r = Reader::new(data);
    let n = r.u32()?;
    let _flags = r.u32()?;
    if n == 0 {
        return Err(r.error("monitors config without monitors"));
    }
    let height = r.u32()?;
    let width = r.u32()?;
    Ok((width, height))
}

/// `VDAgentDisplayConfig`: `VD_AGENT_DISPLAY_CONFIG_FLAG_*` and a colour depth.
pub fn display_config(flags: u32, depth: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(flags).u32(depth);
    w.finish()
}

/// Parse `VDAgentReply`: `(message type replied to, VD_AGENT_SUCCESS / _ERROR)`.
pub fn parse_reply(data: &[u8]) -> Result<(u32, u32), WireError> {
    let mut r = Reader::new(data);
    Ok((r.u32()?, r.u32()?))
}

/// Body of `SPICE_MSGC_MAIN_AGENT_START` and `SPICE_MSGC_MAIN_AGENT_TOKEN`
/// (`u32 num_tokens`).
pub fn tokens(n: u32) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::*;
    use crate::wire::testutil::*;

    #[test]
    fn header_layout_matches_vd_agent_h() {
        // VDAgentMessage: protocol u32, type u32, opaque u64, size u32, packed.
        let m = message(VD_AGENT_REPLY, &[0xAA, 0xBB]);
        assert_eq!(m.len(), AGENT_HEADER_SIZE + 2);
        assert_eq!(&m[..4], &[1, 0, 0, 0]);
        assert_eq!(&m[4..8], &[3, 0, 0, 0]);
        assert_eq!(&m[8..16], &[0; 8]);
        assert_eq!(&m[16..20], &[2, 0, 0, 0]);
        let h = AgentHeader::parse(&m).unwrap();
        assert_eq!(h, AgentHeader::new(VD_AGENT_REPLY, 2));
        assert_prefixes_rejected(&m[..AGENT_HEADER_SIZE], AgentHeader::parse);
    }

    #[test]
    fn monitors_config_puts_height_before_width() {
        // VDAgentMonitorsConfig {num, flags} + VDAgentMonConfig {height, width, depth, x, y}
        let b = monitors_config(1280, 800);
        assert_eq!(b.len(), 8 + 20);
        assert_eq!(&b[..8], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[8..12], &800u32.to_le_bytes());
        assert_eq!(&b[12..16], &1280u32.to_le_bytes());
        assert_eq!(&b[16..20], &32u32.to_le_bytes());
        assert_eq!(parse_monitors_config(&b).unwrap(), (1280, 800));
        assert!(parse_monitors_config(&[0; 8]).is_err());
    }

    #[test]
    fn capabilities_reply_display_config() {
        let caps = [(1 << VD_AGENT_CAP_MONITORS_CONFIG) | (1 << VD_AGENT_CAP_REPLY)];
        let b = announce_capabilities(true, &caps);
        assert_eq!(b, [1, 0, 0, 0, 6, 0, 0, 0]);
        let (req, got) = parse_announce_capabilities(&b).unwrap();
        assert!(req);
        assert!(has_cap(&got, VD_AGENT_CAP_MONITORS_CONFIG));
        assert!(!has_cap(&got, VD_AGENT_CAP_CLIPBOARD));
        assert!(!has_cap(&got, 40));
        // partial trailing word ignored, long lists capped
        assert_eq!(
            parse_announce_capabilities(&[0, 0, 0, 0, 1, 2]).unwrap(),
            (false, Vec::new())
        );
        assert_eq!(
            parse_announce_capabilities(&[0xFF; 4 + 4 * 100])
                .unwrap()
                .1
                .len(),
            MAX_CAP_WORDS
        );
        assert_eq!(
            parse_reply(&[2, 0, 0, 0, 1, 0, 0, 0]).unwrap(),
            (VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS)
        );
        assert_prefixes_rejected(&[2, 0, 0, 0, 1, 0, 0, 0], parse_reply);
        assert_eq!(
            display_config(VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_WALLPAPER, 0),
            [1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(tokens(10), [10, 0, 0, 0]);
    }

    #[test]
    fn random_input() {
        fuzz_parser(20, AgentHeader::parse);
        fuzz_parser(4, parse_announce_capabilities);
        fuzz_parser(16, parse_monitors_config);
        fuzz_parser(8, parse_reply);
    }
}
