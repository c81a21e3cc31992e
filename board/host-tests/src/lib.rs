//! Host unit tests for `barespice-board`'s code that does no I/O: USB standard
//! descriptors, HID report descriptors and reports, the VideoCore mailbox
//! property message format, device-tree `ranges`, and the Pi 4's PCIe bridge
//! fields and GENET ring/PHY logic. The board crate itself only builds for
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

#[path = "../../src/rpi/ranges.rs"]
pub mod ranges;

#[path = "../../src/rpi/pcie/fields.rs"]
pub mod pcie_fields;

#[path = "../../src/rpi/genet/ring.rs"]
pub mod genet_ring;

#[path = "../../src/rpi/genet/phy.rs"]
pub mod genet_phy;
