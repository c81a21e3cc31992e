//! [`Session`]: every channel of one SPICE connection, driven sans-IO.
//!
//! Owns the channel table (one entry per TCP connection the caller made),
//! the link of each channel, routing of received bytes to the channel
//! engine and on to the main / display / inputs / cursor handlers, the
//! shared GLZ dictionary windows, and the event queue. The caller does all
//! I/O, rustls-unbuffered style:
//!
//! 1. `Session::new(config, rng)` creates the session and the MAIN channel;
//!    connect a socket for [`Session::main_handle`].
//! 2. Loop: write [`Session::pending`] bytes of each handle to its socket and
//!    report them with [`Session::consume`]; hand received bytes to
//!    [`Session::receive`]; drain [`Session::poll_event`]. On
//!    [`Event::OpenChannel`], connect another socket and call [`Session::open`].
//!    When a socket ends, call [`Session::closed`].
//! 3. Read the picture with [`Session::primary`] / [`Session::take_dirty`],
//!    the pointer with [`Session::cursor`]; send input with the key and
//!    mouse methods.
//!
//! It must not do I/O, keep time or draw randomness itself (the RSA ticket
//! padding uses the caller's RNG). A malformed message ends its channel with
//! a [`ProtocolError`]; the caller decides whether the session goes on.

use crate::budget::Budget;
use crate::canvas::{Rect, Surface};
use crate::channel::{Ahead, Channel, CommonEvent, Lent, TxQueue};
use crate::cursor::{CursorChannel, CursorState};
use crate::display::{Display, DisplayConfig};
use crate::enums::*;
use crate::error::{channel_name, ProtocolError};
use crate::image::glz::GlzWindow;
use crate::inputs::InputsChannel;
use crate::link::{check_password, Link, LinkError, LinkStatus};
use crate::main_channel::{MainChannel, MainEvent};
use crate::outbox::Outbox;
use crate::playback::{AudioItem, PlaybackChannel};
use crate::spicevmc::VmcChannel;
use alloc::boxed::Box;
use alloc::collections::btree_map::Entry;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use rand_core::CryptoRngCore;

/// How the session presents itself to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Ticket password (empty when the server has no password; a ticket is
    /// sent regardless). At most 60 bytes, no NUL.
    pub password: Vec<u8>,
    /// `SPICE_IMAGE_COMPRESSION_*` to ask for on display channels; `None`
    /// leaves the server's choice.
    pub preferred_compression: Option<u8>,
    /// GLZ dictionary window, in pixels (0 makes the server avoid GLZ).
    pub glz_window_pixels: u32,
    /// Pixmap cache budget announced in DISPLAY_INIT, in pixels.
    pub pixmap_cache_pixels: i64,
    /// Ask for client (absolute) mouse mode whenever the server offers it.
    pub prefer_client_mouse: bool,
    /// Keep a copy of every message received on display channels (see
    /// [`Session::take_recorded`]).
    pub record_display: bool,
    /// Bytes the server may make this session hold (see [`crate::budget`]).
    pub memory_budget: usize,
    /// Link the PLAYBACK channel when the server offers it (the caller has
    /// somewhere to play audio; see [`Session::take_audio`]).
    pub playback: bool,
    /// Link USB redirection (`SPICE_CHANNEL_USBREDIR`) channels; their
    /// stream goes through [`Session::vmc_take`] / [`Session::vmc_send`].
    pub usbredir: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            password: Vec::new(),
            preferred_compression: None,
            glz_window_pixels: 4 * 1024 * 1024,
            pixmap_cache_pixels: 5 * 1024 * 1024,
            prefer_client_mouse: true,
            record_display: false,
            memory_budget: crate::budget::DEFAULT_BUDGET,
            playback: false,
            usbredir: false,
        }
    }
}

/// Identifies one channel connection of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelHandle(pub u32);

/// Why a channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The link was refused or malformed.
    LinkFailed(LinkError),
    /// The server sent a malformed message.
    Protocol(ProtocolError),
    /// The server announced DISCONNECTING (with a `SPICE_LINK_ERR_*` reason)
    /// and then the connection ended.
    ServerDisconnected(u32),
    /// The connection ended without notice (caller's [`Session::closed`]).
    TransportClosed,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LinkFailed(e) => write!(f, "{e}"),
            Self::Protocol(e) => write!(f, "{e}"),
            Self::ServerDisconnected(r) => write!(f, "server disconnected (reason {r})"),
            Self::TransportClosed => write!(f, "connection closed"),
        }
    }
}

/// Something the caller should know or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server offers this channel and the session can drive it: connect
    /// a socket and call [`Session::open`].
    OpenChannel {
        /// `SPICE_CHANNEL_*`.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
    },
    /// The server offers a channel this client does not implement (audio,
    /// ports, ...; USB redirection unless [`SessionConfig::usbredir`]);
    /// reported, not opened.
    ChannelSkipped {
        /// `SPICE_CHANNEL_*`.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
    },
    /// A channel finished its link and is running.
    Linked {
        /// The channel.
        handle: ChannelHandle,
        /// `SPICE_CHANNEL_*`.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
    },
    /// A channel ended (emitted once per channel, whatever the cause: link
    /// refusal, protocol error, server disconnect, socket closed).
    ChannelClosed {
        /// The channel.
        handle: ChannelHandle,
        /// `SPICE_CHANNEL_*`.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
        /// Why.
        reason: CloseReason,
    },
    /// The mouse mode was announced or changed.
    MouseMode {
        /// Supported `SPICE_MOUSE_MODE_*` bits.
        supported: u32,
        /// Current mode.
        current: u32,
    },
    /// The guest agent connected or disconnected.
    Agent(bool),
    /// The guest agent announced its capabilities, answered, or was asked
    /// for a display size.
    FromAgent(crate::agent::AgentEvent),
    /// The VM's name.
    Name(String),
    /// The VM's UUID.
    Uuid([u8; 16]),
    /// A display channel's primary surface appeared or changed size.
    SurfaceResized {
        /// Display channel id.
        channel_id: u8,
        /// New width.
        width: u32,
        /// New height.
        height: u32,
    },
    /// A NOTIFY message from the server.
    Notify {
        /// `SPICE_CHANNEL_*` it came on.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
        /// `SPICE_NOTIFY_SEVERITY_*`.
        severity: u32,
        /// The text.
        text: String,
    },
}

/// Why a session call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// No channel has this handle.
    UnknownHandle,
    /// The channel has already ended.
    Closed,
    /// The channel's link failed.
    Link {
        /// `SPICE_CHANNEL_*`.
        channel_type: u8,
        /// Channel id.
        channel_id: u8,
        /// What the server (or its reply) said.
        error: LinkError,
    },
    /// A malformed message ended the channel.
    Protocol(ProtocolError),
    /// The main channel has not delivered INIT yet (no session id), or the
    /// channel needed for the call (inputs) is not linked.
    NotReady,
    /// This channel type is not implemented by the session.
    Unsupported,
    /// The configuration is unusable (e.g. password too long).
    Config(LinkError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownHandle => write!(f, "unknown channel handle"),
            Self::Closed => write!(f, "channel closed"),
            Self::Link {
                channel_type,
                channel_id,
                error,
            } => {
                write!(
                    f,
                    "{error} (on {} channel {channel_id})",
                    channel_name(*channel_type)
                )
            }
            Self::Protocol(e) => write!(
                f,
                "protocol error on {} channel {}, message {}, offset {}: {}",
                channel_name(e.channel_type),
                e.channel_id,
                e.msg_type,
                e.error.offset,
                e.error.reason
            ),
            Self::NotReady => write!(
                f,
                "not ready (main channel not initialised or channel not linked)"
            ),
            Self::Unsupported => write!(f, "channel type not supported"),
            Self::Config(e) => write!(f, "bad configuration: {e}"),
        }
    }
}

/// The channel-specific half of a slot.
#[derive(Debug)]
enum Kind {
    Main(MainChannel),
    Display(Box<Display>, Option<(u32, u32)>),
    Inputs(InputsChannel),
    Cursor(CursorChannel),
    Playback(PlaybackChannel),
    Vmc(VmcChannel),
}

/// What a linked channel is fed: bytes to copy in, or its own receive
/// buffer back from a read.
enum Feed<'a> {
    Bytes(&'a [u8]),
    Lent(Lent, usize),
}

#[derive(Debug)]
enum Phase {
    Linking(Link, TxQueue),
    Open(Channel),
    Closed,
}

#[derive(Debug)]
struct Slot {
    channel_type: u8,
    channel_id: u8,
    phase: Phase,
    kind: Kind,
    disconnect_reason: Option<u32>,
    /// Recorded display messages not yet taken (kept past a channel's end).
    recorded: Vec<u8>,
}

/// All channels of one SPICE session.
pub struct Session {
    config: SessionConfig,
    rng: Box<dyn CryptoRngCore + Send>,
    slots: Vec<Slot>,
    events: VecDeque<Event>,
    glz: BTreeMap<u8, GlzWindow>,
    session_id: Option<u32>,
    budget: Budget,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("channels", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// Display settings shared by every display channel of a session.
const GLZ_DICTIONARY_ID: u8 = 0;
const PIXMAP_CACHE_ID: u8 = 1;

impl Session {
    /// A new session; the MAIN channel (handle [`Session::main_handle`]) is
    /// created at once with its link message pending. `rng` supplies the
    /// OAEP padding randomness for every channel's ticket.
    pub fn new(
        config: SessionConfig,
        rng: Box<dyn CryptoRngCore + Send>,
    ) -> Result<Self, SessionError> {
        check_password(&config.password).map_err(SessionError::Config)?;
        let budget = Budget::new(config.memory_budget);
        let mut s = Self {
            config,
            rng,
            slots: Vec::new(),
            events: VecDeque::new(),
            glz: BTreeMap::new(),
            session_id: None,
            budget,
        };
        s.add_slot(SPICE_CHANNEL_MAIN as u8, 0, 0)?;
        Ok(s)
    }

    /// The MAIN channel's handle.
    pub fn main_handle(&self) -> ChannelHandle {
        ChannelHandle(0)
    }

    /// The session's memory budget (what is charged now, its high-water).
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The session id from MAIN INIT, once known.
    pub fn session_id(&self) -> Option<u32> {
        self.session_id
    }

    fn add_slot(
        &mut self,
        channel_type: u8,
        channel_id: u8,
        connection_id: u32,
    ) -> Result<ChannelHandle, SessionError> {
        let (kind, caps) = match channel_type as u32 {
            SPICE_CHANNEL_MAIN => (
                Kind::Main(MainChannel::new(self.config.prefer_client_mouse)),
                MainChannel::client_caps(),
            ),
            SPICE_CHANNEL_DISPLAY => {
                let cfg = DisplayConfig {
                    preferred_compression: self.config.preferred_compression,
                    glz_window_pixels: self.config.glz_window_pixels,
                    pixmap_cache_pixels: self.config.pixmap_cache_pixels,
                    glz_dictionary_id: GLZ_DICTIONARY_ID,
                    pixmap_cache_id: PIXMAP_CACHE_ID,
                };
                let d = Display::with_budget(channel_id, cfg, self.budget.clone()).map_err(
                    |error| {
                        SessionError::Protocol(ProtocolError {
                            channel_type,
                            channel_id,
                            msg_type: 0,
                            error,
                        })
                    },
                )?;
                (Kind::Display(Box::new(d), None), Display::client_caps())
            }
            SPICE_CHANNEL_INPUTS => (
                Kind::Inputs(InputsChannel::new()),
                InputsChannel::client_caps(),
            ),
            SPICE_CHANNEL_CURSOR => (
                Kind::Cursor(CursorChannel::with_budget(self.budget.clone())),
                CursorChannel::client_caps(),
            ),
            SPICE_CHANNEL_PLAYBACK => (
                Kind::Playback(PlaybackChannel::new()),
                PlaybackChannel::client_caps(),
            ),
            SPICE_CHANNEL_USBREDIR if self.config.usbredir => {
                (Kind::Vmc(VmcChannel::new()), VmcChannel::client_caps())
            }
            _ => return Err(SessionError::Unsupported),
        };
        let mut tx = TxQueue::default();
        let link = Link::start(
            connection_id,
            channel_type,
            channel_id,
            caps,
            &self.config.password,
            tx.raw(),
        )
        .map_err(SessionError::Config)?;
        self.slots.push(Slot {
            channel_type,
            channel_id,
            phase: Phase::Linking(link, tx),
            kind,
            disconnect_reason: None,
            recorded: Vec::new(),
        });
        Ok(ChannelHandle(self.slots.len() as u32 - 1))
    }

    /// Whether this client implements `channel_type`.
    pub fn supports(channel_type: u8) -> bool {
        matches!(
            channel_type as u32,
            SPICE_CHANNEL_DISPLAY
                | SPICE_CHANNEL_INPUTS
                | SPICE_CHANNEL_CURSOR
                | SPICE_CHANNEL_PLAYBACK
        )
    }

    /// Whether this session links `channel_type`: what [`Session::supports`]
    /// lists (PLAYBACK only when [`SessionConfig::playback`] asks for it),
    /// plus USB redirection when [`SessionConfig::usbredir`] asks for it.
    pub fn wants(&self, channel_type: u8) -> bool {
        let t = u32::from(channel_type);
        (Self::supports(channel_type) && (t != SPICE_CHANNEL_PLAYBACK || self.config.playback))
            || (self.config.usbredir && t == SPICE_CHANNEL_USBREDIR)
    }

    /// Stream bytes received on spicevmc channel `h` since the last call.
    pub fn vmc_take(&mut self, h: ChannelHandle) -> Vec<u8> {
        match self.slots.get_mut(h.0 as usize) {
            Some(Slot {
                kind: Kind::Vmc(v), ..
            }) => v.take(),
            _ => Vec::new(),
        }
    }

    /// Queues stream bytes to send on spicevmc channel `h`.
    pub fn vmc_send(&mut self, h: ChannelHandle, data: &[u8]) -> Result<(), SessionError> {
        let slot = self
            .slots
            .get_mut(h.0 as usize)
            .ok_or(SessionError::UnknownHandle)?;
        let (Kind::Vmc(_), Phase::Open(ch)) = (&slot.kind, &mut slot.phase) else {
            return Err(SessionError::Closed);
        };
        let mut out = Outbox::new();
        VmcChannel::send(data, &mut out);
        ch.send_all(&mut out);
        Ok(())
    }

    /// Start linking another channel (after [`Event::OpenChannel`]); its link
    /// message is pending on the returned handle.
    pub fn open(
        &mut self,
        channel_type: u8,
        channel_id: u8,
    ) -> Result<ChannelHandle, SessionError> {
        if !self.wants(channel_type) {
            return Err(SessionError::Unsupported);
        }
        let id = self.session_id.ok_or(SessionError::NotReady)?;
        self.add_slot(channel_type, channel_id, id)
    }

    fn slot(&self, h: ChannelHandle) -> Result<&Slot, SessionError> {
        self.slots
            .get(h.0 as usize)
            .ok_or(SessionError::UnknownHandle)
    }

    /// Bytes waiting to be written to `h`'s socket.
    pub fn pending(&self, h: ChannelHandle) -> &[u8] {
        match self.slot(h).map(|s| &s.phase) {
            Ok(Phase::Linking(_, tx)) => tx.pending(),
            Ok(Phase::Open(ch)) => ch.tx.pending(),
            _ => &[],
        }
    }

    /// Bytes received on `h` of a message that has begun but is not
    /// complete (0 when idle, linking or closed): feed it to a
    /// [`crate::stall::StallWatch`] to end a slow-drip session.
    pub fn mid_message(&self, h: ChannelHandle) -> usize {
        match self.slot(h).map(|s| &s.phase) {
            Ok(Phase::Open(ch)) => ch.buffered(),
            _ => 0,
        }
    }

    /// Report that the first `n` pending bytes of `h` were written.
    pub fn consume(&mut self, h: ChannelHandle, n: usize) {
        if let Some(s) = self.slots.get_mut(h.0 as usize) {
            match &mut s.phase {
                Phase::Linking(_, tx) => tx.consume(n),
                Phase::Open(ch) => ch.tx.consume(n),
                Phase::Closed => {}
            }
        }
    }

    /// Handles of every channel that has not ended.
    pub fn handles(&self) -> Vec<ChannelHandle> {
        (0..self.slots.len() as u32)
            .map(ChannelHandle)
            .filter(|h| !matches!(self.slots[h.0 as usize].phase, Phase::Closed))
            .collect()
    }

    /// `(SPICE_CHANNEL_*, id)` of a handle.
    pub fn channel_of(&self, h: ChannelHandle) -> Option<(u8, u8)> {
        self.slot(h).ok().map(|s| (s.channel_type, s.channel_id))
    }

    /// Whether `h` has finished its link and is running.
    pub fn is_linked(&self, h: ChannelHandle) -> bool {
        matches!(self.slot(h).map(|s| &s.phase), Ok(Phase::Open(_)))
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn close_slot(&mut self, h: ChannelHandle, reason: CloseReason) {
        if let Some(s) = self.slots.get_mut(h.0 as usize) {
            if matches!(s.phase, Phase::Closed) {
                return;
            }
            s.phase = Phase::Closed;
            self.events.push_back(Event::ChannelClosed {
                handle: h,
                channel_type: s.channel_type,
                channel_id: s.channel_id,
                reason,
            });
        }
    }

    /// The caller's socket for `h` ended (EOF or error). Emits
    /// [`Event::ChannelClosed`] unless the channel had already ended.
    pub fn closed(&mut self, h: ChannelHandle) {
        let reason = match self.slot(h) {
            Ok(s) => s.disconnect_reason.map_or(
                CloseReason::TransportClosed,
                CloseReason::ServerDisconnected,
            ),
            Err(_) => return,
        };
        self.close_slot(h, reason);
    }

    /// Feed bytes received on `h`'s socket. An error ends the channel (an
    /// [`Event::ChannelClosed`] with the same cause is queued too).
    pub fn receive(&mut self, h: ChannelHandle, data: &[u8]) -> Result<(), SessionError> {
        let i = h.0 as usize;
        let slot = self.slots.get_mut(i).ok_or(SessionError::UnknownHandle)?;
        let (channel_type, channel_id) = (slot.channel_type, slot.channel_id);
        let mut data = data;
        if let Phase::Linking(link, tx) = &mut slot.phase {
            match link.receive(data, &mut *self.rng, tx.raw()) {
                Ok(LinkStatus::Pending) => return Ok(()),
                Ok(LinkStatus::Linked { consumed, linked }) => {
                    let tx = core::mem::take(tx);
                    let mut ch = Channel::new(channel_type, channel_id, linked.mini_header, tx);
                    if let Err(e) = ch.set_budget(self.budget.clone()) {
                        self.close_slot(h, CloseReason::Protocol(e));
                        return Err(SessionError::Protocol(e));
                    }
                    ch.set_recording(
                        self.config.record_display && channel_type as u32 == SPICE_CHANNEL_DISPLAY,
                    );
                    let mut out = Outbox::new();
                    if let Kind::Display(d, _) = &mut slot.kind {
                        d.on_linked(&linked.channel_caps, &mut out);
                    }
                    ch.send_all(&mut out);
                    slot.phase = Phase::Open(ch);
                    self.events.push_back(Event::Linked {
                        handle: h,
                        channel_type,
                        channel_id,
                    });
                    data = &data[consumed..];
                }
                Err(error) => {
                    self.close_slot(h, CloseReason::LinkFailed(error.clone()));
                    return Err(SessionError::Link {
                        channel_type,
                        channel_id,
                        error,
                    });
                }
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        self.feed_open(h, Feed::Bytes(data))
    }

    /// Lend channel `h`'s receive buffer for one read of up to `n` bytes
    /// straight from its socket, so the bytes are not copied again. `None`
    /// unless the channel is linked (during the link stage bytes go through
    /// [`Session::receive`]) and `n` more bytes fit the memory budget; then
    /// the caller reads into its own buffer and [`Session::receive`] copies
    /// what really came, failing as it does when that does not fit. Give
    /// the buffer back with [`Session::receive_lent`].
    pub fn lend(&mut self, h: ChannelHandle, n: usize) -> Option<Lent> {
        match &mut self.slots.get_mut(h.0 as usize)?.phase {
            Phase::Open(ch) => ch.lend(n).ok(),
            _ => None,
        }
    }

    /// [`Session::receive`] for `n` bytes read into the spare part of a
    /// buffer from [`Session::lend`] on the same channel.
    pub fn receive_lent(
        &mut self,
        h: ChannelHandle,
        lent: Lent,
        n: usize,
    ) -> Result<(), SessionError> {
        self.feed_open(h, Feed::Lent(lent, n))
    }

    /// Feed a linked channel and handle what it produced.
    fn feed_open(&mut self, h: ChannelHandle, feed: Feed<'_>) -> Result<(), SessionError> {
        let slot = self
            .slots
            .get_mut(h.0 as usize)
            .ok_or(SessionError::UnknownHandle)?;
        let (channel_type, channel_id) = (slot.channel_type, slot.channel_id);
        let Phase::Open(ch) = &mut slot.phase else {
            return Err(SessionError::Closed);
        };
        let mut common = Vec::new();
        let mut main_events = Vec::new();
        let glz = &mut self.glz;
        let glz_pixels = self.config.glz_window_pixels;
        let budget = &self.budget;
        let kind = &mut slot.kind;
        let handler = |t, body: &[u8], ahead: Ahead<'_>, out: &mut Outbox| match kind {
            Kind::Main(m) => m.handle(t, body, out, &mut main_events),
            Kind::Display(d, _) => {
                let win = match glz.entry(GLZ_DICTIONARY_ID) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(GlzWindow::with_budget(glz_pixels, budget)?),
                };
                d.handle_ahead(t, body, ahead, win, out)
            }
            Kind::Inputs(inp) => inp.handle(t, body, out),
            Kind::Cursor(c) => c.handle(t, body, out),
            Kind::Playback(p) => p.handle(t, body, out),
            Kind::Vmc(v) => v.handle(t, body, out),
        };
        let result = match feed {
            Feed::Bytes(data) => ch.receive(data, &mut common, handler),
            Feed::Lent(lent, n) => ch.receive_lent(lent, n, &mut common, handler),
        };
        slot.recorded.extend_from_slice(&ch.take_recorded());
        for ev in common {
            match ev {
                CommonEvent::Notify(n) => self.events.push_back(Event::Notify {
                    channel_type,
                    channel_id,
                    severity: n.severity,
                    text: n.text,
                }),
                CommonEvent::Disconnecting { reason } => slot.disconnect_reason = Some(reason),
            }
        }
        if let Kind::Display(d, last) = &mut slot.kind {
            let now = d.primary().map(|s| (s.width, s.height));
            if now != *last {
                *last = now;
                if let Some((width, height)) = now {
                    self.events.push_back(Event::SurfaceResized {
                        channel_id,
                        width,
                        height,
                    });
                }
            }
        }
        for ev in main_events {
            self.on_main_event(ev);
        }
        if let Err(e) = result {
            self.close_slot(h, CloseReason::Protocol(e));
            return Err(SessionError::Protocol(e));
        }
        Ok(())
    }

    fn on_main_event(&mut self, ev: MainEvent) {
        match ev {
            MainEvent::Init { session_id } => self.session_id = Some(session_id),
            MainEvent::Channels(list) => {
                for (channel_type, channel_id) in list {
                    let open = self.slots.iter().any(|s| {
                        (s.channel_type, s.channel_id) == (channel_type, channel_id)
                            && !matches!(s.phase, Phase::Closed)
                    });
                    if open {
                        continue; // listed again (e.g. a second CHANNELS_LIST): already running
                    }
                    let wanted = self.wants(channel_type);
                    self.events.push_back(if wanted {
                        Event::OpenChannel {
                            channel_type,
                            channel_id,
                        }
                    } else {
                        Event::ChannelSkipped {
                            channel_type,
                            channel_id,
                        }
                    });
                }
            }
            MainEvent::MouseMode { supported, current } => self
                .events
                .push_back(Event::MouseMode { supported, current }),
            MainEvent::Agent(on) => self.events.push_back(Event::Agent(on)),
            MainEvent::FromAgent(e) => self.events.push_back(Event::FromAgent(e)),
            MainEvent::Name(n) => self.events.push_back(Event::Name(n)),
            MainEvent::Uuid(u) => self.events.push_back(Event::Uuid(u)),
        }
    }

    fn main_state(&self) -> Option<&MainChannel> {
        self.slots.iter().find_map(|s| match &s.kind {
            Kind::Main(m) => Some(m),
            _ => None,
        })
    }

    /// Main-channel state (mouse modes, agent, name, ...).
    pub fn main(&self) -> Option<&MainChannel> {
        self.main_state()
    }

    /// Current `SPICE_MOUSE_MODE_*` (0 before MAIN INIT).
    pub fn mouse_mode(&self) -> u32 {
        self.main_state().map_or(0, |m| m.mouse_mode)
    }

    /// The display channel `channel_id`'s handler, if that channel exists.
    pub fn display(&self, channel_id: u8) -> Option<&Display> {
        self.slots.iter().find_map(|s| match &s.kind {
            Kind::Display(d, _)
                if s.channel_id == channel_id && !matches!(s.phase, Phase::Closed) =>
            {
                Some(&**d)
            }
            _ => None,
        })
    }

    /// Display 0's primary surface, once created.
    pub fn primary(&self) -> Option<&Surface> {
        self.display(0).and_then(|d| d.primary())
    }

    /// Union of display 0's primary-surface changes since the last call.
    pub fn take_dirty(&mut self) -> Option<Rect> {
        self.slots.iter_mut().find_map(|s| match &mut s.kind {
            Kind::Display(d, _) if s.channel_id == 0 && !matches!(s.phase, Phase::Closed) => {
                Some(d.take_dirty())
            }
            _ => None,
        })?
    }

    /// Pointer state from the cursor channel, if it is linked.
    pub fn cursor(&self) -> Option<&CursorState> {
        self.slots.iter().find_map(|s| match (&s.kind, &s.phase) {
            (Kind::Cursor(c), Phase::Open(_)) => Some(&c.state),
            _ => None,
        })
    }

    /// The playback channel's state (mode, format, volume, counters), while
    /// it runs.
    pub fn playback(&self) -> Option<&PlaybackChannel> {
        self.slots.iter().find_map(|s| match (&s.kind, &s.phase) {
            (Kind::Playback(p), Phase::Open(_)) => Some(p),
            _ => None,
        })
    }

    /// The next step of the audio stream (format, PCM, stop, volume, mute)
    /// in arrival order, from any playback channel (also after it ended, so
    /// nothing received is lost).
    pub fn take_audio(&mut self) -> Option<AudioItem> {
        self.slots.iter_mut().find_map(|s| match &mut s.kind {
            Kind::Playback(p) => p.take(),
            _ => None,
        })
    }

    /// Messages received on `h` since the last call, if recording is on for
    /// it (display channels with `record_display`): each `{u16 type, u32
    /// size}` little-endian then the body.
    /// The message that ended a channel with a protocol error is included.
    pub fn take_recorded(&mut self, h: ChannelHandle) -> Vec<u8> {
        self.slots
            .get_mut(h.0 as usize)
            .map(|s| core::mem::take(&mut s.recorded))
            .unwrap_or_default()
    }

    /// Per channel, how many messages of each type were received:
    /// `(SPICE_CHANNEL_*, channel id, message type, count)`.
    pub fn message_counts(&self) -> Vec<(u8, u8, u16, u64)> {
        let mut v = Vec::new();
        for s in &self.slots {
            if let Phase::Open(ch) = &s.phase {
                v.extend(
                    ch.counts()
                        .iter()
                        .map(|(t, n)| (s.channel_type, s.channel_id, *t, *n)),
                );
            }
        }
        v
    }

    /// Run `f` on the linked inputs channel and send what it queues.
    fn with_inputs<R>(
        &mut self,
        f: impl FnOnce(&mut InputsChannel, &mut Outbox) -> R,
    ) -> Result<R, SessionError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| matches!((&s.kind, &s.phase), (Kind::Inputs(_), Phase::Open(_))))
            .ok_or(SessionError::NotReady)?;
        let (Kind::Inputs(inp), Phase::Open(ch)) = (&mut slot.kind, &mut slot.phase) else {
            return Err(SessionError::NotReady);
        };
        let mut out = Outbox::new();
        let r = f(inp, &mut out);
        ch.send_all(&mut out);
        Ok(r)
    }

    /// Whether the inputs channel is linked (input calls succeed).
    pub fn inputs_ready(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!((&s.kind, &s.phase), (Kind::Inputs(_), Phase::Open(_))))
    }

    /// Press a key (set-1 key number, `keymap::EXTENDED` for E0 keys).
    pub fn key_down(&mut self, key: u16) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.key_down(key, o))
    }

    /// Release a key.
    pub fn key_up(&mut self, key: u16) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.key_up(key, o))
    }

    /// Type `text` on a US layout; returns how many characters were skipped
    /// (no key for them). All key events are queued at once: a guest with a
    /// PS/2 keyboard (QEMU's queue holds 16 scancodes) drops keys sent in a
    /// burst, so callers should pass a character at a time and pace them
    /// (barespice-host waits 25 ms between characters).
    pub fn type_text(&mut self, text: &str) -> Result<usize, SessionError> {
        self.with_inputs(|i, o| i.type_text(text, o))
    }

    /// Absolute pointer position (client mouse mode) on display `display_id`.
    pub fn mouse_position(&mut self, x: u32, y: u32, display_id: u8) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.mouse_position(x, y, display_id, o))
    }

    /// Relative pointer motion (server mouse mode).
    pub fn mouse_motion(&mut self, dx: i32, dy: i32) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.mouse_motion(dx, dy, o))
    }

    /// Press a mouse button (`SPICE_MOUSE_BUTTON_*`).
    pub fn mouse_press(&mut self, button: u8) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.mouse_press(button, o))
    }

    /// Release a mouse button (`SPICE_MOUSE_BUTTON_*`).
    pub fn mouse_release(&mut self, button: u8) -> Result<(), SessionError> {
        self.with_inputs(|i, o| i.mouse_release(button, o))
    }

    /// Ask the guest (through its agent) for a display of `width` x `height`:
    /// sent as soon as the agent has announced MONITORS_CONFIG support, and
    /// again whenever the size changes. Fails before the main channel links.
    pub fn set_monitor_size(&mut self, width: u32, height: u32) -> Result<(), SessionError> {
        self.with_main(|m, out, ev| m.set_monitor_size(width, height, out, ev))
    }

    /// Ask the guest agent to turn off effects (`VD_AGENT_DISPLAY_CONFIG_FLAG_*`:
    /// wallpaper, font smoothing, animation), once per agent connection, when
    /// the agent supports DISPLAY_CONFIG. Fails before the main channel links.
    pub fn set_display_flags(&mut self, flags: u32) -> Result<(), SessionError> {
        self.with_main(|m, out, ev| m.set_display_flags(flags, out, ev))
    }

    /// Run `f` on the linked main channel, send what it queues and publish its events.
    fn with_main(
        &mut self,
        f: impl FnOnce(&mut MainChannel, &mut Outbox, &mut Vec<MainEvent>),
    ) -> Result<(), SessionError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| matches!((&s.kind, &s.phase), (Kind::Main(_), Phase::Open(_))))
            .ok_or(SessionError::NotReady)?;
        let mut ev = Vec::new();
        if let (Kind::Main(m), Phase::Open(ch)) = (&mut slot.kind, &mut slot.phase) {
            let mut out = Outbox::new();
            f(m, &mut out, &mut ev);
            ch.send_all(&mut out);
        }
        for e in ev {
            self.on_main_event(e);
        }
        Ok(())
    }

    /// Ask the server for a mouse mode (`SPICE_MOUSE_MODE_*`).
    pub fn request_mouse_mode(&mut self, mode: u32) -> Result<(), SessionError> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| matches!((&s.kind, &s.phase), (Kind::Main(_), Phase::Open(_))))
            .ok_or(SessionError::NotReady)?;
        if let (Kind::Main(m), Phase::Open(ch)) = (&slot.kind, &mut slot.phase) {
            let mut out = Outbox::new();
            m.request_mouse_mode(mode, &mut out);
            ch.send_all(&mut out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Deframer;
    use crate::keymap::make_scancode;
    use crate::wire::link::{caps_from_bits, LinkHeader, LINK_REPLY_SIZE};
    use crate::wire::Writer;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::{Oaep, RsaPrivateKey};

    /// A pretend server: an RSA key and helpers that produce server bytes.
    struct Server {
        key: RsaPrivateKey,
        der: Vec<u8>,
    }

    impl Server {
        fn new() -> Self {
            let key = RsaPrivateKey::new(&mut StdRng::seed_from_u64(9), 1024).unwrap();
            let der = key
                .to_public_key()
                .to_public_key_der()
                .unwrap()
                .as_bytes()
                .to_vec();
            Self { key, der }
        }

        /// Link reply (AUTH_SELECTION, AUTH_SPICE, MINI_HEADER) + result `result`.
        fn link(&self, channel_caps: &[u32], result: u32) -> Vec<u8> {
            let common = caps_from_bits(&[
                SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION,
                SPICE_COMMON_CAP_AUTH_SPICE,
                SPICE_COMMON_CAP_MINI_HEADER,
            ]);
            let mut body = Writer::new();
            body.u32(0).bytes(&self.der);
            body.u32(1)
                .u32(channel_caps.len() as u32)
                .u32(LINK_REPLY_SIZE as u32)
                .u32(common[0]);
            for c in channel_caps {
                body.u32(*c);
            }
            let body = body.finish();
            let mut w = Writer::new();
            LinkHeader::ours(body.len() as u32).emit(&mut w);
            w.bytes(&body).u32(result);
            w.finish()
        }

        /// Check and strip the client's auth mechanism + ticket; returns the password.
        fn take_ticket(&self, sent: &[u8]) -> (Vec<u8>, usize) {
            assert_eq!(&sent[..4], &SPICE_COMMON_CAP_AUTH_SPICE.to_le_bytes());
            let plain = self
                .key
                .decrypt(Oaep::new::<sha1::Sha1>(), &sent[4..132])
                .unwrap();
            (plain, 132)
        }
    }

    fn mini(t: u16, body: &[u8]) -> Vec<u8> {
        let mut v = t.to_le_bytes().to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    /// Take what the session wants to send on `h` and split the framed part.
    fn sent_after(s: &mut Session, h: ChannelHandle, skip: usize) -> Vec<(u16, Vec<u8>)> {
        let bytes = s.pending(h).to_vec();
        s.consume(h, bytes.len());
        let mut d = Deframer::new(true);
        d.push(&bytes[skip..]).unwrap();
        let mut v = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            v.push((f.header.msg_type, f.body.to_vec()));
        }
        assert_eq!(d.buffered(), 0);
        v
    }

    fn session(password: &[u8]) -> Session {
        let config = SessionConfig {
            password: password.to_vec(),
            preferred_compression: Some(SPICE_IMAGE_COMPRESSION_LZ as u8),
            ..SessionConfig::default()
        };
        Session::new(config, Box::new(StdRng::seed_from_u64(1))).unwrap()
    }

    fn main_init(session_id: u32) -> Vec<u8> {
        let mut w = Writer::new();
        for v in [session_id, 1, 3, 1, 0, 10, 0, 0] {
            w.u32(v);
        }
        mini(SPICE_MSG_MAIN_INIT, &w.finish())
    }

    fn events(s: &mut Session) -> Vec<Event> {
        core::iter::from_fn(|| s.poll_event()).collect()
    }

    /// Link MAIN and deliver INIT + CHANNELS_LIST.
    fn bring_up(srv: &Server, s: &mut Session) {
        let main = s.main_handle();
        let first = s.pending(main).to_vec();
        s.consume(main, first.len());
        let mut input = srv.link(&[], 0);
        input.extend(mini(SPICE_MSG_SET_ACK, &[5, 0, 0, 0, 2, 0, 0, 0]));
        input.extend(main_init(0xC0FFEE));
        s.receive(main, &input).unwrap();
    }

    #[test]
    fn main_link_init_and_channel_list() {
        let srv = Server::new();
        let mut s = session(b"pw");
        let main = s.main_handle();
        // first flight: a link message for MAIN with connection id 0
        let first = s.pending(main).to_vec();
        assert_eq!(&first[..4], b"REDQ");
        assert_eq!(&first[16..20], &[0, 0, 0, 0]);
        assert_eq!(first[20], SPICE_CHANNEL_MAIN as u8);
        s.consume(main, first.len());
        let mut input = srv.link(&[], 0);
        input.extend(mini(SPICE_MSG_SET_ACK, &[5, 0, 0, 0, 2, 0, 0, 0]));
        input.extend(main_init(0xC0FFEE));
        // deliver in two pieces, the split inside the link reply
        s.receive(main, &input[..100]).unwrap();
        s.receive(main, &input[100..]).unwrap();
        let bytes = s.pending(main).to_vec();
        let (pw, n) = srv.take_ticket(&bytes);
        assert_eq!(pw, b"pw\0");
        let msgs = sent_after(&mut s, main, n);
        let types: Vec<u16> = msgs.iter().map(|m| m.0).collect();
        assert_eq!(
            types,
            [
                SPICE_MSGC_ACK_SYNC,
                SPICE_MSGC_MAIN_MOUSE_MODE_REQUEST,
                SPICE_MSGC_MAIN_ATTACH_CHANNELS
            ]
        );
        assert_eq!(msgs[0].1, [5, 0, 0, 0]);
        assert_eq!(s.session_id(), Some(0xC0FFEE));
        let ev = events(&mut s);
        assert_eq!(
            ev[0],
            Event::Linked {
                handle: main,
                channel_type: 1,
                channel_id: 0
            }
        );
        assert!(ev.contains(&Event::MouseMode {
            supported: 3,
            current: 1
        }));
        // second message of the window: ACK
        let list = [4u8, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0];
        s.receive(main, &mini(SPICE_MSG_MAIN_CHANNELS_LIST, &list))
            .unwrap();
        assert_eq!(sent_after(&mut s, main, 0), [(SPICE_MSGC_ACK, Vec::new())]);
        s.receive(
            main,
            &mini(SPICE_MSG_MAIN_CHANNELS_LIST, &[1, 0, 0, 0, 1, 0]),
        )
        .unwrap();
        assert_eq!(
            events(&mut s),
            [
                Event::OpenChannel {
                    channel_type: 2,
                    channel_id: 0
                },
                Event::OpenChannel {
                    channel_type: 3,
                    channel_id: 0
                },
                Event::OpenChannel {
                    channel_type: 4,
                    channel_id: 0
                },
                Event::ChannelSkipped {
                    channel_type: 5,
                    channel_id: 0
                },
            ]
        );
    }

    #[test]
    fn display_and_inputs_link_with_session_id() {
        let srv = Server::new();
        let mut s = session(b"");
        assert_eq!(s.open(2, 0), Err(SessionError::NotReady));
        bring_up(&srv, &mut s);
        let d = s.open(SPICE_CHANNEL_DISPLAY as u8, 0).unwrap();
        let first = s.pending(d).to_vec();
        assert_eq!(&first[16..20], &0xC0FFEEu32.to_le_bytes());
        assert_eq!(first[20], SPICE_CHANNEL_DISPLAY as u8);
        s.consume(d, first.len());
        let caps = caps_from_bits(&[SPICE_DISPLAY_CAP_PREF_COMPRESSION]);
        s.receive(d, &srv.link(&caps, 0)).unwrap();
        let bytes = s.pending(d).to_vec();
        let (pw, n) = srv.take_ticket(&bytes);
        assert_eq!(pw, b"\0");
        let msgs = sent_after(&mut s, d, n);
        assert_eq!(msgs[0].0, SPICE_MSGC_DISPLAY_INIT);
        assert_eq!(
            msgs[1],
            (
                SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION,
                alloc::vec![SPICE_IMAGE_COMPRESSION_LZ as u8]
            )
        );
        // inputs
        assert_eq!(s.key_down(0x1E), Err(SessionError::NotReady));
        let i = s.open(SPICE_CHANNEL_INPUTS as u8, 0).unwrap();
        let first = s.pending(i).len();
        s.consume(i, first);
        s.receive(i, &srv.link(&[], 0)).unwrap();
        assert!(s.inputs_ready());
        let n = s.pending(i).len();
        s.consume(i, n);
        assert_eq!(s.type_text("a"), Ok(0));
        assert_eq!(
            sent_after(&mut s, i, 0),
            [
                (
                    SPICE_MSGC_INPUTS_KEY_DOWN,
                    make_scancode(0x1E, false).to_le_bytes().to_vec()
                ),
                (
                    SPICE_MSGC_INPUTS_KEY_UP,
                    make_scancode(0x1E, true).to_le_bytes().to_vec()
                ),
            ]
        );
        assert_eq!(
            s.open(SPICE_CHANNEL_PLAYBACK as u8, 0),
            Err(SessionError::Unsupported)
        );
    }

    #[test]
    fn playback_links_when_asked_and_queues_audio() {
        use crate::playback::{AudioItem, PcmFormat};
        let srv = Server::new();
        let config = SessionConfig {
            playback: true,
            ..SessionConfig::default()
        };
        let mut s = Session::new(config, Box::new(StdRng::seed_from_u64(3))).unwrap();
        bring_up(&srv, &mut s);
        events(&mut s);
        s.receive(
            s.main_handle(),
            &mini(SPICE_MSG_MAIN_CHANNELS_LIST, &[1, 0, 0, 0, 5, 0]),
        )
        .unwrap();
        assert_eq!(
            events(&mut s),
            [Event::OpenChannel {
                channel_type: 5,
                channel_id: 0
            }]
        );
        let p = s.open(SPICE_CHANNEL_PLAYBACK as u8, 0).unwrap();
        let first = s.pending(p).to_vec();
        assert_eq!(first[20], SPICE_CHANNEL_PLAYBACK as u8);
        // link message: 16-byte header, then SpiceLinkMess (18 bytes), then
        // the common caps word and the channel caps word
        assert_eq!(
            &first[16 + 18 + 4..16 + 18 + 8],
            &PlaybackChannel::client_caps()[0].to_le_bytes()
        );
        s.consume(p, first.len());
        let mut input = srv.link(&[], 0);
        let mut start = Writer::new();
        start
            .u32(2)
            .u16(SPICE_AUDIO_FMT_S16 as u16)
            .u32(48000)
            .u32(0);
        input.extend(mini(SPICE_MSG_PLAYBACK_START, &start.finish()));
        input.extend(mini(SPICE_MSG_PLAYBACK_DATA, &[0, 0, 0, 0, 1, 0, 2, 0]));
        s.receive(p, &input).unwrap();
        assert_eq!(
            s.take_audio(),
            Some(AudioItem::Start(PcmFormat {
                channels: 2,
                rate: 48000
            }))
        );
        assert_eq!(
            s.take_audio(),
            Some(AudioItem::Data {
                time: 0,
                pcm: alloc::vec![1, 0, 2, 0]
            })
        );
        assert_eq!(s.playback().map(|p| p.packets), Some(1));
        // a half frame ends the channel with a protocol error
        let r = s.receive(p, &mini(SPICE_MSG_PLAYBACK_DATA, &[0, 0, 0, 0, 1, 0]));
        assert!(
            matches!(r, Err(SessionError::Protocol(e)) if e.msg_type == SPICE_MSG_PLAYBACK_DATA)
        );
        assert!(s.playback().is_none());
    }

    #[test]
    fn recording_keeps_the_message_that_broke_the_channel() {
        let srv = Server::new();
        let config = SessionConfig {
            record_display: true,
            ..SessionConfig::default()
        };
        let mut s = Session::new(config, Box::new(StdRng::seed_from_u64(2))).unwrap();
        bring_up(&srv, &mut s);
        let d = s.open(SPICE_CHANNEL_DISPLAY as u8, 0).unwrap();
        s.receive(d, &srv.link(&[], 0)).unwrap();
        let mark = mini(SPICE_MSG_DISPLAY_MARK, &[]);
        let bad = mini(SPICE_MSG_DISPLAY_DRAW_COPY, &[1, 2, 3]);
        let r = s.receive(d, &[mark.clone(), bad.clone()].concat());
        assert!(
            matches!(r, Err(SessionError::Protocol(e)) if e.msg_type == SPICE_MSG_DISPLAY_DRAW_COPY)
        );
        assert_eq!(s.take_recorded(d), [mark, bad].concat());
        assert!(s.take_recorded(d).is_empty());
    }

    #[test]
    fn link_refusal_is_typed_and_closes_channel() {
        let srv = Server::new();
        let mut s = session(b"wrong");
        let main = s.main_handle();
        let r = s.receive(main, &srv.link(&[], SPICE_LINK_ERR_PERMISSION_DENIED));
        assert_eq!(
            r,
            Err(SessionError::Link {
                channel_type: 1,
                channel_id: 0,
                error: LinkError::PermissionDenied
            })
        );
        assert_eq!(
            events(&mut s),
            [Event::ChannelClosed {
                handle: main,
                channel_type: 1,
                channel_id: 0,
                reason: CloseReason::LinkFailed(LinkError::PermissionDenied)
            }]
        );
        assert_eq!(s.receive(main, &[0]), Err(SessionError::Closed));
        assert!(s.pending(main).is_empty());
        s.closed(main);
        assert!(events(&mut s).is_empty(), "closed twice");
    }

    #[test]
    fn malformed_message_reports_channel_type_and_offset() {
        let srv = Server::new();
        let mut s = session(b"");
        bring_up(&srv, &mut s);
        events(&mut s);
        let main = s.main_handle();
        // NAME claiming 10 bytes but carrying 2: truncated at offset 4
        let e = s
            .receive(main, &mini(SPICE_MSG_MAIN_NAME, &[10, 0, 0, 0, b'x', b'y']))
            .unwrap_err();
        let SessionError::Protocol(pe) = e.clone() else {
            panic!("{e:?}")
        };
        assert_eq!(
            (pe.channel_type, pe.channel_id, pe.msg_type, pe.error.offset),
            (1, 0, SPICE_MSG_MAIN_NAME, 4)
        );
        let text = alloc::format!("{e}");
        assert_eq!(
            text,
            "protocol error on main channel 0, message 113, offset 4: truncated"
        );
        assert!(matches!(
            events(&mut s).as_slice(),
            [Event::ChannelClosed {
                reason: CloseReason::Protocol(_),
                ..
            }]
        ));
    }

    #[test]
    fn mid_message_counts_the_bytes_of_an_incomplete_message() {
        let srv = Server::new();
        let mut s = session(b"");
        let main = s.main_handle();
        assert_eq!(s.mid_message(main), 0, "linking");
        bring_up(&srv, &mut s);
        events(&mut s);
        assert_eq!(s.mid_message(main), 0, "idle after whole messages");
        let name = mini(SPICE_MSG_MAIN_NAME, &[3, 0, 0, 0, b'p', b'c', 0]);
        s.receive(main, &name[..4]).unwrap();
        assert_eq!(s.mid_message(main), 4, "part of the header");
        s.receive(main, &name[4..9]).unwrap();
        assert_eq!(s.mid_message(main), 9, "header and part of the body");
        let mut rest = name[9..].to_vec();
        rest.extend_from_slice(&name[..2]);
        s.receive(main, &rest).unwrap();
        assert_eq!(s.mid_message(main), 2, "the next message has begun");
        s.receive(main, &name[2..]).unwrap();
        assert_eq!(s.mid_message(main), 0, "complete");
        assert_eq!(s.mid_message(ChannelHandle(99)), 0, "unknown handle");
    }

    #[test]
    fn disconnecting_then_close_reports_server_reason() {
        let srv = Server::new();
        let mut s = session(b"");
        bring_up(&srv, &mut s);
        events(&mut s);
        let main = s.main_handle();
        s.receive(
            main,
            &mini(
                SPICE_MSG_DISCONNECTING,
                &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            ),
        )
        .unwrap();
        s.closed(main);
        assert!(matches!(
            events(&mut s).as_slice(),
            [Event::ChannelClosed {
                reason: CloseReason::ServerDisconnected(1),
                ..
            }]
        ));
    }

    #[test]
    fn agent_gets_the_monitor_size_through_the_main_channel() {
        use crate::agent::AgentEvent;
        use crate::wire::agent::{
            announce_capabilities, message, parse_monitors_config, AgentHeader, AGENT_HEADER_SIZE,
        };
        let srv = Server::new();
        let mut s = session(b"");
        bring_up(&srv, &mut s);
        let main = s.main_handle();
        let n = s.pending(main).len();
        s.consume(main, n); // ticket and the first replies
        events(&mut s);
        assert_eq!(
            s.set_monitor_size(1280, 800),
            Ok(()),
            "remembered until the agent is ready"
        );
        // The agent connects with 10 tokens and announces MONITORS_CONFIG.
        s.receive(
            main,
            &mini(SPICE_MSG_MAIN_AGENT_CONNECTED_TOKENS, &10u32.to_le_bytes()),
        )
        .unwrap();
        let caps = caps_from_bits(&[VD_AGENT_CAP_MONITORS_CONFIG, VD_AGENT_CAP_REPLY]);
        let data = message(
            VD_AGENT_ANNOUNCE_CAPABILITIES,
            &announce_capabilities(false, &caps),
        );
        s.receive(main, &mini(SPICE_MSG_MAIN_AGENT_DATA, &data))
            .unwrap();
        let sent: Vec<_> = sent_after(&mut s, main, 0)
            .into_iter()
            .filter(|m| m.0 != SPICE_MSGC_ACK)
            .collect();
        assert_eq!(
            sent[0],
            (
                SPICE_MSGC_MAIN_AGENT_START,
                crate::agent::GRANTED_TOKENS.to_le_bytes().to_vec()
            )
        );
        let stream: Vec<u8> = sent
            .iter()
            .filter(|m| m.0 == SPICE_MSGC_MAIN_AGENT_DATA)
            .flat_map(|m| m.1.iter().copied())
            .collect();
        // our capabilities, then the monitors config
        let first = AgentHeader::parse(&stream).unwrap();
        let rest = &stream[AGENT_HEADER_SIZE + first.size as usize..];
        let h = AgentHeader::parse(rest).unwrap();
        assert_eq!(h.msg_type, VD_AGENT_MONITORS_CONFIG);
        assert_eq!(
            parse_monitors_config(&rest[AGENT_HEADER_SIZE..]).unwrap(),
            (1280, 800)
        );
        let ev = events(&mut s);
        assert!(ev.contains(&Event::Agent(true)));
        assert!(
            ev.contains(&Event::FromAgent(AgentEvent::MonitorsConfigSent {
                width: 1280,
                height: 800
            }))
        );
    }

    #[test]
    fn random_traffic_after_link_never_panics() {
        let srv = Server::new();
        let mut failures = 0;
        for (k, input) in crate::wire::testutil::random_inputs(21, 300, 400)
            .into_iter()
            .enumerate()
        {
            let mut s = session(b"");
            bring_up(&srv, &mut s);
            // valid mini header with a random type in the main range, random body
            let t = SPICE_MSG_MAIN_MIGRATE_BEGIN + (k % 20) as u16;
            if s.receive(s.main_handle(), &mini(t, &input)).is_err() {
                failures += 1;
            }
            // and raw random bytes
            let _ = s.receive(s.main_handle(), &input);
        }
        assert!(failures > 0);
    }
}
