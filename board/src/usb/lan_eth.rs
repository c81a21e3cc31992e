//! SMSC LAN95xx (`smsc95xx`, the Pi 3B's LAN9514) and Microchip LAN78xx
//! (`lan78xx`, the Pi 3B+'s LAN7515) USB Ethernet class drivers.
//!
//! Owns: recognising the chips (vendor/product, then ID_REV), their bring-up
//! through vendor register requests (reset, MAC address, FIFOs and burst
//! size, receive filter, PHY reset and auto-negotiation), and moving frames
//! between the bulk endpoints and the embassy-net channel
//! ([`super::net_channel`]) with the chips' command/status words
//! ([`super::lan_frame`]). The MAC address comes from the firmware (the
//! mailbox's board MAC, handed over with [`super::net_channel::set_board_mac`]),
//! else from the chip's EEPROM-loaded address registers.
//!
//! Must not: parse Ethernet frames (embassy-net does), or block the USB task
//! for long: the bring-up waits at most [`LINK_WAIT`] for the PHY's link.
//!
//! References read (nothing copied): U-Boot `drivers/usb/eth/smsc95xx.c`
//! (`smsc95xx_init`: lite reset, PHY reset, MAC registers, BIR, burst cap and
//! bulk-in delay, MEF/BCE, AFC, VLAN1, checksum offload off, PHY
//! auto-negotiation, TX_CFG, MAC_CR TXEN/RXEN); U-Boot
//! `drivers/usb/eth/lan78xx.c`/`lan7x.c` and Circle `lib/usb/lan7800.cpp`
//! (lite reset, RX_ADDR and perfect filter 0, BURST_CAP/BULK_IN_DLY, USB_CFG0
//! BCE/BIR, FIFO ends, RFE broadcast + perfect DA, PMT PHY reset and READY,
//! MAC_CR auto speed/duplex, MAC_TX/FCT_TX, MAC_RX max size/FCT_RX); Circle
//! `lib/usb/smsc951x.cpp` (MAC from the property mailbox).
//!
//! Link tracking: the bring-up waits up to [`LINK_WAIT`] for a link, then the
//! PHY is polled every [`mii::POLL_MS`] through the MII registers (BMSR, and
//! ANAR/ANLPAR plus, on the LAN78xx, CTRL1000/STAT1000 as it comes up), from
//! the USB task's [`ClassDriver::maintain`]; changes go to embassy-net's link
//! state, the log (`eth: link up 100 Mbit/s full`, `eth: link down`) and the
//! status screen (Ethernet part: link down, check the cable). References for
//! that: Circle `lib/usb/lan7800.cpp` and `smsc951x.cpp` (`IsLinkUp` reads
//! the PHY's BMSR on request, no interrupt endpoint), U-Boot
//! `smsc95xx.c`/`lan7x.c` (`*_read_mii_word`, link from BMSR) and Linux
//! `drivers/net/usb/smsc95xx.c`/`lan78xx.c` (which use the interrupt endpoint's
//! PHY_INT status bit instead; polling saves that endpoint's host channel).
//! Deliberate difference: the interrupt endpoint is not opened.
//!
//! Status: written to the references, not yet run on hardware (QEMU models
//! neither chip).

use super::bus::{Bus, ClassDriver, ClassEntry, Context, Pipe};
use super::controller::BoxFut;
use super::controller::{Device, HostController, PipeId};
use super::desc::{self, DeviceDescriptor, Setup};
use super::lan_frame::{self, Chip, RxFrame, TX_HEADER};
use super::net_channel::{board_mac, NetRunner, MTU};
use super::{Direction, EndpointKind, UsbError};
use crate::bringup::{self, Outcome};
use crate::mii::{self, LinkEvent, LinkPoll, PhyStatus, PollStep};
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use embassy_net_driver::{HardwareAddress, LinkState};
use embassy_time::{Duration, Instant, Timer};

/// Longest the bring-up waits for the PHY to report a link.
pub const LINK_WAIT: Duration = Duration::from_millis(3000);
/// Bytes asked for per bulk IN transfer (several frames in multi-frame mode).
const RX_REQUEST: usize = 8192;
const VENDOR_SMSC: u16 = 0x0424;
const REQ_WRITE_REGISTER: u8 = 0xa0;
const REQ_READ_REGISTER: u8 = 0xa1;
const RT_VENDOR_DEVICE: u8 = 0x40;
/// The on-chip PHY's MDIO address on both chips.
const PHY: u8 = 1;

// Registers both chips have at the same place.
const ID_REV: u16 = 0x000;
const MAC_CR: u16 = 0x100;
/// 10/100 half/full, CSMA, symmetric and asymmetric pause.
const ANAR_ALL_PAUSE: u16 = mii::ANAR_ALL | 0x0400 | 0x0800;
/// What the status screen asks a person to check when the link is down.
const CHECK_LINK: &str = "the Ethernet cable and the switch port";

mod smsc {
    pub const INT_STS: u16 = 0x08;
    pub const TX_CFG: u16 = 0x10;
    pub const TX_CFG_ON: u32 = 0x4;
    pub const HW_CFG: u16 = 0x14;
    pub const HW_CFG_BCE: u32 = 0x2;
    pub const HW_CFG_LRST: u32 = 0x8;
    pub const HW_CFG_MEF: u32 = 0x20;
    pub const HW_CFG_RXDOFF: u32 = 0x600;
    pub const HW_CFG_BIR: u32 = 0x1000;
    pub const PM_CTRL: u16 = 0x20;
    pub const PM_CTL_PHY_RST: u32 = 0x10;
    pub const AFC_CFG: u16 = 0x2c;
    /// Flow-control watermarks and back-pressure time, the references' default.
    pub const AFC_CFG_DEFAULT: u32 = 0x00f8_30a1;
    pub const BURST_CAP: u16 = 0x38;
    pub const BULK_IN_DLY: u16 = 0x6c;
    pub const BULK_IN_DLY_DEFAULT: u32 = 0x2000;
    pub const MAC_CR_RXEN: u32 = 0x4;
    pub const MAC_CR_TXEN: u32 = 0x8;
    pub const MAC_CR_HPFILT: u32 = 0x2000;
    pub const MAC_CR_PRMS: u32 = 0x4_0000;
    pub const MAC_CR_MCPAS: u32 = 0x8_0000;
    pub const ADDRH: u16 = 0x104;
    pub const ADDRL: u16 = 0x108;
    pub const MII_ADDR: u16 = 0x114;
    pub const MII_DATA: u16 = 0x118;
    pub const FLOW: u16 = 0x11c;
    pub const VLAN1: u16 = 0x120;
    pub const COE_CR: u16 = 0x130;
    pub const COE_TX_RX: u32 = 0x1_0001;
    pub const PRODUCTS: &[u16] = &[0xec00, 0x9500, 0x9505, 0x9e00, 0x9e01];
}

mod lan {
    pub const INT_STS: u16 = 0x00c;
    pub const HW_CFG: u16 = 0x010;
    pub const HW_CFG_LRST: u32 = 0x2;
    pub const HW_CFG_MEF: u32 = 0x10;
    pub const HW_CFG_LED01: u32 = 0x0030_0000;
    pub const PMT_CTL: u16 = 0x014;
    pub const PMT_CTL_PHY_RST: u32 = 0x10;
    pub const PMT_CTL_READY: u32 = 0x80;
    pub const USB_CFG0: u16 = 0x080;
    pub const USB_CFG_BCE: u32 = 0x20;
    pub const USB_CFG_BIR: u32 = 0x40;
    pub const BURST_CAP: u16 = 0x090;
    pub const BULK_IN_DLY: u16 = 0x094;
    pub const BULK_IN_DLY_DEFAULT: u32 = 0x800;
    pub const INT_EP_CTL: u16 = 0x098;
    pub const RFE_CTL: u16 = 0x0b0;
    pub const RFE_CTL_BCAST_DA_PERFECT: u32 = 0x400 | 0x2;
    pub const FCT_RX_CTL: u16 = 0x0c0;
    pub const FCT_TX_CTL: u16 = 0x0c4;
    pub const FCT_EN: u32 = 1 << 31;
    pub const FCT_RX_FIFO_END: u16 = 0x0c8;
    pub const FCT_TX_FIFO_END: u16 = 0x0cc;
    /// (12 KiB - 512) / 512: the FIFO sizes the references use.
    pub const FIFO_END: u32 = 23;
    pub const FCT_FLOW: u16 = 0x0d0;
    pub const MAC_CR_AUTO_SPEED_DUPLEX: u32 = 0x800 | 0x1000;
    pub const MAC_RX: u16 = 0x104;
    pub const MAC_RX_RXEN: u32 = 0x1;
    pub const MAC_RX_MAX_SIZE_MASK: u32 = 0x3fff_0000;
    /// 2 addresses, type, 1500 bytes, FCS.
    pub const MAX_FRAME: u32 = 1518;
    pub const MAC_TX: u16 = 0x108;
    pub const MAC_TX_TXEN: u32 = 0x1;
    pub const FLOW: u16 = 0x10c;
    pub const RX_ADDRH: u16 = 0x118;
    pub const RX_ADDRL: u16 = 0x11c;
    pub const MII_ACC: u16 = 0x120;
    pub const MII_DATA: u16 = 0x124;
    pub const MAF_HI0: u16 = 0x400;
    pub const MAF_LO0: u16 = 0x404;
    pub const MAF_HI_VALID: u32 = 1 << 31;
    pub const PRODUCTS: &[u16] = &[0x7800, 0x7850];
}

/// The `smsc95xx` driver's entry in [`super::classes::CLASSES`].
pub const SMSC95XX_CLASS: ClassEntry = ClassEntry {
    name: "smsc95xx",
    matches: |d, _| chip_of(d) == Some(Chip::Smsc95xx),
    probe: |bus, dev, config| Box::pin(probe(bus, dev, config, Chip::Smsc95xx)),
};

/// The `lan78xx` driver's entry in [`super::classes::CLASSES`].
pub const LAN78XX_CLASS: ClassEntry = ClassEntry {
    name: "lan78xx",
    matches: |d, _| chip_of(d) == Some(Chip::Lan78xx),
    probe: |bus, dev, config| Box::pin(probe(bus, dev, config, Chip::Lan78xx)),
};

/// Which chip a device descriptor names, if either.
pub fn chip_of(d: &DeviceDescriptor) -> Option<Chip> {
    if d.vendor != VENDOR_SMSC {
        return None;
    }
    if smsc::PRODUCTS.contains(&d.product) {
        Some(Chip::Smsc95xx)
    } else if lan::PRODUCTS.contains(&d.product) {
        Some(Chip::Lan78xx)
    } else {
        None
    }
}

fn name(chip: Chip) -> &'static str {
    match chip {
        Chip::Smsc95xx => "smsc95xx",
        Chip::Lan78xx => "lan78xx",
    }
}

/// Vendor register access over endpoint 0.
struct Regs<'a> {
    bus: &'a mut Bus,
    dev: &'a Device,
    chip: Chip,
}

impl Regs<'_> {
    async fn read(&mut self, reg: u16) -> Result<u32, UsbError> {
        let setup = Setup {
            request_type: desc::RT_IN | RT_VENDOR_DEVICE,
            request: REQ_READ_REGISTER,
            value: 0,
            index: reg,
            length: 4,
        };
        let mut b = [0u8; 4];
        let n = self.bus.control_in(self.dev, setup, &mut b).await?;
        if n != 4 {
            return Err(UsbError::BadDescriptor);
        }
        Ok(u32::from_le_bytes(b))
    }

    async fn write(&mut self, reg: u16, v: u32) -> Result<(), UsbError> {
        let setup = Setup {
            request_type: RT_VENDOR_DEVICE,
            request: REQ_WRITE_REGISTER,
            value: 0,
            index: reg,
            length: 4,
        };
        self.bus
            .control_out(self.dev, setup, &v.to_le_bytes())
            .await
    }

    /// Read, clear `clear`, set `set`, write back.
    async fn modify(&mut self, reg: u16, clear: u32, set: u32) -> Result<(), UsbError> {
        let v = self.read(reg).await?;
        self.write(reg, (v & !clear) | set).await
    }

    /// Polls `reg` until `reg & mask == want`, every 10 ms for up to `ms`.
    async fn wait(
        &mut self,
        reg: u16,
        mask: u32,
        want: u32,
        ms: u64,
        what: &str,
    ) -> Result<(), UsbError> {
        let end = Instant::now() + Duration::from_millis(ms);
        loop {
            let v = self.read(reg).await?;
            if v & mask == want {
                return Ok(());
            }
            if Instant::now() > end {
                defmt::warn!(
                    "usb: {=str} {=str} timed out (register {=u16:x} = {=u32:x})",
                    name(self.chip),
                    what,
                    reg,
                    v
                );
                return Err(UsbError::Timeout);
            }
            Timer::after_millis(10).await;
        }
    }

    fn mii_regs(&self) -> (u16, u16) {
        match self.chip {
            Chip::Smsc95xx => (smsc::MII_ADDR, smsc::MII_DATA),
            Chip::Lan78xx => (lan::MII_ACC, lan::MII_DATA),
        }
    }

    async fn phy_read(&mut self, reg: u8) -> Result<u16, UsbError> {
        let (acc, data) = self.mii_regs();
        self.wait(acc, lan_frame::MII_BUSY, 0, 100, "MII idle")
            .await?;
        self.write(acc, lan_frame::mii_access(PHY, reg, false))
            .await?;
        self.wait(acc, lan_frame::MII_BUSY, 0, 100, "MII read")
            .await?;
        Ok(self.read(data).await? as u16)
    }

    async fn phy_write(&mut self, reg: u8, v: u16) -> Result<(), UsbError> {
        let (acc, data) = self.mii_regs();
        self.wait(acc, lan_frame::MII_BUSY, 0, 100, "MII idle")
            .await?;
        self.write(data, v.into()).await?;
        self.write(acc, lan_frame::mii_access(PHY, reg, true))
            .await?;
        self.wait(acc, lan_frame::MII_BUSY, 0, 100, "MII write")
            .await
    }

    /// The MAC to use: the firmware's, else what the chip loaded from EEPROM.
    async fn mac(&mut self, lo: u16, hi: u16) -> Result<[u8; 6], UsbError> {
        if let Some(m) = board_mac().filter(lan_frame::mac_valid) {
            defmt::info!(
                "usb: {=str} MAC {=[u8]:02x} from the firmware",
                name(self.chip),
                m
            );
            return Ok(m);
        }
        let m = lan_frame::mac_from_regs(self.read(lo).await?, self.read(hi).await?);
        if lan_frame::mac_valid(&m) {
            defmt::info!(
                "usb: {=str} MAC {=[u8]:02x} from the chip (EEPROM)",
                name(self.chip),
                m
            );
            return Ok(m);
        }
        defmt::error!(
            "usb: {=str}: no MAC address (firmware mailbox and EEPROM both empty)",
            name(self.chip)
        );
        Err(UsbError::BadDescriptor)
    }

    /// PHY reset to auto-negotiation of everything 10/100 with pause.
    async fn phy_autoneg(&mut self) -> Result<(), UsbError> {
        self.phy_write(mii::BMCR, mii::BMCR_RESET).await?;
        Timer::after_millis(10).await;
        self.phy_write(mii::ANAR, ANAR_ALL_PAUSE).await?;
        let bmcr = self.phy_read(mii::BMCR).await?;
        self.phy_write(mii::BMCR, bmcr | mii::BMCR_ANEG_RESTART)
            .await
    }

    /// Waits up to [`LINK_WAIT`] for the PHY to report a negotiated link.
    async fn wait_link(&mut self) -> Result<(), UsbError> {
        let end = Instant::now() + LINK_WAIT;
        loop {
            let bmsr = self.phy_read(mii::BMSR).await?;
            if LinkPoll::link_ok(bmsr) || Instant::now() > end {
                return Ok(());
            }
            Timer::after_millis(100).await;
        }
    }

    /// One link poll: BMSR as often as `poll` says (the last read counts),
    /// then, for a link coming up, what both ends advertised. The LAN9514's
    /// PHY is 10/100 only: its gigabit registers are not read. While the link
    /// stays up a poll is one BMSR read (four control transfers).
    async fn poll_phy(&mut self, poll: &mut LinkPoll) -> Result<Option<LinkEvent>, UsbError> {
        let mut bmsr = 0;
        for _ in 0..poll.bmsr_reads().max(1) {
            bmsr = self.phy_read(mii::BMSR).await?;
        }
        match poll.on_bmsr(bmsr) {
            PollStep::Done(e) => Ok(e),
            PollStep::ReadAbilities => {
                let mut s = PhyStatus {
                    bmsr,
                    ctrl1000: 0,
                    stat1000: 0,
                    anar: self.phy_read(mii::ANAR).await?,
                    anlpar: self.phy_read(mii::ANLPAR).await?,
                };
                if self.chip == Chip::Lan78xx {
                    s.ctrl1000 = self.phy_read(mii::CTRL1000).await?;
                    s.stat1000 = self.phy_read(mii::STAT1000).await?;
                }
                Ok(poll.update(s))
            }
        }
    }

    async fn init_smsc(&mut self, rx_packet: usize) -> Result<[u8; 6], UsbError> {
        use smsc::*;
        self.write(HW_CFG, HW_CFG_LRST).await?;
        self.wait(HW_CFG, HW_CFG_LRST, 0, 1000, "lite reset")
            .await?;
        self.write(PM_CTRL, PM_CTL_PHY_RST).await?;
        self.wait(PM_CTRL, PM_CTL_PHY_RST, 0, 1000, "PHY reset")
            .await?;
        let mac = self.mac(ADDRL, ADDRH).await?;
        let (lo, hi) = lan_frame::mac_regs(&mac);
        self.write(ADDRL, lo).await?;
        self.write(ADDRH, hi).await?;
        self.modify(HW_CFG, 0, HW_CFG_BIR).await?;
        self.write(BURST_CAP, (RX_REQUEST / rx_packet.max(1)) as u32)
            .await?;
        self.write(BULK_IN_DLY, BULK_IN_DLY_DEFAULT).await?;
        // Several frames per bulk transfer, up to the burst cap; no offset
        // in front of a received frame.
        self.modify(HW_CFG, HW_CFG_RXDOFF, HW_CFG_MEF | HW_CFG_BCE)
            .await?;
        self.write(INT_STS, u32::MAX).await?;
        self.write(FLOW, 0).await?;
        self.write(AFC_CFG, AFC_CFG_DEFAULT).await?;
        self.write(VLAN1, 0x8100).await?;
        self.modify(COE_CR, COE_TX_RX, 0).await?;
        self.modify(MAC_CR, MAC_CR_PRMS | MAC_CR_MCPAS | MAC_CR_HPFILT, 0)
            .await?;
        self.phy_autoneg().await?;
        self.modify(MAC_CR, 0, MAC_CR_TXEN).await?;
        self.write(TX_CFG, TX_CFG_ON).await?;
        self.modify(MAC_CR, 0, MAC_CR_RXEN).await?;
        Ok(mac)
    }

    async fn init_lan78xx(&mut self, rx_packet: usize) -> Result<[u8; 6], UsbError> {
        use lan::*;
        self.modify(HW_CFG, 0, HW_CFG_LRST).await?;
        self.wait(HW_CFG, HW_CFG_LRST, 0, 1000, "lite reset")
            .await?;
        let mac = self.mac(RX_ADDRL, RX_ADDRH).await?;
        let (lo, hi) = lan_frame::mac_regs(&mac);
        self.write(RX_ADDRL, lo).await?;
        self.write(RX_ADDRH, hi).await?;
        // Perfect filter entry 0: our own address.
        self.write(MAF_LO0, lo).await?;
        self.write(MAF_HI0, hi | MAF_HI_VALID).await?;
        self.write(BURST_CAP, (RX_REQUEST / rx_packet.max(1)) as u32)
            .await?;
        self.write(BULK_IN_DLY, BULK_IN_DLY_DEFAULT).await?;
        // LEDs on; one frame per transfer (as Circle; the splitter takes both).
        self.modify(HW_CFG, HW_CFG_MEF, HW_CFG_LED01).await?;
        self.modify(USB_CFG0, USB_CFG_BIR, USB_CFG_BCE).await?;
        self.write(FCT_RX_FIFO_END, FIFO_END).await?;
        self.write(FCT_TX_FIFO_END, FIFO_END).await?;
        self.write(INT_EP_CTL, 0).await?;
        self.write(INT_STS, u32::MAX).await?;
        self.write(FLOW, 0).await?;
        self.write(FCT_FLOW, 0).await?;
        self.modify(RFE_CTL, 0, RFE_CTL_BCAST_DA_PERFECT).await?;
        self.modify(PMT_CTL, 0, PMT_CTL_PHY_RST).await?;
        self.wait(
            PMT_CTL,
            PMT_CTL_PHY_RST | PMT_CTL_READY,
            PMT_CTL_READY,
            1000,
            "PHY reset",
        )
        .await?;
        self.modify(MAC_CR, 0, MAC_CR_AUTO_SPEED_DUPLEX).await?;
        self.modify(MAC_TX, 0, MAC_TX_TXEN).await?;
        self.modify(FCT_TX_CTL, 0, FCT_EN).await?;
        self.modify(
            MAC_RX,
            MAC_RX_MAX_SIZE_MASK,
            (MAX_FRAME << 16) | MAC_RX_RXEN,
        )
        .await?;
        self.modify(FCT_RX_CTL, 0, FCT_EN).await?;
        self.phy_autoneg().await?;
        Ok(mac)
    }
}

async fn probe(
    bus: &mut Bus,
    dev: &Device,
    config: &[u8],
    chip: Chip,
) -> Result<Vec<Box<dyn ClassDriver>>, UsbError> {
    let Some(iface) =
        desc::interfaces(config).find(|i| i.desc.alternate == 0 && i.desc.endpoints >= 2)
    else {
        return Ok(Vec::new());
    };
    if bus.net.is_none() {
        defmt::info!(
            "usb: {=str} at {} not used: another adapter has the network",
            name(chip),
            dev.address
        );
        return Ok(Vec::new());
    }
    let ep_in = iface
        .find_endpoint(Direction::In, EndpointKind::Bulk)
        .ok_or(UsbError::BadDescriptor)?;
    let ep_out = iface
        .find_endpoint(Direction::Out, EndpointKind::Bulk)
        .ok_or(UsbError::BadDescriptor)?;

    let mut regs = Regs { bus, dev, chip };
    let (id, rev) = Chip::id_rev(regs.read(ID_REV).await?);
    defmt::info!(
        "usb: {=str} at {}: chip ID {=u16:x} revision {=u16:x}",
        name(chip),
        dev.address,
        id,
        rev
    );
    if !chip.accepts(id) {
        defmt::warn!(
            "usb: {=str}: chip ID {=u16:x} is not one this driver knows; not bound",
            name(chip),
            id
        );
        return Ok(Vec::new());
    }
    let mps = usize::from(ep_in.max_packet).max(1);
    let mac = match chip {
        Chip::Smsc95xx => regs.init_smsc(mps).await?,
        Chip::Lan78xx => regs.init_lan78xx(mps).await?,
    };
    regs.wait_link().await?;
    let mut link_poll = LinkPoll::new();
    let _ = link_poll.due(Instant::now().as_millis());
    let first = regs.poll_phy(&mut link_poll).await?;

    let rx = Pipe::open(bus, dev, &ep_in, RX_REQUEST.div_ceil(mps) * mps).await?;
    let tx = Pipe::open(bus, dev, &ep_out, MTU + TX_HEADER).await?;
    let Some(mut runner) = bus.net.take() else {
        return Ok(Vec::new());
    };
    runner.set_hardware_address(HardwareAddress::Ethernet(mac));
    defmt::info!(
        "usb: {=str} ethernet at {}, MAC {=[u8]:02x}",
        name(chip),
        dev.address,
        mac
    );
    let tx_frame = Vec::with_capacity(MTU + TX_HEADER);
    let mut eth = LanEth {
        chip,
        dev: *dev,
        rx,
        tx,
        runner,
        tx_frame,
        zlp_pending: false,
        link_poll,
    };
    // Down at first (embassy-net's default): report the bring-up's reading
    // either way, so a missing cable is on the status screen at once.
    eth.link_changed(first.unwrap_or(LinkEvent::Down));
    Ok(alloc::vec![Box::new(eth) as Box<dyn ClassDriver>])
}

/// A bound LAN95xx/LAN78xx.
struct LanEth {
    chip: Chip,
    dev: Device,
    rx: Pipe,
    tx: Pipe,
    runner: NetRunner,
    tx_frame: Vec<u8>,
    zlp_pending: bool,
    link_poll: LinkPoll,
}

impl LanEth {
    /// Tells embassy-net, the log and the status screen about a link change.
    fn link_changed(&mut self, e: LinkEvent) {
        match e {
            LinkEvent::Up(l) => {
                self.runner.set_link_state(LinkState::Up);
                let text = format!("{l}");
                defmt::info!("eth: link up {=str}", text.as_str());
                bringup::report(
                    "Ethernet",
                    Outcome::Ok,
                    format!("{} link up, {text}", name(self.chip)),
                    "",
                );
            }
            LinkEvent::Down => {
                self.runner.set_link_state(LinkState::Down);
                defmt::warn!("eth: link down");
                bringup::report(
                    "Ethernet",
                    Outcome::Failed,
                    format!("{} link down", name(self.chip)),
                    CHECK_LINK,
                );
            }
        }
    }

    /// One link poll (see the module doc).
    async fn poll_link(&mut self, bus: &mut Bus) {
        let mut regs = Regs {
            bus,
            dev: &self.dev,
            chip: self.chip,
        };
        match regs.poll_phy(&mut self.link_poll).await {
            Ok(Some(change)) => self.link_changed(change),
            Ok(None) => {}
            Err(e) => defmt::warn!("eth: {=str} PHY poll failed: {}", name(self.chip), e),
        }
    }

    fn receive(&mut self, n: usize) {
        let data = &self.rx.buf.as_slice()[..n.min(self.rx.buf.len())];
        for f in self.chip.rx_frames(data) {
            match f {
                RxFrame::Frame(frame) if frame.len() <= MTU => {
                    if let Some(buf) = self.runner.try_rx_buf() {
                        let n = frame.len().min(buf.len());
                        buf[..n].copy_from_slice(&frame[..n]);
                        self.runner.rx_done(n);
                    }
                }
                RxFrame::Frame(_) => {}
                RxFrame::Error(status) => defmt::debug!(
                    "usb: {=str} rx error status {=u32:x}",
                    name(self.chip),
                    status
                ),
            }
        }
    }
}

impl ClassDriver for LanEth {
    fn name(&self) -> &'static str {
        name(self.chip)
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn pipes(&self) -> Vec<PipeId> {
        alloc::vec![self.rx.id, self.tx.id]
    }

    fn maintain<'a>(&'a mut self, bus: &'a mut Bus, now: Instant) -> Option<BoxFut<'a, ()>> {
        if !self.link_poll.due(now.as_millis()) {
            return None;
        }
        Some(Box::pin(self.poll_link(bus)))
    }

    fn release_net(mut self: Box<Self>) -> Option<NetRunner> {
        self.runner.set_link_state(LinkState::Down);
        Some(self.runner)
    }

    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>) {
        let rx_len = self.rx.buf.len();
        if let Some(r) = self.rx.poll_in(hc, now, rx_len) {
            match r {
                Ok(n) => {
                    self.receive(n);
                    cx.active = true;
                    let _ = self.rx.poll_in(hc, now, rx_len);
                }
                Err(e) => defmt::debug!("usb: {=str} rx {}", name(self.chip), e),
            }
        }
        if self.tx.busy(hc) {
            if let Some(Err(e)) = self.tx.poll_out(hc) {
                defmt::debug!("usb: {=str} tx {}", name(self.chip), e);
            }
            return;
        }
        if core::mem::take(&mut self.zlp_pending) {
            let _ = self.tx.start_out(hc, &[]);
            return;
        }
        let Some(frame) = self.runner.try_tx_buf() else {
            return;
        };
        let n = frame.len().min(MTU);
        self.tx_frame.clear();
        self.tx_frame.extend_from_slice(&self.chip.tx_header(n));
        self.tx_frame.extend_from_slice(&frame[..n]);
        self.runner.tx_done();
        cx.active = true;
        let mps = usize::from(self.tx.ep.max_packet).max(1);
        match self.tx.start_out(hc, &self.tx_frame) {
            // A transfer of whole packets needs a zero-length packet to end it.
            Ok(()) => self.zlp_pending = self.tx_frame.len().is_multiple_of(mps),
            Err(e) => defmt::debug!("usb: {=str} tx start {}", name(self.chip), e),
        }
    }
}
