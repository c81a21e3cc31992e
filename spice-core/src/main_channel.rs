//! The main channel's client logic (messages 101 and up on `SPICE_CHANNEL_MAIN`).
//!
//! Owns: remembering INIT (session id, mouse modes, agent state), sending
//! ATTACH_CHANNELS, turning CHANNELS_LIST into a list for the session,
//! asking for client mouse mode when offered, and noting NAME/UUID/mm-time.
//! The `AGENT_*` messages go to [`crate::agent`] (the VD_AGENT protocol,
//! token flow control, the local display size for the guest). Migration is refused
//! (MIGRATE_CONNECT_ERROR). It must not open connections itself; it only
//! reports what the session should do.

use crate::agent::{Agent, AgentEvent};
use crate::enums::*;
use crate::error::WireError;
use crate::outbox::Outbox;
use crate::wire::link::caps_from_bits;
use crate::wire::main::{
    mouse_mode_request, parse_channels_list, parse_mouse_mode, parse_name, parse_u32, parse_uuid,
    MainInit,
};
use alloc::string::String;
use alloc::vec::Vec;

/// What the main channel wants the session to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainEvent {
    /// INIT arrived: other channels can now be linked with this session id.
    Init {
        /// The connection id for every other channel.
        session_id: u32,
    },
    /// The server's channels, `(SPICE_CHANNEL_*, id)`.
    Channels(Vec<(u8, u8)>),
    /// Mouse mode changed or was first announced.
    MouseMode {
        /// Supported `SPICE_MOUSE_MODE_*` bits.
        supported: u32,
        /// Current mode.
        current: u32,
    },
    /// The guest agent connected (true) or went away (false).
    Agent(bool),
    /// The guest agent said something (capabilities, a reply) or we asked it
    /// for a display size.
    FromAgent(AgentEvent),
    /// The VM's name.
    Name(String),
    /// The VM's UUID.
    Uuid([u8; 16]),
}

/// Main channel state.
#[derive(Debug, Clone, Default)]
pub struct MainChannel {
    /// Session id from INIT (None until INIT).
    pub session_id: Option<u32>,
    /// Supported `SPICE_MOUSE_MODE_*` bits.
    pub supported_mouse_modes: u32,
    /// Current `SPICE_MOUSE_MODE_*` (0 until INIT).
    pub mouse_mode: u32,
    /// Whether the guest agent is connected.
    pub agent_connected: bool,
    /// Agent tokens the server granted in INIT / AGENT_CONNECTED_TOKENS.
    pub agent_tokens: u32,
    /// Last multimedia time from the server (ms).
    pub multi_media_time: u32,
    /// Display channel count hint from INIT.
    pub display_channels_hint: u32,
    /// VM name, if sent.
    pub name: Option<String>,
    /// VM UUID, if sent.
    pub uuid: Option<[u8; 16]>,
    /// Agent bytes received (`AGENT_DATA` bodies).
    pub agent_bytes: u64,
    /// The agent link (VD_AGENT protocol).
    pub agent: Agent,
    /// Ask for `SPICE_MOUSE_MODE_CLIENT` whenever the server supports it.
    pub prefer_client_mouse: bool,
}

impl MainChannel {
    /// A main channel that asks for client mouse mode when `prefer_client_mouse`.
    pub fn new(prefer_client_mouse: bool) -> Self {
        Self {
            prefer_client_mouse,
            ..Self::default()
        }
    }

    /// Channel caps the client advertises on MAIN: NAME_AND_UUID and
    /// AGENT_CONNECTED_TOKENS (no migration caps).
    pub fn client_caps() -> Vec<u32> {
        caps_from_bits(&[
            SPICE_MAIN_CAP_NAME_AND_UUID,
            SPICE_MAIN_CAP_AGENT_CONNECTED_TOKENS,
        ])
    }

    fn set_mouse_mode(
        &mut self,
        supported: u32,
        current: u32,
        out: &mut Outbox,
        ev: &mut Vec<MainEvent>,
    ) {
        self.supported_mouse_modes = supported;
        self.mouse_mode = current;
        ev.push(MainEvent::MouseMode { supported, current });
        if self.prefer_client_mouse
            && current != SPICE_MOUSE_MODE_CLIENT
            && supported & SPICE_MOUSE_MODE_CLIENT != 0
        {
            out.push(
                SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST,
                mouse_mode_request(SPICE_MOUSE_MODE_CLIENT),
            );
        }
    }

    /// Ask the guest agent for this local display size (sent when the agent
    /// is ready, and again whenever the size changes).
    pub fn set_monitor_size(
        &mut self,
        width: u32,
        height: u32,
        out: &mut Outbox,
        ev: &mut Vec<MainEvent>,
    ) {
        let mut agent_ev = Vec::new();
        self.agent.set_monitor(width, height, out, &mut agent_ev);
        ev.extend(agent_ev.into_iter().map(MainEvent::FromAgent));
    }

    /// Ask the guest agent to turn off effects (`VD_AGENT_DISPLAY_CONFIG_FLAG_*`),
    /// sent once per agent connection when the agent supports DISPLAY_CONFIG.
    pub fn set_display_flags(&mut self, flags: u32, out: &mut Outbox, ev: &mut Vec<MainEvent>) {
        let mut agent_ev = Vec::new();
        self.agent.set_display_flags(flags, out, &mut agent_ev);
        ev.extend(agent_ev.into_iter().map(MainEvent::FromAgent));
    }

    /// Ask for a mouse mode explicitly (queued on `out`).
    pub fn request_mouse_mode(&self, mode: u32, out: &mut Outbox) {
        out.push(SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, mouse_mode_request(mode));
    }

    /// Handle one main-channel message (type > `SPICE_MSG_BASE_LAST`).
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        out: &mut Outbox,
        ev: &mut Vec<MainEvent>,
    ) -> Result<(), WireError> {
        match msg_type {
            SPICE_MSG_MAIN_INIT => {
                let i = MainInit::parse(body)?;
                self.session_id = Some(i.session_id);
                self.display_channels_hint = i.display_channels_hint;
                self.agent_tokens = i.agent_tokens;
                self.multi_media_time = i.multi_media_time;
                self.agent_connected = i.agent_connected != 0;
                ev.push(MainEvent::Init {
                    session_id: i.session_id,
                });
                self.set_mouse_mode(i.supported_mouse_modes, i.current_mouse_mode, out, ev);
                if self.agent_connected {
                    ev.push(MainEvent::Agent(true));
                }
                out.push(SPICE_MSGC_MAIN_ATTACH_CHANNELS, Vec::new());
                self.agent.set_server_tokens(i.agent_tokens, out);
                if self.agent_connected {
                    self.agent.on_connected(out);
                }
            }
            SPICE_MSG_MAIN_CHANNELS_LIST => {
                ev.push(MainEvent::Channels(parse_channels_list(body)?))
            }
            SPICE_MSG_MAIN_MOUSE_MODE => {
                let (supported, current) = parse_mouse_mode(body)?;
                self.set_mouse_mode(supported, current, out, ev);
            }
            SPICE_MSG_MAIN_MULTI_MEDIA_TIME => self.multi_media_time = parse_u32(body)?,
            SPICE_MSG_MAIN_AGENT_CONNECTED => {
                self.agent_connected = true;
                ev.push(MainEvent::Agent(true));
                self.agent.on_connected(out);
            }
            SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS => {
                self.agent_tokens = parse_u32(body)?;
                self.agent_connected = true;
                ev.push(MainEvent::Agent(true));
                self.agent.set_server_tokens(self.agent_tokens, out);
                self.agent.on_connected(out);
            }
            SPICE_MSG_MAIN_AGENT_DISCONNECTED => {
                parse_u32(body)?;
                self.agent_connected = false;
                self.agent.on_disconnected();
                ev.push(MainEvent::Agent(false));
            }
            SPICE_MSG_MAIN_AGENT_TOKEN => {
                let n = parse_u32(body)?;
                self.agent_tokens = self.agent_tokens.saturating_add(n);
                self.agent.add_server_tokens(n, out);
            }
            SPICE_MSG_MAIN_AGENT_DATA => {
                self.agent_bytes = self.agent_bytes.saturating_add(body.len() as u64);
                let mut agent_ev = Vec::new();
                self.agent.on_data(body, out, &mut agent_ev)?;
                ev.extend(agent_ev.into_iter().map(MainEvent::FromAgent));
            }
            SPICE_MSG_MAIN_NAME => {
                let n = parse_name(body)?;
                self.name = Some(n.clone());
                ev.push(MainEvent::Name(n));
            }
            SPICE_MSG_MAIN_UUID => {
                let u = parse_uuid(body)?;
                self.uuid = Some(u);
                ev.push(MainEvent::Uuid(u));
            }
            SPICE_MSG_MAIN_MIGRATE_BEGIN | SPICE_MSG_MAIN_MIGRATE_BEGIN_SEAMLESS => {
                // We cannot follow a migration: say so at once so the server
                // does not wait for us.
                out.push(SPICE_MSGC_MAIN_MIGRATE_CONNECT_ERROR, Vec::new());
            }
            // MIGRATE_CANCEL, SWITCH_HOST, MIGRATE_END, DST_SEAMLESS_*: nothing to do.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    fn init(supported: u32, current: u32, agent: u32) -> Vec<u8> {
        let mut w = Writer::new();
        for v in [77, 1, supported, current, agent, 10, 5, 0] {
            w.u32(v);
        }
        w.finish()
    }

    #[test]
    fn init_attaches_and_requests_client_mouse() {
        let mut m = MainChannel::new(true);
        let mut out = Outbox::new();
        let mut ev = Vec::new();
        m.handle(SPICE_MSG_MAIN_INIT, &init(3, 1, 0), &mut out, &mut ev)
            .unwrap();
        assert_eq!(m.session_id, Some(77));
        let sent: Vec<_> = out.drain().collect();
        assert_eq!(
            sent,
            [
                (SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST, alloc::vec![2, 0]),
                (SPICE_MSGC_MAIN_ATTACH_CHANNELS, alloc::vec![])
            ]
        );
        assert_eq!(ev[0], MainEvent::Init { session_id: 77 });
        // server-only mouse: no request
        let mut m = MainChannel::new(true);
        m.handle(SPICE_MSG_MAIN_INIT, &init(1, 1, 1), &mut out, &mut ev)
            .unwrap();
        let sent: Vec<_> = out.drain().map(|(t, _)| t).collect();
        // agent connected at INIT: AGENT_START and our capabilities follow the attach
        assert_eq!(
            sent,
            [
                SPICE_MSGC_MAIN_ATTACH_CHANNELS,
                SPICE_MSGC_MAIN_AGENT_START,
                SPICE_MSGC_MAIN_AGENT_DATA
            ]
        );
        assert!(m.agent_connected);
        // switch to client mode announced: no new request
        m.handle(SPICE_MSG_MAIN_MOUSE_MODE, &[3, 0, 2, 0], &mut out, &mut ev)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(m.mouse_mode, SPICE_MOUSE_MODE_CLIENT);
    }

    #[test]
    fn channels_list_agent_data_and_migration() {
        let mut m = MainChannel::new(false);
        let mut out = Outbox::new();
        let mut ev = Vec::new();
        m.handle(
            SPICE_MSG_MAIN_CHANNELS_LIST,
            &[2, 0, 0, 0, 2, 0, 9, 0],
            &mut out,
            &mut ev,
        )
        .unwrap();
        assert_eq!(ev, [MainEvent::Channels(alloc::vec![(2, 0), (9, 0)])]);
        // not a VD_AGENT stream (protocol 0x01010101): the channel fails
        assert!(m
            .handle(SPICE_MSG_MAIN_AGENT_DATA, &[1; 100], &mut out, &mut ev)
            .is_err());
        assert_eq!(m.agent_bytes, 100);
        out.drain().count();
        m.handle(SPICE_MSG_MAIN_MIGRATE_BEGIN, &[], &mut out, &mut ev)
            .unwrap();
        assert_eq!(
            out.drain().next(),
            Some((SPICE_MSGC_MAIN_MIGRATE_CONNECT_ERROR, Vec::new()))
        );
        assert!(m
            .handle(SPICE_MSG_MAIN_INIT, &[0; 31], &mut out, &mut ev)
            .is_err());
        assert!(m
            .handle(SPICE_MSG_MAIN_UUID, &[0; 15], &mut out, &mut ev)
            .is_err());
    }

    #[test]
    fn random_bodies_for_every_type() {
        let mut errors = 0;
        for (i, input) in crate::wire::testutil::random_inputs(11, 2000, 64)
            .into_iter()
            .enumerate()
        {
            let t = SPICE_MSG_MAIN_MIGRATE_BEGIN + (i % 20) as u16;
            let mut m = MainChannel::new(true);
            if m.handle(t, &input, &mut Outbox::new(), &mut Vec::new())
                .is_err()
            {
                errors += 1;
            }
        }
        assert!(errors > 0);
    }
}
