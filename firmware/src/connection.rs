//! The kiosk connection loop: resolve the server, open the SPICE channels'
//! TCP connections, run the session, and when anything fails show why on
//! the status screen and try again with exponential back-off (1 s doubling
//! up to the configured maximum), resuming by itself.
//! Must not: parse or build SPICE messages (spice-core's session does).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use barespice_board::BoardRng;
use barespice_config::Config;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Stack};
use embassy_time::{Duration, Instant, Timer};

use crate::net;
use crate::presenter;
use crate::status::{self, Step};

/// TCP receive buffer per channel socket (display traffic is bursty).
const RX_BUF: usize = 64 * 1024;
/// TCP transmit buffer per channel socket.
const TX_BUF: usize = 16 * 1024;
/// A session that lasted this long resets the back-off.
const STABLE: Duration = Duration::from_secs(60);

/// Why a connection attempt ended.
#[derive(Debug)]
pub struct Failure {
    /// Step that failed.
    pub step: Step,
    /// What happened.
    pub detail: String,
    /// What to check.
    pub hint: &'static str,
}

/// Runs connection attempts for ever.
#[embassy_executor::task]
pub async fn task(stack: Stack<'static>, cfg: Config, mut rng: BoardRng) {
    net::wait_ready(stack).await;
    let mut backoff = 1u32;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        status::banner(None);
        status::reset_from(Step::ServerAddress);
        let started = Instant::now();
        let failure = attempt_once(stack, &cfg, &mut rng).await;
        crate::heap_log::log("after teardown");
        presenter::show_status();
        status::failed(failure.step, failure.detail, failure.hint);
        if started.elapsed() > STABLE {
            backoff = 1;
        }
        // The banner is only on screen; say it in the log too (tests and headless setups read it).
        defmt::info!("reconnecting in {=u32} s (attempt {=u32})", backoff, attempt + 1);
        for left in (1..=backoff).rev() {
            status::banner(Some(format!("Reconnecting in {left} s (attempt {})", attempt + 1)));
            Timer::after(Duration::from_secs(1)).await;
        }
        backoff = (backoff * 2).min(cfg.reconnect_max_secs.max(1));
    }
}

async fn attempt_once(stack: Stack<'static>, cfg: &Config, rng: &mut BoardRng) -> Failure {
    let host = cfg.host.clone().unwrap_or_default();
    status::active(Step::ServerAddress, host.clone());
    let ip = match net::resolve(stack, &host).await {
        Ok(ip) => ip,
        Err(e) => {
            return Failure {
                step: Step::ServerAddress,
                detail: format!("{host}: {e}"),
                hint: "the host name, and that DHCP hands out a DNS server",
            }
        }
    };
    status::done(Step::ServerAddress, format!("{ip}"));
    let Some(port) = cfg.port else {
        return Failure {
            step: Step::Connect,
            detail: String::from("only tls-port is set; TLS is not supported yet"),
            hint: "set port= (plain SPICE) in the .vv file or spice.port=",
        };
    };
    crate::session::run(stack, ip, port, cfg, rng).await
}

/// Opens one TCP connection to the server (one per SPICE channel).
pub async fn open<'a>(
    stack: Stack<'static>,
    ip: Ipv4Address,
    port: u16,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> Result<TcpSocket<'a>, Failure> {
    let mut sock = TcpSocket::new(stack, rx, tx);
    defmt::debug!("tcp: rx buffer {=usize} bytes, tx {=usize}", sock.recv_capacity(), sock.send_capacity());
    sock.set_timeout(Some(Duration::from_secs(20)));
    match sock.connect((ip, port)).await {
        Ok(()) => {
            sock.set_timeout(None);
            sock.set_keep_alive(Some(Duration::from_secs(10)));
            // Interactive traffic (input, acks): do not hold small segments back.
            sock.set_nagle_enabled(false);
            Ok(sock)
        }
        Err(e) => Err(Failure {
            step: Step::Connect,
            detail: format!(
                "{ip}:{port}: {}",
                match e {
                    embassy_net::tcp::ConnectError::ConnectionReset => "connection refused",
                    embassy_net::tcp::ConnectError::TimedOut => "timed out",
                    embassy_net::tcp::ConnectError::NoRoute => "no route to host",
                    embassy_net::tcp::ConnectError::InvalidState => "socket busy",
                }
            ),
            hint: "that the SPICE server runs and listens on this address and port",
        }),
    }
}

/// Buffers for one channel socket.
pub fn buffers() -> (alloc::vec::Vec<u8>, alloc::vec::Vec<u8>) {
    (vec![0u8; RX_BUF], vec![0u8; TX_BUF])
}
