//! The BCM2712 (Raspberry Pi 5): how it is recognised and where its few
//! SoC-side peripherals that barespice uses sit.
//!
//! Owns: the bcm2712 compatible strings, the Cortex-A76 MIDR part number, and
//! the address table (debug UART "uart10", VideoCore mailbox, RNG200, GIC-400).
//! Reset is PSCI SYSTEM_RESET through the firmware's TF-A (no watchdog poke).
//! Must not: touch registers (the board code does) or describe anything behind
//! RP1 (Ethernet, USB, the 40-pin header's UARTs): RP1 sits behind PCIe and is
//! a later step.
//!
//! Written to the references, not yet run on hardware: Circle
//! `include/circle/bcm2712.h` and `bcm2835.h` (ARM_IO_BASE 0x10_7c00_0000 for
//! RASPPI 5), Linux `arch/arm64/boot/dts/broadcom/bcm2712.dtsi` (uart10 at
//! 0x10_7d00_1000, mailbox at 0x10_7c01_3880, RNG200 at 0x10_7d20_8000,
//! GIC-400 distributor/CPU interface at 0x10_7fff_9000 / 0x10_7fff_a000,
//! `psci` with `method = "smc"`), and /work/shared/reference/pi-real-hardware.md.
//! Deliberate difference: the debug UART is left as the bootloader set it up
//! (`enable_uart=1` in config.txt's `[pi5]` section): its clock is not one the
//! mailbox's UART clock id describes, so baud divisors are not rewritten.

/// Root `compatible` strings that mean a BCM2712 board.
pub const COMPATIBLES: [&str; 4] = [
    "brcm,bcm2712",
    "raspberrypi,5-model-b",
    "raspberrypi,500",
    "raspberrypi,5-compute-module",
];

/// MIDR_EL1 part number of the Cortex-A76 (the Pi 5's CPU), used when no
/// device tree was passed.
pub const CORTEX_A76_PART: u32 = 0xd0b;

/// Start of the SoC's ARM-side I/O window (VideoCore bus address 0x7c00_0000).
pub const IO_BASE: usize = 0x10_7c00_0000;
/// Length of that window up to and including the GIC.
pub const IO_LEN: usize = 0x0400_0000;

/// Offsets from [`IO_BASE`].
pub mod offset {
    /// The VideoCore mailbox (same register layout as the BCM2711's).
    pub const MAILBOX: usize = 0x1_3880;
    /// uart10, the PL011 on the board's 3-pin debug connector.
    pub const UART10: usize = 0x100_1000;
    /// RNG200 hardware random number generator (as on the BCM2711).
    pub const RNG200: usize = 0x120_8000;
    /// GIC-400 distributor.
    pub const GICD: usize = 0x3ff_9000;
    /// GIC-400 CPU interface.
    pub const GICC: usize = 0x3ff_a000;
}

/// Whether a root `compatible` string names a BCM2712 board.
pub fn is_bcm2712(compatible: &str) -> bool {
    COMPATIBLES.contains(&compatible)
}

/// The ARM physical address of a peripheral at `offset` from [`IO_BASE`].
pub const fn address(offset: usize) -> usize {
    IO_BASE + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_pi5_and_nothing_older() {
        assert!(is_bcm2712("brcm,bcm2712"));
        assert!(is_bcm2712("raspberrypi,5-model-b"));
        for older in [
            "brcm,bcm2711",
            "raspberrypi,4-model-b",
            "brcm,bcm2837",
            "linux,dummy-virt",
            "",
        ] {
            assert!(!is_bcm2712(older), "{older}");
        }
    }

    #[test]
    fn addresses_match_the_published_ones() {
        // Linux bcm2712.dtsi / Circle bcm2712: the absolute addresses.
        assert_eq!(address(offset::MAILBOX), 0x10_7c01_3880);
        assert_eq!(address(offset::UART10), 0x10_7d00_1000);
        assert_eq!(address(offset::RNG200), 0x10_7d20_8000);
        assert_eq!(address(offset::GICD), 0x10_7fff_9000);
        assert_eq!(address(offset::GICC), 0x10_7fff_a000);
    }

    #[test]
    fn every_block_lies_in_the_io_window_and_below_the_mmu_limit() {
        let blocks = [
            (offset::MAILBOX, 0x40),
            (offset::UART10, 0x100),
            (offset::RNG200, 0x30),
            (offset::GICD, 0x1000),
            (offset::GICC, 0x2000),
        ];
        for (off, len) in blocks {
            assert!(off + len <= IO_LEN, "{off:#x}");
        }
        // boot's MMU identity-maps a 39-bit address space (T0SZ = 25).
        const { assert!(IO_BASE + IO_LEN <= 1 << 39) };
        // No two blocks overlap.
        for (i, a) in blocks.iter().enumerate() {
            for b in &blocks[i + 1..] {
                assert!(
                    a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0,
                    "{:#x} {:#x}",
                    a.0,
                    b.0
                );
            }
        }
    }
}
