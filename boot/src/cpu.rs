//! Thin, safe wrappers around the few AArch64 instructions and system
//! registers that code above `boot` needs: the generic counter, wait-for-
//! interrupt and the virtual timer's compare registers.
//!
//! Must not: hold state or know about any board.

use core::arch::asm;

/// Counter ticks per second (CNTFRQ_EL0), as programmed by firmware or QEMU.
/// Never hard-coded: QEMU reports 62.5 MHz, a Pi 3 19.2 MHz, a Pi 4/5 54 MHz.
#[inline]
pub fn counter_frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects and is allowed at EL1.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// The virtual count (CNTVCT_EL0), ordered after preceding instructions.
#[inline]
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: `isb` + reading CNTVCT_EL0 has no side effects; EL1 access is
    // enabled (CNTHCTL_EL2 set by the entry code when we came from EL2).
    unsafe {
        asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Arms the EL1 virtual timer to fire when the virtual count reaches `at`
/// (CNTV_CVAL_EL0, enabled, not masked at the timer).
#[inline]
pub fn virtual_timer_arm(at: u64) {
    // SAFETY: programs only the EL1 virtual timer, which this firmware owns.
    unsafe {
        asm!(
            "msr cntv_cval_el0, {at}",
            "msr cntv_ctl_el0, {ctl}",
            "isb",
            at = in(reg) at,
            ctl = in(reg) 1u64,
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// Disables the EL1 virtual timer so its interrupt line drops.
#[inline]
pub fn virtual_timer_disarm() {
    // SAFETY: as above; writing 0 to CNTV_CTL_EL0 only stops the timer.
    unsafe {
        asm!(
            "msr cntv_ctl_el0, xzr",
            "isb",
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// Waits for an interrupt. With PSTATE.I masked (as it always is in barespice)
/// a pending interrupt still ends the wait without taking an exception.
#[inline]
pub fn wait_for_interrupt() {
    // SAFETY: `dsb; wfi` only stalls the core until an interrupt is pending.
    unsafe { asm!("dsb sy", "wfi", options(nomem, nostack, preserves_flags)) };
}

/// Spins for `micros` microseconds on the generic counter.
pub fn delay_us(micros: u64) {
    let freq = counter_frequency().max(1);
    let start = counter();
    let ticks = (u128::from(micros) * u128::from(freq) / 1_000_000) as u64;
    while counter().wrapping_sub(start) < ticks {
        core::hint::spin_loop();
    }
}

/// Data synchronisation barrier (full system), for ordering MMIO against RAM.
#[inline]
pub fn dsb() {
    // SAFETY: a barrier has no effect other than ordering.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Runs `op` on every 64-byte cache line covering `[addr, addr+len)`, then
/// waits for the maintenance to complete.
fn each_line(addr: usize, len: usize, op: impl Fn(usize)) {
    const LINE: usize = 64;
    let mut a = addr & !(LINE - 1);
    let end = addr.saturating_add(len);
    while a < end {
        op(a);
        a += LINE;
    }
    dsb();
}

/// Cleans and invalidates the data cache lines covering `[addr, addr+len)` to
/// the point of coherency (for non-coherent DMA and framebuffers on hardware).
pub fn dcache_clean_invalidate(addr: usize, len: usize) {
    // SAFETY: `dc civac` on a mapped address only writes back/evicts the line.
    each_line(addr, len, |a| unsafe {
        asm!("dc civac, {}", in(reg) a, options(nostack, preserves_flags))
    });
}

/// Cleans (writes back) the data cache lines covering `[addr, addr+len)` to
/// the point of coherency: a buffer the CPU filled, before a device reads it.
pub fn dcache_clean(addr: usize, len: usize) {
    // SAFETY: `dc cvac` on a mapped address only writes the line back.
    each_line(addr, len, |a| unsafe {
        asm!("dc cvac, {}", in(reg) a, options(nostack, preserves_flags))
    });
}

/// Invalidates (discards) the data cache lines covering `[addr, addr+len)`:
/// a buffer a device wrote, before the CPU reads it. Any dirty data in those
/// lines is lost, so the range must be whole lines the CPU has not written
/// since the device was given the buffer.
pub fn dcache_invalidate(addr: usize, len: usize) {
    // SAFETY: `dc ivac` on a mapped address only drops the line; callers pass
    // whole DMA buffer lines holding no CPU data (see above).
    each_line(addr, len, |a| unsafe {
        asm!("dc ivac, {}", in(reg) a, options(nostack, preserves_flags))
    });
}

/// Which exception level the entry code was started at (1, or 2 before it dropped to 1).
pub fn entry_exception_level() -> u8 {
    crate::ENTRY_EL.load(core::sync::atomic::Ordering::Relaxed)
}

/// Reads from an address no translation table maps (the TTBR1 half, whose
/// walks are disabled), to exercise the exception path in tests.
pub fn fault_for_test() -> u64 {
    let v: u64;
    // SAFETY: the load faults synchronously into our vectors, which report
    // and reset; it never returns a value to safe code.
    unsafe {
        asm!("ldr {}, [{}]", out(reg) v, in(reg) 0xffff_dead_0000_0000u64, options(nostack, readonly))
    };
    v
}
