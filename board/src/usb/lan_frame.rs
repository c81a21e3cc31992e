//! Wire formats of the SMSC LAN95xx (Pi 3B: LAN9514) and Microchip LAN78xx
//! (Pi 3B+: LAN7515) USB Ethernet controllers: the command words in front of
//! every transmitted frame, the status words in front of every received one,
//! and the encodings of the registers the drivers program (MAC address,
//! MII/PHY access, chip ID).
//!
//! Owns: those encodings, as pure functions. Must not: do I/O (the driver in
//! [`super::lan_eth`] does), or trust a received buffer: every length field is
//! checked against what actually arrived.
//!
//! References read (nothing copied): U-Boot `drivers/usb/eth/smsc95xx.c`
//! (TX command A/B with first/last segment bits, RX status word with frame
//! length and error summary, ADDRL/ADDRH byte order, MII_ADDR layout),
//! U-Boot `drivers/usb/eth/lan78xx.c`/`lan7x.c` and Circle
//! `lib/usb/lan7800.cpp` (TX command A with the FCS bit, the 10-byte RX command
//! A/B/C header, RX_CMD_A_RED, MII_ACC), Circle `lib/usb/smsc951x.cpp`.
//! Deliberate difference: received buffers may hold several frames (the
//! chips' multiple-frame mode) and are split here, each frame padded to a
//! 4-byte boundary after its header, as the Linux drivers document; Circle
//! turns that mode off.
//!
//! Status: written to the references, not yet run on hardware.

/// Bytes of the command words in front of a transmitted frame (both chips).
pub const TX_HEADER: usize = 8;
/// SMSC RX status word length.
pub const SMSC_RX_HEADER: usize = 4;
/// LAN78xx RX command A, B and C.
pub const LAN78XX_RX_HEADER: usize = 10;
/// Frame check sequence the chips leave at the end of a received frame.
pub const FCS: usize = 4;

const SMSC_TX_FIRST_SEG: u32 = 0x2000;
const SMSC_TX_LAST_SEG: u32 = 0x1000;
const SMSC_RX_LEN_SHIFT: u32 = 16;
const SMSC_RX_LEN_MASK: u32 = 0x3fff;
const SMSC_RX_ERROR_SUMMARY: u32 = 0x8000;
const LAN78XX_TX_FCS: u32 = 1 << 22;
const LAN78XX_TX_LEN_MASK: u32 = 0xf_ffff;
const LAN78XX_RX_LEN_MASK: u32 = 0x3fff;
const LAN78XX_RX_ERROR: u32 = 1 << 22;

/// Which controller: they differ in framing and registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Chip {
    /// SMSC LAN9512/9514/9500 family (`smsc95xx`).
    Smsc95xx,
    /// Microchip LAN7800/7515 family (`lan78xx`).
    Lan78xx,
}

impl Chip {
    /// Bytes of status in front of each received frame.
    pub fn rx_header(self) -> usize {
        match self {
            Chip::Smsc95xx => SMSC_RX_HEADER,
            Chip::Lan78xx => LAN78XX_RX_HEADER,
        }
    }

    /// The command words to put in front of a `len`-byte frame.
    pub fn tx_header(self, len: usize) -> [u8; TX_HEADER] {
        let len = len as u32;
        let (a, b) = match self {
            Chip::Smsc95xx => (len | SMSC_TX_FIRST_SEG | SMSC_TX_LAST_SEG, len),
            // The chip appends the FCS itself.
            Chip::Lan78xx => ((len & LAN78XX_TX_LEN_MASK) | LAN78XX_TX_FCS, 0),
        };
        let mut h = [0u8; TX_HEADER];
        h[..4].copy_from_slice(&a.to_le_bytes());
        h[4..].copy_from_slice(&b.to_le_bytes());
        h
    }

    /// Splits a received bulk transfer into frames (without FCS).
    pub fn rx_frames(self, buf: &[u8]) -> RxFrames<'_> {
        RxFrames {
            chip: self,
            rest: buf,
        }
    }

    /// The chip ID in ID_REV's upper half, and its revision in the lower.
    pub fn id_rev(v: u32) -> (u16, u16) {
        ((v >> 16) as u16, v as u16)
    }

    /// True when `chip_id` (ID_REV's upper half) is a chip of this family.
    pub fn accepts(self, chip_id: u16) -> bool {
        match self {
            // LAN9500(A), LAN9512/9514 (0xec00 family), LAN9530 etc.
            Chip::Smsc95xx => matches!(chip_id, 0x9500 | 0x9e00 | 0xec00 | 0x9530 | 0x9730),
            Chip::Lan78xx => matches!(chip_id, 0x7800 | 0x7850 | 0x7801),
        }
    }
}

/// One received frame or why it was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxFrame<'a> {
    /// A good frame, FCS removed.
    Frame(&'a [u8]),
    /// The chip flagged an error in the status word (the frame is skipped).
    Error(u32),
}

/// Iterator over the frames in one bulk IN transfer. Stops at the first
/// header whose length does not fit what arrived.
pub struct RxFrames<'a> {
    chip: Chip,
    rest: &'a [u8],
}

impl<'a> Iterator for RxFrames<'a> {
    type Item = RxFrame<'a>;

    fn next(&mut self) -> Option<RxFrame<'a>> {
        let hdr = self.chip.rx_header();
        let status = u32::from_le_bytes(self.rest.get(..4)?.try_into().ok()?);
        let (len, error) = match self.chip {
            Chip::Smsc95xx => (
                ((status >> SMSC_RX_LEN_SHIFT) & SMSC_RX_LEN_MASK) as usize,
                status & SMSC_RX_ERROR_SUMMARY != 0,
            ),
            Chip::Lan78xx => (
                (status & LAN78XX_RX_LEN_MASK) as usize,
                status & LAN78XX_RX_ERROR != 0,
            ),
        };
        let Some(frame) = self.rest.get(hdr..hdr + len) else {
            self.rest = &[];
            return None;
        };
        // The next header starts on a 4-byte boundary (after the 2 bytes of
        // padding the LAN78xx counts in front of the frame when aligning).
        let used = match self.chip {
            Chip::Smsc95xx => (hdr + len).next_multiple_of(4),
            Chip::Lan78xx => hdr + len + (4 - (len + 2) % 4) % 4,
        };
        self.rest = self.rest.get(used..).unwrap_or(&[]);
        if error || len < FCS {
            return Some(RxFrame::Error(status));
        }
        Some(RxFrame::Frame(&frame[..len - FCS]))
    }
}

/// The (low, high) MAC address register values: bytes 0-3 little endian in
/// the low register, bytes 4-5 in the high one (ADDRL/ADDRH, RX_ADDRL/H).
pub fn mac_regs(mac: &[u8; 6]) -> (u32, u32) {
    (
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        u32::from(u16::from_le_bytes([mac[4], mac[5]])),
    )
}

/// The MAC address the (low, high) registers hold.
pub fn mac_from_regs(lo: u32, hi: u32) -> [u8; 6] {
    let l = lo.to_le_bytes();
    let h = (hi as u16).to_le_bytes();
    [l[0], l[1], l[2], l[3], h[0], h[1]]
}

/// A usable unicast MAC: not all zeros, not all ones, not multicast.
pub fn mac_valid(mac: &[u8; 6]) -> bool {
    mac != &[0; 6] && mac != &[0xff; 6] && mac[0] & 1 == 0
}

/// MII access busy bit (both chips' MII_ADDR / MII_ACC).
pub const MII_BUSY: u32 = 1;
const MII_WRITE: u32 = 2;

/// The MII_ADDR / MII_ACC word for reading (`write == false`) or writing PHY
/// register `reg` of the PHY at `phy` (same layout on both chips).
pub fn mii_access(phy: u8, reg: u8, write: bool) -> u32 {
    (u32::from(phy & 0x1f) << 11)
        | (u32::from(reg & 0x1f) << 6)
        | if write { MII_WRITE } else { 0 }
        | MII_BUSY
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn smsc_tx_header_marks_one_whole_segment() {
        let h = Chip::Smsc95xx.tx_header(60);
        assert_eq!(u32::from_le_bytes(h[..4].try_into().unwrap()), 60 | 0x3000);
        assert_eq!(u32::from_le_bytes(h[4..].try_into().unwrap()), 60);
    }

    #[test]
    fn lan78xx_tx_header_asks_for_fcs() {
        let h = Chip::Lan78xx.tx_header(1514);
        assert_eq!(
            u32::from_le_bytes(h[..4].try_into().unwrap()),
            1514 | (1 << 22)
        );
        assert_eq!(&h[4..], &[0; 4]);
    }

    fn smsc_frame(payload: &[u8], error: bool) -> Vec<u8> {
        let len = (payload.len() + FCS) as u32;
        let mut v = ((len << 16) | if error { 0x8000 } else { 0 })
            .to_le_bytes()
            .to_vec();
        v.extend_from_slice(payload);
        v.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn smsc_rx_splits_padded_frames_and_flags_errors() {
        let mut buf = smsc_frame(&[1; 61], false);
        buf.extend(smsc_frame(&[2; 42], true));
        buf.extend(smsc_frame(&[3; 64], false));
        let got: Vec<_> = Chip::Smsc95xx.rx_frames(&buf).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], RxFrame::Frame(&[1; 61]));
        assert!(matches!(got[1], RxFrame::Error(_)));
        assert_eq!(got[2], RxFrame::Frame(&[3; 64]));
    }

    #[test]
    fn lan78xx_rx_header_is_ten_bytes_and_aligns_with_two_bytes_of_padding() {
        let payload = [7u8; 60];
        let len = (payload.len() + FCS) as u32;
        let mut buf = len.to_le_bytes().to_vec();
        buf.extend_from_slice(&[0; 6]); // command B and C
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(&[0; 4]); // FCS
                                        // (64 + 2) % 4 == 2: two bytes of padding before the next header.
        buf.extend_from_slice(&[0; 2]);
        let second = [9u8; 10];
        buf.extend_from_slice(&((second.len() + FCS) as u32 | (1 << 22)).to_le_bytes());
        buf.extend_from_slice(&[0; 6]);
        buf.extend_from_slice(&second);
        buf.extend_from_slice(&[0; 4]);
        let got: Vec<_> = Chip::Lan78xx.rx_frames(&buf).collect();
        assert_eq!(
            got,
            [RxFrame::Frame(&payload), RxFrame::Error(14 | (1 << 22))]
        );
    }

    #[test]
    fn rx_lengths_past_the_buffer_stop_the_split() {
        let mut buf = smsc_frame(&[1; 20], false);
        buf.extend_from_slice(&((2000u32 + 4) << 16).to_le_bytes());
        buf.extend_from_slice(&[0; 100]);
        let got: Vec<_> = Chip::Smsc95xx.rx_frames(&buf).collect();
        assert_eq!(got, [RxFrame::Frame(&[1; 20])]);
        // A runt shorter than its FCS is an error, not an underflow.
        let runt = 2u32.to_le_bytes();
        let mut b = runt.to_vec();
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&[0; 2]);
        assert!(matches!(
            Chip::Lan78xx.rx_frames(&b).next(),
            Some(RxFrame::Error(_))
        ));
        assert_eq!(Chip::Smsc95xx.rx_frames(&[1, 2]).next(), None);
    }

    #[test]
    fn mac_register_encoding_round_trips() {
        let mac = [0xb8, 0x27, 0xeb, 0x12, 0x34, 0x56];
        let (lo, hi) = mac_regs(&mac);
        assert_eq!(lo, 0x12eb_27b8);
        assert_eq!(hi, 0x5634);
        assert_eq!(mac_from_regs(lo, hi | 0xffff_0000), mac);
        assert!(mac_valid(&mac));
        assert!(!mac_valid(&[0; 6]));
        assert!(!mac_valid(&[0xff; 6]));
        assert!(!mac_valid(&[0x01, 0, 0x5e, 0, 0, 1]));
    }

    #[test]
    fn mii_access_word_layout() {
        assert_eq!(mii_access(1, 1, false), (1 << 11) | (1 << 6) | 1);
        assert_eq!(mii_access(1, 0, true), (1 << 11) | 2 | 1);
        assert_eq!(
            mii_access(0xff, 0xff, false),
            (0x1f << 11) | (0x1f << 6) | 1
        );
    }

    #[test]
    fn chip_id_decoding() {
        assert_eq!(Chip::id_rev(0xec00_0002), (0xec00, 2));
        assert!(Chip::Smsc95xx.accepts(0xec00));
        assert!(Chip::Lan78xx.accepts(0x7800));
        assert!(!Chip::Lan78xx.accepts(0xec00));
    }
}
