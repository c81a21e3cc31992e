//! IEEE 802.3 clause 22 PHY logic shared by every Ethernet driver with an
//! MII-managed PHY (the Pi 4's GENET with its BCM54213PE, the Pi 3's USB
//! LAN95xx/LAN78xx): the standard registers, resolving link, speed and duplex
//! from what both ends advertised, a link monitor that reports only changes,
//! and [`LinkPoll`], the rate limit and latched-low read rule of a polled PHY.
//!
//! Owns: bit encodings and decisions only. Must not: wait or touch a register
//! (the drivers read the PHY and hand the values in), so all of it is
//! unit-tested on the host.
//!
//! References: U-Boot's generic PHY code (`drivers/net/phy/phy.c`:
//! `genphy_update_link`, `genphy_parse_link`); Linux
//! `drivers/net/phy/phy_device.c` (`genphy_update_link`: BMSR's link bit is
//! latched low, read once while the link is up so a short drop is seen,
//! twice while it is down for the current state) and `phy.c` (the PHY state
//! machine polls once a second; the drivers here poll every 500 ms as Circle's
//! `lib/bcm54213.cpp` and `lib/usb/lan7800.cpp` do).

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

/// How often a polled PHY is read.
pub const POLL_MS: u64 = 500;

/// When to read a polled PHY and how: at most every [`POLL_MS`], and BMSR
/// once while the link is up (its latched-low link bit then shows a drop
/// since the last poll) or twice while it is down (the second read is the
/// current state), as Linux's `genphy_update_link` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkPoll {
    next_ms: u64,
    monitor: LinkMonitor,
}

impl LinkPoll {
    /// A poller whose first poll is due at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when a poll is due at `now_ms`; the next one is then due
    /// [`POLL_MS`] later (a late poll does not cause a burst of catch-ups).
    pub fn due(&mut self, now_ms: u64) -> bool {
        if now_ms < self.next_ms {
            return false;
        }
        self.next_ms = now_ms.saturating_add(POLL_MS);
        true
    }

    /// How many times to read BMSR this poll (the last read counts).
    pub fn bmsr_reads(&self) -> u8 {
        if self.monitor.link().is_some() {
            1
        } else {
            2
        }
    }

    /// True when BMSR says the link is up and negotiated.
    pub fn link_ok(bmsr: u16) -> bool {
        bmsr & BMSR_LINK != 0 && bmsr & BMSR_ANEG_DONE != 0
    }

    /// Feeds this poll's BMSR (its last read). While the link stays up
    /// nothing more is read (a renegotiation always drops the link first,
    /// which the latched bit shows); a link coming up needs the advertisement
    /// registers ([`PollStep::ReadAbilities`], then [`Self::update`]).
    pub fn on_bmsr(&mut self, bmsr: u16) -> PollStep {
        match (Self::link_ok(bmsr), self.link()) {
            (true, Some(_)) => PollStep::Done(None),
            (true, None) => PollStep::ReadAbilities,
            (false, _) => PollStep::Done(self.monitor.update(PhyStatus {
                bmsr,
                ctrl1000: 0,
                stat1000: 0,
                anar: 0,
                anlpar: 0,
            })),
        }
    }

    /// Feeds a full set of registers; returns the change to act on, if any.
    pub fn update(&mut self, s: PhyStatus) -> Option<LinkEvent> {
        self.monitor.update(s)
    }

    /// The link as last reported.
    pub fn link(&self) -> Option<Link> {
        self.monitor.link()
    }
}

/// What a poll does after BMSR (see [`LinkPoll::on_bmsr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStep {
    /// Finished, with the change to act on, if any.
    Done(Option<LinkEvent>),
    /// The link is coming up: read ANAR/ANLPAR (and CTRL1000/STAT1000 on a
    /// gigabit PHY) and hand them to [`LinkPoll::update`].
    ReadAbilities,
}

impl core::fmt::Display for Link {
    /// `100 Mbit/s full` (the log line and status screen wording).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let duplex = if self.full_duplex { "full" } else { "half" };
        write!(f, "{} Mbit/s {}", self.mbps, duplex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_picks_best_common_mode() {
        // (ctrl1000, stat1000, anlpar, Mbit/s, full duplex, why)
        let cases = [
            (
                CTRL1000_ALL,
                0x0800,
                0x01e1,
                1000,
                true,
                "both gigabit full",
            ),
            (
                CTRL1000_ALL,
                0x0400,
                0x01e1,
                1000,
                false,
                "partner gigabit half only",
            ),
            (0, 0x0c00, 0x01e1, 100, true, "we did not advertise gigabit"),
            (0, 0, 0x00c1, 100, false, "partner 100 half + 10 full"),
            (0, 0, 0x0041, 10, true, "partner 10 full only"),
            (0, 0, 0x0001, 10, false, "nothing in common"),
        ];
        for (ctrl1000, stat1000, anlpar, mbps, full_duplex, why) in cases {
            assert_eq!(
                resolve(ctrl1000, stat1000, ANAR_ALL, anlpar),
                Link { mbps, full_duplex },
                "{why}"
            );
        }
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
    fn poll_is_rate_limited_without_catch_up_bursts() {
        let mut p = LinkPoll::new();
        assert!(p.due(0), "the first poll is at once");
        assert!(!p.due(1));
        assert!(!p.due(POLL_MS - 1));
        assert!(p.due(POLL_MS));
        // Late by three periods: one poll, then the next a full period later.
        assert!(p.due(5 * POLL_MS));
        assert!(!p.due(5 * POLL_MS + 1));
        assert!(p.due(6 * POLL_MS));
        assert!(p.due(u64::MAX - 1), "no overflow at the end of time");
        assert!(!p.due(u64::MAX - 1));
    }

    #[test]
    fn poll_reads_bmsr_twice_while_down_once_while_up() {
        let mut p = LinkPoll::new();
        assert_eq!(p.bmsr_reads(), 2, "down at first: read through the latch");
        assert_eq!(
            p.on_bmsr(0x7809),
            PollStep::Done(None),
            "no cable: still down"
        );
        let up = PhyStatus {
            bmsr: 0x782d,
            ctrl1000: 0,
            stat1000: 0,
            anar: ANAR_ALL,
            anlpar: 0x45e1,
        };
        assert_eq!(p.on_bmsr(up.bmsr), PollStep::ReadAbilities);
        assert_eq!(
            p.update(up),
            Some(LinkEvent::Up(Link {
                mbps: 100,
                full_duplex: true
            }))
        );
        assert_eq!(p.bmsr_reads(), 1, "up: one read, so a latched drop is seen");
        assert_eq!(
            p.on_bmsr(up.bmsr),
            PollStep::Done(None),
            "still up: BMSR only"
        );
        // The latched-low bit after a short drop: reported as down.
        assert_eq!(p.on_bmsr(0x7809), PollStep::Done(Some(LinkEvent::Down)));
        assert_eq!(p.bmsr_reads(), 2);
        assert_eq!(p.link(), None);
        // Link without negotiation complete is not up yet.
        assert_eq!(p.on_bmsr(0x7809 | BMSR_LINK), PollStep::Done(None));
    }

    #[test]
    fn link_wording() {
        let l = Link {
            mbps: 100,
            full_duplex: true,
        };
        assert_eq!(std::format!("{l}"), "100 Mbit/s full");
        let l = Link {
            mbps: 10,
            full_duplex: false,
        };
        assert_eq!(std::format!("{l}"), "10 Mbit/s half");
    }
}
