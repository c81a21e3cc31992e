//! `usb-parse`: the parts of barespice's USB host stack that read bytes a
//! device sent — standard descriptors (USB 2.0 chapter 9), SETUP packets, HID
//! report descriptors and reports — plus the plain types shared by every layer
//! (speeds, directions, endpoint kinds, errors, decoded input).
//!
//! Owns: parsing only. Every byte is untrusted: parsers check lengths and return
//! `None` rather than index out of bounds or panic (fuzzed by `fuzz/`'s
//! `usb_desc` and `usb_report` targets). Must not: perform I/O, touch
//! registers or allocate without bound. Builds for the host (`cargo test -p
//! usb-parse`) and for `aarch64-unknown-none` (through `barespice-board`).
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod desc;
pub mod report;
mod types;

pub use types::*;
