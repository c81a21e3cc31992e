//! The host's I/O loop around `spice_core::session::Session`.
//!
//! Owns the TCP connections (one per channel), a reader thread per
//! connection feeding one queue, the snapshot policy (first frame, then
//! `--idle-ms` of display quiet), `--type`, `--record` and the `--log`
//! summary. All protocol work is done by spice-core; this file only moves
//! bytes and decides when to stop.

use crate::args::Args;
use crate::record::Recorder;
use rand::rngs::StdRng;
use rand::SeedableRng;
use spice_core::display::COUNTED_IMAGE_TYPES;
use spice_core::enums::*;
use spice_core::error::channel_name;
use spice_core::session::{ChannelHandle, CloseReason, Event, Session, SessionConfig, SessionError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Pause between typed characters (`--type`).
const KEY_INTERVAL: Duration = Duration::from_millis(25);

/// What a reader thread reports.
enum Input {
    Data(ChannelHandle, Vec<u8>),
    Closed(ChannelHandle),
}

/// One channel's socket (write side; the reader thread owns a clone).
struct Conn {
    stream: TcpStream,
}

/// Connect to `server` (with a 5 s timeout per address).
fn connect(server: &str) -> Result<TcpStream, String> {
    let addrs: Vec<_> = server
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(5)) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == ErrorKind::ConnectionRefused => format!("connection refused ({server})"),
        Some(e) if e.kind() == ErrorKind::TimedOut => format!("connection timed out ({server})"),
        Some(e) => format!("cannot connect to {server}: {e}"),
        None => format!("cannot resolve {server}"),
    })
}

fn spawn_reader(h: ChannelHandle, mut stream: TcpStream, tx: Sender<Input>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Input::Closed(h));
                    return;
                }
                Ok(n) => {
                    if tx.send(Input::Data(h, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
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
    tx: Sender<Input>,
    recorders: HashMap<ChannelHandle, Recorder>,
    stats: Stats,
    frames: u64,
    last_change: Instant,
    typed: bool,
    to_type: VecDeque<char>,
    next_key: Instant,
}

fn read_password(args: &Args) -> Result<Vec<u8>, String> {
    let Some(path) = &args.password_file else { return Ok(Vec::new()) };
    let mut pw = std::fs::read(path).map_err(|e| format!("cannot read password file {}: {e}", path.display()))?;
    if let Some(i) = pw.iter().position(|&b| b == b'\n' || b == b'\r') {
        pw.truncate(i);
    }
    Ok(pw)
}

/// Run the client to completion: `Ok` once the snapshot is written.
pub fn run(args: Args) -> Result<(), String> {
    let config = SessionConfig {
        password: read_password(&args)?,
        preferred_compression: args.compression,
        record_display: args.record.is_some(),
        memory_budget: args.memory_budget,
        ..SessionConfig::default()
    };
    let session = Session::new(config, Box::new(StdRng::from_entropy())).map_err(|e| e.to_string())?;
    let (tx, rx) = channel();
    let mut c = Client {
        args,
        session,
        conns: HashMap::new(),
        tx,
        recorders: HashMap::new(),
        stats: Stats::default(),
        frames: 0,
        last_change: Instant::now(),
        typed: false,
        to_type: VecDeque::new(),
        next_key: Instant::now(),
    };
    if let Some(t) = &c.args.type_text {
        c.to_type = t.chars().chain(['\n']).collect();
    }
    c.typed = c.to_type.is_empty();
    let main = c.session.main_handle();
    c.attach(main)?;
    let r = c.run_loop(&rx);
    if c.args.log {
        c.print_summary();
    }
    for conn in c.conns.values() {
        let _ = conn.stream.shutdown(Shutdown::Both);
    }
    r
}

impl Client {
    /// Connect a socket for `h` and start its reader.
    fn attach(&mut self, h: ChannelHandle) -> Result<(), String> {
        let stream = connect(&self.args.server)?;
        let reader = stream.try_clone().map_err(|e| format!("socket clone failed: {e}"))?;
        spawn_reader(h, reader, self.tx.clone());
        self.conns.insert(h, Conn { stream });
        self.flush()
    }

    /// Write every channel's pending bytes.
    fn flush(&mut self) -> Result<(), String> {
        for (h, conn) in self.conns.iter_mut() {
            let pending = self.session.pending(*h);
            if pending.is_empty() {
                continue;
            }
            let n = pending.len();
            if let Err(e) = conn.stream.write_all(pending) {
                let (t, id) = self.session.channel_of(*h).unwrap_or((0, 0));
                return Err(format!("write to {} channel {id} failed: {e}", channel_name(t)));
            }
            self.session.consume(*h, n);
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

    fn on_receive_error(&self, h: ChannelHandle, e: SessionError) -> Result<(), String> {
        let (t, id) = self.session.channel_of(h).unwrap_or((0, 0));
        let msg = match &e {
            SessionError::Link { error, .. } if t as u32 == SPICE_CHANNEL_MAIN => error.to_string(),
            _ => e.to_string(),
        };
        if self.fatal_channel(t) {
            Err(msg)
        } else {
            eprintln!("barespice-host: warning: {} channel {id}: {msg}", channel_name(t));
            Ok(())
        }
    }

    fn handle_events(&mut self) -> Result<(), String> {
        while let Some(ev) = self.session.poll_event() {
            match ev {
                Event::OpenChannel { channel_type, channel_id } => {
                    let h = self.session.open(channel_type, channel_id).map_err(|e| e.to_string())?;
                    if channel_type as u32 == SPICE_CHANNEL_DISPLAY {
                        if let Some(dir) = &self.args.record {
                            let r = Recorder::create(dir, channel_id)
                                .map_err(|e| format!("cannot create recording in {}: {e}", dir.display()))?;
                            self.recorders.insert(h, r);
                        }
                    }
                    self.attach(h)?;
                }
                Event::ChannelSkipped { channel_type, channel_id } => {
                    if self.args.log {
                        eprintln!("barespice-host: skipping {} channel {channel_id}", channel_name(channel_type));
                    }
                }
                Event::Linked { channel_type, channel_id, .. } => {
                    if self.args.log {
                        eprintln!("barespice-host: {} channel {channel_id} linked", channel_name(channel_type));
                    }
                }
                Event::ChannelClosed { channel_type, channel_id, reason, .. } => {
                    let msg = match &reason {
                        CloseReason::LinkFailed(e) => e.to_string(),
                        CloseReason::Protocol(e) => SessionError::Protocol(*e).to_string(),
                        other => format!("{} channel {channel_id}: {other}", channel_name(channel_type)),
                    };
                    if self.fatal_channel(channel_type) {
                        return Err(msg);
                    }
                    eprintln!("barespice-host: warning: {msg}");
                }
                Event::SurfaceResized { channel_id, width, height } => {
                    if self.args.log {
                        eprintln!("barespice-host: display {channel_id} surface {width}x{height}");
                    }
                    if channel_id == 0 {
                        self.last_change = Instant::now();
                    }
                }
                Event::Notify { channel_type, channel_id, text, .. } => {
                    if self.args.log {
                        eprintln!("barespice-host: server notice on {} channel {channel_id}: {text}", channel_name(channel_type));
                    }
                }
                Event::MouseMode { supported, current } => {
                    if self.args.log {
                        eprintln!("barespice-host: mouse mode {current} (supported {supported})");
                    }
                }
                Event::Agent(_) | Event::Name(_) | Event::Uuid(_) => {}
            }
        }
        Ok(())
    }

    fn on_data(&mut self, h: ChannelHandle, data: &[u8]) -> Result<(), String> {
        if let Some((t, id)) = self.session.channel_of(h) {
            *self.stats.bytes.entry((t, id)).or_insert(0) += data.len() as u64;
        }
        let r = self.session.receive(h, data);
        if let Some(rec) = self.recorders.get_mut(&h) {
            let framed = self.session.take_recorded(h);
            rec.append(&framed).map_err(|e| format!("recording failed: {e}"))?;
        }
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.on_receive_error(h, e),
        }
    }

    fn run_loop(&mut self, rx: &Receiver<Input>) -> Result<(), String> {
        let start = Instant::now();
        let deadline = start + self.args.timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(if self.frames == 0 {
                    format!("timeout after {} s: no display frame received", self.args.timeout.as_secs())
                } else {
                    format!("timeout after {} s: display never became idle", self.args.timeout.as_secs())
                });
            }
            let wait = (deadline - now).min(Duration::from_millis(20));
            let first = match rx.recv_timeout(wait) {
                Ok(i) => Some(i),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Err("all connections ended".into()),
            };
            // Take everything already queued before flushing replies.
            let mut batch: Vec<Input> = first.into_iter().collect();
            batch.extend(rx.try_iter().take(256));
            for input in batch {
                match input {
                    Input::Data(h, d) => self.on_data(h, &d)?,
                    Input::Closed(h) => self.session.closed(h),
                }
                self.handle_events()?;
            }
            self.flush()?;
            if let Some(r) = self.session.take_dirty() {
                if self.args.log {
                    eprintln!("barespice-host: {:>6} ms dirty {r:?}", start.elapsed().as_millis());
                }
                self.frames += 1;
                self.last_change = Instant::now();
            }
            if self.frames > 0 && !self.typed && self.session.inputs_ready() && Instant::now() >= self.next_key {
                // One character per KEY_INTERVAL: the guest's PS/2 queue is
                // small and silently drops scancodes sent in a burst.
                match self.to_type.pop_front() {
                    Some(c) => {
                        let skipped = self.session.type_text(c.encode_utf8(&mut [0; 4])).map_err(|e| e.to_string())?;
                        if skipped > 0 {
                            eprintln!("barespice-host: warning: no US key for {c:?}; skipped");
                        }
                        self.flush()?;
                        self.next_key = Instant::now() + KEY_INTERVAL;
                        self.last_change = Instant::now();
                    }
                    None => self.typed = true,
                }
            }
            if self.frames > 0 && self.typed && self.last_change.elapsed() >= self.args.idle {
                return self.snapshot();
            }
        }
    }

    fn snapshot(&self) -> Result<(), String> {
        let s = self.session.primary().ok_or("display has no primary surface")?;
        let path = &self.args.snapshot;
        crate::snapshot::write_png(path, s)?;
        if self.args.log {
            eprintln!("barespice-host: wrote {}x{} snapshot to {} after {} frames", s.width, s.height, path.display(), self.frames);
        }
        Ok(())
    }

    fn print_summary(&self) {
        let mut per_channel: BTreeMap<(u8, u8), Vec<(u16, u64)>> = BTreeMap::new();
        for (t, id, m, n) in self.session.message_counts() {
            per_channel.entry((t, id)).or_default().push((m, n));
        }
        for ((t, id), bytes) in &self.stats.bytes {
            let msgs = per_channel.get(&(*t, *id)).map(|v| {
                v.iter().map(|(m, n)| format!("{m}x{n}")).collect::<Vec<_>>().join(" ")
            });
            eprintln!(
                "barespice-host: {} channel {id}: {bytes} bytes; messages {}",
                channel_name(*t),
                msgs.unwrap_or_default()
            );
        }
        if let Some(c) = self.session.cursor() {
            eprintln!("barespice-host: cursor at ({}, {}) visible {} shape {:?}", c.x, c.y, c.visible,
                c.shape.as_ref().map(|s| (s.width, s.height)));
        }
        if let Some(d) = self.session.display(0) {
            if let Some(s) = d.primary() {
                eprintln!("barespice-host: display 0: primary {}x{} format {}", s.width, s.height, s.format);
            }
            eprintln!("barespice-host: display 0: {:?}", d.stats());
            let st = d.stats();
            let images: Vec<String> = COUNTED_IMAGE_TYPES
                .iter()
                .zip(st.images)
                .filter(|(_, n)| *n > 0)
                .map(|((_, name), n)| format!("{name}={n}"))
                .collect();
            eprintln!(
                "barespice-host: display 0: images {}; stream frames {} dropped {}",
                if images.is_empty() { "none".to_string() } else { images.join(" ") },
                st.frames,
                st.dropped_frames
            );
        }
    }
}
