//! USB host stack for boards whose keyboard, mouse and network sit behind a USB
//! host controller (Raspberry Pi 3; the Pi 4's USB-C/OTG port; QEMU `raspi3b` and
//! `raspi4b`).
//!
//! Owns, layer by layer:
//! * [`dma`]: DMA buffers and the board's address/cache hooks;
//! * [`dwc2`]: the DesignWare host controller (channels, root port);
//! * [`desc`]: parsing of standard descriptors (untrusted device data);
//! * [`report`]: HID report descriptors and reports (untrusted device data);
//! * [`host`]: the USB core: control transfers, enumeration, addresses,
//!   configuration choice, and the list of class drivers;
//! * [`input`]: HID events into the board's input stream;
//! * class drivers: [`hub`], [`hid`] (boot-protocol keyboards; mice and tablets
//!   through their report descriptor, e.g. QEMU's `usb-tablet`) and [`cdc_ecm`] (Ethernet, an
//!   `embassy-net-driver` through `embassy-net-driver-channel`).
//!
//! A further class driver (e.g. SMSC LAN951x or Microchip LAN78xx Ethernet) is a
//! module with an async `probe` that returns a boxed [`host::ClassDriver`]; it is
//! added to the probe list in [`host`]. Must not: depend on a board (everything
//! board-specific comes in through [`dma::DmaHal`] and the register window), or
//! block the executor for longer than a few frames.
//!
//! Design: polling, no interrupts. The stack runs as one async task
//! ([`host::UsbHost::run`]). Class drivers keep one host channel per endpoint and
//! are serviced every millisecond: an idle channel gets a new transfer, a busy
//! one is checked. Control transfers (enumeration, hub requests) are awaited in
//! line. Input reports come out as [`UsbInput`] values through a callback the
//! board supplies.

pub mod cdc_ecm;
pub mod desc;
pub mod dma;
pub mod dwc2;
pub mod hid;
pub mod host;
pub mod hub;
pub mod input;
pub mod report;
mod types;

pub use types::*;
