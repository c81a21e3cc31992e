//! Local keyboard and pointer to remote input: keys become set-1 key
//! numbers (see `keys`), a tablet's absolute position becomes a position on
//! the remote desktop (client mouse mode, `MOUSE_POSITION`), a mouse's motion
//! stays relative (`MOUSE_MOTION`). Events queue in [`QUEUE`] for the SPICE
//! session task. Must not: build protocol messages (spice-core does).

use alloc::boxed::Box;
use barespice_board::{InputEvent, InputSource, KeyCode, PointerButton};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;

use crate::keys::evdev_to_key;
use crate::presenter;

/// Buttons held, as a bit set: bit 0 left, 1 middle, 2 right.
pub type Buttons = u8;

/// Input for the remote side, in remote coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum RemoteInput {
    /// Key down/up; `key` is a spice-core keymap key number.
    Key {
        /// Set-1 key number.
        key: u16,
        /// Pressed.
        down: bool,
    },
    /// Absolute pointer position on the remote primary surface.
    Position {
        /// X in remote pixels.
        x: u32,
        /// Y in remote pixels.
        y: u32,
        /// Buttons held.
        buttons: Buttons,
    },
    /// Relative motion.
    Motion {
        /// dx.
        dx: i32,
        /// dy.
        dy: i32,
        /// Buttons held.
        buttons: Buttons,
    },
    /// A button went down or up (with the full set after the change).
    Button {
        /// Which (0 left, 1 middle, 2 right).
        button: u8,
        /// Pressed.
        down: bool,
        /// Buttons held after the change.
        buttons: Buttons,
    },
    /// Wheel clicks (positive = up).
    Wheel {
        /// Clicks.
        delta: i32,
        /// Buttons held.
        buttons: Buttons,
    },
}

/// Events for the SPICE session (dropped when full: the user will retry).
pub static QUEUE: Channel<CriticalSectionRawMutex, RemoteInput, 64> = Channel::new();

fn button_bit(b: PointerButton) -> u8 {
    match b {
        PointerButton::Left => 0,
        PointerButton::Middle => 1,
        PointerButton::Right => 2,
    }
}

/// Reads the board's input devices for ever.
#[embassy_executor::task]
pub async fn task(mut source: Box<dyn InputSource>) {
    let mut buttons: Buttons = 0;
    loop {
        let ev = source.next_event().await;
        let out = match ev {
            InputEvent::Key {
                code: KeyCode::Evdev(c),
                pressed,
            } => evdev_to_key(c).map(|key| RemoteInput::Key { key, down: pressed }),
            InputEvent::Key {
                code: KeyCode::UsbHid(u),
                pressed,
            } => crate::keys::hid_to_key(u).map(|key| RemoteInput::Key { key, down: pressed }),
            InputEvent::PointerAbsolute { x, y, max_x, max_y } => {
                let Some(layout) = presenter::layout() else {
                    continue;
                };
                // Device units -> screen pixel -> the remote pixel shown there
                // (the display mode's layout: scaled to fit, or centred 1:1).
                let fx =
                    (u64::from(x) * u64::from(layout.screen_w) / (u64::from(max_x) + 1)) as i32;
                let fy =
                    (u64::from(y) * u64::from(layout.screen_h) / (u64::from(max_y) + 1)) as i32;
                let (rx, ry) = layout.to_remote(fx, fy);
                Some(RemoteInput::Position {
                    x: rx,
                    y: ry,
                    buttons,
                })
            }
            InputEvent::PointerRelative { dx, dy } => Some(RemoteInput::Motion { dx, dy, buttons }),
            InputEvent::Button { button, pressed } => {
                let bit = button_bit(button);
                if pressed {
                    buttons |= 1 << bit;
                } else {
                    buttons &= !(1 << bit);
                }
                Some(RemoteInput::Button {
                    button: bit,
                    down: pressed,
                    buttons,
                })
            }
            InputEvent::Wheel { delta } => Some(RemoteInput::Wheel { delta, buttons }),
        };
        if let Some(ev) = out {
            defmt::debug!("input: {}", ev);
            if presenter::showing_remote() && QUEUE.try_send(ev).is_err() {
                // Say so: a soak counts typed lines that lose keys.
                defmt::warn!("input: queue full, event dropped");
            }
        }
    }
}
