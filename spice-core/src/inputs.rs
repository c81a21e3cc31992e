//! The inputs channel's client logic: keyboard and mouse events out, lock
//! modifiers and motion ACKs in.
//!
//! Owns the button state, the keyboard-modifier state the server reports,
//! and mouse-motion flow control: the server acknowledges every
//! `SPICE_INPUT_MOTION_ACK_BUNCH` motion/position messages, and (like
//! spice-gtk) we keep at most twice that many unacknowledged; further
//! relative motion is summed and absolute positions are coalesced (latest
//! wins) until an ACK arrives. It must not know about host keyboards or
//! layouts beyond [`crate::keymap`].

use crate::enums::*;
use crate::error::WireError;
use crate::keymap::{self, make_scancode};
use crate::outbox::Outbox;
use crate::wire::inputs as w;
use alloc::vec::Vec;

/// Most motion/position messages in flight without a MOTION_ACK.
pub const MAX_UNACKED_MOTION: u32 = SPICE_INPUT_MOTION_ACK_BUNCH * 2;

/// Inputs channel state.
#[derive(Debug, Clone, Default)]
pub struct InputsChannel {
    /// `SPICE_KEYBOARD_MODIFIER_FLAGS_*` as last reported by the server.
    pub modifiers: u16,
    /// Currently pressed buttons (`SPICE_MOUSE_BUTTON_MASK_*`).
    pub buttons: u16,
    unacked: u32,
    pending_motion: Option<(i32, i32)>,
    pending_position: Option<(u32, u32, u8)>,
    /// Motion/position events merged away because of flow control.
    pub merged: u64,
}

/// `SPICE_MOUSE_BUTTON_MASK_*` bit for a `SPICE_MOUSE_BUTTON_*` number.
pub fn button_mask(button: u8) -> u16 {
    match button as u32 {
        SPICE_MOUSE_BUTTON_LEFT => SPICE_MOUSE_BUTTON_MASK_LEFT as u16,
        SPICE_MOUSE_BUTTON_MIDDLE => SPICE_MOUSE_BUTTON_MASK_MIDDLE as u16,
        SPICE_MOUSE_BUTTON_RIGHT => SPICE_MOUSE_BUTTON_MASK_RIGHT as u16,
        SPICE_MOUSE_BUTTON_UP => SPICE_MOUSE_BUTTON_MASK_UP as u16,
        SPICE_MOUSE_BUTTON_DOWN => SPICE_MOUSE_BUTTON_MASK_DOWN as u16,
        SPICE_MOUSE_BUTTON_SIDE => SPICE_MOUSE_BUTTON_MASK_SIDE as u16,
        SPICE_MOUSE_BUTTON_EXTRA => SPICE_MOUSE_BUTTON_MASK_EXTRA as u16,
        _ => 0,
    }
}

impl InputsChannel {
    /// A fresh inputs channel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Channel caps the client advertises on INPUTS (none: we send KEY_DOWN/UP).
    pub fn client_caps() -> Vec<u32> {
        Vec::new()
    }

    /// Handle one inputs-channel message (type > `SPICE_MSG_BASE_LAST`).
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        out: &mut Outbox,
    ) -> Result<(), WireError> {
        match msg_type {
            SPICE_MSG_INPUTS_INIT | SPICE_MSG_INPUTS_KEY_MODIFIERS => {
                self.modifiers = w::parse_modifiers(body)?;
            }
            SPICE_MSG_INPUTS_MOUSE_MOTION_ACK => {
                self.unacked = self.unacked.saturating_sub(SPICE_INPUT_MOTION_ACK_BUNCH);
                self.flush_pointer(out);
            }
            _ => {}
        }
        Ok(())
    }

    /// Key press of a set-1 key number (see [`crate::keymap`]).
    pub fn key_down(&mut self, key: u16, out: &mut Outbox) {
        out.push(
            SPICE_MSGC_INPUTS_KEY_DOWN,
            w::key(make_scancode(key, false)),
        );
    }

    /// Key release of a set-1 key number.
    pub fn key_up(&mut self, key: u16, out: &mut Outbox) {
        out.push(SPICE_MSGC_INPUTS_KEY_UP, w::key(make_scancode(key, true)));
    }

    /// Press and release `key`, holding Shift around it when `shift`.
    pub fn tap(&mut self, key: u16, shift: bool, out: &mut Outbox) {
        if shift {
            self.key_down(keymap::keys::LEFT_SHIFT, out);
        }
        self.key_down(key, out);
        self.key_up(key, out);
        if shift {
            self.key_up(keymap::keys::LEFT_SHIFT, out);
        }
    }

    /// Type `text` as a US keyboard would; returns how many characters had
    /// no key and were skipped.
    pub fn type_text(&mut self, text: &str, out: &mut Outbox) -> usize {
        let mut skipped = 0;
        for c in text.chars() {
            match keymap::char_to_key(c) {
                Some((k, shift)) => self.tap(k, shift, out),
                None => skipped += 1,
            }
        }
        skipped
    }

    /// Tell the server the client's lock-key state.
    pub fn set_modifiers(&mut self, modifiers: u16, out: &mut Outbox) {
        out.push(SPICE_MSGC_INPUTS_KEY_MODIFIERS, w::key_modifiers(modifiers));
    }

    fn can_send(&self) -> bool {
        self.unacked < MAX_UNACKED_MOTION
    }

    fn flush_pointer(&mut self, out: &mut Outbox) {
        if self.can_send() {
            if let Some((dx, dy)) = self.pending_motion.take() {
                out.push(
                    SPICE_MSGC_INPUTS_MOUSE_MOTION,
                    w::mouse_motion(dx, dy, self.buttons),
                );
                self.unacked += 1;
            }
        }
        if self.can_send() {
            if let Some((x, y, d)) = self.pending_position.take() {
                out.push(
                    SPICE_MSGC_INPUTS_MOUSE_POSITION,
                    w::mouse_position(x, y, self.buttons, d),
                );
                self.unacked += 1;
            }
        }
    }

    /// Relative motion (server mouse mode). Summed with any motion still
    /// held back by flow control.
    pub fn mouse_motion(&mut self, dx: i32, dy: i32, out: &mut Outbox) {
        if dx == 0 && dy == 0 {
            return;
        }
        let (px, py) = self.pending_motion.unwrap_or((0, 0));
        if self.pending_motion.is_some() {
            self.merged += 1;
        }
        self.pending_motion = Some((px.saturating_add(dx), py.saturating_add(dy)));
        self.flush_pointer(out);
    }

    /// Absolute position (client mouse mode) on display `display_id`.
    pub fn mouse_position(&mut self, x: u32, y: u32, display_id: u8, out: &mut Outbox) {
        if self.pending_position.is_some() {
            self.merged += 1;
        }
        self.pending_position = Some((x, y, display_id));
        self.flush_pointer(out);
    }

    /// Button press (`SPICE_MOUSE_BUTTON_*`). Held-back motion is sent first
    /// regardless of flow control, so the click lands where the pointer is.
    pub fn mouse_press(&mut self, button: u8, out: &mut Outbox) {
        self.force_flush(out);
        self.buttons |= button_mask(button);
        out.push(
            SPICE_MSGC_INPUTS_MOUSE_PRESS,
            w::mouse_button(button, self.buttons),
        );
    }

    /// Button release (`SPICE_MOUSE_BUTTON_*`).
    pub fn mouse_release(&mut self, button: u8, out: &mut Outbox) {
        self.force_flush(out);
        self.buttons &= !button_mask(button);
        out.push(
            SPICE_MSGC_INPUTS_MOUSE_RELEASE,
            w::mouse_button(button, self.buttons),
        );
    }

    fn force_flush(&mut self, out: &mut Outbox) {
        let saved = self.unacked;
        self.unacked = 0;
        self.flush_pointer(out);
        self.unacked = saved.saturating_add(self.unacked);
    }

    /// Motion/position messages sent and not yet acknowledged.
    pub fn unacked_motion(&self) -> u32 {
        self.unacked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymap::keys;

    fn drain(out: &mut Outbox) -> Vec<(u16, Vec<u8>)> {
        out.drain().collect()
    }

    #[test]
    fn typing_uses_shift_and_break_codes() {
        let mut i = InputsChannel::new();
        let mut out = Outbox::new();
        assert_eq!(i.type_text("aA€", &mut out), 1);
        let msgs = drain(&mut out);
        let expect = [
            (SPICE_MSGC_INPUTS_KEY_DOWN, 0x1E),
            (SPICE_MSGC_INPUTS_KEY_UP, 0x9E),
            (SPICE_MSGC_INPUTS_KEY_DOWN, 0x2A),
            (SPICE_MSGC_INPUTS_KEY_DOWN, 0x1E),
            (SPICE_MSGC_INPUTS_KEY_UP, 0x9E),
            (SPICE_MSGC_INPUTS_KEY_UP, 0xAA),
        ];
        assert_eq!(msgs.len(), expect.len());
        for ((t, b), (et, ec)) in msgs.iter().zip(expect) {
            assert_eq!(*t, et);
            assert_eq!(b[..], (ec as u32).to_le_bytes());
        }
        i.key_down(keys::LEFT, &mut out);
        assert_eq!(drain(&mut out)[0].1, [0xE0, 0x4B, 0, 0]);
    }

    #[test]
    fn motion_flow_control_merges_until_ack() {
        let mut i = InputsChannel::new();
        let mut out = Outbox::new();
        for _ in 0..20 {
            i.mouse_motion(1, 2, &mut out);
        }
        let sent = drain(&mut out);
        assert_eq!(sent.len(), MAX_UNACKED_MOTION as usize);
        assert_eq!(
            sent[0],
            (SPICE_MSGC_INPUTS_MOUSE_MOTION, w::mouse_motion(1, 2, 0))
        );
        // one ACK frees a bunch: the 12 held-back motions go out as one message
        i.handle(SPICE_MSG_INPUTS_MOUSE_MOTION_ACK, &[], &mut out)
            .unwrap();
        assert_eq!(
            drain(&mut out),
            [(SPICE_MSGC_INPUTS_MOUSE_MOTION, w::mouse_motion(12, 24, 0))]
        );
        assert_eq!(
            i.unacked_motion(),
            MAX_UNACKED_MOTION - SPICE_INPUT_MOTION_ACK_BUNCH + 1
        );
    }

    #[test]
    fn positions_coalesce_and_buttons_carry_state() {
        let mut i = InputsChannel::new();
        let mut out = Outbox::new();
        for x in 0..10 {
            i.mouse_position(x, 5, 0, &mut out);
        }
        assert_eq!(drain(&mut out).len(), MAX_UNACKED_MOTION as usize);
        // press: the latest held-back position is sent first, then the press with LEFT set
        i.mouse_press(SPICE_MOUSE_BUTTON_LEFT as u8, &mut out);
        let m = drain(&mut out);
        assert_eq!(
            m[0],
            (
                SPICE_MSGC_INPUTS_MOUSE_POSITION,
                w::mouse_position(9, 5, 0, 0)
            )
        );
        assert_eq!(m[1], (SPICE_MSGC_INPUTS_MOUSE_PRESS, alloc::vec![1, 1, 0]));
        i.mouse_release(SPICE_MOUSE_BUTTON_LEFT as u8, &mut out);
        assert_eq!(
            drain(&mut out),
            [(SPICE_MSGC_INPUTS_MOUSE_RELEASE, alloc::vec![1, 0, 0])]
        );
    }

    #[test]
    fn server_messages() {
        let mut i = InputsChannel::new();
        let mut out = Outbox::new();
        i.handle(SPICE_MSG_INPUTS_INIT, &[2, 0], &mut out).unwrap();
        assert_eq!(i.modifiers, SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK as u16);
        assert!(i
            .handle(SPICE_MSG_INPUTS_KEY_MODIFIERS, &[], &mut out)
            .is_err());
        i.handle(SPICE_MSG_INPUTS_MOUSE_MOTION_ACK, &[], &mut out)
            .unwrap();
        assert_eq!(i.unacked_motion(), 0);
    }
}
