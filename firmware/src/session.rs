//! The SPICE session task: drives spice-core's sans-IO `session::Session`
//! over one connection per channel (plain TCP or TLS, see `transport`). It connects the main channel, opens a
//! socket for every channel the session asks for (display, inputs, cursor,
//! playback when the board has an audio sink; see `audio`),
//! shuttles bytes both ways, shows progress on the status screen, draws the
//! primary surface's dirty rectangles into the framebuffer (through
//! `presenter::present`, straight from the surface) and forwards local
//! input (client mouse mode when the server allows it).
//! Must not: contain protocol bytes; everything on the wire comes from spice-core.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use barespice_board::BoardRng;
use barespice_config::{Config, DisplayMode};
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use embassy_futures::select::{select, select3, Either3};
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use spice_core::agent::AgentEvent;
use spice_core::enums::{
    SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_MAIN, SPICE_CHANNEL_PLAYBACK, SPICE_CHANNEL_USBREDIR,
    SPICE_MOUSE_BUTTON_DOWN, SPICE_MOUSE_BUTTON_LEFT, SPICE_MOUSE_BUTTON_MIDDLE,
    SPICE_MOUSE_BUTTON_RIGHT, SPICE_MOUSE_BUTTON_UP, SPICE_MOUSE_MODE_CLIENT,
    VD_AGENT_CAP_MONITORS_CONFIG, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS,
};
use spice_core::key_pace::KeyPacer;
use spice_core::link::LinkError;
use spice_core::session::{
    ChannelHandle, CloseReason, Event, Session, SessionConfig, SessionError,
};
use spice_core::stall::StallWatch;

use crate::input::{RemoteInput, QUEUE};
use crate::presenter;
use crate::rig;
use crate::status::{self, Step};
use crate::transport::{self, Conn, Failure, Route};

/// Most channels one session opens (main, display, inputs, cursor,
/// playback, USB redirection, and their TLS relinks after NEED_SECURED).
const MAX_CHANNELS: usize = 12;

/// `resize` mode: how long the guest's agent has to answer before the
/// status line says the picture stays scaled (`fit`).
const AGENT_ANSWER_SECS: u64 = 5;

struct Chan<'a> {
    handle: ChannelHandle,
    conn: Conn<'a>,
    open: bool,
    /// The stalled-message rule (a server dripping a message ends the session).
    stall: StallWatch,
}

/// Connects channel `ids` (type, id) over TLS when `tls`, with the buffers
/// `rx`/`tx`, and starts its link in `session`. A link the session refuses
/// is logged and skipped (`None`); a connection that fails is returned and
/// ends the session.
async fn link_channel<'a>(
    stack: Stack<'static>,
    route: &Route,
    tls: bool,
    (channel_type, channel_id): (u8, u8),
    (rx, tx): (&'a mut [u8], &'a mut [u8]),
    session: &mut Session,
) -> Result<Option<Chan<'a>>, Failure> {
    let name = spice_core::error::channel_name(channel_type);
    let conn = transport::open_channel(stack, route, name, tls, rx, tx).await?;
    match session.open(channel_type, channel_id) {
        Ok(handle) => Ok(Some(Chan {
            handle,
            conn,
            open: true,
            stall: StallWatch::new(),
        })),
        Err(e) => {
            defmt::warn!(
                "session: cannot open {=str}: {=str}",
                name,
                e.to_string().as_str()
            );
            Ok(None)
        }
    }
}

/// The main channel was refused with NEED_SECURED on plain TCP.
struct MainNeedsTls;

fn link_failure(error: &LinkError, what: String) -> Failure {
    match error {
        LinkError::PermissionDenied => {
            transport::from_transport(barespice_transport::Failure::Authentication)
        }
        LinkError::NeedSecured => Failure {
            step: Step::SpiceLink,
            detail: format!("{what}: server requires TLS"),
            hint: "tls-port= in the .vv file",
        },
        _ => Failure {
            step: Step::SpiceLink,
            detail: format!("{what}: {error}"),
            hint: "that this is a SPICE server, and its log",
        },
    }
}

fn session_failure(e: SessionError) -> Failure {
    match e {
        SessionError::Link {
            error,
            channel_type,
            channel_id,
        } => link_failure(
            &error,
            format!(
                "{} channel {channel_id}",
                spice_core::error::channel_name(channel_type)
            ),
        ),
        SessionError::Config(error) => Failure {
            step: Step::Authentication,
            detail: format!("{error}"),
            hint: "the password (at most 60 bytes)",
        },
        other => Failure {
            step: Step::SpiceLink,
            detail: other.to_string(),
            hint: "the server's log",
        },
    }
}

/// Connects and runs one session; returns why it ended. A plain main
/// channel refused with NEED_SECURED is retried at once on the TLS port
/// (the ticket was not looked at, so none is spent).
pub async fn run(
    stack: Stack<'static>,
    route: &Route,
    cfg: &Config,
    rng: &mut BoardRng,
) -> Failure {
    let main_tls = cfg.wants_tls("main");
    match run_once(stack, route, cfg, rng, main_tls).await {
        Ok(f) => f,
        Err(MainNeedsTls) if route.tls_port.is_some() => {
            defmt::info!("session: main channel requires TLS, relinking on tls-port");
            match run_once(stack, route, cfg, rng, true).await {
                Ok(f) => f,
                Err(MainNeedsTls) => internal("NEED_SECURED on a TLS main channel"),
            }
        }
        Err(MainNeedsTls) => link_failure(&LinkError::NeedSecured, String::from("main channel 0")),
    }
}

async fn run_once(
    stack: Stack<'static>,
    route: &Route,
    cfg: &Config,
    rng: &mut BoardRng,
    main_tls: bool,
) -> Result<Failure, MainNeedsTls> {
    // Buffers for every channel socket live as long as this session.
    let mut bufs: Vec<(Vec<u8>, Vec<u8>)> =
        (0..MAX_CHANNELS).map(|_| transport::buffers()).collect();
    let mut free = bufs.iter_mut();

    let session_rng = BoardRng::from_seed_of(rng);
    let heap = barespice_boot::heap_stats();
    let memory_budget = crate::heap_log::session_budget(heap.size.saturating_sub(heap.in_use));
    defmt::info!("session: memory budget {=usize} MiB", memory_budget >> 20);
    let config = SessionConfig {
        password: cfg.password.as_bytes().to_vec(),
        memory_budget,
        playback: crate::audio::available(),
        usbredir: cfg.usbredir,
        ..SessionConfig::default()
    };
    let mut session = match Session::new(config, Box::new(session_rng)) {
        Ok(s) => s,
        Err(e) => return Ok(session_failure(e)),
    };

    let port = if main_tls { route.tls_port } else { route.port }.unwrap_or(0);
    let via = route
        .proxy
        .as_ref()
        .map(|p| format!(" via proxy {p}"))
        .unwrap_or_default();
    let what = format!(
        "{}:{port}{}{via}",
        route.host,
        if main_tls { " (TLS)" } else { "" }
    );
    status::active(Step::Connect, what.clone());
    let Some((rx, tx)) = free.next() else {
        return Ok(internal("no buffers"));
    };
    let conn = match transport::open_channel(stack, route, "main", main_tls, rx, tx).await {
        Ok(c) => c,
        Err(f) => return Ok(f),
    };
    status::done(Step::Connect, what);
    status::active(Step::SpiceLink, "main channel");
    let mut chans: Vec<Chan<'_>> = Vec::new();
    chans.push(Chan {
        handle: session.main_handle(),
        conn,
        open: true,
        stall: StallWatch::new(),
    });

    let mut client_mouse = false;
    let mut first_frame = true;
    let mut rig = rig::Watch::new();
    let mut last_pos: Option<(u32, u32)> = None;
    let mut drawn_cursor: (Option<(i32, i32)>, Option<u64>) = (None, None);
    // Dirty area the presenter could not draw yet.
    let mut unsent: Option<spice_core::canvas::Rect> = None;
    // resize mode: the local size to ask the guest for, and since when we wait.
    let want = presenter::fb_info()
        .map(|i| (i.width, i.height))
        .filter(|_| cfg.display == DisplayMode::Resize);
    let mut resize_wait: Option<Instant> = None;
    let mut keys = KeyPacer::new();
    let mut redir = crate::usbredir::Redir::new();
    loop {
        // 0. Let the other tasks run (input, network, timers) before the next
        // round, however busy the server keeps us: the input task must drain
        // its device often (see `barespice_board::irq::dispatch`).
        embassy_futures::yield_now().await;

        send_keys(&mut keys, &mut session);

        // USB redirection: device changes, transfers, stream bytes.
        if let Err(f) = redir.pump(&mut session) {
            return Ok(f);
        }

        // 1. Send what the session queued, on every channel.
        for c in chans.iter_mut().filter(|c| c.open) {
            let ok = match c.conn.tls.as_mut() {
                Some(tls) => {
                    let pending = session.pending(c.handle);
                    let n = pending.len();
                    let queued = n == 0 || tls.send(pending).is_ok();
                    session.consume(c.handle, n);
                    let ok = queued
                        && transport::write_all(&mut c.conn.sock, tls.outgoing())
                            .await
                            .is_ok();
                    let out = tls.outgoing().len();
                    tls.consume(out);
                    ok
                }
                None => {
                    let pending = session.pending(c.handle);
                    let n = pending.len();
                    let ok = transport::write_all(&mut c.conn.sock, pending)
                        .await
                        .is_ok();
                    session.consume(c.handle, n);
                    ok
                }
            };
            if !ok {
                c.open = false;
                session.closed(c.handle);
            }
        }

        // 2. Act on events; audio goes to the playback task.
        crate::audio::forward(&mut session);
        while let Some(ev) = session.poll_event() {
            match ev {
                Event::OpenChannel {
                    channel_type,
                    channel_id,
                } => {
                    let name = spice_core::error::channel_name(channel_type);
                    defmt::info!("session: opening {=str} channel {=u8}", name, channel_id);
                    let Some((rx, tx)) = free.next() else {
                        defmt::warn!("session: no buffers left for {=str} channel", name);
                        continue;
                    };
                    let ids = (channel_type, channel_id);
                    let tls = cfg.wants_tls(name);
                    let linked = link_channel(stack, route, tls, ids, (rx, tx), &mut session);
                    match linked.await {
                        Ok(Some(chan)) => chans.push(chan),
                        Ok(None) => {}
                        Err(f) => return Ok(f),
                    }
                }
                Event::ChannelSkipped { channel_type, .. } => {
                    defmt::info!(
                        "session: server offers {=str} (not used)",
                        spice_core::error::channel_name(channel_type)
                    );
                }
                Event::Linked {
                    handle,
                    channel_type,
                    channel_id,
                } => {
                    let name = spice_core::error::channel_name(channel_type);
                    defmt::info!("session: {=str} channel {=u8} linked", name, channel_id);
                    if channel_type as u32 == SPICE_CHANNEL_USBREDIR {
                        redir.linked(handle);
                    }
                    if channel_type as u32 == SPICE_CHANNEL_MAIN {
                        if let Some((w, h)) = want {
                            if let Err(e) = session.set_monitor_size(w, h) {
                                defmt::warn!("display: {=str}", e.to_string().as_str());
                            }
                            resize_wait = Some(Instant::now());
                        }
                        if cfg.disable_effects != 0 {
                            if let Err(e) = session.set_display_flags(cfg.disable_effects) {
                                defmt::warn!("display: {=str}", e.to_string().as_str());
                            }
                        }
                        defmt::info!("timeline: linked");
                        status::done(Step::SpiceLink, "main channel linked");
                        status::done(Step::Authentication, "ticket accepted");
                        status::active(Step::Display, "waiting for the display channel");
                    }
                }
                Event::ChannelClosed {
                    handle,
                    channel_type,
                    channel_id,
                    reason,
                } => {
                    let name = spice_core::error::channel_name(channel_type);
                    let what = format!("{name} channel {channel_id}");
                    redir.closed(handle);
                    let plain = chans
                        .iter()
                        .any(|c| c.handle == handle && c.conn.tls.is_none());
                    if reason == CloseReason::LinkFailed(LinkError::NeedSecured)
                        && plain
                        && route.tls_port.is_some()
                    {
                        if channel_type as u32 == SPICE_CHANNEL_MAIN {
                            return Err(MainNeedsTls);
                        }
                        defmt::info!(
                            "session: {=str} requires TLS, relinking on tls-port",
                            what.as_str()
                        );
                        let Some((rx, tx)) = free.next() else {
                            return Ok(internal("no buffers"));
                        };
                        let ids = (channel_type, channel_id);
                        let linked = link_channel(stack, route, true, ids, (rx, tx), &mut session);
                        match linked.await {
                            Ok(Some(chan)) => chans.push(chan),
                            Ok(None) => {}
                            Err(f) => return Ok(f),
                        }
                        continue;
                    }
                    defmt::warn!(
                        "session: {=str} closed: {=str}",
                        what.as_str(),
                        reason.to_string().as_str()
                    );
                    // A malformed audio stream ends the session (reason on
                    // screen, then the usual reconnect), as on main/display.
                    let essential = channel_type as u32 == SPICE_CHANNEL_MAIN
                        || channel_type as u32 == SPICE_CHANNEL_DISPLAY
                        || (channel_type as u32 == SPICE_CHANNEL_PLAYBACK
                            && matches!(reason, CloseReason::Protocol(_)));
                    if essential {
                        return Ok(match reason {
                            CloseReason::LinkFailed(e) => link_failure(&e, what),
                            other => Failure {
                                step: if first_frame {
                                    Step::Display
                                } else {
                                    Step::Connect
                                },
                                detail: format!("{what}: {other}"),
                                hint:
                                    "the server (was the VM stopped or the connection taken over?)",
                            },
                        });
                    }
                }
                Event::MouseMode { current, .. } => {
                    client_mouse = current == SPICE_MOUSE_MODE_CLIENT;
                    defmt::info!(
                        "session: mouse mode {=str}",
                        if client_mouse { "client" } else { "server" }
                    );
                }
                Event::SurfaceResized { width, height, .. } => {
                    defmt::info!("session: remote display {=u32}x{=u32}", width, height);
                }
                Event::Name(n) => status::set_title(n),
                Event::Notify { text, .. } => defmt::info!("server: {=str}", text.as_str()),
                Event::Agent(on) => defmt::info!(
                    "session: guest agent {=str}",
                    if on { "connected" } else { "gone" }
                ),
                Event::FromAgent(e) => on_agent(e, want, &mut resize_wait),
                Event::Uuid(_) => {}
            }
        }

        if resize_wait.is_some_and(|t| t.elapsed() >= Duration::from_secs(AGENT_ANSWER_SECS)) {
            resize_wait = None;
            status::set_display(format!(
                "resize: no agent answer in {AGENT_ANSWER_SECS} s, showing fit"
            ));
        }

        // 3. New pixels, and the pointer (local position in client mouse
        //    mode, the server's otherwise).
        let dirty = match (unsent.take(), session.take_dirty()) {
            (Some(a), Some(b)) => Some(a.union(&b)),
            (a, b) => a.or(b),
        };
        let cursor_pos = match (client_mouse, session.cursor()) {
            (true, Some(c)) if c.visible => last_pos.map(|(x, y)| (x as i32, y as i32)),
            (false, Some(c)) if c.visible => Some((i32::from(c.x), i32::from(c.y))),
            _ => None,
        };
        let cursor_key = (cursor_pos, session.cursor().map(|c| c.serial));
        if dirty.is_some() || cursor_key != drawn_cursor {
            if let Some(surface) = session.primary() {
                if first_frame {
                    first_frame = false;
                    defmt::info!(
                        "timeline: first frame {=u32}x{=u32}",
                        surface.width,
                        surface.height
                    );
                    status::done(
                        Step::Display,
                        format!("{}x{}", surface.width, surface.height),
                    );
                }
                let shape = session.cursor().and_then(|c| c.shape.as_deref());
                let view = cursor_pos
                    .zip(shape)
                    .map(|((x, y), shape)| presenter::CursorView { x, y, shape });
                if presenter::present(surface, dirty, view) {
                    drawn_cursor = cursor_key;
                } else {
                    // Screen in use: the same area goes again next round.
                    unsent = dirty;
                }
            }
        }

        rig.update(session.primary(), dirty.is_some());

        // Output queued by the events above goes out before we sleep.
        if chans.iter().any(|c| {
            c.open
                && (!session.pending(c.handle).is_empty()
                    || c.conn
                        .tls
                        .as_ref()
                        .is_some_and(|t| !t.outgoing().is_empty()))
        }) {
            continue;
        }

        // 4. Sleep until a socket has data, input arrives, or a tick passes.
        let readable = poll_fn(|cx| {
            for c in chans.iter().filter(|c| c.open) {
                let f = pin!(c.conn.sock.wait_read_ready());
                if f.poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        });
        // Come back in time for the next paced key.
        let tick = match keys.wait_ms(Instant::now().as_millis()) {
            Some(ms) => Duration::from_millis(ms.max(1)).min(rig.sleep(Duration::from_secs(1))),
            None => rig.sleep(Duration::from_secs(1)),
        };
        // A full pacer takes nothing more (the input task's queue holds it).
        let room = keys.len() < KeyPacer::CAPACITY;
        let input = async {
            if room {
                QUEUE.receive().await
            } else {
                core::future::pending().await
            }
        };
        let first = match select3(
            readable,
            input,
            select(
                Timer::after(tick),
                barespice_board::usb::redirect::WAKE.wait(),
            ),
        )
        .await
        {
            Either3::Second(ev) => Some(ev),
            _ => None,
        };
        // Input is taken whichever woke us: with the display channel always
        // readable (video), waiting for the queue's turn would hold keys back
        // until the video stops and then send them as one burst.
        take_input(first, &mut keys, &mut session, client_mouse, &mut last_pos);
        send_keys(&mut keys, &mut session);

        // 5. Feed every readable socket into the session.
        for c in chans.iter_mut().filter(|c| c.open) {
            // Plaintext bytes fed to the session (the stalled-message rule).
            let mut arrived = 0usize;
            while c.conn.sock.can_recv() {
                let h = c.handle;
                let tls = &mut c.conn.tls;
                let r = c
                    .conn
                    .sock
                    .read_with(|buf| {
                        let r = match tls.as_mut() {
                            Some(t) => match t.receive(buf) {
                                Ok(()) => {
                                    let plain = t.take_plaintext();
                                    arrived = arrived.saturating_add(plain.len());
                                    if plain.is_empty() {
                                        Ok(Ok(()))
                                    } else {
                                        Ok(session.receive(h, &plain))
                                    }
                                }
                                Err(f) => Err(f),
                            },
                            None => {
                                arrived = arrived.saturating_add(buf.len());
                                Ok(session.receive(h, buf))
                            }
                        };
                        (buf.len(), r)
                    })
                    .await;
                match r {
                    Ok(Ok(Ok(()))) => {}
                    Ok(Ok(Err(e))) => {
                        if let SessionError::Link {
                            error: LinkError::NeedSecured,
                            ..
                        } = e
                        {
                            // Handled at the channel's ChannelClosed event.
                            continue;
                        }
                        if matches!(e, SessionError::Link { .. } | SessionError::Config(_))
                            && h == session.main_handle()
                        {
                            return Ok(session_failure(e));
                        }
                        defmt::warn!("session: {=str}", e.to_string().as_str());
                    }
                    Ok(Err(f)) => return Ok(transport::from_transport(f)),
                    Err(_) => break,
                }
                // One buffer's worth decoded (video: a few frames): let the
                // input task drain its device before the next.
                embassy_futures::yield_now().await;
            }
            if !c.conn.sock.may_recv() {
                c.open = false;
                session.closed(c.handle);
                continue;
            }
            let mid = session.mid_message(c.handle);
            if let Some(stall) = c.stall.observe(Instant::now().as_millis(), arrived, mid) {
                let what = session
                    .channel_of(c.handle)
                    .map(|(t, id)| format!("{} channel {id}", spice_core::error::channel_name(t)))
                    .unwrap_or_default();
                defmt::warn!(
                    "session: {=str} closed: {=str}",
                    what.as_str(),
                    stall.to_string().as_str()
                );
                return Ok(Failure {
                    step: if first_frame {
                        Step::Display
                    } else {
                        Step::Connect
                    },
                    detail: format!("{what}: {stall}"),
                    hint: "the server and the network (a message stopped arriving)",
                });
            }
        }
    }
}

/// `resize` mode bookkeeping for what the guest's agent says.
fn on_agent(e: AgentEvent, want: Option<(u32, u32)>, wait: &mut Option<Instant>) {
    let Some((w, h)) = want else { return };
    match e {
        AgentEvent::MonitorsConfigSent { width, height } => {
            defmt::info!(
                "display: asked the guest agent for {=u32}x{=u32}",
                width,
                height
            );
        }
        AgentEvent::Capabilities(caps)
            if !spice_core::wire::agent::has_cap(&caps, VD_AGENT_CAP_MONITORS_CONFIG) =>
        {
            *wait = None;
            status::set_display("resize: the guest agent cannot resize, showing fit");
        }
        AgentEvent::Reply { msg_type, error } if msg_type == VD_AGENT_MONITORS_CONFIG => {
            *wait = None;
            if error == VD_AGENT_SUCCESS {
                status::set_display(format!("resize: the guest agent set {w}x{h}"));
            } else {
                status::set_display(format!(
                    "resize: the guest agent refused {w}x{h}, showing fit"
                ));
            }
        }
        _ => {}
    }
}

fn internal(what: &str) -> Failure {
    Failure {
        step: Step::SpiceLink,
        detail: String::from(what),
        hint: "the firmware log",
    }
}

fn spice_button(b: u8) -> u8 {
    (match b {
        0 => SPICE_MOUSE_BUTTON_LEFT,
        1 => SPICE_MOUSE_BUTTON_MIDDLE,
        _ => SPICE_MOUSE_BUTTON_RIGHT,
    }) as u8
}

/// Takes everything the input task queued (`first`, then the queue): key
/// events go to the pacer (the rest stays queued while it is full), pointer
/// events to the session at once.
fn take_input(
    first: Option<RemoteInput>,
    keys: &mut KeyPacer,
    session: &mut Session,
    client_mouse: bool,
    last: &mut Option<(u32, u32)>,
) {
    let mut next = first;
    loop {
        let ev = match next.take() {
            Some(ev) => ev,
            None if keys.len() >= KeyPacer::CAPACITY => return,
            None => match QUEUE.try_receive() {
                Ok(ev) => ev,
                Err(_) => return,
            },
        };
        match ev {
            RemoteInput::Key { key, down } => {
                // Room was checked before taking it; say so if that changes.
                if !keys.push(key, down) {
                    defmt::warn!("input: key backlog full, event dropped");
                }
            }
            other => apply_input(session, other, client_mouse, last),
        }
    }
}

/// Sends the key events the pacer lets out now (see `spice_core::key_pace`).
fn send_keys(keys: &mut KeyPacer, session: &mut Session) {
    let now = Instant::now().as_millis();
    while let Some((key, down)) = keys.take(now) {
        apply_input(session, RemoteInput::Key { key, down }, false, &mut None);
    }
}

fn apply_input(
    session: &mut Session,
    ev: RemoteInput,
    client_mouse: bool,
    last: &mut Option<(u32, u32)>,
) {
    let r = match ev {
        RemoteInput::Key { key, down: true } => session.key_down(key),
        RemoteInput::Key { key, down: false } => session.key_up(key),
        RemoteInput::Position { x, y, .. } => {
            let prev = last.replace((x, y));
            if client_mouse {
                session.mouse_position(x, y, 0)
            } else if let Some((px, py)) = prev {
                session.mouse_motion(x as i32 - px as i32, y as i32 - py as i32)
            } else {
                Ok(())
            }
        }
        RemoteInput::Motion { dx, dy, .. } => session.mouse_motion(dx, dy),
        RemoteInput::Button {
            button, down: true, ..
        } => session.mouse_press(spice_button(button)),
        RemoteInput::Button {
            button,
            down: false,
            ..
        } => session.mouse_release(spice_button(button)),
        RemoteInput::Wheel { delta, .. } => {
            let b = if delta > 0 {
                SPICE_MOUSE_BUTTON_UP
            } else {
                SPICE_MOUSE_BUTTON_DOWN
            } as u8;
            let mut r = Ok(());
            for _ in 0..delta.unsigned_abs().min(10) {
                r = session
                    .mouse_press(b)
                    .and_then(|_| session.mouse_release(b));
            }
            r
        }
    };
    if let Err(e) = r {
        defmt::debug!("input dropped: {=str}", e.to_string().as_str());
    }
}
