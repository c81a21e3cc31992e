//! The `critical-section` implementation: single core, interrupts masked.
//!
//! barespice never unmasks IRQs (devices wake the idle loop through WFI; see
//! `barespice-board`'s `irq` module), so a critical section only has to keep
//! the mask as it is and restore DAIF afterwards. Must not be used from a
//! second core: secondary cores stay parked.

use core::arch::asm;

struct DaifCriticalSection;
critical_section::set_impl!(DaifCriticalSection);

// SAFETY: acquire saves DAIF and masks IRQ/FIQ; release restores exactly the
// state acquire returned, so nesting works. Only one core ever runs.
unsafe impl critical_section::Impl for DaifCriticalSection {
    unsafe fn acquire() -> u64 {
        let daif: u64;
        // SAFETY: reading DAIF and setting the I and F mask bits is always allowed at EL1.
        unsafe { asm!("mrs {}, daif", "msr daifset, #3", out(reg) daif, options(nomem, nostack)) };
        daif
    }

    unsafe fn release(daif: u64) {
        // SAFETY: writes back the DAIF value saved by `acquire`.
        unsafe { asm!("msr daif, {}", in(reg) daif, options(nomem, nostack)) };
    }
}
