//! HID reports: the keyboard boot report and report-descriptor-driven pointer
//! reports (HID 1.11), decoded into [`UsbInput`].
//!
//! Owns: diffing boot keyboard reports (8 bytes: modifiers, reserved, six
//! usages) into key down/up events, a small report-descriptor parser that finds
//! the buttons, X, Y and wheel fields of a pointer (relative or absolute), and
//! decoding such reports. Must not: trust descriptors or reports (they come from
//! the device): every field position is checked against the report length, and
//! a descriptor the parser does not understand yields `None`. No I/O.

use crate::{UsbInput, ABS_MAX};

/// True for the "phantom" report a keyboard sends when too many keys are down.
pub fn is_rollover_error(r: &[u8; 8]) -> bool {
    r[2..].iter().all(|&k| k == 0x01)
}

/// Emits key events for the difference between two boot reports: releases first,
/// then presses, modifiers as usages 0xE0..=0xE7.
pub fn keyboard_diff(old: &[u8; 8], new: &[u8; 8], emit: &mut dyn FnMut(UsbInput)) {
    if is_rollover_error(new) {
        return;
    }
    for bit in 0..8u8 {
        let (was, is) = (old[0] & (1 << bit) != 0, new[0] & (1 << bit) != 0);
        if was && !is {
            emit(UsbInput::Key {
                usage: 0xe0 + bit,
                pressed: false,
            });
        }
    }
    for &k in &old[2..] {
        if k > 3 && !new[2..].contains(&k) {
            emit(UsbInput::Key {
                usage: k,
                pressed: false,
            });
        }
    }
    for bit in 0..8u8 {
        let (was, is) = (old[0] & (1 << bit) != 0, new[0] & (1 << bit) != 0);
        if is && !was {
            emit(UsbInput::Key {
                usage: 0xe0 + bit,
                pressed: true,
            });
        }
    }
    for &k in &new[2..] {
        if k > 3 && !old[2..].contains(&k) {
            emit(UsbInput::Key {
                usage: k,
                pressed: true,
            });
        }
    }
}

/// Where one value sits in a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Field {
    /// Bit offset from the start of the report data (after any report ID byte).
    pub bit: u32,
    /// Width in bits (1..=32).
    pub size: u32,
    /// Logical minimum.
    pub min: i32,
    /// Logical maximum.
    pub max: i32,
}

impl Field {
    /// Extracts the value from `data` (little-endian bit order), sign-extending
    /// when the logical minimum is negative; `None` if the report is too short.
    pub fn read(&self, data: &[u8]) -> Option<i32> {
        if self.size == 0 || self.size > 32 {
            return None;
        }
        let last_bit = self.bit.checked_add(self.size)?;
        if last_bit.div_ceil(8) as usize > data.len() {
            return None;
        }
        let mut v: u64 = 0;
        for i in 0..self.size {
            let b = self.bit + i;
            if data[(b / 8) as usize] & (1 << (b % 8)) != 0 {
                v |= 1 << i;
            }
        }
        if self.min < 0 && self.size < 32 && v & (1 << (self.size - 1)) != 0 {
            v |= !0u64 << self.size;
        }
        Some(v as u32 as i32)
    }
}

/// The pointer fields found in a report descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PointerLayout {
    /// Report ID of the report carrying X/Y (0: the device uses no IDs).
    pub report_id: u8,
    /// Buttons 1..=3 (left, right, middle).
    pub buttons: [Option<Field>; 3],
    /// X axis.
    pub x: Field,
    /// Y axis.
    pub y: Field,
    /// Wheel.
    pub wheel: Option<Field>,
    /// True when X/Y are absolute positions (tablets), false for motion (mice).
    pub absolute: bool,
}

const PAGE_GENERIC_DESKTOP: u32 = 0x01;
const PAGE_BUTTON: u32 = 0x09;
const USAGE_X: u32 = 0x30;
const USAGE_Y: u32 = 0x31;
const USAGE_WHEEL: u32 = 0x38;

impl PointerLayout {
    /// Parses a HID report descriptor (HID 1.11 §6.2.2) and returns the X/Y,
    /// wheel and button fields of the first report that has both X and Y.
    pub fn parse(rd: &[u8]) -> Option<PointerLayout> {
        #[derive(Clone, Copy, Default)]
        struct Globals {
            page: u32,
            min: i32,
            max: i32,
            size: u32,
            count: u32,
            id: u8,
        }
        let mut g = Globals::default();
        let mut stack: [Globals; 4] = [Globals::default(); 4];
        let mut depth = 0usize;
        let mut usages: [u32; 16] = [0; 16];
        let mut n_usages = 0usize;
        let (mut umin, mut umax): (Option<u32>, Option<u32>) = (None, None);
        // Bit offsets per report ID (IDs are small in practice; others are ignored).
        let mut offsets = [0u32; 16];
        let mut found: [Option<PointerLayout>; 16] = [None; 16];
        let mut i = 0usize;
        while i < rd.len() {
            let prefix = rd[i];
            if prefix == 0xfe {
                // Long item: prefix, size, tag, data.
                let size = usize::from(*rd.get(i + 1)?);
                i += 3 + size;
                continue;
            }
            let size = match prefix & 3 {
                3 => 4,
                s => usize::from(s),
            };
            let data = rd.get(i + 1..i + 1 + size)?;
            i += 1 + size;
            let mut u: u32 = 0;
            for (k, b) in data.iter().enumerate() {
                u |= u32::from(*b) << (8 * k);
            }
            let s: i32 = match size {
                1 => i32::from(u as u8 as i8),
                2 => i32::from(u as u16 as i16),
                _ => u as i32,
            };
            let kind = (prefix >> 2) & 3;
            let tag = prefix >> 4;
            match (kind, tag) {
                // Main items.
                (0, 0x8) => {
                    let slot = usize::from(g.id) % offsets.len();
                    let constant = u & 1 != 0;
                    let relative = u & 4 != 0;
                    for k in 0..g.count.min(64) {
                        let usage = if n_usages > 0 {
                            usages[(k as usize).min(n_usages - 1)]
                        } else if let (Some(lo), Some(hi)) = (umin, umax) {
                            let full = lo.saturating_add(k);
                            if (full & 0xffff) > (hi & 0xffff) {
                                0
                            } else {
                                full
                            }
                        } else {
                            0
                        };
                        let field = Field {
                            bit: offsets[slot],
                            size: g.size,
                            min: g.min,
                            max: g.max,
                        };
                        offsets[slot] = offsets[slot].saturating_add(g.size);
                        if constant {
                            continue;
                        }
                        let (page, id) = if usage > 0xffff {
                            (usage >> 16, usage & 0xffff)
                        } else {
                            (g.page, usage)
                        };
                        let entry = found[slot].get_or_insert(PointerLayout {
                            report_id: g.id,
                            ..Default::default()
                        });
                        match (page, id) {
                            (PAGE_GENERIC_DESKTOP, USAGE_X) => {
                                entry.x = field;
                                entry.absolute = !relative;
                            }
                            (PAGE_GENERIC_DESKTOP, USAGE_Y) => entry.y = field,
                            (PAGE_GENERIC_DESKTOP, USAGE_WHEEL) => entry.wheel = Some(field),
                            (PAGE_BUTTON, b @ 1..=3) => {
                                entry.buttons[(b - 1) as usize] = Some(field)
                            }
                            _ => {}
                        }
                    }
                    n_usages = 0;
                    umin = None;
                    umax = None;
                }
                (0, _) => {
                    // Output, Feature, Collection, End Collection: locals reset.
                    n_usages = 0;
                    umin = None;
                    umax = None;
                }
                // Global items.
                (1, 0x0) => g.page = u,
                (1, 0x1) => g.min = s,
                (1, 0x2) => g.max = if g.min >= 0 { u as i32 } else { s },
                (1, 0x7) => g.size = u.min(32),
                (1, 0x8) => g.id = u as u8,
                (1, 0x9) => g.count = u,
                (1, 0xa) if depth < stack.len() => {
                    stack[depth] = g;
                    depth += 1;
                }
                (1, 0xb) if depth > 0 => {
                    depth -= 1;
                    g = stack[depth];
                }
                // Local items: a 4-byte usage carries its own page.
                (2, 0x0) => {
                    let full = if size == 4 { u } else { (g.page << 16) | u };
                    if n_usages < usages.len() {
                        usages[n_usages] = full;
                        n_usages += 1;
                    }
                }
                (2, 0x1) => umin = Some(if size == 4 { u } else { (g.page << 16) | u }),
                (2, 0x2) => umax = Some(if size == 4 { u } else { (g.page << 16) | u }),
                _ => {}
            }
        }
        found
            .iter()
            .flatten()
            .find(|l| l.x.size > 0 && l.y.size > 0)
            .copied()
    }

    /// Decodes one report (`data` as received, including the report ID byte when
    /// the device uses IDs). `None` for reports of other IDs or too short.
    pub fn decode(&self, data: &[u8]) -> Option<UsbInput> {
        let body = if self.report_id != 0 {
            if *data.first()? != self.report_id {
                return None;
            }
            &data[1..]
        } else {
            data
        };
        let mut buttons = 0u8;
        for (k, b) in self.buttons.iter().enumerate() {
            if let Some(f) = b {
                if f.read(body)? != 0 {
                    buttons |= 1 << k;
                }
            }
        }
        let wheel = match self.wheel {
            Some(f) => f.read(body)?.clamp(-127, 127) as i8,
            None => 0,
        };
        let x = self.x.read(body)?;
        let y = self.y.read(body)?;
        Some(if self.absolute {
            UsbInput::PointerAbsolute {
                x: scale(x, &self.x),
                y: scale(y, &self.y),
                wheel,
                buttons,
            }
        } else {
            UsbInput::PointerRelative {
                dx: x.clamp(i16::MIN.into(), i16::MAX.into()) as i16,
                dy: y.clamp(i16::MIN.into(), i16::MAX.into()) as i16,
                wheel,
                buttons,
            }
        })
    }
}

/// Maps a logical value onto 0..=ABS_MAX.
fn scale(v: i32, f: &Field) -> u16 {
    let (lo, hi) = (i64::from(f.min), i64::from(f.max));
    if hi <= lo {
        return 0;
    }
    let v = i64::from(v).clamp(lo, hi);
    ((v - lo) * i64::from(ABS_MAX) / (hi - lo)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    // The report descriptor of a tablet: 3 buttons + 5 bits padding, 16-bit
    // absolute X and Y with logical range 0..32767, 8-bit relative wheel -127..127
    // (HID 1.11 items written out from the item table of §6.2.2).
    const TABLET: [u8; 74] = [
        0x05, 0x01, 0x09, 0x01, 0xa1, 0x01, 0x09, 0x01, 0xa1,
        0x00, // page GD, usage pointer, collections
        0x05, 0x09, 0x19, 0x01, 0x29, 0x03, 0x15, 0x00, 0x25,
        0x01, // buttons 1..3, logical 0..1
        0x95, 0x03, 0x75, 0x01, 0x81, 0x02, // 3 x 1 bit, input data var abs
        0x95, 0x01, 0x75, 0x05, 0x81, 0x01, // 5 bits constant
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, // page GD, X, Y
        0x15, 0x00, 0x26, 0xff, 0x7f, 0x35, 0x00, 0x46, 0xff,
        0x7f, // logical/physical 0..0x7fff
        0x75, 0x10, 0x95, 0x02, 0x81, 0x02, // 2 x 16 bits, abs
        0x05, 0x01, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x35, 0x00, 0x45,
        0x00, // wheel -127..127
        0x75, 0x08, 0x95, 0x01, 0x81, 0x06, // 1 x 8 bits, relative
        0xc0, 0xc0,
    ];

    // A relative mouse with a report ID 2: buttons, then X/Y/wheel as 8-bit relative.
    const MOUSE_WITH_ID: [u8; 54] = [
        0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x85, 0x02, 0x09, 0x01, 0xa1, 0x00, //
        0x05, 0x09, 0x19, 0x01, 0x29, 0x03, 0x15, 0x00, 0x25, 0x01, //
        0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x01, //
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, //
        0x75, 0x08, 0x95, 0x03, 0x81, 0x06, 0xc0, 0xc0,
    ];

    #[test]
    fn tablet_layout_and_report() {
        let l = PointerLayout::parse(&TABLET).unwrap();
        assert!(l.absolute);
        assert_eq!(l.report_id, 0);
        assert_eq!((l.x.bit, l.x.size, l.x.max), (8, 16, 0x7fff));
        assert_eq!((l.y.bit, l.y.size), (24, 16));
        assert_eq!(l.wheel.map(|w| (w.bit, w.size)), Some((40, 8)));
        // Left button, X = 0x4000, Y = 0x7fff, wheel -1.
        let ev = l.decode(&[0x01, 0x00, 0x40, 0xff, 0x7f, 0xff]).unwrap();
        assert_eq!(
            ev,
            UsbInput::PointerAbsolute {
                x: 0x4000,
                y: 0x7fff,
                wheel: -1,
                buttons: 1
            }
        );
        assert_eq!(l.decode(&[0x01, 0x00, 0x40]), None);
    }

    #[test]
    fn relative_mouse_with_report_id() {
        let l = PointerLayout::parse(&MOUSE_WITH_ID).unwrap();
        assert!(!l.absolute);
        assert_eq!(l.report_id, 2);
        let ev = l.decode(&[0x02, 0x02, 0xfe, 0x05, 0x01]).unwrap();
        assert_eq!(
            ev,
            UsbInput::PointerRelative {
                dx: -2,
                dy: 5,
                wheel: 1,
                buttons: 2
            }
        );
        assert_eq!(l.decode(&[0x01, 0x02, 0xfe, 0x05, 0x01]), None);
    }

    #[test]
    fn garbage_descriptors_do_not_panic() {
        for len in 0..TABLET.len() {
            let _ = PointerLayout::parse(&TABLET[..len]);
        }
        assert_eq!(PointerLayout::parse(&[0xfe, 0xff]), None);
        assert_eq!(
            PointerLayout::parse(&[0x75, 0xff, 0x95, 0xff, 0x81, 0x02]),
            None
        );
    }

    #[test]
    fn keyboard_boot_report_diff() {
        let mut ev = Vec::new();
        // Left shift + 'a' (0x04) down.
        keyboard_diff(&[0; 8], &[0x02, 0, 0x04, 0, 0, 0, 0, 0], &mut |e| {
            ev.push(e)
        });
        assert_eq!(
            ev,
            [
                UsbInput::Key {
                    usage: 0xe1,
                    pressed: true
                },
                UsbInput::Key {
                    usage: 0x04,
                    pressed: true
                }
            ]
        );
        ev.clear();
        // 'a' up, 'b' (0x05) down, shift still held.
        keyboard_diff(
            &[0x02, 0, 0x04, 0, 0, 0, 0, 0],
            &[0x02, 0, 0x05, 0, 0, 0, 0, 0],
            &mut |e| ev.push(e),
        );
        assert_eq!(
            ev,
            [
                UsbInput::Key {
                    usage: 0x04,
                    pressed: false
                },
                UsbInput::Key {
                    usage: 0x05,
                    pressed: true
                }
            ]
        );
        ev.clear();
        // Rollover error reports change nothing.
        keyboard_diff(&[0; 8], &[0, 0, 1, 1, 1, 1, 1, 1], &mut |e| ev.push(e));
        assert!(ev.is_empty());
    }
}
