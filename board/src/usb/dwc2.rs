//! Synopsys DesignWare USB 2.0 OTG ("DWC2") host controller driver, in DMA mode.
//!
//! Owns: the controller's registers, core reset and host-mode set-up, the root
//! port (power, reset, speed), and the host channels: one transfer per channel,
//! started with [`Dwc2::start`] and finished by polling [`Dwc2::poll`]. Nothing
//! here blocks for long or needs interrupts: the USB core polls, and bulk/control
//! NAKs are retried by the hardware while the channel stays busy.
//!
//! Must not: know about devices, descriptors or classes (that is `usb::host` and
//! the class drivers), or allocate DMA memory itself (callers pass [`DmaBuf`]s).
//!
//! Split transactions: a low/full-speed device behind a high-speed hub (every
//! Pi 3 keyboard: the on-board LAN951x/LAN7515 is a high-speed hub) is reached
//! through that hub's transaction translator, one packet per start/complete
//! split pair, sequenced by the pure [`super::dwc2_split`] state machine. For
//! interrupt endpoints the complete splits must land within a few microframes
//! of the start split, which a 1 ms poll cannot hit: [`Dwc2::poll`] drives a
//! periodic split's packet in line, spinning on the microframe counter for at
//! most [`PERIODIC_SPLIT_SPIN`] (about two frames) per poll.
//!
//! Real-silicon hardening (references: U-Boot `drivers/usb/host/dwc2.c`, Circle
//! `lib/usb/dwhcidevice.cpp`, Linux `drivers/usb/dwc2/hcd_intr.c`; read, not
//! copied): the Broadcom-only "wait for AXI writes" bit in GAHBCFG (so a
//! channel reports done only after its DMA data reached memory), halting a
//! channel waits for its real CHHLTD instead of a fixed guess, PING first for
//! high-speed bulk OUT (HCTSIZ DOPNG), and a channel that halted with babble or
//! a transaction error is disabled and its interrupts cleared before it is
//! reused. The split and hardening paths are written to the references, not yet
//! run on hardware: QEMU's DWC2 runs every device at full speed on the root
//! port and ignores HCSPLT. No isochronous transfers.

use super::dma::{DmaBuf, DmaHal};
use super::dwc2_split::{Halt, SplitRoute, SplitState, Step};
use super::{Direction, EndpointKind, Speed, UsbError};
use crate::mmio::Mmio;
use embassy_time::{Duration, Instant, Timer};

// ---- core (global) registers ----
const GAHBCFG: usize = 0x008;
const GUSBCFG: usize = 0x00c;
const GRSTCTL: usize = 0x010;
const GINTSTS: usize = 0x014;
const GINTMSK: usize = 0x018;
const GRXFSIZ: usize = 0x024;
const GNPTXFSIZ: usize = 0x028;
const GSNPSID: usize = 0x040;
const GHWCFG2: usize = 0x048;
const HPTXFSIZ: usize = 0x100;
// ---- host registers ----
const HCFG: usize = 0x400;
const HFNUM: usize = 0x408;
const HAINTMSK: usize = 0x418;
const HPRT0: usize = 0x440;
const PCGCTL: usize = 0xe00;
// ---- host channel n registers: 0x500 + 0x20 * n ----
const HC_BASE: usize = 0x500;
const HC_STRIDE: usize = 0x20;
const HCCHAR: usize = 0x00;
const HCSPLT: usize = 0x04;
const HCINT: usize = 0x08;
const HCINTMSK: usize = 0x0c;
const HCTSIZ: usize = 0x10;
const HCDMA: usize = 0x14;

const GAHBCFG_DMA_EN: u32 = 1 << 5;
/// BCM283x/2711 only: report DMA completion after the AXI writes finished.
const GAHBCFG_WAIT_AXI_WRITES: u32 = 1 << 4;
const GUSBCFG_PHYIF_16: u32 = 1 << 3;
const GUSBCFG_ULPI_UTMI_SEL: u32 = 1 << 4;
const GUSBCFG_ULPI_EXT_VBUS_DRV: u32 = 1 << 20;
const GUSBCFG_TERM_SEL_DL_PULSE: u32 = 1 << 22;
const GUSBCFG_FORCE_HOST: u32 = 1 << 29;
const GUSBCFG_FORCE_DEV: u32 = 1 << 30;
const GRSTCTL_CSFTRST: u32 = 1 << 0;
const GRSTCTL_RXFFLSH: u32 = 1 << 4;
const GRSTCTL_TXFFLSH: u32 = 1 << 5;
const GRSTCTL_TXFNUM_ALL: u32 = 0x10 << 6;
const GRSTCTL_AHBIDLE: u32 = 1 << 31;

const HPRT0_CONNSTS: u32 = 1 << 0;
const HPRT0_CONNDET: u32 = 1 << 1;
const HPRT0_ENA: u32 = 1 << 2;
const HPRT0_ENACHG: u32 = 1 << 3;
const HPRT0_OVRCURRCHG: u32 = 1 << 5;
const HPRT0_RST: u32 = 1 << 8;
const HPRT0_PWR: u32 = 1 << 12;
const HPRT0_SPD_SHIFT: u32 = 17;
/// Bits of HPRT0 that are write-1-to-clear (or, for ENA, write-1-to-disable):
/// never write them back by accident in a read-modify-write.
const HPRT0_W1C: u32 = HPRT0_CONNDET | HPRT0_ENA | HPRT0_ENACHG | HPRT0_OVRCURRCHG;

const HCCHAR_EPDIR_IN: u32 = 1 << 15;
const HCCHAR_LSPDDEV: u32 = 1 << 17;
const HCCHAR_MC_ONE: u32 = 1 << 20;
const HCCHAR_ODDFRM: u32 = 1 << 29;
const HCCHAR_CHDIS: u32 = 1 << 30;
const HCCHAR_CHENA: u32 = 1 << 31;

const HCINT_XFERCOMPL: u32 = 1 << 0;
const HCINT_CHHLTD: u32 = 1 << 1;
const HCINT_AHBERR: u32 = 1 << 2;
const HCINT_STALL: u32 = 1 << 3;
const HCINT_NAK: u32 = 1 << 4;
const HCINT_XACTERR: u32 = 1 << 7;
const HCINT_BBLERR: u32 = 1 << 8;
const HCINT_FRMOVRUN: u32 = 1 << 9;
const HCINT_DATATGLERR: u32 = 1 << 10;
const HCINT_ALL: u32 = 0x7ff;

const HCTSIZ_XFERSIZE_MASK: u32 = 0x7ffff;
const HCTSIZ_PKTCNT_SHIFT: u32 = 19;
const HCTSIZ_PKTCNT_MASK: u32 = 0x3ff;
const HCTSIZ_PID_SHIFT: u32 = 29;
const HCTSIZ_DOPNG: u32 = 1 << 31;

/// The DWC2 signature register reads 0x4F54_xxxx ("OT") on every core version.
const SNPSID_MASK: u32 = 0xffff_0000;
const SNPSID_OT: u32 = 0x4f54_0000;

/// Size of the register window the driver touches.
pub const REGS_LEN: usize = 0x1000;

/// Channels this driver will use: the BCM2835/2711 cores have 8; QEMU's model
/// reports more, but we hold it to the real budget so tests prove it.
pub const MAX_CHANNELS: usize = 8;

/// Longest [`Dwc2::poll`] spins in line on one periodic split packet.
pub const PERIODIC_SPLIT_SPIN: Duration = Duration::from_micros(2000);

/// Longest a halt request may take before the channel is declared stuck.
const HALT_TIMEOUT: Duration = Duration::from_millis(20);

/// FIFO sizes in 32-bit words (the BCM283x core has 4080 words of FIFO RAM).
const RX_FIFO_WORDS: u32 = 1024;
const NP_TX_FIFO_WORDS: u32 = 1024;
const P_TX_FIFO_WORDS: u32 = 1024;

/// The data PID a transfer starts with (and, read back, the next one to use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Pid {
    /// DATA0.
    Data0,
    /// DATA1.
    Data1,
    /// SETUP (control endpoints only; shares the encoding of MDATA).
    Setup,
}

impl Pid {
    fn bits(self) -> u32 {
        match self {
            Pid::Data0 => 0,
            Pid::Data1 => 2,
            Pid::Setup => 3,
        }
    }

    fn from_bits(b: u32) -> Pid {
        if b == 2 {
            Pid::Data1
        } else {
            Pid::Data0
        }
    }
}

/// Where a transfer goes: everything a host channel needs to address an endpoint.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct Target {
    /// USB device address (0 before SET_ADDRESS).
    pub address: u8,
    /// Endpoint number 0..=15.
    pub endpoint: u8,
    /// Transfer direction.
    pub direction: Direction,
    /// Endpoint transfer type.
    pub kind: EndpointKind,
    /// wMaxPacketSize (bits 10:0).
    pub max_packet: u16,
    /// Device speed (low speed sets the channel's LS bit).
    pub speed: Speed,
    /// The transaction translator to split through (a low/full-speed device
    /// behind a high-speed hub), or `None`.
    pub split: Option<SplitRoute>,
}

/// A finished transfer.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct Completion {
    /// Bytes moved.
    pub len: usize,
    /// The data PID the endpoint expects next.
    pub next_pid: Pid,
}

#[derive(Clone, Copy)]
struct InFlight {
    addr: usize,
    requested: usize,
    direction: Direction,
    split: Option<SplitRun>,
}

/// A split transfer in progress: one packet at a time through the TT.
#[derive(Clone, Copy)]
struct SplitRun {
    route: SplitRoute,
    state: SplitState,
    periodic: bool,
    /// HCCHAR without enable bits and without ODDFRM.
    hcchar: u32,
    /// Bus address of the buffer's start.
    bus: u32,
    mps: usize,
    /// Bytes to move in all (OUT) or room for (IN).
    total: usize,
    /// Bytes moved so far.
    done: usize,
    /// Size of the packet in flight.
    packet: usize,
    pid: Pid,
    /// Armed step waiting for its microframe (periodic), if any.
    waiting: Option<Step>,
}

/// One DWC2 host controller.
pub struct Dwc2 {
    regs: Mmio,
    hal: &'static dyn DmaHal,
    channels: usize,
    used: u16,
    inflight: [Option<InFlight>; MAX_CHANNELS],
}

impl Dwc2 {
    /// A driver for the controller at `regs` (a window of at least
    /// [`REGS_LEN`] bytes); call [`Dwc2::init`] next.
    pub fn new(regs: Mmio, hal: &'static dyn DmaHal) -> Self {
        Self {
            regs,
            hal,
            channels: 0,
            used: 0,
            inflight: [None; MAX_CHANNELS],
        }
    }

    /// True when the signature register identifies a DWC2 core.
    pub fn present(&self) -> bool {
        self.regs.read32(GSNPSID) & SNPSID_MASK == SNPSID_OT
    }

    /// Resets the core, forces host mode, enables DMA, sizes the FIFOs, halts
    /// every channel and powers the root port.
    pub async fn init(&mut self) -> Result<(), UsbError> {
        if !self.present() {
            return Err(UsbError::NoController);
        }
        let r = self.regs;
        r.write32(GINTMSK, 0);
        r.write32(GAHBCFG, 0);
        // The BCM283x/2711 core drives VBUS itself and uses its internal UTMI+
        // PHY with an 8-bit interface: no external ULPI VBUS, no ULPI, no 16-bit.
        let cfg = r.read32(GUSBCFG) & !(GUSBCFG_ULPI_EXT_VBUS_DRV | GUSBCFG_TERM_SEL_DL_PULSE);
        r.write32(GUSBCFG, cfg);
        self.wait_bits(GRSTCTL, GRSTCTL_AHBIDLE, GRSTCTL_AHBIDLE, 100)
            .await?;
        r.write32(GRSTCTL, GRSTCTL_CSFTRST);
        self.wait_bits(GRSTCTL, GRSTCTL_CSFTRST, 0, 100).await?;
        self.wait_bits(GRSTCTL, GRSTCTL_AHBIDLE, GRSTCTL_AHBIDLE, 100)
            .await?;
        Timer::after_millis(20).await;

        let cfg =
            r.read32(GUSBCFG) & !(GUSBCFG_FORCE_DEV | GUSBCFG_ULPI_UTMI_SEL | GUSBCFG_PHYIF_16);
        r.write32(GUSBCFG, cfg | GUSBCFG_FORCE_HOST);
        // The core needs at least 25 ms to switch modes.
        Timer::after_millis(50).await;

        defmt::debug!("dwc2: core reset and host mode done");
        r.write32(GAHBCFG, GAHBCFG_DMA_EN | GAHBCFG_WAIT_AXI_WRITES);
        r.write32(PCGCTL, 0);
        r.write32(HCFG, 0); // FS/LS PHY clock select 30/60 MHz: the UTMI+ PHY

        r.write32(GRXFSIZ, RX_FIFO_WORDS);
        r.write32(GNPTXFSIZ, (NP_TX_FIFO_WORDS << 16) | RX_FIFO_WORDS);
        r.write32(
            HPTXFSIZ,
            (P_TX_FIFO_WORDS << 16) | (RX_FIFO_WORDS + NP_TX_FIFO_WORDS),
        );
        r.write32(GRSTCTL, GRSTCTL_TXFFLSH | GRSTCTL_TXFNUM_ALL);
        self.wait_bits(GRSTCTL, GRSTCTL_TXFFLSH, 0, 100).await?;
        r.write32(GRSTCTL, GRSTCTL_RXFFLSH);
        self.wait_bits(GRSTCTL, GRSTCTL_RXFFLSH, 0, 100).await?;

        // GHWCFG2 bits 17:14 hold the number of host channels minus one.
        let n = (((r.read32(GHWCFG2) >> 14) & 0xf) + 1) as usize;
        self.channels = n.min(MAX_CHANNELS);
        for ch in 0..self.channels {
            self.halt(ch as u8).await;
        }
        r.write32(HAINTMSK, 0);
        r.write32(GINTSTS, u32::MAX);

        let p = r.read32(HPRT0) & !HPRT0_W1C;
        if p & HPRT0_PWR == 0 {
            r.write32(HPRT0, p | HPRT0_PWR);
        }
        defmt::info!(
            "dwc2: core {=u32:x}, {} host channels",
            r.read32(GSNPSID),
            self.channels
        );
        Ok(())
    }

    /// True while a device is attached to the root port.
    pub fn root_connected(&self) -> bool {
        self.regs.read32(HPRT0) & HPRT0_CONNSTS != 0
    }

    /// Waits up to `timeout` for a device on the root port.
    pub async fn wait_root_connect(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while !self.root_connected() {
            if Instant::now() > end {
                return false;
            }
            Timer::after_millis(10).await;
        }
        true
    }

    /// Resets the root port (USB 2.0 §7.1.7.5: at least 50 ms for a root port),
    /// lets it recover and returns the attached device's speed.
    pub async fn reset_root_port(&mut self) -> Result<Speed, UsbError> {
        let r = self.regs;
        let p = r.read32(HPRT0) & !HPRT0_W1C;
        r.write32(HPRT0, p | HPRT0_RST);
        Timer::after_millis(60).await;
        let p = r.read32(HPRT0) & !HPRT0_W1C;
        r.write32(HPRT0, p & !HPRT0_RST);
        Timer::after_millis(20).await;
        let p = r.read32(HPRT0);
        // Acknowledge the change bits the reset raised (write them back as 1s),
        // without writing ENA, which would disable the port.
        r.write32(
            HPRT0,
            (p & !HPRT0_ENA) | (p & (HPRT0_CONNDET | HPRT0_ENACHG | HPRT0_OVRCURRCHG)),
        );
        if p & HPRT0_ENA == 0 {
            return Err(UsbError::PortDisabled);
        }
        Ok(match (p >> HPRT0_SPD_SHIFT) & 3 {
            0 => Speed::High,
            1 => Speed::Full,
            _ => Speed::Low,
        })
    }

    /// Claims a free host channel.
    pub fn alloc_channel(&mut self) -> Option<u8> {
        (0..self.channels)
            .find(|&c| self.used & (1 << c) == 0)
            .map(|c| {
                self.used |= 1 << c;
                c as u8
            })
    }

    /// Returns a channel claimed with [`Dwc2::alloc_channel`]; it must be idle.
    pub fn free_channel(&mut self, ch: u8) {
        if usize::from(ch) < self.channels && self.inflight[usize::from(ch)].is_none() {
            self.used &= !(1 << ch);
        }
    }

    /// True when `ch` has a transfer in flight.
    pub fn busy(&self, ch: u8) -> bool {
        self.inflight
            .get(usize::from(ch))
            .is_some_and(|f| f.is_some())
    }

    /// Starts a transfer of `len` bytes on channel `ch` (`len` may be 0 for a
    /// zero-length packet). For IN the buffer must hold `len` rounded up to whole
    /// packets; the device may send less.
    pub fn start(
        &mut self,
        ch: u8,
        t: &Target,
        pid: Pid,
        buf: &DmaBuf,
        len: usize,
    ) -> Result<(), UsbError> {
        self.start_at(ch, t, pid, buf.addr(), buf.len(), len)
    }

    /// [`Dwc2::start`] on a buffer given by address and capacity; the buffer
    /// must stay alive until the transfer finished or was halted.
    pub fn start_at(
        &mut self,
        ch: u8,
        t: &Target,
        pid: Pid,
        addr: usize,
        cap: usize,
        len: usize,
    ) -> Result<(), UsbError> {
        let c = usize::from(ch);
        if c >= self.channels || self.inflight[c].is_some() {
            return Err(UsbError::ChannelBusy);
        }
        let mps = usize::from(t.max_packet & 0x7ff).max(1);
        let packets = if len == 0 { 1 } else { len.div_ceil(mps) };
        // IN transfers are sized in whole packets: the core may write that much.
        let size = if t.direction == Direction::In {
            packets * mps
        } else {
            len
        };
        if size > cap
            || size > HCTSIZ_XFERSIZE_MASK as usize
            || packets > HCTSIZ_PKTCNT_MASK as usize
        {
            return Err(UsbError::BufferTooSmall);
        }
        let bus = self.hal.bus_address(addr).ok_or(UsbError::Unreachable)?;
        self.hal.before_dma(addr, size.max(1));

        let mut hcchar = u32::from(t.max_packet & 0x7ff)
            | (u32::from(t.endpoint & 0xf) << 11)
            | (t.kind.bits() << 18)
            | HCCHAR_MC_ONE
            | (u32::from(t.address & 0x7f) << 22);
        if t.direction == Direction::In {
            hcchar |= HCCHAR_EPDIR_IN;
        }
        if t.speed == Speed::Low {
            hcchar |= HCCHAR_LSPDDEV;
        }
        let periodic = t.kind == EndpointKind::Interrupt || t.kind == EndpointKind::Isochronous;
        if let Some(route) = t.split {
            let mut run = SplitRun {
                route,
                state: SplitState::new(periodic),
                periodic,
                hcchar,
                bus,
                mps,
                total: size,
                done: 0,
                packet: 0,
                pid,
                waiting: None,
            };
            self.inflight[c] = Some(InFlight {
                addr,
                requested: size,
                direction: t.direction,
                split: None,
            });
            let step = run.state.begin(self.uframe());
            self.next_packet_size(&mut run, t.direction);
            self.apply_split_step(c, run, step);
            return Ok(());
        }
        if t.kind == EndpointKind::Interrupt || t.kind == EndpointKind::Isochronous {
            // Periodic transfers go out in the frame whose parity ODDFRM names:
            // ask for the next one.
            let frame = self.regs.read32(HFNUM) & 0xffff;
            if frame & 1 == 0 {
                hcchar |= HCCHAR_ODDFRM;
            }
        }
        let mut tsiz = (size as u32 & HCTSIZ_XFERSIZE_MASK)
            | ((packets as u32 & HCTSIZ_PKTCNT_MASK) << HCTSIZ_PKTCNT_SHIFT)
            | (pid.bits() << HCTSIZ_PID_SHIFT);
        if t.speed == Speed::High && t.kind == EndpointKind::Bulk && t.direction == Direction::Out {
            // USB 2.0 §8.5.1: a high-speed bulk OUT starts with PING so a busy
            // device NAKs the token instead of a whole data packet.
            tsiz |= HCTSIZ_DOPNG;
        }

        let hc = HC_BASE + c * HC_STRIDE;
        let r = self.regs;
        r.write32(hc + HCINT, HCINT_ALL);
        r.write32(hc + HCINTMSK, HCINT_ALL);
        r.write32(hc + HCSPLT, 0);
        r.write32(hc + HCTSIZ, tsiz);
        r.write32(hc + HCDMA, bus);
        r.write32(hc + HCCHAR, hcchar);
        self.inflight[c] = Some(InFlight {
            addr,
            requested: size,
            direction: t.direction,
            split: None,
        });
        r.write32(hc + HCCHAR, hcchar | HCCHAR_CHENA);
        Ok(())
    }

    /// Checks channel `ch`: `None` while the transfer is still running, else its
    /// result (the channel is then idle again).
    pub fn poll(&mut self, ch: u8) -> Option<Result<Completion, UsbError>> {
        let c = usize::from(ch);
        let f = (*self.inflight.get(c)?)?;
        if let Some(run) = f.split {
            let result = self.poll_split(c, run)?;
            self.inflight[c] = None;
            if f.direction == Direction::In {
                self.hal.after_dma(f.addr, f.requested.max(1));
            }
            return Some(result);
        }
        let hc = HC_BASE + c * HC_STRIDE;
        let int = self.regs.read32(hc + HCINT);
        if int & HCINT_CHHLTD == 0 {
            return None;
        }
        self.regs.write32(hc + HCINT, HCINT_ALL);
        self.inflight[c] = None;
        let tsiz = self.regs.read32(hc + HCTSIZ);
        let next_pid = Pid::from_bits((tsiz >> HCTSIZ_PID_SHIFT) & 3);
        let remaining = (tsiz & HCTSIZ_XFERSIZE_MASK) as usize;
        if f.direction == Direction::In {
            self.hal.after_dma(f.addr, f.requested.max(1));
        }
        let result = if int & HCINT_XFERCOMPL != 0 {
            let len = match f.direction {
                Direction::In => f.requested.saturating_sub(remaining),
                Direction::Out => f.requested,
            };
            Ok(Completion { len, next_pid })
        } else if int & HCINT_STALL != 0 {
            Err(UsbError::Stall)
        } else if int & (HCINT_NAK | HCINT_FRMOVRUN) != 0 {
            Err(UsbError::Nak)
        } else if int & HCINT_BBLERR != 0 {
            // The core halted the channel; make sure it is disabled before
            // the next transfer reuses it.
            self.recover(c);
            Err(UsbError::Babble)
        } else if int & HCINT_DATATGLERR != 0 {
            Err(UsbError::DataToggle)
        } else if int & HCINT_AHBERR != 0 {
            Err(UsbError::Dma)
        } else if int & HCINT_XACTERR != 0 {
            // The core already retried three times (DMA mode); recover the
            // channel and let the caller decide whether to try again.
            self.recover(c);
            Err(UsbError::Transaction)
        } else {
            // Halted because we asked (cancel) or for no reported reason.
            Err(UsbError::Cancelled)
        };
        Some(result)
    }

    /// Starts a transfer and waits for it, up to `timeout`.
    pub async fn transfer(
        &mut self,
        ch: u8,
        t: &Target,
        pid: Pid,
        buf: &DmaBuf,
        len: usize,
        timeout: Duration,
    ) -> Result<Completion, UsbError> {
        self.start(ch, t, pid, buf, len)?;
        let end = Instant::now() + timeout;
        let mut spins = 0u32;
        loop {
            if let Some(r) = self.poll(ch) {
                return r;
            }
            if Instant::now() > end {
                self.halt(ch).await;
                return Err(UsbError::Timeout);
            }
            // Most transfers finish within a few frames: look again soon, but
            // let the executor run other tasks in between.
            spins += 1;
            if spins < 8 {
                embassy_futures::yield_now().await;
            } else {
                Timer::after_micros(250).await;
            }
        }
    }

    /// Stops channel `ch` (if it runs) and waits until the core reports it halted.
    pub async fn halt(&mut self, ch: u8) {
        let c = usize::from(ch);
        if c >= self.channels {
            return;
        }
        let hc = HC_BASE + c * HC_STRIDE;
        let r = self.regs;
        let v = r.read32(hc + HCCHAR);
        if v & HCCHAR_CHENA != 0 {
            r.write32(hc + HCINT, HCINT_ALL);
            r.write32(
                hc + HCCHAR,
                (v & !HCCHAR_CHENA) | HCCHAR_CHDIS | HCCHAR_CHENA,
            );
            // The channel is free only once the core says it halted (CHHLTD);
            // a periodic channel may take until the end of its (micro)frame.
            let end = Instant::now() + HALT_TIMEOUT;
            while r.read32(hc + HCINT) & HCINT_CHHLTD == 0 {
                if Instant::now() > end {
                    defmt::warn!(
                        "dwc2: channel {} did not halt (HCCHAR {=u32:x})",
                        ch,
                        r.read32(hc + HCCHAR)
                    );
                    break;
                }
                embassy_futures::yield_now().await;
            }
        }
        r.write32(hc + HCINT, HCINT_ALL);
        if let Some(f) = self.inflight[c].take() {
            if f.direction == Direction::In {
                self.hal.after_dma(f.addr, f.requested.max(1));
            }
        }
    }

    /// Disables channel `c` after an error halt and clears its interrupts.
    fn recover(&self, c: usize) {
        let hc = HC_BASE + c * HC_STRIDE;
        let v = self.regs.read32(hc + HCCHAR);
        if v & HCCHAR_CHENA != 0 {
            self.regs.write32(
                hc + HCCHAR,
                (v & !HCCHAR_CHENA) | HCCHAR_CHDIS | HCCHAR_CHENA,
            );
        }
        self.regs.write32(hc + HCINT, HCINT_ALL);
    }

    /// The current microframe (high speed) or frame (full speed), low 3 bits.
    fn uframe(&self) -> u8 {
        (self.regs.read32(HFNUM) & 7) as u8
    }

    /// Sets `run.packet` to the next packet's size.
    fn next_packet_size(&self, run: &mut SplitRun, direction: Direction) {
        run.packet = match direction {
            Direction::In => run.mps,
            Direction::Out => (run.total - run.done).min(run.mps),
        };
    }

    /// Programs channel `c` for one split packet (start or complete split)
    /// and enables it.
    fn arm_split(&self, c: usize, run: &SplitRun, complete: bool, at: Option<u8>) {
        let hc = HC_BASE + c * HC_STRIDE;
        let r = self.regs;
        let tsiz = (run.packet as u32 & HCTSIZ_XFERSIZE_MASK)
            | (1 << HCTSIZ_PKTCNT_SHIFT)
            | (run.pid.bits() << HCTSIZ_PID_SHIFT);
        let mut hcchar = run.hcchar;
        if let Some(uframe) = at {
            if uframe & 1 != 0 {
                hcchar |= HCCHAR_ODDFRM;
            }
        }
        r.write32(hc + HCINT, HCINT_ALL);
        r.write32(hc + HCINTMSK, HCINT_ALL);
        r.write32(hc + HCSPLT, run.route.hcsplt(complete));
        r.write32(hc + HCTSIZ, tsiz);
        r.write32(hc + HCDMA, run.bus.wrapping_add(run.done as u32));
        r.write32(hc + HCCHAR, hcchar);
        r.write32(hc + HCCHAR, hcchar | HCCHAR_CHENA);
    }

    /// Acts on a split step: arms the channel now, or records that it waits
    /// for its microframe. Fails and finishes are left to [`Dwc2::poll_split`].
    fn apply_split_step(&mut self, c: usize, mut run: SplitRun, step: Step) {
        run.waiting = None;
        match step {
            Step::Start { at } | Step::Complete { at } => {
                let complete = matches!(step, Step::Complete { .. });
                match at {
                    Some(u) if u != self.uframe() => run.waiting = Some(step),
                    _ => self.arm_split(c, &run, complete, at),
                }
            }
            Step::Done | Step::Fail(_) => run.waiting = Some(step),
        }
        if let Some(Some(f)) = self.inflight.get_mut(c) {
            f.split = Some(run);
        }
    }

    /// Advances a split transfer on channel `c`; `None` while it runs.
    fn poll_split(&mut self, c: usize, run: SplitRun) -> Option<Result<Completion, UsbError>> {
        let end = Instant::now() + PERIODIC_SPLIT_SPIN;
        let direction = self.inflight[c]?.direction;
        let mut run = run;
        loop {
            let step = match run.waiting {
                Some(Step::Fail(e)) => return Some(Err(e)),
                Some(Step::Done) => {
                    return Some(Ok(Completion {
                        len: run.done,
                        next_pid: run.pid,
                    }))
                }
                Some(step @ (Step::Start { at: Some(u) } | Step::Complete { at: Some(u) })) => {
                    if self.uframe() == u {
                        let complete = matches!(step, Step::Complete { .. });
                        self.arm_split(c, &run, complete, Some(u));
                        run.waiting = None;
                    }
                    None
                }
                _ => {
                    let hc = HC_BASE + c * HC_STRIDE;
                    let int = self.regs.read32(hc + HCINT);
                    if int & HCINT_CHHLTD == 0 {
                        None
                    } else {
                        let halt = Halt::from_hcint(int);
                        let step = run.state.on_halt(halt, self.uframe());
                        if step == Step::Done {
                            let tsiz = self.regs.read32(hc + HCTSIZ);
                            let remaining = (tsiz & HCTSIZ_XFERSIZE_MASK) as usize;
                            let got = match direction {
                                Direction::In => run.packet.saturating_sub(remaining),
                                Direction::Out => run.packet,
                            };
                            run.done += got;
                            run.pid = Pid::from_bits((tsiz >> HCTSIZ_PID_SHIFT) & 3);
                            let short = direction == Direction::In && got < run.mps;
                            if short || run.done >= run.total {
                                Some(Step::Done)
                            } else {
                                self.next_packet_size(&mut run, direction);
                                run.state = SplitState::new(run.periodic);
                                Some(run.state.begin(self.uframe()))
                            }
                        } else {
                            if matches!(step, Step::Fail(_)) {
                                self.recover(c);
                            }
                            Some(step)
                        }
                    }
                }
            };
            if let Some(step) = step {
                self.apply_split_step(c, run, step);
                run = self.inflight[c]?.split?;
                continue;
            }
            // Periodic splits must hit their microframes: keep at it briefly.
            if !run.periodic || Instant::now() > end {
                if let Some(Some(f)) = self.inflight.get_mut(c) {
                    f.split = Some(run);
                }
                return None;
            }
        }
    }

    async fn wait_bits(&self, reg: usize, mask: u32, want: u32, ms: u64) -> Result<(), UsbError> {
        let end = Instant::now() + Duration::from_millis(ms);
        while self.regs.read32(reg) & mask != want {
            if Instant::now() > end {
                return Err(UsbError::Timeout);
            }
            Timer::after_micros(100).await;
        }
        Ok(())
    }
}
