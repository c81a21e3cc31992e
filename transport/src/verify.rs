//! Whom to trust: the connection file's rules turned into a rustls
//! certificate verifier.
//!
//! Rules, in order (remote-viewer's meaning of the `.vv` keys):
//! 1. `x-barespice-pubkey-sha256` (our extension): the SHA-256 of the
//!    server's SubjectPublicKeyInfo must equal it; nothing else is checked
//!    (labs without a CA).
//! 2. Otherwise `ca` is required; the server chain must lead to it
//!    (webpki path building, server-auth usage), at the time given by the
//!    clock (see [`Clock`] for the rule when the clock is unknown).
//! 3. `host-subject` given: the certificate subject must equal it entry by
//!    entry, in order; else the host name must match subjectAltName (CN
//!    only when there is no SAN DNS entry).
//!
//! Owns the policy and the mapping of its failures to [`Failure`]. Must not:
//! do I/O; every byte it reads came from the network.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use once_cell::race::OnceBox;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use crate::cert::{self, CertInfo, Entry};
use crate::failure::{date, Failure};

/// A wall clock. Returns Unix seconds, or `None` while the time is unknown
/// (firmware before SNTP answered).
///
/// Rule while the time is unknown: certificates are checked as at the
/// later of `floor` (the firmware's build time) and the server
/// certificate's notBefore. So a certificate that expired before the
/// firmware was built is refused; one issued after the build is accepted
/// while it has not expired by that date.
pub trait Clock: Send + Sync + core::fmt::Debug {
    /// Seconds since 1970-01-01 UTC, if known.
    fn unix_now(&self) -> Option<u64>;
}

/// What the connection file says to trust.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// CA certificate(s), PEM.
    pub ca_pem: Option<String>,
    /// `host-subject` as written in the file.
    pub host_subject: Option<String>,
    /// SHA-256 of the server's public key (SPKI DER).
    pub pubkey_sha256: Option<[u8; 32]>,
    /// The host name the user asked for (hostname check without `host-subject`).
    pub host: String,
}

/// The rustls verifier implementing [`Trust`] (see the module doc).
#[derive(Debug)]
pub struct Verifier {
    roots: RootCertStore,
    subject: Option<Vec<Entry>>,
    subject_text: String,
    pin: Option<[u8; 32]>,
    host: String,
    clock: Arc<dyn Clock>,
    floor: u64,
    algs: WebPkiSupportedAlgorithms,
    /// The first refusal, with its full explanation (one verifier serves
    /// one connection; rustls itself can only carry a coarse error kind).
    refused: OnceBox<Failure>,
}

/// The CA certificates of a `ca=` value (PEM, one or more).
fn load_roots(pem: &str) -> Result<RootCertStore, Failure> {
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let der = der.map_err(|e| Failure::Untrusted {
            detail: alloc::format!("ca= is not a PEM certificate ({e:?})"),
        })?;
        roots.add(der).map_err(|e| Failure::Untrusted {
            detail: alloc::format!("ca= certificate unusable: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(Failure::Untrusted {
            detail: String::from("ca= holds no PEM certificate"),
        });
    }
    Ok(roots)
}

impl Verifier {
    /// Builds the verifier; fails when nothing can be trusted or the file's
    /// trust keys are malformed.
    pub fn new(
        trust: &Trust,
        clock: Arc<dyn Clock>,
        floor: u64,
        provider: &CryptoProvider,
    ) -> Result<Self, Failure> {
        let roots = match (&trust.ca_pem, trust.pubkey_sha256) {
            (Some(pem), _) => load_roots(pem)?,
            (None, Some(_)) => RootCertStore::empty(),
            (None, None) => return Err(Failure::NoTrustAnchor),
        };
        let subject = match &trust.host_subject {
            Some(s) => Some(
                cert::parse_subject(s).map_err(|detail| Failure::NameMismatch {
                    expected: alloc::format!("a valid host-subject ({detail})"),
                    presented: String::from("-"),
                })?,
            ),
            None => None,
        };
        Ok(Self {
            roots,
            subject_text: trust.host_subject.clone().unwrap_or_default(),
            subject,
            pin: trust.pubkey_sha256,
            host: trust.host.clone(),
            clock,
            floor,
            algs: provider.signature_verification_algorithms,
            refused: OnceBox::new(),
        })
    }

    /// The policy on an already parsed end-entity certificate; `Ok` when trusted.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), Failure> {
        let info = cert::inspect(end_entity).map_err(|detail| Failure::Protocol { detail })?;
        if let Some(pin) = self.pin {
            return if info.spki_sha256 == pin {
                Ok(())
            } else {
                Err(Failure::Untrusted {
                    detail: String::from(
                        "the server's public key does not match x-barespice-pubkey-sha256",
                    ),
                })
            };
        }
        let (now, known) = match self.clock.unix_now() {
            Some(t) => (t, true),
            None => (self.floor.max(info.not_before), false),
        };
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity).map_err(|e| {
            Failure::Protocol {
                detail: alloc::format!("{e}"),
            }
        })?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            UnixTime::since_unix_epoch(core::time::Duration::from_secs(now)),
            self.algs.all,
        )
        .map_err(|e| self.chain_failure(&e, &info, now, known))?;
        self.check_name(&info)
    }

    fn check_name(&self, info: &CertInfo) -> Result<(), Failure> {
        match &self.subject {
            Some(wanted) if cert::subject_matches(wanted, &info.subject) => Ok(()),
            Some(_) => Err(Failure::NameMismatch {
                expected: alloc::format!("host-subject {}", self.subject_text),
                presented: alloc::format!("subject {}", cert::format_subject(&info.subject)),
            }),
            None if cert::hostname_matches(&self.host, info) => Ok(()),
            None => {
                let mut names: Vec<String> = info.dns_names.clone();
                names.extend(info.ip_addresses.iter().map(|ip| {
                    ip.iter()
                        .map(|b| alloc::format!("{b}"))
                        .collect::<Vec<_>>()
                        .join(".")
                }));
                if names.is_empty() {
                    names.extend(
                        info.subject
                            .iter()
                            .filter(|(k, _)| k == "CN")
                            .map(|(_, v)| v.clone()),
                    );
                }
                Err(Failure::NameMismatch {
                    expected: alloc::format!("host {}", self.host),
                    presented: alloc::format!("names {}", names.join(" ")),
                })
            }
        }
    }

    fn chain_failure(&self, e: &Error, info: &CertInfo, now: u64, known: bool) -> Failure {
        let clock = if known {
            "clock"
        } else {
            "clock unknown, firmware build date"
        };
        match e {
            Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => Failure::CertificateTime {
                detail: alloc::format!(
                    "expired on {} ({clock} {})",
                    date(info.not_after),
                    date(now)
                ),
            },
            Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
            ) => Failure::CertificateTime {
                detail: alloc::format!(
                    "not valid before {} ({clock} {})",
                    date(info.not_before),
                    date(now)
                ),
            },
            Error::InvalidCertificate(CertificateError::UnknownIssuer) => Failure::Untrusted {
                detail: String::from("not issued by the CA in the connection file (ca=)"),
            },
            Error::InvalidCertificate(CertificateError::BadSignature) => Failure::Untrusted {
                detail: String::from("bad signature in the certificate chain"),
            },
            other => Failure::Untrusted {
                detail: alloc::format!("{other}"),
            },
        }
    }
}

/// rustls can carry only its own error kinds out of a verifier; the
/// detailed [`Failure`] is kept in [`Verifier::refusal`]. These are the
/// kinds used.
fn rustls_error(f: &Failure) -> Error {
    Error::InvalidCertificate(match f {
        Failure::CertificateTime { .. } => CertificateError::Expired,
        Failure::NameMismatch { .. } => CertificateError::NotValidForName,
        Failure::Protocol { .. } => CertificateError::BadEncoding,
        _ => CertificateError::ApplicationVerificationFailure,
    })
}

impl Verifier {
    /// Why this verifier refused the server's certificate, if it did.
    pub fn refusal(&self) -> Option<Failure> {
        self.refused.get().cloned()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.check(end_entity, intermediates) {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(f) => {
                let _ = self.refused.set(alloc::boxed::Box::new(f.clone()));
                Err(rustls_error(&f))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
