//! Inputs-channel layouts (`InputsChannel` in `spice.proto`): the server's
//! INIT / KEY_MODIFIERS and the client's key and mouse messages.
//!
//! Owns byte layouts only; flow control and button state live in
//! [`crate::inputs`], scancode tables in [`crate::keymap`].

use crate::error::WireError;
use crate::wire::{Reader, Writer};
use alloc::vec::Vec;

/// Parse `SPICE_MSG_INPUTS_INIT` / `SPICE_MSG_INPUTS_KEY_MODIFIERS`
/// (`flags16 modifiers`, `SPICE_KEYBOARD_MODIFIER_FLAGS_*`).
pub fn parse_modifiers(body: &[u8]) -> Result<u16, WireError> {
    Reader::new(body).u16()
}

/// `SPICE_MSGC_INPUTS_KEY_DOWN` / `KEY_UP` body: `u32 code`.
pub fn key(code: u32) -> Vec<u8> {
    code.to_le_bytes().to_vec()
}

/// `SPICE_MSGC_INPUTS_KEY_MODIFIERS` body: `flags16 modifiers`.
pub fn key_modifiers(modifiers: u16) -> Vec<u8> {
    modifiers.to_le_bytes().to_vec()
}

/// `SPICE_MSGC_INPUTS_MOUSE_MOTION` body: `i32 dx, i32 dy, flags16 buttons`.
pub fn mouse_motion(dx: i32, dy: i32, buttons: u16) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(dx).i32(dy).u16(buttons);
    w.finish()
}

/// `SPICE_MSGC_INPUTS_MOUSE_POSITION` body: `u32 x, u32 y, flags16 buttons,
/// u8 display_id`.
pub fn mouse_position(x: u32, y: u32, buttons: u16, display_id: u8) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(x).u32(y).u16(buttons).u8(display_id);
    w.finish()
}

/// `SPICE_MSGC_INPUTS_MOUSE_PRESS` / `MOUSE_RELEASE` body: `u8 button,
/// flags16 buttons_state`.
pub fn mouse_button(button: u8, buttons: u16) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(button).u16(buttons);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_spice_proto() {
        assert_eq!(key(0x48E0), [0xE0, 0x48, 0, 0]);
        assert_eq!(key_modifiers(5), [5, 0]);
        assert_eq!(
            mouse_motion(-1, 2, 4),
            [0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 4, 0]
        );
        assert_eq!(
            mouse_position(640, 480, 1, 0),
            [0x80, 2, 0, 0, 0xE0, 1, 0, 0, 1, 0, 0]
        );
        assert_eq!(mouse_button(3, 4), [3, 4, 0]);
        assert_eq!(parse_modifiers(&[4, 0]), Ok(4));
        assert!(parse_modifiers(&[4]).is_err());
        crate::wire::testutil::fuzz_parser(2, parse_modifiers);
    }
}
