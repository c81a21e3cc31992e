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
