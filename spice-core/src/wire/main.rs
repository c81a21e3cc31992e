//! Main-channel layouts (`MainChannel` in `spice.proto`): INIT,
//! CHANNELS_LIST, MOUSE_MODE, MULTI_MEDIA_TIME, NAME, UUID, the agent
//! token/disconnect messages, and the client's MOUSE_MODE_REQUEST.
//!
//! Owns byte layouts only; what to do with them is [`crate::main_channel`].

use crate::error::WireError;
use crate::wire::Reader;
use alloc::string::String;
use alloc::vec::Vec;

/// `SPICE_MSG_MAIN_INIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainInit {
    /// Connection id every other channel must present at link.
    pub session_id: u32,
    /// How many display channels the server expects.
    pub display_channels_hint: u32,
    /// `SPICE_MOUSE_MODE_*` bits the server supports.
    pub supported_mouse_modes: u32,
    /// The current `SPICE_MOUSE_MODE_*`.
    pub current_mouse_mode: u32,
    /// Non-zero when the guest agent is connected.
    pub agent_connected: u32,
    /// Agent tokens granted to the client.
    pub agent_tokens: u32,
    /// Server multimedia clock (ms).
    pub multi_media_time: u32,
    /// Guest RAM size hint.
    pub ram_hint: u32,
}

impl MainInit {
    /// Parse the body (8 x u32).
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        Ok(Self {
            session_id: r.u32()?,
            display_channels_hint: r.u32()?,
            supported_mouse_modes: r.u32()?,
            current_mouse_mode: r.u32()?,
            agent_connected: r.u32()?,
            agent_tokens: r.u32()?,
            multi_media_time: r.u32()?,
            ram_hint: r.u32()?,
        })
    }
}

/// Parse `SPICE_MSG_MAIN_CHANNELS_LIST`: `u32 count`, then `count` x
/// `{u8 type, u8 id}`.
pub fn parse_channels_list(body: &[u8]) -> Result<Vec<(u8, u8)>, WireError> {
    let mut r = Reader::new(body);
    let n = r.u32()? as usize;
    if n > r.remaining() / 2 {
        return Err(r.error("channel list longer than message"));
    }
    (0..n).map(|_| Ok((r.u8()?, r.u8()?))).collect()
}

/// Parse `SPICE_MSG_MAIN_MOUSE_MODE` (`flags16 supported, flags16 current`).
pub fn parse_mouse_mode(body: &[u8]) -> Result<(u32, u32), WireError> {
    let mut r = Reader::new(body);
    Ok((r.u16()? as u32, r.u16()? as u32))
}

/// `SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST` body (`flags16 mode`).
pub fn mouse_mode_request(mode: u32) -> Vec<u8> {
    (mode as u16).to_le_bytes().to_vec()
}

/// Parse a body that is a single u32 (MULTI_MEDIA_TIME, AGENT_TOKEN,
/// AGENT_CONNECTED_TOKENS, AGENT_DISCONNECTED).
pub fn parse_u32(body: &[u8]) -> Result<u32, WireError> {
    Reader::new(body).u32()
}

/// Parse `SPICE_MSG_MAIN_NAME` (`u32 len, u8 name[len]`), lossy UTF-8,
/// trailing NULs dropped.
pub fn parse_name(body: &[u8]) -> Result<String, WireError> {
    let mut r = Reader::new(body);
    let len = r.u32()? as usize;
    let raw = r.bytes(len)?;
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
}

/// Parse `SPICE_MSG_MAIN_UUID` (16 bytes).
pub fn parse_uuid(body: &[u8]) -> Result<[u8; 16], WireError> {
    let mut u = [0u8; 16];
    u.copy_from_slice(Reader::new(body).bytes(16)?);
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::*;
    use crate::wire::Writer;

    #[test]
    fn init_layout() {
        let mut w = Writer::new();
        for v in [0xDEAD, 1, 3, 1, 0, 10, 1234, 256] {
            w.u32(v);
        }
        let b = w.finish();
        let i = MainInit::parse(&b).unwrap();
        assert_eq!(
            (i.session_id, i.supported_mouse_modes, i.current_mouse_mode),
            (0xDEAD, 3, 1)
        );
        assert_eq!(
            (i.agent_tokens, i.multi_media_time, i.ram_hint),
            (10, 1234, 256)
        );
        assert_prefixes_rejected(&b, MainInit::parse);
    }

    #[test]
    fn small_messages() {
        let list = [3, 0, 0, 0, 2, 0, 3, 0, 4, 0];
        assert_eq!(
            parse_channels_list(&list).unwrap(),
            [(2, 0), (3, 0), (4, 0)]
        );
        assert_prefixes_rejected(&list, parse_channels_list);
        assert!(parse_channels_list(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 0]).is_err());
        assert_eq!(parse_mouse_mode(&[3, 0, 2, 0]).unwrap(), (3, 2));
        assert_prefixes_rejected(&[3, 0, 2, 0], parse_mouse_mode);
        assert_eq!(mouse_mode_request(2), [2, 0]);
        assert_eq!(parse_name(&[3, 0, 0, 0, b'v', b'm', 0]).unwrap(), "vm");
        assert!(parse_name(&[4, 0, 0, 0, b'v', b'm', 0]).is_err());
        assert_eq!(parse_uuid(&[7; 16]).unwrap(), [7; 16]);
        assert_prefixes_rejected(&[7; 16], parse_uuid);
    }

    #[test]
    fn random_input() {
        fuzz_parser(32, MainInit::parse);
        fuzz_parser(4, parse_channels_list);
        fuzz_parser(4, parse_mouse_mode);
        fuzz_parser(4, parse_name);
        fuzz_parser(16, parse_uuid);
        fuzz_parser(4, parse_u32);
    }
}
