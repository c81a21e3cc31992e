//! The Proxmox kiosk settings (issue 17): where the Proxmox API is, the API
//! token, which VM, whom to trust for the API and whether to start a
//! stopped VM. They come from `.vv` keys `x-barespice-pve-KEY` and kernel
//! command-line words `barespice.pve-KEY=VALUE` (the command line wins):
//!
//! | KEY | value |
//! |---|---|
//! | `api` | `https://HOST:8006` |
//! | `token` | `USER@REALM!TOKENID` |
//! | `secret` | the token's secret (never logged or shown) |
//! | `node` | cluster node of the VM |
//! | `vmid` | VM id, or instead: |
//! | `vm-name` | VM name, looked up in `cluster/resources` |
//! | `ca` | the API's CA, PEM (`\n` escapes), or: |
//! | `pubkey-sha256` | SHA-256 of the API certificate's public key (hex) |
//! | `start` | `1`: start the VM when it is stopped |
//!
//! Owns the keys' syntax only. Must not: know HTTP or Proxmox's answers
//! (`barespice-transport::pve` does) or show the secret (`Debug` masks it).

use alloc::string::{String, ToString};
use core::fmt;

/// Proxmox kiosk settings; all `None` / `false` when not configured.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PveConfig {
    /// `api`: `https://HOST:PORT` of the Proxmox API.
    pub api: Option<String>,
    /// `token`: `USER@REALM!TOKENID`.
    pub token_id: Option<String>,
    /// `secret`: the API token's secret.
    pub token_secret: Option<String>,
    /// `node`: the VM's cluster node.
    pub node: Option<String>,
    /// `vmid`: the VM id.
    pub vmid: Option<u32>,
    /// `vm-name`: a VM name to look up instead of `vmid`.
    pub vm_name: Option<String>,
    /// `ca`: CA certificate(s) of the API, PEM.
    pub ca: Option<String>,
    /// `pubkey-sha256`: key pin of the API certificate (hex).
    pub pubkey_sha256: Option<String>,
    /// `start`: start the VM when it is stopped.
    pub start: bool,
}

impl fmt::Debug for PveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PveConfig")
            .field("api", &self.api)
            .field("token_id", &self.token_id)
            .field(
                "token_secret",
                &self.token_secret.as_ref().map(|_| "********"),
            )
            .field("node", &self.node)
            .field("vmid", &self.vmid)
            .field("vm_name", &self.vm_name)
            .field("pubkey_sha256", &self.pubkey_sha256)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

/// Whether `key` (without prefix) holds a secret that must be masked.
pub(crate) fn is_secret(key: &str) -> bool {
    key == "secret"
}

impl PveConfig {
    /// Whether any Proxmox key was given: the kiosk then asks the API for
    /// every connection instead of using `host` / `password`.
    pub fn enabled(&self) -> bool {
        self.api.is_some()
    }

    /// Applies one `KEY=VALUE` (without the `x-barespice-pve-` or
    /// `barespice.pve-` prefix).
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), &'static str> {
        let value = value.trim();
        match key {
            "api" => {
                let rest = value
                    .strip_prefix("https://")
                    .ok_or("pve-api must be https://HOST:8006")?;
                if rest.is_empty()
                    || rest.starts_with([':', '/'])
                    || rest.contains(char::is_whitespace)
                {
                    return Err("pve-api must be https://HOST:8006");
                }
                self.api = Some(value.to_string());
            }
            "token" => {
                let ok = value
                    .split_once('!')
                    .is_some_and(|(u, t)| u.contains('@') && !t.is_empty())
                    && value.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
                if !ok {
                    return Err("pve-token must be USER@REALM!TOKENID");
                }
                self.token_id = Some(value.to_string());
            }
            "secret" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err("pve-secret must be printable text without spaces");
                }
                self.token_secret = Some(value.to_string());
            }
            "node" => {
                if value.is_empty()
                    || !value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                {
                    return Err("pve-node must be a node name (letters, digits, '-', '.')");
                }
                self.node = Some(value.to_string());
            }
            "vmid" => {
                self.vmid = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or("pve-vmid must be a VM id number")?,
                )
            }
            "vm-name" => {
                if value.is_empty() {
                    return Err("pve-vm-name must not be empty");
                }
                self.vm_name = Some(value.to_string());
            }
            "ca" => {
                if !value.contains("-----BEGIN") {
                    return Err("pve-ca must be a PEM certificate (newlines written as \\n)");
                }
                self.ca = Some(value.to_string());
            }
            "pubkey-sha256" => {
                if value.bytes().filter(u8::is_ascii_hexdigit).count() != 64 {
                    return Err("pve-pubkey-sha256 must be 64 hex digits");
                }
                self.pubkey_sha256 = Some(value.to_string());
            }
            "start" => self.start = matches!(value, "1" | "true" | "yes"),
            _ => return Err("unknown pve- key"),
        }
        Ok(())
    }

    /// What is missing before the API can be asked, if Proxmox is enabled.
    pub fn missing(&self) -> Option<&'static str> {
        if !self.enabled() {
            None
        } else if self.token_id.is_none() || self.token_secret.is_none() {
            Some("Proxmox: set pve-token=USER@REALM!TOKENID and pve-secret=")
        } else if self.vmid.is_none() && self.vm_name.is_none() {
            Some("Proxmox: set pve-vmid= (with pve-node=) or pve-vm-name=")
        } else if self.vmid.is_some() && self.vm_name.is_none() && self.node.is_none() {
            Some("Proxmox: pve-vmid needs pve-node= (or use pve-vm-name=)")
        } else if self.ca.is_none() && self.pubkey_sha256.is_none() {
            Some("Proxmox: set pve-ca= (the cluster CA, PEM) or pve-pubkey-sha256= for the API certificate")
        } else {
            None
        }
    }
}
