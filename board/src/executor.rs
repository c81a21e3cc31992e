//! The embassy executor's run loop for AArch64 bare metal (embassy has no
//! platform for it): a custom `__pender` that sets a flag, an idle step that
//! sleeps in WFI until an interrupt is pending, and a busy step that hands out
//! the wake-ups of pending interrupts without sleeping (see `irq`).
//! Must not: run on more than one core.

use core::sync::atomic::{AtomicBool, Ordering};
use embassy_executor::{raw, Spawner};

static PENDED: AtomicBool = AtomicBool::new(true);

#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    // Wakes only ever happen on this core, in thread context (task code or
    // `irq::wait`), so a flag the loop checks before sleeping is enough.
    PENDED.store(true, Ordering::SeqCst);
}

/// Creates the executor, lets `init` spawn the first tasks, and runs for ever.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    let exec: &'static raw::Executor = alloc::boxed::Box::leak(alloc::boxed::Box::new(
        raw::Executor::new(core::ptr::null_mut()),
    ));
    init(exec.spawner());
    loop {
        PENDED.store(false, Ordering::SeqCst);
        // SAFETY: `poll` must not be called re-entrantly or from two places at
        // once; this loop is the only caller and runs on the only core.
        unsafe { exec.poll() };
        if PENDED.load(Ordering::SeqCst) {
            // Still busy: hand out the wake-ups of interrupts pending meanwhile,
            // so busy tasks cannot starve the others (see `irq::dispatch`).
            crate::irq::dispatch();
        } else {
            crate::irq::wait();
        }
    }
}
