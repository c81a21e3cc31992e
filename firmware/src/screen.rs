//! Drawing the status and fatal-error screens on the local framebuffer with
//! embedded-graphics. Both are laid out on a [`LOGICAL_HEIGHT`]-line page
//! that [`Scaled`] stretches to the screen's height (nearest neighbour), so
//! text is the same share of the screen height on every display: readable
//! across a room on a 1080p wall screen, still all there on 1024x768.
//! Pixels are `u32` 0x00RRGGBB. (The remote desktop is drawn by spice-core's
//! `fit::Layout`, see `presenter`.)
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

use crate::status::{State, Status, Step, STEPS};

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

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        let (w, h, stride) = (
            self.info.width as i32,
            self.info.height as i32,
            self.info.stride as usize,
        );
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
        let Some(br) = area.bottom_right() else {
            return Ok(());
        };
        let v = rgb(color);
        let stride = self.info.stride as usize;
        for y in area.top_left.y..=br.y {
            let row = y as usize * stride;
            if let Some(s) = self
                .px
                .get_mut(row + area.top_left.x as usize..=row + br.x as usize)
            {
                s.fill(v);
            }
        }
        Ok(())
    }
}

/// Height of the page the screens are laid out on, in logical pixels; a
/// 20-pixel text line is 1/27 of the screen height.
pub const LOGICAL_HEIGHT: u32 = 540;

/// A [`Target`] seen as a page [`LOGICAL_HEIGHT`] pixels high (and as wide as
/// the aspect ratio gives); every logical pixel becomes a block of screen pixels.
pub struct Scaled<'t, 'a> {
    inner: &'t mut Target<'a>,
}

impl<'t, 'a> Scaled<'t, 'a> {
    /// Wraps a screen-sized target.
    pub fn new(inner: &'t mut Target<'a>) -> Self {
        Self { inner }
    }

    /// Logical coordinate -> first screen coordinate of its block.
    fn phys(&self, v: i32) -> i32 {
        (i64::from(v) * i64::from(self.inner.info.height) / i64::from(LOGICAL_HEIGHT)) as i32
    }

    fn phys_rect(&self, r: &Rectangle) -> Rectangle {
        let (x0, y0) = (self.phys(r.top_left.x), self.phys(r.top_left.y));
        let x1 = self.phys(r.top_left.x + r.size.width as i32);
        let y1 = self.phys(r.top_left.y + r.size.height as i32);
        Rectangle::new(
            Point::new(x0, y0),
            Size::new((x1 - x0).max(0) as u32, (y1 - y0).max(0) as u32),
        )
    }
}

impl OriginDimensions for Scaled<'_, '_> {
    fn size(&self) -> Size {
        let info = self.inner.info;
        let h = info.height.max(1);
        Size::new(
            (u64::from(info.width) * u64::from(LOGICAL_HEIGHT) / u64::from(h)) as u32,
            LOGICAL_HEIGHT,
        )
    }
}

impl DrawTarget for Scaled<'_, '_> {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            let r = self.phys_rect(&Rectangle::new(p, Size::new(1, 1)));
            self.inner.fill_solid(&r, c)?;
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Self::Error> {
        let r = self.phys_rect(area);
        self.inner.fill_solid(&r, color)
    }
}

const BG: Rgb888 = Rgb888::new(0x10, 0x18, 0x28);
const FG: Rgb888 = Rgb888::new(0xe8, 0xe8, 0xe8);
const DIM: Rgb888 = Rgb888::new(0x80, 0x88, 0x98);
const OK: Rgb888 = Rgb888::new(0x40, 0xc0, 0x60);
const BAD: Rgb888 = Rgb888::new(0xff, 0x50, 0x50);
const BUSY: Rgb888 = Rgb888::new(0xf0, 0xc0, 0x40);

fn text(
    t: &mut Scaled<'_, '_>,
    s: &str,
    x: i32,
    y: i32,
    font: &'static MonoFont<'static>,
    c: Rgb888,
) {
    let _ = Text::with_baseline(
        s,
        Point::new(x, y),
        MonoTextStyle::new(font, c),
        Baseline::Top,
    )
    .draw(t);
}

/// Draws `s` from (`x`, `y`) in lines of at most `cols` characters, at
/// most `max_lines` of them (the last one clipped); returns the y below.
#[allow(clippy::too_many_arguments)]
fn wrapped(
    t: &mut Scaled<'_, '_>,
    s: &str,
    x: i32,
    mut y: i32,
    cols: usize,
    max_lines: usize,
    step: i32,
    font: &'static MonoFont<'static>,
    c: Rgb888,
) -> i32 {
    let mut rest = s;
    for n in 1..=max_lines {
        if rest.is_empty() {
            break;
        }
        let line = if n == max_lines || rest.chars().count() <= cols {
            core::mem::take(&mut rest)
        } else {
            // Break at the last space that fits, else mid-word.
            let limit = rest.char_indices().nth(cols).map_or(rest.len(), |(i, _)| i);
            let cut = rest[..limit].rfind(' ').filter(|&i| i > 0).unwrap_or(limit);
            let (head, tail) = rest.split_at(cut);
            rest = tail.trim_start();
            head
        };
        text(t, &clip(line, cols), x, y, font, c);
        y += step;
    }
    y
}

/// Draws the status screen (sized to the display, see [`Scaled`]).
pub fn draw_status(screen: &mut Target<'_>, st: &Status, board: &str) {
    let t = &mut Scaled::new(screen);
    let _ = t.clear(BG);
    let w = t.size().width as i32;
    let left = (w / 2 - 380).max(12);
    // Characters of detail that fit right of the step labels.
    let detail_cols = ((w - left - 280 - 8) / 10).clamp(8, 48) as usize;
    let mut y = 12;
    text(t, "barespice", left, y, &FONT_10X20, FG);
    text(
        t,
        &format!("SPICE thin client on {board}"),
        left + 120,
        y + 4,
        &FONT_9X18_BOLD,
        DIM,
    );
    y += 30;
    if !st.title.is_empty() {
        text(t, &st.title, left, y, &FONT_9X18_BOLD, FG);
    }
    y += 24;
    if !st.display.is_empty() {
        let cols = ((w - left - 8) / 9).max(8) as usize;
        y = wrapped(
            t,
            &format!("Display: {}", st.display),
            left,
            y,
            cols,
            2,
            20,
            &FONT_9X18_BOLD,
            DIM,
        );
    }
    y += 12;
    for (step, e) in STEPS.iter().zip(st.entries.iter()) {
        // Only Proxmox kiosks use this step; a pending one is not shown.
        if *step == Step::Proxmox && e.state == State::Pending {
            continue;
        }
        let (mark, colour) = match e.state {
            State::Pending => ("[    ]", DIM),
            State::Active => ("[ .. ]", BUSY),
            State::Done => ("[ OK ]", OK),
            State::Failed => ("[FAIL]", BAD),
        };
        text(t, mark, left, y, &FONT_10X20, colour);
        text(
            t,
            step.label(),
            left + 80,
            y,
            &FONT_10X20,
            if e.state == State::Pending { DIM } else { FG },
        );
        text(
            t,
            &clip(&e.detail, detail_cols),
            left + 280,
            y,
            &FONT_10X20,
            DIM,
        );
        y += 24;
        if e.state == State::Failed && !e.hint.is_empty() {
            let cols = ((w - left - 80 - 8) / 9).max(8) as usize;
            y = wrapped(
                t,
                &format!("check: {}", e.hint),
                left + 80,
                y,
                cols,
                3,
                20,
                &FONT_9X18_BOLD,
                BAD,
            ) + 2;
        }
    }
    y += 16;
    if let Some(b) = &st.banner {
        text(t, b, left, y, &FONT_10X20, BUSY);
        y += 30;
    }
    for n in st.notes.iter().take(5) {
        text(
            t,
            &clip(n, ((w - left - 8) / 6).max(8) as usize),
            left,
            y,
            &FONT_6X13,
            BUSY,
        );
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

/// Draws the fatal-error screen (panic or CPU exception), sized like the status screen.
pub fn draw_fatal(screen: &mut Target<'_>, message: &str) {
    let t = &mut Scaled::new(screen);
    let _ = t.clear(Rgb888::new(0x60, 0x00, 0x00));
    let w = t.size().width as i32;
    let left = 40;
    let mut y = 40;
    text(
        t,
        "barespice stopped: firmware error",
        left,
        y,
        &FONT_10X20,
        Rgb888::WHITE,
    );
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
    text(
        t,
        &format!("Restarting in {secs} seconds. The serial console has the details."),
        left,
        y,
        &FONT_10X20,
        Rgb888::new(0xff, 0xd0, 0xd0),
    );
}

/// Fills the framebuffer with the colour around a remote desktop.
pub fn clear_black(px: &mut [u32]) {
    px.fill(0);
}
