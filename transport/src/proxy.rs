//! HTTP CONNECT, sans-IO: the request a client sends to a proxy and the
//! reading of its answer (remote-viewer's `proxy=http://HOST:PORT`).
//!
//! The SPICE host is passed to the proxy as written (never resolved
//! locally) and the `Host:` header carries the same `host:port`, which is
//! what Proxmox's spiceproxy routes by. Owns the request bytes and status
//! parsing. Must not: do I/O.

use alloc::string::String;
use alloc::vec::Vec;

use crate::failure::Failure;

/// Longest proxy answer header we read before giving up.
pub const MAX_RESPONSE: usize = 8192;

/// A `proxy=` value: `http://HOST:PORT` (the scheme may be omitted; port
/// 3128 when missing, as GLib's proxy resolver does for http).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyAddr {
    /// Proxy host name or address.
    pub host: String,
    /// Proxy TCP port.
    pub port: u16,
}

impl ProxyAddr {
    /// Parses `http://HOST[:PORT][/]`; other schemes are refused.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err("only http:// proxies (HTTP CONNECT) are supported"),
            None => s,
        };
        let rest = rest.trim_end_matches('/');
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| "proxy port must be 1..65535")?,
            ),
            None => (rest, 3128),
        };
        if host.is_empty() || port == 0 || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err("proxy must be http://HOST:PORT");
        }
        Ok(Self {
            host: String::from(host),
            port,
        })
    }
}

/// The CONNECT request for `host:port` (HTTP/1.0 like GLib's proxy client,
/// with `Host:` naming the same target).
pub fn connect_request(host: &str, port: u16) -> Vec<u8> {
    alloc::format!(
        "CONNECT {host}:{port} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: barespice\r\n\r\n"
    )
    .into_bytes()
}

/// Reads the proxy's answer from the bytes received so far.
/// `Ok(None)`: not complete yet. `Ok(Some(n))`: tunnel open, the first `n`
/// bytes were the answer (anything after them is the server's). `Err`:
/// refused, with the status line.
pub fn parse_response(buf: &[u8], proxy: &str) -> Result<Option<usize>, Failure> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let Some(end) = end else {
        if buf.len() > MAX_RESPONSE {
            return Err(Failure::ProxyRefused {
                proxy: String::from(proxy),
                status: String::from("answer header too long"),
            });
        }
        return Ok(None);
    };
    let line_end = buf.iter().position(|&b| b == b'\r').unwrap_or(0);
    let line: String = String::from_utf8_lossy(&buf[..line_end])
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mut words = line.split_whitespace();
    let version = words.next().unwrap_or("");
    let code = words.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(Failure::ProxyRefused {
            proxy: String::from(proxy),
            status: alloc::format!("not an HTTP answer: {line}"),
        });
    }
    if code == "200" {
        Ok(Some(end))
    } else {
        Err(Failure::ProxyRefused {
            proxy: String::from(proxy),
            status: line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_values() {
        assert_eq!(
            ProxyAddr::parse("http://pve1:3128").unwrap(),
            ProxyAddr {
                host: "pve1".into(),
                port: 3128
            }
        );
        assert_eq!(
            ProxyAddr::parse("http://10.0.0.5/").unwrap(),
            ProxyAddr {
                host: "10.0.0.5".into(),
                port: 3128
            }
        );
        assert_eq!(ProxyAddr::parse("proxy.lan:8080").unwrap().port, 8080);
        assert!(ProxyAddr::parse("socks5://p:1080").is_err());
        assert!(ProxyAddr::parse("http://:3128").is_err());
        assert!(ProxyAddr::parse("http://p:99999").is_err());
    }

    #[test]
    fn request_names_the_target_twice() {
        let r = connect_request("pvespiceproxy:5f0:100:pve1::abc", 61000);
        let text = core::str::from_utf8(&r).unwrap();
        assert!(text.starts_with("CONNECT pvespiceproxy:5f0:100:pve1::abc:61000 HTTP/1.0\r\n"));
        assert!(text.contains("\r\nHost: pvespiceproxy:5f0:100:pve1::abc:61000\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn answers() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n", "p:1"), Ok(None));
        assert_eq!(
            parse_response(
                b"HTTP/1.0 200 Connection established\r\n\r\n\x16\x03",
                "p:1"
            ),
            Ok(Some(39))
        );
        let e = parse_response(b"HTTP/1.1 403 Forbidden\r\nServer: x\r\n\r\n", "p:1").unwrap_err();
        assert_eq!(
            e,
            Failure::ProxyRefused {
                proxy: "p:1".into(),
                status: "HTTP/1.1 403 Forbidden".into()
            }
        );
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n", "p:1").is_err());
        assert!(parse_response(&[b'a'; MAX_RESPONSE + 1], "p:1").is_err());
    }
}
