//! PCI memory windows and the BAR allocator (pure logic, host-tested in
//! board/host-tests).
//!
//! Owns: [`Window`] (a CPU address range and the PCI bus addresses it maps
//! to) and [`BarAllocator`] (hands out naturally aligned ranges of it, bump
//! style, in PCI bus addresses). Must not: touch config space.

/// A memory window of a host bridge: CPU addresses `[cpu, cpu+size)` reach
/// PCI bus addresses `[pci, pci+size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// CPU physical address of the window.
    pub cpu: u64,
    /// PCI bus address it maps to.
    pub pci: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Window {
    /// The CPU address of PCI bus address `pci`, if it lies in the window.
    pub fn cpu_address(&self, pci: u64) -> Option<u64> {
        let off = pci.checked_sub(self.pci)?;
        (off < self.size).then(|| self.cpu + off)
    }
}

/// Bump allocator for BARs inside one window: every BAR is aligned to its own
/// size (PCI 3.0 §6.2.5.1), bridges' windows to 1 MiB.
#[derive(Clone, Copy, Debug)]
pub struct BarAllocator {
    next: u64,
    end: u64,
}

impl BarAllocator {
    /// Allocates from the PCI side of `w`.
    pub fn new(w: &Window) -> Self {
        BarAllocator {
            next: w.pci,
            end: w.pci.saturating_add(w.size),
        }
    }

    /// A range of `size` bytes (a power of two) aligned to `align.max(size)`;
    /// `None` when the size is not a power of two or the window is full.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        if size == 0 || !size.is_power_of_two() || !align.is_power_of_two() {
            return None;
        }
        let align = align.max(size);
        let start = self.next.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(size)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(start)
    }

    /// Rounds the next allocation up to `align` (the start of a bridge window).
    pub fn align_to(&mut self, align: u64) {
        if align.is_power_of_two() {
            if let Some(n) = self.next.checked_add(align - 1) {
                self.next = (n & !(align - 1)).min(self.end);
            }
        }
    }

    /// The next free address (the end of what was handed out).
    pub fn next(&self) -> u64 {
        self.next
    }
}

/// Size of a memory BAR from the value read back after writing all ones
/// (`lo` the BAR, `hi` the next one for a 64-bit BAR); 0 when unimplemented.
pub fn bar_size(lo: u32, hi: Option<u32>) -> u64 {
    match hi {
        None => {
            let mask = lo & !0xf;
            if mask == 0 {
                0
            } else {
                u64::from((!mask).wrapping_add(1))
            }
        }
        Some(hi) => {
            let mask = (u64::from(hi) << 32) | u64::from(lo & !0xf);
            if mask == 0 {
                0
            } else {
                (!mask).wrapping_add(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRT: Window = Window {
        cpu: 0x1000_0000,
        pci: 0x1000_0000,
        size: 0x2eff_0000,
    };

    #[test]
    fn bars_are_naturally_aligned_and_packed() {
        let mut a = BarAllocator::new(&VIRT);
        assert_eq!(a.alloc(0x4000, 1), Some(0x1000_0000));
        assert_eq!(a.alloc(0x1000, 1), Some(0x1000_4000));
        // A 1 MiB BAR skips to the next MiB.
        assert_eq!(a.alloc(0x10_0000, 1), Some(0x1010_0000));
        assert_eq!(a.alloc(0x100, 1), Some(0x1020_0000));
        assert_eq!(a.next(), 0x1020_0100);
        a.align_to(0x10_0000);
        assert_eq!(a.next(), 0x1030_0000);
    }

    #[test]
    fn refuses_bad_sizes_and_overflow() {
        let mut a = BarAllocator::new(&Window {
            cpu: 0x6_0000_0000,
            pci: 0xf800_0000,
            size: 0x400_0000,
        });
        assert_eq!(a.alloc(0, 1), None);
        assert_eq!(a.alloc(0x3000, 1), None);
        assert_eq!(a.alloc(0x800_0000, 1), None, "bigger than the window");
        assert_eq!(a.alloc(0x200_0000, 1), Some(0xf800_0000));
        assert_eq!(a.alloc(0x200_0000, 1), Some(0xfa00_0000));
        assert_eq!(a.alloc(0x10, 1), None, "window full");
    }

    #[test]
    fn window_translates_pci_to_cpu() {
        let w = Window {
            cpu: 0x6_0000_0000,
            pci: 0xf800_0000,
            size: 0x400_0000,
        };
        assert_eq!(w.cpu_address(0xf800_1000), Some(0x6_0000_1000));
        assert_eq!(w.cpu_address(0xfc00_0000), None);
        assert_eq!(w.cpu_address(0x1000), None);
        assert_eq!(VIRT.cpu_address(0x1000_4000), Some(0x1000_4000));
    }

    #[test]
    fn bar_sizes_from_readback() {
        // qemu-xhci: 64-bit BAR of 16 KiB.
        assert_eq!(bar_size(0xffff_c004, Some(0xffff_ffff)), 0x4000);
        // 32-bit 4 KiB BAR.
        assert_eq!(bar_size(0xffff_f000, None), 0x1000);
        // Unimplemented BAR.
        assert_eq!(bar_size(0, None), 0);
        assert_eq!(bar_size(0, Some(0)), 0);
    }
}
