//! The client side of the SPICE link handshake, one instance per channel
//! connection, sans-IO.
//!
//! Owns the order of the link steps: send `SpiceLinkHeader` + `SpiceLinkMess`;
//! read `SpiceLinkReply`; send the auth mechanism (when both sides offer
//! `PROTOCOL_AUTH_SELECTION`) and the RSA-OAEP(SHA-1) encrypted ticket;
//! read the u32 link result. Every refusal becomes a typed [`LinkError`].
//! It must not do I/O or draw randomness itself: bytes come in through
//! [`Link::receive`], bytes to send are appended to a caller's buffer, and
//! the OAEP padding randomness comes from the caller's RNG.

use crate::enums::*;
use crate::error::WireError;
use crate::wire::link::{
    caps_from_bits, has_cap, LinkHeader, LinkMess, LinkReply, LINK_HEADER_SIZE, LINK_REPLY_SIZE,
    MAX_LINK_REPLY_SIZE,
};
use alloc::vec::Vec;
use core::fmt;
use rand_core::CryptoRngCore;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPublicKey};

/// Why a link did not come up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// `SPICE_LINK_ERR_ERROR`: the server reported an unspecified error.
    Error,
    /// `SPICE_LINK_ERR_INVALID_MAGIC`: the server did not like our magic.
    InvalidMagic,
    /// `SPICE_LINK_ERR_INVALID_DATA`: the server rejected our link message.
    InvalidData,
    /// `SPICE_LINK_ERR_VERSION_MISMATCH`: protocol versions differ.
    VersionMismatch,
    /// `SPICE_LINK_ERR_NEED_SECURED`: this channel is only offered over TLS.
    NeedSecured,
    /// `SPICE_LINK_ERR_NEED_UNSECURED`: this channel is only offered without TLS.
    NeedUnsecured,
    /// `SPICE_LINK_ERR_PERMISSION_DENIED`: wrong password (or an undecryptable ticket).
    PermissionDenied,
    /// `SPICE_LINK_ERR_BAD_CONNECTION_ID`: the session id is unknown to the server.
    BadConnectionId,
    /// `SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE`: no such channel on the server.
    ChannelNotAvailable,
    /// A `SPICE_LINK_ERR_*` value this client does not know.
    Unknown(u32),
    /// The reply did not start with "REDQ": not a SPICE server.
    BadMagic,
    /// The server speaks another major protocol version.
    ServerVersion {
        /// The server's major version.
        major: u32,
        /// The server's minor version.
        minor: u32,
    },
    /// The link reply was malformed (too short, absurd size, caps out of range).
    BadReply(WireError),
    /// The server's public key is not a DER RSA-1024 SubjectPublicKeyInfo.
    BadPublicKey,
    /// The password is longer than `SPICE_MAX_PASSWORD_LENGTH` or contains NUL.
    BadPassword,
    /// The server offers auth selection but not the SPICE ticket mechanism (SASL only).
    NoSpiceAuth,
    /// RSA encryption failed (cannot happen with a valid key and password).
    Encrypt,
}

impl LinkError {
    /// The typed error for a non-zero `SPICE_LINK_ERR_*` code.
    pub fn from_code(code: u32) -> Self {
        match code {
            SPICE_LINK_ERR_ERROR => Self::Error,
            SPICE_LINK_ERR_INVALID_MAGIC => Self::InvalidMagic,
            SPICE_LINK_ERR_INVALID_DATA => Self::InvalidData,
            SPICE_LINK_ERR_VERSION_MISMATCH => Self::VersionMismatch,
            SPICE_LINK_ERR_NEED_SECURED => Self::NeedSecured,
            SPICE_LINK_ERR_NEED_UNSECURED => Self::NeedUnsecured,
            SPICE_LINK_ERR_PERMISSION_DENIED => Self::PermissionDenied,
            SPICE_LINK_ERR_BAD_CONNECTION_ID => Self::BadConnectionId,
            SPICE_LINK_ERR_CHANNEL_NOT_AVAILABLE => Self::ChannelNotAvailable,
            other => Self::Unknown(other),
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error => write!(f, "server link error (ERROR)"),
            Self::InvalidMagic => write!(f, "server rejected our link magic (INVALID_MAGIC)"),
            Self::InvalidData => write!(f, "server rejected our link message (INVALID_DATA)"),
            Self::VersionMismatch => write!(f, "protocol version mismatch (VERSION_MISMATCH)"),
            Self::NeedSecured => write!(f, "server requires TLS (NEED_SECURED)"),
            Self::NeedUnsecured => {
                write!(f, "server requires a non-TLS connection (NEED_UNSECURED)")
            }
            Self::PermissionDenied => write!(f, "wrong password (server said PERMISSION_DENIED)"),
            Self::BadConnectionId => write!(f, "unknown session (BAD_CONNECTION_ID)"),
            Self::ChannelNotAvailable => write!(f, "channel not available (CHANNEL_NOT_AVAILABLE)"),
            Self::Unknown(c) => write!(f, "server link error {c}"),
            Self::BadMagic => write!(f, "not a SPICE server (bad link magic)"),
            Self::ServerVersion { major, minor } => {
                write!(
                    f,
                    "server speaks SPICE protocol {major}.{minor}, we speak 2.2"
                )
            }
            Self::BadReply(e) => write!(f, "malformed link reply: {e}"),
            Self::BadPublicKey => write!(f, "server public key is not RSA-1024"),
            Self::BadPassword => write!(f, "password too long (max 60 bytes) or contains NUL"),
            Self::NoSpiceAuth => write!(
                f,
                "server offers no SPICE ticket authentication (SASL only?)"
            ),
            Self::Encrypt => write!(f, "ticket encryption failed"),
        }
    }
}

/// Check a password for use as a SPICE ticket.
pub fn check_password(password: &[u8]) -> Result<(), LinkError> {
    if password.len() > SPICE_MAX_PASSWORD_LENGTH as usize || password.contains(&0) {
        return Err(LinkError::BadPassword);
    }
    Ok(())
}

/// The common capability words every channel of this client advertises:
/// `PROTOCOL_AUTH_SELECTION`, `AUTH_SPICE` and `MINI_HEADER`.
pub fn client_common_caps() -> Vec<u32> {
    caps_from_bits(&[
        SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION,
        SPICE_COMMON_CAP_AUTH_SPICE,
        SPICE_COMMON_CAP_MINI_HEADER,
    ])
}

/// Encrypt the ticket: RSA-OAEP with SHA-1 and MGF1-SHA-1, empty label, over
/// `password` followed by a NUL byte. `spki_der` is the server's
/// `pub_key` (DER SubjectPublicKeyInfo). The result is 128 bytes.
pub fn encrypt_ticket(
    spki_der: &[u8],
    password: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<u8>, LinkError> {
    check_password(password)?;
    let key = RsaPublicKey::from_public_key_der(spki_der).map_err(|_| LinkError::BadPublicKey)?;
    if key.size() != (SPICE_TICKET_KEY_PAIR_LENGTH / 8) as usize {
        return Err(LinkError::BadPublicKey);
    }
    let mut msg = Vec::with_capacity(password.len() + 1);
    msg.extend_from_slice(password);
    msg.push(0);
    let mut rng = rng;
    key.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &msg)
        .map_err(|_| LinkError::Encrypt)
}

/// What the link needs next.
#[derive(Debug)]
enum State {
    /// Waiting for the 16-byte reply header.
    ReplyHeader,
    /// Waiting for `size` reply bytes.
    ReplyBody(usize),
    /// Ticket sent; waiting for the u32 link result.
    Result,
    /// Finished (successfully or not); accepts no more bytes.
    Done,
}

/// The outcome of a successful link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// Server common capability words.
    pub common_caps: Vec<u32>,
    /// Server channel capability words.
    pub channel_caps: Vec<u32>,
    /// Whether both sides set `MINI_HEADER` (framing uses the 6-byte header).
    pub mini_header: bool,
}

/// Progress reported by [`Link::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    /// Every byte was consumed; the link needs more.
    Pending,
    /// The link is up. The first `consumed` bytes of the input belonged to
    /// the link; the rest are channel messages.
    Linked {
        /// Bytes of the input used by the link.
        consumed: usize,
        /// Negotiated capabilities.
        linked: Linked,
    },
}

/// Client link state machine for one channel connection.
pub struct Link {
    state: State,
    buf: Vec<u8>,
    password: Vec<u8>,
    server: Option<(Vec<u32>, Vec<u32>)>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Start a link: appends header + `SpiceLinkMess` to `tx` and returns the
    /// state machine. `password` may be empty (a ticket is always sent).
    pub fn start(
        connection_id: u32,
        channel_type: u8,
        channel_id: u8,
        channel_caps: Vec<u32>,
        password: &[u8],
        tx: &mut Vec<u8>,
    ) -> Result<Self, LinkError> {
        check_password(password)?;
        let mess = LinkMess {
            connection_id,
            channel_type,
            channel_id,
            common_caps: client_common_caps(),
            channel_caps,
        };
        tx.extend_from_slice(&mess.emit_with_header());
        Ok(Self {
            state: State::ReplyHeader,
            buf: Vec::new(),
            password: password.into(),
            server: None,
        })
    }

    /// Take bytes from `need` total into the internal buffer; returns how many
    /// were taken from `data` and whether the buffer is now complete.
    fn fill(&mut self, need: usize, data: &[u8]) -> (usize, bool) {
        let want = need.saturating_sub(self.buf.len());
        let n = want.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        (n, self.buf.len() >= need)
    }

    /// Feed received bytes. Bytes to send (auth mechanism, ticket) are
    /// appended to `tx`. On error the link is finished and the caller should
    /// close the connection.
    pub fn receive(
        &mut self,
        data: &[u8],
        rng: &mut dyn CryptoRngCore,
        tx: &mut Vec<u8>,
    ) -> Result<LinkStatus, LinkError> {
        let r = self.step(data, rng, tx);
        if r.is_err() {
            self.state = State::Done;
            self.password.iter_mut().for_each(|b| *b = 0);
        }
        r
    }

    fn step(
        &mut self,
        data: &[u8],
        rng: &mut dyn CryptoRngCore,
        tx: &mut Vec<u8>,
    ) -> Result<LinkStatus, LinkError> {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            match self.state {
                State::ReplyHeader => {
                    let (n, full) = self.fill(LINK_HEADER_SIZE, rest);
                    pos += n;
                    if !full {
                        return Ok(LinkStatus::Pending);
                    }
                    let h = LinkHeader::parse(&self.buf).map_err(|_| LinkError::BadMagic)?;
                    if h.major_version != SPICE_VERSION_MAJOR {
                        return Err(LinkError::ServerVersion {
                            major: h.major_version,
                            minor: h.minor_version,
                        });
                    }
                    if h.size < 4 || h.size > MAX_LINK_REPLY_SIZE {
                        return Err(LinkError::BadReply(WireError::new(
                            12,
                            "absurd link reply size",
                        )));
                    }
                    self.buf.clear();
                    self.state = State::ReplyBody(h.size as usize);
                }
                State::ReplyBody(size) => {
                    let (n, full) = self.fill(size, rest);
                    pos += n;
                    if !full {
                        return Ok(LinkStatus::Pending);
                    }
                    let error = LinkReply::parse_error(&self.buf).map_err(LinkError::BadReply)?;
                    if error != SPICE_LINK_ERR_OK {
                        return Err(LinkError::from_code(error));
                    }
                    if self.buf.len() < LINK_REPLY_SIZE {
                        return Err(LinkError::BadReply(WireError::new(
                            self.buf.len(),
                            "link reply too short",
                        )));
                    }
                    let reply = LinkReply::parse(&self.buf).map_err(LinkError::BadReply)?;
                    self.send_auth(&reply, rng, tx)?;
                    self.server = Some((reply.common_caps, reply.channel_caps));
                    self.buf.clear();
                    self.state = State::Result;
                }
                State::Result => {
                    let (n, full) = self.fill(4, rest);
                    pos += n;
                    if !full {
                        return Ok(LinkStatus::Pending);
                    }
                    let code =
                        u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                    self.state = State::Done;
                    self.password.iter_mut().for_each(|b| *b = 0);
                    if code != SPICE_LINK_ERR_OK {
                        return Err(LinkError::from_code(code));
                    }
                    let (common_caps, channel_caps) = self.server.take().unwrap_or_default();
                    let mini_header = has_cap(&common_caps, SPICE_COMMON_CAP_MINI_HEADER);
                    return Ok(LinkStatus::Linked {
                        consumed: pos,
                        linked: Linked {
                            common_caps,
                            channel_caps,
                            mini_header,
                        },
                    });
                }
                State::Done => {
                    return Err(LinkError::BadReply(WireError::new(
                        0,
                        "bytes after link finished",
                    )));
                }
            }
        }
    }

    fn send_auth(
        &mut self,
        reply: &LinkReply,
        rng: &mut dyn CryptoRngCore,
        tx: &mut Vec<u8>,
    ) -> Result<(), LinkError> {
        let ticket = encrypt_ticket(&reply.pub_key, &self.password, rng)?;
        if has_cap(&reply.common_caps, SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION) {
            if !has_cap(&reply.common_caps, SPICE_COMMON_CAP_AUTH_SPICE) {
                return Err(LinkError::NoSpiceAuth);
            }
            // SpiceLinkAuthMechanism: the mechanism is named by its cap number.
            tx.extend_from_slice(&SPICE_COMMON_CAP_AUTH_SPICE.to_le_bytes());
        }
        tx.extend_from_slice(&ticket);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::link::LINK_MESS_SIZE;
    use crate::wire::Writer;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::RsaPrivateKey;

    fn keypair() -> (RsaPrivateKey, Vec<u8>) {
        let mut rng = StdRng::seed_from_u64(7);
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let der = key
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        (key, der)
    }

    /// A server reply: header + SpiceLinkReply with the given common caps.
    fn server_reply(error: u32, der: &[u8], common: u32) -> Vec<u8> {
        let mut body = Writer::new();
        body.u32(error).bytes(der);
        body.u32(1)
            .u32(1)
            .u32(LINK_REPLY_SIZE as u32)
            .u32(common)
            .u32(0);
        let body = body.finish();
        let mut w = Writer::new();
        LinkHeader::ours(body.len() as u32).emit(&mut w);
        w.bytes(&body);
        w.finish()
    }

    #[test]
    fn public_key_is_162_bytes_as_in_protocol_h() {
        let (_, der) = keypair();
        assert_eq!(der.len(), SPICE_TICKET_PUBKEY_BYTES as usize);
    }

    #[test]
    fn ticket_decrypts_to_password_plus_nul() {
        let (key, der) = keypair();
        let mut rng = StdRng::seed_from_u64(1);
        for pw in [&b""[..], b"xyz", &[b'a'; 60]] {
            let t = encrypt_ticket(&der, pw, &mut rng).unwrap();
            assert_eq!(t.len(), 128);
            let plain = key.decrypt(Oaep::new::<sha1::Sha1>(), &t).unwrap();
            assert_eq!(&plain[..plain.len() - 1], pw);
            assert_eq!(plain.last(), Some(&0));
        }
        assert_eq!(
            encrypt_ticket(&der, &[b'a'; 61], &mut rng),
            Err(LinkError::BadPassword)
        );
        assert_eq!(
            encrypt_ticket(&der[..100], b"", &mut rng),
            Err(LinkError::BadPublicKey)
        );
    }

    #[test]
    fn full_handshake_byte_by_byte() {
        let (key, der) = keypair();
        let mut rng = StdRng::seed_from_u64(2);
        let mut tx = Vec::new();
        let mut link =
            Link::start(0, SPICE_CHANNEL_MAIN as u8, 0, Vec::new(), b"pw", &mut tx).unwrap();
        // first flight: header (16) + mess (18) + one common caps word
        assert_eq!(tx.len(), LINK_HEADER_SIZE + LINK_MESS_SIZE + 4);
        assert_eq!(&tx[34..38], &[0b1011, 0, 0, 0]);
        tx.clear();
        let mut input = server_reply(0, &der, 0b1011);
        input.extend_from_slice(&0u32.to_le_bytes());
        input.extend_from_slice(&[9, 9]); // first bytes of channel traffic
        let mut status = LinkStatus::Pending;
        let mut last = 0;
        for (i, b) in input.iter().enumerate() {
            status = link
                .receive(core::slice::from_ref(b), &mut rng, &mut tx)
                .unwrap();
            if let LinkStatus::Linked { consumed, .. } = &status {
                assert_eq!(*consumed, 1);
                last = i;
                break;
            }
        }
        assert_eq!(last, input.len() - 3);
        match status {
            LinkStatus::Linked { linked, .. } => assert!(linked.mini_header),
            LinkStatus::Pending => panic!("not linked"),
        }
        // auth mechanism 1, then the 128-byte ticket
        assert_eq!(&tx[..4], &[1, 0, 0, 0]);
        assert_eq!(tx.len(), 132);
        let plain = key.decrypt(Oaep::new::<sha1::Sha1>(), &tx[4..]).unwrap();
        assert_eq!(plain, b"pw\0");
    }

    #[test]
    fn no_auth_selection_sends_bare_ticket_and_reports_rest() {
        let (_, der) = keypair();
        let mut rng = StdRng::seed_from_u64(3);
        let mut tx = Vec::new();
        let mut link = Link::start(5, 2, 0, Vec::new(), b"", &mut tx).unwrap();
        tx.clear();
        let mut input = server_reply(0, &der, 0);
        input.extend_from_slice(&0u32.to_le_bytes());
        input.extend_from_slice(&[1, 2, 3]);
        match link.receive(&input, &mut rng, &mut tx).unwrap() {
            LinkStatus::Linked { consumed, linked } => {
                assert_eq!(consumed, input.len() - 3);
                assert!(!linked.mini_header);
            }
            LinkStatus::Pending => panic!("not linked"),
        }
        assert_eq!(tx.len(), 128);
    }

    #[test]
    fn typed_errors() {
        let (_, der) = keypair();
        let mut rng = StdRng::seed_from_u64(4);
        let run = |input: &[u8], rng: &mut StdRng| {
            let mut tx = Vec::new();
            let mut link = Link::start(0, 1, 0, Vec::new(), b"", &mut tx).unwrap();
            link.receive(input, rng, &mut tx)
        };
        // refusal in the reply
        let r = server_reply(SPICE_LINK_ERR_NEED_SECURED, &[0; 162], 0);
        assert_eq!(run(&r, &mut rng), Err(LinkError::NeedSecured));
        // refusal in the link result
        let mut r = server_reply(0, &der, 0b11);
        r.extend_from_slice(&SPICE_LINK_ERR_PERMISSION_DENIED.to_le_bytes());
        assert_eq!(run(&r, &mut rng), Err(LinkError::PermissionDenied));
        // an HTTP server
        assert_eq!(
            run(b"HTTP/1.1 400 Bad Request\r\n", &mut rng),
            Err(LinkError::BadMagic)
        );
        // wrong major version
        let mut r = server_reply(0, &der, 0);
        r[4] = 1;
        assert_eq!(
            run(&r, &mut rng),
            Err(LinkError::ServerVersion { major: 1, minor: 2 })
        );
        // absurd size
        let mut r = server_reply(0, &der, 0);
        r[12..16].copy_from_slice(&100_000u32.to_le_bytes());
        assert!(matches!(run(&r, &mut rng), Err(LinkError::BadReply(_))));
        // short OK reply
        let mut w = Writer::new();
        LinkHeader::ours(8).emit(&mut w);
        w.u32(0).u32(0);
        assert!(matches!(
            run(&w.finish(), &mut rng),
            Err(LinkError::BadReply(_))
        ));
        // garbage key
        let r = server_reply(0, &[0x30; 162], 0);
        assert_eq!(run(&r, &mut rng), Err(LinkError::BadPublicKey));
        // auth selection without AUTH_SPICE
        let r = server_reply(0, &der, 0b101);
        assert_eq!(run(&r, &mut rng), Err(LinkError::NoSpiceAuth));
        assert_eq!(LinkError::from_code(42), LinkError::Unknown(42));
    }

    #[test]
    fn random_replies_never_panic() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut linked = 0;
        for mut input in crate::wire::testutil::random_inputs(77, 500, 400) {
            if input.len() >= 16 {
                input[..4].copy_from_slice(b"REDQ");
                input[4..8].copy_from_slice(&2u32.to_le_bytes());
            }
            let mut tx = Vec::new();
            let mut link = Link::start(0, 1, 0, Vec::new(), b"", &mut tx).unwrap();
            if let Ok(LinkStatus::Linked { .. }) = link.receive(&input, &mut rng, &mut tx) {
                linked += 1;
            }
        }
        assert_eq!(linked, 0, "random bytes cannot carry a valid RSA key");
    }
}
