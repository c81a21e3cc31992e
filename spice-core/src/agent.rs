//! The guest agent, seen from the client: the VD_AGENT protocol carried in
//! the main channel's `AGENT_*` messages (`spice/vd_agent.h`).
//!
//! Owns: starting the agent link when the server reports the agent
//! (`AGENT_START` with the tokens we grant, then `ANNOUNCE_CAPABILITIES`),
//! both directions of token flow control (we send an `AGENT_DATA` only while
//! the server's tokens last; we return tokens for the data we consumed),
//! chunking outgoing messages into `VD_AGENT_MAX_DATA_SIZE` pieces,
//! reassembling incoming messages from the byte stream (bounded: a message
//! larger than [`MAX_AGENT_MESSAGE`] is skipped, never buffered), and what a
//! kiosk needs from the agent: `MONITORS_CONFIG` with the local display size
//! once the agent's capabilities are known (and again when the size
//! changes), `DISPLAY_CONFIG` when asked for, and the agent's `REPLY`s.
//! Clipboard, file transfer, volume and device-info messages are counted and
//! dropped (a kiosk has no local applications): we never announce those
//! capabilities.
//! Must not: do I/O or keep time (the caller decides what "no answer" means).

use crate::enums::*;
use crate::error::WireError;
use crate::outbox::Outbox;
use crate::wire::agent::{
    announce_capabilities, display_config, has_cap, message, monitors_config,
    parse_announce_capabilities, parse_reply, tokens, AgentHeader, AGENT_HEADER_SIZE,
};
use crate::wire::link::caps_from_bits;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Largest agent message we reassemble; bigger ones (clipboard data, which
/// we never asked for) are skipped byte by byte.
pub const MAX_AGENT_MESSAGE: usize = 64 * 1024;

/// Tokens granted to the server in `AGENT_START`: how many `AGENT_DATA`
/// messages it may send before we return some.
pub const GRANTED_TOKENS: u32 = 10;

/// Most outgoing chunks queued while waiting for tokens (a handful of
/// messages; beyond it the oldest queued size change is dropped).
const MAX_QUEUED_CHUNKS: usize = 64;

/// What the agent told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// The agent's capabilities arrived (`VD_AGENT_CAP_*` words).
    Capabilities(Vec<u32>),
    /// A `MONITORS_CONFIG` for this size was handed to the server.
    MonitorsConfigSent {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// The agent answered a message of ours.
    Reply {
        /// `VD_AGENT_*` type it answers.
        msg_type: u32,
        /// `VD_AGENT_SUCCESS` or `VD_AGENT_ERROR`.
        error: u32,
    },
}

/// Reassembly of the agent byte stream.
#[derive(Debug, Clone, Default)]
struct Incoming {
    header: Vec<u8>,
    current: Option<AgentHeader>,
    data: Vec<u8>,
    /// Bytes of an oversized message still to skip.
    skip: usize,
}

/// Client side of the agent link.
#[derive(Debug, Clone, Default)]
pub struct Agent {
    /// The server reports the agent connected.
    pub connected: bool,
    /// `AGENT_START` was sent for this connection.
    pub started: bool,
    /// `AGENT_DATA` messages we may still send.
    pub server_tokens: u32,
    /// `AGENT_DATA` messages received since we last returned tokens.
    consumed: u32,
    /// Chunks (each at most `VD_AGENT_MAX_DATA_SIZE`) waiting for tokens.
    queue: VecDeque<Vec<u8>>,
    incoming: Incoming,
    /// The agent's capabilities, once announced.
    pub agent_caps: Option<Vec<u32>>,
    /// The local display size to ask for.
    pub monitor: Option<(u32, u32)>,
    /// The size last sent in `MONITORS_CONFIG` on this agent connection.
    pub sent_monitor: Option<(u32, u32)>,
    /// `VD_AGENT_DISPLAY_CONFIG_FLAG_*` to send when the agent supports it.
    pub display_flags: Option<u32>,
    display_sent: bool,
    /// Agent messages received and ignored (clipboard, file transfer, ...).
    pub ignored: u64,
    /// Replies with `VD_AGENT_ERROR`.
    pub errors: u64,
}

/// Capabilities we announce: mouse state (the server forwards our pointer
/// to the agent), monitors config, replies, display config.
pub fn client_capabilities() -> Vec<u32> {
    caps_from_bits(&[
        VD_AGENT_CAP_MOUSE_STATE,
        VD_AGENT_CAP_MONITORS_CONFIG,
        VD_AGENT_CAP_REPLY,
        VD_AGENT_CAP_DISPLAY_CONFIG,
    ])
}

impl Agent {
    /// The tokens the server granted us (INIT, AGENT_CONNECTED_TOKENS).
    pub fn set_server_tokens(&mut self, n: u32, out: &mut Outbox) {
        self.server_tokens = n;
        self.flush(out);
    }

    /// The server reports the agent connected (INIT flag, AGENT_CONNECTED,
    /// AGENT_CONNECTED_TOKENS): start the link once per connection.
    pub fn on_connected(&mut self, out: &mut Outbox) {
        self.connected = true;
        if self.started {
            return;
        }
        self.started = true;
        out.push(SPICE_MSGC_MAIN_AGENT_START, tokens(GRANTED_TOKENS));
        self.queue_message(
            VD_AGENT_ANNOUNCE_CAPABILITIES,
            &announce_capabilities(true, &client_capabilities()),
        );
        self.flush(out);
    }

    /// The agent went away: forget its capabilities and everything queued.
    pub fn on_disconnected(&mut self) {
        let monitor = self.monitor;
        let display_flags = self.display_flags;
        let (ignored, errors) = (self.ignored, self.errors);
        *self = Self {
            monitor,
            display_flags,
            ignored,
            errors,
            ..Self::default()
        };
    }

    /// More tokens from the server (`AGENT_TOKEN`).
    pub fn add_server_tokens(&mut self, n: u32, out: &mut Outbox) {
        self.server_tokens = self.server_tokens.saturating_add(n);
        self.flush(out);
    }

    /// Ask for this local display size; sent now if the agent is ready,
    /// otherwise when its capabilities arrive.
    pub fn set_monitor(
        &mut self,
        width: u32,
        height: u32,
        out: &mut Outbox,
        ev: &mut Vec<AgentEvent>,
    ) {
        self.monitor = Some((width, height));
        self.send_config(out, ev);
    }

    /// Ask for `VD_AGENT_DISPLAY_CONFIG_FLAG_*` (wallpaper, animations...),
    /// sent once per agent connection when the agent supports it.
    pub fn set_display_flags(&mut self, flags: u32, out: &mut Outbox, ev: &mut Vec<AgentEvent>) {
        self.display_flags = Some(flags);
        self.display_sent = false;
        self.send_config(out, ev);
    }

    /// Whether the agent supports `VD_AGENT_CAP_*` `bit` (false until it announced).
    pub fn agent_has(&self, bit: u32) -> bool {
        self.agent_caps.as_deref().is_some_and(|c| has_cap(c, bit))
    }

    fn send_config(&mut self, out: &mut Outbox, ev: &mut Vec<AgentEvent>) {
        if !self.connected || self.agent_caps.is_none() {
            return;
        }
        if let Some((w, h)) = self.monitor {
            if self.sent_monitor != Some((w, h)) && self.agent_has(VD_AGENT_CAP_MONITORS_CONFIG) {
                self.sent_monitor = Some((w, h));
                self.queue_message(VD_AGENT_MONITORS_CONFIG, &monitors_config(w, h));
                ev.push(AgentEvent::MonitorsConfigSent {
                    width: w,
                    height: h,
                });
            }
        }
        if let Some(flags) = self.display_flags {
            if !self.display_sent && self.agent_has(VD_AGENT_CAP_DISPLAY_CONFIG) {
                self.display_sent = true;
                self.queue_message(VD_AGENT_DISPLAY_CONFIG, &display_config(flags, 0));
            }
        }
        self.flush(out);
    }

    fn queue_message(&mut self, msg_type: u32, data: &[u8]) {
        let m = message(msg_type, data);
        for chunk in m.chunks(VD_AGENT_MAX_DATA_SIZE as usize) {
            if self.queue.len() >= MAX_QUEUED_CHUNKS {
                self.queue.pop_front();
            }
            self.queue.push_back(chunk.to_vec());
        }
    }

    /// Send queued chunks while tokens last.
    fn flush(&mut self, out: &mut Outbox) {
        if !self.started {
            return;
        }
        while self.server_tokens > 0 {
            let Some(chunk) = self.queue.pop_front() else {
                break;
            };
            self.server_tokens -= 1;
            out.push(SPICE_MSGC_MAIN_AGENT_DATA, chunk);
        }
    }

    /// Chunks waiting for tokens.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// One `SPICE_MSG_MAIN_AGENT_DATA` body: part of the agent byte stream.
    /// Returns tokens as they are used up, handles complete messages.
    pub fn on_data(
        &mut self,
        body: &[u8],
        out: &mut Outbox,
        ev: &mut Vec<AgentEvent>,
    ) -> Result<(), WireError> {
        self.consumed += 1;
        if self.consumed >= GRANTED_TOKENS / 2 {
            out.push(SPICE_MSGC_MAIN_AGENT_TOKEN, tokens(self.consumed));
            self.consumed = 0;
        }
        let mut done: Vec<(AgentHeader, Vec<u8>)> = Vec::new();
        let inc = &mut self.incoming;
        let mut rest = body;
        while !rest.is_empty() {
            if inc.skip > 0 {
                let n = inc.skip.min(rest.len());
                inc.skip -= n;
                rest = &rest[n..];
                continue;
            }
            let Some(h) = inc.current else {
                let n = (AGENT_HEADER_SIZE - inc.header.len()).min(rest.len());
                inc.header.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if inc.header.len() == AGENT_HEADER_SIZE {
                    let h = AgentHeader::parse(&inc.header)?;
                    inc.header.clear();
                    if h.protocol != VD_AGENT_PROTOCOL {
                        let at = body.len() - rest.len();
                        return Err(WireError::new(at, "agent message with an unknown protocol"));
                    }
                    if h.size as usize > MAX_AGENT_MESSAGE {
                        self.ignored += 1;
                        inc.skip = h.size as usize;
                    } else if h.size == 0 {
                        done.push((h, Vec::new()));
                    } else {
                        inc.current = Some(h);
                    }
                }
                continue;
            };
            let n = (h.size as usize - inc.data.len()).min(rest.len());
            inc.data.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if inc.data.len() == h.size as usize {
                done.push((h, core::mem::take(&mut inc.data)));
                inc.current = None;
            }
        }
        for (h, data) in done {
            self.handle_message(h, &data, out, ev);
        }
        Ok(())
    }

    /// One complete agent message. A malformed one is counted and dropped:
    /// the stream itself stays in step (its size was valid).
    fn handle_message(
        &mut self,
        h: AgentHeader,
        data: &[u8],
        out: &mut Outbox,
        ev: &mut Vec<AgentEvent>,
    ) {
        match h.msg_type {
            VD_AGENT_ANNOUNCE_CAPABILITIES => match parse_announce_capabilities(data) {
                Ok((request, caps)) => {
                    self.agent_caps = Some(caps.clone());
                    // A fresh announcement (agent restarted): ask again.
                    self.sent_monitor = None;
                    self.display_sent = false;
                    if request {
                        self.queue_message(
                            VD_AGENT_ANNOUNCE_CAPABILITIES,
                            &announce_capabilities(false, &client_capabilities()),
                        );
                    }
                    ev.push(AgentEvent::Capabilities(caps));
                    self.send_config(out, ev);
                    self.flush(out);
                }
                Err(_) => self.ignored += 1,
            },
            VD_AGENT_REPLY => match parse_reply(data) {
                Ok((msg_type, error)) => {
                    if error != VD_AGENT_SUCCESS {
                        self.errors += 1;
                    }
                    ev.push(AgentEvent::Reply { msg_type, error });
                }
                Err(_) => self.ignored += 1,
            },
            // Clipboard, file transfer, volume, device info, anything newer.
            _ => self.ignored += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::agent::{parse_monitors_config, AgentHeader};

    fn sent(out: &mut Outbox) -> Vec<(u16, Vec<u8>)> {
        out.drain().collect()
    }

    /// An agent link started with `tokens` server tokens, its first output drained.
    fn started(tokens: u32) -> (Agent, Outbox, Vec<AgentEvent>) {
        let mut a = Agent::default();
        let mut out = Outbox::new();
        a.set_server_tokens(tokens, &mut out);
        a.on_connected(&mut out);
        out.drain().count();
        (a, out, Vec::new())
    }

    /// Reassemble the agent messages in a list of AGENT_DATA bodies.
    fn agent_messages(chunks: &[(u16, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
        let stream: Vec<u8> = chunks
            .iter()
            .filter(|(t, _)| *t == SPICE_MSGC_MAIN_AGENT_DATA)
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        let mut v = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let h = AgentHeader::parse(rest).unwrap();
            let end = AGENT_HEADER_SIZE + h.size as usize;
            v.push((h.msg_type, rest[AGENT_HEADER_SIZE..end].to_vec()));
            rest = &rest[end..];
        }
        v
    }

    fn caps_msg(request: bool, bits: &[u32]) -> Vec<u8> {
        message(
            VD_AGENT_ANNOUNCE_CAPABILITIES,
            &announce_capabilities(request, &caps_from_bits(bits)),
        )
    }

    #[test]
    fn start_announce_then_monitors_config_after_agent_caps() {
        let mut a = Agent::default();
        let (mut out, mut ev) = (Outbox::new(), Vec::new());
        a.set_monitor(1280, 800, &mut out, &mut ev);
        assert!(
            out.is_empty() && ev.is_empty(),
            "nothing before the agent connects"
        );
        a.set_server_tokens(10, &mut out);
        a.on_connected(&mut out);
        let s = sent(&mut out);
        assert_eq!(s[0], (SPICE_MSGC_MAIN_AGENT_START, tokens(GRANTED_TOKENS)));
        let msgs = agent_messages(&s);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, VD_AGENT_ANNOUNCE_CAPABILITIES);
        let (req, caps) = parse_announce_capabilities(&msgs[0].1).unwrap();
        assert!(
            req && has_cap(&caps, VD_AGENT_CAP_MONITORS_CONFIG)
                && !has_cap(&caps, VD_AGENT_CAP_CLIPBOARD)
        );
        // The agent answers with its caps (request=1): we answer ours and send the size.
        a.on_data(
            &caps_msg(true, &[VD_AGENT_CAP_MONITORS_CONFIG, VD_AGENT_CAP_REPLY]),
            &mut out,
            &mut ev,
        )
        .unwrap();
        let msgs = agent_messages(&sent(&mut out));
        assert_eq!(
            msgs.iter().map(|m| m.0).collect::<Vec<_>>(),
            [VD_AGENT_ANNOUNCE_CAPABILITIES, VD_AGENT_MONITORS_CONFIG]
        );
        assert_eq!(parse_monitors_config(&msgs[1].1).unwrap(), (1280, 800));
        assert!(ev.contains(&AgentEvent::MonitorsConfigSent {
            width: 1280,
            height: 800
        }));
        // Same size again: nothing; a new size: sent again.
        a.set_monitor(1280, 800, &mut out, &mut ev);
        assert!(out.is_empty());
        a.set_monitor(1024, 768, &mut out, &mut ev);
        let msgs = agent_messages(&sent(&mut out));
        assert_eq!(parse_monitors_config(&msgs[0].1).unwrap(), (1024, 768));
        // The reply.
        ev.clear();
        let reply = message(VD_AGENT_REPLY, &[2, 0, 0, 0, 1, 0, 0, 0]);
        a.on_data(&reply, &mut out, &mut ev).unwrap();
        assert_eq!(
            ev,
            [AgentEvent::Reply {
                msg_type: VD_AGENT_MONITORS_CONFIG,
                error: VD_AGENT_SUCCESS
            }]
        );
    }

    #[test]
    fn no_monitors_config_to_an_agent_without_the_capability() {
        let (mut a, mut out, mut ev) = started(10);
        a.set_monitor(800, 600, &mut out, &mut ev);
        sent(&mut out);
        a.on_data(&caps_msg(false, &[VD_AGENT_CAP_REPLY]), &mut out, &mut ev)
            .unwrap();
        assert!(agent_messages(&sent(&mut out)).is_empty());
        assert_eq!(a.sent_monitor, None);
    }

    #[test]
    fn sending_waits_for_server_tokens() {
        let mut a = Agent::default();
        let (mut out, mut ev) = (Outbox::new(), Vec::new());
        a.on_connected(&mut out); // no tokens yet
        assert_eq!(
            sent(&mut out),
            [(SPICE_MSGC_MAIN_AGENT_START, tokens(GRANTED_TOKENS))]
        );
        assert_eq!(a.queued(), 1);
        a.add_server_tokens(1, &mut out);
        assert_eq!(agent_messages(&sent(&mut out)).len(), 1);
        a.on_data(
            &caps_msg(
                false,
                &[VD_AGENT_CAP_MONITORS_CONFIG, VD_AGENT_CAP_DISPLAY_CONFIG],
            ),
            &mut out,
            &mut ev,
        )
        .unwrap();
        a.set_display_flags(
            VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_WALLPAPER,
            &mut out,
            &mut ev,
        );
        a.set_monitor(1920, 1080, &mut out, &mut ev);
        assert!(sent(&mut out).is_empty(), "no tokens left");
        assert_eq!(a.queued(), 2);
        a.add_server_tokens(5, &mut out);
        let msgs = agent_messages(&sent(&mut out));
        assert_eq!(
            msgs.iter().map(|m| m.0).collect::<Vec<_>>(),
            [VD_AGENT_DISPLAY_CONFIG, VD_AGENT_MONITORS_CONFIG]
        );
        assert_eq!(
            msgs[0].1,
            display_config(VD_AGENT_DISPLAY_CONFIG_FLAG_DISABLE_WALLPAPER, 0)
        );
        assert_eq!(a.server_tokens, 3);
    }

    #[test]
    fn big_messages_are_chunked_at_max_data_size() {
        let (mut a, mut out, _) = started(100);
        a.queue_message(VD_AGENT_DISPLAY_CONFIG, &[7; 5000]);
        a.flush(&mut out);
        let s = sent(&mut out);
        let sizes: Vec<usize> = s.iter().map(|(_, b)| b.len()).collect();
        assert_eq!(sizes, [2048, 2048, 5020 - 4096]);
        assert_eq!(
            agent_messages(&s),
            [(VD_AGENT_DISPLAY_CONFIG, alloc::vec![7; 5000])]
        );
    }

    #[test]
    fn incoming_stream_split_anywhere_and_tokens_returned() {
        let (mut a, mut out, mut ev) = started(10);
        let mut stream = caps_msg(false, &[VD_AGENT_CAP_REPLY]);
        stream.extend(message(VD_AGENT_CLIPBOARD_GRAB, &[1, 0, 0, 0]));
        stream.extend(message(VD_AGENT_REPLY, &[5, 0, 0, 0, 2, 0, 0, 0]));
        // Deliver in 3-byte AGENT_DATA pieces.
        let pieces: Vec<&[u8]> = stream.chunks(3).collect();
        for p in &pieces {
            a.on_data(p, &mut out, &mut ev).unwrap();
        }
        assert_eq!(
            ev,
            [
                AgentEvent::Capabilities(caps_from_bits(&[VD_AGENT_CAP_REPLY])),
                AgentEvent::Reply {
                    msg_type: VD_AGENT_DISPLAY_CONFIG,
                    error: VD_AGENT_ERROR
                }
            ]
        );
        assert_eq!((a.ignored, a.errors), (1, 1));
        let returned: u32 = sent(&mut out)
            .iter()
            .filter(|(t, _)| *t == SPICE_MSGC_MAIN_AGENT_TOKEN)
            .map(|(_, b)| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .sum();
        assert_eq!(returned as usize, pieces.len() / 5 * 5);
    }

    #[test]
    fn oversized_messages_are_skipped_not_buffered() {
        let mut a = Agent::default();
        let (mut out, mut ev) = (Outbox::new(), Vec::new());
        let big = (MAX_AGENT_MESSAGE + 10) as u32;
        let mut w = crate::wire::Writer::new();
        AgentHeader::new(VD_AGENT_CLIPBOARD, big).emit(&mut w);
        a.on_data(&w.finish(), &mut out, &mut ev).unwrap();
        for _ in 0..(big as usize / 2048) {
            a.on_data(&[0; 2048], &mut out, &mut ev).unwrap();
            assert!(a.incoming.data.capacity() == 0);
        }
        let tail = big as usize % 2048;
        let mut last = alloc::vec![0; tail];
        last.extend(message(VD_AGENT_REPLY, &[2, 0, 0, 0, 1, 0, 0, 0]));
        a.on_data(&last, &mut out, &mut ev).unwrap();
        assert_eq!(
            ev,
            [AgentEvent::Reply {
                msg_type: 2,
                error: 1
            }]
        );
        // A wrong protocol number is a broken stream.
        let mut bad = message(VD_AGENT_REPLY, &[0; 8]);
        bad[0] = 9;
        assert!(a.on_data(&bad, &mut out, &mut ev).is_err());
    }

    #[test]
    fn disconnect_forgets_the_agent_but_keeps_the_wanted_size() {
        let (mut a, mut out, mut ev) = started(10);
        a.set_monitor(640, 480, &mut out, &mut ev);
        a.on_data(
            &caps_msg(false, &[VD_AGENT_CAP_MONITORS_CONFIG]),
            &mut out,
            &mut ev,
        )
        .unwrap();
        assert_eq!(a.sent_monitor, Some((640, 480)));
        a.on_disconnected();
        assert_eq!(
            (a.connected, a.started, a.sent_monitor, a.monitor),
            (false, false, None, Some((640, 480)))
        );
        sent(&mut out);
        a.set_server_tokens(10, &mut out);
        a.on_connected(&mut out);
        a.on_data(
            &caps_msg(false, &[VD_AGENT_CAP_MONITORS_CONFIG]),
            &mut out,
            &mut ev,
        )
        .unwrap();
        let msgs = agent_messages(&sent(&mut out));
        assert_eq!(msgs.last().map(|m| m.0), Some(VD_AGENT_MONITORS_CONFIG));
    }

    #[test]
    fn random_streams_never_panic() {
        for input in crate::wire::testutil::random_inputs(5, 2000, 3000) {
            let mut a = Agent::default();
            let (mut out, mut ev) = (Outbox::new(), Vec::new());
            a.on_connected(&mut out);
            // valid header with random type and data, then raw random bytes
            let t = input.first().copied().unwrap_or(0) as u32 % 20;
            let _ = a.on_data(&message(t, &input), &mut out, &mut ev);
            let _ = a.on_data(&input, &mut out, &mut ev);
            assert!(a.incoming.data.len() <= MAX_AGENT_MESSAGE);
        }
    }
}
