//! The channel between a USB Ethernet class driver (CDC-ECM today, the
//! LAN951x/LAN78xx adapters next) and embassy-net.
//!
//! Owns: the `embassy-net-driver-channel` types and sizes. The USB task holds
//! the [`NetRunner`] (in [`super::bus::Bus::net`], so whichever Ethernet driver
//! binds first takes it); the firmware gets the [`NetDevice`]. Must not: know
//! any USB class.
//!
//! Also holds the board's Ethernet MAC address as the firmware reported it
//! ([`set_board_mac`]), for on-board USB Ethernet chips without an EEPROM
//! (the Pi 3B's LAN9514, the Pi 3B+'s LAN7515).

use core::sync::atomic::{AtomicU64, Ordering};
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

/// The board MAC, with bit 48 set once known.
static BOARD_MAC: AtomicU64 = AtomicU64::new(0);

/// Records the MAC address the board's firmware assigned to its on-board
/// Ethernet (e.g. from the Raspberry Pi mailbox).
pub fn set_board_mac(mac: [u8; 6]) {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&mac);
    b[6] = 1;
    BOARD_MAC.store(u64::from_le_bytes(b), Ordering::Relaxed);
}

/// The MAC recorded with [`set_board_mac`], if any.
pub fn board_mac() -> Option<[u8; 6]> {
    let b = BOARD_MAC.load(Ordering::Relaxed).to_le_bytes();
    (b[6] == 1).then(|| [b[0], b[1], b[2], b[3], b[4], b[5]])
}
