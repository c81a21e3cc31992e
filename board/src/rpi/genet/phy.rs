//! The MDIO command word of the GENET's UniMAC and the Clause 22 PHY logic for
//! the Pi 4's BCM54213PE: identity, auto-negotiation set-up, and resolving
//! link, speed and duplex, with a link monitor that reports changes.
//!
//! Owns: bit encodings and decisions only. Must not: wait or touch a register
//! (the driver reads the PHY registers and hands the values in), so all of it
//! is unit-tested on the host.
//!
//! References: U-Boot `drivers/net/bcmgenet.c` (MDIO command bits) and its
//! generic PHY code (`genphy_update_link` / `genphy_parse_link`: the BCM54213PE
//! has no entry in U-Boot's `drivers/net/phy/broadcom.c`, so U-Boot drives it
//! as a generic PHY, and so does this); Linux `drivers/net/phy/broadcom.c`
//! for the PHY id.

/// MDIO command: start / busy.
pub const MDIO_START_BUSY: u32 = 1 << 29;
/// MDIO command: the PHY did not answer a read.
pub const MDIO_READ_FAIL: u32 = 1 << 28;
const MDIO_RD: u32 = 2 << 26;
const MDIO_WR: u32 = 1 << 26;
const MDIO_PHY_SHIFT: u32 = 21;
const MDIO_REG_SHIFT: u32 = 16;

/// The UniMAC MDIO command word for reading `reg` of the PHY at `phy`.
pub fn mdio_read_cmd(phy: u8, reg: u8) -> u32 {
    MDIO_RD | (u32::from(phy & 0x1f) << MDIO_PHY_SHIFT) | (u32::from(reg & 0x1f) << MDIO_REG_SHIFT)
}

/// The UniMAC MDIO command word for writing `value` to `reg` of the PHY at `phy`.
pub fn mdio_write_cmd(phy: u8, reg: u8, value: u16) -> u32 {
    MDIO_WR
        | (u32::from(phy & 0x1f) << MDIO_PHY_SHIFT)
        | (u32::from(reg & 0x1f) << MDIO_REG_SHIFT)
        | u32::from(value)
}

/// The result of a finished read (busy clear): the value, or `None` when the
/// PHY did not answer.
pub fn mdio_read_result(cmd: u32) -> Option<u16> {
    (cmd & MDIO_READ_FAIL == 0).then_some(cmd as u16)
}

/// How the board wires the MAC to the PHY (device tree `phy-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum PhyMode {
    /// `rgmii`: no internal delays.
    Rgmii,
    /// `rgmii-rxid`: receive delay by the PHY (the Pi 4).
    RgmiiRxid,
    /// `rgmii-id` / `rgmii-txid`: other delay arrangements.
    RgmiiOther,
}

impl PhyMode {
    /// From the device tree string; the Pi 4's `rgmii-rxid` when unknown.
    pub fn from_dt(s: Option<&str>) -> Self {
        match s {
            Some("rgmii") => PhyMode::Rgmii,
            Some("rgmii-id") | Some("rgmii-txid") => PhyMode::RgmiiOther,
            _ => PhyMode::RgmiiRxid,
        }
    }

    /// Whether the MAC's `ID_MODE_DIS` (no internal delay on its transmit
    /// clock) is set for this wiring, as U-Boot decides.
    pub fn mac_id_mode_disabled(self) -> bool {
        matches!(self, PhyMode::Rgmii | PhyMode::RgmiiRxid)
    }
}

/// Basic mode control.
pub const BMCR: u8 = 0;
/// Basic mode status.
pub const BMSR: u8 = 1;
/// PHY identifier, high word.
pub const PHYSID1: u8 = 2;
/// PHY identifier, low word.
pub const PHYSID2: u8 = 3;
/// Auto-negotiation advertisement.
pub const ANAR: u8 = 4;
/// Link partner ability.
pub const ANLPAR: u8 = 5;
/// 1000BASE-T control.
pub const CTRL1000: u8 = 9;
/// 1000BASE-T status.
pub const STAT1000: u8 = 10;

/// BMCR: software reset (self-clearing).
pub const BMCR_RESET: u16 = 0x8000;
/// BMCR: enable and restart auto-negotiation.
pub const BMCR_ANEG_RESTART: u16 = 0x1000 | 0x0200;
/// BMSR: link up (latched low: read twice for the current state).
pub const BMSR_LINK: u16 = 0x0004;
/// BMSR: auto-negotiation complete.
pub const BMSR_ANEG_DONE: u16 = 0x0020;
/// What we advertise: 10/100 half and full duplex, IEEE 802.3 selector.
pub const ANAR_ALL: u16 = 0x0100 | 0x0080 | 0x0040 | 0x0020 | 0x0001;
/// What we advertise for gigabit: 1000BASE-T full and half duplex.
pub const CTRL1000_ALL: u16 = 0x0200 | 0x0100;

/// The BCM54213PE's identifier (revision nibble masked).
pub const BCM54213PE_ID: u32 = 0x600d_84a0;

/// The 32-bit PHY identifier from PHYSID1/PHYSID2.
pub fn phy_id(id1: u16, id2: u16) -> u32 {
    (u32::from(id1) << 16) | u32::from(id2)
}

/// True for a BCM54213PE of any revision.
pub fn is_bcm54213pe(id: u32) -> bool {
    id & 0xffff_fff0 == BCM54213PE_ID
}

/// True when the MDIO read came back as if nobody drove the bus.
pub fn id_absent(id: u32) -> bool {
    id == 0 || id == 0xffff_ffff
}

/// A negotiated link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Link {
    /// Megabits per second: 10, 100 or 1000.
    pub mbps: u16,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Resolves speed and duplex from what both ends advertised (the highest
/// common mode), as the generic PHY code does.
pub fn resolve(ctrl1000: u16, stat1000: u16, anar: u16, anlpar: u16) -> Link {
    // STAT1000 bits 11/10 (partner 1000 full/half) line up with CTRL1000 bits 9/8 shifted by 2.
    let giga = stat1000 & (ctrl1000 << 2);
    if giga & 0x0c00 != 0 {
        return Link {
            mbps: 1000,
            full_duplex: giga & 0x0800 != 0,
        };
    }
    let common = anar & anlpar;
    if common & 0x0180 != 0 {
        Link {
            mbps: 100,
            full_duplex: common & 0x0100 != 0,
        }
    } else {
        Link {
            mbps: 10,
            full_duplex: common & 0x0040 != 0,
        }
    }
}

/// The PHY registers one poll reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhyStatus {
    /// BMSR (second read).
    pub bmsr: u16,
    /// CTRL1000.
    pub ctrl1000: u16,
    /// STAT1000.
    pub stat1000: u16,
    /// ANAR.
    pub anar: u16,
    /// ANLPAR.
    pub anlpar: u16,
}

/// A change of link the driver must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum LinkEvent {
    /// Link came up (or renegotiated to a different mode): program the MAC.
    Up(Link),
    /// Link went down.
    Down,
}

/// Tracks the link across polls and reports only changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkMonitor {
    current: Option<Link>,
}

impl LinkMonitor {
    /// The link as last reported.
    pub fn link(&self) -> Option<Link> {
        self.current
    }

    /// Feeds one poll; returns an event when the link state or mode changed.
    pub fn update(&mut self, s: PhyStatus) -> Option<LinkEvent> {
        let now = (s.bmsr & BMSR_LINK != 0 && s.bmsr & BMSR_ANEG_DONE != 0)
            .then(|| resolve(s.ctrl1000, s.stat1000, s.anar, s.anlpar));
        if now == self.current {
            return None;
        }
        self.current = now;
        Some(match now {
            Some(l) => LinkEvent::Up(l),
            None => LinkEvent::Down,
        })
    }
}

/// The UniMAC speed code (UMAC_CMD bits 3:2) for a link speed.
pub fn umac_speed(mbps: u16) -> u32 {
    match mbps {
        1000 => 2,
        100 => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdio_words() {
        // Read PHY 1 register 2: RD | 1 << 21 | 2 << 16.
        assert_eq!(mdio_read_cmd(1, PHYSID1), 0x0822_0000);
        assert_eq!(mdio_write_cmd(1, BMCR, BMCR_RESET), 0x0420_0000 | 0x8000);
        // Out-of-range PHY/register numbers are cut to 5 bits, not spilled.
        assert_eq!(mdio_read_cmd(0x21, 0x20), mdio_read_cmd(1, 0));
        assert_eq!(mdio_read_result(0x0822_600d), Some(0x600d));
        assert_eq!(mdio_read_result(MDIO_READ_FAIL | 0xffff), None);
    }

    #[test]
    fn phy_identity() {
        let id = phy_id(0x600d, 0x84a2);
        assert_eq!(id, 0x600d_84a2);
        assert!(is_bcm54213pe(id));
        assert!(!is_bcm54213pe(phy_id(0x600d, 0x84b2)));
        assert!(id_absent(phy_id(0xffff, 0xffff)) && id_absent(0));
        assert!(!id_absent(id));
    }

    #[test]
    fn resolution_picks_best_common_mode() {
        // Both gigabit full.
        assert_eq!(
            resolve(CTRL1000_ALL, 0x0800, ANAR_ALL, 0x01e1),
            Link {
                mbps: 1000,
                full_duplex: true
            }
        );
        // Partner gigabit half only.
        assert_eq!(
            resolve(CTRL1000_ALL, 0x0400, ANAR_ALL, 0x01e1),
            Link {
                mbps: 1000,
                full_duplex: false
            }
        );
        // We did not advertise gigabit: fall back to 100 full.
        assert_eq!(
            resolve(0, 0x0c00, ANAR_ALL, 0x01e1),
            Link {
                mbps: 100,
                full_duplex: true
            }
        );
        // Partner 100 half + 10 full: 100 half wins.
        assert_eq!(
            resolve(0, 0, ANAR_ALL, 0x00c1),
            Link {
                mbps: 100,
                full_duplex: false
            }
        );
        // Partner 10 full only.
        assert_eq!(
            resolve(0, 0, ANAR_ALL, 0x0041),
            Link {
                mbps: 10,
                full_duplex: true
            }
        );
        // Nothing in common: 10 half.
        assert_eq!(
            resolve(0, 0, ANAR_ALL, 0x0001),
            Link {
                mbps: 10,
                full_duplex: false
            }
        );
    }

    #[test]
    fn monitor_reports_changes_only() {
        let mut m = LinkMonitor::default();
        let down = PhyStatus {
            bmsr: 0x7949,
            ctrl1000: CTRL1000_ALL,
            stat1000: 0,
            anar: ANAR_ALL,
            anlpar: 0,
        };
        assert_eq!(m.update(down), None, "starts down");
        // Link without negotiation complete is not up yet.
        assert_eq!(
            m.update(PhyStatus {
                bmsr: 0x7949 | BMSR_LINK,
                ..down
            }),
            None
        );
        let up = PhyStatus {
            bmsr: 0x7969 | BMSR_LINK,
            ctrl1000: CTRL1000_ALL,
            stat1000: 0x3800,
            anar: ANAR_ALL,
            anlpar: 0xc5e1,
        };
        assert_eq!(
            m.update(up),
            Some(LinkEvent::Up(Link {
                mbps: 1000,
                full_duplex: true
            }))
        );
        assert_eq!(m.update(up), None);
        // Renegotiated at 100 (e.g. a different switch port).
        let up100 = PhyStatus { stat1000: 0, ..up };
        assert_eq!(
            m.update(up100),
            Some(LinkEvent::Up(Link {
                mbps: 100,
                full_duplex: true
            }))
        );
        assert_eq!(m.update(down), Some(LinkEvent::Down));
        assert_eq!(m.link(), None);
    }

    #[test]
    fn phy_modes() {
        assert_eq!(PhyMode::from_dt(Some("rgmii")), PhyMode::Rgmii);
        assert_eq!(PhyMode::from_dt(Some("rgmii-rxid")), PhyMode::RgmiiRxid);
        assert_eq!(PhyMode::from_dt(Some("rgmii-txid")), PhyMode::RgmiiOther);
        assert_eq!(
            PhyMode::from_dt(None),
            PhyMode::RgmiiRxid,
            "the Pi 4's wiring"
        );
        assert_eq!(PhyMode::from_dt(Some("sgmii")), PhyMode::RgmiiRxid);
        assert!(PhyMode::Rgmii.mac_id_mode_disabled() && PhyMode::RgmiiRxid.mac_id_mode_disabled());
        assert!(!PhyMode::RgmiiOther.mac_id_mode_disabled());
    }

    #[test]
    fn umac_speed_codes() {
        assert_eq!(
            (umac_speed(1000), umac_speed(100), umac_speed(10)),
            (2, 1, 0)
        );
    }
}
