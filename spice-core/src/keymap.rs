//! PC/XT scan code set 1 for a US keyboard: characters and named keys to
//! key numbers, and the SPICE wire encoding of a key event.
//!
//! A key number is the set-1 make code, plus `0x100` for keys that need the
//! `E0` prefix (the convention spice-gtk uses). It owns only these tables
//! and the encoding; the guest applies its own layout, so text typed through
//! here comes out right only when the guest uses a US layout.

/// Flag for keys sent with the `E0` prefix.
pub const EXTENDED: u16 = 0x100;

/// Set-1 key numbers of the keys this client names.
#[allow(missing_docs)]
pub mod keys {
    use super::EXTENDED;
    pub const ESCAPE: u16 = 0x01;
    pub const BACKSPACE: u16 = 0x0E;
    pub const TAB: u16 = 0x0F;
    pub const ENTER: u16 = 0x1C;
    pub const LEFT_CTRL: u16 = 0x1D;
    pub const LEFT_SHIFT: u16 = 0x2A;
    pub const RIGHT_SHIFT: u16 = 0x36;
    pub const LEFT_ALT: u16 = 0x38;
    pub const SPACE: u16 = 0x39;
    pub const CAPS_LOCK: u16 = 0x3A;
    pub const F1: u16 = 0x3B;
    pub const F10: u16 = 0x44;
    pub const NUM_LOCK: u16 = 0x45;
    pub const SCROLL_LOCK: u16 = 0x46;
    pub const F11: u16 = 0x57;
    pub const F12: u16 = 0x58;
    pub const KP_ENTER: u16 = EXTENDED | 0x1C;
    pub const RIGHT_CTRL: u16 = EXTENDED | 0x1D;
    pub const RIGHT_ALT: u16 = EXTENDED | 0x38;
    pub const HOME: u16 = EXTENDED | 0x47;
    pub const UP: u16 = EXTENDED | 0x48;
    pub const PAGE_UP: u16 = EXTENDED | 0x49;
    pub const LEFT: u16 = EXTENDED | 0x4B;
    pub const RIGHT: u16 = EXTENDED | 0x4D;
    pub const END: u16 = EXTENDED | 0x4F;
    pub const DOWN: u16 = EXTENDED | 0x50;
    pub const PAGE_DOWN: u16 = EXTENDED | 0x51;
    pub const INSERT: u16 = EXTENDED | 0x52;
    pub const DELETE: u16 = EXTENDED | 0x53;
    pub const LEFT_META: u16 = EXTENDED | 0x5B;
    pub const RIGHT_META: u16 = EXTENDED | 0x5C;
    pub const MENU: u16 = EXTENDED | 0x5D;
}

/// The u32 carried by KEY_DOWN / KEY_UP for `key`: the make code, or the
/// break code (`| 0x80`) when `release`; an extended key puts `E0` in the
/// low byte and the code in the next (bytes `E0 xx` on the wire).
pub fn make_scancode(key: u16, release: bool) -> u32 {
    let code = (key & 0x7F) as u32 | if release { 0x80 } else { 0 };
    if key & EXTENDED != 0 {
        0xE0 | (code << 8)
    } else {
        code
    }
}

/// Unshifted and shifted characters per key, rows of the US layout.
const US_ROWS: &[(u16, &str, &str)] = &[
    (0x02, "1234567890-=", "!@#$%^&*()_+"),
    (0x10, "qwertyuiop[]", "QWERTYUIOP{}"),
    (0x1E, "asdfghjkl;'`", "ASDFGHJKL:\"~"),
    (0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
];

/// The key and whether Shift must be held to type `c` on a US keyboard.
/// Newline and carriage return map to Enter, tab to Tab.
pub fn char_to_key(c: char) -> Option<(u16, bool)> {
    match c {
        ' ' => return Some((keys::SPACE, false)),
        '\n' | '\r' => return Some((keys::ENTER, false)),
        '\t' => return Some((keys::TAB, false)),
        _ => {}
    }
    for &(first, plain, shifted) in US_ROWS {
        if let Some(i) = plain.chars().position(|p| p == c) {
            return Some((first + i as u16, false));
        }
        if let Some(i) = shifted.chars().position(|p| p == c) {
            return Some((first + i as u16, true));
        }
    }
    None
}

/// A named key ("Enter", "Backspace", "Up", "F5", "LeftCtrl", ...; case-insensitive).
pub fn named_key(name: &str) -> Option<u16> {
    use keys::*;
    const NAMES: &[(&str, u16)] = &[
        ("escape", ESCAPE),
        ("esc", ESCAPE),
        ("backspace", BACKSPACE),
        ("tab", TAB),
        ("enter", ENTER),
        ("return", ENTER),
        ("space", SPACE),
        ("leftctrl", LEFT_CTRL),
        ("ctrl", LEFT_CTRL),
        ("leftshift", LEFT_SHIFT),
        ("shift", LEFT_SHIFT),
        ("rightshift", RIGHT_SHIFT),
        ("leftalt", LEFT_ALT),
        ("alt", LEFT_ALT),
        ("rightalt", RIGHT_ALT),
        ("rightctrl", RIGHT_CTRL),
        ("capslock", CAPS_LOCK),
        ("numlock", NUM_LOCK),
        ("scrolllock", SCROLL_LOCK),
        ("kpenter", KP_ENTER),
        ("home", HOME),
        ("up", UP),
        ("pageup", PAGE_UP),
        ("left", LEFT),
        ("right", RIGHT),
        ("end", END),
        ("down", DOWN),
        ("pagedown", PAGE_DOWN),
        ("insert", INSERT),
        ("delete", DELETE),
        ("leftmeta", LEFT_META),
        ("rightmeta", RIGHT_META),
        ("menu", MENU),
    ];
    if let Some(&(_, k)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Some(k);
    }
    let n: u16 = name.strip_prefix(['F', 'f'])?.parse().ok()?;
    match n {
        1..=10 => Some(F1 + n - 1),
        11 => Some(F11),
        12 => Some(F12),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set1_codes_from_the_xt_table() {
        // Values from the IBM PC/XT scan code set 1 table.
        assert_eq!(char_to_key('a'), Some((0x1E, false)));
        assert_eq!(char_to_key('A'), Some((0x1E, true)));
        assert_eq!(char_to_key('1'), Some((0x02, false)));
        assert_eq!(char_to_key('0'), Some((0x0B, false)));
        assert_eq!(char_to_key(')'), Some((0x0B, true)));
        assert_eq!(char_to_key('q'), Some((0x10, false)));
        assert_eq!(char_to_key('p'), Some((0x19, false)));
        assert_eq!(char_to_key('z'), Some((0x2C, false)));
        assert_eq!(char_to_key('m'), Some((0x32, false)));
        assert_eq!(char_to_key('/'), Some((0x35, false)));
        assert_eq!(char_to_key('?'), Some((0x35, true)));
        assert_eq!(char_to_key('\\'), Some((0x2B, false)));
        assert_eq!(char_to_key('`'), Some((0x29, false)));
        assert_eq!(char_to_key('"'), Some((0x28, true)));
        assert_eq!(char_to_key(';'), Some((0x27, false)));
        assert_eq!(char_to_key(' '), Some((0x39, false)));
        assert_eq!(char_to_key('\n'), Some((0x1C, false)));
        assert_eq!(char_to_key('é'), None);
    }

    #[test]
    fn wire_encoding_matches_spice_make_scancode() {
        assert_eq!(make_scancode(0x1E, false), 0x1E);
        assert_eq!(make_scancode(0x1E, true), 0x9E);
        // Up arrow: E0 48 / E0 C8
        assert_eq!(make_scancode(keys::UP, false), 0x48E0);
        assert_eq!(make_scancode(keys::UP, true), 0xC8E0);
        assert_eq!(make_scancode(keys::RIGHT_CTRL, true), 0x9DE0);
    }

    #[test]
    fn named_keys() {
        assert_eq!(named_key("Enter"), Some(0x1C));
        assert_eq!(named_key("DOWN"), Some(EXTENDED | 0x50));
        assert_eq!(named_key("F1"), Some(0x3B));
        assert_eq!(named_key("f10"), Some(0x44));
        assert_eq!(named_key("F12"), Some(0x58));
        assert_eq!(named_key("F13"), None);
        assert_eq!(named_key("nope"), None);
    }
}
