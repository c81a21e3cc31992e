//! The presenter: owns the local framebuffer and decides what it shows —
//! the status screen while connecting, or the remote desktop (spice-core's
//! primary surface) once frames arrive, laid out by the display mode
//! (`barespice.display`): scaled to fit (`fit`, and `resize` until the guest
//! follows the local size) or centred 1:1 (`1:1`), with the pointer drawn
//! over it at the same scale (spice-core's `fit::Layout` does the pixels).
//! Must not: block for long (it shares the CPU with the network).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use barespice_board::{FbInfo, Framebuffer};
use barespice_config::DisplayMode;
use core::cell::{Cell, RefCell};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use spice_core::canvas::{Rect, Surface};
use spice_core::cursor::CursorShape;
use spice_core::fit::Layout;

use crate::screen;
use crate::status;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Status,
    Remote,
}

static FB: Mutex<CriticalSectionRawMutex, RefCell<Option<Box<dyn Framebuffer>>>> =
    Mutex::new(RefCell::new(None));
static MODE: Mutex<CriticalSectionRawMutex, Cell<Mode>> = Mutex::new(Cell::new(Mode::Status));
static REMOTE: Mutex<CriticalSectionRawMutex, Cell<Option<(u32, u32)>>> =
    Mutex::new(Cell::new(None));
static BOARD: Mutex<CriticalSectionRawMutex, Cell<&'static str>> = Mutex::new(Cell::new(""));
static DISPLAY: Mutex<CriticalSectionRawMutex, Cell<DisplayMode>> =
    Mutex::new(Cell::new(DisplayMode::Resize));

/// Sets the display mode (from the configuration) and shows it on the
/// status screen. Call after [`install`].
pub fn set_display_mode(mode: DisplayMode) {
    DISPLAY.lock(|d| d.set(mode));
    let size = fb_info().map_or(String::from("?"), |i| format!("{}x{}", i.width, i.height));
    status::set_display(match mode {
        DisplayMode::Resize => {
            format!("resize (asks the guest's agent for {size}, fit until then)")
        }
        DisplayMode::Fit => format!("fit (scaled to {size}, aspect ratio kept)"),
        DisplayMode::OneToOne => format!("1:1 (centred on {size})"),
    });
}

fn layout_for(info: FbInfo, (w, h): (u32, u32)) -> Layout {
    match DISPLAY.lock(|d| d.get()) {
        DisplayMode::OneToOne => Layout::one_to_one(w, h, info.width, info.height),
        DisplayMode::Fit | DisplayMode::Resize => Layout::fit(w, h, info.width, info.height),
    }
}

/// Where the remote desktop last shown sits on the screen (for pointer mapping).
pub fn layout() -> Option<Layout> {
    Some(layout_for(fb_info()?, remote_size()?))
}

/// Hands the framebuffer (if any) to the presenter.
pub fn install(fb: Option<Box<dyn Framebuffer>>, board: &'static str) {
    BOARD.lock(|b| b.set(board));
    FB.lock(|f| *f.borrow_mut() = fb);
}

/// Framebuffer geometry, if there is a display.
pub fn fb_info() -> Option<FbInfo> {
    FB.lock(|f| f.borrow().as_ref().map(|fb| fb.info()))
}

/// Size of the remote desktop last shown.
pub fn remote_size() -> Option<(u32, u32)> {
    REMOTE.lock(|r| r.get())
}

/// True while the remote desktop is on screen.
pub fn showing_remote() -> bool {
    MODE.lock(|m| m.get()) == Mode::Remote
}

fn redraw_status() {
    let st = status::snapshot();
    let board = BOARD.lock(|b| b.get());
    FB.lock(|f| {
        if let Some(fb) = f.borrow_mut().as_mut() {
            let info = fb.info();
            screen::draw_status(&mut screen::Target::new(fb.pixels(), info), &st, board);
            fb.flush(0, 0, info.width, info.height);
        }
    });
}

/// Switches back to the status screen (connection lost).
pub fn show_status() {
    MODE.lock(|m| m.set(Mode::Status));
    CURSOR_RECT.lock(|r| r.set(None));
    redraw_status();
}

/// The pointer to draw over the remote desktop: its position on the remote
/// surface and its shape (drawn in software; ramfb has no cursor plane).
pub struct CursorView<'a> {
    /// Pointer x on the remote surface.
    pub x: i32,
    /// Pointer y on the remote surface.
    pub y: i32,
    /// Shape (hot spot included).
    pub shape: &'a CursorShape,
}

static CURSOR_RECT: Mutex<CriticalSectionRawMutex, Cell<Option<Rect>>> =
    Mutex::new(Cell::new(None));

/// Shows `dirty` of the remote primary surface and the pointer. The first
/// call after the status screen (or a size change) clears the screen and
/// draws the whole surface. The pointer is drawn over the picture; where it
/// was before is redrawn from the surface, which never contains it.
pub fn present(surface: &Surface, dirty: Option<Rect>, cursor: Option<CursorView<'_>>) {
    let size = (surface.width, surface.height);
    let first = MODE.lock(|m| m.replace(Mode::Remote)) == Mode::Status
        || REMOTE.lock(|r| r.replace(Some(size))) != Some(size);
    FB.lock(|f| {
        let mut f = f.borrow_mut();
        let Some(fb) = f.as_mut() else { return };
        let info = fb.info();
        let stride = info.stride as usize;
        let layout = layout_for(info, size);
        let new_rect = cursor
            .as_ref()
            .map(|c| layout.cursor_rect(c.x, c.y, c.shape));
        let old_rect = CURSOR_RECT.lock(|r| r.replace(new_rect));
        // Dirty area on screen, where the pointer was, and under the new
        // pointer too, so a moved pointer never smears.
        let mut areas = [
            dirty.map(|d| layout.to_screen_rect(d)),
            old_rect,
            new_rect.filter(|_| dirty.is_some()),
        ];
        if first {
            screen::clear_black(fb.pixels());
            fb.flush(0, 0, info.width, info.height);
            areas = [Some(layout.picture()), None, None];
        }
        for r in areas.into_iter().flatten() {
            if let Some(d) = layout.render(surface, fb.pixels(), stride, r) {
                flush(fb.as_mut(), d);
            }
        }
        if let (Some(c), Some(r)) = (cursor, new_rect) {
            if let Some(d) = layout.draw_cursor(fb.pixels(), stride, r, c.shape) {
                flush(fb.as_mut(), d);
            }
        }
    });
}

fn flush(fb: &mut dyn Framebuffer, r: Rect) {
    fb.flush(
        r.left as u32,
        r.top as u32,
        r.width() as u32,
        r.height() as u32,
    );
}

/// Redraws the status screen whenever it changes (while it is shown).
#[embassy_executor::task]
pub async fn task() {
    loop {
        if !showing_remote() {
            redraw_status();
        }
        status::CHANGED.wait().await;
    }
}

/// The fatal-error hook for `barespice_boot::fatal`: paints the message.
pub fn fatal_screen(message: &str) {
    if let Some((px, info)) = barespice_board::fatal_screen::take() {
        screen::draw_fatal(&mut screen::Target::new(px, info), message);
    }
}
