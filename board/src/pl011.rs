//! ARM PL011 UART, transmit only (the console). Used on virt and all Pis.
//! Must not: configure pins or clocks (a Pi board does that before `new`).

use crate::console::ConsoleSink;
use crate::mmio::Mmio;

const DR: usize = 0x00;
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// A PL011 whose registers are at a fixed, mapped MMIO address.
pub struct Pl011 {
    regs: Mmio,
}

impl Pl011 {
    /// Wraps the UART at `regs` (from the device tree).
    pub fn new(regs: Mmio) -> Self {
        Self { regs }
    }
}

impl ConsoleSink for Pl011 {
    fn write(&self, bytes: &[u8]) {
        for &b in bytes {
            while self.regs.read32(FR) & FR_TXFF != 0 {
                core::hint::spin_loop();
            }
            self.regs.write32(DR, u32::from(b));
        }
    }
}
