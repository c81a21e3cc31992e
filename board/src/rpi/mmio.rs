//! A bounds-free, volatile 32-bit register window: the only way the Raspberry Pi
//! drivers (and the DWC2 USB host) touch device registers.
//!
//! Owns: volatile reads and writes at `base + offset`. Must not: cache values,
//! or be created for memory that is not a device register block.

/// A block of 32-bit memory-mapped registers starting at `base`.
#[derive(Clone, Copy, Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// A register window at `base`.
    ///
    /// # Safety
    /// `base` must be the identity-mapped (Device memory) address of a register
    /// block that stays mapped for the program's lifetime, and every offset later
    /// used must lie inside that block.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// The window's base address.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Reads the 32-bit register at `offset`.
    #[inline]
    pub fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: base+offset is a mapped device register.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    /// Writes the 32-bit register at `offset`.
    #[inline]
    pub fn write(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: base+offset is a mapped device register.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Read-modify-write: clears `clear`, then sets `set`.
    #[inline]
    pub fn modify(&self, offset: usize, clear: u32, set: u32) {
        let v = self.read(offset);
        self.write(offset, (v & !clear) | set);
    }
}
