//! `barespice-boot`: CPU bring-up for barespice on 64-bit Arm (AArch64).
//!
//! Owns everything between the loader jumping to us and the firmware's
//! `main`: the arm64 Image header and entry assembly ([`entry`]), the MMU
//! identity map ([`mmu`]), exception vectors with a register dump
//! ([`exceptions`]), the heap, the critical-section implementation ([`cs`]),
//! the panic handler and fatal path ([`fatal`]), PSCI calls ([`psci`]) and a
//! few CPU helpers ([`cpu`]).
//!
//! Must not: know about any particular board's devices (that is
//! `barespice-board`), or about SPICE. The only board facts used here come
//! from the device tree the loader passes in x0 (memory ranges, initrd and
//! reserved ranges), which decide the memory map and where the heap goes.
//!
//! The firmware names its main function with [`entry!`]; it receives a
//! [`BootInfo`].
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod cpu;
pub mod cs;
pub mod entry;
pub mod exceptions;
pub mod fatal;
pub mod mmu;
pub mod psci;

use core::sync::atomic::{AtomicU8, Ordering};
use mmu::Range;

mod heap;
pub use heap::HeapStats;

#[global_allocator]
static HEAP: heap::CountingHeap = heap::CountingHeap::empty();

/// The heap's figures now (size, bytes in use, high-water, live allocations).
pub fn heap_stats() -> HeapStats {
    HEAP.stats()
}

static ENTRY_EL: AtomicU8 = AtomicU8::new(0);

/// What the boot code found and set up, handed to the firmware's main.
#[derive(Clone, Copy)]
pub struct BootInfo {
    /// The flattened device tree the loader passed (empty if there was none).
    pub dtb: &'static [u8],
    /// The heap's address range.
    pub heap: Range,
    /// The image (code, data, bss, stack) range.
    pub image: Range,
    /// Exception level at entry (2 on a Raspberry Pi, 1 on QEMU virt).
    pub entry_el: u8,
}

/// Declares the firmware's main function: `fn(BootInfo) -> !`.
#[macro_export]
macro_rules! entry {
    ($path:path) => {
        #[unsafe(export_name = "barespice_main")]
        #[doc(hidden)]
        pub fn __barespice_main(info: $crate::BootInfo) -> ! {
            let f: fn($crate::BootInfo) -> ! = $path;
            f(info)
        }
    };
}

unsafe extern "Rust" {
    fn barespice_main(info: BootInfo) -> !;
}

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// `[start, end)` of the loaded image including bss and stack.
pub(crate) fn image_range() -> (usize, usize) {
    // Linker-script symbols: only their addresses are taken.
    (
        core::ptr::addr_of!(__image_start) as usize,
        core::ptr::addr_of!(__image_end) as usize,
    )
}

const MAX_RANGES: usize = 8;

/// A small fixed list of ranges (no heap yet).
struct Ranges {
    r: [Range; MAX_RANGES],
    n: usize,
}

impl Ranges {
    const fn new() -> Self {
        Self {
            r: [Range { start: 0, end: 0 }; MAX_RANGES],
            n: 0,
        }
    }
    fn push(&mut self, start: u64, end: u64) {
        if end > start {
            if let Some(slot) = self.r.get_mut(self.n) {
                *slot = Range { start, end };
                self.n += 1;
            }
        }
    }
    fn as_slice(&self) -> &[Range] {
        self.r.get(..self.n).unwrap_or(&[])
    }
}

/// Largest part of `[start, end)` not covered by any range in `holes`.
fn largest_gap(start: u64, end: u64, holes: &[Range]) -> Range {
    let mut best = Range { start, end: start };
    let mut cur = start;
    loop {
        // The hole that begins first at or after `cur` (or covers `cur`).
        let next = holes
            .iter()
            .filter(|h| h.end > cur && h.start < end)
            .min_by_key(|h| h.start);
        let gap_end = next.map_or(end, |h| h.start.max(cur));
        if gap_end - cur > best.end - best.start {
            best = Range {
                start: cur,
                end: gap_end,
            };
        }
        match next {
            Some(h) => cur = h.end.max(cur),
            None => break,
        }
        if cur >= end {
            break;
        }
    }
    best
}

#[unsafe(no_mangle)]
extern "C" fn barespice_boot_rust(dtb_addr: usize, entry_el: u64) -> ! {
    let (img_start, img_end) = image_range();
    let img = Range {
        start: img_start as u64,
        end: img_end as u64,
    };

    // A zero address (no DTB) is rejected before dereferencing.
    let fdt = if dtb_addr != 0 {
        // SAFETY: the loader passes the DTB address in x0 (Linux arm64 boot
        // protocol); `from_ptr` checks the magic and header before trusting sizes.
        unsafe { fdt::Fdt::from_ptr(dtb_addr as *const u8).ok() }
    } else {
        None
    };

    let mut ram = Ranges::new();
    let mut holes = Ranges::new();
    let mut dtb: &'static [u8] = &[];
    if let Some(f) = &fdt {
        for region in f.memory().regions() {
            let start = region.starting_address as u64;
            ram.push(start, start.saturating_add(region.size.unwrap_or(0) as u64));
        }
        let size = f.total_size();
        // SAFETY: the header says the blob is `size` bytes long; the loader
        // keeps it in RAM and the heap is placed outside it (hole below).
        dtb = unsafe { core::slice::from_raw_parts(dtb_addr as *const u8, size) };
        holes.push(dtb_addr as u64, (dtb_addr + size) as u64);
        if let Some((s, e)) = initrd_range(f) {
            holes.push(s, e);
        }
        for r in f.memory_reservations() {
            let s = r.address() as u64;
            holes.push(s, s.saturating_add(r.size() as u64));
        }
    }
    if ram.n == 0 {
        // No usable device tree: assume the GiB around the image is RAM.
        let base = img.start & !((1 << 30) - 1);
        ram.push(base, base + (1 << 30));
    }

    // SAFETY: runs once on the boot core with the MMU off; `ram` contains the
    // image (the loader put us in RAM).
    unsafe { mmu::enable(ram.as_slice()) };
    ENTRY_EL.store(entry_el as u8, Ordering::Relaxed);

    // Heap: the largest free stretch after the image in the image's RAM range.
    let region = ram
        .as_slice()
        .iter()
        .find(|r| r.start <= img.start && img.end <= r.end)
        .copied()
        .unwrap_or(Range {
            start: img.end,
            end: img.end + (64 << 20),
        });
    let heap = largest_gap(img.end, region.end, holes.as_slice());
    // SAFETY: `heap` lies in RAM, after the image, outside the DTB, initrd and
    // reserved ranges, and nothing else uses it; called exactly once.
    unsafe { HEAP.init(heap.start as usize, (heap.end - heap.start) as usize) };

    let info = BootInfo {
        dtb,
        heap,
        image: img,
        entry_el: entry_el as u8,
    };
    // SAFETY: `barespice_main` is defined by the firmware through `entry!`
    // with exactly this signature.
    unsafe { barespice_main(info) }
}

/// `/chosen/linux,initrd-start` and `-end`, if the loader gave an initrd.
pub fn initrd_range(f: &fdt::Fdt<'_>) -> Option<(u64, u64)> {
    let chosen = f.find_node("/chosen")?;
    let s = chosen.property("linux,initrd-start")?.as_usize()? as u64;
    let e = chosen.property("linux,initrd-end")?.as_usize()? as u64;
    (e > s).then_some((s, e))
}
