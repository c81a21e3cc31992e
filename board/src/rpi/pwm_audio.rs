//! The Raspberry Pi 3/4 analogue audio jack: the two PWM channels on GPIO 40
//! (left) and 41 (right), fed by a DMA channel from a ring of periods, as an
//! [`AudioSink`]. **Written to the references, not yet run on hardware**
//! (QEMU's raspi machines model neither the PWM nor the audio jack, so the
//! sink is not created on an emulated Pi).
//!
//! References (read, not copied; U-Boot has no audio driver):
//! - Circle `lib/pwmsoundbasedevice.cpp` (PWM setup: clock 250 MHz on the
//!   Pi 3 / 125 MHz on the Pi 4, range = clock / rate, PWEN|USEF on both
//!   channels, DMAC ENAB with DREQ/PANIC 7, DMA control blocks with
//!   PERMAP = the PWM's DREQ (5 on the BCM2835 PWM, 1 on the BCM2711's PWM1),
//!   SRC_INC | DEST_DREQ | WAIT_RESP, destination the FIFO's bus address),
//!   `lib/gpioclock.cpp` (clock manager: password 0x5A, source PLLD, integer
//!   divisor), `include/circle/dmachannel.h` (control block layout);
//! - Linux `drivers/pwm/pwm-bcm2835.c` (register block), `drivers/clk/bcm/clk-bcm2835.c`
//!   (CM_PWMCTL 0xa0 / CM_PWMDIV 0xa4), `arch/arm/boot/dts/broadcom/bcm2711.dtsi`
//!   (PWM1 at 0x7e20c800 on the BCM2711), `drivers/dma/bcm2835-dma.c`
//!   (channel registers CS/CONBLK_AD, the enable register at 0xff0).
//!
//! Owns: GPIO 40/41 to ALT0, the PWM clock (PLLD / 2 on the Pi 3 = 250 MHz,
//! PLLD / 6 on the Pi 4 = 125 MHz), the PWM block, DMA channel
//! [`DMA_CHANNEL`] running a ring of [`PERIODS`] control blocks for ever, and
//! converting S16 frames to the PWM's unsigned range. The ring never stops:
//! [`AudioSink::free_periods`] reads which control block the DMA engine is on
//! and hands out the periods it has finished; periods nobody refilled replay
//! silence (written back after each one is played).
//! Every bring-up step is logged (`audio: pwm ...`).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::audio::{AudioError, AudioSink};
use crate::mmio::Mmio;
use crate::usb::dma::{DmaBuf, DmaHal};

use super::dma::PiDma;
use super::Model;

// Offsets from the peripheral base.
const GPIO: usize = 0x20_0000;
const CM: usize = 0x10_1000;
const DMA: usize = 0x00_7000;
const PWM_PI3: usize = 0x20_c000;
const PWM1_PI4: usize = 0x20_c800;
/// Where the VideoCore bus sees the peripherals.
const BUS_PERIPHERALS: u32 = 0x7e00_0000;

// GPIO function select (GPFSEL4 holds GPIO 40..49, 3 bits each).
const GPFSEL4: usize = 0x10;
const FSEL_ALT0: u32 = 0b100;

// Clock manager.
const CM_PWMCTL: usize = 0xa0;
const CM_PWMDIV: usize = 0xa4;
const CM_PASSWORD: u32 = 0x5a00_0000;
const CM_ENAB: u32 = 1 << 4;
const CM_KILL: u32 = 1 << 5;
const CM_BUSY: u32 = 1 << 7;
const CM_SRC_PLLD: u32 = 6;

// PWM registers and bits.
const PWM_CTL: usize = 0x00;
const PWM_STA: usize = 0x04;
const PWM_DMAC: usize = 0x08;
const PWM_RNG1: usize = 0x10;
const PWM_FIF1: usize = 0x18;
const PWM_RNG2: usize = 0x20;
const CTL_PWEN1: u32 = 1 << 0;
const CTL_USEF1: u32 = 1 << 5;
const CTL_CLRF1: u32 = 1 << 6;
const CTL_PWEN2: u32 = 1 << 8;
const CTL_USEF2: u32 = 1 << 13;
const DMAC_ENAB: u32 = 1 << 31;

// DMA channel registers and bits.
/// DMA channel used (in the ARM's share on both models: Linux's
/// `brcm,dma-channel-mask = <0x7f5>` leaves 10 to the ARM).
pub const DMA_CHANNEL: usize = 10;
const DMA_CS: usize = 0x00;
const DMA_CONBLK_AD: usize = 0x04;
const DMA_ENABLE: usize = 0xff0;
const CS_RESET: u32 = 1 << 31;
const CS_ACTIVE: u32 = 1 << 0;
const CS_END: u32 = 1 << 1;
const CS_WAIT_WRITES: u32 = 1 << 28;
const CS_PRIORITY: u32 = 1 << 16;
const CS_PANIC_PRIORITY: u32 = 15 << 20;
const TI_PERMAP_SHIFT: u32 = 16;
const TI_SRC_INC: u32 = 1 << 8;
const TI_DEST_DREQ: u32 = 1 << 6;
const TI_WAIT_RESP: u32 = 1 << 3;
/// A control block: TI, SOURCE_AD, DEST_AD, TXFR_LEN, STRIDE, NEXTCONBK, 2 reserved.
const CB_BYTES: usize = 32;

/// Frames per period (10 ms at 48 kHz).
pub const PERIOD_FRAMES: usize = 480;
/// Periods in the DMA ring.
pub const PERIODS: usize = 4;

/// The PWM audio output of a Pi 3 or Pi 4.
pub struct PwmAudio {
    pwm: Mmio,
    cm: Mmio,
    dma: Mmio,
    pwm_base: usize,
    dreq: u32,
    clock_hz: u32,
    range: u32,
    /// One buffer per period: 2 words (left, right) per frame.
    buffers: Vec<DmaBuf>,
    blocks: DmaBuf,
    /// The period the DMA engine was on at the last look.
    last: usize,
    /// Periods filled ahead of the DMA engine.
    queued: usize,
    /// Channels of the stream (1 or 2), 0 when stopped.
    channels: u8,
}

fn window(base: usize, len: usize) -> Mmio {
    // SAFETY: base is the documented address of a BCM2837/BCM2711 peripheral
    // block (GPIO, clock manager, DMA, PWM) at the peripheral base the board
    // detected; boot maps all non-RAM addresses as Device memory.
    unsafe { Mmio::new(base, len) }
}

impl PwmAudio {
    /// The jack's sink for `model` at peripheral base `peripherals`; `None`
    /// (logged) on a model without one, or under QEMU (`emulated`).
    pub(crate) fn probe(
        model: Model,
        peripherals: usize,
        emulated: bool,
    ) -> Option<Box<dyn AudioSink>> {
        if emulated {
            defmt::info!("audio: pwm jack not used: QEMU's raspi machines have no audio");
            return None;
        }
        let (pwm_off, dreq, plld_hz, div) = match model {
            Model::Pi3 => (PWM_PI3, 5, 500_000_000u32, 2u32),
            Model::Pi4 => (PWM1_PI4, 1, 750_000_000, 6),
            _ => return None,
        };
        defmt::info!(
            "audio: pwm jack (written to the references, not yet run on hardware): PWM at {=usize:#x}, DREQ {=u32}, DMA channel {=usize}",
            peripherals + pwm_off,
            dreq,
            DMA_CHANNEL
        );
        let mut buffers = Vec::new();
        for _ in 0..PERIODS {
            buffers.push(DmaBuf::new(PERIOD_FRAMES * 8)?);
        }
        let blocks = DmaBuf::new_aligned(CB_BYTES * PERIODS, 32)?;
        let gpio = window(peripherals + GPIO, 0x100);
        // GPIO 40 and 41 to ALT0 (PWM channel 1 and 2).
        let mut sel = gpio.read32(GPFSEL4);
        sel &= !(0b111 | (0b111 << 3));
        sel |= FSEL_ALT0 | (FSEL_ALT0 << 3);
        gpio.write32(GPFSEL4, sel);
        defmt::info!("audio: pwm GPIO 40/41 set to ALT0");
        let s = Self {
            pwm: window(peripherals + pwm_off, 0x28),
            cm: window(peripherals + CM, 0x100),
            dma: window(peripherals + DMA, 0x1000),
            pwm_base: pwm_off,
            dreq,
            clock_hz: plld_hz / div,
            range: 0,
            buffers,
            blocks,
            last: 0,
            queued: 0,
            channels: 0,
        };
        s.clock(div);
        Some(Box::new(s))
    }

    fn clock(&self, div: u32) {
        // Stop the clock and wait until it is idle, then set source and divisor.
        self.cm.write32(CM_PWMCTL, CM_PASSWORD | CM_KILL);
        for _ in 0..1000 {
            if self.cm.read32(CM_PWMCTL) & CM_BUSY == 0 {
                break;
            }
            barespice_boot::cpu::delay_us(1);
        }
        self.cm.write32(CM_PWMDIV, CM_PASSWORD | (div << 12));
        self.cm.write32(CM_PWMCTL, CM_PASSWORD | CM_SRC_PLLD);
        self.cm
            .write32(CM_PWMCTL, CM_PASSWORD | CM_SRC_PLLD | CM_ENAB);
        barespice_boot::cpu::delay_us(2000);
        defmt::info!(
            "audio: pwm clock PLLD / {=u32} = {=u32} Hz, CM_PWMCTL {=u32:#x}",
            div,
            self.clock_hz,
            self.cm.read32(CM_PWMCTL)
        );
    }

    fn ch_reg(&self, reg: usize) -> usize {
        DMA_CHANNEL * 0x100 + reg
    }

    /// Which ring period the DMA engine is on, from its control block address.
    fn active(&self) -> usize {
        let ad = self.dma.read32(self.ch_reg(DMA_CONBLK_AD));
        let base = PiDma.bus_address(self.blocks.addr()).unwrap_or(0);
        (ad.wrapping_sub(base) as usize / CB_BYTES).min(PERIODS - 1)
    }

    /// S16 frames → the PWM's 0..range words, left then right.
    fn fill(&mut self, i: usize, period: &[u8]) {
        let range = self.range.max(2);
        let ch = usize::from(self.channels.max(1));
        let words = self.buffers[i].as_mut_slice();
        for (f, frame) in period.chunks_exact(ch * 2).take(PERIOD_FRAMES).enumerate() {
            for side in 0..2 {
                let k = if ch == 1 { 0 } else { side * 2 };
                let s = i16::from_le_bytes([frame[k], frame[k + 1]]);
                let v = ((i32::from(s) + 32768) as u32 * (range - 1)) >> 16;
                words[(f * 2 + side) * 4..(f * 2 + side) * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        PiDma.before_dma(self.buffers[i].addr(), self.buffers[i].len());
    }

    fn silence(&mut self, i: usize) {
        let mid = (self.range / 2).to_le_bytes();
        for w in self.buffers[i].as_mut_slice().chunks_exact_mut(4) {
            w.copy_from_slice(&mid);
        }
        PiDma.before_dma(self.buffers[i].addr(), self.buffers[i].len());
    }
}

impl AudioSink for PwmAudio {
    fn describe(&self) -> String {
        format!("PWM jack at {:#x} (unverified)", self.pwm_base)
    }

    fn start(&mut self, channels: u8, rate: u32) -> Result<usize, AudioError> {
        if !(1..=2).contains(&channels) || rate == 0 {
            return Err(AudioError::Unsupported);
        }
        self.stop();
        let range = (self.clock_hz + rate / 2) / rate;
        if !(256..65536).contains(&range) {
            return Err(AudioError::Unsupported);
        }
        self.range = range;
        self.channels = channels;
        // Control blocks: a ring over the period buffers.
        let fifo = BUS_PERIPHERALS + (self.pwm_base + PWM_FIF1) as u32;
        let cb_bus = PiDma
            .bus_address(self.blocks.addr())
            .ok_or(AudioError::Device)?;
        for i in 0..PERIODS {
            self.silence(i);
            let src = PiDma
                .bus_address(self.buffers[i].addr())
                .ok_or(AudioError::Device)?;
            let next = cb_bus + (((i + 1) % PERIODS) * CB_BYTES) as u32;
            let cb = [
                (self.dreq << TI_PERMAP_SHIFT) | TI_SRC_INC | TI_DEST_DREQ | TI_WAIT_RESP,
                src,
                fifo,
                (PERIOD_FRAMES * 8) as u32,
                0,
                next,
                0,
                0,
            ];
            let at = &mut self.blocks.as_mut_slice()[i * CB_BYTES..(i + 1) * CB_BYTES];
            for (w, v) in at.chunks_exact_mut(4).zip(cb) {
                w.copy_from_slice(&v.to_le_bytes());
            }
        }
        PiDma.before_dma(self.blocks.addr(), self.blocks.len());
        // PWM: both channels from the FIFO, range per sample rate.
        self.pwm.write32(PWM_CTL, 0);
        barespice_boot::cpu::delay_us(10);
        self.pwm.write32(PWM_STA, self.pwm.read32(PWM_STA));
        self.pwm.write32(PWM_RNG1, range);
        self.pwm.write32(PWM_RNG2, range);
        self.pwm.write32(
            PWM_CTL,
            CTL_PWEN1 | CTL_USEF1 | CTL_PWEN2 | CTL_USEF2 | CTL_CLRF1,
        );
        self.pwm.write32(PWM_DMAC, DMAC_ENAB | (7 << 8) | 7);
        defmt::info!(
            "audio: pwm {=u8} ch {=u32} Hz, range {=u32}",
            channels,
            rate,
            range
        );
        // DMA: enable, reset, point at the first block, go.
        self.dma
            .write32(DMA_ENABLE, self.dma.read32(DMA_ENABLE) | (1 << DMA_CHANNEL));
        barespice_boot::cpu::delay_us(1000);
        self.dma.write32(self.ch_reg(DMA_CS), CS_RESET);
        for _ in 0..1000 {
            if self.dma.read32(self.ch_reg(DMA_CS)) & CS_RESET == 0 {
                break;
            }
            barespice_boot::cpu::delay_us(1);
        }
        self.dma.write32(self.ch_reg(DMA_CONBLK_AD), cb_bus);
        self.dma.write32(
            self.ch_reg(DMA_CS),
            CS_WAIT_WRITES | CS_PANIC_PRIORITY | CS_PRIORITY | CS_ACTIVE | CS_END,
        );
        defmt::info!(
            "audio: pwm DMA channel {=usize} running, CS {=u32:#x}",
            DMA_CHANNEL,
            self.dma.read32(self.ch_reg(DMA_CS))
        );
        self.last = 0;
        self.queued = 0;
        Ok(PERIOD_FRAMES)
    }

    fn free_periods(&mut self) -> usize {
        if self.channels == 0 {
            return 0;
        }
        let a = self.active();
        let advanced = (a + PERIODS - self.last) % PERIODS;
        // Periods the engine left behind replay silence if not refilled.
        for k in 0..advanced {
            let i = (self.last + k) % PERIODS;
            if self.queued == 0 {
                self.silence(i);
            }
        }
        self.queued = self.queued.saturating_sub(advanced);
        self.last = a;
        // Keep the active period and the one after it untouched.
        (PERIODS - 2).saturating_sub(self.queued)
    }

    fn submit(&mut self, period: &[u8]) -> Result<(), AudioError> {
        let ch = usize::from(self.channels);
        if ch == 0 || period.len() != PERIOD_FRAMES * ch * 2 || self.queued >= PERIODS - 2 {
            return Err(AudioError::Busy);
        }
        let i = (self.last + 1 + self.queued) % PERIODS;
        self.fill(i, period);
        self.queued += 1;
        Ok(())
    }

    fn queued_frames(&self) -> usize {
        (self.queued + 1) * PERIOD_FRAMES
    }

    fn stop(&mut self) {
        if self.channels == 0 {
            return;
        }
        self.dma.write32(self.ch_reg(DMA_CS), CS_RESET);
        self.pwm.write32(PWM_DMAC, 0);
        self.pwm.write32(PWM_CTL, 0);
        self.channels = 0;
        defmt::info!("audio: pwm stopped");
    }
}
