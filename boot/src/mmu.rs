//! Identity-mapped MMU set-up for EL1 (4 KiB granule, 39-bit addresses).
//!
//! RAM (the device tree's /memory ranges) is Normal write-back, inner
//! shareable; every other address below 512 GiB is Device-nGnRnE and never
//! executable. This is what makes atomics work on real hardware (exclusive
//! loads/stores need Normal cacheable memory). 1 GiB blocks are used where a
//! whole GiB is RAM or not RAM; GiBs that contain both get a table of 2 MiB
//! blocks, where a block touching RAM counts as RAM.
//!
//! Later, [`map_normal_nc`] turns Device blocks outside RAM that a board knows
//! to be memory (the Raspberry Pi's GPU framebuffer) into Normal non-cacheable
//! (write-combining) blocks, with break-before-make.
//!
//! Must not: allocate (runs before the heap exists) or use atomics before
//! `enable` returns (exclusives may fault with the MMU off on hardware).

use core::arch::asm;

const ENTRIES: usize = 512;
const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;
/// L2 tables for GiBs that mix RAM and MMIO (virt needs none, a Pi 3 or 4 one).
const L2_TABLES: usize = 4;

// MAIR_EL1 attribute indices.
const ATTR_DEVICE: u64 = 0; // 0x00 Device-nGnRnE
const ATTR_NORMAL: u64 = 1; // 0xff Normal, inner/outer write-back RW-allocate
const ATTR_NORMAL_NC: u64 = 2; // 0x44 Normal, non-cacheable
const MAIR: u64 = (0xff << (8 * ATTR_NORMAL)) | (0x44 << (8 * ATTR_NORMAL_NC)); // index 0 (device) is 0x00

const DESC_BLOCK: u64 = 0b01;
const DESC_TABLE: u64 = 0b11;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

#[repr(C)]
struct Tables {
    l1: Table,
    l2: [Table; L2_TABLES],
}

static mut TABLES: Tables = Tables {
    l1: Table([0; ENTRIES]),
    l2: [const { Table([0; ENTRIES]) }; L2_TABLES],
};

/// A physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

fn overlaps(ram: &[Range], start: u64, end: u64) -> bool {
    ram.iter().any(|r| r.start < end && start < r.end)
}

fn covers(ram: &[Range], start: u64, end: u64) -> bool {
    ram.iter().any(|r| r.start <= start && end <= r.end)
}

fn block(addr: u64, attr: u64) -> u64 {
    let base = addr | DESC_BLOCK | AF | (attr << 2);
    if attr == ATTR_DEVICE {
        base | PXN | UXN
    } else if attr == ATTR_NORMAL_NC {
        base | SH_INNER | PXN | UXN
    } else {
        base | SH_INNER
    }
}

/// Fills the tables from the RAM ranges and turns on the MMU and caches.
///
/// # Safety
/// Must run once, on the boot core, with the MMU off, before anything relies
/// on cacheable memory; `ram` must include the running image and its stack.
pub unsafe fn enable(ram: &[Range]) {
    // SAFETY: single-threaded boot, MMU off, nothing else references TABLES.
    let t = unsafe { &mut *core::ptr::addr_of_mut!(TABLES) };
    let mut next_l2 = 0;
    for (i, e) in t.l1.0.iter_mut().enumerate() {
        let start = i as u64 * GIB;
        let end = start + GIB;
        *e = if covers(ram, start, end) {
            block(start, ATTR_NORMAL)
        } else if !overlaps(ram, start, end) || next_l2 == L2_TABLES {
            block(start, ATTR_DEVICE)
        } else {
            let l2 = &mut t.l2[next_l2];
            next_l2 += 1;
            for (j, d) in l2.0.iter_mut().enumerate() {
                let s = start + j as u64 * MIB2;
                let attr = if overlaps(ram, s, s + MIB2) {
                    ATTR_NORMAL
                } else {
                    ATTR_DEVICE
                };
                *d = block(s, attr);
            }
            (l2 as *const Table as u64) | DESC_TABLE
        };
    }

    let pa_range: u64;
    // SAFETY: reading the ID register has no side effects.
    unsafe { asm!("mrs {}, id_aa64mmfr0_el1", out(reg) pa_range, options(nomem, nostack)) };
    let ips = pa_range & 0b111;
    // T0SZ=25 (39-bit), IRGN0/ORGN0 = WB-WA, SH0 = inner, TG0 = 4K, EPD1 = 1.
    let tcr: u64 = 25 | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | (1 << 23) | (ips << 32);
    let ttbr = core::ptr::addr_of!(t.l1) as u64;
    let table_bytes = core::mem::size_of::<Tables>();

    // Make sure no stale cache line shadows the tables or the image we cleared
    // with caches off, then install and enable.
    crate::cpu::dcache_clean_invalidate(ttbr as usize, table_bytes);
    let (img_start, img_end) = crate::image_range();
    crate::cpu::dcache_clean_invalidate(img_start, img_end - img_start);
    // SAFETY: the tables identity-map the running image and stack as Normal
    // memory, so execution continues at the same addresses after `isb`.
    unsafe {
        asm!(
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {ttbr}",
            "dsb ish",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            "ic iallu",
            "mrs {tmp}, sctlr_el1",
            "orr {tmp}, {tmp}, #(1 << 0)",   // M
            "orr {tmp}, {tmp}, #(1 << 2)",   // C
            "orr {tmp}, {tmp}, #(1 << 12)",  // I
            "msr sctlr_el1, {tmp}",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) tcr,
            ttbr = in(reg) ttbr,
            tmp = out(reg) _,
            options(nostack)
        )
    };
}

/// Remaps `[start, end)`, rounded out to 2 MiB blocks, from Device to Normal
/// non-cacheable memory (writes may be merged; unaligned access and `dc zva`
/// become legal). Only blocks in the 2 MiB tables that [`enable`] built are
/// changed, and only Device ones; returns false (changing nothing) when part
/// of the range is mapped otherwise (a whole-GiB block, or RAM).
///
/// The caller must know the rounded range is memory, not device registers.
/// Each block goes through break-before-make: invalid entry, TLB invalidate by
/// address, new entry (Arm ARM D8.14.1).
pub fn map_normal_nc(start: u64, end: u64) -> bool {
    let first = start & !(MIB2 - 1);
    let last = end.next_multiple_of(MIB2);
    // SAFETY: read-only walk of tables `enable` installed; nothing else writes
    // them (the board calls this once during bring-up, on the boot core).
    let t = unsafe { &*core::ptr::addr_of!(TABLES) };
    let mut entries = [(0usize, 0usize); 32];
    let mut n = 0;
    let mut a = first;
    while a < last {
        let l1 = t.l1.0.get((a / GIB) as usize).copied().unwrap_or(0);
        if l1 & 0b11 != DESC_TABLE || n == entries.len() {
            return false;
        }
        let Some(k) =
            t.l2.iter()
                .position(|l2| core::ptr::addr_of!(*l2) as u64 == l1 & 0x0000_ffff_ffff_f000)
        else {
            return false;
        };
        let j = ((a % GIB) / MIB2) as usize;
        let attr = (t.l2[k].0[j] >> 2) & 0b111;
        if attr != ATTR_DEVICE && attr != ATTR_NORMAL_NC {
            return false;
        }
        entries[n] = (k, j);
        n += 1;
        a += MIB2;
    }
    for &(k, j) in &entries[..n] {
        let va = (k as u64, j as u64);
        // SAFETY: single core during bring-up; the entry maps a range the
        // caller vouches is memory; break-before-make keeps the TLB from ever
        // holding both mappings.
        unsafe {
            let tables = &mut *core::ptr::addr_of_mut!(TABLES);
            let e = &mut tables.l2[va.0 as usize].0[va.1 as usize];
            let addr = *e & 0x0000_ffff_ffe0_0000;
            core::ptr::write_volatile(e, 0);
            asm!("dsb ishst", "tlbi vaae1is, {page}", "dsb ish", "isb", page = in(reg) addr >> 12, options(nostack));
            core::ptr::write_volatile(e, block(addr, ATTR_NORMAL_NC));
            asm!("dsb ishst", "isb", options(nostack));
        }
    }
    true
}
