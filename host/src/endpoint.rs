//! Where and how each channel connects: the server's plain and TLS ports,
//! an optional HTTP CONNECT proxy, and the trust rules for TLS; the
//! blocking socket work for one channel (TCP connect, proxy answer, TLS
//! handshake) around barespice-transport's sans-IO pieces.
//!
//! Owns turning `--server` or a `.vv` file into an [`Endpoint`]. Must not:
//! speak SPICE (client.rs / spice-core do) or print secrets.

use barespice_transport::proxy::{self, ProxyAddr};
use barespice_transport::{Clock, Failure, TlsClient, Trust};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest wait for a TCP connect, the proxy's answer or a TLS handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The host's clock (always known).
#[derive(Debug)]
struct SystemClock;

impl Clock for SystemClock {
    fn unix_now(&self) -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

/// Everything needed to connect any channel of one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Server host as given (never resolved locally when a proxy is set).
    pub host: String,
    /// Plain SPICE port.
    pub port: Option<u16>,
    /// TLS SPICE port.
    pub tls_port: Option<u16>,
    /// HTTP CONNECT proxy.
    pub proxy: Option<ProxyAddr>,
    /// What to trust on TLS channels.
    pub trust: Trust,
    /// Channel names that must use TLS (`secure-channels`; `all`).
    pub secure_channels: Vec<String>,
}

/// One connected channel: the socket and, on TLS channels, its TLS state.
pub struct Link {
    /// The TCP connection (to the server or through the proxy).
    pub stream: TcpStream,
    /// TLS client state when the channel is secured.
    pub tls: Option<TlsClient>,
    /// How long the TLS handshake took.
    pub handshake: Option<Duration>,
}

/// Reads a connection file as remote-viewer does: every key honoured,
/// issues reported on stderr, the file deleted after reading when it says
/// `delete-this-file=1`. Returns the endpoint and the password.
pub fn from_vv(path: &std::path::Path) -> Result<(Endpoint, String), String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read connection file {}: {e}", path.display()))?;
    let (mut cfg, issues) = barespice_config::load(&bytes, "");
    for i in &issues {
        eprintln!("barespice-host: warning: {}: {i}", path.display());
    }
    if cfg.pve.enabled() {
        if let Some(why) = cfg.pve.missing() {
            return Err(format!("{}: {why}", path.display()));
        }
        let vv = crate::pve::fetch_ticket(&cfg.pve)?;
        cfg = barespice_config::load(vv.as_bytes(), "").0;
    }
    if cfg.delete_this_file {
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot delete {} (delete-this-file=1): {e}", path.display()))?;
    }
    if let Some(why) = cfg.missing() {
        return Err(format!("{}: {why}", path.display()));
    }
    let proxy = match &cfg.proxy {
        Some(p) => {
            Some(ProxyAddr::parse(p).map_err(|e| format!("{}: proxy={p}: {e}", path.display()))?)
        }
        None => None,
    };
    let host = cfg.host.clone().unwrap_or_default();
    let trust = Trust {
        ca_pem: cfg.ca.clone(),
        host_subject: cfg.host_subject.clone(),
        pubkey_sha256: cfg
            .pubkey_sha256
            .as_deref()
            .and_then(barespice_transport::cert::parse_pin),
        host: host.clone(),
    };
    let endpoint = Endpoint {
        host,
        port: cfg.port,
        tls_port: cfg.tls_port,
        proxy,
        trust,
        secure_channels: cfg.secure_channels.clone(),
    };
    Ok((endpoint, cfg.password))
}

/// `--server HOST:PORT`: plain channels, no proxy.
pub fn from_server(server: &str) -> Result<Endpoint, String> {
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| format!("--server {server}: expected HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("--server {server}: bad port"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Endpoint {
        trust: Trust {
            host: host.clone(),
            ..Trust::default()
        },
        host,
        port: Some(port),
        tls_port: None,
        proxy: None,
        secure_channels: Vec::new(),
    })
}

fn io_failure(target: &str, e: &std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::ConnectionRefused => Failure::Refused {
            target: target.to_string(),
        },
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::Unreachable {
            target: target.to_string(),
            detail: "timed out".into(),
        },
        _ => Failure::Unreachable {
            target: target.to_string(),
            detail: e.to_string(),
        },
    }
}

/// TCP connect to `host:port` (every resolved address, 10 s each).
fn tcp(host: &str, port: u16) -> Result<TcpStream, Failure> {
    let target = format!("{host}:{port}");
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Unreachable {
            target: target.clone(),
            detail: format!("cannot resolve: {e}"),
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, STEP_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => io_failure(&target, &e),
        None => Failure::Unreachable {
            target,
            detail: "no address".into(),
        },
    })
}

impl Endpoint {
    /// Whether `channel` (spice-core's name: "main", "display", ...) starts on TLS.
    pub fn wants_tls(&self, channel: &str) -> bool {
        barespice_config::channel_wants_tls(self.port, &self.secure_channels, channel)
    }

    /// Connects one channel, through the proxy when set, with TLS when `tls`.
    pub fn connect(&self, tls: bool) -> Result<Link, Failure> {
        let port = if tls { self.tls_port } else { self.port };
        let Some(port) = port else {
            return Err(if tls {
                Failure::Protocol {
                    detail: "the server requires TLS but the connection has no tls-port".into(),
                }
            } else {
                Failure::Protocol {
                    detail: "no plain port for this channel".into(),
                }
            });
        };
        let mut tls_client = if tls {
            Some(TlsClient::new(&self.trust, Arc::new(SystemClock), 0)?)
        } else {
            None
        };
        let mut stream = match &self.proxy {
            Some(p) => self.through_proxy(p, port)?,
            None => tcp(&self.host, port)?,
        };
        let target = format!("{}:{port}", self.host);
        let mut handshake = None;
        if let Some(t) = tls_client.as_mut() {
            let start = std::time::Instant::now();
            let _ = stream.set_read_timeout(Some(STEP_TIMEOUT));
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                if !t.outgoing().is_empty() {
                    stream
                        .write_all(t.outgoing())
                        .map_err(|e| io_failure(&target, &e))?;
                    let n = t.outgoing().len();
                    t.consume(n);
                }
                if t.is_established() {
                    break;
                }
                match stream.read(&mut buf) {
                    Ok(0) => return Err(Failure::Protocol { detail: format!("{target} closed the connection during the TLS handshake (is this the TLS port?)") }),
                    Ok(n) => t.receive(&buf[..n])?,
                    Err(e) => return Err(io_failure(&target, &e)),
                }
            }
            let _ = stream.set_read_timeout(None);
            handshake = Some(start.elapsed());
        }
        Ok(Link {
            stream,
            tls: tls_client,
            handshake,
        })
    }

    /// TCP to the proxy, CONNECT to `host:port`, wait for its 200.
    fn through_proxy(&self, p: &ProxyAddr, port: u16) -> Result<TcpStream, Failure> {
        let mut s = tcp(&p.host, p.port)?;
        let name = format!("{}:{}", p.host, p.port);
        s.write_all(&proxy::connect_request(&self.host, port))
            .map_err(|e| io_failure(&name, &e))?;
        let _ = s.set_read_timeout(Some(STEP_TIMEOUT));
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte: nothing after the answer's blank line may be consumed
        // here (SPICE and TLS clients speak first, so nothing should follow).
        loop {
            match s.read(&mut byte) {
                Ok(0) => {
                    return Err(Failure::ProxyRefused {
                        proxy: name,
                        status: "closed without an answer".into(),
                    })
                }
                Ok(_) => answer.push(byte[0]),
                Err(e) => return Err(io_failure(&name, &e)),
            }
            if proxy::parse_response(&answer, &name)?.is_some() {
                break;
            }
        }
        let _ = s.set_read_timeout(None);
        Ok(s)
    }
}
