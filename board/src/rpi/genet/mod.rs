//! The Raspberry Pi 4's on-SoC Ethernet: Broadcom GENET v5 (UniMAC) with the
//! BCM54213PE gigabit PHY on its MDIO bus, as an `embassy-net-driver` NIC.
//!
//! Owns: the MAC's reset and address, the MDIO bus, the PHY's reset and
//! auto-negotiation, one receive and one transmit ring (the default queue,
//! 16) serviced by polling — no interrupt — and the cache maintenance of their
//! buffers; frames move through an `embassy-net-driver-channel`, whose
//! [`NetDevice`] half is the driver embassy-net sees. Must not: parse frames
//! (the stack does) or block: a frame with no free channel buffer is dropped,
//! as a NIC would.
//!
//! Written to the references, not yet run on hardware. Followed, in this
//! order: U-Boot `drivers/net/bcmgenet.c` (register map, reset, ring set-up,
//! MDIO, adjusting the MAC to the link) and its generic PHY code (the
//! BCM54213PE has no entry in U-Boot's `drivers/net/phy/broadcom.c`); Circle
//! `lib/bcm54213.cpp` (the same MAC on ring 16, link polling); Linux
//! `drivers/net/ethernet/broadcom/genet/bcmgenet.c` (padding short frames,
//! FCS stripped by default). Deliberate differences:
//! - 64 receive and 64 transmit descriptors instead of U-Boot's 256 (the ring's
//!   end address says so; 128 KiB of buffers each instead of 512 KiB);
//! - transmit does not wait for each frame: up to 63 frames are in flight and
//!   their buffers are reused once the consumer counter passes them;
//! - the MAC address is the firmware's (mailbox tag 0x0001_0003), as Circle;
//! - the link is polled every 500 ms after start-up instead of waited for, so
//!   a missing cable does not hold up the boot; a link that has not come up
//!   after 10 s is reported on the status screen.
//! - like U-Boot and unlike Linux, the PHY's RGMII clock delays are left at
//!   their strap defaults (Linux's `bcm54xx_config_clock_delay` programs them
//!   from `phy-mode`); the MAC side sets `ID_MODE_DIS` for `rgmii` and
//!   `rgmii-rxid` as U-Boot does;
//! - a PHY whose id is not the BCM54213PE's is driven as a generic Clause 22
//!   PHY (U-Boot's behaviour for PHYs it has no entry for) instead of refused.
//!
//! DMA: the GENET sees ARM physical addresses 1:1 (40-bit) and does not snoop
//! the caches. Buffers are whole cache lines; a transmit buffer is cleaned
//! after it is filled, a receive buffer invalidated before it is read (the CPU
//! never writes one, so no dirty line can overwrite the device's data).
//! Descriptors live in the MAC's own register space (no cache maintenance).

pub mod phy;
pub mod ring;

use crate::bringup::{self, Outcome};
use crate::mmio::Mmio;
use crate::usb::dma::DmaBuf;
use alloc::format;
use alloc::string::String;
use barespice_boot::cpu::{dcache_clean, dcache_clean_invalidate, dcache_invalidate, delay_us};
use embassy_net_driver::{HardwareAddress, LinkState};
use embassy_net_driver_channel as ch;
use embassy_time::{Duration, Instant, Timer};
pub use phy::PhyMode;
use phy::{LinkEvent, LinkMonitor, PhyStatus};
use ring::{RxFrame, RxPoll, RxRing, TxRing};

/// Largest Ethernet frame without FCS.
pub const MTU: usize = 1514;
/// Channel receive queue depth.
const CH_RX: usize = 8;
/// Channel transmit queue depth.
const CH_TX: usize = 8;
/// The channel state (make it `'static`).
pub type NetState = ch::State<MTU, CH_RX, CH_TX>;
/// The GENET side of the channel.
pub type NetRunner = ch::Runner<'static, MTU>;
/// The embassy-net side: an `embassy_net_driver::Driver`.
pub type NetDevice = ch::Device<'static, MTU>;

/// Size of the register block.
pub const REGS_LEN: usize = 0x1_0000;

const SYS_REV_CTRL: usize = 0x0000;
const SYS_PORT_CTRL: usize = 0x0004;
const PORT_MODE_EXT_GPHY: u32 = 3;
const SYS_RBUF_FLUSH_CTRL: usize = 0x0008;
const EXT_RGMII_OOB_CTRL: usize = 0x0080 + 0x0c;
const RGMII_LINK: u32 = 1 << 4;
const OOB_DISABLE: u32 = 1 << 5;
const RGMII_MODE_EN: u32 = 1 << 6;
const ID_MODE_DIS: u32 = 1 << 16;
const RBUF_CTRL: usize = 0x0300;
const RBUF_ALIGN_2B: u32 = 1 << 1;
const RBUF_TBUF_SIZE_CTRL: usize = 0x0300 + 0xb4;
const UMAC_CMD: usize = 0x0800 + 0x008;
const CMD_TX_EN: u32 = 1 << 0;
const CMD_RX_EN: u32 = 1 << 1;
const CMD_SPEED_SHIFT: u32 = 2;
const CMD_SW_RESET: u32 = 1 << 13;
const CMD_LCL_LOOP_EN: u32 = 1 << 15;
const UMAC_MAC0: usize = 0x0800 + 0x00c;
const UMAC_MAC1: usize = 0x0800 + 0x010;
const UMAC_MAX_FRAME_LEN: usize = 0x0800 + 0x014;
/// Body + header + VLAN tag + Broadcom tag + FCS + pad.
const MAX_FRAME_LEN: u32 = 1536;
const UMAC_TX_FLUSH: usize = 0x0800 + 0x334;
const UMAC_MIB_CTRL: usize = 0x0800 + 0x580;
const MIB_RESET_ALL: u32 = 0b111;
const MDIO_CMD: usize = 0x0800 + 0x614;

const DESC_SIZE: usize = 12;
const DESC_LEN_STATUS: usize = 0;
const DESC_ADDR_LO: usize = 4;
const DESC_ADDR_HI: usize = 8;
const HW_DESCS: usize = 256;
const RX_DESC_BASE: usize = 0x2000;
const TX_DESC_BASE: usize = 0x4000;
const DEFAULT_Q: usize = 16;
const RING_REGS: usize = 0x40;
const RDMA_RING: usize = RX_DESC_BASE + HW_DESCS * DESC_SIZE + DEFAULT_Q * RING_REGS;
const TDMA_RING: usize = TX_DESC_BASE + HW_DESCS * DESC_SIZE + DEFAULT_Q * RING_REGS;
const RDMA_REGS: usize = RX_DESC_BASE + HW_DESCS * DESC_SIZE + (DEFAULT_Q + 1) * RING_REGS;
const TDMA_REGS: usize = TX_DESC_BASE + HW_DESCS * DESC_SIZE + (DEFAULT_Q + 1) * RING_REGS;
// Ring registers (receive / transmit meanings share offsets).
const RING_HW_PTR: usize = 0x00; // RDMA write pointer / TDMA read pointer
const RING_HW_INDEX: usize = 0x08; // RDMA producer / TDMA consumer
const RING_SW_INDEX: usize = 0x0c; // RDMA consumer / TDMA producer
const RING_BUF_SIZE: usize = 0x10;
const RING_START_ADDR: usize = 0x14;
const RING_END_ADDR: usize = 0x1c;
const RING_MBUF_DONE_THRESH: usize = 0x24;
const RING_FLOW: usize = 0x28; // RDMA XON/XOFF threshold / TDMA flow period
const RING_SW_PTR: usize = 0x2c; // RDMA read pointer / TDMA write pointer
                                 // DMA block registers.
const DMA_RING_CFG: usize = 0x00;
const DMA_CTRL: usize = 0x04;
const DMA_SCB_BURST_SIZE: usize = 0x0c;
const DMA_EN: u32 = 1;
const DMA_MAX_BURST: u32 = 8;

/// Descriptors used per ring (of the 256 the hardware has).
const RING_DESCS: u32 = 64;
/// Bytes per buffer.
const BUF_LEN: usize = 2048;
/// Flow-control thresholds: XOFF at 5 free, XON at ring/16.
const RX_FLOW_THRESH: u32 = (5 << 16) | (RING_DESCS >> 4);

/// How often the PHY is polled.
const PHY_POLL: Duration = Duration::from_millis(500);
/// A link that has not come up by then is reported.
const LINK_REPORT_AFTER: Duration = Duration::from_secs(10);
/// Poll interval of the rings when idle.
const IDLE_POLL: Duration = Duration::from_micros(250);

/// Why the GENET did not come up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum GenetError {
    /// `SYS_REV_CTRL` does not say GENET v5.
    Version {
        /// The register.
        rev: u32,
    },
    /// The MDIO transaction did not finish (busy stuck) or the PHY did not answer.
    Mdio,
    /// No PHY answers at the address (id all ones or zero).
    PhyId {
        /// PHYSID1:PHYSID2.
        id: u32,
    },
    /// The PHY's reset did not clear.
    PhyReset,
    /// No memory for the ring buffers.
    NoMemory,
}

/// A probed GENET with its PHY negotiating; [`Genet::run`] services it.
pub struct Genet {
    regs: Mmio,
    phy: u8,
    phy_id: u32,
    mode: PhyMode,
    mac: [u8; 6],
    rx: RxRing,
    tx: TxRing,
    rx_bufs: DmaBuf,
    tx_bufs: DmaBuf,
}

impl Genet {
    /// Checks the MAC's version and the PHY's id at MDIO address `phy`,
    /// resets both, sets up the rings, and starts auto-negotiation (it finishes
    /// in [`Genet::run`]).
    pub fn probe(regs: Mmio, phy: u8, mode: PhyMode, mac: [u8; 6]) -> Result<Self, GenetError> {
        let rev = regs.read32(SYS_REV_CTRL);
        // GENET v5 reports major 6 in bits 27:24 (v4 reports 5).
        if (rev >> 24) & 0xf != 6 {
            return Err(GenetError::Version { rev });
        }
        defmt::info!(
            "genet: GENET v5.{=u32} at {=usize:#x} (SYS_REV_CTRL {=u32:#x})",
            (rev >> 16) & 0xf,
            regs.base(),
            rev
        );
        regs.write32(SYS_PORT_CTRL, PORT_MODE_EXT_GPHY);
        regs.write32(SYS_RBUF_FLUSH_CTRL, 0);
        delay_us(10);
        // MAC off, then a soft reset with local loopback for a stable receive clock.
        regs.write32(UMAC_CMD, 0);
        regs.write32(UMAC_CMD, CMD_SW_RESET | CMD_LCL_LOOP_EN);

        let mut g = Self {
            regs,
            phy,
            phy_id: 0,
            mode,
            mac,
            rx: RxRing::new(RING_DESCS, 0),
            tx: TxRing::new(RING_DESCS, 0),
            rx_bufs: DmaBuf::new(RING_DESCS as usize * BUF_LEN).ok_or(GenetError::NoMemory)?,
            tx_bufs: DmaBuf::new(RING_DESCS as usize * BUF_LEN).ok_or(GenetError::NoMemory)?,
        };
        let id = phy::phy_id(g.mdio_read(phy::PHYSID1)?, g.mdio_read(phy::PHYSID2)?);
        defmt::info!("genet: PHY at MDIO {=u8}: id {=u32:#010x}", phy, id);
        g.phy_id = id;
        if phy::id_absent(id) {
            return Err(GenetError::PhyId { id });
        }
        if !phy::is_bcm54213pe(id) {
            // Some Pi 400 / CM4 carriers have another PHY; drive it as a generic
            // Clause 22 PHY, as U-Boot does for every PHY it has no entry for.
            defmt::warn!(
                "genet: PHY id {=u32:#010x} is not a BCM54213PE; treating it as a generic PHY",
                id
            );
        }
        g.phy_start()?;
        g.mac_start();
        Ok(g)
    }

    /// The PHY's identifier (PHYSID1:PHYSID2).
    pub fn phy_id(&self) -> u32 {
        self.phy_id
    }

    /// The MAC address programmed.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mdio_wait(&self) -> Result<u32, GenetError> {
        // MDIO at ~2.5 MHz: a transaction takes ~30 us; allow 2 ms.
        for _ in 0..200 {
            let v = self.regs.read32(MDIO_CMD);
            if v & phy::MDIO_START_BUSY == 0 {
                return Ok(v);
            }
            delay_us(10);
        }
        Err(GenetError::Mdio)
    }

    fn mdio_read(&self, reg: u8) -> Result<u16, GenetError> {
        self.regs
            .write32(MDIO_CMD, phy::mdio_read_cmd(self.phy, reg));
        self.regs.write32(
            MDIO_CMD,
            phy::mdio_read_cmd(self.phy, reg) | phy::MDIO_START_BUSY,
        );
        phy::mdio_read_result(self.mdio_wait()?).ok_or(GenetError::Mdio)
    }

    fn mdio_write(&self, reg: u8, value: u16) -> Result<(), GenetError> {
        self.regs
            .write32(MDIO_CMD, phy::mdio_write_cmd(self.phy, reg, value));
        self.regs.write32(
            MDIO_CMD,
            phy::mdio_write_cmd(self.phy, reg, value) | phy::MDIO_START_BUSY,
        );
        self.mdio_wait().map(|_| ())
    }

    /// PHY software reset (bounded 500 ms), advertise everything, restart auto-negotiation.
    fn phy_start(&self) -> Result<(), GenetError> {
        self.mdio_write(phy::BMCR, phy::BMCR_RESET)?;
        let mut cleared = false;
        for _ in 0..500 {
            if self.mdio_read(phy::BMCR)? & phy::BMCR_RESET == 0 {
                cleared = true;
                break;
            }
            delay_us(1000);
        }
        if !cleared {
            return Err(GenetError::PhyReset);
        }
        self.mdio_write(phy::ANAR, phy::ANAR_ALL)?;
        self.mdio_write(phy::CTRL1000, phy::CTRL1000_ALL)?;
        self.mdio_write(phy::BMCR, phy::BMCR_ANEG_RESTART)
    }

    fn phy_status(&self) -> Result<PhyStatus, GenetError> {
        // BMSR latches link-down: the second read is the current state.
        let _ = self.mdio_read(phy::BMSR)?;
        Ok(PhyStatus {
            bmsr: self.mdio_read(phy::BMSR)?,
            ctrl1000: self.mdio_read(phy::CTRL1000)?,
            stat1000: self.mdio_read(phy::STAT1000)?,
            anar: self.mdio_read(phy::ANAR)?,
            anlpar: self.mdio_read(phy::ANLPAR)?,
        })
    }

    /// MAC reset, address, rings, DMA on (the MAC's receiver and transmitter
    /// stay off until the link is up).
    fn mac_start(&mut self) {
        let r = self.regs;
        let set = |off: usize, bits: u32| r.write32(off, r.read32(off) | bits);
        let clear = |off: usize, bits: u32| r.write32(off, r.read32(off) & !bits);

        set(SYS_RBUF_FLUSH_CTRL, 1 << 1);
        delay_us(10);
        clear(SYS_RBUF_FLUSH_CTRL, 1 << 1);
        delay_us(10);
        r.write32(SYS_RBUF_FLUSH_CTRL, 0);
        delay_us(10);
        r.write32(UMAC_CMD, 0);
        r.write32(UMAC_CMD, CMD_SW_RESET | CMD_LCL_LOOP_EN);
        delay_us(2);
        r.write32(UMAC_CMD, 0);
        r.write32(UMAC_MIB_CTRL, MIB_RESET_ALL);
        r.write32(UMAC_MIB_CTRL, 0);
        r.write32(UMAC_MAX_FRAME_LEN, MAX_FRAME_LEN);
        set(RBUF_CTRL, RBUF_ALIGN_2B);
        r.write32(RBUF_TBUF_SIZE_CTRL, 1);

        let m = self.mac;
        r.write32(UMAC_MAC0, u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        r.write32(UMAC_MAC1, (u32::from(m[4]) << 8) | u32::from(m[5]));

        // DMA off, transmit FIFO flushed.
        clear(TDMA_REGS + DMA_CTRL, DMA_EN);
        clear(RDMA_REGS + DMA_CTRL, DMA_EN);
        r.write32(UMAC_TX_FLUSH, 1);
        delay_us(10);
        r.write32(UMAC_TX_FLUSH, 0);

        let ring_size = (RING_DESCS << 16) | BUF_LEN as u32;

        // Receive ring: the producer counter cannot be reset, so the consumer follows it.
        ring_window(&r, RDMA_REGS, RDMA_RING);
        let prod = r.read32(RDMA_RING + RING_HW_INDEX);
        self.rx = RxRing::new(RING_DESCS, prod);
        r.write32(RDMA_RING + RING_SW_INDEX, self.rx.consumer());
        r.write32(RDMA_RING + RING_BUF_SIZE, ring_size);
        r.write32(RDMA_RING + RING_FLOW, RX_FLOW_THRESH);
        r.write32(RDMA_REGS + DMA_RING_CFG, 1 << DEFAULT_Q);
        // Receive descriptors: every buffer owned by the hardware, no cached line over them.
        dcache_clean_invalidate(self.rx_bufs.addr(), self.rx_bufs.len());
        for i in 0..RING_DESCS as usize {
            let a = (self.rx_bufs.addr() + i * BUF_LEN) as u64;
            let d = RX_DESC_BASE + i * DESC_SIZE;
            r.write32(d + DESC_ADDR_LO, a as u32);
            r.write32(d + DESC_ADDR_HI, (a >> 32) as u32);
            r.write32(d + DESC_LEN_STATUS, ring::rx_free_word(BUF_LEN));
        }

        // Transmit ring: the producer follows the hardware's consumer counter.
        ring_window(&r, TDMA_REGS, TDMA_RING);
        let cons = r.read32(TDMA_RING + RING_HW_INDEX);
        self.tx = TxRing::new(RING_DESCS, cons);
        r.write32(TDMA_RING + RING_SW_INDEX, cons & ring::INDEX_MASK);
        r.write32(TDMA_RING + RING_MBUF_DONE_THRESH, 1);
        r.write32(TDMA_RING + RING_FLOW, 0);
        r.write32(TDMA_RING + RING_BUF_SIZE, ring_size);
        r.write32(TDMA_REGS + DMA_RING_CFG, 1 << DEFAULT_Q);

        // DMA on for queue 16.
        let ctrl = (1 << (DEFAULT_Q + 1)) | DMA_EN;
        r.write32(TDMA_REGS + DMA_CTRL, ctrl);
        set(RDMA_REGS + DMA_CTRL, ctrl);
    }

    /// Programs the MAC for a negotiated link and turns receive/transmit on.
    fn link_up(&self, l: phy::Link) {
        let r = self.regs;
        let mut oob = r.read32(EXT_RGMII_OOB_CTRL) & !OOB_DISABLE;
        oob |= RGMII_LINK | RGMII_MODE_EN;
        if self.mode.mac_id_mode_disabled() {
            oob |= ID_MODE_DIS;
        }
        r.write32(EXT_RGMII_OOB_CTRL, oob);
        r.write32(UMAC_CMD, phy::umac_speed(l.mbps) << CMD_SPEED_SHIFT);
        r.write32(UMAC_CMD, r.read32(UMAC_CMD) | CMD_TX_EN | CMD_RX_EN);
    }

    fn link_down(&self) {
        let r = self.regs;
        r.write32(UMAC_CMD, r.read32(UMAC_CMD) & !(CMD_TX_EN | CMD_RX_EN));
    }

    /// Moves received frames into the channel; true if any descriptor was handled.
    fn service_rx(&mut self, runner: &mut ch::RxRunner<'static, MTU>) -> bool {
        let mut any = false;
        for _ in 0..RING_DESCS {
            let prod = self.regs.read32(RDMA_RING + RING_HW_INDEX);
            let slot = match self.rx.poll(prod) {
                RxPoll::Empty => break,
                RxPoll::Ready(s) => s,
                RxPoll::Overrun(n) => {
                    defmt::warn!(
                        "genet: receive producer {=u32} ahead by {=u32}; resynchronising",
                        prod,
                        n
                    );
                    let c = self.rx.resync(prod);
                    self.regs.write32(RDMA_RING + RING_SW_INDEX, c);
                    return true;
                }
            };
            any = true;
            let word = self
                .regs
                .read32(RX_DESC_BASE + slot * DESC_SIZE + DESC_LEN_STATUS);
            match ring::rx_frame(word, BUF_LEN) {
                RxFrame::Frame { len } => {
                    let start = self.rx_bufs.addr() + slot * BUF_LEN;
                    dcache_invalidate(start, BUF_LEN);
                    let frame = &self.rx_bufs.as_slice()[slot * BUF_LEN + ring::RX_PAD..][..len];
                    if let Some(buf) = runner.try_rx_buf() {
                        let n = len.min(buf.len());
                        buf[..n].copy_from_slice(&frame[..n]);
                        runner.rx_done(n);
                    }
                }
                RxFrame::Bad(w) => {
                    defmt::debug!(
                        "genet: receive descriptor {=usize} dropped, status {=u32:#x}",
                        slot,
                        w
                    )
                }
            }
            let c = self.rx.advance();
            self.regs.write32(RDMA_RING + RING_SW_INDEX, c);
        }
        any
    }

    /// Sends frames from the channel while descriptors are free; true if any was sent.
    fn service_tx(&mut self, runner: &mut ch::TxRunner<'static, MTU>) -> bool {
        let mut any = false;
        loop {
            let cons = self.regs.read32(TDMA_RING + RING_HW_INDEX);
            let Some(slot) = self.tx.next_slot(cons) else {
                break;
            };
            let Some(frame) = runner.try_tx_buf() else {
                break;
            };
            let len = frame.len().min(MTU);
            let off = slot * BUF_LEN;
            let buf = &mut self.tx_bufs.as_mut_slice()[off..off + BUF_LEN];
            buf[..len].copy_from_slice(&frame[..len]);
            // Short frames are zero-padded to the Ethernet minimum.
            let sent = len.max(ring::MIN_FRAME);
            buf[len..sent].fill(0);
            runner.tx_done();
            let addr = self.tx_bufs.addr() + off;
            dcache_clean(addr, sent);
            let d = TX_DESC_BASE + slot * DESC_SIZE;
            self.regs.write32(d + DESC_ADDR_LO, addr as u32);
            self.regs
                .write32(d + DESC_ADDR_HI, (addr as u64 >> 32) as u32);
            self.regs.write32(d + DESC_LEN_STATUS, ring::tx_word(sent));
            let p = self.tx.push();
            self.regs.write32(TDMA_RING + RING_SW_INDEX, p);
            any = true;
        }
        any
    }

    /// Services the NIC forever: rings every 250 us when idle, the PHY every
    /// 500 ms; link changes go to the channel, the log and the status screen.
    pub async fn run(mut self, runner: NetRunner) {
        let (state, mut rx, mut tx) = runner.split();
        state.set_hardware_address(HardwareAddress::Ethernet(self.mac));
        let mut monitor = LinkMonitor::default();
        let started = Instant::now();
        let mut next_phy = started;
        let mut reported_no_link = false;
        loop {
            let now = Instant::now();
            if now >= next_phy {
                next_phy = now + PHY_POLL;
                match self.phy_status() {
                    Ok(s) => match monitor.update(s) {
                        Some(LinkEvent::Up(l)) => {
                            self.link_up(l);
                            state.set_link_state(LinkState::Up);
                            bringup::report(
                                "Ethernet",
                                Outcome::Ok,
                                format!(
                                    "GENET link up, {} Mb/s {} duplex",
                                    l.mbps,
                                    if l.full_duplex { "full" } else { "half" }
                                ),
                                "",
                            );
                        }
                        Some(LinkEvent::Down) => {
                            self.link_down();
                            state.set_link_state(LinkState::Down);
                            bringup::report(
                                "Ethernet",
                                Outcome::Failed,
                                String::from("GENET link down"),
                                "the Ethernet cable and the switch port",
                            );
                        }
                        None => {}
                    },
                    Err(e) => defmt::warn!("genet: PHY poll failed: {}", e),
                }
                if monitor.link().is_none()
                    && !reported_no_link
                    && now - started >= LINK_REPORT_AFTER
                {
                    reported_no_link = true;
                    bringup::report(
                        "Ethernet",
                        Outcome::Failed,
                        format!("no GENET link after {} s", LINK_REPORT_AFTER.as_secs()),
                        "the Ethernet cable and the switch port (LEDs on the jack)",
                    );
                }
            }
            let busy =
                monitor.link().is_some() && (self.service_rx(&mut rx) | self.service_tx(&mut tx));
            if busy {
                embassy_futures::yield_now().await;
            } else {
                Timer::after(IDLE_POLL).await;
            }
        }
    }
}

/// Burst size, and the ring's place in the descriptor table (its first
/// `RING_DESCS` descriptors) with both pointers at its start.
fn ring_window(r: &Mmio, dma: usize, ring: usize) {
    r.write32(dma + DMA_SCB_BURST_SIZE, DMA_MAX_BURST);
    r.write32(ring + RING_START_ADDR, 0);
    r.write32(ring + RING_HW_PTR, 0);
    r.write32(ring + RING_SW_PTR, 0);
    // The end address counts 32-bit words, inclusive.
    r.write32(ring + RING_END_ADDR, RING_DESCS * DESC_SIZE as u32 / 4 - 1);
}

/// Splits `state` into the GENET runner and the embassy-net device.
pub fn channel(state: &'static mut NetState, mac: [u8; 6]) -> (NetRunner, NetDevice) {
    ch::new(state, HardwareAddress::Ethernet(mac))
}
