//! The SPICE session task: drives spice-core's sans-IO `session::Session`
//! over one TCP socket per channel, feeds the presenter with dirty
//! rectangles and forwards local input.
//!
//! While spice-core's session engine is being written this only opens the
//! main channel's connection and waits for it to close, so the kiosk loop,
//! status screen and reconnects can be exercised end to end.
//! Must not: contain protocol bytes; everything on the wire comes from spice-core.

use alloc::format;
use alloc::string::String;
use barespice_board::BoardRng;
use barespice_config::Config;
use embassy_net::{Ipv4Address, Stack};

use crate::connection::{self, Failure};
use crate::status::{self, Step};

/// Connects and runs one session; returns why it ended.
pub async fn run(stack: Stack<'static>, ip: Ipv4Address, port: u16, _cfg: &Config, _rng: &mut BoardRng) -> Failure {
    status::active(Step::Connect, format!("{ip}:{port}"));
    let (mut rx, mut tx) = connection::buffers();
    let mut sock = match connection::open(stack, ip, port, &mut rx, &mut tx).await {
        Ok(s) => s,
        Err(f) => return f,
    };
    status::done(Step::Connect, format!("{ip}:{port}"));
    status::active(Step::SpiceLink, "waiting for spice-core's session engine");
    let mut buf = [0u8; 512];
    loop {
        match sock.read(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Failure {
        step: Step::SpiceLink,
        detail: String::from("connection closed by the server"),
        hint: "the server's log",
    }
}
