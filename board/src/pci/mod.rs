//! PCI(e) enumeration for host bridges: bus scan, BAR assignment in a 32-bit
//! memory window, bridge bus numbers and windows, memory decoding and bus
//! mastering.
//!
//! Owns: the [`ConfigAccess`] seam (how a host bridge reaches configuration
//! space: [`ecam::Ecam`] on a generic ECAM bridge such as QEMU virt's
//! `pci-host-ecam-generic`; the Pi 4's brcmstb root complex implements the same
//! trait), [`enumerate`] and the [`Function`]s it finds. Must not: know any
//! device's own registers, or assign I/O-space BARs (nothing we drive has
//! them; they are logged and left off).
//!
//! References read (none copied): PCI Local Bus 3.0 §6.1-6.2 (header types 0
//! and 1, BAR sizing), PCI-to-PCI Bridge 1.2 §3.2; U-Boot
//! `drivers/pci/pci_auto.c` (the same depth-first bus numbering and bump
//! allocation). Difference: one memory window only (no prefetchable split).

pub mod ecam;
pub mod window;

use alloc::vec::Vec;
pub use window::{BarAllocator, Window};

/// Bus/device/function of a PCI function (logged as "bb:dd.f").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device 0..=31.
    pub device: u8,
    /// Function 0..=7.
    pub function: u8,
}

impl defmt::Format for Bdf {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{=u8:02x}:{=u8:02x}.{=u8}",
            self.bus,
            self.device,
            self.function
        )
    }
}

impl defmt::Format for Window {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "cpu {=u64:#x} -> pci {=u64:#x} ({=u64:#x} bytes)",
            self.cpu,
            self.pci,
            self.size
        )
    }
}

/// How a host bridge reads and writes configuration space. Reads of absent
/// functions must return all ones (as ECAM does); an implementation whose
/// hardware faults instead must return `u32::MAX` itself.
pub trait ConfigAccess {
    /// Reads the 32-bit register at byte offset `offset` (a multiple of 4).
    fn read32(&self, bdf: Bdf, offset: u16) -> u32;
    /// Writes the 32-bit register at byte offset `offset` (a multiple of 4).
    fn write32(&self, bdf: Bdf, offset: u16, value: u32);
}

/// A memory BAR as assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Bar {
    /// PCI bus address.
    pub pci: u64,
    /// CPU physical address (through the window).
    pub cpu: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A function found by [`enumerate`].
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct Function {
    /// Where it is.
    pub bdf: Bdf,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code, subclass, programming interface (24 bits, e.g. 0x0c0330 = xHCI).
    pub class: u32,
    /// Assigned memory BARs by index (a 64-bit BAR occupies two indices; the
    /// second is `None`).
    pub bars: [Option<Bar>; 6],
}

/// Class code of an xHCI USB controller.
pub const CLASS_XHCI: u32 = 0x0c_03_30;

const VENDOR_DEVICE: u16 = 0x00;
const COMMAND: u16 = 0x04;
const CLASS_REV: u16 = 0x08;
const HEADER: u16 = 0x0c;
const BAR0: u16 = 0x10;
const BUSES: u16 = 0x18;
const MEMORY_WINDOW: u16 = 0x20;
const PREFETCH_WINDOW: u16 = 0x24;
const PREFETCH_UPPER_BASE: u16 = 0x28;
const PREFETCH_UPPER_LIMIT: u16 = 0x2c;
const IO_WINDOW: u16 = 0x1c;

const CMD_MEMORY: u32 = 1 << 1;
const CMD_BUS_MASTER: u32 = 1 << 2;

/// Scans from bus `first_bus`, numbers the buses behind bridges, assigns every
/// memory BAR from `window` and turns on memory decoding and bus mastering.
/// Logs each function as it goes.
pub fn enumerate(cfg: &dyn ConfigAccess, first_bus: u8, window: &Window) -> Vec<Function> {
    let mut found = Vec::new();
    let mut alloc = BarAllocator::new(window);
    let mut next_bus = first_bus;
    scan_bus(
        cfg,
        first_bus,
        &mut next_bus,
        window,
        &mut alloc,
        &mut found,
        0,
    );
    found
}

fn scan_bus(
    cfg: &dyn ConfigAccess,
    bus: u8,
    next_bus: &mut u8,
    window: &Window,
    alloc: &mut BarAllocator,
    found: &mut Vec<Function>,
    depth: u8,
) {
    for device in 0..32u8 {
        for function in 0..8u8 {
            let bdf = Bdf {
                bus,
                device,
                function,
            };
            let id = cfg.read32(bdf, VENDOR_DEVICE);
            if id & 0xffff == 0xffff || id == 0 {
                if function == 0 {
                    break;
                }
                continue;
            }
            let header = (cfg.read32(bdf, HEADER) >> 16) as u8;
            let class = cfg.read32(bdf, CLASS_REV) >> 8;
            let mut f = Function {
                bdf,
                vendor: id as u16,
                device: (id >> 16) as u16,
                class,
                bars: [None; 6],
            };
            defmt::info!(
                "pci: {=u8:02x}:{=u8:02x}.{} {=u16:04x}:{=u16:04x} class {=u32:06x}{}",
                bus,
                device,
                function,
                f.vendor,
                f.device,
                class,
                if header & 0x7f == 1 { " (bridge)" } else { "" }
            );
            match header & 0x7f {
                0 => {
                    assign_bars(cfg, bdf, 6, window, alloc, &mut f.bars);
                    let cmd = cfg.read32(bdf, COMMAND) & 0xffff;
                    cfg.write32(bdf, COMMAND, cmd | CMD_MEMORY | CMD_BUS_MASTER);
                    found.push(f);
                }
                1 if depth < 8 && *next_bus < u8::MAX => {
                    assign_bars(cfg, bdf, 2, window, alloc, &mut f.bars);
                    *next_bus += 1;
                    let secondary = *next_bus;
                    // Primary, secondary, subordinate (open until the scan below is done).
                    let buses = cfg.read32(bdf, BUSES) & 0xff00_0000;
                    cfg.write32(
                        bdf,
                        BUSES,
                        buses | (0xff << 16) | (u32::from(secondary) << 8) | u32::from(bus),
                    );
                    alloc.align_to(0x10_0000);
                    let start = alloc.next();
                    scan_bus(cfg, secondary, next_bus, window, alloc, found, depth + 1);
                    alloc.align_to(0x10_0000);
                    let end = alloc.next();
                    cfg.write32(
                        bdf,
                        BUSES,
                        buses
                            | (u32::from(*next_bus) << 16)
                            | (u32::from(secondary) << 8)
                            | u32::from(bus),
                    );
                    // Memory window in 1 MiB units: base bits 15:4, limit bits 31:20.
                    if end > start {
                        let limit = end - 1;
                        cfg.write32(
                            bdf,
                            MEMORY_WINDOW,
                            ((start >> 16) as u32 & 0xfff0) | (limit as u32 & 0xfff0_0000),
                        );
                    } else {
                        cfg.write32(bdf, MEMORY_WINDOW, 0x0000_fff0);
                    }
                    // No prefetchable or I/O window: base above limit disables them.
                    cfg.write32(bdf, PREFETCH_WINDOW, 0x0000_fff0);
                    cfg.write32(bdf, PREFETCH_UPPER_BASE, 0);
                    cfg.write32(bdf, PREFETCH_UPPER_LIMIT, 0);
                    cfg.write32(bdf, IO_WINDOW, 0x0000_00f0);
                    let cmd = cfg.read32(bdf, COMMAND) & 0xffff;
                    cfg.write32(bdf, COMMAND, cmd | CMD_MEMORY | CMD_BUS_MASTER);
                    defmt::info!(
                        "pci: bridge {=u8:02x}:{=u8:02x}.{}: buses {}-{}, window {=u64:#x}-{=u64:#x}",
                        bus,
                        device,
                        function,
                        secondary,
                        *next_bus,
                        start,
                        end
                    );
                    found.push(f);
                }
                other => defmt::warn!("pci: header type {} not handled", other),
            }
            // Single-function devices answer on every function number: stop at 0.
            if function == 0 && header & 0x80 == 0 {
                break;
            }
        }
    }
}

/// Sizes and assigns the first `count` BARs of `bdf`.
fn assign_bars(
    cfg: &dyn ConfigAccess,
    bdf: Bdf,
    count: usize,
    window: &Window,
    alloc: &mut BarAllocator,
    bars: &mut [Option<Bar>; 6],
) {
    // Decoding off while BARs are probed.
    let cmd = cfg.read32(bdf, COMMAND) & 0xffff;
    cfg.write32(bdf, COMMAND, cmd & !(CMD_MEMORY | 1));
    let mut i = 0;
    while i < count {
        let off = BAR0 + 4 * i as u16;
        let orig = cfg.read32(bdf, off);
        cfg.write32(bdf, off, u32::MAX);
        let lo = cfg.read32(bdf, off);
        if orig & 1 != 0 {
            cfg.write32(bdf, off, orig);
            if lo & !3 != 0 {
                defmt::warn!("pci: {}: I/O BAR {} left unassigned", bdf, i);
            }
            i += 1;
            continue;
        }
        let is64 = (orig >> 1) & 3 == 2;
        let hi = if is64 && i + 1 < count {
            let orig_hi = cfg.read32(bdf, off + 4);
            cfg.write32(bdf, off + 4, u32::MAX);
            let h = cfg.read32(bdf, off + 4);
            cfg.write32(bdf, off + 4, orig_hi);
            Some(h)
        } else {
            None
        };
        let size = window::bar_size(lo, hi);
        let step = if is64 { 2 } else { 1 };
        if size == 0 {
            cfg.write32(bdf, off, orig);
            i += step;
            continue;
        }
        match alloc
            .alloc(size, 0x1000.min(size))
            .and_then(|pci| Some((pci, window.cpu_address(pci)?)))
        {
            Some((pci, cpu)) => {
                cfg.write32(bdf, off, pci as u32);
                if is64 {
                    cfg.write32(bdf, off + 4, (pci >> 32) as u32);
                }
                bars[i] = Some(Bar { pci, cpu, size });
                defmt::info!(
                    "pci: {}: BAR {} {=u64:#x} bytes at pci {=u64:#x} (cpu {=u64:#x})",
                    bdf,
                    i,
                    size,
                    pci,
                    cpu
                );
            }
            None => {
                cfg.write32(bdf, off, orig);
                defmt::warn!(
                    "pci: {}: BAR {} of {=u64:#x} bytes does not fit the window",
                    bdf,
                    i,
                    size
                );
            }
        }
        i += step;
    }
}
