//! The client side of a spicevmc channel (`SPICE_CHANNEL_USBREDIR`; the same
//! framing serves smartcard and port channels): an opaque byte stream in
//! `SPICE_MSG_SPICEVMC_DATA` / `SPICE_MSGC_SPICEVMC_DATA` messages
//! (spice-common `spice.proto`, channel `SpicevmcChannel`).
//!
//! Owns: the bounded queue of received stream bytes and the chunking of bytes
//! to send. LZ4-compressed data (`SPICE_SPICEVMC_CAP_DATA_COMPRESS_LZ4`) is not
//! offered, so `SPICE_MSG_SPICEVMC_COMPRESSED_DATA` is a protocol error.
//! Must not: interpret the stream (usbredir is `barespice-usbredir`'s).

use crate::enums::*;
use crate::error::WireError;
use crate::outbox::Outbox;
use alloc::vec::Vec;

/// Most received bytes held before the caller takes them; a server that sends
/// more ends the channel rather than the heap.
pub const MAX_INBOX: usize = 1 << 20;

/// Largest SPICEVMC_DATA message body we send (spice-gtk sends usbredir data
/// in messages of at most this size too).
pub const MAX_CHUNK: usize = 64 * 1024;

/// One spicevmc channel's client state.
#[derive(Debug, Default)]
pub struct VmcChannel {
    inbox: Vec<u8>,
    /// Stream bytes received in total.
    pub received: u64,
}

impl VmcChannel {
    /// A fresh channel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Channel caps the client advertises (none: no LZ4 compression).
    pub fn client_caps() -> Vec<u32> {
        Vec::new()
    }

    /// Handles one server message.
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        _out: &mut Outbox,
    ) -> Result<(), WireError> {
        match msg_type {
            SPICE_MSG_SPICEVMC_DATA => {
                if self.inbox.len().saturating_add(body.len()) > MAX_INBOX {
                    return Err(WireError::new(
                        0,
                        "spicevmc data not taken: more than 1 MiB queued",
                    ));
                }
                self.inbox.extend_from_slice(body);
                self.received += body.len() as u64;
                Ok(())
            }
            SPICE_MSG_SPICEVMC_COMPRESSED_DATA => Err(WireError::new(
                0,
                "compressed spicevmc data without the LZ4 capability",
            )),
            _ => Err(WireError::new(
                0,
                "unexpected message on a spicevmc channel",
            )),
        }
    }

    /// Takes every stream byte received so far.
    pub fn take(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.inbox)
    }

    /// Queues `data` as SPICEVMC_DATA messages of at most [`MAX_CHUNK`] bytes.
    pub fn send(data: &[u8], out: &mut Outbox) {
        for chunk in data.chunks(MAX_CHUNK) {
            out.push(SPICE_MSGC_SPICEVMC_DATA, chunk.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_queues_and_compressed_is_refused() {
        let mut c = VmcChannel::new();
        let mut out = Outbox::new();
        c.handle(SPICE_MSG_SPICEVMC_DATA, b"abc", &mut out).unwrap();
        c.handle(SPICE_MSG_SPICEVMC_DATA, b"de", &mut out).unwrap();
        assert_eq!(c.take(), b"abcde");
        assert!(c.take().is_empty());
        assert!(c
            .handle(SPICE_MSG_SPICEVMC_COMPRESSED_DATA, &[0; 8], &mut out)
            .is_err());
        let big = alloc::vec![0u8; MAX_INBOX];
        c.handle(SPICE_MSG_SPICEVMC_DATA, &big, &mut out).unwrap();
        assert!(c.handle(SPICE_MSG_SPICEVMC_DATA, b"x", &mut out).is_err());
    }

    #[test]
    fn sends_in_chunks() {
        let mut out = Outbox::new();
        VmcChannel::send(&alloc::vec![1u8; MAX_CHUNK + 10], &mut out);
        let m: Vec<_> = out.drain().collect();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].0, m[0].1.len(), m[1].1.len()),
            (SPICE_MSGC_SPICEVMC_DATA, MAX_CHUNK, 10)
        );
    }
}
