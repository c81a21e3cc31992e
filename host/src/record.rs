//! `--record DIR`: save every message received on display channels.
//!
//! File format (one file per display channel, `DIR/display-<id>.spicerec`):
//! the 16-byte magic [`MAGIC`] (`"barespice-rec-1\n"`), then the messages in
//! arrival order, each as a little-endian `u16 type`, `u32 size`, then
//! `size` body bytes — the SPICE mini-header framing, whatever header form
//! the server negotiated. Messages are top-level ones (a LIST is stored as
//! one record with its sub-messages inside). Replaying a file through a
//! fresh display handler reproduces the session's drawing, GLZ dictionary
//! included.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// First bytes of a recording.
pub const MAGIC: &[u8; 16] = b"barespice-rec-1\n";

/// An open recording file.
pub struct Recorder {
    file: File,
}

impl Recorder {
    /// Create `dir/display-<id>.spicerec` (and `dir`).
    pub fn create(dir: &Path, channel_id: u8) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut file = File::create(dir.join(format!("display-{channel_id}.spicerec")))?;
        file.write_all(MAGIC)?;
        Ok(Self { file })
    }

    /// Append framed messages (as produced by `Session::take_recorded`).
    pub fn append(&mut self, framed: &[u8]) -> io::Result<()> {
        self.file.write_all(framed)
    }
}

/// Read a recording back as `(type, body)` pairs.
pub fn read(path: &Path) -> io::Result<Vec<(u16, Vec<u8>)>> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let rest = data
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("not a barespice recording"))?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < rest.len() {
        let hdr = rest
            .get(pos..pos + 6)
            .ok_or_else(|| bad("truncated record header"))?;
        let t = u16::from_le_bytes([hdr[0], hdr[1]]);
        let n = u32::from_le_bytes([hdr[2], hdr[3], hdr[4], hdr[5]]) as usize;
        let body = rest
            .get(pos + 6..pos + 6 + n)
            .ok_or_else(|| bad("truncated record body"))?;
        out.push((t, body.to_vec()));
        pos += 6 + n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("bsrec-{}", std::process::id()));
        let mut r = Recorder::create(&dir, 0).unwrap();
        r.append(&[0x30, 0x01, 2, 0, 0, 0, 0xAA, 0xBB]).unwrap();
        r.append(&[0x66, 0x00, 0, 0, 0, 0]).unwrap();
        drop(r);
        let msgs = read(&dir.join("display-0.spicerec")).unwrap();
        assert_eq!(msgs, [(304, vec![0xAA, 0xBB]), (102, vec![])]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
