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
//! narrow and full-width 32BIT and 24BIT LZ4 DRAW_COPYs likewise). MJPEG frames are only printed:
//! zune-jpeg allocates its own working buffers per frame.

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
    let n = steady(
        &mut d,
        &mut glz,
        std::slice::from_ref(&round),
        &[round.clone(), round.clone()],
    );
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

#[test]
fn stream_frame_buffer_is_charged_and_refused_over_budget() {
    use spice_core::budget::Budget;
    let f = common::draws("jpeg/panel.draws")
        .into_iter()
        .find(|d| d.image_type == SPICE_IMAGE_TYPE_JPEG && !d.data.is_empty())
        .unwrap();
    let px = (f.width * f.height * 4) as usize;
    let config = DisplayConfig {
        preferred_compression: None,
        glz_window_pixels: 0,
        pixmap_cache_pixels: 1 << 10,
        glz_dictionary_id: 0,
        pixmap_cache_id: 0,
    };
    let run = |limit: usize| {
        let budget = Budget::new(limit);
        let mut d = Display::with_budget(0, config, budget.clone()).unwrap();
        let (mut glz, mut out) = (GlzWindow::new(0), Outbox::new());
        let dest = [0, 0, f.width as i32, f.height as i32];
        for (t, body) in [
            (
                SPICE_MSG_DISPLAY_SURFACE_CREATE,
                surface_create(f.width, f.height),
            ),
            (
                SPICE_MSG_DISPLAY_STREAM_CREATE,
                stream_create(1, f.width, f.height, dest),
            ),
        ] {
            d.handle(t, &body, &mut glz, &mut out).unwrap();
        }
        let before = budget.used();
        let res = d.handle(
            SPICE_MSG_DISPLAY_STREAM_DATA,
            &stream_data(1, 0, &f.data),
            &mut glz,
            &mut out,
        );
        (res, before, budget, d)
    };
    let (res, before, budget, _d) = run(usize::MAX);
    res.unwrap();
    // The frame buffer stays charged; the decoder's working room was given back.
    assert_eq!(budget.used(), before + px);
    assert_eq!(budget.high_water(), before + 2 * px);
    let (res, _, budget, _d) = run(before + 2 * px - 1);
    assert_eq!(
        res.unwrap_err().reason,
        "memory budget exceeded by an image"
    );
    assert_eq!(budget.used(), before);
}
