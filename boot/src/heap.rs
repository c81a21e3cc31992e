//! The global heap: embedded-alloc's linked-list first-fit heap, wrapped to
//! keep the figures the firmware logs (bytes in use, their high-water mark,
//! live allocations).
//!
//! Owns the `#[global_allocator]` and its statistics. Must not: decide where
//! the heap lives (boot's `start` does, from the device tree) or log.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};
use embedded_alloc::LlffHeap;

/// The heap with counters on the side.
pub(crate) struct CountingHeap {
    inner: LlffHeap,
    in_use: AtomicUsize,
    high_water: AtomicUsize,
    live: AtomicUsize,
}

/// What the heap holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes the heap was given.
    pub size: usize,
    /// Bytes allocated now (as requested, without the allocator's padding).
    pub in_use: usize,
    /// The most bytes ever allocated at once.
    pub high_water: usize,
    /// Allocations not yet freed.
    pub live: usize,
}

static SIZE: AtomicUsize = AtomicUsize::new(0);

impl CountingHeap {
    pub(crate) const fn empty() -> Self {
        Self {
            inner: LlffHeap::empty(),
            in_use: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
        }
    }

    /// Give the heap its memory.
    ///
    /// # Safety
    /// `start..start + size` must be unused RAM, and this is called once,
    /// before any allocation.
    pub(crate) unsafe fn init(&self, start: usize, size: usize) {
        SIZE.store(size, Ordering::Relaxed);
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.init(start, size) }
    }

    fn took(&self, bytes: usize) {
        let now = self.in_use.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.high_water.fetch_max(now, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    fn gave(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> HeapStats {
        HeapStats {
            size: SIZE.load(Ordering::Relaxed),
            in_use: self.in_use.load(Ordering::Relaxed),
            high_water: self.high_water.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Relaxed),
        }
    }
}

// SAFETY: every call is forwarded unchanged to embedded-alloc's heap, which
// upholds the GlobalAlloc contract; the counters are only bookkeeping.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on unchanged.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            self.took(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.gave(layout.size());
    }
}
