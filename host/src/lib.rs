//! barespice-host: a std SPICE client over TCP built on `spice-core`.
//!
//! Owns the host-side pieces only: argument parsing ([`args`]), where and
//! how channels connect (plain, TLS, proxy; [`endpoint`]), the socket
//! loop and snapshot policy ([`client`]), the recording format
//! ([`record`]), PNG output ([`snapshot`]), /proc memory figures
//! ([`memory`]), stderr log lines ([`log`]) and the Proxmox ticket
//! flow ([`pve`]). Protocol logic lives in
//! spice-core and must not be duplicated here.

pub mod args;
pub mod client;
pub mod endpoint;
pub mod log;
pub mod memory;
pub mod pve;
pub mod record;
pub mod snapshot;
