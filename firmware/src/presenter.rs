//! The presenter: the local framebuffer and what it shows — the status
//! screen while connecting, or the remote desktop (spice-core's primary
//! surface) once frames arrive, laid out by the display mode
//! (`barespice.display`): scaled to fit (`fit`, and `resize` until the guest
//! follows the local size) or centred 1:1 (`1:1`), with the pointer drawn
//! over it at the same scale (spice-core's `fit::Layout` does the pixels).
//!
//! Who owns what: the [`Screen`] (framebuffer, board name, display mode,
//! which remote size is on screen, where the pointer was drawn, the scaling
//! scratch) lives in one static behind a blocking mutex; the [`Status`] the
//! status screen shows belongs to the presenter [`task`] alone (fed by
//! `status`'s queue); the remote surface belongs to the session, which lends
//! it to [`present`] for the duration of the call.
//! - The session task calls [`present`] after each batch of messages: the
//!   dirty rectangle goes from its surface straight into the framebuffer
//!   (one copy, scaled or not; no allocation, no second surface).
//! - The presenter task draws the status screen, only while no remote
//!   desktop is shown, after status updates or when [`install`] or
//!   [`show_status`] ask for a redraw.
//! - [`install`], [`set_display_mode`] and [`show_status`] change the
//!   [`Screen`] in place; [`layout`], [`fb_info`] and [`showing_remote`]
//!   read it (input maps the pointer with the layout).
//!
//! The sharing rule (replacing "owned by one task, fed by messages"): every
//! access is one synchronous call inside [`with_screen`], which never awaits;
//! all tasks run on one executor on one core and no code runs in interrupt
//! context (see `barespice_board::irq`), so two accesses can never overlap
//! and each sees the screen as the last one left it. A nested access (a bug)
//! finds the cell borrowed and is skipped, never a panic. The mutex is
//! `CriticalSectionRawMutex` because a static needs a `Sync` one; its
//! critical section masks nothing that is not masked already.
//! Must not: block for long (it shares the CPU with the network), or keep
//! any remote pixels.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use barespice_board::{FbInfo, Framebuffer};
use barespice_config::DisplayMode;
use core::cell::RefCell;
use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::signal::Signal;
use spice_core::canvas::{Rect, Surface};
use spice_core::cursor::CursorShape;
use spice_core::fit::{Columns, Layout};

use crate::screen;
use crate::status::{self, Status};

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

/// The local screen and how the remote desktop sits on it (see the module
/// doc for who may touch it, and when).
struct Screen {
    fb: Option<Box<dyn Framebuffer>>,
    board: &'static str,
    display: DisplayMode,
    /// Size of the remote desktop on screen (none: the status screen).
    remote: Option<(u32, u32)>,
    /// Where the pointer was drawn.
    cursor_rect: Option<Rect>,
    /// Scaling scratch, kept so redraws allocate nothing.
    columns: Columns,
}

static SCREEN: Mutex<CriticalSectionRawMutex, RefCell<Screen>> = Mutex::new(RefCell::new(Screen {
    fb: None,
    board: "",
    display: DisplayMode::Resize,
    remote: None,
    cursor_rect: None,
    columns: Columns::new(),
}));

/// Asks the presenter task to redraw the status screen.
static REDRAW: Signal<CriticalSectionRawMutex, ()> = Signal::new();

/// Runs `f` on the [`Screen`]; `None` only if it is already in use (a
/// nested call, which the sharing rule in the module doc rules out).
fn with_screen<R>(f: impl FnOnce(&mut Screen) -> R) -> Option<R> {
    SCREEN.lock(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => Some(f(&mut s)),
        Err(_) => {
            defmt::warn!("presenter: screen in use, call skipped");
            None
        }
    })
}

/// Hands the framebuffer (if any) to the presenter.
pub fn install(fb: Option<Box<dyn Framebuffer>>, board: &'static str) {
    with_screen(|s| {
        s.fb = fb;
        s.board = board;
    });
    REDRAW.signal(());
}

/// Sets the display mode (from the configuration) and shows it on the
/// status screen. Call after [`install`].
pub fn set_display_mode(mode: DisplayMode) {
    let info = with_screen(|s| {
        s.display = mode;
        s.fb.as_ref().map(|f| f.info())
    })
    .flatten();
    let size = info.map_or(String::from("?"), |i| format!("{}x{}", i.width, i.height));
    status::set_display(match mode {
        DisplayMode::Resize => {
            format!("resize (asks the guest's agent for {size}, fit until then)")
        }
        DisplayMode::Fit => format!("fit (scaled to {size}, aspect ratio kept)"),
        DisplayMode::OneToOne => format!("1:1 (centred on {size})"),
    });
}

/// Where the remote desktop last shown sits on the screen (for pointer mapping).
pub fn layout() -> Option<Layout> {
    with_screen(|s| Some(layout_for(s.display, s.fb.as_ref()?.info(), s.remote?))).flatten()
}

/// Framebuffer geometry, if there is a display.
pub fn fb_info() -> Option<FbInfo> {
    with_screen(|s| s.fb.as_ref().map(|f| f.info())).flatten()
}

/// True while the remote desktop is on screen.
pub fn showing_remote() -> bool {
    with_screen(|s| s.remote.is_some()).unwrap_or(false)
}

/// Switches back to the status screen (connection lost); the presenter
/// task redraws it.
pub fn show_status() {
    with_screen(|s| {
        s.remote = None;
        s.cursor_rect = None;
    });
    REDRAW.signal(());
}

/// Waits until the presenter task has handled every status update and
/// redraw request sent so far (the status screen then shows them).
pub async fn settled() {
    // Bounded: the task drains both whenever it runs.
    for _ in 0..100 {
        if !REDRAW.signaled() && status::drained() {
            return;
        }
        embassy_futures::yield_now().await;
    }
}

/// Shows `dirty` of the remote primary `surface` and the pointer, drawn
/// from the surface straight into the framebuffer. The first call after
/// the status screen (or a size change) clears the screen and draws the
/// whole surface. The pointer is drawn over the picture; where it was
/// before is redrawn from the surface, which never contains it.
/// Returns false if nothing could be drawn now (the screen was in use);
/// the caller presents the same area again later.
pub fn present(surface: &Surface, dirty: Option<Rect>, cursor: Option<CursorView<'_>>) -> bool {
    with_screen(|s| s.present(surface, dirty, cursor)).is_some()
}

fn layout_for(display: DisplayMode, info: FbInfo, (w, h): (u32, u32)) -> Layout {
    match display {
        DisplayMode::OneToOne => Layout::one_to_one(w, h, info.width, info.height),
        DisplayMode::Fit | DisplayMode::Resize => Layout::fit(w, h, info.width, info.height),
    }
}

impl Screen {
    fn draw_status(&mut self, status: &Status) {
        if self.remote.is_some() {
            return;
        }
        if let Some(fb) = self.fb.as_mut() {
            let info = fb.info();
            screen::draw_status(
                &mut screen::Target::new(fb.pixels(), info),
                status,
                self.board,
            );
            fb.flush(0, 0, info.width, info.height);
        }
    }

    fn present(&mut self, surface: &Surface, dirty: Option<Rect>, cursor: Option<CursorView<'_>>) {
        let size = (surface.width, surface.height);
        let first = self.remote != Some(size);
        self.remote = Some(size);
        let Some(fb) = self.fb.as_mut() else {
            return;
        };
        let info = fb.info();
        let stride = info.stride as usize;
        let layout = layout_for(self.display, info, size);
        let new_rect = cursor
            .as_ref()
            .map(|c| layout.cursor_rect(c.x, c.y, c.shape));
        let old_rect = core::mem::replace(&mut self.cursor_rect, new_rect);
        let whole = Rect::new(0, 0, size.0 as i32, size.1 as i32);
        let dirty = dirty.map(|d| d.intersect(&whole));
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
            if let Some(d) = layout.render_with(surface, fb.pixels(), stride, r, &mut self.columns)
            {
                flush(fb.as_mut(), d);
            }
        }
        if let (Some(c), Some(r)) = (cursor, new_rect) {
            if let Some(d) = layout.draw_cursor(fb.pixels(), stride, r, c.shape) {
                flush(fb.as_mut(), d);
            }
        }
    }
}

fn flush(fb: &mut dyn Framebuffer, r: Rect) {
    fb.flush(
        r.left as u32,
        r.top as u32,
        r.width() as u32,
        r.height() as u32,
    );
}

/// The presenter task: owns the [`Status`], applies its updates in order,
/// and redraws the status screen whenever it changes or a redraw is asked
/// for (while no remote desktop is shown).
#[embassy_executor::task]
pub async fn task() {
    let mut status = Status::new();
    loop {
        while let Some(u) = status::try_next() {
            status.apply(u);
        }
        // Every wake-up is a change or a request (the first pass: boot).
        with_screen(|s| s.draw_status(&status));
        if let Either::First(u) = select(status::next(), REDRAW.wait()).await {
            status.apply(u);
        }
    }
}

/// The fatal-error hook for `barespice_boot::fatal`: paints the message.
pub fn fatal_screen(message: &str) {
    if let Some((px, info)) = barespice_board::fatal_screen::take() {
        screen::draw_fatal(&mut screen::Target::new(px, info), message);
    }
}
