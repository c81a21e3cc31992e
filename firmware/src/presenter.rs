//! The presenter: owns the local framebuffer and decides what it shows —
//! the status screen while connecting, or the remote desktop (spice-core's
//! primary surface, dirty rectangles copied centred 1:1) once frames arrive.
//! Must not: block for long (it shares the CPU with the network).

use alloc::boxed::Box;
use core::cell::{Cell, RefCell};
use barespice_board::{FbInfo, Framebuffer};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use spice_core::canvas::{Rect, Surface};
use spice_core::cursor::CursorShape;

use crate::screen;
use crate::status;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Status,
    Remote,
}

static FB: Mutex<CriticalSectionRawMutex, RefCell<Option<Box<dyn Framebuffer>>>> = Mutex::new(RefCell::new(None));
static MODE: Mutex<CriticalSectionRawMutex, Cell<Mode>> = Mutex::new(Cell::new(Mode::Status));
static REMOTE: Mutex<CriticalSectionRawMutex, Cell<Option<(u32, u32)>>> = Mutex::new(Cell::new(None));
static BOARD: Mutex<CriticalSectionRawMutex, Cell<&'static str>> = Mutex::new(Cell::new(""));

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

static CURSOR_RECT: Mutex<CriticalSectionRawMutex, Cell<Option<Rect>>> = Mutex::new(Cell::new(None));

/// Shows `dirty` of the remote primary surface and the pointer. The first
/// call after the status screen (or a size change) clears the screen and
/// copies the whole surface. The pointer is drawn over the copy; where it
/// was before is restored from the surface, which never contains it.
pub fn present(surface: &Surface, dirty: Option<Rect>, cursor: Option<CursorView<'_>>) {
    let size = (surface.width, surface.height);
    let first = MODE.lock(|m| m.replace(Mode::Remote)) == Mode::Status
        || REMOTE.lock(|r| r.replace(Some(size))) != Some(size);
    let new_rect = cursor.as_ref().map(|c| {
        let l = c.x - i32::from(c.shape.hot_x);
        let t = c.y - i32::from(c.shape.hot_y);
        Rect::new(l, t, l + i32::from(c.shape.width), t + i32::from(c.shape.height))
    });
    let old_rect = CURSOR_RECT.lock(|r| r.replace(new_rect));
    FB.lock(|f| {
        let mut f = f.borrow_mut();
        let Some(fb) = f.as_mut() else { return };
        let info = fb.info();
        let mut areas: [Option<Rect>; 3] = [dirty, old_rect, None];
        if first {
            screen::clear_black(fb.pixels());
            fb.flush(0, 0, info.width, info.height);
            areas = [Some(surface.bounds()), None, None];
        }
        // Under the new pointer too, so a moved pointer never smears.
        areas[2] = new_rect.filter(|_| dirty.is_some());
        for r in areas.into_iter().flatten() {
            if let Some((x, y, w, h)) = screen::blit_remote(fb.pixels(), info, surface, r) {
                fb.flush(x, y, w, h);
            }
        }
        if let (Some(c), Some(r)) = (cursor, new_rect) {
            if let Some((x, y, w, h)) = screen::draw_cursor(fb.pixels(), info, surface, r, c.shape) {
                fb.flush(x, y, w, h);
            }
        }
    });
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
