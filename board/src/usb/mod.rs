//! USB host stack for boards whose keyboard, mouse and network sit behind a USB
//! host controller: the DWC2 (Raspberry Pi 3; the Pi 4's USB-C/OTG port; QEMU
//! `raspi3b` and `raspi4b`) and the xHCI (QEMU `virt` with `qemu-xhci`; the
//! Pi 4's VL805 behind PCIe).
//!
//! Layers, each a module that imports only the ones above it:
//! * [`desc`], [`report`] and the plain types: parsing of untrusted device data,
//!   from the host-tested `usb-parse` crate;
//! * [`dma`]: DMA buffers and the board's address/cache hooks;
//! * [`controller`]: the [`controller::HostController`] seam and the
//!   [`controller::Device`] record (address, speed, route string, TT);
//! * controllers: [`dwc2`] (registers) with [`dwc2_split`] (split
//!   transactions, pure) and [`dwc2_pipes`] (the seam), and
//!   [`xhci`];
//! * [`bus`]: control transfers, enumeration, pipes, the class-driver traits;
//! * class drivers: [`hub`], [`hid`] (boot-protocol keyboards; mice and tablets
//!   through their report descriptor), [`cdc_ecm`] and [`lan_eth`] (SMSC
//!   LAN95xx / Microchip LAN78xx, framing in [`lan_frame`]) (Ethernet through
//!   [`net_channel`]);
//! * [`redirect`]: the slot that hands devices the firmware does not use to
//!   the VM (usbredir), running the VM's transfers;
//! * [`classes`]: the one table of class drivers;
//! * [`host`]: the task (ports, attach/detach, polling) and [`host::start`];
//! * [`input`]: HID events into the board's input stream.
//!
//! A further class driver is a module with a `CLASS` [`bus::ClassEntry`] whose probe returns boxed
//! [`bus::ClassDriver`]s; adding it is one line in [`classes::CLASSES`].
//! Must not: depend on a board (everything board-specific comes in through
//! [`dma::DmaHal`] and the register window), or block the executor for longer
//! than a few frames.
//!
//! Design: polling, no interrupts. The stack runs as one async task
//! ([`host::UsbHost::run`]). Class drivers keep one pipe per endpoint and are
//! serviced every millisecond: an idle pipe gets a new transfer, a busy one is
//! checked. Control transfers (enumeration, hub requests) are awaited in line.
//! Input reports come out as [`UsbInput`] values through a callback the board
//! supplies.

pub mod bus;
pub mod cdc_ecm;
pub mod classes;
pub mod controller;
pub mod dma;
pub mod dwc2;
pub mod dwc2_pipes;
pub mod dwc2_split;
pub mod hid;
pub mod host;
pub mod hub;
pub mod input;
pub mod lan_eth;
pub mod lan_frame;
pub mod net_channel;
pub mod redirect;
pub mod xhci;

pub use usb_parse::{desc, report};
pub use usb_parse::{Direction, EndpointKind, Speed, UsbError, UsbInput, ABS_MAX};
