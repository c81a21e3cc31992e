//! virtio keyboard and tablet (and mouse) as a stream of board-neutral
//! [`InputEvent`]s (QEMU virt). evdev events are grouped up to each
//! SYN_REPORT so a pointer move arrives as one event.
//! Must not: map keys to SPICE scancodes (the firmware does, via spice-core).

use alloc::vec::Vec;
use core::task::{Context, Poll};
use virtio_drivers::device::input::{InputConfigSelect, VirtIOInput};
use virtio_drivers::transport::mmio::MmioTransport;

use crate::irq::IrqLine;
use crate::virtio::VirtHal;
use crate::{InputEvent, KeyCode, PointerButton};

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_REL: u16 = 0x02;
const EV_ABS: u16 = 0x03;
const REL_X: u16 = 0x00;
const REL_Y: u16 = 0x01;
const REL_WHEEL: u16 = 0x08;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const BTN_LEFT: u16 = 0x110;
const BTN_RIGHT: u16 = 0x111;
const BTN_MIDDLE: u16 = 0x112;

type Dev = VirtIOInput<VirtHal, MmioTransport<'static>>;

struct Device {
    dev: Dev,
    irq: Option<IrqLine>,
    abs_max: (u32, u32),
    abs: (u32, u32),
    abs_dirty: bool,
    rel: (i32, i32),
    rel_dirty: bool,
}

/// All virtio input devices, read as one stream of events.
pub struct VirtioInputs {
    devs: Vec<Device>,
    pending: alloc::collections::VecDeque<InputEvent>,
}

impl VirtioInputs {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            devs: Vec::new(),
            pending: Default::default(),
        }
    }

    /// Adds the device behind `transport`; logs and skips it if it fails.
    pub fn add(&mut self, transport: MmioTransport<'static>, irq: Option<IrqLine>) {
        let mut dev = match Dev::new(transport) {
            Ok(d) => d,
            Err(e) => {
                defmt::warn!("virtio-input init failed: {}", defmt::Debug2Format(&e));
                return;
            }
        };
        let mut name = dev.name().unwrap_or_default();
        name.retain(|c| c != '\0');
        let has_abs = dev
            .query_config_select(InputConfigSelect::EvBits, EV_ABS as u8, &mut [0u8; 0])
            .map(|n| n > 0)
            .unwrap_or(false);
        let abs_max = if has_abs {
            let x = dev.abs_info(ABS_X as u8).map(|a| a.max).unwrap_or(0x7fff);
            let y = dev.abs_info(ABS_Y as u8).map(|a| a.max).unwrap_or(0x7fff);
            (x.max(1), y.max(1))
        } else {
            (0, 0)
        };
        defmt::info!("input: {=str} (absolute: {=bool})", name.as_str(), has_abs);
        self.devs.push(Device {
            dev,
            irq,
            abs_max,
            abs: (0, 0),
            abs_dirty: false,
            rel: (0, 0),
            rel_dirty: false,
        });
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devs.len()
    }

    /// True if no device was found.
    pub fn is_empty(&self) -> bool {
        self.devs.is_empty()
    }

    fn drain(&mut self) {
        for d in &mut self.devs {
            while let Some(ev) = d.dev.pop_pending_event() {
                translate(d, ev.event_type, ev.code, ev.value, &mut self.pending);
            }
        }
    }
}

impl Default for VirtioInputs {
    fn default() -> Self {
        Self::new()
    }
}

fn translate(
    d: &mut Device,
    ty: u16,
    code: u16,
    value: u32,
    out: &mut alloc::collections::VecDeque<InputEvent>,
) {
    match (ty, code) {
        (EV_KEY, BTN_LEFT) => out.push_back(InputEvent::Button {
            button: PointerButton::Left,
            pressed: value != 0,
        }),
        (EV_KEY, BTN_RIGHT) => out.push_back(InputEvent::Button {
            button: PointerButton::Right,
            pressed: value != 0,
        }),
        (EV_KEY, BTN_MIDDLE) => out.push_back(InputEvent::Button {
            button: PointerButton::Middle,
            pressed: value != 0,
        }),
        (EV_KEY, c) if c < 0x100 => out.push_back(InputEvent::Key {
            code: KeyCode::Evdev(c),
            pressed: value != 0,
        }),
        (EV_ABS, ABS_X) => {
            d.abs.0 = value;
            d.abs_dirty = true;
        }
        (EV_ABS, ABS_Y) => {
            d.abs.1 = value;
            d.abs_dirty = true;
        }
        (EV_REL, REL_X) => {
            d.rel.0 = d.rel.0.saturating_add(value as i32);
            d.rel_dirty = true;
        }
        (EV_REL, REL_Y) => {
            d.rel.1 = d.rel.1.saturating_add(value as i32);
            d.rel_dirty = true;
        }
        (EV_REL, REL_WHEEL) => out.push_back(InputEvent::Wheel {
            delta: value as i32,
        }),
        (EV_SYN, _) => {
            if d.abs_dirty {
                d.abs_dirty = false;
                out.push_back(InputEvent::PointerAbsolute {
                    x: d.abs.0.min(d.abs_max.0),
                    y: d.abs.1.min(d.abs_max.1),
                    max_x: d.abs_max.0,
                    max_y: d.abs_max.1,
                });
            }
            if d.rel_dirty {
                d.rel_dirty = false;
                out.push_back(InputEvent::PointerRelative {
                    dx: d.rel.0,
                    dy: d.rel.1,
                });
                d.rel = (0, 0);
            }
        }
        _ => {}
    }
}

impl crate::InputSource for VirtioInputs {
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<InputEvent> {
        self.drain();
        if let Some(ev) = self.pending.pop_front() {
            return Poll::Ready(ev);
        }
        for d in &mut self.devs {
            if let Some(irq) = d.irq {
                irq.register(cx.waker());
                let _ = d.dev.ack_interrupt();
                irq.unmask();
            }
        }
        // Events that arrived while we were re-arming.
        self.drain();
        match self.pending.pop_front() {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }
}
