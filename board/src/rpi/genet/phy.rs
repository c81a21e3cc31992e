//! The MDIO command word of the GENET's UniMAC and the PHY logic for the Pi
//! 4's BCM54213PE: identity and the MAC's speed code. The generic Clause 22
//! part (registers, resolving link, speed and duplex, the link monitor) is
//! [`crate::mii`], re-exported here.
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

pub use crate::mii::{
    resolve, Link, LinkEvent, LinkMonitor, PhyStatus, ANAR, ANAR_ALL, ANLPAR, BMCR,
    BMCR_ANEG_RESTART, BMCR_RESET, BMSR, BMSR_ANEG_DONE, BMSR_LINK, CTRL1000, CTRL1000_ALL,
    PHYSID1, PHYSID2, STAT1000,
};

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
