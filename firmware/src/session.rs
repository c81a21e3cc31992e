//! The SPICE session task: drives spice-core's sans-IO `session::Session`
//! over one TCP socket per channel. It connects the main channel, opens a
//! socket for every channel the session asks for (display, inputs, cursor),
//! shuttles bytes both ways, shows progress on the status screen, hands the
//! primary surface's dirty rectangles to the presenter and forwards local
//! input (client mouse mode when the server allows it).
//! Must not: contain protocol bytes; everything on the wire comes from spice-core.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use barespice_board::BoardRng;
use barespice_config::Config;
use embassy_futures::select::{select3, Either3};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Stack};
use embassy_time::{Duration, Timer};
use spice_core::enums::{
    SPICE_CHANNEL_DISPLAY, SPICE_CHANNEL_MAIN, SPICE_MOUSE_BUTTON_DOWN, SPICE_MOUSE_BUTTON_LEFT,
    SPICE_MOUSE_BUTTON_MIDDLE, SPICE_MOUSE_BUTTON_RIGHT, SPICE_MOUSE_BUTTON_UP, SPICE_MOUSE_MODE_CLIENT,
};
use spice_core::link::LinkError;
use spice_core::session::{ChannelHandle, CloseReason, Event, Session, SessionConfig, SessionError};

use crate::connection::{self, Failure};
use crate::input::{RemoteInput, QUEUE};
use crate::presenter;
use crate::status::{self, Step};

/// Most channels one session opens (main, display, inputs, cursor + spare).
const MAX_CHANNELS: usize = 6;

struct Chan<'a> {
    handle: ChannelHandle,
    sock: TcpSocket<'a>,
    open: bool,
}

fn link_failure(error: &LinkError, what: String) -> Failure {
    match error {
        LinkError::PermissionDenied => Failure {
            step: Step::Authentication,
            detail: String::from("password rejected"),
            hint: "password= in the .vv file (or spice.password=)",
        },
        LinkError::NeedSecured => Failure {
            step: Step::SpiceLink,
            detail: format!("{what}: server requires TLS"),
            hint: "TLS is not supported yet: let the server offer plain channels",
        },
        _ => Failure { step: Step::SpiceLink, detail: format!("{what}: {error}"), hint: "that this is a SPICE server, and its log" },
    }
}

fn session_failure(e: SessionError) -> Failure {
    match e {
        SessionError::Link { error, channel_type, channel_id } => {
            link_failure(&error, format!("{} channel {channel_id}", spice_core::error::channel_name(channel_type)))
        }
        SessionError::Config(error) => Failure {
            step: Step::Authentication,
            detail: format!("{error}"),
            hint: "the password (at most 60 bytes)",
        },
        other => Failure { step: Step::SpiceLink, detail: other.to_string(), hint: "the server's log" },
    }
}

/// Connects and runs one session; returns why it ended.
pub async fn run(stack: Stack<'static>, ip: Ipv4Address, port: u16, cfg: &Config, rng: &mut BoardRng) -> Failure {
    // Buffers for every channel socket live as long as this session.
    let mut bufs: Vec<(Vec<u8>, Vec<u8>)> = (0..MAX_CHANNELS).map(|_| connection::buffers()).collect();
    let mut free = bufs.iter_mut();

    let session_rng = BoardRng::from_seed_of(rng);
    let heap = barespice_boot::heap_stats();
    let memory_budget = crate::heap_log::session_budget(heap.size.saturating_sub(heap.in_use));
    defmt::info!("session: memory budget {=usize} MiB", memory_budget >> 20);
    let config =
        SessionConfig { password: cfg.password.as_bytes().to_vec(), memory_budget, ..SessionConfig::default() };
    let mut session = match Session::new(config, Box::new(session_rng)) {
        Ok(s) => s,
        Err(e) => return session_failure(e),
    };

    status::active(Step::Connect, format!("{ip}:{port}"));
    let Some((rx, tx)) = free.next() else { return internal("no buffers") };
    let sock = match connection::open(stack, ip, port, rx, tx).await {
        Ok(s) => s,
        Err(f) => return f,
    };
    status::done(Step::Connect, format!("{ip}:{port}"));
    status::active(Step::SpiceLink, "main channel");
    let mut chans: Vec<Chan<'_>> = Vec::new();
    chans.push(Chan { handle: session.main_handle(), sock, open: true });

    let mut client_mouse = false;
    let mut first_frame = true;
    let mut last_pos: Option<(u32, u32)> = None;
    let mut drawn_cursor: (Option<(i32, i32)>, Option<u64>) = (None, None);
    loop {
        // 1. Send what the session queued, on every channel.
        for c in chans.iter_mut().filter(|c| c.open) {
            loop {
                let pending = session.pending(c.handle);
                if pending.is_empty() {
                    break;
                }
                match c.sock.write(pending).await {
                    Ok(0) | Err(_) => {
                        c.open = false;
                        session.closed(c.handle);
                        break;
                    }
                    Ok(n) => session.consume(c.handle, n),
                }
            }
        }

        // 2. Act on events.
        while let Some(ev) = session.poll_event() {
            match ev {
                Event::OpenChannel { channel_type, channel_id } => {
                    let name = spice_core::error::channel_name(channel_type);
                    defmt::info!("session: opening {=str} channel {=u8}", name, channel_id);
                    let Some((rx, tx)) = free.next() else {
                        defmt::warn!("session: no buffers left for {=str} channel", name);
                        continue;
                    };
                    match connection::open(stack, ip, port, rx, tx).await {
                        Ok(sock) => match session.open(channel_type, channel_id) {
                            Ok(handle) => chans.push(Chan { handle, sock, open: true }),
                            Err(e) => defmt::warn!("session: cannot open {=str}: {=str}", name, e.to_string().as_str()),
                        },
                        Err(f) => return f,
                    }
                }
                Event::ChannelSkipped { channel_type, .. } => {
                    defmt::info!("session: server offers {=str} (not used)", spice_core::error::channel_name(channel_type));
                }
                Event::Linked { channel_type, channel_id, .. } => {
                    let name = spice_core::error::channel_name(channel_type);
                    defmt::info!("session: {=str} channel {=u8} linked", name, channel_id);
                    if channel_type as u32 == SPICE_CHANNEL_MAIN {
                        defmt::info!("timeline: linked");
                        status::done(Step::SpiceLink, "main channel linked");
                        status::done(Step::Authentication, "ticket accepted");
                        status::active(Step::Display, "waiting for the display channel");
                    }
                }
                Event::ChannelClosed { channel_type, channel_id, reason, .. } => {
                    let name = spice_core::error::channel_name(channel_type);
                    let what = format!("{name} channel {channel_id}");
                    defmt::warn!("session: {=str} closed: {=str}", what.as_str(), reason.to_string().as_str());
                    let essential =
                        channel_type as u32 == SPICE_CHANNEL_MAIN || channel_type as u32 == SPICE_CHANNEL_DISPLAY;
                    if essential {
                        return match reason {
                            CloseReason::LinkFailed(e) => link_failure(&e, what),
                            other => Failure {
                                step: if first_frame { Step::Display } else { Step::Connect },
                                detail: format!("{what}: {other}"),
                                hint: "the server (was the VM stopped or the connection taken over?)",
                            },
                        };
                    }
                }
                Event::MouseMode { current, .. } => {
                    client_mouse = current == SPICE_MOUSE_MODE_CLIENT;
                    defmt::info!("session: mouse mode {=str}", if client_mouse { "client" } else { "server" });
                }
                Event::SurfaceResized { width, height, .. } => {
                    defmt::info!("session: remote display {=u32}x{=u32}", width, height);
                }
                Event::Name(n) => status::set_title(n),
                Event::Notify { text, .. } => defmt::info!("server: {=str}", text.as_str()),
                Event::Agent(_) | Event::Uuid(_) => {}
            }
        }

        // 3. New pixels, and the pointer (local position in client mouse
        //    mode, the server's otherwise).
        let dirty = session.take_dirty();
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
                    defmt::info!("timeline: first frame {=u32}x{=u32}", surface.width, surface.height);
                    status::done(Step::Display, format!("{}x{}", surface.width, surface.height));
                }
                let shape = session.cursor().and_then(|c| c.shape.as_deref());
                let view = cursor_pos.zip(shape).map(|((x, y), shape)| presenter::CursorView { x, y, shape });
                presenter::present(surface, dirty, view);
                drawn_cursor = cursor_key;
            }
        }

        // Output queued by the events above goes out before we sleep.
        if chans.iter().any(|c| c.open && !session.pending(c.handle).is_empty()) {
            continue;
        }

        // 4. Sleep until a socket has data, input arrives, or a tick passes.
        let readable = poll_fn(|cx| {
            for c in chans.iter().filter(|c| c.open) {
                let f = pin!(c.sock.wait_read_ready());
                if f.poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        });
        match select3(readable, QUEUE.receive(), Timer::after(Duration::from_secs(1))).await {
            Either3::First(()) => {}
            Either3::Second(ev) => {
                apply_input(&mut session, ev, client_mouse, &mut last_pos);
                while let Ok(ev) = QUEUE.try_receive() {
                    apply_input(&mut session, ev, client_mouse, &mut last_pos);
                }
            }
            Either3::Third(()) => {}
        }

        // 5. Feed every readable socket into the session.
        for c in chans.iter_mut().filter(|c| c.open) {
            while c.sock.can_recv() {
                let h = c.handle;
                let r = c
                    .sock
                    .read_with(|buf| {
                        let r = session.receive(h, buf);
                        (buf.len(), r)
                    })
                    .await;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        if matches!(e, SessionError::Link { .. } | SessionError::Config(_)) && h == session.main_handle() {
                            return session_failure(e);
                        }
                        defmt::warn!("session: {=str}", e.to_string().as_str());
                    }
                    Err(_) => break,
                }
            }
            if !c.sock.may_recv() {
                c.open = false;
                session.closed(c.handle);
            }
        }
    }
}

fn internal(what: &str) -> Failure {
    Failure { step: Step::SpiceLink, detail: String::from(what), hint: "the firmware log" }
}

fn spice_button(b: u8) -> u8 {
    (match b {
        0 => SPICE_MOUSE_BUTTON_LEFT,
        1 => SPICE_MOUSE_BUTTON_MIDDLE,
        _ => SPICE_MOUSE_BUTTON_RIGHT,
    }) as u8
}

fn apply_input(session: &mut Session, ev: RemoteInput, client_mouse: bool, last: &mut Option<(u32, u32)>) {
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
        RemoteInput::Button { button, down: true, .. } => session.mouse_press(spice_button(button)),
        RemoteInput::Button { button, down: false, .. } => session.mouse_release(spice_button(button)),
        RemoteInput::Wheel { delta, .. } => {
            let b = if delta > 0 { SPICE_MOUSE_BUTTON_UP } else { SPICE_MOUSE_BUTTON_DOWN } as u8;
            let mut r = Ok(());
            for _ in 0..delta.unsigned_abs().min(10) {
                r = session.mouse_press(b).and_then(|_| session.mouse_release(b));
            }
            r
        }
    };
    if let Err(e) = r {
        defmt::debug!("input dropped: {=str}", e.to_string().as_str());
    }
}
