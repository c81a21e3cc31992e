//! The console: defmt's global logger and timestamp, writing encoded frames
//! to whatever byte sink the board installs (a PL011 on virt and the Pis).
//!
//! Log frames are binary defmt, not text: decode them on the host with
//! `defmt-print -e <firmware ELF>` (scripts/emulate does). Must not: format
//! strings on the target or block on anything but the UART's FIFO.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Something that can send console bytes (blocking until they are queued).
pub trait ConsoleSink: Sync {
    /// Sends `bytes` in order.
    fn write(&self, bytes: &[u8]);
}

static SINK: AtomicUsize = AtomicUsize::new(0);
static SINK_META: AtomicUsize = AtomicUsize::new(0);

/// Installs the sink that carries log frames. Before this, logs are dropped.
pub fn install(sink: &'static dyn ConsoleSink) {
    // Store the two halves of the fat pointer; `with_sink` reassembles them.
    // SAFETY: `&'static dyn` has the layout (data, vtable); both halves are
    // stored before any reader can see a non-zero data half, and the pointee
    // lives for ever.
    let (data, meta): (usize, usize) = unsafe { core::mem::transmute(sink) };
    critical_section::with(|_| {
        SINK_META.store(meta, Ordering::Relaxed);
        SINK.store(data, Ordering::Release);
    });
}

fn with_sink(f: impl FnOnce(&dyn ConsoleSink)) {
    let data = SINK.load(Ordering::Acquire);
    if data == 0 {
        return;
    }
    let meta = SINK_META.load(Ordering::Relaxed);
    // SAFETY: the pair was produced from a `&'static dyn ConsoleSink` by
    // `install` and never changes afterwards except by another `install`
    // inside a critical section (the logger holds one while writing).
    let sink: &'static dyn ConsoleSink = unsafe { core::mem::transmute((data, meta)) };
    f(sink)
}

#[defmt::global_logger]
struct Logger;

static TAKEN: AtomicBool = AtomicBool::new(false);
static mut RESTORE: critical_section::RestoreState = critical_section::RestoreState::invalid();
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();

// SAFETY: acquire/release bracket every frame inside a critical section, so
// on our single core only one frame is being encoded at a time; `TAKEN`
// catches re-entry (a panic while logging), which we then drop.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: paired with `release` in `release()` below.
        let restore = unsafe { critical_section::acquire() };
        if TAKEN.load(Ordering::Relaxed) {
            // Re-entered (fault inside the logger): give up on this frame.
            // SAFETY: undo the acquire we just did.
            unsafe { critical_section::release(restore) };
            return;
        }
        TAKEN.store(true, Ordering::Relaxed);
        // SAFETY: we hold the critical section; nothing else touches these.
        unsafe {
            RESTORE = restore;
            (*core::ptr::addr_of_mut!(ENCODER)).start_frame(|b| with_sink(|s| s.write(b)));
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        if !TAKEN.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: we hold the critical section taken in `acquire`.
        unsafe {
            (*core::ptr::addr_of_mut!(ENCODER)).end_frame(|b| with_sink(|s| s.write(b)));
            TAKEN.store(false, Ordering::Relaxed);
            critical_section::release(RESTORE);
        }
    }

    unsafe fn write(bytes: &[u8]) {
        if !TAKEN.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: we hold the critical section taken in `acquire`.
        unsafe { (*core::ptr::addr_of_mut!(ENCODER)).write(bytes, |b| with_sink(|s| s.write(b))) };
    }
}

defmt::timestamp!("{=u64:us}", {
    let f = barespice_boot::cpu::counter_frequency().max(1);
    (u128::from(barespice_boot::cpu::counter()) * 1_000_000 / u128::from(f)) as u64
});
