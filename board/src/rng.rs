//! Entropy: a ChaCha20 CSPRNG seeded from the best source the board has.
//!
//! On virt that is virtio-rng when QEMU provides one (scripts/emulate adds
//! `virtio-rng-device`), which draws from the host's /dev/urandom. Without it
//! the seed comes from timing jitter of the generic counter around memory and
//! MMIO accesses. Be honest about that fallback: under QEMU TCG the jitter is
//! largely deterministic and on hardware it is unmeasured, so it is NOT a
//! trustworthy seed for keys; the firmware logs which source was used. On the
//! Pi 4 the plan is the iproc RNG200, on the Pi 3 the bcm2835-rng.
//! Must not: hand out bytes before it was seeded.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::transport::mmio::MmioTransport;

use crate::virtio::VirtHal;

/// Where the seed came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum EntropySource {
    /// A hardware or host-backed random device.
    Device,
    /// Counter jitter only (weak; see module docs).
    TimerJitter,
}

/// The board's random number generator.
pub struct BoardRng {
    rng: ChaCha20Rng,
    source: EntropySource,
}

impl BoardRng {
    /// Seeds from virtio-rng; falls back to jitter if the device fails.
    pub fn from_virtio(transport: MmioTransport<'static>) -> Self {
        let mut seed = [0u8; 32];
        let ok = match VirtIORng::<VirtHal, _>::new(transport) {
            Ok(mut dev) => {
                let mut filled = 0;
                let mut tries = 0;
                while filled < seed.len() && tries < 64 {
                    tries += 1;
                    if let Some(rest) = seed.get_mut(filled..) {
                        filled += dev.request_entropy(rest).unwrap_or(0);
                    }
                }
                filled == seed.len()
            }
            Err(_) => false,
        };
        if ok {
            Self {
                rng: ChaCha20Rng::from_seed(seed),
                source: EntropySource::Device,
            }
        } else {
            defmt::warn!("virtio-rng unusable; falling back to timer jitter");
            Self::from_jitter()
        }
    }

    /// Seeds from 32 bytes read from a hardware generator (Raspberry Pi RNGs).
    pub fn from_device_seed(seed: [u8; 32]) -> Self {
        Self {
            rng: ChaCha20Rng::from_seed(seed),
            source: EntropySource::Device,
        }
    }

    /// Seeds from counter jitter (weak; see module docs).
    pub fn from_jitter() -> Self {
        let mut seed = [0u8; 32];
        let mut mix = ChaCha20Rng::from_seed([0x5a; 32]);
        for round in 0..8 {
            for byte in seed.iter_mut() {
                let mut acc = 0u8;
                for _ in 0..8 {
                    let t0 = barespice_boot::cpu::counter();
                    // Some memory traffic whose duration varies with cache state.
                    let mut x = t0;
                    for _ in 0..(t0 & 0x3f) {
                        x = x.rotate_left(7) ^ core::hint::black_box(x);
                    }
                    let t1 = barespice_boot::cpu::counter();
                    acc = acc.rotate_left(1) ^ (t1.wrapping_sub(t0) as u8) ^ (x as u8);
                }
                *byte ^= acc ^ (mix.next_u32() as u8) ^ round;
            }
            mix = ChaCha20Rng::from_seed(seed);
        }
        Self {
            rng: ChaCha20Rng::from_seed(seed),
            source: EntropySource::TimerJitter,
        }
    }

    /// Which source seeded this generator.
    pub fn source(&self) -> EntropySource {
        self.source
    }
}

impl RngCore for BoardRng {
    fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.rng.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.rng.try_fill_bytes(dest)
    }
}

impl CryptoRng for BoardRng {}

impl BoardRng {
    /// A new generator seeded from this one (for a consumer that needs to own
    /// its RNG, e.g. a SPICE session's ticket padding).
    pub fn from_seed_of(parent: &mut BoardRng) -> Self {
        let mut seed = [0u8; 32];
        parent.fill_bytes(&mut seed);
        Self {
            rng: ChaCha20Rng::from_seed(seed),
            source: parent.source,
        }
    }
}

/// The generator behind `getrandom` (which the TLS stack's key exchange
/// calls): seeded once from the board RNG by [`install_getrandom`]; until
/// then `getrandom` fails rather than hand out unseeded bytes.
static GETRANDOM: critical_section::Mutex<core::cell::RefCell<Option<ChaCha20Rng>>> =
    critical_section::Mutex::new(core::cell::RefCell::new(None));

/// Seeds the `getrandom` source from `parent` (the board RNG). Call once
/// before the first TLS connection.
pub fn install_getrandom(parent: &mut BoardRng) {
    let mut seed = [0u8; 32];
    parent.fill_bytes(&mut seed);
    critical_section::with(|cs| {
        *GETRANDOM.borrow(cs).borrow_mut() = Some(ChaCha20Rng::from_seed(seed))
    });
}

fn board_getrandom(dest: &mut [u8]) -> Result<(), getrandom::Error> {
    critical_section::with(|cs| match GETRANDOM.borrow(cs).borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(dest);
            Ok(())
        }
        None => Err(getrandom::Error::UNSUPPORTED),
    })
}

// SAFETY: the macro defines getrandom's `__getrandom_custom` symbol, which
// turns the (pointer, length) getrandom hands it back into the slice it came
// from and calls `board_getrandom`; nothing else is unsafe.
getrandom::register_custom_getrandom!(board_getrandom);
