//! Capability words of a hello packet and what two peers share.

use crate::proto::*;

/// One side's capability bits (`uint32_t capabilities[USB_REDIR_CAPS_SIZE]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps(pub u32);

impl Caps {
    /// What barespice's usb-host side offers: device version in connect,
    /// filters, disconnect ack, endpoint max packet size, 64-bit ids and 32-bit
    /// bulk lengths (no bulk streams, no buffered bulk receiving).
    pub const OURS: Caps = Caps(
        1 << USB_REDIR_CAP_CONNECT_DEVICE_VERSION
            | 1 << USB_REDIR_CAP_FILTER
            | 1 << USB_REDIR_CAP_DEVICE_DISCONNECT_ACK
            | 1 << USB_REDIR_CAP_EP_INFO_MAX_PACKET_SIZE
            | 1 << USB_REDIR_CAP_64BITS_IDS
            | 1 << USB_REDIR_CAP_32BITS_BULK_LENGTH,
    );

    /// True when bit `cap` is set.
    pub fn has(self, cap: u32) -> bool {
        cap < 32 && self.0 & (1 << cap) != 0
    }

    /// The bits both sides have (a feature is used only when both do).
    pub fn shared(self, peer: Caps) -> Caps {
        Caps(self.0 & peer.0)
    }

    /// Packet header length with these shared capabilities.
    pub fn header_len(self) -> usize {
        if self.has(USB_REDIR_CAP_64BITS_IDS) {
            HEADER_64BIT_ID_LEN
        } else {
            HEADER_32BIT_ID_LEN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_and_shared() {
        assert_eq!(Caps::OURS.0, 0b0111_1110);
        let qemu = Caps(0xff);
        assert_eq!(Caps::OURS.shared(qemu), Caps::OURS);
        assert_eq!(Caps::OURS.shared(qemu).header_len(), 16);
        assert_eq!(Caps::OURS.shared(Caps(0)).header_len(), 12);
        assert!(!Caps(u32::MAX).has(40));
    }
}
