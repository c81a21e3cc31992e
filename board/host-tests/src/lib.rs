//! Host unit tests for `barespice-board`'s code that does no I/O: the
//! VideoCore mailbox property message format, the BCM2712 (Pi 5)
//! detection and address table, the throttled (power) report, device-tree `ranges`, the USB
//! device record (route string, transaction translator), xHCI rings, TRBs and
//! contexts, the DWC2 split-transaction state machine, the LAN95xx/LAN78xx
//! Ethernet framing, the PCI BAR allocator, and the Pi 4's PCIe bridge fields and
//! GENET ring/PHY logic, and the Clause 22 PHY link logic (`mii`: link
//! resolution, change monitor, the rate-limited PHY poll). The board crate itself only builds for
//! `aarch64-unknown-none` (its boot dependency is AArch64 assembly), so this
//! crate compiles those source files again, unchanged, for the host; their
//! `#[cfg(test)]` modules are the tests. (USB descriptor and HID report
//! parsing live in the `usb-parse` crate, tested there.) Must not: hold tests
//! or code of its own.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[path = "../../src/rpi/property.rs"]
pub mod property;

#[path = "../../src/rpi/edid.rs"]
pub mod edid;
#[path = "../../src/rpi/power.rs"]
pub mod power;

#[path = "../../src/rpi/bcm2712.rs"]
pub mod bcm2712;

#[path = "../../src/rpi/ranges.rs"]
pub mod ranges;

#[path = "../../src/rpi/pcie/fields.rs"]
pub mod pcie_fields;

#[path = "../../src/rpi/genet/ring.rs"]
pub mod genet_ring;

// The GENET PHY code re-exports the generic Clause 22 logic from `crate::mii`.
#[path = "../../src/mii.rs"]
pub mod mii;

#[path = "../../src/rpi/genet/phy.rs"]
pub mod genet_phy;
// The USB topology record (route strings, transaction translators) needs the
// parsing crate and the DMA buffer type beside it, as in the board crate.
pub use usb_parse::{desc, Speed, UsbError};

#[path = "../../src/usb/dma.rs"]
pub mod dma;

#[path = "../../src/usb/controller.rs"]
pub mod usb_controller;

#[path = "../../src/usb/dwc2_split.rs"]
pub mod dwc2_split;

#[path = "../../src/usb/lan_frame.rs"]
pub mod lan_frame;

#[path = "../../src/usb/xhci/ring.rs"]
pub mod xhci_ring;

#[path = "../../src/usb/xhci/context.rs"]
pub mod xhci_context;

#[path = "../../src/pci/window.rs"]
pub mod pci_window;
