//! DWC2 split transactions: the pure state machine that drives one packet
//! through a high-speed hub's transaction translator (USB 2.0 §11.14-§11.18).
//!
//! Owns: the HCSPLT encoding, decoding a halted channel's HCINT into a
//! [`Halt`], and the start-split / complete-split sequence per packet: ACK on
//! the start split moves to complete splits, NYET repeats the complete split,
//! a transaction error restarts the split and the third one in a row fails
//! (the "3-strike" rule, §11.17.1 / §11.18.8), a device NAK ends a periodic
//! attempt and restarts a non-periodic one. For periodic (interrupt)
//! endpoints it also picks the microframe each split must go out in (§11.18.4:
//! complete splits in the microframes after the full-/low-speed transaction
//! can finish); the caller waits for that microframe (`HFNUM & 7`).
//!
//! Must not: touch a register (that is [`super::dwc2`], which feeds this
//! machine what the channel reported and programs what it answers).
//!
//! References read (nothing copied): U-Boot `drivers/usb/host/dwc2.c`
//! (`transfer_chunk`, `dwc_otg_submit_*`: one packet per split, HCSPLT fields,
//! complete split on ACK, repeat on NYET); Circle `lib/usb/dwhcidevice.cpp` and
//! `dwhciframeschedper.cpp`/`dwhciframeschednper.cpp` (microframe choice for
//! periodic splits, the number of complete-split tries, NAK handling); Linux
//! `drivers/usb/dwc2/hcd_intr.c` (`dwc2_hc_nyet_intr`, `dwc2_hc_xacterr_intr`:
//! error count reset on progress, restart of the start split after an error
//! in the complete split). Deliberate differences: like Circle we never
//! start a periodic split in microframe 6 (its complete splits would cross the
//! frame end) and we give 3 complete-split tries (2 when started in
//! microframe 5); a non-periodic NYET run is bounded ([`MAX_NYETS`]) instead
//! of relying on the caller's timeout alone.
//!
//! Status: written to the references, not yet run on hardware (QEMU's DWC2
//! runs every device at full speed on the root port, so no split is issued
//! there).

use super::UsbError;

/// HCSPLT: split enable.
pub const HCSPLT_SPLTENA: u32 = 1 << 31;
/// HCSPLT: this is the complete split.
pub const HCSPLT_COMPSPLT: u32 = 1 << 16;
/// HCSPLT XACTPOS "all": the whole payload in one start split (≤ 188 bytes,
/// always true for the low/full-speed packets we split).
pub const HCSPLT_XACTPOS_ALL: u32 = 3 << 14;
const HCSPLT_HUBADDR_SHIFT: u32 = 7;

// HCINT bits the decoder looks at (same layout as in `dwc2`).
const HCINT_XFERCOMPL: u32 = 1 << 0;
const HCINT_AHBERR: u32 = 1 << 2;
const HCINT_STALL: u32 = 1 << 3;
const HCINT_NAK: u32 = 1 << 4;
const HCINT_ACK: u32 = 1 << 5;
const HCINT_NYET: u32 = 1 << 6;
const HCINT_XACTERR: u32 = 1 << 7;
const HCINT_BBLERR: u32 = 1 << 8;
const HCINT_FRMOVRUN: u32 = 1 << 9;
const HCINT_DATATGLERR: u32 = 1 << 10;

/// Consecutive transaction errors after which a split fails (§11.17.1).
pub const MAX_ERRORS: u8 = 3;
/// NYETs a non-periodic complete split may collect before the packet fails
/// with [`UsbError::Timeout`] (the hub's TT never finished it).
pub const MAX_NYETS: u16 = 1000;

/// Where split transactions for a device go: the nearest high-speed hub's
/// transaction translator (from [`super::controller::Tt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct SplitRoute {
    /// USB address of the high-speed hub holding the TT.
    pub hub_address: u8,
    /// That hub's downstream port (1-based) the device hangs off.
    pub port: u8,
}

impl SplitRoute {
    /// The HCSPLT value for a start (`complete == false`) or complete split.
    pub fn hcsplt(self, complete: bool) -> u32 {
        let mut v = HCSPLT_SPLTENA
            | HCSPLT_XACTPOS_ALL
            | (u32::from(self.hub_address & 0x7f) << HCSPLT_HUBADDR_SHIFT)
            | u32::from(self.port & 0x7f);
        if complete {
            v |= HCSPLT_COMPSPLT;
        }
        v
    }
}

/// Why a channel halted, decoded from HCINT (most significant reason first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Halt {
    /// Transfer complete (XFERCOMPL).
    Complete,
    /// STALL handshake.
    Stall,
    /// Bus DMA failure.
    Ahb,
    /// Babble.
    Babble,
    /// Data toggle mismatch.
    DataToggle,
    /// NYET handshake (complete split: the TT has no result yet).
    Nyet,
    /// NAK handshake (or a periodic frame overrun, which we treat alike).
    Nak,
    /// ACK handshake without completion (start split accepted by the TT).
    Ack,
    /// CRC, timeout or bit-stuff error.
    XactErr,
    /// Halted for no reported reason (we asked, or the core gave up).
    Other,
}

impl Halt {
    /// Decodes a halted channel's HCINT.
    pub fn from_hcint(int: u32) -> Halt {
        if int & HCINT_XFERCOMPL != 0 {
            Halt::Complete
        } else if int & HCINT_STALL != 0 {
            Halt::Stall
        } else if int & HCINT_AHBERR != 0 {
            Halt::Ahb
        } else if int & HCINT_BBLERR != 0 {
            Halt::Babble
        } else if int & HCINT_DATATGLERR != 0 {
            Halt::DataToggle
        } else if int & HCINT_XACTERR != 0 {
            Halt::XactErr
        } else if int & HCINT_NYET != 0 {
            Halt::Nyet
        } else if int & (HCINT_NAK | HCINT_FRMOVRUN) != 0 {
            Halt::Nak
        } else if int & HCINT_ACK != 0 {
            Halt::Ack
        } else {
            Halt::Other
        }
    }

    /// The error a halt means when it ends a transfer (None for progress).
    pub fn error(self) -> Option<UsbError> {
        match self {
            Halt::Complete | Halt::Ack | Halt::Nyet => None,
            Halt::Stall => Some(UsbError::Stall),
            Halt::Ahb => Some(UsbError::Dma),
            Halt::Babble => Some(UsbError::Babble),
            Halt::DataToggle => Some(UsbError::DataToggle),
            Halt::Nak => Some(UsbError::Nak),
            Halt::XactErr => Some(UsbError::Transaction),
            Halt::Other => Some(UsbError::Cancelled),
        }
    }
}

/// What the channel must do next for the current packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Step {
    /// Issue the start split; for periodic endpoints only in microframe `at`.
    Start {
        /// Microframe (0..8, `HFNUM & 7`) to enable the channel in, if any.
        at: Option<u8>,
    },
    /// Issue the complete split; for periodic endpoints only in microframe `at`.
    Complete {
        /// Microframe (0..8) to enable the channel in, if any.
        at: Option<u8>,
    },
    /// The packet went through (data moved as HCTSIZ says).
    Done,
    /// The packet failed; the transfer ends with this error.
    Fail(UsbError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
enum Phase {
    Start,
    Complete,
}

/// One packet's split transaction state (one per in-flight split transfer).
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct SplitState {
    periodic: bool,
    phase: Phase,
    errors: u8,
    nyets: u16,
    /// Complete-split tries left (periodic).
    tries: u8,
    /// Microframe of the last split we scheduled (periodic).
    uframe: u8,
}

/// The microframe a periodic start split should go out in, given the current
/// one: the next, but never 6 (its complete splits would run into the next
/// frame's start splits of the TT's budget; Circle does the same).
fn start_uframe(now: u8) -> u8 {
    let next = (now + 1) & 7;
    if next == 6 {
        7
    } else {
        next
    }
}

impl SplitState {
    /// A fresh packet for an endpoint that is `periodic` (interrupt) or not.
    pub fn new(periodic: bool) -> Self {
        Self {
            periodic,
            phase: Phase::Start,
            errors: 0,
            nyets: 0,
            tries: 0,
            uframe: 0,
        }
    }

    /// True while the next enable of the channel is a complete split.
    pub fn completing(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// The first step of a packet; `now` is the current microframe (`HFNUM & 7`).
    pub fn begin(&mut self, now: u8) -> Step {
        self.phase = Phase::Start;
        self.nyets = 0;
        self.schedule_start(now)
    }

    fn schedule_start(&mut self, now: u8) -> Step {
        self.phase = Phase::Start;
        if self.periodic {
            self.uframe = start_uframe(now & 7);
            Step::Start {
                at: Some(self.uframe),
            }
        } else {
            Step::Start { at: None }
        }
    }

    fn strike(&mut self, now: u8) -> Step {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            Step::Fail(UsbError::Transaction)
        } else {
            self.schedule_start(now)
        }
    }

    /// Feeds what the channel halted with; `now` is the current microframe.
    pub fn on_halt(&mut self, halt: Halt, now: u8) -> Step {
        match (self.phase, halt) {
            (_, Halt::Stall | Halt::Ahb | Halt::Babble | Halt::DataToggle | Halt::Other) => {
                Step::Fail(halt.error().unwrap_or(UsbError::Cancelled))
            }
            (_, Halt::XactErr) => self.strike(now),
            // The TT took the start split: complete splits follow.
            (Phase::Start, Halt::Ack | Halt::Complete) => {
                self.errors = 0;
                self.phase = Phase::Complete;
                self.nyets = 0;
                if self.periodic {
                    self.tries = if self.uframe == 5 { 2 } else { 3 };
                    self.uframe = (self.uframe + 2) & 7;
                    Step::Complete {
                        at: Some(self.uframe),
                    }
                } else {
                    Step::Complete { at: None }
                }
            }
            // The TT's buffers are full: try the start split again (a periodic
            // one at its next chance, which is the next poll interval).
            (Phase::Start, Halt::Nak) => {
                if self.periodic {
                    Step::Fail(UsbError::Nak)
                } else {
                    self.schedule_start(now)
                }
            }
            (Phase::Start, Halt::Nyet) => self.strike(now),
            (Phase::Complete, Halt::Complete) => {
                self.errors = 0;
                Step::Done
            }
            // Not finished in the TT yet.
            (Phase::Complete, Halt::Nyet | Halt::Ack) => {
                self.errors = 0;
                if self.periodic {
                    self.tries = self.tries.saturating_sub(1);
                    if self.tries == 0 {
                        // Missed the window: this interval's attempt is over.
                        return Step::Fail(UsbError::Nak);
                    }
                    self.uframe = (self.uframe + 1) & 7;
                    Step::Complete {
                        at: Some(self.uframe),
                    }
                } else {
                    self.nyets += 1;
                    if self.nyets >= MAX_NYETS {
                        Step::Fail(UsbError::Timeout)
                    } else {
                        Step::Complete { at: None }
                    }
                }
            }
            // The device NAKed the full/low-speed transaction.
            (Phase::Complete, Halt::Nak) => {
                self.errors = 0;
                if self.periodic {
                    Step::Fail(UsbError::Nak)
                } else {
                    self.schedule_start(now)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcsplt_carries_hub_address_port_and_phase() {
        let r = SplitRoute {
            hub_address: 5,
            port: 3,
        };
        assert_eq!(r.hcsplt(false), (1 << 31) | (3 << 14) | (5 << 7) | 3);
        assert_eq!(
            r.hcsplt(true),
            (1 << 31) | (1 << 16) | (3 << 14) | (5 << 7) | 3
        );
        // Fields are 7 bits wide: nothing spills into neighbours.
        let wide = SplitRoute {
            hub_address: 0xff,
            port: 0xff,
        }
        .hcsplt(false);
        assert_eq!(
            wide & (1 << 14 | 1 << 15 | 1 << 16 | 1 << 31),
            (3 << 14) | (1 << 31)
        );
    }

    #[test]
    fn hcint_decoding_prefers_completion_and_errors_over_handshakes() {
        assert_eq!(
            Halt::from_hcint(HCINT_XFERCOMPL | HCINT_ACK | 2),
            Halt::Complete
        );
        assert_eq!(Halt::from_hcint(HCINT_ACK | 2), Halt::Ack);
        assert_eq!(Halt::from_hcint(HCINT_NYET | 2), Halt::Nyet);
        assert_eq!(Halt::from_hcint(HCINT_NAK | 2), Halt::Nak);
        assert_eq!(Halt::from_hcint(HCINT_FRMOVRUN | 2), Halt::Nak);
        assert_eq!(Halt::from_hcint(HCINT_STALL | HCINT_NAK | 2), Halt::Stall);
        assert_eq!(
            Halt::from_hcint(HCINT_XACTERR | HCINT_NYET | 2),
            Halt::XactErr
        );
        assert_eq!(Halt::from_hcint(HCINT_BBLERR | 2), Halt::Babble);
        assert_eq!(Halt::from_hcint(2), Halt::Other);
    }

    /// §11.17: a bulk/control IN split: SSPLIT → ACK, CSPLIT → NYET (TT still
    /// busy), CSPLIT → DATA (complete).
    #[test]
    fn non_periodic_ssplit_ack_csplit_nyet_then_data() {
        let mut s = SplitState::new(false);
        assert_eq!(s.begin(0), Step::Start { at: None });
        assert_eq!(s.on_halt(Halt::Ack, 0), Step::Complete { at: None });
        assert!(s.completing());
        assert_eq!(s.on_halt(Halt::Nyet, 1), Step::Complete { at: None });
        assert_eq!(s.on_halt(Halt::Nyet, 2), Step::Complete { at: None });
        assert_eq!(s.on_halt(Halt::Complete, 3), Step::Done);
    }

    /// §11.17.1: a NAK to the complete split is the device's NAK; for bulk and
    /// control the host issues a new start split. A NAK to the start split
    /// means the TT has no buffer: repeat the start split.
    #[test]
    fn non_periodic_nak_restarts_the_start_split() {
        let mut s = SplitState::new(false);
        s.begin(0);
        assert_eq!(s.on_halt(Halt::Nak, 0), Step::Start { at: None });
        assert_eq!(s.on_halt(Halt::Ack, 0), Step::Complete { at: None });
        assert_eq!(s.on_halt(Halt::Nak, 1), Step::Start { at: None });
        assert!(!s.completing());
    }

    /// §11.17.1 / §11.18.8: three transaction errors in a row end the
    /// transfer; progress (an ACK or NYET) resets the count.
    #[test]
    fn three_strikes_fail_and_progress_resets_the_count() {
        let mut s = SplitState::new(false);
        s.begin(0);
        assert_eq!(s.on_halt(Halt::XactErr, 0), Step::Start { at: None });
        assert_eq!(s.on_halt(Halt::XactErr, 0), Step::Start { at: None });
        // Progress: the count starts again.
        assert_eq!(s.on_halt(Halt::Ack, 0), Step::Complete { at: None });
        // An error in the complete split restarts from the start split.
        assert_eq!(s.on_halt(Halt::XactErr, 1), Step::Start { at: None });
        assert_eq!(s.on_halt(Halt::XactErr, 1), Step::Start { at: None });
        assert_eq!(
            s.on_halt(Halt::XactErr, 1),
            Step::Fail(UsbError::Transaction)
        );
    }

    #[test]
    fn hard_errors_fail_at_once() {
        for (h, e) in [
            (Halt::Stall, UsbError::Stall),
            (Halt::Babble, UsbError::Babble),
            (Halt::DataToggle, UsbError::DataToggle),
            (Halt::Ahb, UsbError::Dma),
            (Halt::Other, UsbError::Cancelled),
        ] {
            let mut s = SplitState::new(false);
            s.begin(0);
            assert_eq!(s.on_halt(Halt::Ack, 0), Step::Complete { at: None });
            assert_eq!(s.on_halt(h, 1), Step::Fail(e));
        }
    }

    #[test]
    fn endless_nyets_are_bounded() {
        let mut s = SplitState::new(false);
        s.begin(0);
        s.on_halt(Halt::Ack, 0);
        let mut last = Step::Done;
        for _ in 0..MAX_NYETS {
            last = s.on_halt(Halt::Nyet, 0);
        }
        assert_eq!(last, Step::Fail(UsbError::Timeout));
    }

    /// §11.18.4: an interrupt start split in microframe Y is followed by
    /// complete splits from Y+2 on, one microframe apart; the TT answers NYET
    /// until the low-speed transaction has finished.
    #[test]
    fn periodic_complete_splits_follow_two_microframes_after_the_start() {
        let mut s = SplitState::new(true);
        assert_eq!(s.begin(0), Step::Start { at: Some(1) });
        assert_eq!(s.on_halt(Halt::Ack, 1), Step::Complete { at: Some(3) });
        assert_eq!(s.on_halt(Halt::Nyet, 3), Step::Complete { at: Some(4) });
        assert_eq!(s.on_halt(Halt::Complete, 4), Step::Done);
    }

    /// A periodic start split never goes out in microframe 6, and wraps
    /// around the frame's eight microframes.
    #[test]
    fn periodic_start_skips_microframe_six_and_wraps() {
        let mut s = SplitState::new(true);
        assert_eq!(s.begin(5), Step::Start { at: Some(7) });
        assert_eq!(s.on_halt(Halt::Ack, 7), Step::Complete { at: Some(1) });
        let mut s = SplitState::new(true);
        assert_eq!(s.begin(7), Step::Start { at: Some(0) });
        assert_eq!(s.begin(4), Step::Start { at: Some(5) });
    }

    /// The complete-split window is three microframes (two when the start
    /// split went out in microframe 5); NYET past it ends the attempt as a NAK
    /// so the endpoint is polled again at its next interval.
    #[test]
    fn periodic_nyet_past_the_window_ends_the_attempt() {
        let mut s = SplitState::new(true);
        s.begin(0);
        assert_eq!(s.on_halt(Halt::Ack, 1), Step::Complete { at: Some(3) });
        assert_eq!(s.on_halt(Halt::Nyet, 3), Step::Complete { at: Some(4) });
        assert_eq!(s.on_halt(Halt::Nyet, 4), Step::Complete { at: Some(5) });
        assert_eq!(s.on_halt(Halt::Nyet, 5), Step::Fail(UsbError::Nak));

        let mut s = SplitState::new(true);
        assert_eq!(s.begin(4), Step::Start { at: Some(5) });
        assert_eq!(s.on_halt(Halt::Ack, 5), Step::Complete { at: Some(7) });
        assert_eq!(s.on_halt(Halt::Nyet, 7), Step::Complete { at: Some(0) });
        assert_eq!(s.on_halt(Halt::Nyet, 0), Step::Fail(UsbError::Nak));
    }

    /// A keyboard with nothing to report NAKs the low-speed IN; the TT passes
    /// that on in the complete split: the interval's attempt ends with NAK.
    #[test]
    fn periodic_device_nak_ends_the_attempt() {
        let mut s = SplitState::new(true);
        s.begin(2);
        assert_eq!(s.on_halt(Halt::Ack, 3), Step::Complete { at: Some(5) });
        assert_eq!(s.on_halt(Halt::Nak, 5), Step::Fail(UsbError::Nak));
        // A NAK to a periodic start split (TT full) also waits for the next interval.
        let mut s = SplitState::new(true);
        s.begin(2);
        assert_eq!(s.on_halt(Halt::Nak, 3), Step::Fail(UsbError::Nak));
    }
}
