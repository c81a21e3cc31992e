//! How VideoCore-side bus masters (the mailbox's GPU, the DWC2 USB core) see ARM
//! memory on the BCM2837 (Pi 3) and BCM2711 (Pi 4).
//!
//! Owns: the bus-address alias and the cache maintenance for non-coherent DMA.
//! These "legacy" masters reach the first GiB of ARM RAM at 0xC000_0000 (the
//! uncached alias) and nothing above it; they do not snoop the ARM caches, so
//! buffers are cleaned before and invalidated after each transfer (64-byte
//! lines; [`DmaBuf`](crate::usb::dma::DmaBuf)s are whole lines). Must not: hand
//! out an address the master cannot reach.

use crate::usb::dma::DmaHal;

/// The alias at which legacy masters see ARM RAM.
const BUS_ALIAS: u32 = 0xc000_0000;
/// Only the first GiB is visible through the alias.
const VISIBLE: usize = 0x4000_0000;

/// The Pi's DMA view (identical on Pi 3 and Pi 4 for the legacy masters).
pub struct PiDma;

impl DmaHal for PiDma {
    fn bus_address(&self, addr: usize) -> Option<u32> {
        (addr < VISIBLE).then_some(addr as u32 | BUS_ALIAS)
    }

    fn before_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }

    fn after_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }
}

/// ARM physical address of a bus address the firmware returned (framebuffer).
pub fn arm_address(bus: u32) -> usize {
    (bus & 0x3fff_ffff) as usize
}
