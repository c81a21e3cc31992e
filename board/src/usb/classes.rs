//! The one table of USB class drivers the core tries on every new device.
//!
//! Owns: [`CLASSES`], in priority order (hubs first, then Ethernet, then HID,
//! then the redirection slot for whatever is left).
//! Adding a driver is one line
//! here pointing at the module's `CLASS` entry. Must not: hold driver code.

use super::bus::ClassEntry;
use super::desc::DeviceDescriptor;
use super::{cdc_ecm, hid, hub, lan_eth, redirect};

/// Every class driver, tried in this order; the first that binds wins the device.
pub const CLASSES: &[&ClassEntry] = &[
    &hub::CLASS,
    &lan_eth::SMSC95XX_CLASS,
    &lan_eth::LAN78XX_CLASS,
    &cdc_ecm::CLASS,
    &hid::CLASS,
    &redirect::CLASS,
];

/// True when some driver in [`CLASSES`] accepts a device with this descriptor
/// and configuration (used to choose between configurations).
pub fn known(d: &DeviceDescriptor, config: &[u8]) -> bool {
    CLASSES.iter().any(|c| (c.matches)(d, config))
}
