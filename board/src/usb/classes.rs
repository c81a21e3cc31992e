//! The one table of USB class drivers the core tries on every new device.
//!
//! Owns: [`CLASSES`], in priority order (hubs first, then Ethernet, then HID).
//! Adding a driver (e.g. the LAN951x or LAN78xx Ethernet adapters) is one line
//! here pointing at the module's `CLASS` entry. Must not: hold driver code.

use super::bus::ClassEntry;
use super::desc::DeviceDescriptor;
use super::{cdc_ecm, hid, hub};

/// Every class driver, tried in this order; the first that binds wins the device.
pub const CLASSES: &[&ClassEntry] = &[&hub::CLASS, &cdc_ecm::CLASS, &hid::CLASS];

/// True when some driver in [`CLASSES`] accepts a device with this descriptor
/// and configuration (used to choose between configurations).
pub fn known(d: &DeviceDescriptor, config: &[u8]) -> bool {
    CLASSES.iter().any(|c| (c.matches)(d, config))
}
