//! Host unit tests for `barespice-board`'s code that does no I/O: USB standard
//! descriptors, HID report descriptors and reports, and the VideoCore mailbox
//! property message format. The board crate itself only builds for
//! `aarch64-unknown-none` (its boot dependency is AArch64 assembly), so this
//! crate compiles those source files again, unchanged, for the host; their
//! `#[cfg(test)]` modules are the tests. Must not: hold tests or code of its own.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[path = "../../src/usb/types.rs"]
mod types;
pub use types::*;

#[path = "../../src/usb/desc.rs"]
pub mod desc;

#[path = "../../src/usb/report.rs"]
pub mod report;

#[path = "../../src/rpi/property.rs"]
pub mod property;

#[path = "../../src/rpi/edid.rs"]
pub mod edid;
