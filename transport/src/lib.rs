//! `barespice-transport`: what a barespice client needs between the TCP
//! socket and the SPICE protocol core, for the firmware (`no_std` +
//! `alloc`) and `barespice-host` alike.
//!
//! - [`tls`]: a sans-IO TLS 1.2/1.3 client (rustls' unbuffered API with the
//!   pure-Rust RustCrypto provider; `ring` does not build for
//!   `aarch64-unknown-none`);
//! - [`verify`]: whom to trust (`ca`, `host-subject`, host name, our
//!   `x-barespice-pubkey-sha256` pin) and the rule for an unknown clock;
//! - [`cert`]: the X.509 fields those rules read;
//! - [`proxy`]: HTTP CONNECT (`proxy=http://HOST:PORT`);
//! - [`pve`]: the Proxmox VE API calls of a kiosk (fresh SPICE tickets);
//! - [`failure`]: every way connecting can fail, in user-facing words with
//!   what to check and the host's exit code.
//!
//! Only [`pve`] knows SPICE's Proxmox ticket shape; the rest is generic.
//! Must not: open sockets, read clocks or touch hardware (callers do), or
//! panic on network bytes.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod cert;
pub mod failure;
pub mod proxy;
pub mod pve;
pub mod tls;
pub mod verify;

pub use failure::Failure;
pub use tls::TlsClient;
pub use verify::{Clock, Trust};
