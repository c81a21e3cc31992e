//! `barespice-usbredir`: the usbredir protocol as the **usb-host** side speaks
//! it (the side that owns the real device; QEMU's `usb-redir` device is the
//! usb-guest), and the `.vv` `usb-filter` rules remote-viewer uses.
//!
//! Layouts and rules follow usbredir's `usbredirparser/usbredirproto.h`
//! (protocol 0.7) and `usbredirparser.c` (header and type-header lengths that
//! depend on negotiated capabilities, which packets carry data) and
//! `usbredirparser/usbredirfilter.c` (filter syntax and check order).
//!
//! Owns: [`proto`] (constants named from `usbredirproto.h`), [`caps`]
//! (capability words and negotiation), [`packet`] (decoding what the guest
//! sends, encoding what the host sends), [`host`] (the usb-host side of one
//! stream: requests for the device owner, replies to the guest), [`parser`] (stream framing with a
//! bound on every packet), [`filter`] (rule parsing and matching).
//! Must not: do I/O, touch USB hardware or trust a byte: every length is
//! checked before use and nothing allocates more than the parser's bound.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod caps;
pub mod filter;
pub mod host;
pub mod packet;
pub mod parser;
pub mod proto;

pub use caps::Caps;
pub use filter::{FilterError, Rule, Rules};
pub use host::{Attached, Completion, ControlSetup, RedirHost, Request};
pub use packet::{DeviceInfo, EpInfo, InterfaceInfo, Packet, PacketError};
pub use parser::{Parser, ParserError};

#[cfg(test)]
mod tests;
