//! The channel between a USB Ethernet class driver (CDC-ECM today, the
//! LAN951x/LAN78xx adapters next) and embassy-net.
//!
//! Owns: the `embassy-net-driver-channel` types and sizes. The USB task holds
//! the [`NetRunner`] (in [`super::bus::Bus::net`], so whichever Ethernet driver
//! binds first takes it); the firmware gets the [`NetDevice`]. Must not: know
//! any USB class.

use embassy_net_driver::HardwareAddress;
use embassy_net_driver_channel as ch;

/// Largest Ethernet frame without FCS.
pub const MTU: usize = 1514;
/// Receive queue depth (frames).
pub const RX_FRAMES: usize = 8;
/// Transmit queue depth (frames).
pub const TX_FRAMES: usize = 8;

/// The channel state shared between the USB task and embassy-net (make it
/// `'static`, e.g. with `Box::leak`).
pub type NetState = ch::State<MTU, RX_FRAMES, TX_FRAMES>;
/// The USB side of the channel: handed to [`super::host::UsbHost::new`].
pub type NetRunner = ch::Runner<'static, MTU>;
/// The embassy-net side: implements `embassy_net_driver::Driver`.
pub type NetDevice = ch::Device<'static, MTU>;

/// Splits `state` into the USB runner and the embassy-net device. The MAC
/// address is filled in when a device is found; the link stays down until then.
pub fn channel(state: &'static mut NetState) -> (NetRunner, NetDevice) {
    ch::new(state, HardwareAddress::Ethernet([0; 6]))
}
