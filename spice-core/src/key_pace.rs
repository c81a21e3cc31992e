//! Pacing of key events towards the server, so a backlog never reaches the
//! guest as one burst.
//!
//! Why: the SPICE server injects every KEY_DOWN/KEY_UP into the guest's
//! keyboard the moment it arrives, and QEMU's PS/2 keyboard holds only 16
//! bytes, dropping further ones silently (`ps2_queue_noirq`). A client that
//! was busy (decoding video) and then forwards a dozen queued keys at once
//! loses characters in the guest. Owns [`KeyPacer`]: keys in arrival order,
//! at most [`KeyPacer::BURST`] per [`KeyPacer::WINDOW_MS`] (200 events/s, ten
//! times a fast typist, so live typing is never held back; a backlog drains
//! at 8 bytes per window, half the PS/2 queue). Must not: drop or reorder a
//! key while there is room ([`KeyPacer::CAPACITY`]).

use alloc::collections::VecDeque;

/// A key event waiting to go out: set-1 key number and pressed.
pub type KeyEvent = (u16, bool);

/// Key events waiting for their turn (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct KeyPacer {
    queue: VecDeque<KeyEvent>,
    window_start_ms: u64,
    sent_in_window: u8,
}

impl KeyPacer {
    /// Key events sent per window.
    pub const BURST: u8 = 4;
    /// Window length in milliseconds.
    pub const WINDOW_MS: u64 = 20;
    /// Most key events held (a full pacer refuses more: the caller keeps them).
    pub const CAPACITY: usize = 128;

    /// An empty pacer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a key event; false (not queued) when [`Self::CAPACITY`] are waiting.
    pub fn push(&mut self, key: u16, down: bool) -> bool {
        if self.queue.len() >= Self::CAPACITY {
            return false;
        }
        self.queue.push_back((key, down));
        true
    }

    /// Key events waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next key event that may go out at `now_ms`, if any.
    pub fn take(&mut self, now_ms: u64) -> Option<KeyEvent> {
        self.queue.front()?;
        if now_ms.saturating_sub(self.window_start_ms) >= Self::WINDOW_MS {
            self.window_start_ms = now_ms;
            self.sent_in_window = 0;
        }
        if self.sent_in_window >= Self::BURST {
            return None;
        }
        self.sent_in_window += 1;
        self.queue.pop_front()
    }

    /// Milliseconds from `now_ms` until [`Self::take`] can return the next
    /// waiting event (0: now), or `None` when nothing waits.
    pub fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        self.queue.front()?;
        let elapsed = now_ms.saturating_sub(self.window_start_ms);
        if self.sent_in_window < Self::BURST || elapsed >= Self::WINDOW_MS {
            Some(0)
        } else {
            Some(Self::WINDOW_MS - elapsed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_typing_goes_out_at_once() {
        let mut p = KeyPacer::new();
        for t in [0u64, 60, 120] {
            assert!(p.push(0x1e, true) && p.push(0x1e, false));
            assert_eq!(p.wait_ms(t), Some(0));
            assert_eq!(p.take(t), Some((0x1e, true)));
            assert_eq!(p.take(t), Some((0x1e, false)));
            assert_eq!(p.take(t), None);
            assert_eq!(p.wait_ms(t), None);
        }
    }

    #[test]
    fn a_backlog_drains_in_order_a_burst_per_window() {
        let mut p = KeyPacer::new();
        for k in 0..10u16 {
            assert!(p.push(k, k % 2 == 0));
        }
        let mut t = 1000;
        let mut out = std::vec::Vec::new();
        let mut windows = 0;
        while !p.is_empty() {
            let mut n = 0;
            while let Some(e) = p.take(t) {
                out.push(e);
                n += 1;
            }
            assert!(n <= KeyPacer::BURST as usize, "{n} in one window");
            windows += 1;
            let w = p.wait_ms(t);
            if !p.is_empty() {
                assert!(matches!(w, Some(d) if d > 0 && d <= KeyPacer::WINDOW_MS));
                t += w.unwrap_or(0);
            }
        }
        assert_eq!(windows, 3, "10 events: 4 + 4 + 2");
        let want: std::vec::Vec<KeyEvent> = (0..10u16).map(|k| (k, k % 2 == 0)).collect();
        assert_eq!(out, want, "order kept, nothing lost");
    }

    #[test]
    fn full_pacer_refuses_and_keeps_what_it_has() {
        let mut p = KeyPacer::new();
        for k in 0..KeyPacer::CAPACITY as u16 {
            assert!(p.push(k, true));
        }
        assert!(!p.push(999, true));
        assert_eq!(p.len(), KeyPacer::CAPACITY);
        assert_eq!(p.take(0), Some((0, true)));
    }
}
