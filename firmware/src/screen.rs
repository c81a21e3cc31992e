//! Drawing on the local framebuffer with embedded-graphics: the status
//! screen, the fatal-error screen, and the 1:1 centred copy of the remote
//! desktop. Pixels are `u32` 0x00RRGGBB in both the framebuffer and
//! spice-core's canvas, so the remote copy is a row-wise memcpy.
//! Must not: touch device registers (the board's `Framebuffer` does that).

use alloc::format;
use alloc::string::String;
use barespice_board::FbInfo;
use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_6X13, FONT_9X18_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use embedded_graphics::text::{Baseline, Text};
use spice_core::canvas::{Rect, Surface};
use spice_core::cursor::CursorShape;

use crate::status::{State, Status, STEPS};

/// An embedded-graphics target over a pixel slice.
pub struct Target<'a> {
    px: &'a mut [u32],
    info: FbInfo,
}

impl<'a> Target<'a> {
    /// Wraps `px` (`info.stride * info.height` pixels).
    pub fn new(px: &'a mut [u32], info: FbInfo) -> Self {
        Self { px, info }
    }
}

fn rgb(c: Rgb888) -> u32 {
    (u32::from(c.r()) << 16) | (u32::from(c.g()) << 8) | u32::from(c.b())
}

impl OriginDimensions for Target<'_> {
    fn size(&self) -> Size {
        Size::new(self.info.width, self.info.height)
    }
}

impl DrawTarget for Target<'_> {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        let (w, h, stride) = (self.info.width as i32, self.info.height as i32, self.info.stride as usize);
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                if let Some(d) = self.px.get_mut(p.y as usize * stride + p.x as usize) {
                    *d = rgb(c);
                }
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        let Some(br) = area.bottom_right() else { return Ok(()) };
        let v = rgb(color);
        let stride = self.info.stride as usize;
        for y in area.top_left.y..=br.y {
            let row = y as usize * stride;
            if let Some(s) = self.px.get_mut(row + area.top_left.x as usize..=row + br.x as usize) {
                s.fill(v);
            }
        }
        Ok(())
    }
}

const BG: Rgb888 = Rgb888::new(0x10, 0x18, 0x28);
const FG: Rgb888 = Rgb888::new(0xe8, 0xe8, 0xe8);
const DIM: Rgb888 = Rgb888::new(0x80, 0x88, 0x98);
const OK: Rgb888 = Rgb888::new(0x40, 0xc0, 0x60);
const BAD: Rgb888 = Rgb888::new(0xff, 0x50, 0x50);
const BUSY: Rgb888 = Rgb888::new(0xf0, 0xc0, 0x40);

fn text(t: &mut Target<'_>, s: &str, x: i32, y: i32, font: &'static MonoFont<'static>, c: Rgb888) {
    let _ = Text::with_baseline(s, Point::new(x, y), MonoTextStyle::new(font, c), Baseline::Top).draw(t);
}

/// Draws the status screen.
pub fn draw_status(t: &mut Target<'_>, st: &Status, board: &str) {
    let _ = t.clear(BG);
    let (w, h) = (t.info.width as i32, t.info.height as i32);
    let left = (w / 2 - 380).max(16);
    let mut y = (h / 2 - 260).max(16);
    text(t, "barespice", left, y, &FONT_10X20, FG);
    text(t, &format!("SPICE thin client on {board}"), left + 120, y + 4, &FONT_9X18_BOLD, DIM);
    y += 30;
    if !st.title.is_empty() {
        text(t, &st.title, left, y, &FONT_9X18_BOLD, FG);
    }
    y += 40;
    for (step, e) in STEPS.iter().zip(st.entries.iter()) {
        let (mark, colour) = match e.state {
            State::Pending => ("[    ]", DIM),
            State::Active => ("[ .. ]", BUSY),
            State::Done => ("[ OK ]", OK),
            State::Failed => ("[FAIL]", BAD),
        };
        text(t, mark, left, y, &FONT_10X20, colour);
        text(t, step.label(), left + 80, y, &FONT_10X20, if e.state == State::Pending { DIM } else { FG });
        text(t, &clip(&e.detail, 48), left + 280, y, &FONT_10X20, DIM);
        y += 24;
        if e.state == State::Failed && !e.hint.is_empty() {
            text(t, &format!("check: {}", clip(e.hint, 90)), left + 80, y, &FONT_9X18_BOLD, BAD);
            y += 22;
        }
    }
    y += 16;
    if let Some(b) = &st.banner {
        text(t, b, left, y, &FONT_10X20, BUSY);
        y += 30;
    }
    for n in st.notes.iter().take(8) {
        text(t, &clip(n, 110), left, y, &FONT_6X13, BUSY);
        y += 16;
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        String::from(s)
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('~');
        out
    }
}

/// Draws the fatal-error screen (panic or CPU exception).
pub fn draw_fatal(t: &mut Target<'_>, message: &str) {
    let _ = t.clear(Rgb888::new(0x60, 0x00, 0x00));
    let w = t.info.width as i32;
    let left = 40;
    let mut y = 40;
    text(t, "barespice stopped: firmware error", left, y, &FONT_10X20, Rgb888::WHITE);
    y += 40;
    for line in message.lines() {
        let mut rest = line;
        let cols = ((w - 2 * left) / 10).max(20) as usize;
        loop {
            let cut = rest.char_indices().nth(cols).map_or(rest.len(), |(i, _)| i);
            let (head, tail) = rest.split_at(cut);
            text(t, head, left, y, &FONT_10X20, Rgb888::WHITE);
            y += 24;
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
    }
    y += 24;
    let secs = barespice_boot::fatal::RESET_DELAY_SECS;
    text(t, &format!("Restarting in {secs} seconds. The serial console has the details."), left, y, &FONT_10X20, Rgb888::new(0xff, 0xd0, 0xd0));
}

/// Where the remote surface's origin lands on the framebuffer (centred, 1:1;
/// negative when the remote desktop is larger and is cropped).
pub fn remote_origin(fb: FbInfo, surface_w: u32, surface_h: u32) -> (i32, i32) {
    ((fb.width as i32 - surface_w as i32) / 2, (fb.height as i32 - surface_h as i32) / 2)
}

/// Copies `dirty` of `surface` to the framebuffer, centred 1:1. Returns the
/// framebuffer rectangle written (x, y, w, h), if any.
pub fn blit_remote(px: &mut [u32], fb: FbInfo, surface: &Surface, dirty: Rect) -> Option<(u32, u32, u32, u32)> {
    let (ox, oy) = remote_origin(fb, surface.width, surface.height);
    // Clip to the surface, then to the framebuffer (in surface coordinates).
    let r = dirty
        .intersect(&surface.bounds())
        .intersect(&Rect::new(-ox, -oy, fb.width as i32 - ox, fb.height as i32 - oy));
    if r.is_empty() {
        return None;
    }
    let w = r.width() as usize;
    for y in r.top..r.bottom {
        let s = y as usize * surface.width as usize + r.left as usize;
        let d = (y + oy) as usize * fb.stride as usize + (r.left + ox) as usize;
        if let (Some(src), Some(dst)) = (surface.pixels.get(s..s + w), px.get_mut(d..d + w)) {
            dst.copy_from_slice(src);
        }
    }
    Some(((r.left + ox) as u32, (r.top + oy) as u32, w as u32, r.height() as u32))
}

/// Blends a cursor shape (0xAARRGGBB) whose top-left lands at `at` (surface
/// coordinates) over the framebuffer, clipped to the remote surface area.
pub fn draw_cursor(px: &mut [u32], fb: FbInfo, surface: &Surface, at: Rect, shape: &CursorShape) -> Option<(u32, u32, u32, u32)> {
    let (ox, oy) = remote_origin(fb, surface.width, surface.height);
    let r = at
        .intersect(&surface.bounds())
        .intersect(&Rect::new(-ox, -oy, fb.width as i32 - ox, fb.height as i32 - oy));
    if r.is_empty() {
        return None;
    }
    let sw = usize::from(shape.width);
    for y in r.top..r.bottom {
        for x in r.left..r.right {
            let s = (y - at.top) as usize * sw + (x - at.left) as usize;
            let d = (y + oy) as usize * fb.stride as usize + (x + ox) as usize;
            if let (Some(&c), Some(dst)) = (shape.pixels.get(s), px.get_mut(d)) {
                *dst = blend(c, *dst);
            }
        }
    }
    Some(((r.left + ox) as u32, (r.top + oy) as u32, r.width() as u32, r.height() as u32))
}

/// `src` (0xAARRGGBB, straight alpha) over `dst` (0x00RRGGBB).
fn blend(src: u32, dst: u32) -> u32 {
    let a = src >> 24;
    match a {
        0 => dst,
        255 => src & 0x00ff_ffff,
        _ => {
            let ch = |shift: u32| {
                let s = (src >> shift) & 0xff;
                let d = (dst >> shift) & 0xff;
                ((s * a + d * (255 - a) + 127) / 255) << shift
            };
            ch(16) | ch(8) | ch(0)
        }
    }
}

/// Fills the framebuffer with the colour around a remote desktop.
pub fn clear_black(px: &mut [u32]) {
    px.fill(0);
}
