//! Sans-IO TLS client: ciphertext in, plaintext out, and the reverse, over
//! rustls' unbuffered connection API (the API rustls offers without `std`),
//! so the firmware and `barespice-host` run the same code.
//!
//! The caller moves bytes: [`TlsClient::receive`] takes what the socket
//! read, [`TlsClient::outgoing`] / [`TlsClient::consume`] is what to write,
//! [`TlsClient::send`] queues plaintext, [`TlsClient::take_plaintext`]
//! hands out what the server said. Owns the TLS state machine and the
//! client configuration (versions 1.2 and 1.3, RustCrypto provider, our
//! [`Verifier`]). Must not: touch sockets, clocks or hardware.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::{ClientConfig, Error};

use crate::failure::Failure;
use crate::verify::{Clock, Trust, Verifier};

/// Largest ciphertext we keep before it is processed (a TLS record is at
/// most 16 KiB + overhead; several may arrive together).
const MAX_INCOMING: usize = 1 << 20;

/// rustls asks the time for session tickets and the verifier; an unknown
/// clock answers with the floor (the verifier applies its own rule).
#[derive(Debug)]
struct ClockTime {
    clock: Arc<dyn Clock>,
    floor: u64,
}

impl TimeProvider for ClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = self.clock.unix_now().unwrap_or(self.floor);
        Some(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
            secs,
        )))
    }
}

/// One TLS connection's client side.
pub struct TlsClient {
    conn: UnbufferedClientConnection,
    verifier: Arc<Verifier>,
    incoming: Vec<u8>,
    outgoing: Vec<u8>,
    plaintext: Vec<u8>,
    to_send: Vec<u8>,
    handshake_done: bool,
    peer_closed: bool,
}

impl core::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsClient")
            .field("handshake_done", &self.handshake_done)
            .finish_non_exhaustive()
    }
}

/// The SNI / rustls server name for `host`: an IPv4 literal or DNS name;
/// anything else (a Proxmox ticket host) gets no SNI, the verifier checks
/// names by its own rules anyway.
fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(String::from(host)).unwrap_or(ServerName::IpAddress(
        rustls::pki_types::IpAddr::V4(rustls::pki_types::Ipv4Addr::from([0, 0, 0, 0])),
    ))
}

impl TlsClient {
    /// Starts a handshake (the ClientHello is ready in [`Self::outgoing`]).
    /// `floor` is the Unix time the firmware was built (see [`Clock`]).
    pub fn new(trust: &Trust, clock: Arc<dyn Clock>, floor: u64) -> Result<Self, Failure> {
        let provider = Arc::new(rustls_rustcrypto::provider());
        let verifier = Arc::new(Verifier::new(trust, clock.clone(), floor, &provider)?);
        let config =
            ClientConfig::builder_with_details(provider, Arc::new(ClockTime { clock, floor }))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .map_err(|e| Failure::Protocol {
                    detail: alloc::format!("TLS setup: {e}"),
                })?
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
        let conn = UnbufferedClientConnection::new(Arc::new(config), server_name(&trust.host))
            .map_err(|e| Failure::Protocol {
                detail: alloc::format!("TLS setup: {e}"),
            })?;
        let mut c = Self {
            conn,
            verifier,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            plaintext: Vec::new(),
            to_send: Vec::new(),
            handshake_done: false,
            peer_closed: false,
        };
        c.process()?;
        Ok(c)
    }

    /// Whether the handshake has finished (application data flows).
    pub fn is_established(&self) -> bool {
        self.handshake_done
    }

    /// Whether the server sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The negotiated protocol version, e.g. "TLSv1.3", once known.
    pub fn version(&self) -> Option<&'static str> {
        self.conn.protocol_version().and_then(|v| v.as_str())
    }

    /// Feeds ciphertext read from the socket.
    pub fn receive(&mut self, ciphertext: &[u8]) -> Result<(), Failure> {
        if self.incoming.len() + ciphertext.len() > MAX_INCOMING {
            return Err(Failure::Protocol {
                detail: String::from("TLS: too much unprocessed data"),
            });
        }
        self.incoming.extend_from_slice(ciphertext);
        self.process()
    }

    /// Queues plaintext; it is encrypted as soon as the handshake allows.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), Failure> {
        self.to_send.extend_from_slice(plaintext);
        self.process()
    }

    /// Ciphertext waiting to be written to the socket.
    pub fn outgoing(&self) -> &[u8] {
        &self.outgoing
    }

    /// The first `n` bytes of [`Self::outgoing`] were written.
    pub fn consume(&mut self, n: usize) {
        self.outgoing.drain(..n.min(self.outgoing.len()));
    }

    /// Decrypted bytes from the server (all of them; the buffer is emptied).
    pub fn take_plaintext(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.plaintext)
    }

    fn failure(&self, e: Error) -> Failure {
        if let Some(f) = self.verifier.refusal() {
            return f;
        }
        Failure::Protocol {
            detail: alloc::format!("TLS: {e}"),
        }
    }

    /// Runs rustls until it needs more input.
    fn process(&mut self) -> Result<(), Failure> {
        loop {
            let status = self.conn.process_tls_records(&mut self.incoming);
            let mut discard = status.discard;
            let state = match status.state {
                Ok(s) => s,
                Err(e) => {
                    let f = self.failure(e);
                    self.incoming.drain(..discard.min(self.incoming.len()));
                    return Err(f);
                }
            };
            let mut again = true;
            match state {
                ConnectionState::ReadTraffic(mut r) => {
                    while let Some(rec) = r.next_record() {
                        let rec = rec.map_err(|e| Failure::Protocol {
                            detail: alloc::format!("TLS: {e}"),
                        })?;
                        discard += rec.discard;
                        self.plaintext.extend_from_slice(rec.payload);
                    }
                }
                ConnectionState::EncodeTlsData(mut enc) => {
                    let start = self.outgoing.len();
                    let mut need = 4096;
                    loop {
                        self.outgoing.resize(start + need, 0);
                        match enc.encode(&mut self.outgoing[start..]) {
                            Ok(n) => {
                                self.outgoing.truncate(start + n);
                                break;
                            }
                            Err(EncodeError::InsufficientSize(s)) => need = s.required_size,
                            Err(EncodeError::AlreadyEncoded) => {
                                self.outgoing.truncate(start);
                                break;
                            }
                        }
                    }
                }
                // Our caller writes `outgoing` whenever it is not empty, so
                // the records count as handed over.
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::BlockedHandshake => again = false,
                ConnectionState::WriteTraffic(mut w) => {
                    self.handshake_done = true;
                    if !self.to_send.is_empty() {
                        let data = core::mem::take(&mut self.to_send);
                        // Records of at most 16 KiB each; room for headers and tags.
                        let start = self.outgoing.len();
                        let mut need = data.len() + (data.len() / 16_384 + 1) * 64;
                        loop {
                            self.outgoing.resize(start + need, 0);
                            match w.encrypt(&data, &mut self.outgoing[start..]) {
                                Ok(n) => {
                                    self.outgoing.truncate(start + n);
                                    break;
                                }
                                Err(EncryptError::InsufficientSize(s)) => need = s.required_size,
                                Err(e) => {
                                    self.outgoing.truncate(start);
                                    return Err(Failure::Protocol {
                                        detail: alloc::format!("TLS: {e}"),
                                    });
                                }
                            }
                        }
                    }
                    again = false;
                }
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.peer_closed = true;
                    again = false;
                }
                _ => again = false,
            }
            self.incoming.drain(..discard.min(self.incoming.len()));
            if !again {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Unknown;
    impl Clock for Unknown {
        fn unix_now(&self) -> Option<u64> {
            None
        }
    }

    fn pinned() -> Trust {
        Trust {
            pubkey_sha256: Some([7; 32]),
            host: String::from("spice.lab"),
            ..Trust::default()
        }
    }

    #[test]
    fn nothing_to_trust_is_refused_before_connecting() {
        let t = Trust {
            host: String::from("h"),
            ..Trust::default()
        };
        assert_eq!(
            TlsClient::new(&t, Arc::new(Unknown), 0).err(),
            Some(Failure::NoTrustAnchor)
        );
        let bad_ca = Trust {
            ca_pem: Some(String::from("not pem")),
            ..t
        };
        assert!(matches!(
            TlsClient::new(&bad_ca, Arc::new(Unknown), 0),
            Err(Failure::Untrusted { .. })
        ));
    }

    #[test]
    fn starts_with_a_client_hello_and_rejects_garbage() {
        let mut c = TlsClient::new(&pinned(), Arc::new(Unknown), 1_700_000_000).unwrap();
        // A TLS handshake record (0x16, version 3.x) with a ClientHello (type 1).
        assert_eq!(&c.outgoing()[..2], &[0x16, 0x03]);
        assert_eq!(c.outgoing()[5], 1);
        assert!(!c.is_established());
        let n = c.outgoing().len();
        c.consume(n);
        assert!(c.outgoing().is_empty());
        // Plaintext queued before the handshake stays queued, never sent in clear.
        c.send(b"secret").unwrap();
        assert!(c.outgoing().is_empty());
        // A plain SPICE server's answer is not TLS.
        assert!(matches!(
            c.receive(b"REDQ\x02\x00\x00\x00\x02\x00\x00\x00"),
            Err(Failure::Protocol { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut refused = 0;
        for seed in 0u32..64 {
            let mut c = TlsClient::new(&pinned(), Arc::new(Unknown), 0).unwrap();
            let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
            let junk: Vec<u8> = (0..(seed as usize * 37) % 600)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Mostly well-formed record headers, to get past the framing.
                    match i % 5 {
                        0 => 0x16,
                        1 => 0x03,
                        2 => 0x03,
                        _ => x as u8,
                    }
                })
                .collect();
            if c.receive(&junk).is_err() {
                refused += 1;
            }
            assert!(
                !c.is_established(),
                "seed {seed}: junk completed a handshake"
            );
        }
        assert!(refused > 0, "no junk was refused");
    }
}
