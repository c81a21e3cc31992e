//! xHCI slot and endpoint contexts (xHCI 1.2 §6.2): the field encodings the
//! driver writes into input contexts, and the small conversions around them
//! (Device Context Index, interval exponent, port speed ids).
//!
//! Owns: pure encodings, unit-tested on the host (board/host-tests). Must not:
//! touch memory or registers.

use usb_parse::{Direction, EndpointKind, Speed};

/// Slot context fields the driver fills in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotInfo {
    /// Route string (20 bits).
    pub route: u32,
    /// Speed id (1 FS, 2 LS, 3 HS, 4 SS).
    pub speed_id: u8,
    /// Root hub port number (1-based).
    pub root_port: u8,
    /// Highest Device Context Index in use (1 = only endpoint 0).
    pub context_entries: u8,
    /// For a hub: (number of ports, TT think time, multi-TT).
    pub hub: Option<(u8, u8, bool)>,
    /// For a LS/FS device behind a HS hub: (TT hub slot id, TT port number).
    pub tt: Option<(u8, u8)>,
}

/// The 8 dwords of a slot context.
pub fn slot_context(s: &SlotInfo) -> [u32; 8] {
    let mut c = [0u32; 8];
    c[0] = (s.route & 0xf_ffff)
        | (u32::from(s.speed_id & 0xf) << 20)
        | (u32::from(s.context_entries & 0x1f) << 27);
    c[1] = u32::from(s.root_port) << 16;
    if let Some((ports, think_time, multi)) = s.hub {
        c[0] |= 1 << 26;
        if multi {
            c[0] |= 1 << 25;
        }
        c[1] |= u32::from(ports) << 24;
        c[2] |= u32::from(think_time & 3) << 16;
    }
    if let Some((hub_slot, port)) = s.tt {
        c[2] |= u32::from(hub_slot) | (u32::from(port) << 8);
    }
    c
}

/// The xHCI endpoint type (endpoint context field EP Type).
pub fn endpoint_type(kind: EndpointKind, dir: Direction) -> u32 {
    match (kind, dir) {
        (EndpointKind::Control, _) => 4,
        (EndpointKind::Isochronous, Direction::Out) => 1,
        (EndpointKind::Bulk, Direction::Out) => 2,
        (EndpointKind::Interrupt, Direction::Out) => 3,
        (EndpointKind::Isochronous, Direction::In) => 5,
        (EndpointKind::Bulk, Direction::In) => 6,
        (EndpointKind::Interrupt, Direction::In) => 7,
    }
}

/// Device Context Index of endpoint `number` in direction `dir` (endpoint 0 is 1).
pub fn dci(number: u8, dir: Direction) -> u8 {
    if number == 0 {
        1
    } else {
        (number & 0xf) * 2 + u8::from(dir == Direction::In)
    }
}

/// The endpoint context Interval field: the period is 2^Interval × 125 µs
/// (xHCI 1.2 §6.2.3.6). High/SuperSpeed bInterval is already an exponent
/// (plus one); full/low-speed interrupt bInterval is in frames.
pub fn interval_exponent(speed: Speed, kind: EndpointKind, b_interval: u8) -> u8 {
    match (kind, speed) {
        (EndpointKind::Interrupt | EndpointKind::Isochronous, Speed::High | Speed::Super) => {
            b_interval.clamp(1, 16) - 1
        }
        (EndpointKind::Isochronous, _) => b_interval.clamp(1, 16) + 2,
        (EndpointKind::Interrupt, _) => {
            // frames × 8 microframes, rounded down to a power of two: 3..=10.
            let micro = u32::from(b_interval.max(1)) * 8;
            (31 - micro.leading_zeros()).clamp(3, 10) as u8
        }
        _ => 0,
    }
}

/// The 8 dwords of an endpoint context. `dequeue` is the transfer ring's bus
/// address with the cycle state in bit 0.
pub fn endpoint_context(
    kind: EndpointKind,
    dir: Direction,
    max_packet: u16,
    interval: u8,
    dequeue: u64,
) -> [u32; 8] {
    let mut c = [0u32; 8];
    c[0] = u32::from(interval) << 16;
    // CErr = 3 (three retries) for everything but isochronous.
    let cerr = if kind == EndpointKind::Isochronous {
        0
    } else {
        3
    };
    c[1] = (cerr << 1) | (endpoint_type(kind, dir) << 3) | (u32::from(max_packet) << 16);
    c[2] = dequeue as u32;
    c[3] = (dequeue >> 32) as u32;
    // Average TRB length: 8 for control (xHCI 1.2 §4.14.1.1), else a packet;
    // Max ESIT payload for periodic endpoints: one packet.
    let avg = if kind == EndpointKind::Control {
        8
    } else {
        u32::from(max_packet)
    };
    let esit = if matches!(kind, EndpointKind::Interrupt | EndpointKind::Isochronous) {
        u32::from(max_packet)
    } else {
        0
    };
    c[4] = avg | (esit << 16);
    c
}

/// Port speed id (PORTSC bits 13:10, default Protocol Speed IDs) as a speed.
pub fn speed_from_id(id: u32) -> Option<Speed> {
    match id {
        1 => Some(Speed::Full),
        2 => Some(Speed::Low),
        3 => Some(Speed::High),
        4 | 5 => Some(Speed::Super),
        _ => None,
    }
}

/// The slot context speed id of a speed.
pub fn speed_id(s: Speed) -> u8 {
    match s {
        Speed::Full => 1,
        Speed::Low => 2,
        Speed::High => 3,
        Speed::Super => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_context_of_a_full_speed_device_behind_a_high_speed_hub() {
        let s = SlotInfo {
            route: 0x21,
            speed_id: 1,
            root_port: 3,
            context_entries: 1,
            hub: None,
            tt: Some((5, 2)),
        };
        let c = slot_context(&s);
        assert_eq!(c[0], 0x21 | (1 << 20) | (1 << 27));
        assert_eq!(c[1], 3 << 16);
        assert_eq!(c[2], 5 | (2 << 8));
    }

    #[test]
    fn slot_context_of_a_multi_tt_hub() {
        let s = SlotInfo {
            route: 0,
            speed_id: 3,
            root_port: 1,
            context_entries: 3,
            hub: Some((4, 1, true)),
            tt: None,
        };
        let c = slot_context(&s);
        assert_eq!(c[0], (3 << 20) | (3 << 27) | (1 << 26) | (1 << 25));
        assert_eq!(c[1], (1 << 16) | (4 << 24));
        assert_eq!(c[2], 1 << 16);
    }

    #[test]
    fn dci_and_types() {
        assert_eq!(dci(0, Direction::Out), 1);
        assert_eq!(dci(0, Direction::In), 1);
        assert_eq!(dci(1, Direction::Out), 2);
        assert_eq!(dci(1, Direction::In), 3);
        assert_eq!(dci(15, Direction::In), 31);
        assert_eq!(endpoint_type(EndpointKind::Interrupt, Direction::In), 7);
        assert_eq!(endpoint_type(EndpointKind::Bulk, Direction::Out), 2);
    }

    #[test]
    fn intervals() {
        // FS keyboard, bInterval 10 ms: 80 microframes -> 2^6 = 64 (8 ms).
        assert_eq!(
            interval_exponent(Speed::Full, EndpointKind::Interrupt, 10),
            6
        );
        assert_eq!(interval_exponent(Speed::Low, EndpointKind::Interrupt, 1), 3);
        assert_eq!(
            interval_exponent(Speed::Full, EndpointKind::Interrupt, 255),
            10
        );
        // HS bInterval 4: 2^3 microframes.
        assert_eq!(
            interval_exponent(Speed::High, EndpointKind::Interrupt, 4),
            3
        );
        assert_eq!(interval_exponent(Speed::High, EndpointKind::Bulk, 4), 0);
    }

    #[test]
    fn endpoint_context_fields() {
        let c = endpoint_context(EndpointKind::Bulk, Direction::In, 512, 0, 0x1_0000_1001);
        assert_eq!(c[1], (3 << 1) | (6 << 3) | (512 << 16));
        assert_eq!((c[2], c[3]), (0x0000_1001, 1));
        assert_eq!(c[4], 512);
        let c = endpoint_context(EndpointKind::Interrupt, Direction::In, 8, 6, 0x2001);
        assert_eq!(c[0], 6 << 16);
        assert_eq!(c[4], 8 | (8 << 16));
        let c = endpoint_context(EndpointKind::Control, Direction::Out, 64, 0, 0x3001);
        assert_eq!(c[1] >> 3 & 7, 4);
        assert_eq!(c[4], 8);
    }

    #[test]
    fn speeds_round_trip() {
        for s in [Speed::Low, Speed::Full, Speed::High, Speed::Super] {
            assert_eq!(speed_from_id(u32::from(speed_id(s))), Some(s));
        }
        assert_eq!(speed_from_id(0), None);
    }
}
