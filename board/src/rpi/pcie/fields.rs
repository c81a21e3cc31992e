//! Register field encodings of the BCM2711 ("brcmstb") PCIe root complex and
//! the few PCI/xHCI header fields the bring-up log decodes.
//!
//! Owns: pure arithmetic — the inbound window size code, the outbound window's
//! megabyte base/limit fields, the extended-config index of a bus/device/
//! function, the link status bits, the Link Status register decode, and the
//! xHCI capability words. Must not: touch a register (the driver in
//! [`super`] does), so all of it is unit-tested on the host.
//!
//! Field positions are the ones U-Boot's `drivers/pci/pcie_brcmstb.c` and its
//! BCM2711 register header use; the arithmetic is written from their meaning.

/// `PCIE_MISC_PCIE_STATUS`: the controller is a root complex (not an endpoint).
pub const STATUS_RC_MODE: u32 = 1 << 7;
/// `PCIE_MISC_PCIE_STATUS`: the data link layer is active.
pub const STATUS_DL_ACTIVE: u32 = 1 << 5;
/// `PCIE_MISC_PCIE_STATUS`: the PHY reports link up.
pub const STATUS_PHY_LINK_UP: u32 = 1 << 4;

/// What `PCIE_MISC_PCIE_STATUS` says about the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The PHY trained.
    pub phy_up: bool,
    /// The data link layer came up (config requests can flow).
    pub data_link_active: bool,
    /// Root-complex mode (the only mode this driver supports).
    pub root_complex: bool,
}

impl LinkStatus {
    /// Decodes the status register.
    pub fn decode(status: u32) -> Self {
        Self {
            phy_up: status & STATUS_PHY_LINK_UP != 0,
            data_link_active: status & STATUS_DL_ACTIVE != 0,
            root_complex: status & STATUS_RC_MODE != 0,
        }
    }

    /// Both PHY and data link are up: only then may bus 1 be touched (a config
    /// access without link aborts the CPU).
    pub fn up(self) -> bool {
        self.phy_up && self.data_link_active
    }

    /// Why the link is not usable, for the log and the status screen.
    pub fn why_not(self) -> Option<&'static str> {
        match (self.phy_up, self.data_link_active, self.root_complex) {
            (false, _, _) => {
                Some("PHY link down (no device trained: VL805 unpowered or held in reset)")
            }
            (true, false, _) => Some("PHY up but data link inactive"),
            (true, true, false) => Some("controller strapped as an endpoint, not a root complex"),
            (true, true, true) => None,
        }
    }
}

/// A CPU <-> PCIe address window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Window {
    /// CPU physical start.
    pub cpu: u64,
    /// PCIe bus start.
    pub pci: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Window {
    /// The Pi 4 device tree's outbound window: CPU 0x6_0000_0000 is PCIe
    /// 0xc000_0000, 1 GiB.
    pub const PI4_OUTBOUND: Window = Window {
        cpu: 0x6_0000_0000,
        pci: 0xc000_0000,
        size: 1 << 30,
    };
    /// The Pi 4 device tree's inbound (DMA) window: RAM 1:1, 3 GiB (the
    /// hardware window is rounded up to 4 GiB).
    pub const PI4_INBOUND: Window = Window {
        cpu: 0,
        pci: 0,
        size: 0xc000_0000,
    };

    /// The PCIe address of CPU address `cpu`, if the window covers it (the DMA
    /// translation for the inbound window).
    pub fn to_pci(&self, cpu: u64) -> Option<u64> {
        let off = cpu.checked_sub(self.cpu)?;
        (off < self.size)
            .then(|| self.pci.checked_add(off))
            .flatten()
    }

    /// The CPU address of PCIe address `pci` (BARs behind the outbound window).
    pub fn to_cpu(&self, pci: u64) -> Option<u64> {
        let off = pci.checked_sub(self.pci)?;
        (off < self.size)
            .then(|| self.cpu.checked_add(off))
            .flatten()
    }
}

/// The size code of the `RC_BAR2` inbound window (PCIe to system memory) for a
/// power-of-two `size`: 4 KiB..32 KiB map to 0x1c..0x1f, 64 KiB..128 GiB to
/// 1..22; anything else disables the window (0).
pub fn inbound_size_code(size: u64) -> u32 {
    if !size.is_power_of_two() {
        return 0;
    }
    let log2 = size.trailing_zeros();
    match log2 {
        12..=15 => 0x1c + (log2 - 12),
        16..=37 => log2 - 15,
        _ => 0,
    }
}

/// The `SCB0_SIZE` field of `PCIE_MISC_MISC_CTRL` for an inbound window of
/// `size` bytes (log2 - 15; 0x0f, 1 GiB, when no window is given).
pub fn scb_size_code(size: u64) -> u32 {
    if size == 0 {
        0x0f
    } else {
        (63 - size.leading_zeros()).saturating_sub(15)
    }
}

/// The smallest power of two that is at least `len` (the inbound window covers
/// the whole DMA range, rounded up).
pub fn window_size_for(len: u64) -> u64 {
    len.max(1).checked_next_power_of_two().unwrap_or(1 << 63)
}

/// Mask of `MEM_WIN_BASE_LIMIT`'s base field (megabytes, low 12 bits).
pub const WIN_BASE_MASK: u32 = 0x0000_fff0;
/// Mask of `MEM_WIN_BASE_LIMIT`'s limit field (megabytes, low 12 bits).
pub const WIN_LIMIT_MASK: u32 = 0xfff0_0000;
/// Mask of the `MEM_WIN_BASE_HI` / `MEM_WIN_LIMIT_HI` fields (megabytes >> 12).
pub const WIN_HI_MASK: u32 = 0x0000_00ff;

/// Register values that open outbound window `n` (CPU to PCIe memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundFields {
    /// `CPU_2_PCIE_MEM_WIN_LO`: the PCIe address, low word.
    pub pci_lo: u32,
    /// `CPU_2_PCIE_MEM_WIN_HI`: the PCIe address, high word.
    pub pci_hi: u32,
    /// CPU base, megabytes, for [`WIN_BASE_MASK`].
    pub base_mb: u32,
    /// CPU limit (last megabyte), for [`WIN_LIMIT_MASK`].
    pub limit_mb: u32,
    /// CPU base megabytes above bit 12, for `MEM_WIN_BASE_HI`.
    pub base_hi: u32,
    /// CPU limit megabytes above bit 12, for `MEM_WIN_LIMIT_HI`.
    pub limit_hi: u32,
}

/// The fields of an outbound window mapping CPU `[cpu, cpu+size)` to PCIe
/// address `pci`; `None` for an empty window or one that wraps.
pub fn outbound_fields(cpu: u64, pci: u64, size: u64) -> Option<OutboundFields> {
    const MB: u64 = 1 << 20;
    let last = cpu.checked_add(size.checked_sub(1)?)?;
    let base_mb = cpu / MB;
    let limit_mb = last / MB;
    Some(OutboundFields {
        pci_lo: pci as u32,
        pci_hi: (pci >> 32) as u32,
        base_mb: (base_mb & 0xfff) as u32,
        limit_mb: (limit_mb & 0xfff) as u32,
        base_hi: ((base_mb >> 12) as u32) & WIN_HI_MASK,
        limit_hi: ((limit_mb >> 12) as u32) & WIN_HI_MASK,
    })
}

/// Replaces the bits of `mask` in `reg` by `value` shifted to the mask's
/// lowest set bit.
pub fn with_field(reg: u32, mask: u32, value: u32) -> u32 {
    if mask == 0 {
        return reg;
    }
    (reg & !mask) | ((value << mask.trailing_zeros()) & mask)
}

/// The ECAM-style address of bus/device/function used both by
/// `PCIE_EXT_CFG_INDEX` and by the firmware's "notify xHCI reset" tag
/// (bus << 20 | device << 15 | function << 12).
pub fn bdf_address(bus: u8, dev: u8, func: u8) -> u32 {
    (u32::from(bus) << 20) | (u32::from(dev & 0x1f) << 15) | (u32::from(func & 0x7) << 12)
}

/// The address word of a transfer on the bridge's internal MDIO bus (SerDes
/// registers): port in bits 19:16, register in 15:0, command in 31:20
/// (1 read, 0 write).
pub fn pcie_mdio_packet(port: u8, reg: u32, read: bool) -> u32 {
    ((u32::from(port) << 16) & 0x000f_0000) | (reg & 0xffff) | (u32::from(read) << 20)
}

/// Link speed and width from the PCI Express Link Status register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Gigatransfers per second as text ("2.5", "5.0", "8.0", "?").
    pub speed: &'static str,
    /// Negotiated lanes.
    pub width: u8,
}

/// Decodes PCI Express Link Status (current speed bits 3:0, width bits 9:4).
pub fn link_info(lnksta: u16) -> LinkInfo {
    let speed = match lnksta & 0xf {
        1 => "2.5",
        2 => "5.0",
        3 => "8.0",
        _ => "?",
    };
    LinkInfo {
        speed,
        width: ((lnksta >> 4) & 0x3f) as u8,
    }
}

/// What the xHCI capability registers at the start of BAR 0 say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XhciCaps {
    /// CAPLENGTH: offset of the operational registers.
    pub cap_length: u8,
    /// HCIVERSION, BCD (0x0100 = 1.0.0).
    pub version: u16,
    /// HCSPARAMS1 MaxSlots.
    pub max_slots: u8,
    /// HCSPARAMS1 MaxIntrs.
    pub max_interrupters: u16,
    /// HCSPARAMS1 MaxPorts.
    pub max_ports: u8,
}

impl XhciCaps {
    /// Decodes dword 0 (CAPLENGTH + HCIVERSION) and HCSPARAMS1 (dword 1).
    pub fn decode(dword0: u32, hcsparams1: u32) -> Self {
        Self {
            cap_length: dword0 as u8,
            version: (dword0 >> 16) as u16,
            max_slots: hcsparams1 as u8,
            max_interrupters: ((hcsparams1 >> 8) & 0x7ff) as u16,
            max_ports: (hcsparams1 >> 24) as u8,
        }
    }

    /// Plausible values: an all-ones read (no device answering) or a zero
    /// capability length is not an xHCI.
    pub fn plausible(&self) -> bool {
        self.cap_length >= 0x20
            && self.version != 0xffff
            && self.version != 0
            && self.max_ports != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_status_bits() {
        // 0xb0: RC mode, DL active, PHY up.
        let s = LinkStatus::decode(0xb0);
        assert!(s.up() && s.root_complex);
        assert_eq!(s.why_not(), None);
        let s = LinkStatus::decode(0x80);
        assert!(!s.up());
        assert!(s.why_not().unwrap().starts_with("PHY link down"));
        assert_eq!(
            LinkStatus::decode(0x90).why_not(),
            Some("PHY up but data link inactive")
        );
        assert!(LinkStatus::decode(0x30)
            .why_not()
            .unwrap()
            .contains("endpoint"));
    }

    #[test]
    fn window_translation() {
        let out = Window::PI4_OUTBOUND;
        assert_eq!(out.to_cpu(0xc000_0000), Some(0x6_0000_0000));
        assert_eq!(
            out.to_cpu(0xc000_0000 + (1 << 30)),
            None,
            "one past the end"
        );
        assert_eq!(out.to_cpu(0xbfff_ffff), None);
        let inb = Window {
            cpu: 0x1000,
            pci: 0x8000_0000,
            size: 0x1000,
        };
        assert_eq!(inb.to_pci(0x1fff), Some(0x8000_0fff));
        assert_eq!(inb.to_pci(0x2000), None);
        assert_eq!(inb.to_pci(0xfff), None);
        assert_eq!(
            Window::PI4_INBOUND.to_pci(0x3b40_0000),
            Some(0x3b40_0000),
            "RAM 1:1"
        );
        assert_eq!(Window::PI4_INBOUND.to_pci(0xc000_0000), None);
        let wraps = Window {
            cpu: 0,
            pci: u64::MAX,
            size: 0x10,
        };
        assert_eq!(wraps.to_pci(1), None);
    }

    #[test]
    fn inbound_size_codes() {
        assert_eq!(inbound_size_code(4 << 10), 0x1c);
        assert_eq!(inbound_size_code(32 << 10), 0x1f);
        assert_eq!(inbound_size_code(64 << 10), 1);
        // 4 GiB, the BCM2711's usual DMA window: log2 32 - 15.
        assert_eq!(inbound_size_code(1 << 32), 17);
        assert_eq!(inbound_size_code(32 << 30), 20);
        assert_eq!(inbound_size_code(128 << 30), 22, "2^37, the largest");
        assert_eq!(inbound_size_code(256 << 30), 0);
        assert_eq!(inbound_size_code(2 << 10), 0);
        assert_eq!(inbound_size_code(3 << 30), 0, "not a power of two");
        assert_eq!(scb_size_code(1 << 32), 17);
        assert_eq!(scb_size_code(0), 0x0f);
        assert_eq!(window_size_for(0xc000_0000), 1 << 32);
        assert_eq!(window_size_for(1 << 30), 1 << 30);
    }

    #[test]
    fn outbound_window_fields() {
        // The Pi 4 device tree: CPU 0x6_0000_0000 -> PCIe 0xc000_0000, 1 GiB.
        let f = outbound_fields(0x6_0000_0000, 0xc000_0000, 1 << 30).unwrap();
        assert_eq!((f.pci_lo, f.pci_hi), (0xc000_0000, 0));
        // 0x6_0000_0000 / 1 MiB = 0x6000: low 12 bits 0, high 6.
        assert_eq!((f.base_mb, f.base_hi), (0x000, 0x6));
        // Last byte 0x6_3fff_ffff -> megabyte 0x63ff.
        assert_eq!((f.limit_mb, f.limit_hi), (0x3ff, 0x6));
        assert_eq!(outbound_fields(0, 0, 0), None);
        assert_eq!(outbound_fields(u64::MAX, 0, 2), None);
    }

    #[test]
    fn field_insertion() {
        assert_eq!(with_field(0xffff_ffff, WIN_BASE_MASK, 0), 0xffff_000f);
        assert_eq!(with_field(0, WIN_LIMIT_MASK, 0x3ff), 0x3ff0_0000);
        assert_eq!(with_field(0, WIN_BASE_MASK, 0xabc), 0xabc0);
        // Values wider than the field are cut to it.
        assert_eq!(with_field(0, 0xf8000000, 0x11), 0x8800_0000);
        assert_eq!(with_field(0x1234, 0, 7), 0x1234);
    }

    #[test]
    fn bdf_and_firmware_address() {
        // U-Boot hard-codes 0x100000 for the VL805 at 01:00.0.
        assert_eq!(bdf_address(1, 0, 0), 0x0010_0000);
        assert_eq!(bdf_address(2, 3, 1), (2 << 20) | (3 << 15) | (1 << 12));
    }

    #[test]
    fn serdes_mdio_packets() {
        assert_eq!(pcie_mdio_packet(0, 0x1f, false), 0x1f);
        assert_eq!(pcie_mdio_packet(0, 0x2, true), 0x0010_0002);
        assert_eq!(
            pcie_mdio_packet(3, 0x1_0001, true),
            0x0013_0001,
            "register cut to 16 bits"
        );
    }

    #[test]
    fn link_status_register() {
        // Gen 2, x1.
        assert_eq!(
            link_info(0x1012),
            LinkInfo {
                speed: "5.0",
                width: 1
            }
        );
        assert_eq!(link_info(0x0011).speed, "2.5");
        assert_eq!(link_info(0x0040).speed, "?");
        assert_eq!(link_info(0x0040).width, 4);
    }

    #[test]
    fn xhci_capabilities() {
        // A VL805-like controller: CAPLENGTH 0x20, xHCI 1.0, 32 slots, 8 intrs, 5 ports.
        let c = XhciCaps::decode(0x0100_0020, 0x0500_0820);
        assert_eq!(
            c,
            XhciCaps {
                cap_length: 0x20,
                version: 0x100,
                max_slots: 32,
                max_interrupters: 8,
                max_ports: 5
            }
        );
        assert!(c.plausible());
        assert!(!XhciCaps::decode(0xffff_ffff, 0xffff_ffff).plausible());
        assert!(!XhciCaps::decode(0, 0).plausible());
    }
}
