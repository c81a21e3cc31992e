//! The host's I/O loop around `spice_core::session::Session`.
//!
//! Owns the connections (one per channel, plain or TLS via
//! barespice-transport, see `endpoint`), a reader thread per connection
//! that feeds what it reads (ciphertext on TLS channels; decrypted here)
//! straight into the session under one lock, the snapshot policy (first
//! frame, then `--idle-ms` of display quiet), `--type`, `--record` and the
//! `--log` summary. All protocol work is done by spice-core; this file only
//! moves bytes and decides when to stop.
//!
//! Readers do the protocol work themselves rather than queueing bytes to the
//! main thread: a queue woke two threads per `read` (the reader, then the
//! main loop), the lock wakes one. The main thread only keeps time (typing,
//! idle snapshot, deadline) and learns of the end through [`Notice`]s.

use crate::args::Args;
use crate::endpoint::Endpoint;
use crate::record::Recorder;
use barespice_transport::{Failure, TlsClient};
use rand::rngs::StdRng;
use rand::SeedableRng;
use spice_core::display::COUNTED_IMAGE_TYPES;
use spice_core::enums::*;
use spice_core::error::channel_name;
use spice_core::link::LinkError;
use spice_core::session::{
    ChannelHandle, CloseReason, Event, Session, SessionConfig, SessionError,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Pause between typed characters (`--type`).
const KEY_INTERVAL: Duration = Duration::from_millis(25);

/// Longest sleep of the main loop without input (a safety net: it computes
/// when it next has something to do, see `Client::next_wake`). Every wake
/// is a context switch and a turn of the client lock taken from a busy
/// reader, so it is kept long.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Size of each reader's buffer (one `read` at most; allocated once per
/// connection and reused, so steady-state reads touch no fresh pages).
const READ_BUFFER: usize = 256 * 1024;

/// What reader threads tell the main thread.
enum Notice {
    /// Something the main loop times changed (the first frame arrived):
    /// compute the next wake-up again.
    Wake,
    /// The run is over with this result.
    Stop(Exit),
}

/// The client and what its threads share: the client behind one lock, and
/// the way to the main thread.
struct Shared {
    client: Mutex<Client>,
    notices: Sender<Notice>,
}

impl Shared {
    /// The client, locked (a thread that panicked while holding it left
    /// nothing half-done that matters more than ending the run cleanly).
    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One channel's socket (write side; the reader thread owns a clone) and
/// its TLS state on secured channels.
struct Conn {
    stream: TcpStream,
    tls: Option<TlsClient>,
    serial: u64,
}

/// Why the client stopped without a snapshot: a connection failure the
/// user can act on (its own exit code), or anything else (exit 1).
#[derive(Debug)]
pub enum Exit {
    /// A classified failure (README "Exit codes").
    Failure(Failure),
    /// Everything else (timeouts, local file errors, ...).
    Other(String),
}

impl From<String> for Exit {
    fn from(s: String) -> Self {
        Self::Other(s)
    }
}

impl From<&str> for Exit {
    fn from(s: &str) -> Self {
        Self::Other(s.to_string())
    }
}

impl From<Failure> for Exit {
    fn from(f: Failure) -> Self {
        Self::Failure(f)
    }
}

/// The failure a link error stands for.
fn link_failure(error: &LinkError, what: String) -> Failure {
    match error {
        LinkError::PermissionDenied => Failure::Authentication,
        LinkError::NeedSecured => Failure::Protocol {
            detail: format!(
                "{what}: server requires TLS (NEED_SECURED) but the connection has no tls-port"
            ),
        },
        other => Failure::Protocol {
            detail: format!("{what}: {other}"),
        },
    }
}

/// Start the reader of connection `serial` (channel `h`): it reads and
/// hands each chunk to the session itself, under the lock. It ends when
/// the connection does, when the connection was replaced (NEED_SECURED →
/// TLS: its serial is no longer the channel's), or when the run is over.
///
/// The lock is taken once per read: the buffer for the next read is lent
/// before the lock that fed the last one is released.
fn spawn_reader(shared: Arc<Shared>, serial: u64, h: ChannelHandle, mut stream: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut lent = {
            let mut c = shared.lock();
            if !c.reads(h, serial) {
                return;
            }
            c.lend(h)
        };
        loop {
            let (n, got) = match lent {
                Some(mut l) => (stream.read(l.spare()).unwrap_or(0), Some(l)),
                None => {
                    buf.resize(READ_BUFFER, 0);
                    (stream.read(&mut buf).unwrap_or(0), None)
                }
            };
            let mut c = shared.lock();
            if !c.reads(h, serial) {
                return;
            }
            let before = c.frames;
            let r = match (got, buf.get(..n)) {
                (Some(l), _) => c.on_lent(&shared, h, l, n),
                (None, Some(data)) if n > 0 => c.on_data(&shared, h, data),
                (None, _) => {
                    c.session.closed(h);
                    Ok(())
                }
            };
            let r = r.and_then(|()| c.after_input(&shared));
            let notice = match r {
                Err(e) => {
                    c.done = true;
                    Some(Notice::Stop(e))
                }
                Ok(()) if before == 0 && c.frames > 0 => Some(Notice::Wake),
                Ok(()) => None,
            };
            let go_on = n > 0 && c.reads(h, serial);
            lent = if go_on { c.lend(h) } else { None };
            drop(c);
            if let Some(notice) = notice {
                let _ = shared.notices.send(notice);
            }
            if !go_on {
                return;
            }
        }
    });
}

/// Counters for the `--log` summary.
#[derive(Default)]
struct Stats {
    bytes: BTreeMap<(u8, u8), u64>,
}

/// The running client.
struct Client {
    args: Args,
    session: Session,
    conns: HashMap<ChannelHandle, Conn>,
    recorders: HashMap<ChannelHandle, Recorder>,
    endpoint: Endpoint,
    serial: u64,
    stats: Stats,
    frames: u64,
    last_change: Instant,
    typed: bool,
    to_type: VecDeque<char>,
    next_key: Instant,
    start: Instant,
    /// The run is over: readers stop touching the session.
    done: bool,
}

fn read_password(args: &Args) -> Result<Vec<u8>, String> {
    let Some(path) = &args.password_file else {
        return Ok(args.password.clone().unwrap_or_default().into_bytes());
    };
    let mut pw = std::fs::read(path)
        .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?;
    if let Some(i) = pw.iter().position(|&b| b == b'\n' || b == b'\r') {
        pw.truncate(i);
    }
    Ok(pw)
}

/// Run the client to completion: `Ok` once the snapshot is written.
pub fn run(mut args: Args) -> Result<(), Exit> {
    let endpoint = match (&args.vv, &args.server) {
        (Some(vv), _) => {
            let (e, password) = crate::endpoint::from_vv(vv)?;
            if args.password_file.is_none() {
                args.password = Some(password);
            }
            e
        }
        (None, Some(s)) => crate::endpoint::from_server(s)?,
        (None, None) => return Err("no server given".into()),
    };
    let config = SessionConfig {
        password: read_password(&args)?,
        preferred_compression: args.compression,
        record_display: args.record.is_some(),
        memory_budget: args.memory_budget,
        ..SessionConfig::default()
    };
    let session =
        Session::new(config, Box::new(StdRng::from_entropy())).map_err(|e| e.to_string())?;
    let mut c = Client {
        args,
        session,
        conns: HashMap::new(),
        recorders: HashMap::new(),
        endpoint,
        serial: 0,
        stats: Stats::default(),
        frames: 0,
        last_change: Instant::now(),
        typed: false,
        to_type: VecDeque::new(),
        next_key: Instant::now(),
        start: Instant::now(),
        done: false,
    };
    if let Some(t) = &c.args.type_text {
        c.to_type = t.chars().chain(['\n']).collect();
    }
    c.typed = c.to_type.is_empty();
    let (notices, rx) = channel();
    let shared = Arc::new(Shared {
        client: Mutex::new(c),
        notices,
    });
    let r = {
        let mut c = shared.lock();
        let main = c.session.main_handle();
        let tls = c.endpoint.wants_tls("main");
        c.attach(&shared, main, tls)
    };
    let r = r.and_then(|()| run_loop(&shared, &rx));
    let mut c = shared.lock();
    c.done = true;
    if c.args.log {
        c.print_summary();
    }
    for conn in c.conns.values() {
        let _ = conn.stream.shutdown(Shutdown::Both);
    }
    r
}

/// The main thread's loop: keep time (typing, idle snapshot, deadline)
/// while the readers work, and end on the first reader's [`Notice::Stop`].
fn run_loop(shared: &Arc<Shared>, rx: &Receiver<Notice>) -> Result<(), Exit> {
    loop {
        let wait = {
            let mut c = shared.lock();
            if let Some(end) = c.tick() {
                c.done = true;
                return end;
            }
            let now = Instant::now();
            c.next_wake(now).saturating_duration_since(now)
        };
        match rx.recv_timeout(wait) {
            Ok(Notice::Stop(e)) => return Err(e),
            Ok(Notice::Wake) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Exit::Other("all connections ended".into()))
            }
        }
    }
}

impl Client {
    /// Connect a socket for `h` (TLS when `tls`) and start its reader.
    fn attach(&mut self, shared: &Arc<Shared>, h: ChannelHandle, tls: bool) -> Result<(), Exit> {
        let link = self.endpoint.connect(tls)?;
        if let Some(d) = link.handshake {
            let (t, id) = self.session.channel_of(h).unwrap_or((0, 0));
            let v = link
                .tls
                .as_ref()
                .and_then(TlsClient::version)
                .unwrap_or("TLS");
            if self.args.log {
                crate::log!(
                    "barespice-host: {} channel {id}: {v} handshake {} ms",
                    channel_name(t),
                    d.as_millis()
                );
            }
        }
        let reader = link
            .stream
            .try_clone()
            .map_err(|e| format!("socket clone failed: {e}"))?;
        self.serial += 1;
        spawn_reader(shared.clone(), self.serial, h, reader);
        self.conns.insert(
            h,
            Conn {
                stream: link.stream,
                tls: link.tls,
                serial: self.serial,
            },
        );
        Ok(self.flush()?)
    }

    /// Start a new session whose main channel uses TLS (the server answered
    /// NEED_SECURED on the plain main channel; no ticket was spent).
    fn restart_main_on_tls(&mut self, shared: &Arc<Shared>) -> Result<(), Exit> {
        for conn in self.conns.values() {
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
        self.conns.clear();
        let config = SessionConfig {
            password: read_password(&self.args)?,
            preferred_compression: self.args.compression,
            record_display: self.args.record.is_some(),
            ..SessionConfig::default()
        };
        self.session =
            Session::new(config, Box::new(StdRng::from_entropy())).map_err(|e| e.to_string())?;
        let main = self.session.main_handle();
        if self.args.log {
            crate::log!(
                "barespice-host: main channel: server requires TLS, reconnecting on tls-port"
            );
        }
        self.attach(shared, main, true)
    }

    /// Write every channel's pending bytes.
    fn flush(&mut self) -> Result<(), String> {
        for (h, conn) in self.conns.iter_mut() {
            let pending = self.session.pending(*h);
            let n = pending.len();
            let (t, id) = self.session.channel_of(*h).unwrap_or((0, 0));
            let written = match conn.tls.as_mut() {
                Some(tls) => {
                    if n > 0 {
                        tls.send(pending)
                            .map_err(|e| format!("{} channel {id}: {e}", channel_name(t)))?;
                        self.session.consume(*h, n);
                    }
                    let out = tls.outgoing().len();
                    let r = conn.stream.write_all(tls.outgoing());
                    tls.consume(out);
                    r
                }
                None if n > 0 => {
                    let r = conn.stream.write_all(pending);
                    self.session.consume(*h, n);
                    r
                }
                None => Ok(()),
            };
            if let Err(e) = written {
                return Err(format!(
                    "write to {} channel {id} failed: {e}",
                    channel_name(t)
                ));
            }
        }
        Ok(())
    }

    fn fatal_channel(&self, channel_type: u8) -> bool {
        match channel_type as u32 {
            SPICE_CHANNEL_MAIN | SPICE_CHANNEL_DISPLAY => true,
            SPICE_CHANNEL_INPUTS => self.args.type_text.is_some() && !self.typed,
            _ => false,
        }
    }

    fn on_receive_error(
        &mut self,
        shared: &Arc<Shared>,
        h: ChannelHandle,
        e: SessionError,
    ) -> Result<(), Exit> {
        let (t, id) = self.session.channel_of(h).unwrap_or((0, 0));
        let what = format!("{} channel {id}", channel_name(t));
        if let SessionError::Link {
            error: LinkError::NeedSecured,
            ..
        } = &e
        {
            let plain = self.conns.get(&h).is_some_and(|c| c.tls.is_none());
            if plain && self.endpoint.tls_port.is_some() {
                if t as u32 == SPICE_CHANNEL_MAIN {
                    return self.restart_main_on_tls(shared);
                }
                // Other channels: relinked on TLS at their ChannelClosed event.
                return Ok(());
            }
        }
        let msg: Exit = match &e {
            SessionError::Link { error, .. } => link_failure(error, what.clone()).into(),
            SessionError::Protocol(_) => Failure::Protocol {
                detail: e.to_string(),
            }
            .into(),
            _ => e.to_string().into(),
        };
        if self.fatal_channel(t) {
            Err(msg)
        } else {
            crate::log!(
                "barespice-host: warning: {what}: {}",
                match msg {
                    Exit::Failure(f) => f.to_string(),
                    Exit::Other(s) => s,
                }
            );
            Ok(())
        }
    }

    fn handle_events(&mut self, shared: &Arc<Shared>) -> Result<(), Exit> {
        while let Some(ev) = self.session.poll_event() {
            match ev {
                Event::OpenChannel {
                    channel_type,
                    channel_id,
                } => {
                    let h = self
                        .session
                        .open(channel_type, channel_id)
                        .map_err(|e| e.to_string())?;
                    if channel_type as u32 == SPICE_CHANNEL_DISPLAY {
                        if let Some(dir) = &self.args.record {
                            let r = Recorder::create(dir, channel_id).map_err(|e| {
                                format!("cannot create recording in {}: {e}", dir.display())
                            })?;
                            self.recorders.insert(h, r);
                        }
                    }
                    let tls = self.endpoint.wants_tls(channel_name(channel_type));
                    self.attach(shared, h, tls)?;
                }
                Event::ChannelSkipped {
                    channel_type,
                    channel_id,
                } => {
                    if self.args.log {
                        crate::log!(
                            "barespice-host: skipping {} channel {channel_id}",
                            channel_name(channel_type)
                        );
                    }
                }
                Event::Linked {
                    channel_type,
                    channel_id,
                    ..
                } => {
                    if self.args.log {
                        crate::log!(
                            "barespice-host: {} channel {channel_id} linked",
                            channel_name(channel_type)
                        );
                    }
                }
                Event::ChannelClosed {
                    handle,
                    channel_type,
                    channel_id,
                    reason,
                } => {
                    let what = format!("{} channel {channel_id}", channel_name(channel_type));
                    let was_plain = self.conns.get(&handle).is_some_and(|c| c.tls.is_none());
                    if reason == CloseReason::LinkFailed(LinkError::NeedSecured)
                        && was_plain
                        && self.endpoint.tls_port.is_some()
                        && channel_type as u32 != SPICE_CHANNEL_MAIN
                    {
                        // The server wants this channel on TLS: link it again there.
                        if let Some(c) = self.conns.remove(&handle) {
                            let _ = c.stream.shutdown(Shutdown::Both);
                        }
                        if self.args.log {
                            crate::log!("barespice-host: {what}: server requires TLS, reconnecting on tls-port");
                        }
                        let h = self
                            .session
                            .open(channel_type, channel_id)
                            .map_err(|e| e.to_string())?;
                        self.attach(shared, h, true)?;
                        continue;
                    }
                    let msg: Exit = match &reason {
                        CloseReason::LinkFailed(e) => link_failure(e, what).into(),
                        CloseReason::Protocol(e) => Failure::Protocol {
                            detail: SessionError::Protocol(*e).to_string(),
                        }
                        .into(),
                        other => format!("{what}: {other}").into(),
                    };
                    if self.fatal_channel(channel_type) {
                        return Err(msg);
                    }
                    crate::log!(
                        "barespice-host: warning: {}",
                        match msg {
                            Exit::Failure(f) => f.to_string(),
                            Exit::Other(s) => s,
                        }
                    );
                }
                Event::SurfaceResized {
                    channel_id,
                    width,
                    height,
                } => {
                    if self.args.log {
                        crate::log!(
                            "barespice-host: display {channel_id} surface {width}x{height}"
                        );
                    }
                    if channel_id == 0 {
                        self.last_change = Instant::now();
                    }
                }
                Event::Notify {
                    channel_type,
                    channel_id,
                    text,
                    ..
                } => {
                    if self.args.log {
                        crate::log!(
                            "barespice-host: server notice on {} channel {channel_id}: {text}",
                            channel_name(channel_type)
                        );
                    }
                }
                Event::MouseMode { supported, current } => {
                    if self.args.log {
                        crate::log!("barespice-host: mouse mode {current} (supported {supported})");
                    }
                }
                Event::Agent(_) | Event::FromAgent(_) | Event::Name(_) | Event::Uuid(_) => {}
            }
        }
        Ok(())
    }

    /// Whether the reader of connection `serial` for channel `h` should
    /// go on: the run is not over and the connection was not replaced.
    fn reads(&self, h: ChannelHandle, serial: u64) -> bool {
        !self.done && self.conns.get(&h).map(|c| c.serial) == Some(serial)
    }

    /// The receive buffer of channel `h` for the reader's next read when
    /// it is a linked plain channel: the read goes straight where the
    /// message is reassembled. `None` (link stage, TLS ciphertext, no room
    /// in the budget): the reader reads into its own buffer.
    fn lend(&mut self, h: ChannelHandle) -> Option<spice_core::channel::Lent> {
        let plain = self.conns.get(&h).is_some_and(|c| c.tls.is_none());
        if plain {
            self.session.lend(h, READ_BUFFER)
        } else {
            None
        }
    }

    /// `n` bytes read into a lent receive buffer of channel `h` (0: the
    /// connection ended).
    fn on_lent(
        &mut self,
        shared: &Arc<Shared>,
        h: ChannelHandle,
        lent: spice_core::channel::Lent,
        n: usize,
    ) -> Result<(), Exit> {
        if let Some((t, id)) = self.session.channel_of(h) {
            *self.stats.bytes.entry((t, id)).or_insert(0) += n as u64;
        }
        let r = self.session.receive_lent(h, lent, n);
        if n == 0 {
            self.session.closed(h);
        }
        self.after_receive(shared, h, r)
    }

    /// What follows feeding channel `h`: the recorder gets the messages
    /// just framed, and a receive error is handled.
    fn after_receive(
        &mut self,
        shared: &Arc<Shared>,
        h: ChannelHandle,
        r: Result<(), SessionError>,
    ) -> Result<(), Exit> {
        if let Some(rec) = self.recorders.get_mut(&h) {
            let framed = self.session.take_recorded(h);
            rec.append(&framed)
                .map_err(|e| format!("recording failed: {e}"))?;
        }
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.on_receive_error(shared, h, e),
        }
    }

    fn on_data(&mut self, shared: &Arc<Shared>, h: ChannelHandle, data: &[u8]) -> Result<(), Exit> {
        if let Some((t, id)) = self.session.channel_of(h) {
            *self.stats.bytes.entry((t, id)).or_insert(0) += data.len() as u64;
        }
        let decrypted;
        let data = match self.conns.get_mut(&h).and_then(|c| c.tls.as_mut()) {
            Some(tls) => {
                tls.receive(data)?;
                decrypted = tls.take_plaintext();
                &decrypted[..]
            }
            None => data,
        };
        if data.is_empty() {
            return Ok(());
        }
        let r = self.session.receive(h, data);
        self.after_receive(shared, h, r)
    }

    /// After a reader fed the session: open what it asked for, send its
    /// replies, note a display change.
    fn after_input(&mut self, shared: &Arc<Shared>) -> Result<(), Exit> {
        self.handle_events(shared)?;
        self.flush()?;
        if let Some(r) = self.session.take_dirty() {
            if self.args.log {
                // u64, not as_millis()'s u128: its formatting is the slow part of this line.
                let ms = self.start.elapsed().as_millis() as u64;
                crate::log!("barespice-host: {ms:>6} ms dirty {r:?}");
            }
            self.frames += 1;
            self.last_change = Instant::now();
        }
        Ok(())
    }

    /// The main loop's timed duties: the deadline, typing, the idle
    /// snapshot. `Some` ends the run with that result.
    fn tick(&mut self) -> Option<Result<(), Exit>> {
        if Instant::now() >= self.start + self.args.timeout {
            return Some(Err(Exit::Other(if self.frames == 0 {
                format!(
                    "timeout after {} s: no display frame received",
                    self.args.timeout.as_secs()
                )
            } else {
                format!(
                    "timeout after {} s: display never became idle",
                    self.args.timeout.as_secs()
                )
            })));
        }
        if self.frames > 0
            && !self.typed
            && self.session.inputs_ready()
            && Instant::now() >= self.next_key
        {
            if let Err(e) = self.type_next() {
                return Some(Err(e));
            }
        }
        if self.frames > 0 && self.typed && self.last_change.elapsed() >= self.args.idle {
            return Some(self.snapshot());
        }
        None
    }

    /// Type the next character of `--type` (one per [`KEY_INTERVAL`]: the
    /// guest's PS/2 queue is small and silently drops scancodes sent in a
    /// burst).
    fn type_next(&mut self) -> Result<(), Exit> {
        match self.to_type.pop_front() {
            Some(c) => {
                let skipped = self
                    .session
                    .type_text(c.encode_utf8(&mut [0; 4]))
                    .map_err(|e| e.to_string())?;
                if skipped > 0 {
                    crate::log!("barespice-host: warning: no US key for {c:?}; skipped");
                }
                self.flush()?;
                self.next_key = Instant::now() + KEY_INTERVAL;
                self.last_change = Instant::now();
            }
            None => self.typed = true,
        }
        Ok(())
    }

    /// When the main loop has something to do: the next key to type, the
    /// idle snapshot, the deadline (never more than [`MAX_WAIT`] away).
    /// Until then it sleeps, so an idle or busy-reading client is not woken
    /// for nothing.
    fn next_wake(&self, now: Instant) -> Instant {
        let mut at = (self.start + self.args.timeout).min(now + MAX_WAIT);
        if self.frames > 0 {
            at = at.min(if self.typed {
                self.last_change + self.args.idle
            } else if self.next_key > now {
                self.next_key
            } else {
                // Waiting for the inputs channel: look again a key interval on.
                now + KEY_INTERVAL
            });
        }
        at
    }

    fn snapshot(&self) -> Result<(), Exit> {
        let s = self
            .session
            .primary()
            .ok_or("display has no primary surface")?;
        let path = &self.args.snapshot;
        crate::snapshot::write_png(path, s).map_err(Exit::Other)?;
        if self.args.log {
            crate::log!(
                "barespice-host: wrote {}x{} snapshot to {} after {} frames",
                s.width,
                s.height,
                path.display(),
                self.frames
            );
        }
        Ok(())
    }

    fn print_summary(&self) {
        let budget = self.session.budget();
        let glz_pixels = SessionConfig::default().glz_window_pixels;
        crate::log!(
            "barespice-host: memory: budget high-water {} bytes (GLZ window {} pixels = {} bytes), \
             peak RSS {} kB",
            budget.high_water(),
            glz_pixels,
            spice_core::budget::pixel_bytes(glz_pixels, 1),
            crate::memory::peak_rss_kb().map_or("unknown".to_string(), |k| k.to_string())
        );
        let mut per_channel: BTreeMap<(u8, u8), Vec<(u16, u64)>> = BTreeMap::new();
        for (t, id, m, n) in self.session.message_counts() {
            per_channel.entry((t, id)).or_default().push((m, n));
        }
        for ((t, id), bytes) in &self.stats.bytes {
            let msgs = per_channel.get(&(*t, *id)).map(|v| {
                v.iter()
                    .map(|(m, n)| format!("{m}x{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            crate::log!(
                "barespice-host: {} channel {id}: {bytes} bytes; messages {}",
                channel_name(*t),
                msgs.unwrap_or_default()
            );
        }
        if let Some(c) = self.session.cursor() {
            crate::log!(
                "barespice-host: cursor at ({}, {}) visible {} shape {:?}",
                c.x,
                c.y,
                c.visible,
                c.shape.as_ref().map(|s| (s.width, s.height))
            );
        }
        if let Some(d) = self.session.display(0) {
            if let Some(s) = d.primary() {
                crate::log!(
                    "barespice-host: display 0: primary {}x{} format {}",
                    s.width,
                    s.height,
                    s.format
                );
            }
            crate::log!("barespice-host: display 0: {:?}", d.stats());
            let st = d.stats();
            let images: Vec<String> = COUNTED_IMAGE_TYPES
                .iter()
                .zip(st.images)
                .filter(|(_, n)| *n > 0)
                .map(|((_, name), n)| format!("{name}={n}"))
                .collect();
            crate::log!(
                "barespice-host: display 0: images {}; stream frames {} dropped {}",
                if images.is_empty() {
                    "none".to_string()
                } else {
                    images.join(" ")
                },
                st.frames,
                st.dropped_frames
            );
        }
    }
}
