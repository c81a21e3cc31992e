//! Linux evdev key codes (what virtio-input reports) to PC/AT set-1 key
//! numbers as spice-core's `keymap` defines them (make code, plus
//! `keymap::EXTENDED` for E0-prefixed keys). spice-core turns a key number
//! into the bytes on the wire; this table only says which key is which.
//! Must not: encode scancodes itself.

use spice_core::keymap::{keys, EXTENDED};

/// evdev codes 1..=88 are numbered like set 1 (KEY_ESC = 1 ... KEY_F12 = 88).
const LAST_DIRECT: u16 = 88;

/// Set-1 key number for an evdev key code, if the key has one.
pub fn evdev_to_key(code: u16) -> Option<u16> {
    Some(match code {
        1..=LAST_DIRECT => code,
        96 => keys::KP_ENTER,
        97 => keys::RIGHT_CTRL,
        98 => EXTENDED | 0x35, // KEY_KPSLASH
        99 => EXTENDED | 0x37, // KEY_SYSRQ (Print Screen)
        100 => keys::RIGHT_ALT,
        102 => keys::HOME,
        103 => keys::UP,
        104 => keys::PAGE_UP,
        105 => keys::LEFT,
        106 => keys::RIGHT,
        107 => keys::END,
        108 => keys::DOWN,
        109 => keys::PAGE_DOWN,
        110 => keys::INSERT,
        111 => keys::DELETE,
        119 => EXTENDED | 0x45, // KEY_PAUSE (approximation; real Pause is E1 1D 45)
        125 => keys::LEFT_META,
        126 => keys::RIGHT_META,
        127 => keys::MENU,
        _ => return None,
    })
}

/// Set-1 key number for a USB HID keyboard usage (HID Usage Tables, page 0x07),
/// through the evdev code Linux assigns the same key.
pub fn hid_to_key(usage: u16) -> Option<u16> {
    evdev_to_key(hid_to_evdev(usage)?)
}

/// evdev key code of a HID keyboard-page usage (0x04 = A ... 0xE7 = Right GUI).
fn hid_to_evdev(usage: u16) -> Option<u16> {
    // Letters a..z (usages 0x04..=0x1D) in alphabetical order.
    const LETTERS: [u16; 26] = [
        30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17,
        45, 21, 44,
    ];
    // Usages 0x28..=0x38: Enter, Esc, Backspace, Tab, Space, - = [ ] \ non-US-# ; ' ` , . /
    const PUNCT: [u16; 17] = [
        28, 1, 14, 15, 57, 12, 13, 26, 27, 43, 43, 39, 40, 41, 51, 52, 53,
    ];
    // Usages 0x46..=0x63: PrintScreen, ScrollLock, Pause, Insert, Home, PageUp,
    // Delete, End, PageDown, Right, Left, Down, Up, NumLock, KP / * - + Enter 1..9 0 .
    const NAV_KP: [u16; 30] = [
        99, 70, 119, 110, 102, 104, 111, 107, 109, 106, 105, 108, 103, 69, 98, 55, 74, 78, 96, 79,
        80, 81, 75, 76, 77, 71, 72, 73, 82, 83,
    ];
    // Usages 0xE0..=0xE7: left Ctrl Shift Alt GUI, right Ctrl Shift Alt GUI.
    const MODIFIERS: [u16; 8] = [29, 42, 56, 125, 97, 54, 100, 126];
    let u = usize::from(usage);
    Some(match usage {
        0x04..=0x1d => LETTERS[u - 0x04],
        0x1e..=0x26 => usage - 0x1e + 2, // 1..9
        0x27 => 11,                      // 0
        0x28..=0x38 => PUNCT[u - 0x28],
        0x39 => 58,                       // Caps Lock
        0x3a..=0x43 => usage - 0x3a + 59, // F1..F10
        0x44 => 87,                       // F11
        0x45 => 88,                       // F12
        0x46..=0x63 => NAV_KP[u - 0x46],
        0x64 => 86,  // non-US \ and |
        0x65 => 127, // Application (Menu)
        0xe0..=0xe7 => MODIFIERS[u - 0xe0],
        _ => return None,
    })
}
