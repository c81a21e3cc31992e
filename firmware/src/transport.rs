//! One SPICE channel's transport, shared by the kiosk loop (`connection`)
//! and the session (`session`): where a session connects ([`Route`]), why an
//! attempt ended ([`Failure`], shown on the status screen), and opening one
//! channel's connection: TCP, then HTTP CONNECT through `proxy=`, then TLS
//! on secured channels (barespice-transport's sans-IO pieces); the TCP open
//! and TLS handshake are also used for the Proxmox API (`pve`).
//! Must not: parse or build SPICE messages (spice-core's session does), or
//! decide when to reconnect (`connection` does).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use barespice_transport::proxy;
use barespice_transport::{TlsClient, Trust};
use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::{Ipv4Address, Stack};
use embassy_time::{Duration, Instant};

use crate::status::Step;

/// TCP receive buffer per channel socket (display traffic is bursty).
const RX_BUF: usize = 64 * 1024;
/// TCP transmit buffer per channel socket.
const TX_BUF: usize = 16 * 1024;
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
/// Where every channel of a session connects, and how.
pub struct Route {
    /// Address the TCP connection goes to: the server, or the proxy.
    pub addr: Ipv4Address,
    /// With a proxy: its `host:port` for messages (the SPICE host is then
    /// only named to the proxy, never resolved here).
    pub proxy: Option<String>,
    /// Proxy port (with `proxy`).
    pub proxy_port: u16,
    /// SPICE host as the connection file names it.
    pub host: String,
    /// Plain SPICE port.
    pub port: Option<u16>,
    /// TLS SPICE port.
    pub tls_port: Option<u16>,
    /// What TLS channels trust.
    pub trust: Trust,
}

/// A transport failure (barespice-transport's wording) on the status screen.
pub fn from_transport(f: barespice_transport::Failure) -> Failure {
    let step = match f {
        barespice_transport::Failure::Authentication => Step::Authentication,
        barespice_transport::Failure::Protocol { .. } => Step::SpiceLink,
        _ => Step::Connect,
    };
    Failure {
        step,
        hint: f.hint(),
        detail: format!("{f}"),
    }
}
/// One channel's connection: the socket and, on a TLS channel, its state.
pub struct Conn<'a> {
    /// The TCP socket (to the server or through the proxy).
    pub sock: TcpSocket<'a>,
    /// TLS client state on secured channels.
    pub tls: Option<TlsClient>,
}

/// Connects one channel (`name` for the log): TCP, the proxy's CONNECT,
/// then the TLS handshake when `tls`.
pub async fn open_channel<'a>(
    stack: Stack<'static>,
    route: &Route,
    name: &str,
    tls: bool,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> Result<Conn<'a>, Failure> {
    let port = if tls { route.tls_port } else { route.port };
    let Some(port) = port else {
        return Err(Failure {
            step: Step::Connect,
            detail: format!("{name} channel: the server requires TLS but there is no tls-port"),
            hint: "tls-port= in the .vv file",
        });
    };
    let mut tls_client = match tls {
        true => Some(
            TlsClient::new(
                &route.trust,
                Arc::new(crate::clock::FirmwareClock),
                crate::clock::build_time(),
            )
            .map_err(from_transport)?,
        ),
        false => None,
    };
    let mut sock = match &route.proxy {
        Some(p) => {
            let mut sock = open(stack, route.addr, route.proxy_port, rx, tx)
                .await
                .map_err(|e| connect_failure(route.addr, route.proxy_port, e))?;
            write_all(&mut sock, &proxy::connect_request(&route.host, port))
                .await
                .map_err(|_| closed(p))?;
            let mut answer = Vec::new();
            let mut byte = [0u8; 1];
            // Byte by byte so nothing after the answer is consumed here.
            loop {
                match embassy_time::with_timeout(Duration::from_secs(10), sock.read(&mut byte))
                    .await
                {
                    Ok(Ok(1)) => answer.push(byte[0]),
                    _ => return Err(closed(p)),
                }
                if proxy::parse_response(&answer, p)
                    .map_err(from_transport)?
                    .is_some()
                {
                    break;
                }
            }
            sock
        }
        None => open(stack, route.addr, port, rx, tx)
            .await
            .map_err(|e| connect_failure(route.addr, port, e))?,
    };
    if let Some(t) = tls_client.as_mut() {
        let target = format!("{}:{port}", route.host);
        let fail = |detail: String| Failure {
            step: Step::Connect,
            detail,
            hint: "that tls-port is the server's TLS port",
        };
        match handshake(&mut sock, t, name).await {
            Ok(()) => {}
            Err(HandshakeError::Tls(f)) => return Err(from_transport(f)),
            Err(HandshakeError::Closed) => {
                return Err(fail(format!(
                    "{target}: connection closed in the TLS handshake"
                )))
            }
            Err(HandshakeError::TimedOut) => {
                return Err(fail(format!("{target}: TLS handshake timed out")))
            }
        }
    }
    Ok(Conn {
        sock,
        tls: tls_client,
    })
}

fn closed(proxy: &str) -> Failure {
    from_transport(barespice_transport::Failure::ProxyRefused {
        proxy: String::from(proxy),
        status: String::from("closed without an answer"),
    })
}

/// Writes all of `data` (false if the connection ended).
pub async fn write_all(sock: &mut TcpSocket<'_>, mut data: &[u8]) -> Result<(), ()> {
    while !data.is_empty() {
        match sock.write(data).await {
            Ok(0) | Err(_) => return Err(()),
            Ok(n) => data = data.get(n..).unwrap_or(&[]),
        }
    }
    Ok(())
}

/// A TCP connect error in a few words ("connection refused", ...).
pub fn connect_error_text(e: ConnectError) -> &'static str {
    match e {
        ConnectError::ConnectionReset => "connection refused",
        ConnectError::TimedOut => "timed out",
        ConnectError::NoRoute => "no route to host",
        ConnectError::InvalidState => "socket busy",
    }
}

/// Opens one TCP connection (a SPICE channel, a proxy, the Proxmox API).
pub async fn open<'a>(
    stack: Stack<'static>,
    ip: Ipv4Address,
    port: u16,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> Result<TcpSocket<'a>, ConnectError> {
    let mut sock = TcpSocket::new(stack, rx, tx);
    defmt::debug!(
        "tcp: rx buffer {=usize} bytes, tx {=usize}",
        sock.recv_capacity(),
        sock.send_capacity()
    );
    sock.set_timeout(Some(Duration::from_secs(20)));
    sock.connect((ip, port)).await?;
    sock.set_timeout(None);
    sock.set_keep_alive(Some(Duration::from_secs(10)));
    // Interactive traffic (input, acks): do not hold small segments back.
    sock.set_nagle_enabled(false);
    Ok(sock)
}

/// A SPICE (or proxy) TCP connection that could not be opened, as the
/// Connect step's failure.
fn connect_failure(ip: Ipv4Address, port: u16, e: ConnectError) -> Failure {
    Failure {
        step: Step::Connect,
        detail: format!("{ip}:{port}: {}", connect_error_text(e)),
        hint: "that the SPICE server runs and listens on this address and port",
    }
}

/// Why a TLS handshake did not finish.
pub enum HandshakeError {
    /// The transport refused (trust, certificate, alert).
    Tls(barespice_transport::Failure),
    /// The peer closed the connection.
    Closed,
    /// No answer within 15 s.
    TimedOut,
}

/// Runs `t`'s handshake over `sock`; logs `timeline: tls NAME channel
/// handshake N ms (VERSION)` when done.
pub async fn handshake(
    sock: &mut TcpSocket<'_>,
    t: &mut TlsClient,
    name: &str,
) -> Result<(), HandshakeError> {
    let start = Instant::now();
    loop {
        if !t.outgoing().is_empty() {
            write_all(sock, t.outgoing())
                .await
                .map_err(|_| HandshakeError::Closed)?;
            let n = t.outgoing().len();
            t.consume(n);
        }
        if t.is_established() {
            break;
        }
        let mut buf = [0u8; 2048];
        match embassy_time::with_timeout(Duration::from_secs(15), sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => t.receive(&buf[..n]).map_err(HandshakeError::Tls)?,
            Ok(_) => return Err(HandshakeError::Closed),
            Err(_) => return Err(HandshakeError::TimedOut),
        }
    }
    let ms = start.elapsed().as_millis();
    defmt::info!(
        "timeline: tls {=str} channel handshake {=u64} ms ({=str})",
        name,
        ms,
        t.version().unwrap_or("TLS")
    );
    Ok(())
}

/// Buffers for one channel socket.
pub fn buffers() -> (alloc::vec::Vec<u8>, alloc::vec::Vec<u8>) {
    (vec![0u8; RX_BUF], vec![0u8; TX_BUF])
}
