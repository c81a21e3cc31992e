//! The Proxmox VE API client, sans-IO: the HTTP/1.1 requests a kiosk sends
//! to `https://HOST:8006/api2/json/...` and the bounded reading of the
//! answers, for the four calls of the (re)connect flow:
//!
//! 1. `GET /api2/json/cluster/resources?type=vm` — find a VM by name;
//! 2. `GET /api2/json/nodes/{node}/qemu/{vmid}/status/current` — running?
//! 3. `POST /api2/json/nodes/{node}/qemu/{vmid}/status/start` — start it
//!    (then poll 2.);
//! 4. `POST /api2/json/nodes/{node}/qemu/{vmid}/spiceproxy` — a fresh
//!    one-time connection description ([`SpiceTicket`]).
//!
//! Every request authenticates with an API token
//! (`Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`). The caller
//! carries the bytes over a [`crate::TlsClient`] connection with the API's
//! trust ([`crate::Trust`]: CA PEM or key pin) and feeds the answer to a
//! [`ResponseReader`].
//!
//! Owns: request bytes, HTTP response framing (Content-Length, chunked, or
//! until close; at most [`MAX_RESPONSE`] bytes), the JSON fields read, and
//! what each Proxmox error answer means ([`ApiError`]). Must not: do I/O,
//! read clocks, or let the token secret or the ticket password reach a log
//! line or an error text (their `Debug` is masked).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::Failure;

pub mod flow;

/// Largest API answer read (headers + body); `cluster/resources` of a large
/// cluster fits comfortably.
pub const MAX_RESPONSE: usize = 512 * 1024;
/// Longest header block read.
const MAX_HEADER: usize = 16 * 1024;

/// A Proxmox API token: `USER@REALM!TOKENID` and its secret (a UUID).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    id: String,
    secret: String,
}

impl ApiToken {
    /// Checks the shape `USER@REALM!TOKENID` and a non-empty secret without
    /// spaces or control characters (it goes into a header line).
    pub fn new(id: &str, secret: &str) -> Result<Self, &'static str> {
        let (user, token) = id
            .split_once('!')
            .ok_or("API token id must be USER@REALM!TOKENID")?;
        if !user.contains('@')
            || token.is_empty()
            || !id.bytes().all(|b| b.is_ascii_graphic() && b != b'=')
        {
            return Err("API token id must be USER@REALM!TOKENID");
        }
        if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("API token secret must be printable text without spaces");
        }
        Ok(Self {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The token id (`USER@REALM!TOKENID`); safe to show.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiToken({}=********)", self.id)
    }
}

/// Which VM: node + id, as in every `/nodes/{node}/qemu/{vmid}` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmRef {
    /// Cluster node name.
    pub node: String,
    /// VM id (100..999999999 in Proxmox).
    pub vmid: u32,
}

impl VmRef {
    /// Checks the node name is a host-name label (it goes into a path).
    pub fn new(node: &str, vmid: u32) -> Result<Self, &'static str> {
        if node.is_empty()
            || node.len() > 63
            || !node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err("node must be a Proxmox node name (letters, digits, '-', '.')");
        }
        Ok(Self {
            node: node.to_string(),
            vmid,
        })
    }

    fn path(&self, tail: &str) -> String {
        format!("/api2/json/nodes/{}/qemu/{}/{tail}", self.node, self.vmid)
    }
}

/// Builds the requests for one API server.
#[derive(Clone, Debug)]
pub struct Api {
    /// `HOST:PORT` for the `Host:` header.
    authority: String,
    token: ApiToken,
}

impl Api {
    /// `authority` is the API's `HOST:PORT` (see [`parse_api_url`]).
    pub fn new(authority: &str, token: ApiToken) -> Self {
        Self {
            authority: authority.to_string(),
            token,
        }
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Vec<u8> {
        let mut r = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: barespice\r\nAccept: application/json\r\n\
             Authorization: PVEAPIToken={}={}\r\nConnection: close\r\n",
            self.authority, self.token.id, self.token.secret
        );
        if method == "POST" {
            r.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            r.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        r.push_str("\r\n");
        r.push_str(body);
        r.into_bytes()
    }

    /// `GET /api2/json/cluster/resources?type=vm` (name look-up).
    pub fn resources(&self) -> Vec<u8> {
        self.request("GET", "/api2/json/cluster/resources?type=vm", "")
    }

    /// `GET .../status/current`.
    pub fn status(&self, vm: &VmRef) -> Vec<u8> {
        self.request("GET", &vm.path("status/current"), "")
    }

    /// `POST .../status/start`.
    pub fn start(&self, vm: &VmRef) -> Vec<u8> {
        self.request("POST", &vm.path("status/start"), "")
    }

    /// `POST .../spiceproxy`; `proxy` is the address the client reaches
    /// spiceproxy at (Proxmox's `proxy` parameter; the node's own address
    /// when `None`).
    pub fn spiceproxy(&self, vm: &VmRef, proxy: Option<&str>) -> Vec<u8> {
        let body = match proxy {
            Some(p) => format!("proxy={}", form_encode(p)),
            None => String::new(),
        };
        self.request("POST", &vm.path("spiceproxy"), &body)
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `https://HOST[:PORT][/]` into host and port (8006 when missing).
pub fn parse_api_url(url: &str) -> Result<(String, u16), &'static str> {
    let rest = url
        .trim()
        .strip_prefix("https://")
        .ok_or("the Proxmox API address must start with https://")?;
    let rest = rest.split('/').next().unwrap_or("");
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>().map_err(|_| "API port must be 1..65535")?,
        ),
        None => (rest, 8006),
    };
    if host.is_empty() || port == 0 || host.contains(['@', ' ']) {
        return Err("the Proxmox API address must be https://HOST:8006");
    }
    Ok((host.to_string(), port))
}

/// Why an API call did not give what the kiosk needs, in words for the
/// status screen. Never contains the token secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// 401: the token id or secret is wrong, or the token was removed.
    TokenRefused,
    /// 403: the token lacks a privilege; Proxmox names it in the reason,
    /// e.g. `Permission check failed (/vms/104, VM.Console)`.
    PermissionDenied {
        /// The reason phrase (path and privilege).
        detail: String,
    },
    /// The VM (or the node) does not exist, or the name matches no VM.
    VmNotFound {
        /// What was looked for and what Proxmox said.
        detail: String,
    },
    /// The name matches more than one VM.
    Ambiguous {
        /// The name.
        name: String,
    },
    /// 595 (or 501/502): the API node could not reach the VM's node.
    NodeUnreachable {
        /// Proxmox's reason phrase.
        detail: String,
    },
    /// The VM is stopped and starting it is not allowed.
    Stopped,
    /// The VM was started but did not report `running` in time.
    StartTimeout {
        /// The VM id.
        vmid: u32,
        /// How long the kiosk waited.
        secs: u32,
    },
    /// Any other HTTP error status.
    Http {
        /// Status code.
        code: u16,
        /// Reason phrase (control characters removed).
        reason: String,
    },
    /// The answer is not HTTP/JSON of the expected shape, or too large.
    Malformed(&'static str),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenRefused => f.write_str(
                "Proxmox refused the API token (401): check the token id USER@REALM!TOKENID and its secret",
            ),
            Self::PermissionDenied { detail } => write!(
                f,
                "the API token lacks a permission (403 {detail}): give its role VM.Audit + VM.Console (+ VM.PowerMgmt) on /vms/VMID"
            ),
            Self::VmNotFound { detail } => write!(f, "VM not found: {detail}"),
            Self::Ambiguous { name } => write!(f, "more than one VM is named {name}: set the VM id instead"),
            Self::NodeUnreachable { detail } => write!(f, "Proxmox cannot reach the VM's node: {detail}"),
            Self::Stopped => f.write_str("the VM is stopped and starting it is not allowed (pve-start=0)"),
            Self::StartTimeout { vmid, secs } => write!(f, "VM {vmid} did not start within {secs} s"),
            Self::Http { code, reason } => write!(f, "Proxmox API answered {code} {reason}"),
            Self::Malformed(what) => write!(f, "the Proxmox API answer is malformed: {what}"),
        }
    }
}

impl ApiError {
    /// What to check, one short phrase naming the configuration keys.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::TokenRefused => "x-barespice-pve-token and x-barespice-pve-secret (Datacenter > Permissions > API Tokens)",
            Self::PermissionDenied { .. } => "the API token's role on /vms/VMID (and privilege separation)",
            Self::VmNotFound { .. } | Self::Ambiguous { .. } => {
                "x-barespice-pve-node + x-barespice-pve-vmid, or x-barespice-pve-vm-name"
            }
            Self::NodeUnreachable { .. } => "that the VM's node is up and part of the cluster",
            Self::Stopped => "x-barespice-pve-start=1, or start the VM in Proxmox",
            Self::StartTimeout { .. } => "the VM's start task log in Proxmox",
            Self::Http { .. } | Self::Malformed(_) => {
                "that x-barespice-pve-api points at the Proxmox API (port 8006)"
            }
        }
    }
}

/// A failure connecting to the API (TCP, TLS, trust), in the transport's
/// words but naming the API's own trust keys (`x-barespice-pve-ca`,
/// `x-barespice-pve-pubkey-sha256`), prefixed `Proxmox API: `.
pub fn api_failure_text(f: &Failure) -> String {
    format!("Proxmox API: {f}")
        .replace("x-barespice-pubkey-sha256", "x-barespice-pve-pubkey-sha256")
        .replace("(ca=)", "(x-barespice-pve-ca=)")
}

/// What to check for an API connection failure (see [`api_failure_text`]).
pub fn api_failure_hint(f: &Failure) -> &'static str {
    match f {
        Failure::Unreachable { .. } | Failure::Refused { .. } => {
            "x-barespice-pve-api (https://HOST:8006) and that the API is reachable from here"
        }
        Failure::NoTrustAnchor | Failure::Untrusted { .. } => {
            "x-barespice-pve-ca (the cluster CA, PEM) or x-barespice-pve-pubkey-sha256 (the API certificate's key)"
        }
        Failure::NameMismatch { .. } => {
            "the host in x-barespice-pve-api must be in the API certificate (or use x-barespice-pve-pubkey-sha256)"
        }
        _ => f.hint(),
    }
}

/// A complete HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub code: u16,
    /// Reason phrase, printable ASCII only.
    pub reason: String,
    /// De-chunked body.
    pub body: Vec<u8>,
}

/// Collects an HTTP/1.1 answer as bytes arrive.
#[derive(Default)]
pub struct ResponseReader {
    buf: Vec<u8>,
}

impl ResponseReader {
    /// A reader with nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; `Ok(Some)` once the answer is complete by its own
    /// framing (Content-Length or chunked).
    pub fn push(&mut self, data: &[u8]) -> Result<Option<Response>, ApiError> {
        if self.buf.len() + data.len() > MAX_RESPONSE {
            return Err(ApiError::Malformed("answer larger than 512 KiB"));
        }
        self.buf.extend_from_slice(data);
        self.parse(false)
    }

    /// The connection closed: the answer must be complete now (a body
    /// without length ends here).
    pub fn finish(&mut self) -> Result<Response, ApiError> {
        self.parse(true)?
            .ok_or(ApiError::Malformed("connection closed mid-answer"))
    }

    fn parse(&self, closed: bool) -> Result<Option<Response>, ApiError> {
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEADER {
                return Err(ApiError::Malformed("header block too long"));
            }
            return Ok(None);
        };
        let head = core::str::from_utf8(&self.buf[..end])
            .map_err(|_| ApiError::Malformed("header is not text"))?;
        let rest = &self.buf[end + 4..];
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("");
        let mut parts = status.splitn(3, ' ');
        if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
            return Err(ApiError::Malformed("not an HTTP/1.x answer"));
        }
        let code: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..1000).contains(c))
            .ok_or(ApiError::Malformed("bad status code"))?;
        let reason: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(200)
            .collect();
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = Some(
                    v.parse::<usize>()
                        .map_err(|_| ApiError::Malformed("bad Content-Length"))?,
                );
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            }
        }
        let body = if chunked {
            match dechunk(rest)? {
                Some(b) => b,
                None if closed => return Err(ApiError::Malformed("connection closed mid-chunk")),
                None => return Ok(None),
            }
        } else if let Some(n) = length {
            if n > MAX_RESPONSE {
                return Err(ApiError::Malformed("answer larger than 512 KiB"));
            }
            match rest.get(..n) {
                Some(b) => b.to_vec(),
                None if closed => {
                    return Err(ApiError::Malformed(
                        "connection closed before Content-Length bytes",
                    ))
                }
                None => return Ok(None),
            }
        } else if closed {
            rest.to_vec()
        } else {
            return Ok(None);
        };
        Ok(Some(Response { code, reason, body }))
    }
}

/// De-chunks a complete chunked body; `Ok(None)` when more bytes are needed.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return if data.len() > 64 {
                Err(ApiError::Malformed("bad chunk size line"))
            } else {
                Ok(None)
            };
        };
        let line = core::str::from_utf8(&data[..eol])
            .map_err(|_| ApiError::Malformed("bad chunk size line"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ApiError::Malformed("bad chunk size"))?;
        if size > MAX_RESPONSE {
            return Err(ApiError::Malformed("chunk larger than 512 KiB"));
        }
        data = &data[eol + 2..];
        if size == 0 {
            // Trailers are not used by Proxmox; the final CRLF may still be in flight.
            return Ok(Some(out));
        }
        let Some(chunk) = data.get(..size) else {
            return Ok(None);
        };
        out.extend_from_slice(chunk);
        match data.get(size..size + 2) {
            Some(b"\r\n") => data = &data[size + 2..],
            Some(_) => return Err(ApiError::Malformed("chunk not followed by CRLF")),
            None => return Ok(None),
        }
    }
}

/// The `data` member of a successful answer, or what the error status means.
fn data(resp: &Response, what: &str) -> Result<Value, ApiError> {
    match resp.code {
        200..=299 => {}
        401 => return Err(ApiError::TokenRefused),
        403 => {
            return Err(ApiError::PermissionDenied {
                detail: resp.reason.clone(),
            })
        }
        500 if resp.reason.contains("does not exist") || resp.reason.contains("no such VM") => {
            return Err(ApiError::VmNotFound {
                detail: format!("{what}: {}", resp.reason),
            })
        }
        404 => {
            return Err(ApiError::VmNotFound {
                detail: format!("{what}: {}", resp.reason),
            })
        }
        501 | 502 | 595 | 596 => {
            return Err(ApiError::NodeUnreachable {
                detail: resp.reason.clone(),
            })
        }
        code => {
            return Err(ApiError::Http {
                code,
                reason: resp.reason.clone(),
            })
        }
    }
    let mut v: Value =
        serde_json::from_slice(&resp.body).map_err(|_| ApiError::Malformed("body is not JSON"))?;
    match v.get_mut("data").map(Value::take) {
        Some(d) => Ok(d),
        None => Err(ApiError::Malformed("no \"data\" member")),
    }
}

/// `status/current`: whether the VM runs (`"status":"running"`).
pub fn parse_status(resp: &Response, vm: &VmRef) -> Result<bool, ApiError> {
    let d = data(resp, &format!("VM {} on node {}", vm.vmid, vm.node))?;
    match d.get("status").and_then(Value::as_str) {
        Some(s) => Ok(s == "running"),
        None => Err(ApiError::Malformed("status/current without \"status\"")),
    }
}

/// `status/start`: the task id (UPID) Proxmox queued.
pub fn parse_start(resp: &Response, vm: &VmRef) -> Result<String, ApiError> {
    let d = data(resp, &format!("VM {} on node {}", vm.vmid, vm.node))?;
    d.as_str()
        .map(|s| s.chars().take(200).collect())
        .ok_or(ApiError::Malformed("status/start without a task id"))
}

/// `cluster/resources?type=vm`: the one QEMU VM named `name`.
pub fn find_vm(resp: &Response, name: &str) -> Result<VmRef, ApiError> {
    let d = data(resp, "cluster/resources")?;
    let list = d
        .as_array()
        .ok_or(ApiError::Malformed("cluster/resources is not a list"))?;
    let mut found = None;
    for r in list {
        if r.get("type").and_then(Value::as_str) != Some("qemu")
            || r.get("name").and_then(Value::as_str) != Some(name)
        {
            continue;
        }
        if found.is_some() {
            return Err(ApiError::Ambiguous {
                name: name.to_string(),
            });
        }
        let node = r
            .get("node")
            .and_then(Value::as_str)
            .ok_or(ApiError::Malformed("resource without node"))?;
        let vmid = r
            .get("vmid")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(ApiError::Malformed("resource without vmid"))?;
        found = Some(
            VmRef::new(node, vmid)
                .map_err(|_| ApiError::Malformed("resource with a bad node name"))?,
        );
    }
    found.ok_or_else(|| ApiError::VmNotFound {
        detail: format!("no QEMU VM named {name} in cluster/resources"),
    })
}

/// What `spiceproxy` returns: a one-time `.vv` description.
#[derive(Clone, PartialEq, Eq)]
pub struct SpiceTicket {
    /// `host`: `pvespiceproxy:...` ticket routed by the proxy.
    pub host: String,
    /// `proxy`: `http://NODE:3128`.
    pub proxy: Option<String>,
    /// `tls-port`.
    pub tls_port: u16,
    /// `password`: the one-time ticket password.
    pub password: String,
    /// `ca`: the cluster CA, PEM.
    pub ca: Option<String>,
    /// `host-subject`.
    pub host_subject: Option<String>,
    /// `title`.
    pub title: Option<String>,
}

impl fmt::Debug for SpiceTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpiceTicket")
            .field("host", &self.host)
            .field("proxy", &self.proxy)
            .field("tls_port", &self.tls_port)
            .field("password", &"********")
            .field("host_subject", &self.host_subject)
            .finish_non_exhaustive()
    }
}

impl SpiceTicket {
    /// The same description as `.vv` text (`[virt-viewer]`, GKeyFile
    /// escapes), ready for the configuration loader of the connect path.
    pub fn to_vv(&self) -> String {
        let mut out = String::from("[virt-viewer]\ntype=spice\n");
        let mut put = |k: &str, v: &str| {
            out.push_str(k);
            out.push('=');
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('\n');
        };
        put("host", &self.host);
        put("tls-port", &self.tls_port.to_string());
        put("password", &self.password);
        put("secure-channels", "all");
        for (k, v) in [
            ("proxy", &self.proxy),
            ("ca", &self.ca),
            ("host-subject", &self.host_subject),
            ("title", &self.title),
        ] {
            if let Some(v) = v {
                put(k, v);
            }
        }
        out
    }
}

/// `spiceproxy`: the connection description.
pub fn parse_spiceproxy(resp: &Response, vm: &VmRef) -> Result<SpiceTicket, ApiError> {
    let d = data(resp, &format!("VM {} on node {}", vm.vmid, vm.node))?;
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let host = text("host")
        .filter(|h| !h.is_empty())
        .ok_or(ApiError::Malformed("spiceproxy without host"))?;
    let tls_port = match d.get("tls-port") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .and_then(|p| u16::try_from(p).ok())
    .filter(|p| *p != 0)
    .ok_or(ApiError::Malformed("spiceproxy without a tls-port"))?;
    let password = text("password").ok_or(ApiError::Malformed("spiceproxy without password"))?;
    if host.chars().chain(password.chars()).any(char::is_control) {
        return Err(ApiError::Malformed(
            "control characters in host or password",
        ));
    }
    Ok(SpiceTicket {
        host,
        proxy: text("proxy"),
        tls_port,
        password,
        ca: text("ca"),
        host_subject: text("host-subject"),
        title: text("title"),
    })
}

#[cfg(test)]
mod tests;
