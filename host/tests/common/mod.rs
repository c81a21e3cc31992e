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
    let init: Vec<u8> = [7u32, 1, 1, 1, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    s.write_all(&mini(103, &init))?;
    s.write_all(&mini(104, &[1, 0, 0, 0, 2, 0]))
}

/// Read and drop whatever comes until the client closes the connection.
pub fn hold_open(s: &mut TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    while s.read(&mut sink)? > 0 {}
    Ok(())
}
