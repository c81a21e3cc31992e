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
use barespice_transport::pve::{self, Api, ApiToken, Response, ResponseReader, VmRef};
use barespice_transport::Trust;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// How long a started VM may take to report `running`.
const START_WAIT: Duration = Duration::from_secs(60);

/// Asks the API for a fresh ticket; the `.vv` text of the answer.
pub fn fetch_ticket(p: &PveConfig) -> Result<String, String> {
    let url = p.api.as_deref().unwrap_or_default();
    let (host, port) = pve::parse_api_url(url).map_err(str::to_string)?;
    let token = ApiToken::new(
        p.token_id.as_deref().unwrap_or_default(),
        p.token_secret.as_deref().unwrap_or_default(),
    )
    .map_err(str::to_string)?;
    let api = Api::new(&format!("{host}:{port}"), token);
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
        tls_port: Some(port),
        proxy: None,
        secure_channels: Vec::new(),
    };
    let call = |req: Vec<u8>| exchange(&endpoint, &req);
    let vm = match (&p.vm_name, &p.node, p.vmid) {
        (Some(name), _, _) => {
            eprintln!("barespice-host: pve: looking up VM {name}");
            pve::find_vm(&call(api.resources())?, name).map_err(|e| e.to_string())?
        }
        (None, Some(node), Some(vmid)) => VmRef::new(node, vmid).map_err(str::to_string)?,
        _ => return Err("Proxmox: set pve-vmid= with pve-node=, or pve-vm-name=".into()),
    };
    let running = |r: Response| pve::parse_status(&r, &vm).map_err(|e| e.to_string());
    if !running(call(api.status(&vm))?)? {
        if !p.start {
            return Err(pve::ApiError::Stopped.to_string());
        }
        eprintln!("barespice-host: pve: starting VM {}", vm.vmid);
        pve::parse_start(&call(api.start(&vm))?, &vm).map_err(|e| e.to_string())?;
        let since = Instant::now();
        while !running(call(api.status(&vm))?)? {
            if since.elapsed() > START_WAIT {
                return Err(format!("VM {} did not start within 60 s", vm.vmid));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    eprintln!("barespice-host: pve: asking Proxmox for a ticket");
    let ticket =
        pve::parse_spiceproxy(&call(api.spiceproxy(&vm, None))?, &vm).map_err(|e| e.to_string())?;
    Ok(ticket.to_vv())
}

/// One request over a fresh TLS connection, the whole answer back.
fn exchange(endpoint: &Endpoint, req: &[u8]) -> Result<Response, String> {
    // The transport names the SPICE keys; here the API's own keys apply.
    let api = |e: barespice_transport::Failure| {
        format!("Proxmox API: {e}")
            .replace("x-barespice-pubkey-sha256", "x-barespice-pve-pubkey-sha256")
            .replace("(ca=)", "(x-barespice-pve-ca=)")
    };
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
