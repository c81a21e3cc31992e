//! Why a connection could not be made, in the words a person at the screen
//! needs: one kind per cause, a one-line summary, what to check, and the
//! host client's exit code for it.
//!
//! Owns the user-facing wording and the exit-code table (README "Exit
//! codes"). Must not: hold secrets (passwords never reach these strings).

use alloc::string::String;
use core::fmt;

/// A connection failure the user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No route, no DNS answer, or no answer at all (timeout).
    Unreachable {
        /// `host:port` (or name) that was tried.
        target: String,
        /// What the network said.
        detail: String,
    },
    /// The server (or the proxy) answered the TCP connect with a reset.
    Refused {
        /// `host:port` that refused.
        target: String,
    },
    /// The HTTP CONNECT proxy answered something other than 200.
    ProxyRefused {
        /// `host:port` of the proxy.
        proxy: String,
        /// Its status line, verbatim (control characters removed).
        status: String,
    },
    /// TLS is required (only `tls-port`, `secure-channels`, or NEED_SECURED)
    /// but the connection file gives nothing to trust: no `ca` and no pin.
    NoTrustAnchor,
    /// The server's certificate does not chain to the given CA, or its key
    /// does not match the pin, or the CA itself is unusable.
    Untrusted {
        /// Which check failed.
        detail: String,
    },
    /// The certificate is genuine but for someone else: `host-subject` or
    /// the host name does not match.
    NameMismatch {
        /// What the connection file asked for.
        expected: String,
        /// What the certificate says.
        presented: String,
    },
    /// The certificate has expired or is not valid yet.
    CertificateTime {
        /// Which date, and against which clock.
        detail: String,
    },
    /// PERMISSION_DENIED on link: wrong password or a used/expired ticket.
    Authentication,
    /// Anything else that broke the protocol (TLS alerts, malformed SPICE).
    Protocol {
        /// What happened.
        detail: String,
    },
}

/// The sentence shown for [`Failure::Authentication`] (the wording
/// for one-time tickets is part of it).
pub const AUTH_TEXT: &str =
    "wrong password, or ticket expired or already used, get a new connection file";

impl Failure {
    /// What to check, one short phrase.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "the host name or address, the network, and that the server is up",
            Self::Refused { .. } => "that the SPICE server runs and listens on this port (port= / tls-port=)",
            Self::ProxyRefused { .. } => "proxy= and the proxy's log; Proxmox tickets last about 40 s: get a new connection file",
            Self::NoTrustAnchor => "ca= in the connection file (PEM, newlines written as \\n)",
            Self::Untrusted { .. } => "ca= must be the CA that signed the server's certificate (or the key pin)",
            Self::NameMismatch { .. } => "host-subject= (or host=) against the server certificate's subject / subjectAltName",
            Self::CertificateTime { .. } => "the server certificate's validity dates, and the client's clock",
            Self::Authentication => "password= in the connection file; one-time tickets work once, within seconds",
            Self::Protocol { .. } => "that port/tls-port point at a SPICE server, and the server's log",
        }
    }

    /// Distinct process exit code for the host client (README "Exit codes").
    /// 1 (other, e.g. timeout) and 2 (bad arguments) are not used here.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Unreachable { .. } => 3,
            Self::Refused { .. } => 4,
            Self::ProxyRefused { .. } => 5,
            Self::NoTrustAnchor => 6,
            Self::Untrusted { .. } => 7,
            Self::NameMismatch { .. } => 8,
            Self::CertificateTime { .. } => 9,
            Self::Authentication => 10,
            Self::Protocol { .. } => 11,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable { target, detail } => {
                write!(f, "server unreachable: {target}: {detail}")
            }
            Self::Refused { target } => write!(f, "connection refused by {target}"),
            Self::ProxyRefused { proxy, status } => {
                write!(f, "proxy {proxy} refused the connection: {status}")
            }
            Self::NoTrustAnchor => {
                write!(f, "TLS required but no CA: the connection file has no ca=")
            }
            Self::Untrusted { detail } => write!(f, "certificate untrusted: {detail}"),
            Self::NameMismatch {
                expected,
                presented,
            } => {
                write!(
                    f,
                    "certificate mismatch: expected {expected}, server presented {presented}"
                )
            }
            Self::CertificateTime { detail } => write!(f, "certificate {detail}"),
            Self::Authentication => f.write_str(AUTH_TEXT),
            Self::Protocol { detail } if detail.starts_with("protocol error") => {
                f.write_str(detail)
            }
            Self::Protocol { detail } => write!(f, "protocol error: {detail}"),
        }
    }
}

/// `YYYY-MM-DD` of a Unix time (UTC), for messages about validity dates.
pub fn date(unix: u64) -> String {
    // Days to civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    alloc::format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn exit_codes_are_distinct() {
        let all = [
            Failure::Unreachable {
                target: "h:1".into(),
                detail: "x".into(),
            },
            Failure::Refused {
                target: "h:1".into(),
            },
            Failure::ProxyRefused {
                proxy: "p:3128".into(),
                status: "HTTP/1.1 403 Forbidden".into(),
            },
            Failure::NoTrustAnchor,
            Failure::Untrusted { detail: "x".into() },
            Failure::NameMismatch {
                expected: "a".into(),
                presented: "b".into(),
            },
            Failure::CertificateTime {
                detail: "expired".into(),
            },
            Failure::Authentication,
            Failure::Protocol { detail: "x".into() },
        ];
        let mut codes: alloc::vec::Vec<i32> = all.iter().map(Failure::exit_code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|&c| c > 2 && c < 64));
        assert!(Failure::Authentication
            .to_string()
            .contains("ticket expired or already used, get a new connection file"));
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_767_225_600), "2026-01-01");
    }
}
