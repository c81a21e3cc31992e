//! `barespice-board`: board support for barespice.
//!
//! Owns every device register: the console (PL011 carrying defmt), the
//! interrupt controller and the "interrupts end WFI" design ([`irq`]), the
//! embassy-time driver on the generic timer ([`time`]), the executor's run
//! loop ([`executor`]), and per-board drivers for the NIC, framebuffer,
//! input devices, entropy and reset. Boards are chosen at run time from the
//! device tree's root `compatible`; all device addresses come from the
//! device tree ([`dt`]). Implemented: QEMU `virt` ([`virt`]). The Raspberry
//! Pi boards (mailbox framebuffer, DWC2 USB with a CDC-ECM NIC and HID
//! keyboard/mouse, GENET on the Pi 4) slot in as further variants of
//! [`AnyNic`] and implementations of [`Framebuffer`] / [`InputSource`].
//!
//! Must not: know about SPICE or the firmware's tasks; expose registers
//! beyond this crate. The firmware sees only the traits and types below.
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
extern crate alloc;

pub mod audio;
pub mod bringup;
pub mod console;
pub mod dt;
pub mod executor;
pub mod fatal_screen;
pub mod gic;
pub mod input;
pub mod irq;
pub mod mii;
pub mod mmio;
pub mod net;
pub mod pci;
pub mod pl011;
pub mod ramfb;
pub mod rng;
pub mod rpi;
pub mod time;
pub mod usb;
pub mod virt;
pub mod virtio;
pub mod virtio_sound;

use alloc::boxed::Box;
use alloc::string::String;
use core::task::{Context, Poll};

pub use embassy_executor::Spawner;
pub use rng::{install_getrandom, BoardRng, EntropySource};

/// Geometry of a framebuffer. Pixels are `u32` 0x00RRGGBB (XRGB8888).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct FbInfo {
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Distance between rows, in pixels (>= width).
    pub stride: u32,
}

/// A linear XRGB8888 framebuffer.
pub trait Framebuffer: Send {
    /// Geometry.
    fn info(&self) -> FbInfo;
    /// All pixels, `stride * height` of them, top row first.
    fn pixels(&mut self) -> &mut [u32];
    /// Makes the given rectangle visible (cache clean on hardware; no-op
    /// where the display reads coherently, as with QEMU's ramfb).
    fn flush(&mut self, x: u32, y: u32, w: u32, h: u32);
    /// Short description for logs and the status screen.
    fn describe(&self) -> String;
}

/// Which physical key. Boards report what their hardware gives; the
/// firmware maps it to a SPICE (PC/AT set 1) scancode through spice-core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum KeyCode {
    /// A Linux evdev `KEY_*` code (virtio-input).
    Evdev(u16),
    /// A USB HID keyboard usage id (page 0x07), for USB boards.
    UsbHid(u16),
}

/// A pointer button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum PointerButton {
    /// Left / primary.
    Left,
    /// Middle.
    Middle,
    /// Right / secondary.
    Right,
}

/// One input event from a keyboard, mouse or tablet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum InputEvent {
    /// A key went down (`pressed`, also for auto-repeat) or up.
    Key {
        /// The key.
        code: KeyCode,
        /// Down or up.
        pressed: bool,
    },
    /// Absolute pointer position (tablet/touch), in `0..=max` device units.
    PointerAbsolute {
        /// X position.
        x: u32,
        /// Y position.
        y: u32,
        /// X range maximum.
        max_x: u32,
        /// Y range maximum.
        max_y: u32,
    },
    /// Relative pointer motion (mouse), in device counts.
    PointerRelative {
        /// Right is positive.
        dx: i32,
        /// Down is positive.
        dy: i32,
    },
    /// A pointer button changed.
    Button {
        /// Which one.
        button: PointerButton,
        /// Down or up.
        pressed: bool,
    },
    /// Wheel clicks; positive is away from the user (up).
    Wheel {
        /// Clicks.
        delta: i32,
    },
}

/// A source of input events (all keyboards and pointers of a board).
pub trait InputSource {
    /// Returns the next event, or registers `cx`'s waker and returns Pending.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<InputEvent>;
}

impl dyn InputSource {
    /// Waits for the next event.
    pub async fn next_event(&mut self) -> InputEvent {
        core::future::poll_fn(|cx| self.poll_event(cx)).await
    }
}

/// The board's network interface, whatever the hardware (an enum because
/// `embassy_net_driver::Driver` is not object safe).
pub enum AnyNic {
    /// virtio-net (QEMU virt).
    Virtio(net::VirtioNic),
    /// USB CDC-ECM Ethernet behind the DWC2 (Raspberry Pi boards).
    Usb(usb::cdc_ecm::NetDevice),
    /// The Pi 4's on-board GENET Ethernet.
    Genet(rpi::genet::NetDevice),
}

/// Receive token of [`AnyNic`].
pub enum AnyRx<'a> {
    /// virtio-net.
    Virtio(net::NicRx<'a>),
    /// USB Ethernet.
    Usb(<usb::cdc_ecm::NetDevice as embassy_net_driver::Driver>::RxToken<'a>),
    /// GENET.
    Genet(<rpi::genet::NetDevice as embassy_net_driver::Driver>::RxToken<'a>),
}

/// Transmit token of [`AnyNic`].
pub enum AnyTx<'a> {
    /// virtio-net.
    Virtio(net::NicTx<'a>),
    /// USB Ethernet.
    Usb(<usb::cdc_ecm::NetDevice as embassy_net_driver::Driver>::TxToken<'a>),
    /// GENET.
    Genet(<rpi::genet::NetDevice as embassy_net_driver::Driver>::TxToken<'a>),
}

impl embassy_net_driver::Driver for AnyNic {
    type RxToken<'a>
        = AnyRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = AnyTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(AnyRx<'_>, AnyTx<'_>)> {
        match self {
            AnyNic::Virtio(n) => n
                .receive(cx)
                .map(|(r, t)| (AnyRx::Virtio(r), AnyTx::Virtio(t))),
            AnyNic::Usb(n) => n.receive(cx).map(|(r, t)| (AnyRx::Usb(r), AnyTx::Usb(t))),
            AnyNic::Genet(n) => n
                .receive(cx)
                .map(|(r, t)| (AnyRx::Genet(r), AnyTx::Genet(t))),
        }
    }
    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<AnyTx<'_>> {
        match self {
            AnyNic::Virtio(n) => n.transmit(cx).map(AnyTx::Virtio),
            AnyNic::Usb(n) => n.transmit(cx).map(AnyTx::Usb),
            AnyNic::Genet(n) => n.transmit(cx).map(AnyTx::Genet),
        }
    }
    fn link_state(&mut self, cx: &mut Context<'_>) -> embassy_net_driver::LinkState {
        match self {
            AnyNic::Virtio(n) => n.link_state(cx),
            AnyNic::Usb(n) => n.link_state(cx),
            AnyNic::Genet(n) => n.link_state(cx),
        }
    }
    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        match self {
            AnyNic::Virtio(n) => n.capabilities(),
            AnyNic::Usb(n) => n.capabilities(),
            AnyNic::Genet(n) => n.capabilities(),
        }
    }
    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        match self {
            AnyNic::Virtio(n) => n.hardware_address(),
            AnyNic::Usb(n) => n.hardware_address(),
            AnyNic::Genet(n) => n.hardware_address(),
        }
    }
}

impl embassy_net_driver::RxToken for AnyRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        match self {
            AnyRx::Virtio(t) => t.consume(f),
            AnyRx::Usb(t) => t.consume(f),
            AnyRx::Genet(t) => t.consume(f),
        }
    }
}

impl embassy_net_driver::TxToken for AnyTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        match self {
            AnyTx::Virtio(t) => t.consume(len, f),
            AnyTx::Usb(t) => t.consume(len, f),
            AnyTx::Genet(t) => t.consume(len, f),
        }
    }
}

/// Board options the firmware decides before the devices come up.
#[derive(Clone, Copy, Debug)]
pub struct BoardOptions {
    /// Framebuffer width wanted (boards with a fixed mode may ignore it).
    pub fb_width: u32,
    /// Framebuffer height wanted.
    pub fb_height: u32,
    /// Use the monitor's preferred mode instead, where the board can read it
    /// (Raspberry Pi: EDID through the mailbox); `fb_width`/`fb_height` stay
    /// the fallback.
    pub fb_from_monitor: bool,
}

/// Everything a board gives the firmware.
pub struct Board {
    /// Board name for logs and the status screen, e.g. "QEMU virt".
    pub name: &'static str,
    /// Network interface, if one was found.
    pub nic: Option<AnyNic>,
    /// Display, if one was found.
    pub framebuffer: Option<Box<dyn Framebuffer>>,
    /// Keyboards and pointers.
    pub input: Box<dyn InputSource>,
    /// Seeded CSPRNG.
    pub rng: BoardRng,
    /// Audio output, if the board has one the firmware can drive.
    pub audio: Option<Box<dyn audio::AudioSink>>,
    /// A board task the firmware must spawn and never drop (the USB host
    /// stack on the Raspberry Pis), if the board has one.
    pub service: Option<core::pin::Pin<Box<dyn core::future::Future<Output = ()>>>>,
}

/// What can be read before devices are brought up: the console is on, and
/// the configuration sources are available.
pub struct Early {
    fdt: Option<fdt::Fdt<'static>>,
    /// The kernel command line (`/chosen/bootargs`).
    pub bootargs: &'static str,
    /// The initrd the loader passed (the `.vv` config), or empty.
    pub initrd: &'static [u8],
    kind: BoardKind,
}

#[derive(Clone, Copy)]
enum BoardKind {
    Virt,
    Rpi(rpi::Pi),
}

/// Brings up the console, interrupt controller, timer and reset; returns
/// the configuration sources. Call once, first thing in main.
pub fn early_init(info: &barespice_boot::BootInfo) -> Result<Early, &'static str> {
    // A Raspberry Pi booted from a raw image by QEMU gets no device tree at
    // all; rpi::detect then goes by the CPU type.
    let fdt = fdt::Fdt::new(info.dtb).ok();
    let kind = if let Some(f) = fdt
        .as_ref()
        .filter(|f| dt::machine_compatible(f).any(|c| c == "linux,dummy-virt"))
    {
        virt::early(f)?;
        BoardKind::Virt
    } else if let Some((model, peripherals)) = rpi::detect(fdt.as_ref()) {
        BoardKind::Rpi(rpi::early(model, peripherals)?)
    } else if fdt.is_none() {
        return Err("no usable device tree from the loader");
    } else {
        return Err("unsupported board (device tree root compatible)");
    };
    let bootargs = fdt.as_ref().map_or("", dt::bootargs);
    let initrd = match fdt.as_ref().and_then(barespice_boot::initrd_range) {
        // SAFETY: the loader placed the initrd at [s, e) in RAM (per
        // /chosen) and boot kept the heap out of it; it is never written.
        Some((s, e)) => unsafe { core::slice::from_raw_parts(s as *const u8, (e - s) as usize) },
        None => &[],
    };
    Ok(Early {
        fdt,
        bootargs,
        initrd,
        kind,
    })
}

impl Early {
    /// Brings up the remaining devices.
    pub fn devices(self, opts: BoardOptions) -> Board {
        match (self.kind, &self.fdt) {
            (BoardKind::Virt, Some(fdt)) => virt::devices(fdt, opts),
            (BoardKind::Rpi(pi), fdt) => rpi::devices(pi, fdt.as_ref(), opts),
            (BoardKind::Virt, None) => unreachable!("virt is only chosen from a device tree"),
        }
    }
}
