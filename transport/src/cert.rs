//! What the trust rules need to read from a server certificate: subject
//! entries in order, subjectAltName DNS names and IP addresses, validity
//! dates and the SHA-256 of the SubjectPublicKeyInfo.
//!
//! Owns X.509 field extraction (via the `x509-cert` crate) and the
//! `host-subject` grammar spice-gtk uses. Must not: decide trust (that is
//! `verify`), or panic on any certificate bytes (they come from the network).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// One `K=V` of a distinguished name.
pub type Entry = (String, String);

/// The parts of a server certificate the trust rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject entries in certificate order, keys as OpenSSL's short names
    /// (`CN`, `O`, `OU`, ...) or dotted OIDs.
    pub subject: Vec<Entry>,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries (4 or 16 bytes).
    pub ip_addresses: Vec<Vec<u8>>,
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
    /// SHA-256 of the DER SubjectPublicKeyInfo (the pin).
    pub spki_sha256: [u8; 32],
}

/// Attribute short names as OpenSSL prints them (and spice-gtk parses them).
const NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("serialNumber", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("street", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("title", "2.5.4.12"),
    ("GN", "2.5.4.42"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
];

fn short_name(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    NAMES
        .iter()
        .find(|(_, o)| *o == dotted)
        .map_or(dotted, |(n, _)| (*n).to_string())
}

/// Parses the certificate fields; `Err` says what was malformed.
pub fn inspect(der: &[u8]) -> Result<CertInfo, String> {
    let cert =
        Certificate::from_der(der).map_err(|e| alloc::format!("malformed certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let mut subject = Vec::new();
    for rdn in tbs.subject.0.iter() {
        for atv in rdn.0.iter() {
            let value = match atv.value.tag() {
                Tag::Utf8String
                | Tag::PrintableString
                | Tag::Ia5String
                | Tag::TeletexString
                | Tag::VisibleString => String::from_utf8_lossy(atv.value.value()).into_owned(),
                _ => String::from("?"),
            };
            subject.push((short_name(&atv.oid), value));
        }
    }
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id != SAN {
            continue;
        }
        let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
            .map_err(|e| alloc::format!("malformed subjectAltName: {e}"))?;
        for name in san.0 {
            match name {
                GeneralName::DnsName(n) => dns_names.push(n.to_string()),
                GeneralName::IpAddress(ip) => ip_addresses.push(ip.as_bytes().to_vec()),
                _ => {}
            }
        }
    }
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| alloc::format!("malformed public key: {e}"))?;
    Ok(CertInfo {
        subject,
        dns_names,
        ip_addresses,
        not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
        not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
        spki_sha256: Sha256::digest(&spki).into(),
    })
}

/// Parses a `host-subject` as spice-gtk does: `K=V` entries separated by
/// commas, `\,` (and `\\`) escaping a literal comma (backslash); spaces
/// around keys and before values are ignored. `Err` names the bad part.
pub fn parse_subject(s: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err(String::from("host-subject ends with a lone backslash")),
            },
            ',' => parts.push(core::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            return Err(alloc::format!("host-subject entry without '=': {p}"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(alloc::format!("host-subject entry without a key: {p}"));
        }
        entries.push((k.to_string(), v.trim_start().to_string()));
    }
    Ok(entries)
}

/// `K=V,K=V` with commas in values escaped, the form a user would write.
pub fn format_subject(entries: &[Entry]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        for c in v.chars() {
            if c == ',' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

fn canonical(v: &str) -> String {
    // OpenSSL compares names in a canonical form: case folded, inner
    // whitespace collapsed, outer whitespace dropped.
    v.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// Whether the certificate subject equals the wanted one: same number of
/// entries, same keys and values in the same order.
pub fn subject_matches(wanted: &[Entry], subject: &[Entry]) -> bool {
    wanted.len() == subject.len()
        && wanted.iter().zip(subject).all(|((wk, wv), (sk, sv))| {
            let key = |k: &str| {
                NAMES
                    .iter()
                    .find(|(n, o)| n.eq_ignore_ascii_case(k) || *o == k)
                    .map_or(k.to_string(), |(n, _)| (*n).to_string())
            };
            key(wk) == key(sk) && canonical(wv) == canonical(sv)
        })
}

/// Host-name check as spice-gtk does it: an IP address must be in the
/// subjectAltName IP entries; a name must match a subjectAltName DNS entry
/// (a leading `*.` matches one label); only a certificate without any DNS
/// entry falls back to the subject's CN.
pub fn hostname_matches(host: &str, info: &CertInfo) -> bool {
    if let Some(ip) = parse_ip(host) {
        return info.ip_addresses.contains(&ip)
            || (info.dns_names.is_empty()
                && info.subject.iter().any(|(k, v)| k == "CN" && v == host));
    }
    let matches = |pattern: &str| {
        let (p, h) = (
            pattern.to_ascii_lowercase(),
            host.trim_end_matches('.').to_ascii_lowercase(),
        );
        match p.strip_prefix("*.") {
            Some(rest) => h
                .split_once('.')
                .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => p == h,
        }
    };
    if !info.dns_names.is_empty() {
        return info.dns_names.iter().any(|n| matches(n));
    }
    info.subject.iter().any(|(k, v)| k == "CN" && matches(v))
}

/// Dotted IPv4 as 4 bytes (IPv6 literals are not used by barespice).
fn parse_ip(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4);
    for part in s.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push(part.parse::<u8>().ok()?);
    }
    (out.len() == 4).then_some(out)
}

/// Parses a pin written as 64 hex digits (colons allowed between bytes).
pub fn parse_pin(s: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = core::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str, v: &str) -> Entry {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn proxmox_subject_parses_and_matches_in_order() {
        let wanted =
            parse_subject("OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1").unwrap();
        assert_eq!(
            wanted,
            [
                e("OU", "PVE Cluster Node"),
                e("O", "Proxmox Virtual Environment"),
                e("CN", "pve1")
            ]
        );
        let cert = [
            e("OU", "PVE Cluster Node"),
            e("O", "Proxmox Virtual Environment"),
            e("CN", "pve1"),
        ];
        assert!(subject_matches(&wanted, &cert));
        // Order matters, count matters, values matter.
        assert!(!subject_matches(
            &wanted,
            &[cert[1].clone(), cert[0].clone(), cert[2].clone()]
        ));
        assert!(!subject_matches(&wanted, &cert[..2]));
        assert!(!subject_matches(
            &wanted,
            &[cert[0].clone(), cert[1].clone(), e("CN", "pve2")]
        ));
        // Case and inner spaces are canonicalised as OpenSSL does.
        assert!(subject_matches(
            &parse_subject("ou=pve  cluster node, O=proxmox virtual environment,cn=PVE1").unwrap(),
            &cert
        ));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            parse_subject(r"CN=a\,b,O=x\\y").unwrap(),
            [e("CN", "a,b"), e("O", r"x\y")]
        );
        assert_eq!(format_subject(&[e("CN", "a,b")]), r"CN=a\,b");
        assert!(parse_subject("CN").is_err());
        assert!(parse_subject(r"CN=x\").is_err());
        assert!(parse_subject("=x").is_err());
    }

    #[test]
    fn hostnames() {
        let mut info = CertInfo {
            subject: alloc::vec![e("CN", "spice.lab")],
            dns_names: alloc::vec![],
            ip_addresses: alloc::vec![],
            not_before: 0,
            not_after: 0,
            spki_sha256: [0; 32],
        };
        assert!(hostname_matches("spice.lab", &info)); // CN fallback without SAN DNS
        assert!(hostname_matches("SPICE.lab.", &info));
        info.dns_names = alloc::vec!["*.example.org".to_string()];
        assert!(!hostname_matches("spice.lab", &info)); // SAN present: CN ignored
        assert!(hostname_matches("vm.example.org", &info));
        assert!(!hostname_matches("a.vm.example.org", &info));
        assert!(!hostname_matches("example.org", &info));
        assert!(!hostname_matches("127.0.0.1", &info));
        info.ip_addresses = alloc::vec![alloc::vec![127, 0, 0, 1]];
        assert!(hostname_matches("127.0.0.1", &info));
    }

    #[test]
    fn pins() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        assert_eq!(parse_pin(hex).unwrap()[..3], [0x00, 0x11, 0x22]);
        assert!(parse_pin("00:11").is_none());
        assert!(parse_pin(&hex.replace('0', "g")).is_none());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(inspect(&[]).is_err());
        assert!(inspect(&[0x30, 0x82, 0xff, 0xff, 0, 0]).is_err());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = inspect(&junk);
        }
    }
}
