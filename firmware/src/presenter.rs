//! The presenter: owns the local framebuffer and decides what it shows —
//! the status screen while connecting, or the remote desktop (spice-core's
//! primary surface) once frames arrive, laid out by the display mode
//! (`barespice.display`): scaled to fit (`fit`, and `resize` until the guest
//! follows the local size) or centred 1:1 (`1:1`), with the pointer drawn
//! over it at the same scale (spice-core's `fit::Layout` does the pixels).
//!
//! All of its state (framebuffer, mode, remote size, pointer rectangle, the
//! [`Status`] the status screen shows, and its own copy of the remote
//! surface) belongs to one task, [`task`]. The free functions here are what
//! other tasks call: they send a message over a bounded channel
//! ([`install`], [`set_display_mode`], [`show_status`], [`present`]) or read
//! the [`View`] the task publishes after every change ([`fb_info`],
//! [`layout`], [`showing_remote`]).
//! [`present`] copies only what changed: the dirty rectangle's pixels (the
//! whole surface the first time, or after a size change).
//! Must not: block for long (it shares the CPU with the network).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use barespice_board::{FbInfo, Framebuffer};
use barespice_config::DisplayMode;
use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::watch::Watch;
use spice_core::budget::{Budget, Charge, Use};
use spice_core::canvas::{Rect, Surface};
use spice_core::cursor::CursorShape;
use spice_core::error::WireError;
use spice_core::fit::Layout;

use crate::screen;
use crate::status::{self, Status};

/// What the presenter task shows and where, as it publishes it for readers
/// in other tasks (input maps the pointer with it, the session sizes its
/// `resize` request by it).
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// Framebuffer geometry, if there is a display.
    pub fb: Option<FbInfo>,
    /// Size of the remote desktop last shown.
    pub remote: Option<(u32, u32)>,
    /// True while the remote desktop is on screen.
    pub showing_remote: bool,
    /// The display mode.
    pub display: DisplayMode,
}

impl View {
    fn layout(&self) -> Option<Layout> {
        Some(layout_for(self.display, self.fb?, self.remote?))
    }
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

/// New remote pixels for the presenter task.
struct Frame {
    /// Surface size.
    size: (u32, u32),
    /// The whole surface (first frame, or a new size) ...
    full: Option<Surface>,
    /// ... or the dirty rectangle (surface coordinates) with its pixels, row by row.
    patch: Option<(Rect, Vec<u32>)>,
    /// The pointer: position on the remote surface and shape.
    cursor: Option<(i32, i32, CursorShape)>,
    /// What the copy costs the session's budget (until the task drops it).
    charge: Charge,
}

/// A message to the presenter task.
enum Msg {
    /// The framebuffer (if any) and the board's name.
    Install(Option<Box<dyn Framebuffer>>, &'static str),
    /// The display mode from the configuration.
    DisplayMode(DisplayMode),
    /// Back to the status screen (connection lost).
    ShowStatus,
    /// New remote pixels.
    Frame(Frame),
}

/// Messages waiting for the presenter task.
const MAILBOX_LEN: usize = 8;
/// Frames leave this much room, so a control message always fits.
const CONTROL_ROOM: usize = 3;

static MAILBOX: Channel<CriticalSectionRawMutex, Msg, MAILBOX_LEN> = Channel::new();
static VIEW: Watch<CriticalSectionRawMutex, View, 0> = Watch::new_with(View {
    fb: None,
    remote: None,
    showing_remote: false,
    display: DisplayMode::Resize,
});

fn send(m: Msg) {
    if MAILBOX.try_send(m).is_err() {
        defmt::warn!("presenter: mailbox full, message dropped");
    }
}

fn view() -> View {
    VIEW.try_get().unwrap_or(View {
        fb: None,
        remote: None,
        showing_remote: false,
        display: DisplayMode::Resize,
    })
}

/// Hands the framebuffer (if any) to the presenter.
pub fn install(fb: Option<Box<dyn Framebuffer>>, board: &'static str) {
    let info = fb.as_ref().map(|f| f.info());
    // Readers see the geometry at once; the task gets the device.
    VIEW.sender().send_modify(|v| {
        if let Some(v) = v {
            v.fb = info;
        }
    });
    send(Msg::Install(fb, board));
}

/// Sets the display mode (from the configuration) and shows it on the
/// status screen. Call after [`install`].
pub fn set_display_mode(mode: DisplayMode) {
    VIEW.sender().send_modify(|v| {
        if let Some(v) = v {
            v.display = mode;
        }
    });
    send(Msg::DisplayMode(mode));
}

/// Where the remote desktop last shown sits on the screen (for pointer mapping).
pub fn layout() -> Option<Layout> {
    view().layout()
}

/// Framebuffer geometry, if there is a display.
pub fn fb_info() -> Option<FbInfo> {
    view().fb
}

/// True while the remote desktop is on screen.
pub fn showing_remote() -> bool {
    view().showing_remote
}

/// Switches back to the status screen (connection lost).
pub fn show_status() {
    send(Msg::ShowStatus);
}

/// Waits until the presenter task has handled every message and status
/// update sent so far (a teardown's heap figures then include what it freed).
pub async fn settled() {
    // Bounded: the task drains both queues whenever it runs.
    for _ in 0..100 {
        if MAILBOX.is_empty() && status::drained() {
            return;
        }
        embassy_futures::yield_now().await;
    }
}

/// Shows `dirty` of the remote primary surface and the pointer. The first
/// call after the status screen (or a size change) clears the screen and
/// draws the whole surface. The pointer is drawn over the picture; where it
/// was before is redrawn from the surface, which never contains it. A frame
/// the task cannot take now is lost: the session uses [`try_present`].
#[allow(dead_code)] // the session presents with `try_present`; kept for other callers
pub fn present(surface: &Surface, dirty: Option<Rect>, cursor: Option<CursorView<'_>>) {
    let _ = try_present(surface, dirty, cursor, None);
}

/// [`present`], with the copies it makes charged to the session's memory
/// `budget` (the presenter task holds the charge as long as the copy).
/// `Ok(false)`: the presenter task cannot take the frame now (mailbox full,
/// or a copy does not fit yet); the caller presents the same area again
/// later, with whatever changed since. `Err`: the surface itself cannot be
/// copied within the budget (the session ends with that reason).
pub fn try_present(
    surface: &Surface,
    dirty: Option<Rect>,
    cursor: Option<CursorView<'_>>,
    budget: Option<&Budget>,
) -> Result<bool, WireError> {
    if MAILBOX.free_capacity() <= CONTROL_ROOM {
        return Ok(false);
    }
    let size = (surface.width, surface.height);
    let v = view();
    let known = v.showing_remote && v.remote == Some(size);
    let charge = |pixels: usize, what: Use| match budget {
        Some(b) => b.charge(pixels.saturating_mul(4), what),
        None => Ok(Charge::default()),
    };
    let (full, patch, charge) = if known {
        match dirty {
            Some(d) => {
                let d = d.intersect(&Rect::new(0, 0, size.0 as i32, size.1 as i32));
                let c = match charge(d.width() as usize * d.height() as usize, Use::Image) {
                    Ok(c) => c,
                    // Copies still in flight give theirs back soon.
                    Err(_) if !MAILBOX.is_empty() => return Ok(false),
                    Err(e) => return Err(e),
                };
                match copy_rect(surface, d) {
                    Some(p) => (None, Some(p), c),
                    None => return Ok(false),
                }
            }
            None => (None, None, Charge::default()),
        }
    } else {
        let c = charge(surface.pixels.len(), Use::Surface)?;
        match copy_surface(surface) {
            Some(s) => (Some(s), None, c),
            None => return Ok(false),
        }
    };
    let cursor = match cursor {
        Some(c) => match copy_shape(c.shape) {
            Some(s) => Some((c.x, c.y, s)),
            None => return Ok(false),
        },
        None => None,
    };
    // The task now has this size's whole picture (or will, in order).
    VIEW.sender().send_modify(|v| {
        if let Some(v) = v {
            v.remote = Some(size);
            v.showing_remote = true;
        }
    });
    Ok(MAILBOX
        .try_send(Msg::Frame(Frame {
            size,
            full,
            patch,
            cursor,
            charge,
        }))
        .is_ok())
}

fn copy_surface(s: &Surface) -> Option<Surface> {
    let mut pixels = Vec::new();
    pixels.try_reserve_exact(s.pixels.len()).ok()?;
    pixels.extend_from_slice(&s.pixels);
    Surface::from_pixels(s.width, s.height, s.format, pixels)
}

fn copy_rect(s: &Surface, r: Rect) -> Option<(Rect, Vec<u32>)> {
    let mut pixels = Vec::new();
    if r.is_empty() {
        return Some((r, pixels));
    }
    let (w, sw) = (r.width() as usize, s.width as usize);
    pixels.try_reserve_exact(w * r.height() as usize).ok()?;
    for y in r.top..r.bottom {
        let start = y as usize * sw + r.left as usize;
        pixels.extend_from_slice(s.pixels.get(start..start + w)?);
    }
    Some((r, pixels))
}

fn copy_shape(c: &CursorShape) -> Option<CursorShape> {
    let mut pixels = Vec::new();
    pixels.try_reserve_exact(c.pixels.len()).ok()?;
    pixels.extend_from_slice(&c.pixels);
    Some(CursorShape { pixels, ..*c })
}

fn layout_for(display: DisplayMode, info: FbInfo, (w, h): (u32, u32)) -> Layout {
    match display {
        DisplayMode::OneToOne => Layout::one_to_one(w, h, info.width, info.height),
        DisplayMode::Fit | DisplayMode::Resize => Layout::fit(w, h, info.width, info.height),
    }
}

/// Everything the presenter task owns.
struct Presenter {
    fb: Option<Box<dyn Framebuffer>>,
    board: &'static str,
    display: DisplayMode,
    /// The remote surface as last presented (none on the status screen),
    /// and its charge to the session's budget.
    remote: Option<Surface>,
    remote_charge: Charge,
    /// Where the pointer was drawn.
    cursor_rect: Option<Rect>,
    status: Status,
}

impl Presenter {
    fn publish(&self) {
        let view = View {
            fb: self.fb.as_ref().map(|f| f.info()),
            remote: self.remote.as_ref().map(|s| (s.width, s.height)),
            showing_remote: self.remote.is_some(),
            display: self.display,
        };
        VIEW.sender().send(view);
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Install(fb, board) => {
                self.fb = fb;
                self.board = board;
                self.publish();
            }
            Msg::DisplayMode(mode) => {
                self.display = mode;
                self.publish();
                let size = self
                    .fb
                    .as_ref()
                    .map(|f| f.info())
                    .map_or(String::from("?"), |i| format!("{}x{}", i.width, i.height));
                status::set_display(match mode {
                    DisplayMode::Resize => {
                        format!("resize (asks the guest's agent for {size}, fit until then)")
                    }
                    DisplayMode::Fit => format!("fit (scaled to {size}, aspect ratio kept)"),
                    DisplayMode::OneToOne => format!("1:1 (centred on {size})"),
                });
            }
            Msg::ShowStatus => {
                self.remote = None;
                self.remote_charge = Charge::default();
                self.cursor_rect = None;
                self.publish();
                self.redraw_status();
            }
            Msg::Frame(f) => self.frame(f),
        }
    }

    fn redraw_status(&mut self) {
        if let Some(fb) = self.fb.as_mut() {
            let info = fb.info();
            screen::draw_status(
                &mut screen::Target::new(fb.pixels(), info),
                &self.status,
                self.board,
            );
            fb.flush(0, 0, info.width, info.height);
        }
    }

    fn frame(&mut self, f: Frame) {
        let first = f.full.is_some();
        let dirty = match (f.full, f.patch) {
            (Some(s), _) => {
                self.remote = Some(s);
                self.remote_charge = f.charge;
                None
            }
            (None, Some((r, pixels))) => {
                let Some(s) = self
                    .remote
                    .as_mut()
                    .filter(|s| (s.width, s.height) == f.size)
                else {
                    // Only after a status screen came between: the next frame is whole again.
                    defmt::debug!("presenter: frame for a surface not shown, dropped");
                    self.publish();
                    return;
                };
                let (w, sw) = (r.width().max(0) as usize, s.width as usize);
                for (row, y) in (r.top..r.bottom).enumerate() {
                    let d = y as usize * sw + r.left as usize;
                    if let (Some(dst), Some(src)) = (
                        s.pixels.get_mut(d..d + w),
                        pixels.get(row * w..(row + 1) * w),
                    ) {
                        dst.copy_from_slice(src);
                    }
                }
                Some(r)
            }
            (None, None) => None,
        };
        if first {
            self.publish();
        }
        let (Some(fb), Some(surface)) = (self.fb.as_mut(), self.remote.as_ref()) else {
            return;
        };
        let info = fb.info();
        let stride = info.stride as usize;
        let layout = layout_for(self.display, info, f.size);
        let new_rect = f
            .cursor
            .as_ref()
            .map(|(x, y, shape)| layout.cursor_rect(*x, *y, shape));
        let old_rect = core::mem::replace(&mut self.cursor_rect, new_rect);
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
        if let (Some((_, _, shape)), Some(r)) = (f.cursor.as_ref(), new_rect) {
            if let Some(d) = layout.draw_cursor(fb.pixels(), stride, r, shape) {
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

/// The presenter task: owns the framebuffer and everything shown on it,
/// handles the messages in order, and redraws the status screen whenever it
/// changes (while it is shown).
#[embassy_executor::task]
pub async fn task() {
    let mut p = Presenter {
        fb: None,
        board: "",
        display: DisplayMode::Resize,
        remote: None,
        remote_charge: Charge::default(),
        cursor_rect: None,
        status: Status::new(),
    };
    let mut status_changed = true;
    loop {
        while let Ok(m) = MAILBOX.try_receive() {
            p.handle(m);
        }
        while let Some(u) = status::try_next() {
            p.status.apply(u);
            status_changed = true;
        }
        if status_changed && p.remote.is_none() {
            p.redraw_status();
        }
        status_changed = false;
        match select(MAILBOX.receive(), status::next()).await {
            Either::First(m) => p.handle(m),
            Either::Second(u) => {
                p.status.apply(u);
                status_changed = true;
            }
        }
    }
}

/// The fatal-error hook for `barespice_boot::fatal`: paints the message.
pub fn fatal_screen(message: &str) {
    if let Some((px, info)) = barespice_board::fatal_screen::take() {
        screen::draw_fatal(&mut screen::Target::new(px, info), message);
    }
}
