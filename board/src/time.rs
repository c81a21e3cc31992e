//! embassy-time driver on the Arm generic timer (EL1 virtual timer).
//!
//! `now()` is CNTVCT_EL0 scaled to embassy's 1 MHz tick with the frequency
//! read from CNTFRQ_EL0 (never hard-coded). Alarms program CNTV_CVAL_EL0; the
//! timer's interrupt ends the idle WFI (see `irq`), which calls [`on_alarm`].
//! Must not: run anything in interrupt context.

use core::cell::RefCell;
use core::task::Waker;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

use barespice_boot::cpu;

const TICK_HZ: u128 = embassy_time_driver::TICK_HZ as u128;

struct GenericTimer {
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: GenericTimer = GenericTimer {
    queue: Mutex::new(RefCell::new(Queue::new())),
});

fn counter_to_ticks(c: u64) -> u64 {
    (u128::from(c) * TICK_HZ / u128::from(cpu::counter_frequency().max(1))) as u64
}

fn ticks_to_counter(t: u64) -> u64 {
    let c = u128::from(t) * u128::from(cpu::counter_frequency()) / TICK_HZ;
    // Round up so the alarm never fires before its tick.
    let back = c * TICK_HZ / u128::from(cpu::counter_frequency().max(1));
    (if back < u128::from(t) { c + 1 } else { c }).min(u128::from(u64::MAX)) as u64
}

fn arm(next: u64) {
    if next == u64::MAX {
        cpu::virtual_timer_disarm();
    } else {
        cpu::virtual_timer_arm(ticks_to_counter(next));
    }
}

impl Driver for GenericTimer {
    fn now(&self) -> u64 {
        counter_to_ticks(cpu::counter())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut q = self.queue.borrow(cs).borrow_mut();
            if q.schedule_wake(at, waker) {
                let next = q.next_expiration(self.now());
                arm(next);
            }
        });
    }
}

/// Called by `irq::wait` when the timer interrupt is pending: wakes expired
/// timers and re-arms for the next one (the timer's level drops once
/// disarmed or re-armed in the future).
pub(crate) fn on_alarm() {
    cpu::virtual_timer_disarm();
    critical_section::with(|cs| {
        let mut q = DRIVER.queue.borrow(cs).borrow_mut();
        let next = q.next_expiration(DRIVER.now());
        arm(next);
    });
}

/// Microseconds since the counter started (for logs and the boot timeline).
pub fn uptime_us() -> u64 {
    let f = u128::from(cpu::counter_frequency().max(1));
    (u128::from(cpu::counter()) * 1_000_000 / f) as u64
}
