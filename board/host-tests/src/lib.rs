//! Host unit tests for `barespice-board`'s code that does no I/O: the
//! VideoCore mailbox property message format, xHCI rings and TRBs, and the
//! PCI BAR allocator. The board crate itself only builds for
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

#[path = "../../src/usb/xhci/ring.rs"]
pub mod xhci_ring;

#[path = "../../src/usb/xhci/context.rs"]
pub mod xhci_context;

#[path = "../../src/pci/window.rs"]
pub mod pci_window;
