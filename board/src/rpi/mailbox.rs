//! The VideoCore mailbox property interface (channel 8): how the ARM asks the
//! GPU firmware for board facts, clocks, power and the framebuffer.
//!
//! Owns: mailbox 0 (GPU to ARM) and mailbox 1 (ARM to GPU) registers, the tag
//! numbers, and the exchange of a [`Message`] (built in [`super::property`]). The buffer is
//! passed by its VideoCore bus address and is not cache-coherent with the ARM:
//! it is cleaned before the call and invalidated after. Must not: interpret the
//! framebuffer or any device beyond the firmware's answers, or trust a response
//! length beyond the buffer.

use crate::mmio::Mmio;
use crate::usb::dma::{DmaBuf, DmaHal};

pub use super::property::Message;

const READ: usize = 0x00;
const STATUS0: usize = 0x18;
const WRITE: usize = 0x20;
const STATUS1: usize = 0x38;
const FULL: u32 = 1 << 31;
const EMPTY: u32 = 1 << 30;
const CHANNEL_PROPERTY: u32 = 8;

const CODE_SUCCESS: u32 = 0x8000_0000;

/// Size of the mailbox register block.
pub const REGS_LEN: usize = 0x40;

/// Tag: firmware revision (a Unix build time on real firmware).
pub const TAG_FIRMWARE_REVISION: u32 = 0x0000_0001;
/// Tag: board model.
pub const TAG_BOARD_MODEL: u32 = 0x0001_0001;
/// Tag: board revision (the "revision code" that names the model).
pub const TAG_BOARD_REVISION: u32 = 0x0001_0002;
/// Tag: board MAC address (6 bytes).
pub const TAG_BOARD_MAC: u32 = 0x0001_0003;
/// Tag: board serial (64 bits).
pub const TAG_BOARD_SERIAL: u32 = 0x0001_0004;
/// Tag: ARM memory base and size.
pub const TAG_ARM_MEMORY: u32 = 0x0001_0005;
/// Tag: VideoCore memory base and size.
pub const TAG_VC_MEMORY: u32 = 0x0001_0006;
/// Tag: set a device's power state.
pub const TAG_SET_POWER_STATE: u32 = 0x0002_8001;
/// Tag: a clock's current rate in Hz.
pub const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
/// Tag: allocate the framebuffer (alignment in, bus address and size out).
pub const TAG_FB_ALLOCATE: u32 = 0x0004_0001;
/// Tag: framebuffer pitch in bytes.
pub const TAG_FB_GET_PITCH: u32 = 0x0004_0008;
/// Tag: set the physical (display) size.
pub const TAG_FB_SET_PHYSICAL: u32 = 0x0004_8003;
/// Tag: set the virtual (buffer) size.
pub const TAG_FB_SET_VIRTUAL: u32 = 0x0004_8004;
/// Tag: set bits per pixel.
pub const TAG_FB_SET_DEPTH: u32 = 0x0004_8005;
/// Tag: set pixel order (0 BGR, 1 RGB).
pub const TAG_FB_SET_PIXEL_ORDER: u32 = 0x0004_8006;
/// Tag: set the virtual offset.
pub const TAG_FB_SET_OFFSET: u32 = 0x0004_8009;

/// Clock id: the PL011 UART.
pub const CLOCK_UART: u32 = 2;
/// Clock id: the ARM cores.
pub const CLOCK_ARM: u32 = 3;
/// Clock id: the VideoCore core clock.
pub const CLOCK_CORE: u32 = 4;
/// Power device id: the USB host controller.
pub const POWER_USB_HCD: u32 = 3;

/// Why a property call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum MailboxError {
    /// The firmware did not answer in time.
    Timeout,
    /// The firmware answered with an error code, or a tag was not answered.
    Rejected,
    /// No memory for the message buffer, or it is unreachable by the GPU.
    NoBuffer,
}

/// The mailbox.
pub struct Mailbox {
    regs: Mmio,
    dma: &'static dyn DmaHal,
}

impl Mailbox {
    /// The mailbox at `regs` (peripheral base + 0xB880).
    pub fn new(regs: Mmio, dma: &'static dyn DmaHal) -> Self {
        Self { regs, dma }
    }

    /// Sends `msg` on the property channel and waits for the answer.
    pub fn call(&self, msg: &mut Message) -> Result<(), MailboxError> {
        self.exchange(msg.finish())
    }

    fn exchange(&self, words: &mut [u32]) -> Result<(), MailboxError> {
        let bytes = words.len() * 4;
        let mut buf = DmaBuf::new(bytes).ok_or(MailboxError::NoBuffer)?;
        for (chunk, w) in buf.as_mut_slice().chunks_exact_mut(4).zip(words.iter()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        let bus = self
            .dma
            .bus_address(buf.addr())
            .ok_or(MailboxError::NoBuffer)?;
        self.dma.before_dma(buf.addr(), bytes);

        let deadline = barespice_boot::cpu::counter() + barespice_boot::cpu::counter_frequency();
        let timed_out = || barespice_boot::cpu::counter() > deadline;
        while self.regs.read32(STATUS1) & FULL != 0 {
            if timed_out() {
                return Err(MailboxError::Timeout);
            }
        }
        // The low four bits carry the channel; the buffer is 16-byte aligned.
        self.regs.write32(WRITE, (bus & !0xf) | CHANNEL_PROPERTY);
        loop {
            while self.regs.read32(STATUS0) & EMPTY != 0 {
                if timed_out() {
                    return Err(MailboxError::Timeout);
                }
            }
            let v = self.regs.read32(READ);
            if v & 0xf == CHANNEL_PROPERTY && v & !0xf == bus & !0xf {
                break;
            }
        }
        self.dma.after_dma(buf.addr(), bytes);
        for (w, chunk) in words.iter_mut().zip(buf.as_slice().chunks_exact(4)) {
            *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        if words.get(1) == Some(&CODE_SUCCESS) {
            Ok(())
        } else {
            Err(MailboxError::Rejected)
        }
    }

    /// A one-tag call returning the first `N` answer words.
    pub fn get<const N: usize>(&self, id: u32, args: &[u32]) -> Result<[u32; N], MailboxError> {
        let mut m = Message::new();
        let h = m.tag(id, args, N);
        self.call(&mut m)?;
        let v = m.values(h).ok_or(MailboxError::Rejected)?;
        let mut out = [0u32; N];
        for (o, x) in out.iter_mut().zip(v) {
            *o = *x;
        }
        Ok(out)
    }

    /// A clock's rate in Hz.
    pub fn clock_rate(&self, clock: u32) -> Result<u32, MailboxError> {
        self.get::<2>(TAG_GET_CLOCK_RATE, &[clock, 0]).map(|v| v[1])
    }

    /// Powers a device on and waits until it is stable; true if it reports on.
    pub fn power_on(&self, device: u32) -> Result<bool, MailboxError> {
        // State bit 0: on; bit 1: wait for the device to be stable.
        self.get::<2>(TAG_SET_POWER_STATE, &[device, 3])
            .map(|v| v[1] & 1 != 0)
    }
}
