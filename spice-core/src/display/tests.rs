//! Display-channel tests. Message bodies are laid out by hand from
//! `spice.proto` (field by field, pointers as body offsets); expected pixels
//! follow from the protocol's meaning, not from our own serialiser.

use super::*;
use alloc::vec;

const XRGB: u32 = SPICE_SURFACE_FMT_32_xRGB;

fn config() -> DisplayConfig {
    DisplayConfig {
        preferred_compression: Some(SPICE_IMAGE_COMPRESSION_LZ as u8),
        glz_window_pixels: 0,
        pixmap_cache_pixels: 1 << 20,
        glz_dictionary_id: 1,
        pixmap_cache_id: 2,
    }
}

/// A little-endian body builder with pointer patching.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Rect in wire order: top, left, bottom, right.
    fn rect(&mut self, left: i32, top: i32, right: i32, bottom: i32) -> &mut Self {
        self.i32(top).i32(left).i32(bottom).i32(right)
    }
    /// DisplayBase with clip NONE or RECTS.
    fn base(
        &mut self,
        surface: u32,
        bbox: (i32, i32, i32, i32),
        clip: &[(i32, i32, i32, i32)],
    ) -> &mut Self {
        self.u32(surface).rect(bbox.0, bbox.1, bbox.2, bbox.3);
        if clip.is_empty() {
            self.u8(SPICE_CLIP_TYPE_NONE as u8)
        } else {
            self.u8(SPICE_CLIP_TYPE_RECTS as u8).u32(clip.len() as u32);
            for c in clip {
                self.rect(c.0, c.1, c.2, c.3);
            }
            self
        }
    }
    /// A u32 pointer placeholder; returns where to patch.
    fn ptr(&mut self) -> usize {
        let at = self.0.len();
        self.u32(0);
        at
    }
    /// Point the placeholder at `at` to the current end.
    fn patch(&mut self, at: usize) {
        let here = self.0.len() as u32;
        self.0[at..at + 4].copy_from_slice(&here.to_le_bytes());
    }
    fn no_mask(&mut self) -> &mut Self {
        self.u8(0).i32(0).i32(0).u32(0)
    }
    /// SpiceImage: descriptor + BitmapData (32BIT, no palette) with rows as given.
    fn bitmap32(&mut self, id: u64, flags: u32, rows: &[&[u32]], top_down: bool) -> &mut Self {
        let (w, h) = (rows[0].len() as u32, rows.len() as u32);
        self.u64(id)
            .u8(SPICE_IMAGE_TYPE_BITMAP as u8)
            .u8(flags as u8)
            .u32(w)
            .u32(h);
        let bflags = if top_down {
            SPICE_BITMAP_FLAGS_TOP_DOWN
        } else {
            0
        };
        self.u8(SPICE_BITMAP_FMT_32BIT as u8)
            .u8(bflags as u8)
            .u32(w)
            .u32(h)
            .u32(w * 4)
            .u32(0);
        let order: Vec<&[u32]> = if top_down {
            rows.to_vec()
        } else {
            rows.iter().rev().copied().collect()
        };
        for row in order {
            for &p in row {
                self.u32(p);
            }
        }
        self
    }
}

struct Rig {
    d: Display,
    glz: GlzWindow,
    out: Outbox,
}

impl Rig {
    fn new(w: u32, h: u32) -> Self {
        let mut r = Rig {
            d: Display::new(0, config()),
            glz: GlzWindow::new(0),
            out: Outbox::new(),
        };
        let mut b = Body::default();
        b.u32(0)
            .u32(w)
            .u32(h)
            .u32(XRGB)
            .u32(SPICE_SURFACE_FLAGS_PRIMARY);
        r.send(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b.0).unwrap();
        r.d.take_dirty();
        r
    }
    fn send(&mut self, t: u16, body: &[u8]) -> Result<(), WireError> {
        self.d.handle(t, body, &mut self.glz, &mut self.out)
    }
    fn px(&self) -> Vec<u32> {
        self.d.primary().unwrap().pixels.clone()
    }
}

fn fill_msg(
    surface: u32,
    bbox: (i32, i32, i32, i32),
    clip: &[(i32, i32, i32, i32)],
    color: u32,
    rop: u32,
) -> Vec<u8> {
    let mut b = Body::default();
    b.base(surface, bbox, clip);
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8)
        .u32(color)
        .u16(rop as u16)
        .no_mask();
    b.0
}

#[test]
fn link_sends_init_and_preferred_compression() {
    let mut d = Display::new(0, config());
    let mut out = Outbox::new();
    let mut server_caps = Vec::new();
    set_cap(&mut server_caps, SPICE_DISPLAY_CAP_PREF_COMPRESSION);
    d.on_linked(&server_caps, &mut out);
    let msgs: Vec<_> = out.drain().collect();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].0, SPICE_MSGC_DISPLAY_INIT);
    // pixmap_cache_id u8, pixmap_cache_size i64, glz_dictionary_id u8, glz_window_size i32
    assert_eq!(msgs[0].1, vec![2, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(
        msgs[1],
        (
            SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION,
            vec![SPICE_IMAGE_COMPRESSION_LZ as u8]
        )
    );
    d.on_linked(&[], &mut out);
    assert_eq!(out.drain().count(), 1);
    let caps = Display::client_caps();
    assert!(has_cap(&caps, SPICE_DISPLAY_CAP_PREF_COMPRESSION));
    assert!(has_cap(&caps, SPICE_DISPLAY_CAP_SIZED_STREAM));
    assert!(!has_cap(&caps, SPICE_DISPLAY_CAP_COMPOSITE));
}

#[test]
fn surface_create_and_fill_with_clip() {
    let mut r = Rig::new(4, 3);
    assert_eq!(r.d.primary().unwrap().width, 4);
    let body = fill_msg(
        0,
        (0, 0, 4, 3),
        &[(0, 0, 2, 1), (3, 2, 4, 3)],
        0x00ff0000,
        SPICE_ROPD_OP_PUT,
    );
    r.send(SPICE_MSG_DISPLAY_DRAW_FILL, &body).unwrap();
    let red = 0xff0000;
    assert_eq!(r.px(), vec![red, red, 0, 0, 0, 0, 0, 0, 0, 0, 0, red]);
    assert_eq!(r.d.take_dirty(), Some(Rect::new(0, 0, 4, 3)));
    // XOR with the same colour clears it again.
    let body = fill_msg(0, (0, 0, 1, 1), &[], 0x00ff0000, SPICE_ROPD_OP_XOR);
    r.send(SPICE_MSG_DISPLAY_DRAW_FILL, &body).unwrap();
    assert_eq!(r.px()[0], 0);
    assert_eq!(r.d.take_dirty(), Some(Rect::new(0, 0, 1, 1)));
}

#[test]
fn draw_copy_bitmap_bottom_up_with_src_area() {
    let mut r = Rig::new(4, 2);
    let mut b = Body::default();
    b.base(0, (1, 0, 3, 2), &[]);
    let p = b.ptr();
    // src_area: the right half of a 3x2 bitmap -> columns 1..3
    b.rect(1, 0, 3, 2)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(SPICE_IMAGE_SCALE_MODE_NEAREST as u8)
        .no_mask();
    b.patch(p);
    b.bitmap32(0, 0, &[&[1, 2, 3], &[4, 5, 6]], false);
    r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0).unwrap();
    assert_eq!(r.px(), vec![0, 2, 3, 0, 0, 5, 6, 0]);
}

#[test]
fn draw_copy_scaled_nearest() {
    let mut r = Rig::new(4, 2);
    let mut b = Body::default();
    b.base(0, (0, 0, 4, 2), &[]);
    let p = b.ptr();
    b.rect(0, 0, 2, 1)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(SPICE_IMAGE_SCALE_MODE_NEAREST as u8)
        .no_mask();
    b.patch(p);
    b.bitmap32(0, 0, &[&[0x10, 0x20]], true);
    r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0).unwrap();
    assert_eq!(r.px(), vec![0x10, 0x10, 0x20, 0x20, 0x10, 0x10, 0x20, 0x20]);
}

#[test]
fn pixmap_cache_me_from_cache_and_inval() {
    let mut r = Rig::new(2, 1);
    let mut b = Body::default();
    b.base(0, (0, 0, 1, 1), &[]);
    let p = b.ptr();
    b.rect(0, 0, 1, 1)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .no_mask();
    b.patch(p);
    b.bitmap32(0xabc, SPICE_IMAGE_FLAGS_CACHE_ME, &[&[0x77]], true);
    r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0).unwrap();
    // Second draw: same image by id.
    let mut b = Body::default();
    b.base(0, (1, 0, 2, 1), &[]);
    let p = b.ptr();
    b.rect(0, 0, 1, 1)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .no_mask();
    b.patch(p);
    b.u64(0xabc)
        .u8(SPICE_IMAGE_TYPE_FROM_CACHE as u8)
        .u8(0)
        .u32(1)
        .u32(1);
    let from_cache = b.0.clone();
    r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &from_cache).unwrap();
    assert_eq!(r.px(), vec![0x77, 0x77]);
    // INVAL_LIST: count u16, {type u8, id u64}
    let mut inval = Body::default();
    inval.u16(1).u8(SPICE_RES_TYPE_PIXMAP as u8).u64(0xabc);
    r.send(SPICE_MSG_DISPLAY_INVAL_LIST, &inval.0).unwrap();
    assert!(r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &from_cache).is_err());
    // Per-type counters: one BITMAP, one FROM_CACHE; the failed lookup is not counted.
    let st = r.d.stats();
    assert_eq!(
        (
            st.image_count(SPICE_IMAGE_TYPE_BITMAP),
            st.image_count(SPICE_IMAGE_TYPE_FROM_CACHE)
        ),
        (1, 1)
    );
    assert_eq!(st.images.iter().sum::<u64>(), 2);
}

#[test]
fn copy_bits_scrolls_up() {
    let mut r = Rig::new(1, 3);
    r.d.canvas.surface_mut(0).unwrap().pixels = vec![1, 2, 3];
    let mut b = Body::default();
    // destination rows 0..2 take source rows starting at y=1
    b.base(0, (0, 0, 1, 2), &[]).i32(0).i32(1);
    r.send(SPICE_MSG_DISPLAY_COPY_BITS, &b.0).unwrap();
    assert_eq!(r.px(), vec![2, 3, 3]);
}

#[test]
fn surface_source_from_offscreen_surface() {
    let mut r = Rig::new(2, 1);
    let mut b = Body::default();
    b.u32(5).u32(2).u32(1).u32(XRGB).u32(0);
    r.send(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b.0).unwrap();
    r.send(
        SPICE_MSG_DISPLAY_DRAW_FILL,
        &fill_msg(5, (1, 0, 2, 1), &[], 0x123456, SPICE_ROPD_OP_PUT),
    )
    .unwrap();
    // Drawing on an off-screen surface does not dirty the primary.
    assert_eq!(r.d.take_dirty(), None);
    let mut b = Body::default();
    b.base(0, (0, 0, 1, 1), &[]);
    let p = b.ptr();
    b.rect(1, 0, 2, 1)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .no_mask();
    b.patch(p);
    b.u64(0)
        .u8(SPICE_IMAGE_TYPE_SURFACE as u8)
        .u8(0)
        .u32(2)
        .u32(1)
        .u32(5);
    r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0).unwrap();
    assert_eq!(r.px(), vec![0x123456, 0]);
    let mut b = Body::default();
    b.u32(5);
    r.send(SPICE_MSG_DISPLAY_SURFACE_DESTROY, &b.0).unwrap();
    assert!(r.d.canvas().surface(5).is_none());
}

#[test]
fn blackness_whiteness_invers() {
    let mut r = Rig::new(3, 1);
    let mut b = Body::default();
    b.base(0, (0, 0, 2, 1), &[]).no_mask();
    r.send(SPICE_MSG_DISPLAY_DRAW_WHITENESS, &b.0).unwrap();
    assert_eq!(r.px(), vec![0xffffff, 0xffffff, 0]);
    let mut b = Body::default();
    b.base(0, (1, 0, 3, 1), &[]).no_mask();
    r.send(SPICE_MSG_DISPLAY_DRAW_INVERS, &b.0).unwrap();
    assert_eq!(r.px(), vec![0xffffff, 0, 0xffffff]);
    let mut b = Body::default();
    b.base(0, (0, 0, 1, 1), &[]).no_mask();
    r.send(SPICE_MSG_DISPLAY_DRAW_BLACKNESS, &b.0).unwrap();
    assert_eq!(r.px(), vec![0, 0, 0xffffff]);
}

#[test]
fn fill_with_mask_bitmap() {
    let mut r = Rig::new(4, 1);
    let mut b = Body::default();
    b.base(0, (0, 0, 4, 1), &[]);
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8)
        .u32(0x0000ff)
        .u16(SPICE_ROPD_OP_PUT as u16);
    // QMask: flags, pos (mask pixel at bbox origin), bitmap pointer
    b.u8(0).i32(0).i32(0);
    let p = b.ptr();
    b.patch(p);
    b.u64(0)
        .u8(SPICE_IMAGE_TYPE_BITMAP as u8)
        .u8(0)
        .u32(4)
        .u32(1);
    b.u8(SPICE_BITMAP_FMT_1BIT_BE as u8)
        .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8)
        .u32(4)
        .u32(1)
        .u32(1)
        .u32(0);
    b.u8(0b1001_0000);
    r.send(SPICE_MSG_DISPLAY_DRAW_FILL, &b.0).unwrap();
    assert_eq!(r.px(), vec![0xff, 0, 0, 0xff]);
}

#[test]
fn opaque_copies_then_applies_brush() {
    let mut r = Rig::new(2, 1);
    let mut b = Body::default();
    b.base(0, (0, 0, 2, 1), &[]);
    let p = b.ptr();
    b.rect(0, 0, 2, 1);
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x0000ff);
    b.u16(SPICE_ROPD_OP_XOR as u16).u8(0).no_mask();
    b.patch(p);
    b.bitmap32(0, 0, &[&[0x0000f0, 0x00ff00]], true);
    r.send(SPICE_MSG_DISPLAY_DRAW_OPAQUE, &b.0).unwrap();
    assert_eq!(r.px(), vec![0x00000f, 0x00ffff]);
}

#[test]
fn transparent_skips_key_colour() {
    let mut r = Rig::new(2, 1);
    r.send(
        SPICE_MSG_DISPLAY_DRAW_FILL,
        &fill_msg(0, (0, 0, 2, 1), &[], 0x111111, SPICE_ROPD_OP_PUT),
    )
    .unwrap();
    let mut b = Body::default();
    b.base(0, (0, 0, 2, 1), &[]);
    let p = b.ptr();
    b.rect(0, 0, 2, 1).u32(0xff00ff).u32(0xff00ff);
    b.patch(p);
    b.bitmap32(0, 0, &[&[0xff00ff, 0x222222]], true);
    r.send(SPICE_MSG_DISPLAY_DRAW_TRANSPARENT, &b.0).unwrap();
    assert_eq!(r.px(), vec![0x111111, 0x222222]);
}

#[test]
fn streams_report_and_drop_unsupported_codecs() {
    let mut r = Rig::new(4, 4);
    let mut b = Body::default();
    b.u32(0)
        .u32(2)
        .u8(SPICE_STREAM_FLAGS_TOP_DOWN as u8)
        .u8(SPICE_VIDEO_CODEC_TYPE_VP8 as u8)
        .u64(0);
    b.u32(4)
        .u32(4)
        .u32(4)
        .u32(4)
        .rect(0, 0, 4, 4)
        .u8(SPICE_CLIP_TYPE_NONE as u8);
    r.send(SPICE_MSG_DISPLAY_STREAM_CREATE, &b.0).unwrap();
    assert_eq!(r.d.streams().len(), 1);
    let mut b = Body::default();
    b.u32(2).u32(1).u32(1).u32(1000); // stream_id, unique_id, max_window_size, timeout_ms
    r.send(SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT, &b.0)
        .unwrap();
    let mut b = Body::default();
    b.u32(2).u32(500).u32(3).u8(1).u8(2).u8(3);
    r.send(SPICE_MSG_DISPLAY_STREAM_DATA, &b.0).unwrap();
    assert_eq!(r.d.stats().dropped_frames, 1);
    let msgs: Vec<_> = r.out.drain().collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, SPICE_MSGC_DISPLAY_STREAM_REPORT);
    // stream_id, unique_id, start, end, num_frames, num_drops
    assert_eq!(
        &msgs[0].1[..24],
        &[2, 0, 0, 0, 1, 0, 0, 0, 0xf4, 1, 0, 0, 0xf4, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    );
    let mut b = Body::default();
    b.u32(2)
        .u8(SPICE_CLIP_TYPE_RECTS as u8)
        .u32(1)
        .rect(0, 0, 1, 1);
    r.send(SPICE_MSG_DISPLAY_STREAM_CLIP, &b.0).unwrap();
    assert_eq!(r.d.streams()[&2].clip, Some(vec![Rect::new(0, 0, 1, 1)]));
    r.send(SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL, &[]).unwrap();
    assert!(r.d.streams().is_empty());
    let mut b = Body::default();
    b.u32(0)
        .u32(64)
        .u8(0)
        .u8(1)
        .u64(0)
        .u32(1)
        .u32(1)
        .u32(1)
        .u32(1)
        .rect(0, 0, 1, 1)
        .u8(0);
    assert!(r.send(SPICE_MSG_DISPLAY_STREAM_CREATE, &b.0).is_err());
}

#[test]
fn text_a1_glyph_over_background() {
    let mut r = Rig::new(4, 3);
    let mut b = Body::default();
    b.base(0, (0, 0, 4, 3), &[]);
    let p = b.ptr();
    b.rect(0, 0, 4, 1); // back_area: top row
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x0000ff); // fore
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x00ff00); // back
    b.u16(SPICE_ROPD_OP_PUT as u16)
        .u16(SPICE_ROPD_OP_PUT as u16);
    b.patch(p);
    // String: length, flags, glyph {render_pos, glyph_origin, width, height, data}
    b.u16(1).u8(SPICE_STRING_FLAGS_RASTER_A1 as u8);
    b.i32(2).i32(2).i32(-1).i32(-1).u16(3).u16(2);
    // rows bottom-up, MSB first: bottom row 101, top row 010
    b.u8(0b1010_0000).u8(0b0100_0000);
    r.send(SPICE_MSG_DISPLAY_DRAW_TEXT, &b.0).unwrap();
    let (g, bl) = (0x00ff00, 0x0000ff);
    // glyph box: (2,2) + (-1,-1) = top-left (1,1), 3x2; back area row 0 only.
    assert_eq!(r.px(), vec![g, g, g, g, 0, 0, bl, 0, 0, bl, 0, bl]);
}

#[test]
fn stroke_polyline_closed_and_endpoint_exclusive() {
    let mut r = Rig::new(4, 4);
    let mut b = Body::default();
    b.base(0, (0, 0, 4, 4), &[]);
    let p = b.ptr();
    b.u8(0); // line flags
    b.u8(SPICE_BRUSH_TYPE_SOLID as u8).u32(0x7);
    b.u16(SPICE_ROPD_OP_PUT as u16)
        .u16(SPICE_ROPD_OP_PUT as u16);
    b.patch(p);
    // Path: one segment BEGIN|END|CLOSE with (0,0) (2,0) (2,2) in 28.4 fixed point
    b.u32(1)
        .u8((SPICE_PATH_BEGIN | SPICE_PATH_END | SPICE_PATH_CLOSE) as u8)
        .u32(3);
    for (x, y) in [(0, 0), (2, 0), (2, 2)] {
        b.i32(x * 16).i32(y * 16);
    }
    r.send(SPICE_MSG_DISPLAY_DRAW_STROKE, &b.0).unwrap();
    let px = r.px();
    let on: Vec<usize> = (0..16).filter(|&i| px[i] == 7).collect();
    // (0,0) (1,0) | (2,0) (2,1) | (2,2) (1,1): the closing diagonal back to (0,0)
    assert_eq!(on, vec![0, 1, 2, 5, 6, 10]);
}

#[test]
fn monitors_config_is_recorded() {
    let mut r = Rig::new(1, 1);
    let mut b = Body::default();
    b.u16(1)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(1024)
        .u32(768)
        .u32(0)
        .u32(0)
        .u32(0);
    r.send(SPICE_MSG_DISPLAY_MONITORS_CONFIG, &b.0).unwrap();
    let (heads, max) = r.d.monitors();
    assert_eq!(max, 4);
    assert_eq!((heads[0].width, heads[0].height), (1024, 768));
}

/// Every display message type, fed truncated, oversized and random bodies,
/// returns Ok or Err and never panics; every truncated body is rejected, and
/// so is every random drawing command, surface and sized stream frame.
#[test]
fn hostile_bodies_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    // Valid messages to truncate and corrupt.
    let mut valid: Vec<(u16, Vec<u8>)> = Vec::new();
    valid.push((
        SPICE_MSG_DISPLAY_DRAW_FILL,
        fill_msg(0, (0, 0, 4, 4), &[(0, 0, 2, 2)], 1, SPICE_ROPD_OP_PUT),
    ));
    let mut b = Body::default();
    b.base(0, (0, 0, 4, 2), &[]);
    let p = b.ptr();
    b.rect(0, 0, 2, 1)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .no_mask();
    b.patch(p);
    b.bitmap32(1, SPICE_IMAGE_FLAGS_CACHE_ME, &[&[1, 2]], false);
    valid.push((SPICE_MSG_DISPLAY_DRAW_COPY, b.0.clone()));
    valid.push((SPICE_MSG_DISPLAY_DRAW_OPAQUE, b.0.clone()));
    let mut b = Body::default();
    b.u32(0)
        .u32(1)
        .u8(1)
        .u8(1)
        .u64(0)
        .u32(4)
        .u32(4)
        .u32(4)
        .u32(4)
        .rect(0, 0, 4, 4)
        .u8(0);
    valid.push((SPICE_MSG_DISPLAY_STREAM_CREATE, b.0.clone()));
    for (t, body) in valid.clone() {
        let mut r = Rig::new(8, 8);
        for cut in 0..body.len() {
            assert!(
                r.send(t, &body[..cut]).is_err(),
                "message {t} accepted with {cut} of its {} bytes",
                body.len()
            );
        }
        let _ = r.send(t, &body);
        for _ in 0..300 {
            let mut m = body.clone();
            for _ in 0..rng.gen_range(1..6) {
                let i = rng.gen_range(0..m.len());
                m[i] = rng.gen();
            }
            let _ = r.send(t, &m);
        }
    }
    // Random bodies for every type in the display range, with wild values.
    let mut r = Rig::new(16, 16);
    let mut refused = alloc::collections::BTreeMap::new();
    for t in 101u16..=SPICE_MSG_END_DISPLAY {
        for _ in 0..200 {
            let n = rng.gen_range(0..200);
            let mut body: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            if n > 8 && rng.gen_bool(0.5) {
                body[0..4].copy_from_slice(&0u32.to_le_bytes()); // aim at the primary
            }
            if r.send(t, &body).is_err() {
                *refused.entry(t).or_insert(0) += 1;
            }
        }
    }
    // No random body is a valid drawing command, surface or sized stream frame.
    for t in (SPICE_MSG_DISPLAY_DRAW_FILL..=SPICE_MSG_DISPLAY_SURFACE_CREATE)
        .chain([SPICE_MSG_DISPLAY_STREAM_DATA_SIZED])
    {
        assert_eq!(
            refused.get(&t),
            Some(&200),
            "random bodies of message {t} accepted: {refused:?}"
        );
    }
    // Extreme rectangles on every draw primitive.
    let big = (i32::MIN, i32::MIN, i32::MAX, i32::MAX);
    let mut r = Rig::new(4, 4);
    r.send(
        SPICE_MSG_DISPLAY_DRAW_FILL,
        &fill_msg(0, big, &[big], 5, SPICE_ROPD_OP_XOR),
    )
    .unwrap();
    let mut b = Body::default();
    b.base(0, big, &[]);
    let p = b.ptr();
    b.rect(big.0, big.1, big.2, big.3)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(0)
        .no_mask();
    b.patch(p);
    b.bitmap32(0, 0, &[&[1, 2]], true);
    let _ = r.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0);
    let mut b = Body::default();
    b.base(0, big, &[]).i32(i32::MAX).i32(i32::MIN);
    let _ = r.send(SPICE_MSG_DISPLAY_COPY_BITS, &b.0);
    let mut b = Body::default();
    b.u32(0).u32(u32::MAX).u32(u32::MAX).u32(XRGB).u32(1);
    assert!(r.send(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b.0).is_err());
}

#[test]
fn surfaces_are_charged_refused_over_budget_and_given_back() {
    use crate::budget::Budget;
    // Caches: 1 Mi pixels (4 MiB) + 256 x 1024 palette entries (1 MiB).
    let caches = (4 << 20) + (1 << 20);
    assert!(Display::with_budget(0, config(), Budget::new(caches - 1)).is_err());
    let budget = Budget::new(caches + 3 * 64 * 64 * 4);
    let mut d = Display::with_budget(0, config(), budget.clone()).unwrap();
    assert_eq!(budget.used(), caches);
    let (mut glz, mut out) = (GlzWindow::new(0), Outbox::new());
    let mut create = |d: &mut Display, id: u32| {
        let mut b = Body::default();
        b.u32(id).u32(64).u32(64).u32(XRGB).u32(0);
        d.handle(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b.0, &mut glz, &mut out)
    };
    for id in 0..3 {
        create(&mut d, id).unwrap();
    }
    // Re-creating a surface replaces its charge rather than adding one.
    create(&mut d, 1).unwrap();
    assert_eq!(
        create(&mut d, 3).unwrap_err().reason,
        "memory budget exceeded by a surface"
    );
    assert!(d.canvas().surface(3).is_none());
    assert_eq!(budget.used(), caches + 3 * 64 * 64 * 4);
    drop(d);
    assert_eq!(budget.used(), 0);
    assert_eq!(budget.high_water(), caches + 3 * 64 * 64 * 4);
}

/// An uncached SpiceImage of `kind` and size with `payload` after its
/// data size (the LZ, LZ4 and QUIC layouts).
fn sized_image(kind: u32, w: u32, h: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Body::default();
    b.u64(7).u8(kind as u8).u8(0).u32(w).u32(h);
    b.u32(payload.len() as u32);
    b.0.extend_from_slice(payload);
    b.0
}

/// A bottom-up LZ RGB32 payload of `w x h` (`w >= 20`): the first row
/// literal, each later one literals around a 3-pixel match on the row above.
fn lz_rgb32(w: u32, h: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for f in [
        crate::image::lz::LZ_MAGIC,
        crate::image::lz::LZ_VERSION,
        crate::image::lz::LZ_IMAGE_TYPE_RGB32,
        w,
        h,
        w * 4,
        0,
    ] {
        v.extend_from_slice(&f.to_be_bytes());
    }
    let mut seed = 0x1234_5678u32;
    let mut literals = |v: &mut Vec<u8>, n: u32| {
        v.push(n as u8 - 1);
        for _ in 0..n {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            v.extend_from_slice(&seed.to_le_bytes()[..3]);
        }
    };
    literals(&mut v, w);
    for _ in 1..h {
        literals(&mut v, 10);
        // Length code 2 (+1) pixels from `w` back: the row above.
        v.extend_from_slice(&[0x60, (w - 1) as u8]);
        literals(&mut v, w - 13);
    }
    v
}

/// A GLZ RGB32 payload of `w x h` (`w <= 32`), image id 0: each row one
/// literal run (GLZ's header is big-endian, like LZ's).
fn glz_rgb32(w: u32, h: u32, top_down: bool) -> Vec<u8> {
    let lz = crate::image::lz::LZ_IMAGE_TYPE_RGB32 as u8;
    let mut v = Vec::new();
    v.extend_from_slice(&crate::image::lz::LZ_MAGIC.to_be_bytes());
    v.extend_from_slice(&crate::image::lz::LZ_VERSION.to_be_bytes());
    v.push(lz | if top_down { 0x10 } else { 0 });
    for f in [w, h, w * 4] {
        v.extend_from_slice(&f.to_be_bytes());
    }
    v.extend_from_slice(&0u64.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    for i in 0..w * h {
        if i % w == 0 {
            v.push(w as u8 - 1);
        }
        v.extend_from_slice(&(i.wrapping_mul(0x0009_0507) | 1).to_le_bytes()[..3]);
    }
    v
}

/// A top-down 32BIT LZ4 payload of `w x h` whose pad bytes are set.
fn lz4_rgb32(w: u32, h: u32) -> Vec<u8> {
    let raw: Vec<u8> = (0..w * h)
        .flat_map(|i| ((((i % 9) * 0x0304_0506) ^ (i / 50)) | 0xa500_0000).to_le_bytes())
        .collect();
    let block = lz4_flex::block::compress(&raw);
    let mut v = vec![1, SPICE_BITMAP_FMT_32BIT as u8];
    v.extend_from_slice(&(block.len() as u32).to_be_bytes());
    v.extend_from_slice(&block);
    v
}

/// An OP_PUT, unmasked DRAW_COPY of the whole `image` (its encoded bytes,
/// `w x h`) at (`x`, `y`), clipped by the rects `clip` (none: no clip).
fn whole_copy(
    image: &[u8],
    (x, y, w, h): (i32, i32, i32, i32),
    clip: &[(i32, i32, i32, i32)],
) -> Vec<u8> {
    let mut b = Body::default();
    b.base(0, (x, y, x + w, y + h), clip);
    let p = b.ptr();
    b.rect(0, 0, w, h)
        .u16(SPICE_ROPD_OP_PUT as u16)
        .u8(SPICE_IMAGE_SCALE_MODE_NEAREST as u8)
        .no_mask();
    b.patch(p);
    b.0.extend_from_slice(image);
    b.0
}

/// DRAW_COPY `image` (`w x h`, whole) onto a `sw x sh` surface at
/// (`x`, `y`), once unclipped (decoded straight onto the surface) and once
/// clipped to two rects tiling the box (decoded into the scratch and
/// blitted): both must store the same surface bytes. Returns the direct rig.
fn same_pixels_both_ways(image: &[u8], (w, h): (i32, i32), (sw, sh): (u32, u32), x: i32) -> Rig {
    let y = 1;
    let msg = |clip: &[(i32, i32, i32, i32)]| whole_copy(image, (x, y, w, h), clip);
    let mut direct = Rig::new(sw, sh);
    direct.send(SPICE_MSG_DISPLAY_DRAW_COPY, &msg(&[])).unwrap();
    let half = x + w / 2;
    let mut blitted = Rig::new(sw, sh);
    blitted
        .send(
            SPICE_MSG_DISPLAY_DRAW_COPY,
            &msg(&[(x, y, half, y + h), (half, y, x + w, y + h)]),
        )
        .unwrap();
    let px = direct.px();
    assert_eq!(px, blitted.px(), "surface {sw}x{sh}");
    assert!(px.iter().any(|&p| p != 0), "something was drawn");
    assert!(px.iter().all(|&p| p >> 24 == 0), "no alpha on xRGB");
    direct
}

#[test]
fn direct_and_blitted_copies_store_the_same_pixels() {
    let (w, h) = (24, 6);
    let lz = sized_image(SPICE_IMAGE_TYPE_LZ_RGB, w, h, &lz_rgb32(w, h));
    let lz4 = sized_image(SPICE_IMAGE_TYPE_LZ4, w, h, &lz4_rgb32(w, h));
    // LZ is decoded straight into a strided column, LZ4 through staging.
    for (image, staged) in [(&lz, false), (&lz4, true)] {
        // Strided: a column of a wider surface.
        let r = same_pixels_both_ways(image, (w as i32, h as i32), (64, 9), 5);
        assert_eq!(r.d.staging.charged() > 0, staged);
        // Contiguous: decoded in place, nothing staged.
        let r = same_pixels_both_ways(image, (w as i32, h as i32), (w, h + 1), 0);
        assert_eq!(r.d.staging.charged(), 0);
    }
    // GLZ: into its window and the surface in one pass, either row order.
    for top_down in [true, false] {
        let glz = sized_image(SPICE_IMAGE_TYPE_GLZ_RGB, w, h, &glz_rgb32(w, h, top_down));
        assert!(crate::image::direct_glz(&glz, 0).is_some());
        same_pixels_both_ways(&glz, (w as i32, h as i32), (64, 9), 5);
        same_pixels_both_ways(&glz, (w as i32, h as i32), (w, h + 1), 0);
    }
    let quic: &[u8] = include_bytes!("../../tests/data/quic/synthetic/color.rgb32.quic");
    let q = crate::image::quic::parse_header(quic).unwrap();
    let image = sized_image(SPICE_IMAGE_TYPE_QUIC, q.width, q.height, quic);
    let (qw, qh) = (q.width as i32, q.height as i32);
    same_pixels_both_ways(&image, (qw, qh), (q.width + 9, q.height + 2), 3);
    same_pixels_both_ways(&image, (qw, qh), (q.width, q.height + 1), 0);
}

#[test]
fn decoders_report_the_alpha_they_leave() {
    use crate::image::{bitmap, lz, lz4};
    let (w, h) = (24, 6);
    let img = lz::decode(&lz_rgb32(w, h), None).unwrap();
    assert!(lz::leaves_alpha_clear(lz::LZ_IMAGE_TYPE_RGB32));
    assert!(img.pixels.iter().all(|p| p >> 24 == 0));
    assert!(!lz::leaves_alpha_clear(lz::LZ_IMAGE_TYPE_RGBA));
    let img = lz4::decode(&lz4_rgb32(w, h), w, h).unwrap();
    assert!(lz4::leaves_alpha_clear(SPICE_BITMAP_FMT_32BIT));
    assert!(img.pixels.iter().all(|p| p >> 24 == 0));
    assert!(!lz4::leaves_alpha_clear(SPICE_BITMAP_FMT_RGBA));
    let mut out = [0u32; 2];
    bitmap::convert_row(
        SPICE_BITMAP_FMT_32BIT,
        None,
        &[1, 2, 3, 0xff, 4, 5, 6, 7],
        &mut out,
    )
    .unwrap();
    assert!(bitmap::leaves_alpha_clear(SPICE_BITMAP_FMT_32BIT));
    assert_eq!(out, [0x0003_0201, 0x0006_0504]);
    assert!(!bitmap::leaves_alpha_clear(SPICE_BITMAP_FMT_RGBA));
    // QUIC's colour types come out opaque, or clear when asked (which the
    // direct path onto a surface without alpha does).
    let quic: &[u8] = include_bytes!("../../tests/data/quic/synthetic/color.rgb32.quic");
    let img = crate::image::quic::decode(quic).unwrap();
    assert!(img.pixels.iter().all(|p| p >> 24 == 0xff));
    assert!(
        crate::image::direct_image(
            &sized_image(SPICE_IMAGE_TYPE_QUIC, img.width, img.height, quic),
            0
        )
        .unwrap()
        .alpha_clear
    );
}

mod columns;
