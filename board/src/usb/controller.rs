//! The host-controller seam: what the USB core and the class drivers need from
//! a USB host controller, whatever its register model.
//!
//! Owns: the [`HostController`] trait, the [`Device`] record the core keeps for
//! every attached device (address, speed, where it hangs, its transaction
//! translator), [`PipeId`] and [`RootPort`]. Implemented by the DWC2
//! ([`super::dwc2_pipes::Dwc2Host`]) and the xHCI ([`super::xhci::Xhci`]).
//! Must not: know any register, or anything about device classes.
//!
//! The trait is object safe (the core holds a `Box<dyn HostController>`):
//! operations that wait (port reset, controller commands, control transfers)
//! return a boxed future; transfers on opened endpoints are started and polled
//! without waiting, so class drivers stay plain `poll` functions.

use super::desc::{DeviceDescriptor, EndpointDescriptor, Setup};
use super::dma::DmaBuf;
use super::{Speed, UsbError};
use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;

/// A boxed future borrowed from the controller.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The transaction translator of the nearest high-speed hub above a low- or
/// full-speed device (USB 2.0 §11.14): split transactions go through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Tt {
    /// USB address of the high-speed hub.
    pub hub_address: u8,
    /// Its controller handle (xHCI slot id).
    pub hub_slot: u8,
    /// The hub's downstream port (1-based) the device's subtree hangs off.
    pub port: u8,
    /// The hub has one TT per port.
    pub multi: bool,
}

/// An attached device as the core and the controller see it.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct Device {
    /// Bus address, 1..=127 (0 until addressed).
    pub address: u8,
    /// The controller's handle for it (xHCI slot id; the DWC2 uses the address).
    pub slot: u8,
    /// Bus speed.
    pub speed: Speed,
    /// Endpoint 0 max packet size.
    pub max_packet0: u16,
    /// The device descriptor (zeroed fields until read).
    pub descriptor: DeviceDescriptor,
    /// The hub address and port (1-based) it hangs off; `None` on a root port.
    pub parent: Option<(u8, u8)>,
    /// The root port (1-based) its branch of the tree starts at.
    pub root_port: u8,
    /// xHCI route string: the hub port numbers below the root port, 4 bits
    /// each, tier 1 in the lowest nibble (xHCI 1.2 §8.9).
    pub route: u32,
    /// Hubs between it and the root port.
    pub depth: u8,
    /// Transaction translator for a low/full-speed device behind a high-speed hub.
    pub tt: Option<Tt>,
}

impl Device {
    /// A device just reset on root port `root_port` (1-based).
    pub fn on_root_port(root_port: u8, speed: Speed) -> Self {
        Device {
            address: 0,
            slot: 0,
            speed,
            max_packet0: default_max_packet0(speed),
            descriptor: DeviceDescriptor::default(),
            parent: None,
            root_port,
            route: 0,
            depth: 0,
            tt: None,
        }
    }

    /// A device just reset on port `port` of `hub`; `hub_multi_tt` tells whether
    /// that hub (if high speed) has a TT per port.
    pub fn behind_hub(hub: &Device, port: u8, speed: Speed, hub_multi_tt: bool) -> Self {
        let route = if hub.depth < 5 {
            hub.route | (u32::from(port.min(15)) << (4 * hub.depth))
        } else {
            hub.route
        };
        let tt = match (hub.speed, speed) {
            (Speed::High, Speed::Low | Speed::Full) => Some(Tt {
                hub_address: hub.address,
                hub_slot: hub.slot,
                port,
                multi: hub_multi_tt,
            }),
            (Speed::Low | Speed::Full, _) => hub.tt,
            _ => None,
        };
        Device {
            parent: Some((hub.address, port)),
            root_port: hub.root_port,
            route,
            depth: hub.depth.saturating_add(1),
            tt,
            ..Device::on_root_port(hub.root_port, speed)
        }
    }
}

/// bMaxPacketSize0 to assume before the device descriptor says (USB 2.0
/// §5.5.3: 8 is legal at every USB 2 speed for the first 8-byte read).
pub fn default_max_packet0(speed: Speed) -> u16 {
    match speed {
        Speed::Low | Speed::Full => 8,
        Speed::High => 64,
        Speed::Super => 512,
    }
}

/// One opened endpoint on a controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct PipeId(pub u16);

/// What a root port reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct RootPort {
    /// A device is attached.
    pub connected: bool,
    /// The connection changed since the last look (an unplug and re-plug in
    /// between shows as `connected` with `changed`).
    pub changed: bool,
}

/// A USB host controller, as the USB core drives it.
pub trait HostController {
    /// Short name for logs ("dwc2", "xhci").
    fn name(&self) -> &'static str;
    /// Number of root ports (1-based numbering).
    fn root_ports(&self) -> u8;
    /// The state of root port `port`; acknowledges its change bits.
    fn root_port(&mut self, port: u8) -> RootPort;
    /// Resets root port `port` and returns the attached device's speed.
    fn reset_root_port(&mut self, port: u8) -> BoxFut<'_, Result<Speed, UsbError>>;
    /// Gets a device that was just reset ready for control transfers at the
    /// default address (xHCI: a slot and its endpoint 0); sets `dev.slot`.
    fn add_device<'a>(&'a mut self, dev: &'a mut Device) -> BoxFut<'a, Result<(), UsbError>>;
    /// Moves the device to `address` (`dev.max_packet0` is final by now) and
    /// stores the address the device answers at in `dev.address` (xHCI picks
    /// its own).
    fn set_address<'a>(
        &'a mut self,
        dev: &'a mut Device,
        address: u8,
    ) -> BoxFut<'a, Result<(), UsbError>>;
    /// Tells the controller that `dev` is a hub with `ports` ports (xHCI slot
    /// context: Hub, Number of Ports, TT think time, MTT).
    fn set_hub<'a>(
        &'a mut self,
        dev: &'a Device,
        ports: u8,
        think_time: u8,
        multi_tt: bool,
    ) -> BoxFut<'a, Result<(), UsbError>>;
    /// Forgets a device that went away (its pipes are closed first).
    fn remove_device<'a>(&'a mut self, dev: &'a Device) -> BoxFut<'a, ()>;
    /// A whole control transfer on endpoint 0: SETUP, data stage in or out of
    /// `buf` (`setup.length` bytes), status. Returns the bytes of the data stage.
    fn control<'a>(
        &'a mut self,
        dev: &'a Device,
        setup: Setup,
        buf: &'a mut DmaBuf,
    ) -> BoxFut<'a, Result<usize, UsbError>>;
    /// Opens a bulk or interrupt endpoint of a configured device.
    fn open_pipe<'a>(
        &'a mut self,
        dev: &'a Device,
        ep: &'a EndpointDescriptor,
    ) -> BoxFut<'a, Result<PipeId, UsbError>>;
    /// Closes a pipe (stopping a transfer in flight).
    fn close_pipe(&mut self, pipe: PipeId) -> BoxFut<'_, ()>;
    /// Starts one transfer of `len` bytes from/into `buf` on `pipe` (its
    /// direction is the endpoint's); `buf` must stay alive until it finishes.
    fn start(&mut self, pipe: PipeId, buf: &DmaBuf, len: usize) -> Result<(), UsbError>;
    /// `None` while the transfer runs; else its result (bytes moved).
    /// [`UsbError::Nak`] means "no data this time, ask again later".
    fn poll(&mut self, pipe: PipeId) -> Option<Result<usize, UsbError>>;
    /// True while `pipe` has a transfer in flight.
    fn busy(&self, pipe: PipeId) -> bool;
    /// True when the controller itself waits for an interrupt endpoint's
    /// interval (xHCI schedules periodic endpoints), so a finished transfer may
    /// be followed by the next one at once; false when a NAK or a finished
    /// transfer hands the pacing to the core (DWC2).
    fn paces_periodic(&self) -> bool;
    /// Housekeeping the core runs every millisecond (xHCI: drain the event
    /// ring, recover halted endpoints).
    fn service(&mut self) -> BoxFut<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addressed(mut d: Device, address: u8, slot: u8) -> Device {
        d.address = address;
        d.slot = slot;
        d
    }

    #[test]
    fn route_string_grows_one_nibble_per_tier() {
        let hub1 = addressed(Device::on_root_port(5, Speed::Full), 1, 1);
        let hub2 = addressed(Device::behind_hub(&hub1, 3, Speed::Full, false), 2, 2);
        let kbd = Device::behind_hub(&hub2, 12, Speed::Low, false);
        assert_eq!((hub2.route, hub2.depth, hub2.root_port), (0x3, 1, 5));
        assert_eq!((kbd.route, kbd.depth, kbd.root_port), (0xc3, 2, 5));
        assert_eq!(kbd.parent, Some((2, 12)));
        // Port numbers above 15 are clamped to the nibble.
        assert_eq!(Device::behind_hub(&hub1, 20, Speed::Full, false).route, 0xf);
    }

    #[test]
    fn low_and_full_speed_behind_a_high_speed_hub_get_its_tt() {
        let hs_hub = addressed(Device::on_root_port(1, Speed::High), 4, 7);
        let fs_dev = Device::behind_hub(&hs_hub, 2, Speed::Full, true);
        assert_eq!(
            fs_dev.tt,
            Some(Tt {
                hub_address: 4,
                hub_slot: 7,
                port: 2,
                multi: true
            })
        );
        let hs_dev = Device::behind_hub(&hs_hub, 3, Speed::High, true);
        assert_eq!(hs_dev.tt, None);
        // A full-speed hub behind the high-speed one: its children keep the
        // high-speed hub's TT (on the port the full-speed hub hangs off).
        let fs_hub = addressed(Device::behind_hub(&hs_hub, 4, Speed::Full, false), 5, 8);
        let ls_kbd = Device::behind_hub(&fs_hub, 1, Speed::Low, false);
        assert_eq!(
            ls_kbd.tt,
            Some(Tt {
                hub_address: 4,
                hub_slot: 7,
                port: 4,
                multi: false
            })
        );
        // Everything on a root port or a full-speed root hub tree: no TT.
        assert_eq!(Device::on_root_port(1, Speed::Low).tt, None);
    }

    #[test]
    fn default_ep0_sizes() {
        assert_eq!(default_max_packet0(Speed::Low), 8);
        assert_eq!(default_max_packet0(Speed::High), 64);
        assert_eq!(default_max_packet0(Speed::Super), 512);
    }
}
