//! The BCM2711 ("brcmstb") PCIe root complex of the Raspberry Pi 4: the one
//! PCIe lane that carries the VL805 USB 3 controller.
//!
//! Owns: the bridge's reset and PERST#, link training with a bounded wait, the
//! inbound window (PCIe masters reaching RAM, i.e. DMA address translation),
//! outbound window 0 (the CPU reaching PCIe memory), spread-spectrum clocking
//! over the bridge's internal MDIO, and configuration-space access for bus 0
//! (the root port: the bridge's own registers) and the buses behind it
//! (through the `EXT_CFG_INDEX` / `EXT_CFG_DATA` window). Must not: enumerate
//! or assign BARs beyond what the VL805 needs (the generic PCI layer does), or
//! touch bus 1 while the link is down (that access aborts the CPU).
//!
//! Written to the references, not yet run on hardware. Followed, in this
//! order: U-Boot `drivers/pci/pcie_brcmstb.c` (the bring-up sequence and its
//! delays) with its BCM2711 register header; Circle `lib/bcmpciehostbridge.cpp`
//! (the root port's bridge windows, which U-Boot leaves to its generic PCI
//! auto-configuration); Linux `drivers/pci/controller/pcie-brcmstb.c` (the
//! `RC_BAR2` size encoding and the MISC_CTRL fields). Deliberate differences:
//! - the link wait is the same 100 ms + 100 ms, but a timeout returns the
//!   `PCIE_MISC_PCIE_STATUS` value so the log and the status screen can say
//!   which half (PHY or data link) failed;
//! - the windows come from the device tree's `ranges` / `dma-ranges` when
//!   present, else from the Pi 4 defaults those trees carry (CPU
//!   0x6_0000_0000 -> PCIe 0xc000_0000, 1 GiB out; RAM 1:1 in, 4 GiB);
//! - no generic PCI auto-configuration: [`BrcmPcie::configure_root_port`]
//!   opens the root port for bus 1 and a 1 MiB memory window, as Circle's
//!   `enable_bridge` does (without its cache-line size, parity/SERR and CRS
//!   visibility bits);
//! - CLKREQ#: U-Boot's choice (ASPM not advertised) rather than Circle's
//!   `CLKREQ_DEBUG_ENABLE`; the link generation is limited only when the
//!   device tree says `max-link-speed` (Circle always forces gen 2);
//! - interrupts: U-Boot's MSI_INTR2 mask/clear (Circle masks INTR2_CPU); none
//!   are used.
//!
//! Memory attributes: boot's MMU maps every non-RAM address below 512 GiB as
//! Device-nGnRnE, which covers the register block (0xfd50_0000) and the
//! outbound window (0x6_0000_0000, 24 GiB).

pub mod fields;

use crate::mmio::Mmio;
use crate::usb::dma::DmaHal;
use barespice_boot::cpu::delay_us;
pub use fields::Window;
use fields::{LinkStatus, OutboundFields, WIN_BASE_MASK, WIN_HI_MASK, WIN_LIMIT_MASK};

/// Length of the register block (`PCIE_REG_LIMIT` rounded up).
pub const REGS_LEN: usize = 0x9310;

// Root port registers (bus 0 config space is the start of the block).
const CAP_REGS: usize = 0x00ac;
const LNKCAP: usize = CAP_REGS + 0x0c;
const LNKSTA_DWORD: usize = CAP_REGS + 0x10; // LNKCTL (low) + LNKSTA (high)
const LNKCTL2_DWORD: usize = CAP_REGS + 0x30;
const VENDOR_SPECIFIC_REG1: usize = 0x0188;
const ENDIAN_MODE_BAR2_MASK: u32 = 0xc;
const PRIV1_ID_VAL3: usize = 0x043c;
const CLASS_CODE_MASK: u32 = 0x00ff_ffff;
const CLASS_PCI_BRIDGE: u32 = 0x06_0400;
const PRIV1_LINK_CAPABILITY: usize = 0x04dc;
const ASPM_SUPPORT_MASK: u32 = 0xc00;
const MDIO_ADDR: usize = 0x1100;
const MDIO_WR_DATA: usize = 0x1104;
const MDIO_RD_DATA: usize = 0x1108;
const MDIO_DONE: u32 = 1 << 31;

const MISC_CTRL: usize = 0x4008;
const MISC_CTRL_SCB_ACCESS_EN: u32 = 0x1000;
const MISC_CTRL_CFG_READ_UR_MODE: u32 = 0x2000;
const MISC_CTRL_MAX_BURST_MASK: u32 = 0x30_0000;
const MISC_CTRL_SCB0_SIZE_MASK: u32 = 0xf800_0000;
const MEM_WIN0_LO: usize = 0x400c;
const MEM_WIN0_HI: usize = 0x4010;
const RC_BAR1_CONFIG_LO: usize = 0x402c;
const RC_BAR2_CONFIG_LO: usize = 0x4034;
const RC_BAR2_CONFIG_HI: usize = 0x4038;
const RC_BAR3_CONFIG_LO: usize = 0x403c;
const RC_BAR_SIZE_MASK: u32 = 0x1f;
const MISC_PCIE_STATUS: usize = 0x4068;
const MISC_REVISION: usize = 0x406c;
const MEM_WIN0_BASE_LIMIT: usize = 0x4070;
const MEM_WIN0_BASE_HI: usize = 0x4080;
const MEM_WIN0_LIMIT_HI: usize = 0x4084;
const HARD_DEBUG: usize = 0x4204;
const HARD_DEBUG_SERDES_IDDQ: u32 = 0x0800_0000;
const MSI_INTR2_CLR: usize = 0x4508;
const MSI_INTR2_MASK_SET: usize = 0x4510;
const EXT_CFG_DATA: usize = 0x8000;
const EXT_CFG_INDEX: usize = 0x9000;
const RGR1_SW_INIT_1: usize = 0x9210;
const SW_INIT_PERST: u32 = 0x1;
const SW_INIT_INIT: u32 = 0x2;

// SSC over the bridge's internal MDIO (port 0).
const SSC_REGS_ADDR: u32 = 0x1100;
const MDIO_SET_ADDR: u32 = 0x1f;
const SSC_CNTL: u32 = 0x2;
const SSC_CNTL_OVRD: u32 = 0xc000;
const SSC_STATUS: u32 = 0x1;
const SSC_STATUS_OK: u32 = 0x400 | 0x800; // SSC on, PLL locked

// Standard type-1 (bridge) and type-0 header offsets.
/// Vendor id (low 16) and device id (high 16).
pub const CFG_ID: u16 = 0x00;
/// Command (low 16) and status (high 16).
pub const CFG_COMMAND: u16 = 0x04;
/// Class code (bits 31:8) and revision.
pub const CFG_CLASS: u16 = 0x08;
/// BAR 0.
pub const CFG_BAR0: u16 = 0x10;
/// BAR 1 (the high half of a 64-bit BAR 0).
pub const CFG_BAR1: u16 = 0x14;
const CFG_BUS_NUMBERS: u16 = 0x18;
const CFG_MEMORY_WINDOW: u16 = 0x20;
/// Command register: respond to memory space accesses.
pub const COMMAND_MEMORY: u32 = 1 << 1;
/// Command register: may master the bus (DMA).
pub const COMMAND_MASTER: u32 = 1 << 2;

/// Why the root complex did not come up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum PcieError {
    /// No link after the bounded wait; `PCIE_MISC_PCIE_STATUS` at the time.
    LinkDown {
        /// The status register (bits: 4 PHY up, 5 data link active, 7 RC mode).
        status: u32,
    },
    /// The link is up but the controller is strapped as an endpoint.
    EndpointMode {
        /// The status register.
        status: u32,
    },
    /// A window from the device tree cannot be programmed.
    BadWindow,
}

/// The root complex after a successful link-up.
pub struct BrcmPcie {
    regs: Mmio,
    outbound: Window,
    inbound: Window,
}

impl BrcmPcie {
    /// Resets the bridge, programs the windows and trains the link (at most
    /// about 200 ms). `gen` limits the link generation (device tree
    /// `max-link-speed`), `ssc` asks for spread-spectrum clocking.
    pub fn bring_up(
        regs: Mmio,
        outbound: Window,
        inbound: Window,
        gen: Option<u32>,
        ssc: bool,
    ) -> Result<Self, PcieError> {
        let rev = regs.read32(MISC_REVISION);
        defmt::info!(
            "pcie: brcmstb root complex at {=usize:#x}, revision {=u32:#x}",
            regs.base(),
            rev & 0xffff
        );
        let set = |off: usize, bits: u32| regs.write32(off, regs.read32(off) | bits);
        let clear = |off: usize, bits: u32| regs.write32(off, regs.read32(off) & !bits);

        // Bridge and fundamental reset on; hold long enough not to look like a glitch.
        set(RGR1_SW_INIT_1, SW_INIT_INIT | SW_INIT_PERST);
        delay_us(100);
        clear(RGR1_SW_INIT_1, SW_INIT_INIT);
        clear(HARD_DEBUG, HARD_DEBUG_SERDES_IDDQ);
        delay_us(100); // SerDes settles

        let ctrl = regs.read32(MISC_CTRL) & !MISC_CTRL_MAX_BURST_MASK;
        regs.write32(
            MISC_CTRL,
            ctrl | MISC_CTRL_SCB_ACCESS_EN | MISC_CTRL_CFG_READ_UR_MODE,
        ); // burst 128 = 0

        // Inbound: PCIe address = CPU address + offset, one power-of-two window.
        let offset = inbound.pci.wrapping_sub(inbound.cpu);
        let size = fields::window_size_for(inbound.size);
        let code = fields::inbound_size_code(size);
        if code == 0 {
            return Err(PcieError::BadWindow);
        }
        regs.write32(
            RC_BAR2_CONFIG_LO,
            fields::with_field(offset as u32, RC_BAR_SIZE_MASK, code),
        );
        regs.write32(RC_BAR2_CONFIG_HI, (offset >> 32) as u32);
        let ctrl = regs.read32(MISC_CTRL);
        regs.write32(
            MISC_CTRL,
            fields::with_field(ctrl, MISC_CTRL_SCB0_SIZE_MASK, fields::scb_size_code(size)),
        );
        // No PCIe -> GISB (BAR1) or second SCB (BAR3) window.
        clear(RC_BAR1_CONFIG_LO, RC_BAR_SIZE_MASK);
        clear(RC_BAR3_CONFIG_LO, RC_BAR_SIZE_MASK);
        // Interrupts are not used: mask and clear them all.
        regs.write32(MSI_INTR2_MASK_SET, 0xffff_ffff);
        regs.write32(MSI_INTR2_CLR, 0xffff_ffff);

        if let Some(g) = gen.filter(|g| (1..=3).contains(g)) {
            regs.write32(LNKCAP, (regs.read32(LNKCAP) & !0xf) | g);
            let d = regs.read32(LNKCTL2_DWORD);
            regs.write32(LNKCTL2_DWORD, (d & !0xf) | g);
        }

        // Release PERST#, give the device its 100 ms, then poll up to 100 ms more.
        clear(RGR1_SW_INIT_1, SW_INIT_PERST);
        delay_us(100_000);
        let mut status = LinkStatus::decode(regs.read32(MISC_PCIE_STATUS));
        for _ in 0..20 {
            if status.up() {
                break;
            }
            delay_us(5_000);
            status = LinkStatus::decode(regs.read32(MISC_PCIE_STATUS));
        }
        let raw = regs.read32(MISC_PCIE_STATUS);
        if !status.up() {
            return Err(PcieError::LinkDown { status: raw });
        }
        if !status.root_complex {
            return Err(PcieError::EndpointMode { status: raw });
        }

        let f = fields::outbound_fields(outbound.cpu, outbound.pci, outbound.size)
            .ok_or(PcieError::BadWindow)?;
        program_outbound(&regs, &f);

        // Present the root port as a PCI-PCI bridge (the reset default is an endpoint class).
        let v = regs.read32(PRIV1_ID_VAL3);
        regs.write32(PRIV1_ID_VAL3, (v & !CLASS_CODE_MASK) | CLASS_PCI_BRIDGE);

        let ssc_ok = ssc && set_ssc(&regs);
        let link = fields::link_info((regs.read32(LNKSTA_DWORD) >> 16) as u16);
        defmt::info!(
            "pcie: link up, {=str} GT/s x{=u8} {=str} (status {=u32:#x})",
            link.speed,
            link.width,
            if ssc_ok { "(SSC)" } else { "(!SSC)" },
            raw
        );

        // Little-endian inbound accesses; no ASPM advertised (CLKREQ# may be unwired).
        let v = regs.read32(VENDOR_SPECIFIC_REG1);
        regs.write32(VENDOR_SPECIFIC_REG1, v & !ENDIAN_MODE_BAR2_MASK);
        clear(PRIV1_LINK_CAPABILITY, ASPM_SUPPORT_MASK);

        Ok(Self {
            regs,
            outbound,
            inbound,
        })
    }

    /// The link state right now.
    pub fn link(&self) -> LinkStatus {
        LinkStatus::decode(self.regs.read32(MISC_PCIE_STATUS))
    }

    /// The outbound (CPU -> PCIe memory) window.
    pub fn outbound(&self) -> Window {
        self.outbound
    }

    /// The inbound window: [`Window::to_pci`] is the CPU-physical to PCIe bus
    /// address translation for buffers a PCIe device masters (DMA).
    pub fn inbound(&self) -> Window {
        self.inbound
    }

    /// Where config-space dword `offset` of bus/device/function lives, if it can
    /// be reached: bus 0 and bus 1 hold one device each; buses past 0 need the link.
    fn config_address(&self, bus: u8, dev: u8, func: u8, offset: u16) -> Option<usize> {
        let off = usize::from(offset & !3);
        if off >= 0x1000 || (bus < 2 && dev > 0) {
            return None;
        }
        if bus == 0 {
            return Some(off);
        }
        if !self.link().up() {
            return None;
        }
        self.regs
            .write32(EXT_CFG_INDEX, fields::bdf_address(bus, dev, func));
        Some(EXT_CFG_DATA + off)
    }

    /// Reads config-space dword `offset` (rounded down to 4); all ones when the
    /// function cannot be reached, as for an absent device.
    pub fn read32(&self, bus: u8, dev: u8, func: u8, offset: u16) -> u32 {
        match self.config_address(bus, dev, func, offset) {
            Some(a) => self.regs.read32(a),
            None => 0xffff_ffff,
        }
    }

    /// Writes config-space dword `offset` (rounded down to 4); dropped when the
    /// function cannot be reached.
    pub fn write32(&self, bus: u8, dev: u8, func: u8, offset: u16, value: u32) {
        if let Some(a) = self.config_address(bus, dev, func, offset) {
            self.regs.write32(a, value);
        }
    }

    /// Opens the root port (bus 0) for bus 1: bus numbers 0/1/1, its memory
    /// window over the first `len` bytes of the outbound window, memory
    /// decoding and bus mastering. Circle's host bridge does the same; U-Boot
    /// and Linux leave it to their generic PCI layers.
    pub fn configure_root_port(&self, len: u64) {
        self.write32(0, 0, 0, CFG_BUS_NUMBERS, 0x0001_0100);
        let start = self.outbound.pci;
        let last = start + len.clamp(1 << 20, self.outbound.size) - 1;
        let window = (((last >> 16) as u32 & 0xfff0) << 16) | ((start >> 16) as u32 & 0xfff0);
        self.write32(0, 0, 0, CFG_MEMORY_WINDOW, window);
        let cmd = self.read32(0, 0, 0, CFG_COMMAND);
        self.write32(
            0,
            0,
            0,
            CFG_COMMAND,
            (cmd & 0xffff) | COMMAND_MEMORY | COMMAND_MASTER,
        );
    }
}

/// The DMA view of a PCIe bus master (the VL805) for drivers written against
/// [`DmaHal`]: bus address = the inbound window's translation (32-bit only,
/// as `DmaHal` hands out), and the same clean/invalidate as the VideoCore's
/// masters, because PCIe masters do not snoop the ARM caches either.
pub struct PcieDma {
    inbound: Window,
}

impl PcieDma {
    /// The DMA view through `inbound` ([`BrcmPcie::inbound`]).
    pub fn new(inbound: Window) -> Self {
        Self { inbound }
    }
}

impl DmaHal for PcieDma {
    fn bus_address(&self, addr: usize) -> Option<u32> {
        self.inbound
            .to_pci(addr as u64)
            .and_then(|a| u32::try_from(a).ok())
    }

    fn before_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }

    fn after_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }
}

fn program_outbound(regs: &Mmio, f: &OutboundFields) {
    regs.write32(MEM_WIN0_LO, f.pci_lo);
    regs.write32(MEM_WIN0_HI, f.pci_hi);
    let v = regs.read32(MEM_WIN0_BASE_LIMIT);
    let v = fields::with_field(v, WIN_BASE_MASK, f.base_mb);
    regs.write32(
        MEM_WIN0_BASE_LIMIT,
        fields::with_field(v, WIN_LIMIT_MASK, f.limit_mb),
    );
    let v = regs.read32(MEM_WIN0_BASE_HI);
    regs.write32(
        MEM_WIN0_BASE_HI,
        fields::with_field(v, WIN_HI_MASK, f.base_hi),
    );
    let v = regs.read32(MEM_WIN0_LIMIT_HI);
    regs.write32(
        MEM_WIN0_LIMIT_HI,
        fields::with_field(v, WIN_HI_MASK, f.limit_hi),
    );
}

/// One transfer on the bridge's internal MDIO; each waits at most ~100 us.
fn mdio_read(regs: &Mmio, reg: u32) -> Option<u32> {
    regs.write32(MDIO_ADDR, fields::pcie_mdio_packet(0, reg, true));
    let _ = regs.read32(MDIO_ADDR);
    for _ in 0..100 {
        let d = regs.read32(MDIO_RD_DATA);
        if d & MDIO_DONE != 0 {
            return Some(d & !MDIO_DONE);
        }
        delay_us(1);
    }
    None
}

fn mdio_write(regs: &Mmio, reg: u32, value: u32) -> bool {
    regs.write32(MDIO_ADDR, fields::pcie_mdio_packet(0, reg, false));
    let _ = regs.read32(MDIO_ADDR);
    regs.write32(MDIO_WR_DATA, MDIO_DONE | (value & 0xffff));
    for _ in 0..100 {
        if regs.read32(MDIO_WR_DATA) & MDIO_DONE == 0 {
            return true;
        }
        delay_us(1);
    }
    false
}

/// Spread-spectrum clocking on; true when the PHY reports SSC on and its PLL locked.
fn set_ssc(regs: &Mmio) -> bool {
    if !mdio_write(regs, MDIO_SET_ADDR, SSC_REGS_ADDR) {
        return false;
    }
    let Some(c) = mdio_read(regs, SSC_CNTL) else {
        return false;
    };
    if !mdio_write(regs, SSC_CNTL, c | SSC_CNTL_OVRD) {
        return false;
    }
    delay_us(1000);
    mdio_read(regs, SSC_STATUS).is_some_and(|s| s & SSC_STATUS_OK == SSC_STATUS_OK)
}
