//! JPEG through the display channel, with real server payloads: the
//! `jpeg/panel` fixture (see `codecs.rs` for how it was recorded: QEMU's
//! SPICE server with jpeg-wan-compression=always, 640x480 crop, with the
//! server's own screendump `jpeg/panel.png`) is replayed twice — as
//! DRAW_COPY messages carrying JPEG images, and as MJPEG video-stream frames
//! (STREAM_CREATE + STREAM_DATA / STREAM_DATA_SIZED per draw, laid out from
//! `spice.proto`). Both must come within 32 dB PSNR of the screendump over
//! the pixels the draws cover (JPEG is lossy).

mod common;

use common::{draws, screendump};
use spice_core::display::{Display, DisplayConfig};
use spice_core::enums::*;
use spice_core::image::glz::GlzWindow;
use spice_core::outbox::Outbox;

/// Little-endian body writer.
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
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Rect on the wire: top, left, bottom, right.
    fn rect(&mut self, r: [i32; 4]) -> &mut Self {
        for v in [r[1], r[0], r[3], r[2]] {
            self.0.extend_from_slice(&v.to_le_bytes());
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
        let config = DisplayConfig {
            preferred_compression: None,
            glz_window_pixels: 0,
            pixmap_cache_pixels: 1 << 22,
            glz_dictionary_id: 0,
            pixmap_cache_id: 0,
        };
        let mut r = Rig {
            d: Display::new(0, config),
            glz: GlzWindow::new(0),
            out: Outbox::new(),
        };
        let mut b = Body::default();
        b.u32(0)
            .u32(w)
            .u32(h)
            .u32(SPICE_SURFACE_FMT_32_xRGB)
            .u32(SPICE_SURFACE_FLAGS_PRIMARY);
        r.send(SPICE_MSG_DISPLAY_SURFACE_CREATE, &b.0);
        r
    }
    fn send(&mut self, t: u16, body: &[u8]) {
        self.d
            .handle(t, body, &mut self.glz, &mut self.out)
            .unwrap_or_else(|e| panic!("message {t}: {e}"));
    }
}

/// PSNR of the primary against the screendump over the covered pixels.
fn psnr(rig: &Rig, w: u32, want: &[u32], covered: &[bool]) -> f64 {
    let got = &rig.d.primary().unwrap().pixels;
    let idx: Vec<usize> = (0..(w as usize * (want.len() / w as usize)))
        .filter(|&i| covered[i])
        .collect();
    assert!(!idx.is_empty(), "no pixel compared");
    let got: Vec<u32> = idx.iter().map(|&i| got[i]).collect();
    let want: Vec<u32> = idx.iter().map(|&i| want[i]).collect();
    common::psnr(&got, &want)
}

fn cover(covered: &mut [bool], w: u32, r: [i32; 4]) {
    for y in r[1]..r[3] {
        for x in r[0]..r[2] {
            covered[(y as u32 * w + x as u32) as usize] = true;
        }
    }
}

#[test]
fn jpeg_draw_copies_match_screendump() {
    let (w, h, want) = screendump("jpeg/panel.png");
    let mut rig = Rig::new(w, h);
    let mut covered = vec![false; want.len()];
    let mut n = 0;
    for d in draws("jpeg/panel.draws") {
        if d.image_type != SPICE_IMAGE_TYPE_JPEG || d.data.is_empty() {
            continue;
        }
        let mut b = Body::default();
        b.u32(0).rect(d.dst).u8(SPICE_CLIP_TYPE_NONE as u8);
        let ptr_at = b.0.len();
        b.u32(0)
            .rect(d.src)
            .u16(SPICE_ROPD_OP_PUT as u16)
            .u8(SPICE_IMAGE_SCALE_MODE_NEAREST as u8);
        b.u8(0).u32(0).u32(0).u32(0); // no mask
        let image_at = b.0.len() as u32;
        b.0[ptr_at..ptr_at + 4].copy_from_slice(&image_at.to_le_bytes());
        b.u64(0)
            .u8(SPICE_IMAGE_TYPE_JPEG as u8)
            .u8(0)
            .u32(d.width)
            .u32(d.height);
        b.u32(d.data.len() as u32);
        b.0.extend_from_slice(&d.data);
        rig.send(SPICE_MSG_DISPLAY_DRAW_COPY, &b.0);
        cover(&mut covered, w, d.dst);
        n += 1;
    }
    assert!(n >= 10, "fixture should hold JPEG draws, found {n}");
    let db = psnr(&rig, w, &want, &covered);
    assert!(db >= 32.0, "DRAW_COPY of JPEG: PSNR {db:.2} dB");
}

#[test]
fn mjpeg_stream_frames_match_screendump() {
    let (w, h, want) = screendump("jpeg/panel.png");
    let mut rig = Rig::new(w, h);
    let mut covered = vec![false; want.len()];
    let mut n = 0;
    for (k, d) in draws("jpeg/panel.draws").into_iter().enumerate() {
        let whole = [0, 0, d.width as i32, d.height as i32];
        if d.image_type != SPICE_IMAGE_TYPE_JPEG || d.data.is_empty() || d.src != whole {
            continue;
        }
        // stream_create: surface_id, id, flags, codec_type, stamp, stream w/h, src w/h, dest, clip
        let id = (k % 4) as u32;
        let mut b = Body::default();
        b.u32(0)
            .u32(id)
            .u8(SPICE_STREAM_FLAGS_TOP_DOWN as u8)
            .u8(SPICE_VIDEO_CODEC_TYPE_MJPEG as u8)
            .u64(k as u64);
        b.u32(d.width)
            .u32(d.height)
            .u32(d.width)
            .u32(d.height)
            .rect(d.dst)
            .u8(SPICE_CLIP_TYPE_NONE as u8);
        rig.send(SPICE_MSG_DISPLAY_STREAM_CREATE, &b.0);
        let mut b = Body::default();
        if k % 2 == 0 {
            // stream_data: id, multi_media_time, data_size, data
            b.u32(id).u32(1000 + k as u32).u32(d.data.len() as u32);
        } else {
            // stream_data_sized: id, multi_media_time, width, height, dest, data_size, data
            b.u32(id)
                .u32(1000 + k as u32)
                .u32(d.width)
                .u32(d.height)
                .rect(d.dst)
                .u32(d.data.len() as u32);
        }
        b.0.extend_from_slice(&d.data);
        let t = if k % 2 == 0 {
            SPICE_MSG_DISPLAY_STREAM_DATA
        } else {
            SPICE_MSG_DISPLAY_STREAM_DATA_SIZED
        };
        rig.send(t, &b.0);
        rig.send(SPICE_MSG_DISPLAY_STREAM_DESTROY, &id.to_le_bytes());
        cover(&mut covered, w, d.dst);
        n += 1;
    }
    assert!(
        n >= 10,
        "fixture should hold whole-image JPEG draws, found {n}"
    );
    let stats = rig.d.stats();
    assert_eq!((stats.frames, stats.dropped_frames), (n, 0));
    let db = psnr(&rig, w, &want, &covered);
    assert!(db >= 32.0, "MJPEG stream frames: PSNR {db:.2} dB");
}
