//! Access to the framebuffer from the fatal path (panic / CPU exception).
//! The framebuffer driver registers its pixel memory here; the firmware's
//! screen hook (installed with `barespice_boot::fatal::set_screen_hook`)
//! takes it with [`take`] to draw the error.
//! Must not: be used while tasks run; only once the firmware is dying.

use core::cell::Cell;
use critical_section::Mutex;

use crate::FbInfo;

static FB: Mutex<Cell<Option<(usize, FbInfo)>>> = Mutex::new(Cell::new(None));

pub(crate) fn register(addr: usize, info: FbInfo) {
    critical_section::with(|cs| FB.borrow(cs).set(Some((addr, info))));
}

/// The framebuffer's pixels and geometry, at most once (later calls: None).
pub fn take() -> Option<(&'static mut [u32], FbInfo)> {
    let (addr, info) = critical_section::with(|cs| FB.borrow(cs).take())?;
    let len = (info.stride as usize).checked_mul(info.height as usize)?;
    // SAFETY: `register` was given a live, leaked allocation of stride*height
    // pixels. `take` hands it out once, on the fatal path, when no task runs
    // any more; the presenter's reference to it is never used again.
    Some((
        unsafe { core::slice::from_raw_parts_mut(addr as *mut u32, len) },
        info,
    ))
}
