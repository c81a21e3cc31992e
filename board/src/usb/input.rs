//! The bridge from USB HID reports to the board's [`InputEvent`] stream.
//!
//! Owns: the conversion of [`UsbInput`] (keys as HID usages, pointer reports
//! with button bitmaps) into the board-neutral events the virt board produces
//! (key, absolute/relative motion, button edges, wheel), and a bounded queue the
//! USB task fills and the firmware's input task drains. Must not: map keys to
//! SPICE scancodes (the firmware does that from [`KeyCode::UsbHid`]).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::cell::RefCell;
use core::task::{Context, Poll};
use critical_section::Mutex;
use embassy_sync::waitqueue::AtomicWaker;

use super::{UsbInput, ABS_MAX};
use crate::{InputEvent, InputSource, KeyCode, PointerButton};

/// Events kept when nobody reads (older ones are dropped first).
const QUEUE_LIMIT: usize = 256;

static QUEUE: Mutex<RefCell<VecDeque<InputEvent>>> = Mutex::new(RefCell::new(VecDeque::new()));
static WAKER: AtomicWaker = AtomicWaker::new();

fn push(ev: InputEvent) {
    critical_section::with(|cs| {
        let mut q = QUEUE.borrow(cs).borrow_mut();
        if q.len() >= QUEUE_LIMIT {
            q.pop_front();
        }
        q.push_back(ev);
    });
    WAKER.wake();
}

/// Turns USB input into board events, remembering button state to report edges.
pub struct Translator {
    buttons: u8,
}

impl Translator {
    /// A translator with no buttons held.
    pub fn new() -> Self {
        Self { buttons: 0 }
    }

    /// Converts one USB event into zero or more board events.
    pub fn translate(&mut self, ev: UsbInput, emit: &mut dyn FnMut(InputEvent)) {
        let (buttons, wheel) = match ev {
            UsbInput::Key { usage, pressed } => {
                emit(InputEvent::Key {
                    code: KeyCode::UsbHid(u16::from(usage)),
                    pressed,
                });
                return;
            }
            UsbInput::PointerAbsolute {
                x,
                y,
                wheel,
                buttons,
            } => {
                emit(InputEvent::PointerAbsolute {
                    x: u32::from(x),
                    y: u32::from(y),
                    max_x: u32::from(ABS_MAX),
                    max_y: u32::from(ABS_MAX),
                });
                (buttons, wheel)
            }
            UsbInput::PointerRelative {
                dx,
                dy,
                wheel,
                buttons,
            } => {
                if dx != 0 || dy != 0 {
                    emit(InputEvent::PointerRelative {
                        dx: dx.into(),
                        dy: dy.into(),
                    });
                }
                (buttons, wheel)
            }
        };
        for (bit, button) in [
            (1u8, PointerButton::Left),
            (2, PointerButton::Right),
            (4, PointerButton::Middle),
        ] {
            if (self.buttons ^ buttons) & bit != 0 {
                emit(InputEvent::Button {
                    button,
                    pressed: buttons & bit != 0,
                });
            }
        }
        self.buttons = buttons;
        if wheel != 0 {
            emit(InputEvent::Wheel {
                delta: wheel.into(),
            });
        }
    }
}

impl Default for Translator {
    fn default() -> Self {
        Self::new()
    }
}

/// The callback to give [`super::host::UsbHost::new`]: translates and queues.
pub fn sink() -> Box<dyn FnMut(UsbInput)> {
    let mut t = Translator::new();
    Box::new(move |ev| {
        defmt::debug!("usb: input {}", ev);
        t.translate(ev, &mut push)
    })
}

/// The firmware's view of every USB keyboard and pointer.
pub struct UsbInputs;

impl InputSource for UsbInputs {
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<InputEvent> {
        WAKER.register(cx.waker());
        match critical_section::with(|cs| QUEUE.borrow(cs).borrow_mut().pop_front()) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }
}
