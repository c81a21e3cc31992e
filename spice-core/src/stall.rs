//! The stalled-message rule, clock-free: a server that begins a message and
//! then drips it (a few bytes now and then, never completing it) would hold
//! a channel, and the session, forever. Once a message has begun on a
//! channel, at least [`STALL_MIN_BYTES`] of it must arrive in every
//! [`STALL_WINDOW_MS`] while it stays incomplete; a message that completes
//! starts over. A channel with no message begun (an idle or paused server)
//! is never stalled. The caller feeds [`StallWatch::observe`] with its own
//! clock and [`crate::session::Session::mid_message`].

use core::fmt;

/// How long a begun message may take to deliver [`STALL_MIN_BYTES`] more.
pub const STALL_WINDOW_MS: u64 = 30_000;

/// Bytes of an incomplete message that must arrive per [`STALL_WINDOW_MS`].
pub const STALL_MIN_BYTES: u64 = 16 * 1024;

/// Why a channel is stalled: what the window saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Bytes of the incomplete message received so far.
    pub buffered: usize,
    /// Bytes of it that arrived during the window.
    pub arrived: u64,
    /// The window's length in milliseconds.
    pub window_ms: u64,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server stalled mid-message: {} bytes in {} s (at least {} needed), {} bytes of the message so far",
            self.arrived,
            self.window_ms / 1000,
            STALL_MIN_BYTES,
            self.buffered
        )
    }
}

/// The stall state of one channel.
#[derive(Clone, Debug, Default)]
pub struct StallWatch {
    /// Bytes of the incomplete message at the last observation.
    last_mid: usize,
    /// Start of the current window (a message has begun), and what arrived in it.
    window: Option<(u64, u64)>,
}

impl StallWatch {
    /// A watch for an idle channel.
    pub fn new() -> Self {
        Self::default()
    }

    /// At `now_ms`, `arrived` bytes were received on the channel since the
    /// last call and `mid` bytes of a message are now incomplete. Returns the
    /// stall once a window ends with too few bytes; call it at least once a
    /// second or so, with `arrived` 0 when nothing came.
    pub fn observe(&mut self, now_ms: u64, arrived: usize, mid: usize) -> Option<Stall> {
        let arrived = arrived as u64;
        // Bytes left the buffer: at least one message completed.
        let completed = (self.last_mid as u64).saturating_add(arrived) > mid as u64;
        self.last_mid = mid;
        if mid == 0 {
            self.window = None;
            return None;
        }
        let (start, got) = match self.window {
            Some((start, got)) if !completed => (start, got.saturating_add(arrived)),
            // A new message has begun: its window starts now.
            _ => (now_ms, 0),
        };
        if now_ms.saturating_sub(start) < STALL_WINDOW_MS {
            self.window = Some((start, got));
            return None;
        }
        if got < STALL_MIN_BYTES {
            return Some(Stall {
                buffered: mid,
                arrived: got,
                window_ms: now_ms.saturating_sub(start),
            });
        }
        // Enough came: the next window starts.
        self.window = Some((now_ms, 0));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_channel_never_stalls() {
        let mut w = StallWatch::new();
        for t in (0..600_000).step_by(1000) {
            assert_eq!(w.observe(t, 0, 0), None);
        }
    }

    #[test]
    fn a_drip_stalls_after_one_window() {
        let mut w = StallWatch::new();
        // One byte every 500 ms of a message that never completes.
        let mut stall = None;
        let mut t = 0;
        let mut mid = 0;
        while stall.is_none() && t <= 2 * STALL_WINDOW_MS {
            mid += 1;
            stall = w.observe(t, 1, mid);
            t += 500;
        }
        let s = stall.expect("a drip must stall");
        assert_eq!(s.window_ms, STALL_WINDOW_MS);
        assert_eq!(s.arrived, 60);
        assert_eq!(s.buffered, 61);
        assert_eq!(
            alloc::format!("{s}"),
            "server stalled mid-message: 60 bytes in 30 s (at least 16384 needed), 61 bytes of the message so far"
        );
    }

    #[test]
    fn silence_mid_message_stalls() {
        let mut w = StallWatch::new();
        assert_eq!(w.observe(1000, 26, 26), None);
        assert_eq!(w.observe(30_999, 0, 26), None);
        let s = w.observe(31_000, 0, 26).expect("stalled");
        assert_eq!((s.arrived, s.buffered), (0, 26));
    }

    #[test]
    fn a_slow_but_steady_big_message_is_kept() {
        let mut w = StallWatch::new();
        // 1 KiB a second: 30 KiB per window, over several windows.
        let mut mid = 0;
        for t in (0..200_000).step_by(1000) {
            mid += 1024;
            assert_eq!(w.observe(t, 1024, mid), None, "at {t} ms");
        }
    }

    #[test]
    fn a_completed_message_restarts_the_window() {
        let mut w = StallWatch::new();
        assert_eq!(w.observe(0, 10, 10), None);
        // 20 s later: the message completes and 5 bytes of the next begin.
        assert_eq!(w.observe(20_000, 100, 5), None);
        // 29 s after that, still within the new message's window.
        assert_eq!(w.observe(49_000, 0, 5), None);
        assert!(w.observe(50_000, 0, 5).is_some());
    }

    #[test]
    fn after_a_stall_is_cleared_by_completion_the_channel_is_idle() {
        let mut w = StallWatch::new();
        assert_eq!(w.observe(0, 10, 10), None);
        assert_eq!(w.observe(10_000, 20, 0), None);
        assert_eq!(w.observe(100_000, 0, 0), None);
    }
}
