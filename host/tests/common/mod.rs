//! What the scripted SPICE servers of the host tests share: mini-header
//! framing, the MAIN channel's script (INIT, then a CHANNELS_LIST offering
//! display 0) and holding a connection open until the client leaves.

use std::io::{Read, Write};
use std::net::TcpStream;

/// One message with the mini header: type u16, size u32, body.
pub fn mini(t: u16, body: &[u8]) -> Vec<u8> {
    let mut v = t.to_le_bytes().to_vec();
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// MAIN INIT (session 7, ...), then CHANNELS_LIST with display 0.
pub fn serve_main(s: &mut TcpStream) -> std::io::Result<()> {
    let init: Vec<u8> = [7u32, 1, 1, 1, 0, 0, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    s.write_all(&mini(103, &init))?;
    s.write_all(&mini(104, &[1, 0, 0, 0, 2, 0]))
}

/// Read and drop whatever comes until the client closes the connection.
pub fn hold_open(s: &mut TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    while s.read(&mut sink)? > 0 {}
    Ok(())
}

/// Read the client's SpiceLinkHeader + SpiceLinkMess; returns its channel type.
pub fn read_link(s: &mut TcpStream) -> std::io::Result<u8> {
    let mut hdr = [0u8; 16];
    s.read_exact(&mut hdr)?;
    assert_eq!(&hdr[..4], b"REDQ");
    let size = u32::from_le_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]) as usize;
    let mut mess = vec![0u8; size];
    s.read_exact(&mut mess)?;
    Ok(mess[4])
}

/// SpiceLinkReply with `error`, the public key `der`, one common caps word
/// (AUTH_SELECTION, AUTH_SPICE, MINI_HEADER) and no channel caps.
pub fn send_link_reply(s: &mut TcpStream, error: u32, der: &[u8]) -> std::io::Result<()> {
    let mut body = error.to_le_bytes().to_vec();
    body.extend_from_slice(der);
    for v in [1u32, 0, 178, 0b1011] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = b"REDQ".to_vec();
    for v in [2u32, 2, body.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&body);
    s.write_all(&out)
}
