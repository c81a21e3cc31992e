//! Heap allocations per draw in the steady state (issue 14): a counting
//! global allocator around the system one, and the display channel fed
//! real recorded draws once to set up, then again while counting.
//!
//! `cargo test -p spice-core --test display_allocs -- --nocapture` prints
//! the counts per draw; the assertions hold the paths that must not
//! allocate at all (a DRAW_COPY of a 32-bit BITMAP decoded straight into
//! the surface or, clipped, into the display's reused scratch buffer; a
//! solid FILL, clipped or not).

mod common;

use spice_core::display::{Display, DisplayConfig};
use spice_core::enums::*;
use spice_core::image::glz::GlzWindow;
use spice_core::outbox::Outbox;
use spice_core::wire::Writer;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations made on the current thread (tests run on
/// threads of their own, so one test's count is not another's).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn display() -> Display {
    Display::new(
        0,
        DisplayConfig {
            preferred_compression: None,
            glz_window_pixels: 0,
            pixmap_cache_pixels: 1 << 20,
            glz_dictionary_id: 0,
            pixmap_cache_id: 0,
        },
    )
}

/// Handle `msgs` once to set up, then again counting: allocations per
/// handled message on the second pass.
fn per_message(d: &mut Display, msgs: &[(u16, &[u8])]) -> f64 {
    let mut glz = GlzWindow::new(0);
    let mut out = Outbox::new();
    for (t, body) in msgs {
        d.handle(*t, body, &mut glz, &mut out).unwrap();
    }
    let before = allocs();
    for (t, body) in msgs {
        d.handle(*t, body, &mut glz, &mut out).unwrap();
    }
    (allocs() - before) as f64 / msgs.len() as f64
}

/// `DisplayBase` with the given clip rects (none: CLIP_TYPE_NONE), then a
/// `Copy` of the image placed right after it, with no mask.
fn draw_copy(bbox: [i32; 4], clip: &[[i32; 4]], image: &[u8]) -> Vec<u8> {
    let rect = |w: &mut Writer, [l, t, r, b]: [i32; 4]| {
        w.i32(t).i32(l).i32(b).i32(r);
    };
    let mut w = Writer::new();
    w.u32(0);
    rect(&mut w, bbox);
    if clip.is_empty() {
        w.u8(SPICE_CLIP_TYPE_NONE as u8);
    } else {
        w.u8(SPICE_CLIP_TYPE_RECTS as u8).u32(clip.len() as u32);
        for c in clip {
            rect(&mut w, *c);
        }
    }
    let copy_len = 4 + 16 + 2 + 1 + 13;
    let src = w.buf.len() as u32 + copy_len;
    w.u32(src);
    rect(&mut w, [0, 0, bbox[2] - bbox[0], bbox[3] - bbox[1]]);
    w.u16(SPICE_ROPD_OP_PUT as u16).u8(0);
    w.u8(0).i32(0).i32(0).u32(0);
    assert_eq!(w.buf.len() as u32, src);
    w.bytes(image);
    w.finish()
}

/// A 32-bit top-down BITMAP image of `w x h` (not cached).
fn bitmap32(w: u32, h: u32) -> Vec<u8> {
    let mut b = Writer::new();
    b.u64(1)
        .u8(SPICE_IMAGE_TYPE_BITMAP as u8)
        .u8(0)
        .u32(w)
        .u32(h);
    b.u8(SPICE_BITMAP_FMT_32BIT as u8)
        .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8)
        .u32(w)
        .u32(h)
        .u32(w * 4)
        .u32(0);
    for i in 0..w * h {
        b.u32(i.wrapping_mul(2_654_435_761) >> 8);
    }
    b.finish()
}

fn surface_create(w: u32, h: u32) -> Vec<u8> {
    let mut b = Writer::new();
    b.u32(0)
        .u32(w)
        .u32(h)
        .u32(SPICE_SURFACE_FMT_32_xRGB)
        .u32(SPICE_SURFACE_FLAGS_PRIMARY);
    b.finish()
}

#[test]
fn recorded_lz_draws_allocations_per_draw() {
    let rec = common::read("display/lz-192x144.spicerec");
    let all = common::messages(&rec);
    let mut d = display();
    let mut glz = GlzWindow::new(0);
    let mut out = Outbox::new();
    for (t, body) in all.iter().filter(|(t, _)| *t >= 101) {
        d.handle(*t, body, &mut glz, &mut out).unwrap();
    }
    let copies: Vec<_> = all
        .iter()
        .copied()
        .filter(|(t, _)| *t == SPICE_MSG_DISPLAY_DRAW_COPY)
        .collect();
    let n = per_message(&mut d, &copies);
    println!("allocations per recorded LZ_RGB DRAW_COPY: {n:.2}");
}

#[test]
fn bitmap_copy_and_fill_do_not_allocate() {
    let mut d = display();
    let mut glz = GlzWindow::new(0);
    let mut out = Outbox::new();
    d.handle(
        SPICE_MSG_DISPLAY_SURFACE_CREATE,
        &surface_create(64, 48),
        &mut glz,
        &mut out,
    )
    .unwrap();
    let img = bitmap32(16, 8);
    let plain = draw_copy([4, 4, 20, 12], &[], &img);
    let covering = draw_copy([4, 4, 20, 12], &[[0, 0, 64, 48]], &img);
    let n = per_message(
        &mut d,
        &[
            (SPICE_MSG_DISPLAY_DRAW_COPY, &plain),
            (SPICE_MSG_DISPLAY_DRAW_COPY, &covering),
        ],
    );
    println!("allocations per direct BITMAP DRAW_COPY: {n:.2}");
    assert_eq!(n, 0.0);
    // Clipped to two pieces: decoded into the reused scratch, then blitted.
    let clipped = draw_copy([4, 4, 20, 12], &[[4, 4, 10, 12], [10, 4, 20, 8]], &img);
    let n = per_message(&mut d, &[(SPICE_MSG_DISPLAY_DRAW_COPY, &clipped)]);
    println!("allocations per clipped BITMAP DRAW_COPY: {n:.2}");
    assert_eq!(n, 0.0);
    // The pixels landed where the box says.
    let s = d.primary().unwrap();
    assert_eq!(s.pixels[4 * 64 + 4] & 0xffffff, 0);
    assert_eq!(
        s.pixels[11 * 64 + 19] & 0xffffff,
        (127u32.wrapping_mul(2_654_435_761) >> 8) & 0xffffff
    );

    let mut fill = Writer::new();
    fill.u32(0).i32(0).i32(0).i32(10).i32(10);
    fill.u8(SPICE_CLIP_TYPE_RECTS as u8).u32(2);
    fill.i32(0)
        .i32(0)
        .i32(5)
        .i32(5)
        .i32(5)
        .i32(5)
        .i32(10)
        .i32(10);
    fill.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x123456);
    fill.u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .i32(0)
        .i32(0)
        .u32(0);
    let fill = fill.finish();
    let n = per_message(&mut d, &[(SPICE_MSG_DISPLAY_DRAW_FILL, &fill)]);
    println!("allocations per clipped solid DRAW_FILL: {n:.2}");
    assert_eq!(n, 0.0);
    assert_eq!(d.primary().unwrap().pixels[7 * 64 + 7], 0x123456);
}
