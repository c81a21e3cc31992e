//! The fatal path shared by panics and CPU exceptions: log on the console,
//! show the message on screen through a hook the firmware installs, wait a
//! few seconds so a person can read it, then reset through a hook the board
//! installs (PSCI SYSTEM_RESET on virt, the watchdog on a Pi).
//!
//! Must not: allocate, or rely on any task or lock that may be held by the
//! code that failed. Hooks are plain function pointers.

use core::cell::Cell;
use core::fmt;
use critical_section::Mutex;

/// Draws a fatal message on the screen. Called at most once per failure.
pub type ScreenHook = fn(&str);
/// Resets the machine. Should not return.
pub type ResetHook = fn();

static SCREEN: Mutex<Cell<Option<ScreenHook>>> = Mutex::new(Cell::new(None));
static RESET: Mutex<Cell<Option<ResetHook>>> = Mutex::new(Cell::new(None));
static DYING: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));

/// Seconds the message stays on screen before the reset.
pub const RESET_DELAY_SECS: u64 = 8;

/// Installs the function that paints a fatal message on the framebuffer.
pub fn set_screen_hook(hook: ScreenHook) {
    critical_section::with(|cs| SCREEN.borrow(cs).set(Some(hook)));
}

/// Installs the function that resets the board.
pub fn set_reset_hook(hook: ResetHook) {
    critical_section::with(|cs| RESET.borrow(cs).set(Some(hook)));
}

/// Resets now through the board's hook; parks the core if there is none.
pub fn reset() -> ! {
    if let Some(r) = critical_section::with(|cs| RESET.borrow(cs).get()) {
        r();
    }
    defmt::error!("no reset hook installed (or it returned): halting");
    loop {
        crate::cpu::wait_for_interrupt();
    }
}

/// Reports `message` on the console and the screen, waits, then resets.
pub fn die(message: &str) -> ! {
    let again = critical_section::with(|cs| DYING.borrow(cs).replace(true));
    defmt::error!("FATAL: {=str}", message);
    if !again {
        if let Some(hook) = critical_section::with(|cs| SCREEN.borrow(cs).get()) {
            hook(message);
        }
    } else {
        defmt::error!("failure while reporting a failure; not drawing again");
    }
    defmt::error!("resetting in {=u64} s", RESET_DELAY_SECS);
    crate::cpu::delay_us(RESET_DELAY_SECS * 1_000_000);
    reset()
}

/// A fixed-size text buffer for formatting a message without the heap.
pub struct MessageBuf {
    buf: [u8; 480],
    len: usize,
}

impl MessageBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            buf: [0; 480],
            len: 0,
        }
    }

    /// The text so far (always valid UTF-8: cut at character boundaries).
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("(message not UTF-8)")
    }
}

impl Default for MessageBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for MessageBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            let mut tmp = [0u8; 4];
            let enc = ch.encode_utf8(&mut tmp).as_bytes();
            let end = self.len + enc.len();
            let Some(dst) = self.buf.get_mut(self.len..end) else {
                return Err(fmt::Error);
            };
            dst.copy_from_slice(enc);
            self.len = end;
        }
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut msg = MessageBuf::new();
    let _ = match info.location() {
        Some(l) => fmt::write(
            &mut msg,
            format_args!("panic at {}:{}\n{}", l.file(), l.line(), info.message()),
        ),
        None => fmt::write(&mut msg, format_args!("panic\n{}", info.message())),
    };
    die(msg.as_str())
}
