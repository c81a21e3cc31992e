//! The Proxmox kiosk (issue 17): before every connect and reconnect, a
//! fresh one-time SPICE ticket from the Proxmox API over HTTPS (rustls, the
//! API's own trust: `x-barespice-pve-ca` or `x-barespice-pve-pubkey-sha256`),
//! starting the VM first when it is stopped and `x-barespice-pve-start=1`.
//! Each call is one TLS connection (`Connection: close`); the step texts
//! ("starting VM 104", "asking Proxmox for a ticket") and every failure
//! (token refused, pin mismatch, unknown VM, VM does not start, API
//! unreachable) go to the status screen's "Proxmox API" step.
//!
//! Owns the async socket work around `barespice_transport::pve::flow`.
//! Must not: build requests or read HTTP answers (the transport does), or
//! let the token secret or the ticket password reach a log line or the
//! screen.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use barespice_config::pve::PveConfig;
use barespice_config::Config;
use barespice_transport::pve::flow::{Action, Flow, Settings};
use barespice_transport::pve::{self, ApiError, Response, ResponseReader};
use barespice_transport::{Failure as TransportFailure, TlsClient, Trust};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Stack};
use embassy_time::{with_timeout, Duration, Timer};

use crate::net;
use crate::status::{self, Step};
use crate::transport::{self, Failure, HandshakeError};

/// How long one API answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Socket buffers for an API call (answers are a few KiB).
const RX_BUF: usize = 16 * 1024;
const TX_BUF: usize = 4 * 1024;

/// Where the API is and whom to trust there.
struct ApiConn {
    ip: Ipv4Address,
    port: u16,
    trust: Trust,
}

/// Asks the API for a fresh ticket; `cfg` with the ticket's connection keys
/// (host, proxy, tls-port, password, ca, host-subject) for one session.
pub async fn fresh_config(stack: Stack<'static>, cfg: &Config) -> Result<Config, Failure> {
    let mut flow = Flow::new(&Settings::from_config(&cfg.pve)).map_err(|why| Failure {
        step: Step::Proxmox,
        detail: String::from(why),
        hint: "the x-barespice-pve-* keys",
    })?;
    let host = String::from(flow.host());
    status::active(Step::Proxmox, format!("API {host}:{}", flow.port()));
    let ip = net::resolve(stack, &host).await.map_err(|e| Failure {
        step: Step::Proxmox,
        detail: format!("Proxmox API {host}: {e}"),
        hint: "x-barespice-pve-api, and that DHCP hands out a DNS server",
    })?;
    let api = ApiConn {
        ip,
        port: flow.port(),
        trust: Trust {
            ca_pem: cfg.pve.ca.clone(),
            host_subject: None,
            pubkey_sha256: cfg
                .pve
                .pubkey_sha256
                .as_deref()
                .and_then(barespice_transport::cert::parse_pin),
            host,
        },
    };
    let mut action = flow.begin();
    let ticket = loop {
        action = match action {
            Action::Call { request, step } => {
                status::active(Step::Proxmox, step);
                let answer = call(stack, &api, &request).await?;
                flow.answer(&answer).map_err(refused)?
            }
            Action::Wait { ms } => {
                Timer::after(Duration::from_millis(u64::from(ms))).await;
                flow.waited()
            }
            Action::Done(ticket) => break ticket,
        }
    };
    status::done(
        Step::Proxmox,
        format!(
            "fresh ticket, SPICE via {}",
            ticket.proxy.as_deref().unwrap_or("the node")
        ),
    );
    let (ticketed, issues) = cfg.with_connection(&ticket.to_vv());
    for i in &issues {
        defmt::warn!("pve: ticket: {=str}", format!("{i}").as_str());
    }
    Ok(ticketed)
}

/// What Proxmox's answer means, as a Proxmox step failure.
fn refused(e: ApiError) -> Failure {
    Failure {
        step: Step::Proxmox,
        hint: e.hint(),
        detail: format!("{e}"),
    }
}

/// The kiosk's VM for the title and the configuration step (no secrets):
/// "Proxmox VM 104 on lab" or "Proxmox VM kiosk".
pub fn describe(p: &PveConfig) -> String {
    match (&p.vm_name, &p.node, p.vmid) {
        (Some(name), _, _) => format!("Proxmox VM {name}"),
        (None, Some(node), Some(vmid)) => format!("Proxmox VM {vmid} on {node}"),
        _ => String::from("Proxmox VM ?"),
    }
}

/// A connection failure on the way to the API, in the API's key names.
fn unreachable(f: TransportFailure) -> Failure {
    Failure {
        step: Step::Proxmox,
        hint: pve::api_failure_hint(&f),
        detail: pve::api_failure_text(&f),
    }
}

/// One request over a fresh TLS connection; the whole answer.
async fn call(stack: Stack<'static>, api: &ApiConn, request: &[u8]) -> Result<Response, Failure> {
    let target = format!("{}:{}", api.ip, api.port);
    let (mut rx, mut tx) = (vec![0u8; RX_BUF], vec![0u8; TX_BUF]);
    let mut sock = transport::open(stack, api.ip, api.port, &mut rx, &mut tx)
        .await
        .map_err(|e| {
            unreachable(match e {
                embassy_net::tcp::ConnectError::ConnectionReset => TransportFailure::Refused {
                    target: target.clone(),
                },
                e => TransportFailure::Unreachable {
                    target: target.clone(),
                    detail: String::from(transport::connect_error_text(e)),
                },
            })
        })?;
    let mut tls = TlsClient::new(
        &api.trust,
        Arc::new(crate::clock::FirmwareClock),
        crate::clock::build_time(),
    )
    .map_err(unreachable)?;
    let result = exchange(&mut sock, &mut tls, &target, request).await;
    if result.is_ok() {
        sock.close();
    } else {
        // Say why (a queued TLS alert), then reset, so the API does not
        // wait for the rest of a handshake we gave up.
        if !tls.outgoing().is_empty() {
            let _ = with_timeout(
                Duration::from_secs(1),
                transport::write_all(&mut sock, tls.outgoing()),
            )
            .await;
        }
        sock.abort();
    }
    let _ = with_timeout(Duration::from_secs(1), sock.flush()).await;
    result
}

/// The TLS handshake, the request and its answer on a connected socket.
async fn exchange(
    sock: &mut TcpSocket<'_>,
    tls: &mut TlsClient,
    target: &str,
    request: &[u8],
) -> Result<Response, Failure> {
    let lost = |detail: &str| {
        unreachable(TransportFailure::Unreachable {
            target: String::from(target),
            detail: String::from(detail),
        })
    };
    transport::handshake(sock, tls, "proxmox-api")
        .await
        .map_err(|e| match e {
            HandshakeError::Tls(f) => unreachable(f),
            HandshakeError::Closed => lost("connection closed in the TLS handshake"),
            HandshakeError::TimedOut => lost("TLS handshake timed out"),
        })?;
    tls.send(request).map_err(unreachable)?;
    let mut reader = ResponseReader::new();
    let mut buf = vec![0u8; 4096];
    loop {
        if !tls.outgoing().is_empty() {
            transport::write_all(sock, tls.outgoing())
                .await
                .map_err(|_| lost("connection closed before the request was sent"))?;
            let n = tls.outgoing().len();
            tls.consume(n);
        }
        let n = if tls.peer_closed() {
            0
        } else {
            match with_timeout(ANSWER_TIMEOUT, sock.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => 0,
                Err(_) => return Err(lost("no answer within 30 s")),
            }
        };
        if n == 0 {
            return reader.finish().map_err(refused);
        }
        tls.receive(buf.get(..n).unwrap_or(&[]))
            .map_err(unreachable)?;
        if let Some(r) = reader.push(&tls.take_plaintext()).map_err(refused)? {
            return Ok(r);
        }
    }
}
