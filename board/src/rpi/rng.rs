//! Hardware random number generators: the bcm2835-rng of the Pi 3 and the
//! iproc RNG200 of the Pi 4 (both at peripheral base + 0x104000) and of the
//! Pi 5 (at 0x10_7d20_8000, not yet run on hardware). Only used to
//! seed the board's ChaCha20 CSPRNG ([`crate::rng::BoardRng`]).
//!
//! Owns: enabling the generator and reading 32 bytes with a time limit. Must
//! not: wait for ever: QEMU's `raspi4b` has no RNG200 (reads return zero), so a
//! generator that produces nothing within the limit yields `None` and the
//! caller falls back (and says so).

use super::Model;
use crate::mmio::Mmio;

/// Size of the RNG register block.
pub const REGS_LEN: usize = 0x40;

// bcm2835-rng.
const RNG_CTRL: usize = 0x00;
const RNG_STATUS: usize = 0x04;
const RNG_DATA: usize = 0x08;
const RNG_RBGEN: u32 = 1;
/// Bits discarded after enabling, as the Linux and Circle drivers do.
const RNG_WARMUP: u32 = 0x40000;

// iproc RNG200.
const R200_CTRL: usize = 0x00;
const R200_SOFT_RESET: usize = 0x04;
const R200_RBG_SOFT_RESET: usize = 0x08;
const R200_INT_STATUS: usize = 0x18;
const R200_FIFO_DATA: usize = 0x20;
const R200_FIFO_COUNT: usize = 0x24;
const R200_CTRL_RBG_MASK: u32 = 0x1fff;
const R200_CTRL_RBG_ENABLE: u32 = 1;

/// Reads a 32-byte seed, or `None` if the generator gave nothing in ~100 ms.
pub fn seed(regs: Mmio, model: Model) -> Option<[u8; 32]> {
    let deadline = barespice_boot::cpu::counter() + barespice_boot::cpu::counter_frequency() / 10;
    let expired = || barespice_boot::cpu::counter() > deadline;
    let mut seed = [0u8; 32];
    let mut words = seed.chunks_exact_mut(4);
    match model {
        Model::Pi3 => {
            if regs.read32(RNG_CTRL) & RNG_RBGEN == 0 {
                regs.write32(RNG_STATUS, RNG_WARMUP);
                regs.write32(RNG_CTRL, RNG_RBGEN);
            }
            for w in words.by_ref() {
                // STATUS bits 31:24 count the words waiting.
                while regs.read32(RNG_STATUS) >> 24 == 0 {
                    if expired() {
                        return None;
                    }
                }
                w.copy_from_slice(&regs.read32(RNG_DATA).to_le_bytes());
            }
        }
        Model::Pi4 | Model::Pi5 => {
            if regs.read32(R200_CTRL) & R200_CTRL_RBG_MASK == 0 {
                // Reset the generator and its bit generator, clear interrupts, enable.
                regs.write32(R200_SOFT_RESET, 1);
                regs.write32(R200_SOFT_RESET, 0);
                regs.write32(R200_RBG_SOFT_RESET, 1);
                regs.write32(R200_RBG_SOFT_RESET, 0);
                regs.write32(R200_INT_STATUS, 0xffff_ffff);
                let c = regs.read32(R200_CTRL) & !R200_CTRL_RBG_MASK;
                regs.write32(R200_CTRL, c | R200_CTRL_RBG_ENABLE);
            }
            for w in words.by_ref() {
                while regs.read32(R200_FIFO_COUNT) & 0xff == 0 {
                    if expired() {
                        return None;
                    }
                }
                w.copy_from_slice(&regs.read32(R200_FIFO_DATA).to_le_bytes());
            }
        }
    }
    // A generator stuck at a constant is no generator.
    let first = &seed[..4];
    if seed.chunks_exact(4).all(|c| c == first) {
        return None;
    }
    Some(seed)
}
