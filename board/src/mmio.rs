//! Volatile access to a device's register window. The one place that turns
//! a device-tree address into register reads and writes.
//! Must not: be built from an address that is not a device's MMIO window.

/// A device register window `[base, base+len)`; accesses are bounds-checked.
#[derive(Clone, Copy, Debug)]
pub struct Mmio {
    base: usize,
    len: usize,
}

impl Mmio {
    /// Wraps the register window of a device found in the device tree.
    ///
    /// # Safety
    /// `[base, base+len)` must be that device's MMIO window, identity-mapped
    /// as Device memory (boot's MMU maps everything outside RAM so), and
    /// nothing else may assume exclusive control of it.
    pub const unsafe fn new(base: usize, len: usize) -> Self {
        Self { base, len }
    }

    /// Base address.
    pub fn base(&self) -> usize {
        self.base
    }

    fn check(&self, off: usize, width: usize) -> usize {
        assert!(
            off.is_multiple_of(width) && off + width <= self.len,
            "MMIO offset out of window"
        );
        self.base + off
    }

    /// 32-bit read at byte offset `off`.
    pub fn read32(&self, off: usize) -> u32 {
        let a = self.check(off, 4);
        // SAFETY: in-window, aligned, Device memory (see `new`).
        unsafe { core::ptr::read_volatile(a as *const u32) }
    }

    /// 32-bit write at byte offset `off`.
    pub fn write32(&self, off: usize, v: u32) {
        let a = self.check(off, 4);
        // SAFETY: in-window, aligned, Device memory (see `new`).
        unsafe { core::ptr::write_volatile(a as *mut u32, v) }
    }

    /// 16-bit write at byte offset `off`.
    pub fn write16(&self, off: usize, v: u16) {
        let a = self.check(off, 2);
        // SAFETY: in-window, aligned, Device memory (see `new`).
        unsafe { core::ptr::write_volatile(a as *mut u16, v) }
    }

    /// 8-bit read at byte offset `off`.
    pub fn read8(&self, off: usize) -> u8 {
        let a = self.check(off, 1);
        // SAFETY: in-window, Device memory (see `new`).
        unsafe { core::ptr::read_volatile(a as *const u8) }
    }

    /// 8-bit write at byte offset `off`.
    pub fn write8(&self, off: usize, v: u8) {
        let a = self.check(off, 1);
        // SAFETY: in-window, Device memory (see `new`).
        unsafe { core::ptr::write_volatile(a as *mut u8, v) }
    }
}
