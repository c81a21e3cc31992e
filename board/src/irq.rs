//! Interrupt delivery without interrupt handlers.
//!
//! Design (documented choice): PSTATE.I stays masked for ever. Device and
//! timer interrupts are enabled at the interrupt controller, so a pending one
//! ends the idle loop's WFI; [`wait`] then acknowledges every pending id by
//! polling the controller (and [`dispatch`] does the same between polls while
//! tasks are busy), hands the timer's to the time driver, and for a
//! device masks the line and wakes the task that registered for it. The
//! driver clears the device's own interrupt status and calls
//! [`IrqLine::unmask`] before it sleeps again. No code ever runs in interrupt
//! context, so there are no races with tasks and no FP/NEON state to save.
//!
//! Must not: be used from more than one core.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Waker;
use critical_section::Mutex;
use embassy_sync::waitqueue::AtomicWaker;

use crate::gic::Gic;

/// Highest interrupt id a driver may register for (+1).
const MAX_IRQ: usize = 256;

static GIC: Mutex<Cell<Option<Gic>>> = Mutex::new(Cell::new(None));
static TIMER_IRQ: AtomicU32 = AtomicU32::new(u32::MAX);
static WAKERS: [AtomicWaker; MAX_IRQ] = [const { AtomicWaker::new() }; MAX_IRQ];

fn gic() -> Option<Gic> {
    critical_section::with(|cs| GIC.borrow(cs).get())
}

/// Installs the interrupt controller and the timer's interrupt id, and
/// enables the timer's line.
pub fn init(gic: Gic, timer_irq: u32) {
    gic.enable(timer_irq);
    TIMER_IRQ.store(timer_irq, Ordering::Relaxed);
    critical_section::with(|cs| GIC.borrow(cs).set(Some(gic)));
}

/// A device's interrupt line.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct IrqLine(u32);

impl IrqLine {
    /// The line with interrupt id `id` (from the device tree).
    pub fn new(id: u32) -> Option<Self> {
        ((id as usize) < MAX_IRQ).then_some(Self(id))
    }

    /// Wake `waker` the next time this line fires.
    pub fn register(&self, waker: &Waker) {
        if let Some(w) = WAKERS.get(self.0 as usize) {
            w.register(waker);
        }
    }

    /// Lets the line end a WFI again (after the device's status was cleared).
    pub fn unmask(&self) {
        if let Some(g) = gic() {
            g.enable(self.0);
        }
    }
}

/// Sleeps until an interrupt is pending, then dispatches all pending ones.
pub fn wait() {
    barespice_boot::cpu::wait_for_interrupt();
    dispatch();
}

/// Dispatches the interrupts pending now, without sleeping. The executor
/// calls it between polls while tasks are still ready: otherwise a task that
/// stays busy (the session decoding video, yielding between chunks) holds
/// off every device wake-up and timer until the whole system is idle, and a
/// device with a small event queue (virtio-input: 32 buffers, about ten key
/// presses) drops what arrives meanwhile.
pub fn dispatch() {
    // Without a GIC (Raspberry Pi 3: the BCM2836 local controller only routes
    // the timer to end WFI), every wake-up services the timer queue.
    let Some(g) = gic() else {
        crate::time::on_alarm();
        return;
    };
    let timer = TIMER_IRQ.load(Ordering::Relaxed);
    while let Some(iar) = g.acknowledge() {
        let id = iar & 0x3ff;
        if id == timer {
            crate::time::on_alarm();
        } else {
            g.disable(id);
            if let Some(w) = WAKERS.get(id as usize) {
                w.wake();
            }
        }
        g.end(iar);
    }
}
