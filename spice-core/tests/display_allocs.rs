//! Heap allocations per draw in the steady state (issue 14): a counting
//! global allocator around the system one, and the display channel fed
//! real recorded draws once to set up, then again while counting.
//!
//! `cargo test -p spice-core --test display_allocs -- --nocapture` prints
//! the counts per draw; the assertions hold the paths that must not
//! allocate at all in the steady state (a DRAW_COPY of a 32-bit BITMAP
//! decoded straight into the surface or, clipped, into the display's reused
//! scratch buffer; a solid FILL, clipped or not; the recorded GLZ session
//! continued with renumbered ids, also wrapped as ZLIB_GLZ; a full GLZ
//! window taking images of varying heights, each pushing the oldest out; a
//! full pixmap cache's INVAL_LIST + CACHE_ME + FROM_CACHE round; COPY_BITS; surface
//! sources; TEXT; STROKE; the recorded LZ session's DRAW_COPYs, narrow
//! columns of a wider surface staged in the display's reused staging run;
//! narrow and full-width 32BIT and 24BIT LZ4 DRAW_COPYs likewise; masked
//! DRAW_COPY and DRAW_FILL; pattern-brush DRAW_FILLs; scaled DRAW_COPY,
//! DRAW_TRANSPARENT and DRAW_ROP3; LZ_PLT with an inline or cached palette
//! and A8 LZ_RGB; 24BIT and 16BIT LZ4 with CACHE_ME or clipped). MJPEG
//! frames and JPEG / JPEG_ALPHA DRAW_COPYs (uncached, or cached into an
//! evicted image's buffer) are only printed: zune-jpeg allocates its own
//! working buffers per decode (all that is left).

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
    assert_eq!(n, 0.0);
}

/// An uncached LZ4 image of `w x h` pixels `px` (top-down) in 32BIT or
/// 24BIT rows, one block compressed with lz4_flex.
fn lz4_image(w: u32, h: u32, px: &[u32], format: u32) -> Vec<u8> {
    let bpp = if format == SPICE_BITMAP_FMT_24BIT {
        3
    } else {
        4
    };
    let raw: Vec<u8> = px
        .iter()
        .flat_map(|p| p.to_le_bytes()[..bpp].to_vec())
        .collect();
    let block = lz4_flex::block::compress(&raw);
    let mut b = Writer::new();
    descriptor(&mut b, 1, SPICE_IMAGE_TYPE_LZ4, 0, w, h);
    b.u32(2 + 4 + block.len() as u32)
        .u8(1)
        .u8(format as u8)
        .bytes(&(block.len() as u32).to_be_bytes())
        .bytes(&block);
    b.finish()
}

#[test]
fn narrow_lz4_copy_does_not_allocate() {
    let mut d = display_with_primary(64, 48);
    let (w, h) = (32u32, 40u32);
    let px: Vec<u32> = (0..w * h)
        .map(|i| (((i % 7) * 0x0102_0304) ^ ((i / 97) * 0x0001_0001)) | 0xff00_0000)
        .collect();
    for (format, name) in [
        (SPICE_BITMAP_FMT_32BIT, "32BIT"),
        (SPICE_BITMAP_FMT_24BIT, "24BIT"),
    ] {
        let img = lz4_image(w, h, &px, format);
        let draw = draw_copy([16, 4, 16 + w as i32, 4 + h as i32], &[], &img);
        // A full-width one: 24-bit rows are staged even so.
        let wide = lz4_image(64, 1, &px[..64], format);
        let full = draw_copy([0, 47, 64, 48], &[], &wide);
        let n = per_message(
            &mut d,
            &[
                (SPICE_MSG_DISPLAY_DRAW_COPY, &draw),
                (SPICE_MSG_DISPLAY_DRAW_COPY, &full),
            ],
        );
        println!("allocations per narrow or full-width {name} LZ4 DRAW_COPY: {n:.2}");
        assert_eq!(n, 0.0);
        // The rows landed in the box, pad bytes cleared, the rest untouched.
        let s = d.primary().unwrap();
        for y in 0..h as usize {
            let row = &s.pixels[(4 + y) * 64..(5 + y) * 64];
            let want = &px[y * w as usize..(y + 1) * w as usize];
            assert!(row[16..48]
                .iter()
                .zip(want)
                .all(|(g, p)| *g == p & 0x00ff_ffff));
            assert!(row[..16].iter().chain(&row[48..]).all(|&g| g == 0));
        }
        let last = &s.pixels[47 * 64..];
        assert!(last.iter().zip(&px).all(|(g, p)| *g == p & 0x00ff_ffff));
    }
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

/// Messages as (type, body), in the order they are handled.
type Messages = Vec<(u16, Vec<u8>)>;

/// Handle `warm` messages, then `counted` ones while counting: allocations
/// per counted message, with the window and outbox kept across both.
fn steady(d: &mut Display, glz: &mut GlzWindow, warm: &[Messages], counted: &[Messages]) -> f64 {
    let mut out = Outbox::new();
    for (t, body) in warm.iter().flatten() {
        d.handle(*t, body, glz, &mut out).unwrap();
        out.drain().for_each(drop);
    }
    let n = counted.iter().map(|c| c.len()).sum::<usize>();
    let before = allocs();
    for (t, body) in counted.iter().flatten() {
        d.handle(*t, body, glz, &mut out).unwrap();
        out.drain().for_each(drop);
    }
    (allocs() - before) as f64 / n as f64
}

/// [`steady`] over one `round` of messages: `setup`, then the round once to
/// warm up, then two rounds counted.
fn steady_rounds(d: &mut Display, glz: &mut GlzWindow, setup: Messages, round: &Messages) -> f64 {
    steady(
        d,
        glz,
        &[setup, round.clone()],
        &[round.clone(), round.clone()],
    )
}

/// A `SpiceImageDescriptor`.
fn descriptor(w: &mut Writer, id: u64, kind: u32, flags: u32, width: u32, height: u32) {
    w.u64(id)
        .u8(kind as u8)
        .u8(flags as u8)
        .u32(width)
        .u32(height);
}

/// A display with a `w x h` primary surface.
fn display_with_primary(w: u32, h: u32) -> Display {
    let mut d = display();
    d.handle(
        SPICE_MSG_DISPLAY_SURFACE_CREATE,
        &surface_create(w, h),
        &mut GlzWindow::new(0),
        &mut Outbox::new(),
    )
    .unwrap();
    d
}

/// The GLZ payload `data` with its image id (header bytes 21..29,
/// big-endian) moved `by` ids on, as a later part of the same session
/// would number it.
fn glz_renumbered(data: &[u8], by: u64) -> Vec<u8> {
    let mut v = data.to_vec();
    let id = u64::from_be_bytes(v[21..29].try_into().unwrap());
    v[21..29].copy_from_slice(&(id + by).to_be_bytes());
    v
}

/// The recorded GLZ session's draws as DRAW_COPY messages, `rounds` times
/// over with the image ids moved on each round (so each round continues
/// the dictionary of the one before), `zlib` wrapping each payload as
/// ZLIB_GLZ_RGB. One message list per round.
fn glz_rounds(rounds: u64, zlib: bool) -> (u32, u32, Vec<Messages>) {
    let all: Vec<_> = common::draws("glz/glz.draws")
        .into_iter()
        .filter(|d| d.image_type == SPICE_IMAGE_TYPE_GLZ_RGB && !d.data.is_empty())
        .collect();
    let (w, h) = all
        .iter()
        .fold((1, 1), |(w, h), d| (w.max(d.width), h.max(d.height)));
    let n = all.len() as u64;
    let rounds = (0..rounds)
        .map(|r| {
            all.iter()
                .map(|d| {
                    let data = glz_renumbered(&d.data, r * n);
                    let mut img = Writer::new();
                    if zlib {
                        descriptor(
                            &mut img,
                            0,
                            SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB,
                            0,
                            d.width,
                            d.height,
                        );
                        let z = common::zlib::zlib_stored(&data);
                        img.u32(data.len() as u32).u32(z.len() as u32).bytes(&z);
                    } else {
                        descriptor(&mut img, 0, SPICE_IMAGE_TYPE_GLZ_RGB, 0, d.width, d.height);
                        img.u32(data.len() as u32).bytes(&data);
                    }
                    let bbox = [0, 0, d.width as i32, d.height as i32];
                    (
                        SPICE_MSG_DISPLAY_DRAW_COPY,
                        draw_copy(bbox, &[], &img.finish()),
                    )
                })
                .collect()
        })
        .collect();
    (w, h, rounds)
}

#[test]
fn recorded_glz_draws_steady_state() {
    for zlib in [false, true] {
        let (w, h, rounds) = glz_rounds(4, zlib);
        let mut d = display_with_primary(w, h);
        let mut glz = GlzWindow::new(1 << 20);
        let n = steady(&mut d, &mut glz, &rounds[..2], &rounds[2..]);
        let kind = if zlib { "ZLIB_GLZ_RGB" } else { "GLZ_RGB" };
        println!("allocations per recorded {kind} DRAW_COPY (steady state): {n:.2}");
        assert_eq!(n, 0.0);
        assert_eq!(
            d.stats()
                .image_count(SPICE_IMAGE_TYPE_GLZ_RGB + u32::from(zlib) * 5),
            4 * rounds[0].len() as u64
        );
    }
}

/// A GLZ_RGB image `w` pixels wide (at most 32) and `rows` high, top-down
/// RGB32, all literals, with image id `id`; the server's window reaches back
/// to image 0 (so only the window's size releases images).
fn glz_literal_image(id: u64, w: u32, rows: u32) -> Vec<u8> {
    use spice_core::image::lz::{LZ_IMAGE_TYPE_RGB32, LZ_MAGIC, LZ_VERSION};
    let mut glz = Vec::new();
    glz.extend_from_slice(&LZ_MAGIC.to_be_bytes());
    glz.extend_from_slice(&LZ_VERSION.to_be_bytes());
    glz.push(1 << 4 | LZ_IMAGE_TYPE_RGB32 as u8);
    for v in [w, rows, w * 4] {
        glz.extend_from_slice(&v.to_be_bytes());
    }
    glz.extend_from_slice(&id.to_be_bytes());
    glz.extend_from_slice(&(id as u32).to_be_bytes());
    for y in 0..rows {
        glz.push(w as u8 - 1);
        for x in 0..w {
            glz.extend_from_slice(&[x as u8, y as u8, id as u8]);
        }
    }
    let mut img = Writer::new();
    descriptor(&mut img, 0, SPICE_IMAGE_TYPE_GLZ_RGB, 0, w, rows);
    img.u32(glz.len() as u32).bytes(&glz);
    img.finish()
}

#[test]
fn full_glz_window_steady_state() {
    // The window holds about 32 columns; each new one pushes the oldest
    // out, their heights varying by a few rows as QEMU's do.
    let (w, h) = (32, 48);
    let mut d = display_with_primary(w, h);
    let mut glz = GlzWindow::new(w * 40 * 32);
    let rounds: Vec<Messages> = (0..8u64)
        .map(|r| {
            (0..40u64)
                .map(|i| {
                    let id = r * 40 + i;
                    let rows = [40, 39, 41, 38, 36][id as usize % 5];
                    let bbox = [0, 0, w as i32, rows as i32];
                    let img = glz_literal_image(id, w, rows);
                    (SPICE_MSG_DISPLAY_DRAW_COPY, draw_copy(bbox, &[], &img))
                })
                .collect()
        })
        .collect();
    let n = steady(&mut d, &mut glz, &rounds[..6], &rounds[6..]);
    println!("allocations per GLZ_RGB DRAW_COPY with the window full: {n:.2}");
    assert_eq!(n, 0.0);
    let last = d.primary().unwrap().pixels[(36 - 1) * w as usize + 5];
    assert_eq!(last, (319 & 0xff) << 16 | 35 << 8 | 5);
}

/// A 32-bit BITMAP with `CACHE_ME` as id `id`.
fn cached_bitmap32(id: u64, w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut b = Writer::new();
    descriptor(
        &mut b,
        id,
        SPICE_IMAGE_TYPE_BITMAP,
        SPICE_IMAGE_FLAGS_CACHE_ME,
        w,
        h,
    );
    b.u8(SPICE_BITMAP_FMT_32BIT as u8)
        .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8)
        .u32(w)
        .u32(h)
        .u32(w * 4)
        .u32(0);
    for i in 0..w * h {
        b.u32((i ^ seed).wrapping_mul(2_654_435_761) >> 8);
    }
    b.finish()
}

/// INVAL_LIST of one pixmap.
fn inval_pixmap(id: u64) -> Vec<u8> {
    let mut b = Writer::new();
    b.u16(1).u8(SPICE_RES_TYPE_PIXMAP as u8).u64(id);
    b.finish()
}

/// A FROM_CACHE image of id `id`.
fn from_cache(id: u64, w: u32, h: u32) -> Vec<u8> {
    let mut b = Writer::new();
    descriptor(&mut b, id, SPICE_IMAGE_TYPE_FROM_CACHE, 0, w, h);
    b.finish()
}

#[test]
fn cache_me_draws_steady_state() {
    // The server's steady state with a full cache: evict the oldest image
    // (INVAL_LIST), send a new one with CACHE_ME, draw it again from the cache.
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let round = |id: u64| {
        vec![
            (
                SPICE_MSG_DISPLAY_INVAL_LIST,
                inval_pixmap(id.wrapping_sub(4)),
            ),
            (
                SPICE_MSG_DISPLAY_DRAW_COPY,
                draw_copy([0, 0, 16, 8], &[], &cached_bitmap32(id, 16, 8, id as u32)),
            ),
            (
                SPICE_MSG_DISPLAY_DRAW_COPY,
                draw_copy([16, 8, 32, 16], &[], &from_cache(id, 16, 8)),
            ),
        ]
    };
    let rounds: Vec<_> = (100..140).map(round).collect();
    let n = steady(&mut d, &mut glz, &rounds[..20], &rounds[20..]);
    println!(
        "allocations per CACHE_ME round (INVAL_LIST + BITMAP CACHE_ME + FROM_CACHE): {:.2}",
        n * 3.0
    );
    assert_eq!(n, 0.0);
    let s = d.primary().unwrap();
    assert_eq!(
        s.pixels[8 * 64 + 16] & 0xffffff,
        (139u32.wrapping_mul(2_654_435_761) >> 8) & 0xffffff
    );
}

/// STREAM_CREATE of an MJPEG stream `id` drawing `w x h` frames at `dest`.
fn stream_create(id: u32, w: u32, h: u32, dest: [i32; 4]) -> Vec<u8> {
    let mut b = Writer::new();
    b.u32(0)
        .u32(id)
        .u8(SPICE_STREAM_FLAGS_TOP_DOWN as u8)
        .u8(SPICE_VIDEO_CODEC_TYPE_MJPEG as u8)
        .u64(0)
        .u32(w)
        .u32(h)
        .u32(w)
        .u32(h);
    b.i32(dest[1]).i32(dest[0]).i32(dest[3]).i32(dest[2]);
    b.u8(SPICE_CLIP_TYPE_NONE as u8);
    b.finish()
}

fn stream_data(id: u32, mm: u32, frame: &[u8]) -> Vec<u8> {
    let mut b = Writer::new();
    b.u32(id).u32(mm).u32(frame.len() as u32).bytes(frame);
    b.finish()
}

#[test]
fn mjpeg_stream_frames_steady_state() {
    // Real JPEGs of the QEMU server's encoder, sent as frames of one stream.
    let frames: Vec<_> = common::draws("jpeg/panel.draws")
        .into_iter()
        .filter(|d| d.image_type == SPICE_IMAGE_TYPE_JPEG && !d.data.is_empty())
        .collect();
    let (w, h) = (frames[0].width, frames[0].height);
    let same: Vec<_> = frames
        .iter()
        .filter(|f| (f.width, f.height) == (w, h))
        .collect();
    assert!(same.len() >= 2, "{} frames of {w}x{h}", same.len());
    for abbreviated in [false, true] {
        let mut d = display_with_primary(w + 8, h + 8);
        let mut glz = GlzWindow::new(0);
        let create = vec![(
            SPICE_MSG_DISPLAY_STREAM_CREATE,
            stream_create(7, w, h, [4, 4, 4 + w as i32, 4 + h as i32]),
        )];
        let round: Vec<_> = same
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let jpeg = if abbreviated {
                    common::strip_dht(&f.data)
                } else {
                    f.data.clone()
                };
                (
                    SPICE_MSG_DISPLAY_STREAM_DATA,
                    stream_data(7, i as u32, &jpeg),
                )
            })
            .collect();
        let n = steady(
            &mut d,
            &mut glz,
            &[create, round.clone()],
            &[round.clone(), round],
        );
        let kind = if abbreviated {
            "abbreviated (no DHT)"
        } else {
            "complete"
        };
        println!("allocations per {kind} MJPEG stream frame {w}x{h} (steady state): {n:.2}");
        assert_eq!(d.stats().frames, 3 * same.len() as u64);
        assert_eq!(d.stats().dropped_frames, 0);
    }
}

/// A `DisplayBase` for surface 0 with no clip.
fn base(w: &mut Writer, bbox: [i32; 4]) {
    w.u32(0).i32(bbox[1]).i32(bbox[0]).i32(bbox[3]).i32(bbox[2]);
    w.u8(SPICE_CLIP_TYPE_NONE as u8);
}

#[test]
fn copy_bits_and_surface_sources_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let mut off = Writer::new();
    off.u32(3)
        .u32(32)
        .u32(16)
        .u32(SPICE_SURFACE_FMT_32_xRGB)
        .u32(0);
    let img = bitmap32(32, 16);
    let setup = vec![
        (SPICE_MSG_DISPLAY_SURFACE_CREATE, off.finish()),
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            draw_copy([0, 0, 32, 16], &[], &img),
        ),
    ];
    let mut scroll = Writer::new();
    base(&mut scroll, [0, 0, 64, 40]);
    scroll.i32(0).i32(8);
    let scroll = scroll.finish();
    let n = steady(
        &mut d,
        &mut glz,
        &[
            setup.clone(),
            vec![(SPICE_MSG_DISPLAY_COPY_BITS, scroll.clone())],
        ],
        &vec![vec![(SPICE_MSG_DISPLAY_COPY_BITS, scroll)]; 4],
    );
    println!("allocations per COPY_BITS: {n:.2}");
    assert_eq!(n, 0.0);
    let surface_image = |id: u32, w: u32, h: u32| {
        let mut b = Writer::new();
        descriptor(&mut b, 0, SPICE_IMAGE_TYPE_SURFACE, 0, w, h);
        b.u32(id);
        b.finish()
    };
    // From the primary onto itself (a DRAW_COPY of SURFACE 0), and from an
    // off-screen surface, clipped to two pieces.
    let own = draw_copy([32, 16, 48, 24], &[], &surface_image(0, 64, 48));
    let other = draw_copy(
        [0, 24, 32, 40],
        &[[0, 24, 10, 40], [10, 24, 32, 30]],
        &surface_image(3, 32, 16),
    );
    let round = vec![
        (SPICE_MSG_DISPLAY_DRAW_COPY, own),
        (SPICE_MSG_DISPLAY_DRAW_COPY, other),
    ];
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per surface-sourced DRAW_COPY: {n:.2}");
    assert_eq!(n, 0.0);
}

#[test]
fn text_and_stroke_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let mut t = Writer::new();
    base(&mut t, [0, 0, 40, 12]);
    let str_ptr = t.buf.len() as u32 + 4 + 16 + 5 + 5 + 4;
    t.u32(str_ptr).i32(0).i32(0).i32(12).i32(40);
    t.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x0000ff);
    t.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x00ff00);
    t.u16(SPICE_ROPD_OP_PUT as u16)
        .u16(SPICE_ROPD_OP_PUT as u16);
    assert_eq!(t.buf.len() as u32, str_ptr);
    // Five 8x10 A1 glyphs side by side.
    t.u16(5)
        .u8((SPICE_STRING_FLAGS_RASTER_A1 | SPICE_STRING_FLAGS_RASTER_TOP_DOWN) as u8);
    for g in 0..5 {
        t.i32(g * 8).i32(11).i32(0).i32(-10).u16(8).u16(10);
        for row in 0..10u8 {
            t.u8(row.wrapping_mul(37) ^ g as u8);
        }
    }
    let text = t.finish();
    let n = steady(
        &mut d,
        &mut glz,
        &[vec![(SPICE_MSG_DISPLAY_DRAW_TEXT, text.clone())]],
        &vec![vec![(SPICE_MSG_DISPLAY_DRAW_TEXT, text)]; 4],
    );
    println!("allocations per DRAW_TEXT (5 glyphs): {n:.2}");
    assert_eq!(n, 0.0);

    let mut s = Writer::new();
    base(&mut s, [0, 0, 64, 48]);
    let path_ptr = s.buf.len() as u32 + 4 + 1 + 5 + 4;
    s.u32(path_ptr).u8(0);
    s.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x7);
    s.u16(SPICE_ROPD_OP_PUT as u16)
        .u16(SPICE_ROPD_OP_PUT as u16);
    assert_eq!(s.buf.len() as u32, path_ptr);
    // A closed polyline, then a Bezier curve.
    s.u32(2);
    s.u8((SPICE_PATH_BEGIN | SPICE_PATH_END | SPICE_PATH_CLOSE) as u8)
        .u32(4);
    for (x, y) in [(1, 1), (30, 2), (28, 20), (3, 18)] {
        s.i32(x * 16).i32(y * 16);
    }
    s.u8((SPICE_PATH_BEGIN | SPICE_PATH_BEZIER | SPICE_PATH_END) as u8)
        .u32(4);
    for (x, y) in [(5, 40), (20, 10), (40, 46), (60, 30)] {
        s.i32(x * 16).i32(y * 16);
    }
    let stroke = s.finish();
    let n = steady(
        &mut d,
        &mut glz,
        &[vec![(SPICE_MSG_DISPLAY_DRAW_STROKE, stroke.clone())]],
        &vec![vec![(SPICE_MSG_DISPLAY_DRAW_STROKE, stroke)]; 4],
    );
    println!("allocations per DRAW_STROKE (polyline + Bezier): {n:.2}");
    assert_eq!(n, 0.0);
    assert_eq!(d.stats().unsupported, 0);
}

/// The first JPEG frame of the recorded panel stream and its size in bytes.
fn panel_jpeg() -> (common::Draw, usize) {
    let f = common::draws("jpeg/panel.draws")
        .into_iter()
        .find(|d| d.image_type == SPICE_IMAGE_TYPE_JPEG && !d.data.is_empty())
        .unwrap();
    let px = (f.width * f.height * 4) as usize;
    (f, px)
}

/// Run `setup` then `draw` on a display whose budget is `limit`: the
/// draw's result, the budget used before it, the budget, and the display
/// (alive: it holds the charges).
fn under_budget(
    limit: usize,
    setup: &[(u16, Vec<u8>)],
    draw: (u16, Vec<u8>),
) -> (
    Result<(), spice_core::error::WireError>,
    usize,
    spice_core::budget::Budget,
    Display,
) {
    use spice_core::budget::Budget;
    let config = DisplayConfig {
        preferred_compression: None,
        glz_window_pixels: 0,
        pixmap_cache_pixels: 1 << 10,
        glz_dictionary_id: 0,
        pixmap_cache_id: 0,
    };
    let budget = Budget::new(limit);
    let mut d = Display::with_budget(0, config, budget.clone()).unwrap();
    let (mut glz, mut out) = (GlzWindow::new(0), Outbox::new());
    for (t, body) in setup {
        d.handle(*t, body, &mut glz, &mut out).unwrap();
    }
    let before = budget.used();
    let res = d.handle(draw.0, &draw.1, &mut glz, &mut out);
    (res, before, budget, d)
}

/// `setup` + `draw` keep `kept` bytes charged after the draw, peak at
/// `peak` more than before it, and are refused one byte short of that
/// peak with the budget back where it was.
fn charged_and_refused(setup: &[(u16, Vec<u8>)], draw: (u16, Vec<u8>), kept: usize, peak: usize) {
    let (res, before, budget, _d) = under_budget(usize::MAX, setup, draw.clone());
    res.unwrap();
    assert_eq!(budget.used(), before + kept);
    assert_eq!(budget.high_water(), before + peak);
    let (res, _, budget, _d) = under_budget(before + peak - 1, setup, draw);
    assert_eq!(
        res.unwrap_err().reason,
        "memory budget exceeded by an image"
    );
    assert_eq!(budget.used(), before);
}

#[test]
fn stream_frame_buffer_is_charged_and_refused_over_budget() {
    let (f, px) = panel_jpeg();
    let dest = [0, 0, f.width as i32, f.height as i32];
    let setup = [
        (
            SPICE_MSG_DISPLAY_SURFACE_CREATE,
            surface_create(f.width, f.height),
        ),
        (
            SPICE_MSG_DISPLAY_STREAM_CREATE,
            stream_create(1, f.width, f.height, dest),
        ),
    ];
    let draw = (SPICE_MSG_DISPLAY_STREAM_DATA, stream_data(1, 0, &f.data));
    // The frame buffer stays charged; the decoder's working room was given back.
    charged_and_refused(&setup, draw, px, 2 * px);
}

// ---------------------------------------------------------------------------
// Masks, pattern brushes, scaled sources, JPEG, LZ palette and alpha images,
// cached or clipped 16/24-bit LZ4 images.

/// A `Copy` (DRAW_COPY body) laid out field by field.
struct CopyMsg<'a> {
    bbox: [i32; 4],
    clip: &'a [[i32; 4]],
    src_area: [i32; 4],
    scale_mode: u32,
    /// A mask image and where the box sits within it.
    mask: Option<(&'a [u8], i32, i32)>,
    image: &'a [u8],
}

impl CopyMsg<'_> {
    fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        base_clipped(&mut w, self.bbox, self.clip);
        let copy_len = 4 + 16 + 2 + 1 + 13;
        let src = w.buf.len() as u32 + copy_len;
        let mask_at = src + self.image.len() as u32;
        let [l, t, r, b] = self.src_area;
        w.u32(src).i32(t).i32(l).i32(b).i32(r);
        w.u16(SPICE_ROPD_OP_PUT as u16).u8(self.scale_mode as u8);
        match self.mask {
            Some((_, x, y)) => w.u8(0).i32(x).i32(y).u32(mask_at),
            None => w.u8(0).i32(0).i32(0).u32(0),
        };
        assert_eq!(w.buf.len() as u32, src);
        w.bytes(self.image);
        if let Some((m, _, _)) = self.mask {
            w.bytes(m);
        }
        w.finish()
    }
}

/// A `DisplayBase` for surface 0 with the given clip rects (none: no clip).
fn base_clipped(w: &mut Writer, [l, t, r, b]: [i32; 4], clip: &[[i32; 4]]) {
    w.u32(0).i32(t).i32(l).i32(b).i32(r);
    if clip.is_empty() {
        w.u8(SPICE_CLIP_TYPE_NONE as u8);
    } else {
        w.u8(SPICE_CLIP_TYPE_RECTS as u8).u32(clip.len() as u32);
        for [l, t, r, b] in clip {
            w.i32(*t).i32(*l).i32(*b).i32(*r);
        }
    }
}

/// A 1-bit (big-endian bit order) top-down BITMAP of `w x h`, not cached,
/// with no palette, set where `set(x, y)`.
fn mask_bitmap(w: u32, h: u32, set: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let stride = w.div_ceil(8);
    let mut b = Writer::new();
    descriptor(&mut b, 0, SPICE_IMAGE_TYPE_BITMAP, 0, w, h);
    b.u8(SPICE_BITMAP_FMT_1BIT_BE as u8)
        .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8)
        .u32(w)
        .u32(h)
        .u32(stride)
        .u32(0);
    for y in 0..h {
        for byte in 0..stride {
            let mut v = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if x < w && set(x, y) {
                    v |= 0x80 >> bit;
                }
            }
            b.u8(v);
        }
    }
    b.finish()
}

/// An 8-bit BITMAP of `w x h` (not cached, top-down) with an inline
/// palette placed after its rows, index `(x + 3 * y) % 4`.
fn bitmap8(w: u32, h: u32, palette: &[u32; 4]) -> Vec<u8> {
    let mut b = Writer::new();
    descriptor(&mut b, 0, SPICE_IMAGE_TYPE_BITMAP, 0, w, h);
    b.u8(SPICE_BITMAP_FMT_8BIT as u8)
        .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8)
        .u32(w)
        .u32(h)
        .u32(w);
    let ptr_at = b.buf.len();
    b.u32(0);
    for y in 0..h {
        for x in 0..w {
            b.u8(((x + 3 * y) % 4) as u8);
        }
    }
    // Palette pointers count from the start of the message: patched by
    // `place` once the image's offset is known.
    let pal_at = b.buf.len() as u32;
    b.u64(0x77).u16(4);
    for p in palette {
        b.u32(*p);
    }
    let mut v = b.finish();
    v[ptr_at..ptr_at + 4].copy_from_slice(&pal_at.to_le_bytes());
    v
}

/// `image` (whose inline palette pointer at `ptr_at`, if any, is relative
/// to the image) moved to message offset `at`: the pointer made absolute.
fn place(mut image: Vec<u8>, ptr_at: Option<usize>, at: u32) -> Vec<u8> {
    if let Some(p) = ptr_at {
        let rel = u32::from_le_bytes(image[p..p + 4].try_into().unwrap());
        image[p..p + 4].copy_from_slice(&(rel + at).to_le_bytes());
    }
    image
}

/// Offset of the palette pointer inside a [`bitmap8`] image.
const BITMAP_PALETTE_PTR: usize = 18 + 1 + 1 + 12;

#[test]
fn masked_draws_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let mask = mask_bitmap(24, 12, |x, y| (x + y) % 3 != 0);
    let img = bitmap32(16, 8);
    let copy = CopyMsg {
        bbox: [4, 4, 20, 12],
        clip: &[],
        src_area: [0, 0, 16, 8],
        scale_mode: SPICE_IMAGE_SCALE_MODE_NEAREST,
        mask: Some((&mask, 2, 1)),
        image: &img,
    }
    .body();
    // A solid FILL through the same kind of mask.
    let mut fill = Writer::new();
    base_clipped(&mut fill, [30, 10, 54, 22], &[]);
    let mask_at = fill.buf.len() as u32 + 5 + 2 + 13;
    fill.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x00ab_cdef);
    fill.u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .i32(0)
        .i32(0)
        .u32(mask_at);
    assert_eq!(fill.buf.len() as u32, mask_at);
    fill.bytes(&mask);
    let fill = fill.finish();
    let round = vec![
        (SPICE_MSG_DISPLAY_DRAW_COPY, copy),
        (SPICE_MSG_DISPLAY_DRAW_FILL, fill),
    ];
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per masked DRAW_COPY / DRAW_FILL (1-bit BITMAP mask): {n:.2}");
    let s = d.primary().unwrap();
    // Box pixel (x, y) reads mask pixel (x - left + pos.x, y - top + pos.y).
    for y in 10..22 {
        for x in 30..54 {
            let (mx, my) = ((x - 30) as u32, (y - 10) as u32);
            let want = if (mx + my) % 3 != 0 { 0x00ab_cdef } else { 0 };
            assert_eq!(s.pixels[y * 64 + x], want, "fill at {x},{y}");
        }
    }
    for y in 4..12 {
        for x in 4..20 {
            let (mx, my) = ((x - 4 + 2) as u32, (y - 4 + 1) as u32);
            let i = ((y - 4) * 16 + (x - 4)) as u32;
            let want = if (mx + my) % 3 != 0 {
                (i.wrapping_mul(2_654_435_761) >> 8) & 0xffffff
            } else {
                0
            };
            assert_eq!(s.pixels[y * 64 + x], want, "copy at {x},{y}");
        }
    }
    assert_eq!(n, 0.0);
}

/// A DRAW_FILL of `bbox` with a pattern brush `image` (placed right after
/// the fill; `ptr_at` its inline palette pointer, relative to the image).
fn pattern_fill(bbox: [i32; 4], image: Vec<u8>, ptr_at: Option<usize>) -> Vec<u8> {
    let mut w = Writer::new();
    base_clipped(&mut w, bbox, &[]);
    let at = w.buf.len() as u32 + 13 + 2 + 13;
    w.u8(SPICE_BRUSH_TYPE_PATTERN as u8).u32(at).i32(1).i32(2);
    w.u16(SPICE_ROPD_OP_PUT as u16).u8(0).i32(0).i32(0).u32(0);
    assert_eq!(w.buf.len() as u32, at);
    w.bytes(&place(image, ptr_at, at));
    w.finish()
}

#[test]
fn pattern_fills_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let palette = [0x0011_2233, 0x0044_5566, 0x0077_8899, 0x00aa_bbcc];
    let true_colour = pattern_fill([0, 0, 20, 20], bitmap32(8, 8), None);
    let indexed = pattern_fill(
        [20, 20, 60, 40],
        bitmap8(8, 8, &palette),
        Some(BITMAP_PALETTE_PTR),
    );
    let round = vec![
        (SPICE_MSG_DISPLAY_DRAW_FILL, true_colour),
        (SPICE_MSG_DISPLAY_DRAW_FILL, indexed),
    ];
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per pattern-brush DRAW_FILL (32-bit and 8-bit BITMAP tile): {n:.2}");
    let s = d.primary().unwrap();
    // The tile's origin is at (1, 2): pixel (x, y) shows tile ((x-1) mod 8, (y-2) mod 8).
    for y in 20..40usize {
        for x in 20..60usize {
            let (tx, ty) = ((x - 1) % 8, (y - 2) % 8);
            assert_eq!(s.pixels[y * 64 + x], palette[(tx + 3 * ty) % 4], "{x},{y}");
        }
    }
    // The 32-bit tile at (13, 7): tile pixel (4, 5).
    let i = 5 * 8 + 4u32;
    assert_eq!(
        s.pixels[7 * 64 + 13],
        (i.wrapping_mul(2_654_435_761) >> 8) & 0xffffff
    );
    assert_eq!(n, 0.0);
}

#[test]
fn scaled_copies_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let img = bitmap32(16, 8);
    let scaled = |bbox, clip, mode| {
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            CopyMsg {
                bbox,
                clip,
                src_area: [0, 0, 16, 8],
                scale_mode: mode,
                mask: None,
                image: &img,
            }
            .body(),
        )
    };
    let round = vec![
        scaled([0, 0, 32, 16], &[], SPICE_IMAGE_SCALE_MODE_NEAREST),
        scaled(
            [0, 16, 40, 36],
            &[[0, 16, 20, 36], [20, 16, 40, 30]],
            SPICE_IMAGE_SCALE_MODE_INTERPOLATE,
        ),
    ];
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per scaled DRAW_COPY (nearest, clipped bilinear): {n:.2}");
    // Nearest doubling: (2x+1, 2y+1) shows source (x, y).
    let doubled = |d: &Display, left: u32, top: u32| {
        let s = d.primary().unwrap();
        for (x, y) in [(0u32, 0u32), (7, 3), (15, 7)] {
            let i = y * 16 + x;
            let want = (i.wrapping_mul(2_654_435_761) >> 8) & 0xffffff;
            let at = ((top + 2 * y + 1) * 64 + left + 2 * x + 1) as usize;
            assert_eq!(s.pixels[at], want, "{x},{y} at {left},{top}");
        }
    };
    doubled(&d, 0, 0);
    assert_eq!(n, 0.0);

    // The ops without a scaled primitive: TRANSPARENT (a key no pixel has)
    // and ROP3 (SRCCOPY, with a pattern brush and a mask that lets all
    // through), each doubling the 16x8 image.
    let mut t = Writer::new();
    base_clipped(&mut t, [32, 32, 64, 48], &[]);
    let at = t.buf.len() as u32 + 4 + 16 + 8;
    t.u32(at).i32(0).i32(0).i32(8).i32(16);
    t.u32(0x0102_0304).u32(0x0102_0304);
    assert_eq!(t.buf.len() as u32, at);
    t.bytes(&img);
    let transparent = t.finish();
    let mut r = Writer::new();
    base_clipped(&mut r, [32, 0, 64, 16], &[]);
    let src_at = r.buf.len() as u32 + 4 + 16 + 13 + 2 + 13;
    let tile = bitmap8(4, 4, &[1, 2, 3, 4]);
    let tile_at = src_at + img.len() as u32;
    let mask = mask_bitmap(32, 16, |_, _| true);
    let mask_at = tile_at + tile.len() as u32;
    r.u32(src_at).i32(0).i32(0).i32(8).i32(16);
    r.u8(SPICE_BRUSH_TYPE_PATTERN as u8)
        .u32(tile_at)
        .i32(0)
        .i32(0);
    r.u8(0xcc).u8(SPICE_IMAGE_SCALE_MODE_NEAREST as u8);
    r.u8(0).i32(0).i32(0).u32(mask_at);
    assert_eq!(r.buf.len() as u32, src_at);
    r.bytes(&img)
        .bytes(&place(tile, Some(BITMAP_PALETTE_PTR), tile_at))
        .bytes(&mask);
    let rop3 = r.finish();
    let round = vec![
        (SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, transparent),
        (SPICE_MSG_DISPLAY_DRAW_ROP3, rop3),
    ];
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per scaled DRAW_TRANSPARENT / DRAW_ROP3 (pattern brush, mask): {n:.2}");
    doubled(&d, 32, 32);
    doubled(&d, 32, 0);
    assert_eq!(d.stats().unsupported, 0);
    assert_eq!(n, 0.0);
}

/// An uncached JPEG image (descriptor, data_size, the JFIF bytes).
fn jpeg_image(w: u32, h: u32, jpeg: &[u8]) -> Vec<u8> {
    let mut b = Writer::new();
    descriptor(&mut b, 0, SPICE_IMAGE_TYPE_JPEG, 0, w, h);
    b.u32(jpeg.len() as u32).bytes(jpeg);
    b.finish()
}

/// An LZ payload of `kind` (header, then literal runs only) over `units`,
/// `unit` bytes each, `stride` in the header.
fn lz_literals(kind: u32, w: u32, h: u32, stride: u32, unit: usize, units: &[u8]) -> Vec<u8> {
    use spice_core::image::lz::{LZ_MAGIC, LZ_VERSION};
    let mut v = Vec::new();
    for word in [LZ_MAGIC, LZ_VERSION, kind, w, h, stride, 1] {
        v.extend_from_slice(&word.to_be_bytes());
    }
    for run in units.chunks(32 * unit) {
        v.push((run.len() / unit - 1) as u8);
        v.extend_from_slice(run);
    }
    v
}

#[test]
fn jpeg_copies_steady_state() {
    let frames: Vec<_> = common::draws("jpeg/panel.draws")
        .into_iter()
        .filter(|d| d.image_type == SPICE_IMAGE_TYPE_JPEG && !d.data.is_empty())
        .collect();
    let (w, h) = (frames[0].width, frames[0].height);
    let mut d = display_with_primary(w + 8, h + 8);
    let mut glz = GlzWindow::new(0);
    let bbox = [4, 4, 4 + w as i32, 4 + h as i32];
    let round: Vec<_> = frames
        .iter()
        .filter(|f| (f.width, f.height) == (w, h))
        .map(|f| {
            let img = jpeg_image(w, h, &f.data);
            (SPICE_MSG_DISPLAY_DRAW_COPY, draw_copy(bbox, &[], &img))
        })
        .collect();
    let n = steady_rounds(&mut d, &mut glz, Vec::new(), &round);
    println!("allocations per JPEG DRAW_COPY {w}x{h} (steady state): {n:.2}");
    assert_eq!(
        d.stats().image_count(SPICE_IMAGE_TYPE_JPEG),
        3 * round.len() as u64
    );
    // The last frame landed as the image decoder alone gives it.
    let last = frames
        .iter()
        .rfind(|f| (f.width, f.height) == (w, h))
        .unwrap();
    let want = spice_core::image::jpeg::decode(&last.data).unwrap();
    let s = d.primary().unwrap();
    for y in 0..h as usize {
        let row = &s.pixels[(4 + y) * (w as usize + 8) + 4..][..w as usize];
        let want = &want.pixels[y * w as usize..][..w as usize];
        assert!(row.iter().zip(want).all(|(g, p)| *g == p & 0x00ff_ffff));
    }

    // The server's steady state with a full cache, as for BITMAPs above:
    // INVAL_LIST, a JPEG with CACHE_ME, the same again FROM_CACHE.
    let same: Vec<_> = frames
        .iter()
        .filter(|f| (f.width, f.height) == (w, h))
        .collect();
    let cached = |id: u64| {
        let f = same[id as usize % same.len()];
        let mut b = Writer::new();
        descriptor(
            &mut b,
            id,
            SPICE_IMAGE_TYPE_JPEG,
            SPICE_IMAGE_FLAGS_CACHE_ME,
            f.width,
            f.height,
        );
        b.u32(f.data.len() as u32).bytes(&f.data);
        let fb = [4, 4, 4 + f.width as i32, 4 + f.height as i32];
        vec![
            (
                SPICE_MSG_DISPLAY_INVAL_LIST,
                inval_pixmap(id.wrapping_sub(4)),
            ),
            (SPICE_MSG_DISPLAY_DRAW_COPY, draw_copy(fb, &[], &b.finish())),
            (
                SPICE_MSG_DISPLAY_DRAW_COPY,
                draw_copy(fb, &[], &from_cache(id, f.width, f.height)),
            ),
        ]
    };
    let rounds: Vec<_> = (100..140).map(cached).collect();
    let n = steady(&mut d, &mut glz, &rounds[..20], &rounds[20..]);
    println!(
        "allocations per CACHE_ME JPEG round {w}x{h} (INVAL_LIST + JPEG CACHE_ME + FROM_CACHE): {:.2}",
        n * 3.0
    );

    // A JPEG whose descriptor claims another size than its frame, given a
    // spare of the claimed size (left by an evicted BITMAP): cached at the
    // frame's size all the same.
    let f = same[0];
    let claimed = |b: &mut Writer| {
        descriptor(
            b,
            900,
            SPICE_IMAGE_TYPE_JPEG,
            SPICE_IMAGE_FLAGS_CACHE_ME,
            w + 1,
            h,
        );
        b.u32(f.data.len() as u32).bytes(&f.data);
    };
    let mut odd = Writer::new();
    claimed(&mut odd);
    let odd = odd.finish();
    let bb = [4, 4, 4 + w as i32, 4 + h as i32];
    for (t, body) in [
        (SPICE_MSG_DISPLAY_INVAL_ALL_PIXMAPS, vec![0]),
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            draw_copy([0, 0, 1, 1], &[], &cached_bitmap32(899, w + 1, h, 0)),
        ),
        (SPICE_MSG_DISPLAY_INVAL_LIST, inval_pixmap(899)),
        (SPICE_MSG_DISPLAY_DRAW_COPY, draw_copy(bb, &[], &odd)),
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            draw_copy(bb, &[], &from_cache(900, w, h)),
        ),
    ] {
        d.handle(t, &body, &mut glz, &mut Outbox::new()).unwrap();
    }
    let want = spice_core::image::jpeg::decode(&f.data).unwrap();
    let s = d.primary().unwrap();
    for y in 0..h as usize {
        let row = &s.pixels[(4 + y) * (w as usize + 8) + 4..][..w as usize];
        let want = &want.pixels[y * w as usize..][..w as usize];
        assert!(row.iter().zip(want).all(|(g, p)| *g == p & 0x00ff_ffff));
    }

    // JPEG_ALPHA: the same colour part with an XXXA alpha plane, on an
    // ARGB off-screen surface, drawn onto the primary through ALPHA_BLEND
    // would need more; a DRAW_COPY onto a 32_ARGB surface keeps the alpha.
    let mut off = Writer::new();
    off.u32(2)
        .u32(w)
        .u32(h)
        .u32(SPICE_SURFACE_FMT_32_ARGB)
        .u32(0);
    let alpha: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
    let plane = lz_literals(
        spice_core::image::lz::LZ_IMAGE_TYPE_XXXA,
        w,
        h,
        w,
        1,
        &alpha,
    );
    let jpeg_alpha = |jpeg: &[u8]| {
        let mut b = Writer::new();
        descriptor(&mut b, 0, SPICE_IMAGE_TYPE_JPEG_ALPHA, 0, w, h);
        b.u8(SPICE_JPEG_ALPHA_FLAGS_TOP_DOWN as u8)
            .u32(jpeg.len() as u32)
            .u32((jpeg.len() + plane.len()) as u32)
            .bytes(jpeg)
            .bytes(&plane);
        b.finish()
    };
    let to_off = |img: &[u8]| {
        let mut m = draw_copy([0, 0, w as i32, h as i32], &[], img);
        m[..4].copy_from_slice(&2u32.to_le_bytes());
        m
    };
    let round: Vec<_> = frames
        .iter()
        .filter(|f| (f.width, f.height) == (w, h))
        .map(|f| (SPICE_MSG_DISPLAY_DRAW_COPY, to_off(&jpeg_alpha(&f.data))))
        .collect();
    let setup = vec![(SPICE_MSG_DISPLAY_SURFACE_CREATE, off.finish())];
    let n = steady_rounds(&mut d, &mut glz, setup, &round);
    println!("allocations per JPEG_ALPHA DRAW_COPY {w}x{h} (steady state): {n:.2}");
    let s = d.canvas().surface(2).unwrap();
    assert!(s
        .pixels
        .iter()
        .zip(&alpha)
        .all(|(p, a)| (p >> 24) as u8 == *a));
    assert_eq!(
        d.stats().image_count(SPICE_IMAGE_TYPE_JPEG_ALPHA),
        3 * round.len() as u64
    );
}

/// An uncached LZ_PLT image of a PLT8 payload, its palette inline (placed
/// after the payload) or, with `from_cache`, by id from the palette cache;
/// `cache_me` asks for the inline one to be cached.
fn lz_plt_image(w: u32, h: u32, idx: &[u8], palette: &[u32], how: u32) -> (Vec<u8>, Option<usize>) {
    let lz = lz_literals(spice_core::image::lz::LZ_IMAGE_TYPE_PLT8, w, h, w, 1, idx);
    let mut b = Writer::new();
    descriptor(&mut b, 0, SPICE_IMAGE_TYPE_LZ_PLT, 0, w, h);
    b.u8(how as u8).u32(lz.len() as u32);
    if how & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE != 0 {
        b.u64(0x99).bytes(&lz);
        return (b.finish(), None);
    }
    let ptr_at = b.buf.len();
    b.u32(0).bytes(&lz);
    let pal_at = b.buf.len() as u32;
    b.u64(0x99).u16(palette.len() as u16);
    for p in palette {
        b.u32(*p);
    }
    let mut v = b.finish();
    v[ptr_at..ptr_at + 4].copy_from_slice(&pal_at.to_le_bytes());
    (v, Some(ptr_at))
}

/// A DRAW_COPY of `image` (palette pointer at `ptr_at`, relative to it)
/// onto `bbox`, clipped to `clip`.
fn placed_copy(
    bbox: [i32; 4],
    clip: &[[i32; 4]],
    image: Vec<u8>,
    ptr_at: Option<usize>,
) -> Vec<u8> {
    // The image starts right after the DisplayBase and the Copy.
    let base = 4
        + 16
        + 1
        + if clip.is_empty() {
            0
        } else {
            4 + 16 * clip.len()
        };
    let at = (base + 4 + 16 + 2 + 1 + 13) as u32;
    let m = draw_copy(bbox, clip, &place(image, ptr_at, at));
    assert_eq!(
        u32::from_le_bytes(m[base..base + 4].try_into().unwrap()),
        at
    );
    m
}

#[test]
fn lz_palette_and_alpha_images_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let palette: Vec<u32> = (0..16)
        .map(|i| 0x0010_0000 * i + 0x0000_0f0f * (15 - i))
        .collect();
    let (w, h) = (20u32, 10u32);
    let idx: Vec<u8> = (0..w * h).map(|i| (i * 7 % 16) as u8).collect();
    let bbox = [2, 2, 2 + w as i32, 2 + h as i32];
    let (inline, ptr_at) = lz_plt_image(w, h, &idx, &palette, SPICE_BITMAP_FLAGS_TOP_DOWN);
    let (cache_me, cptr_at) = lz_plt_image(
        w,
        h,
        &idx,
        &palette,
        SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_CACHE_ME,
    );
    let (from_cache, _) = lz_plt_image(
        w,
        h,
        &idx,
        &palette,
        SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_FROM_CACHE,
    );
    let warm = vec![(
        SPICE_MSG_DISPLAY_DRAW_COPY,
        placed_copy(bbox, &[], cache_me, cptr_at),
    )];
    let clip = [[2, 2, 10, 12], [10, 2, 22, 6]];
    let round = vec![
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            placed_copy(bbox, &[], inline.clone(), ptr_at),
        ),
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            placed_copy(bbox, &clip, inline, ptr_at),
        ),
        (
            SPICE_MSG_DISPLAY_DRAW_COPY,
            placed_copy(bbox, &[], from_cache, None),
        ),
    ];
    let n = steady_rounds(&mut d, &mut glz, warm, &round);
    println!(
        "allocations per LZ_PLT (PLT8) DRAW_COPY, inline or cached palette, clipped or not: {n:.2}"
    );
    let s = d.primary().unwrap();
    for y in 0..h as usize {
        for x in 0..w as usize {
            let want = palette[idx[y * w as usize + x] as usize];
            assert_eq!(s.pixels[(2 + y) * 64 + 2 + x], want, "{x},{y}");
        }
    }
    assert_eq!(n, 0.0);

    // An A8 LZ_RGB image onto an ARGB off-screen surface.
    let mut off = Writer::new();
    off.u32(2)
        .u32(w)
        .u32(h)
        .u32(SPICE_SURFACE_FMT_32_ARGB)
        .u32(0);
    let lz = lz_literals(spice_core::image::lz::LZ_IMAGE_TYPE_A8, w, h, w, 1, &idx);
    let mut img = Writer::new();
    descriptor(&mut img, 0, SPICE_IMAGE_TYPE_LZ_RGB, 0, w, h);
    img.u32(lz.len() as u32).bytes(&lz);
    let img = img.finish();
    let mut a8 = draw_copy([0, 0, w as i32, h as i32], &[], &img);
    a8[..4].copy_from_slice(&2u32.to_le_bytes());
    let mut a8_clipped = draw_copy([0, 0, w as i32, h as i32], &[[0, 0, 5, 10]], &img);
    a8_clipped[..4].copy_from_slice(&2u32.to_le_bytes());
    let round = vec![
        (SPICE_MSG_DISPLAY_DRAW_COPY, a8),
        (SPICE_MSG_DISPLAY_DRAW_COPY, a8_clipped),
    ];
    let setup = vec![(SPICE_MSG_DISPLAY_SURFACE_CREATE, off.finish())];
    let n = steady_rounds(&mut d, &mut glz, setup, &round);
    println!("allocations per A8 LZ_RGB DRAW_COPY (ARGB surface, clipped or not): {n:.2}");
    let s = d.canvas().surface(2).unwrap();
    assert!(s
        .pixels
        .iter()
        .zip(&idx)
        .all(|(p, a)| *p == (*a as u32) << 24));
    assert_eq!(n, 0.0);
}

#[test]
fn cached_and_clipped_lz4_steady_state() {
    let mut d = display_with_primary(64, 48);
    let mut glz = GlzWindow::new(0);
    let (w, h) = (16u32, 8u32);
    let px: Vec<u32> = (0..w * h)
        .map(|i| i.wrapping_mul(0x0103_0507) & 0x00ff_ffff)
        .collect();
    for (format, name) in [
        (SPICE_BITMAP_FMT_24BIT, "24BIT"),
        (SPICE_BITMAP_FMT_16BIT, "16BIT"),
    ] {
        let want: Vec<u32> = if format == SPICE_BITMAP_FMT_16BIT {
            // What 16-bit x555 keeps of each pixel, expanded again.
            px.iter()
                .map(|p| {
                    let v = (*p & 0x7fff) as u16;
                    let c = |s: u32| {
                        let f = ((v >> s) & 0x1f) as u32;
                        (f << 3) | (f >> 2)
                    };
                    (c(10) << 16) | (c(5) << 8) | c(0)
                })
                .collect()
        } else {
            px.clone()
        };
        let raw_px: Vec<u32> = if format == SPICE_BITMAP_FMT_16BIT {
            px.iter().map(|p| p & 0x7fff).collect()
        } else {
            px.clone()
        };
        let bpp16 = format == SPICE_BITMAP_FMT_16BIT;
        let image = |id: u64, flags: u32| {
            let raw: Vec<u8> = raw_px
                .iter()
                .flat_map(|p| p.to_le_bytes()[..if bpp16 { 2 } else { 3 }].to_vec())
                .collect();
            let block = lz4_flex::block::compress(&raw);
            let mut b = Writer::new();
            descriptor(&mut b, id, SPICE_IMAGE_TYPE_LZ4, flags, w, h);
            b.u32(2 + 4 + block.len() as u32)
                .u8(1)
                .u8(format as u8)
                .bytes(&(block.len() as u32).to_be_bytes())
                .bytes(&block);
            b.finish()
        };
        let round = |id: u64| {
            vec![
                (
                    SPICE_MSG_DISPLAY_INVAL_LIST,
                    inval_pixmap(id.wrapping_sub(4)),
                ),
                (
                    SPICE_MSG_DISPLAY_DRAW_COPY,
                    draw_copy([0, 0, 16, 8], &[], &image(id, SPICE_IMAGE_FLAGS_CACHE_ME)),
                ),
                (
                    SPICE_MSG_DISPLAY_DRAW_COPY,
                    draw_copy(
                        [20, 10, 36, 18],
                        &[[20, 10, 28, 18], [28, 10, 36, 14]],
                        &image(0, 0),
                    ),
                ),
            ]
        };
        let rounds: Vec<_> = (100..140).map(round).collect();
        let n = steady(&mut d, &mut glz, &rounds[..20], &rounds[20..]);
        println!(
            "allocations per {name} LZ4 round (INVAL_LIST + CACHE_ME DRAW_COPY + clipped DRAW_COPY): {:.2}",
            n * 3.0
        );
        let s = d.primary().unwrap();
        for y in 0..8usize {
            assert_eq!(&s.pixels[y * 64..y * 64 + 16], &want[y * 16..(y + 1) * 16]);
        }
        assert_eq!(&s.pixels[11 * 64 + 20..11 * 64 + 36], &want[16..32]);
        assert_eq!(n, 0.0);
    }
}

#[test]
fn jpeg_copy_scratch_is_charged_and_refused_over_budget() {
    let (f, px) = panel_jpeg();
    let setup = [(
        SPICE_MSG_DISPLAY_SURFACE_CREATE,
        surface_create(f.width, f.height),
    )];
    let img = jpeg_image(f.width, f.height, &f.data);
    let bbox = [0, 0, f.width as i32, f.height as i32];
    let draw = (SPICE_MSG_DISPLAY_DRAW_COPY, draw_copy(bbox, &[], &img));
    // The scratch stays charged; the decoder's room (twice the pixels, as
    // for any image) was given back.
    charged_and_refused(&setup, draw, px, 3 * px);
}
