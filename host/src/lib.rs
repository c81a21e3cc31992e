//! barespice-host: a std SPICE client over TCP built on `spice-core`.
//!
//! Owns the host-side pieces only: argument parsing ([`args`]), the socket
//! loop and snapshot policy ([`client`]), the recording format
//! ([`record`]) and PNG output ([`snapshot`]). Protocol logic lives in
//! spice-core and must not be duplicated here.

pub mod args;
pub mod client;
pub mod record;
pub mod snapshot;
