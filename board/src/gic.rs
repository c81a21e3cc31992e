//! GICv2 (GIC-400) driver: the interrupt controller of QEMU virt and the
//! Raspberry Pi 4. Used in "wake only" mode: interrupts are enabled at the
//! GIC so they end a WFI, but PSTATE.I stays masked, so they are never taken
//! as exceptions; `barespice-board`'s `irq` module acknowledges them by
//! polling the CPU interface after the WFI.
//!
//! Must not: be used on the Pi 3 (BCM2836 local controller) or with GICv3.

use crate::mmio::Mmio;

const GICD_CTLR: usize = 0x000;
const GICD_ISENABLER: usize = 0x100;
const GICD_ICENABLER: usize = 0x180;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_ITARGETSR: usize = 0x800;
const GICC_CTLR: usize = 0x00;
const GICC_PMR: usize = 0x04;
const GICC_IAR: usize = 0x0c;
const GICC_EOIR: usize = 0x10;

/// Interrupt ids >= this are "no interrupt pending".
pub const SPURIOUS: u32 = 1020;

/// A GICv2 distributor + CPU interface pair.
#[derive(Clone, Copy)]
pub struct Gic {
    dist: Mmio,
    cpu: Mmio,
}

impl Gic {
    /// Enables the distributor and this core's CPU interface, all priorities
    /// unmasked, every line disabled until `enable` is called for it.
    pub fn new(dist: Mmio, cpu: Mmio) -> Self {
        let g = Self { dist, cpu };
        g.dist.write32(GICD_CTLR, 0);
        for i in 0..32 {
            g.dist.write32(GICD_ICENABLER + 4 * i, 0xffff_ffff);
        }
        g.dist.write32(GICD_CTLR, 1);
        g.cpu.write32(GICC_PMR, 0xff);
        g.cpu.write32(GICC_CTLR, 1);
        g
    }

    /// Lets interrupt `id` reach this core (priority 0x80, target CPU 0).
    pub fn enable(&self, id: u32) {
        let id = id as usize;
        self.dist.write8(GICD_IPRIORITYR + id, 0x80);
        if id >= 32 {
            self.dist.write8(GICD_ITARGETSR + id, 1);
        }
        self.dist
            .write32(GICD_ISENABLER + 4 * (id / 32), 1 << (id % 32));
    }

    /// Stops interrupt `id` from reaching this core (it stays pending).
    pub fn disable(&self, id: u32) {
        let id = id as usize;
        self.dist
            .write32(GICD_ICENABLER + 4 * (id / 32), 1 << (id % 32));
    }

    /// Acknowledges the highest-priority pending interrupt, if any.
    pub fn acknowledge(&self) -> Option<u32> {
        let iar = self.cpu.read32(GICC_IAR);
        let id = iar & 0x3ff;
        (id < SPURIOUS).then_some(iar)
    }

    /// Signals end of interrupt for a value returned by `acknowledge`.
    pub fn end(&self, iar: u32) {
        self.cpu.write32(GICC_EOIR, iar);
    }
}
