//! The Proxmox kiosk flow for barespice-host (issue 17): with
//! `x-barespice-pve-*` keys in the connection file, ask the Proxmox API
//! (HTTPS, the API's own trust) for a fresh one-time ticket — look the VM
//! up by name, read its status, start it when allowed, `spiceproxy` — and
//! hand back the ticket as `.vv` text for the normal connect path.
//!
//! Owns the blocking socket work around `barespice_transport::pve`. Must
//! not: build requests or read answers itself (the transport does), or
//! print the token secret or the ticket password.

use crate::endpoint::Endpoint;
use barespice_config::pve::PveConfig;
use barespice_transport::pve::flow::{Action, Flow, Settings};
use barespice_transport::pve::{self, Response, ResponseReader};
use barespice_transport::Trust;
use std::io::{Read, Write};
use std::time::Duration;

/// Asks the API for a fresh ticket; the `.vv` text of the answer.
pub fn fetch_ticket(p: &PveConfig) -> Result<String, String> {
    let mut flow = Flow::new(&Settings::from_config(p)).map_err(str::to_string)?;
    let host = flow.host().to_string();
    let endpoint = Endpoint {
        trust: Trust {
            ca_pem: p.ca.clone(),
            host_subject: None,
            pubkey_sha256: p
                .pubkey_sha256
                .as_deref()
                .and_then(barespice_transport::cert::parse_pin),
            host: host.clone(),
        },
        host,
        port: None,
        tls_port: Some(flow.port()),
        proxy: None,
        secure_channels: Vec::new(),
    };
    let mut action = flow.begin();
    loop {
        action = match action {
            Action::Call { request, step } => {
                eprintln!("barespice-host: pve: {step}");
                let answer = exchange(&endpoint, &request)?;
                flow.answer(&answer).map_err(|e| e.to_string())?
            }
            Action::Wait { ms } => {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                flow.waited()
            }
            Action::Done(ticket) => return Ok(ticket.to_vv()),
        }
    }
}

/// One request over a fresh TLS connection, the whole answer back.
fn exchange(endpoint: &Endpoint, req: &[u8]) -> Result<Response, String> {
    // The transport names the SPICE keys; here the API's own keys apply.
    let api = |e: barespice_transport::Failure| pve::api_failure_text(&e);
    let mut link = endpoint.connect(true).map_err(api)?;
    let Some(tls) = link.tls.as_mut() else {
        return Err("Proxmox API: no TLS".into());
    };
    tls.send(req).map_err(api)?;
    let _ = link.stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = ResponseReader::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !tls.outgoing().is_empty() {
            link.stream
                .write_all(tls.outgoing())
                .map_err(|e| format!("Proxmox API: {e}"))?;
            let n = tls.outgoing().len();
            tls.consume(n);
        }
        let n = if tls.peer_closed() {
            0
        } else {
            link.stream
                .read(&mut buf)
                .map_err(|e| format!("Proxmox API: {e}"))?
        };
        if n == 0 {
            return reader.finish().map_err(|e| e.to_string());
        }
        tls.receive(&buf[..n]).map_err(api)?;
        if let Some(r) = reader
            .push(&tls.take_plaintext())
            .map_err(|e| e.to_string())?
        {
            return Ok(r);
        }
    }
}
