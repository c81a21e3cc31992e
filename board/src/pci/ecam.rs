//! A generic ECAM host bridge (PCIe Enhanced Configuration Access Mechanism):
//! QEMU virt's `pci-host-ecam-generic`, found in the device tree.
//!
//! Owns: config-space access through the ECAM window (bus << 20 | device << 15
//! | function << 12 | offset) and reading the bridge's `reg`, `bus-range` and
//! 32-bit memory `ranges` from its device-tree node. Must not: enumerate (that
//! is [`super::enumerate`]).

use super::{Bdf, ConfigAccess, Window};
use crate::mmio::Mmio;
use fdt::node::FdtNode;

/// Config space through an ECAM window.
pub struct Ecam {
    regs: Mmio,
    first_bus: u8,
    last_bus: u8,
}

impl Ecam {
    /// An ECAM window whose first MiB is bus `first_bus`.
    pub fn new(regs: Mmio, first_bus: u8, last_bus: u8) -> Self {
        Ecam {
            regs,
            first_bus,
            last_bus,
        }
    }

    /// First bus number behind the bridge.
    pub fn first_bus(&self) -> u8 {
        self.first_bus
    }

    fn offset(&self, bdf: Bdf, offset: u16) -> Option<usize> {
        if bdf.bus < self.first_bus
            || bdf.bus > self.last_bus
            || bdf.device > 31
            || bdf.function > 7
            || offset > 0xffc
        {
            return None;
        }
        Some(
            (usize::from(bdf.bus - self.first_bus) << 20)
                | (usize::from(bdf.device) << 15)
                | (usize::from(bdf.function) << 12)
                | usize::from(offset & !3),
        )
    }
}

impl ConfigAccess for Ecam {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.offset(bdf, offset)
            .map_or(u32::MAX, |o| self.regs.read32(o))
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(o) = self.offset(bdf, offset) {
            self.regs.write32(o, value);
        }
    }
}

/// What the device tree says about a generic ECAM bridge: the config window
/// `(base, size)`, the bus range and the 32-bit memory window.
pub struct EcamNode {
    /// ECAM physical base and size.
    pub config: (usize, usize),
    /// First and last bus.
    pub buses: (u8, u8),
    /// The non-prefetchable 32-bit memory window.
    pub memory: Window,
}

fn be32(b: &[u8], i: usize) -> Option<u64> {
    let c = b.get(4 * i..4 * i + 4)?;
    Some(u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
}

/// Reads a `pci-host-ecam-generic` node. `ranges` entries are
/// `<phys.hi phys.mid phys.lo  cpu (2 cells)  size (2 cells)>`; phys.hi bits
/// 25:24 = 2 is 32-bit memory space.
pub fn parse(node: &FdtNode<'_, '_>) -> Option<EcamNode> {
    let config = crate::dt::reg(node)?;
    let buses = match node.property("bus-range") {
        Some(p) => (be32(p.value, 0)? as u8, be32(p.value, 1)?.min(255) as u8),
        None => (0, 255),
    };
    let ranges = node.property("ranges")?.value;
    let memory = ranges.chunks_exact(28).find_map(|e| {
        let hi = be32(e, 0)?;
        if (hi >> 24) & 3 != 2 {
            return None;
        }
        let pci = (be32(e, 1)? << 32) | be32(e, 2)?;
        let cpu = (be32(e, 3)? << 32) | be32(e, 4)?;
        let size = (be32(e, 5)? << 32) | be32(e, 6)?;
        Some(Window { cpu, pci, size })
    })?;
    Some(EcamNode {
        config,
        buses,
        memory,
    })
}
