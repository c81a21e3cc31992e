//! PSCI calls (Arm Power State Coordination Interface) through HVC or SMC.
//! Used by boards that have PSCI firmware (QEMU virt, Pi 5). Must not guess
//! the conduit: the board reads it from the device tree's /psci node.

use core::arch::asm;

/// How PSCI calls reach the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Conduit {
    /// `hvc #0` (QEMU virt without EL2/EL3 firmware).
    Hvc,
    /// `smc #0`.
    Smc,
}

/// PSCI SYSTEM_RESET function id.
pub const SYSTEM_RESET: u32 = 0x8400_0009;
/// PSCI SYSTEM_OFF function id.
pub const SYSTEM_OFF: u32 = 0x8400_0008;

/// Makes a PSCI call with no arguments; returns x0.
pub fn call(conduit: Conduit, function: u32) -> u64 {
    let mut x0 = u64::from(function);
    // SAFETY: a PSCI call clobbers x0-x3 only (SMCCC); SYSTEM_RESET/OFF do
    // not return on success. We declare x1-x17 clobbered to be safe.
    unsafe {
        match conduit {
            Conduit::Hvc => asm!("hvc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _, options(nostack)),
            Conduit::Smc => asm!("smc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x17") _, options(nostack)),
        }
    }
    x0
}
