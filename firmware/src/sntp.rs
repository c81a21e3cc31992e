//! SNTP (RFC 4330) client: one request to the server named by
//! `x-barespice-ntp=HOST[:PORT]`, to learn the time for certificate checks.
//! The packet layout is the 48-byte NTP header; only the server's transmit
//! timestamp is used (seconds; a few hundred ms of error do not matter for
//! certificate validity).
//! Must not: retry for ever or block the connection (the caller bounds it).

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{with_timeout, Duration};

use crate::net;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_TO_UNIX: u64 = 2_208_988_800;

/// The Unix time from an SNTP answer (`None` if it is not a usable server reply).
pub fn parse_reply(b: &[u8]) -> Option<u64> {
    let hdr = b.get(..48)?;
    let mode = hdr[0] & 7;
    let stratum = hdr[1];
    if mode != 4 || stratum == 0 || stratum > 15 {
        return None;
    }
    let secs = u64::from(u32::from_be_bytes([hdr[40], hdr[41], hdr[42], hdr[43]]));
    // Era 0 ends in 2036: timestamps below 1970 belong to era 1.
    let unix = if secs >= NTP_TO_UNIX {
        secs - NTP_TO_UNIX
    } else {
        secs + (1u64 << 32) - NTP_TO_UNIX
    };
    Some(unix)
}

/// Asks `server` (`HOST[:PORT]`, default port 123) for the time.
pub async fn query(stack: Stack<'static>, server: &str) -> Result<u64, &'static str> {
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| "bad port in x-barespice-ntp")?,
        ),
        None => (server, 123),
    };
    let ip = net::resolve(stack, host).await?;
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_meta = [PacketMetadata::EMPTY; 2];
    let mut rx = [0u8; 128];
    let mut tx = [0u8; 128];
    let mut sock = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    sock.bind(0).map_err(|_| "no UDP port")?;
    let mut req = [0u8; 48];
    req[0] = 0x23; // LI 0, version 4, mode 3 (client)
    let to = IpEndpoint::new(ip.into(), port);
    for _ in 0..3 {
        sock.send_to(&req, to).await.map_err(|_| "send failed")?;
        let mut buf = [0u8; 128];
        if let Ok(Ok((n, _))) = with_timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await
        {
            if let Some(t) = buf.get(..n).and_then(parse_reply) {
                return Ok(t);
            }
        }
    }
    Err("no answer")
}
