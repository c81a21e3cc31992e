//! The GLZ window's ring: one pixel buffer of a fixed capacity that images
//! are decoded into as contiguous slots, handed out in order and given
//! back mostly in the same order (the server's window lets its oldest
//! images go first), so that a session's images keep landing in memory
//! that has already been written instead of in fresh pages.
//!
//! Owns the buffer and which of its slots are in use; knows no codec and
//! decides nothing about which image is released. The buffer is allocated
//! (zeroed, not cleared: its pages are first written by the decoder) at
//! the first slot, at its full capacity; a slot that does not fit in the
//! free part is refused (the caller keeps that image elsewhere).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A slot handed out by [`Ring::alloc`]: `len` units from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Allocation number (finds the slot's entry again on release).
    seq: u64,
    start: usize,
    len: usize,
}

impl Slot {
    /// Units in the slot.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// One allocation, in allocation order; `live` until released.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
    live: bool,
}

/// Slots of one reusable buffer, allocated after the newest slot (wrapping
/// to the start when the end has no room) and reclaimed from the oldest: a
/// released slot behind an older live one stays taken until that one goes.
#[derive(Debug, Default)]
pub struct Ring {
    buf: Vec<u32>,
    cap: usize,
    /// Slots not yet reclaimed, oldest first; they never overlap, so there
    /// are at most `cap` of them.
    spans: VecDeque<Span>,
    /// Allocation number of `spans[0]`.
    first: u64,
}

impl Ring {
    /// An empty ring that will hold at most `cap` units (nothing is
    /// allocated until the first slot).
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            ..Self::default()
        }
    }

    /// Where `n` units fit after the newest slot, or from the start when
    /// the end has no room and the oldest slot leaves enough before it.
    fn place(&self, n: usize) -> Option<usize> {
        let (Some(front), Some(back)) = (self.spans.front(), self.spans.back()) else {
            return (n <= self.cap).then_some(0);
        };
        let end = back.start + back.len;
        if back.start >= front.start {
            // Taken: front.start..end. Free: end..cap, then 0..front.start.
            if n <= self.cap - end {
                Some(end)
            } else {
                (n <= front.start).then_some(0)
            }
        } else {
            // Wrapped. Taken: front.start..cap and 0..end.
            (n <= front.start - end).then_some(end)
        }
    }

    /// A slot of `n` units (its contents are whatever was there), or
    /// `None` when `n` is zero, no free run is that long, or the buffer
    /// cannot be allocated.
    pub fn alloc(&mut self, n: usize) -> Option<Slot> {
        if n == 0 {
            return None;
        }
        let start = self.place(n)?;
        if self.buf.len() < self.cap {
            // One zeroed allocation: on a host, fresh pages come zeroed
            // and are first written by the decoder, not by a clearing pass.
            self.buf = bytemuck::allocation::try_zeroed_vec(self.cap).ok()?;
        }
        let seq = self.first + self.spans.len() as u64;
        self.spans.push_back(Span {
            start,
            len: n,
            live: true,
        });
        Some(Slot { seq, start, len: n })
    }

    /// Give `slot` back; its memory is reused once every older slot is
    /// given back too.
    pub fn free(&mut self, slot: Slot) {
        let i = slot.seq.wrapping_sub(self.first);
        if let Some(span) = usize::try_from(i).ok().and_then(|i| self.spans.get_mut(i)) {
            if span.start == slot.start && span.len == slot.len {
                span.live = false;
            }
        }
        while self.spans.front().is_some_and(|s| !s.live) {
            self.spans.pop_front();
            self.first += 1;
        }
    }

    /// Give every slot back (the buffer is kept).
    pub fn clear(&mut self) {
        self.first += self.spans.len() as u64;
        self.spans.clear();
    }

    /// Units the buffer holds (its memory, once allocated).
    #[cfg(test)]
    pub fn touched(&self) -> usize {
        self.buf.len()
    }

    /// The units of every slot, to read.
    pub fn view(&self) -> RingView<'_> {
        RingView {
            lo: &self.buf,
            hi: &[],
            hi_at: self.buf.len(),
        }
    }

    /// `slot`'s units to write, beside a view of the other slots to read.
    pub fn split(&mut self, slot: Slot) -> Option<(&mut [u32], RingView<'_>)> {
        let end = slot.start.checked_add(slot.len)?;
        if end > self.buf.len() {
            return None;
        }
        let (lo, rest) = self.buf.split_at_mut(slot.start);
        let (out, hi) = rest.split_at_mut(slot.len);
        Some((out, RingView { lo, hi, hi_at: end }))
    }
}

/// The ring's units outside the slot being written: `lo` from the start,
/// `hi` from `hi_at`.
#[derive(Debug, Clone, Copy)]
pub struct RingView<'a> {
    lo: &'a [u32],
    hi: &'a [u32],
    hi_at: usize,
}

impl<'a> RingView<'a> {
    /// The units of `slot`, or `None` when they are not in this view (the
    /// slot being written, or one from another ring).
    pub fn get(&self, slot: Slot) -> Option<&'a [u32]> {
        let end = slot.start.checked_add(slot.len)?;
        if end <= self.lo.len() {
            self.lo.get(slot.start..end)
        } else {
            let from = slot.start.checked_sub(self.hi_at)?;
            self.hi.get(from..from + slot.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_newest_and_wrap_when_the_oldest_has_gone() {
        let mut r = Ring::new(10);
        assert!(r.alloc(0).is_none());
        assert!(r.alloc(11).is_none(), "larger than the ring");
        let a = r.alloc(4).unwrap();
        let b = r.alloc(4).unwrap();
        assert_eq!((a.start, b.start, r.touched()), (0, 4, 10));
        assert!(r.alloc(3).is_none(), "2 left at the end, none before a");
        let c = r.alloc(2).unwrap();
        assert_eq!(c.start, 8);
        // b goes first: still taken until a goes.
        r.free(b);
        assert!(r.alloc(1).is_none());
        r.free(a);
        // Free now: 0..8 (the end is full).
        let d = r.alloc(5).unwrap();
        assert_eq!(d.start, 0);
        // Wrapped: 5..8 free.
        assert!(r.alloc(4).is_none());
        let e = r.alloc(3).unwrap();
        assert_eq!(e.start, 5);
        r.free(c);
        r.free(d);
        r.free(e);
        assert_eq!(r.alloc(10).unwrap().start, 0, "all free again");
        r.clear();
        assert_eq!(r.alloc(7).unwrap().start, 0);
        // A slot of another ring, or given back twice, changes nothing.
        r.free(a);
        r.free(a);
        assert!(r.alloc(4).is_none(), "3 left");
    }

    #[test]
    fn a_slot_is_written_beside_the_others_read() {
        let mut r = Ring::new(8);
        let a = r.alloc(3).unwrap();
        let b = r.alloc(2).unwrap();
        let c = r.alloc(3).unwrap();
        for (slot, v) in [(a, 1), (c, 3)] {
            r.split(slot).unwrap().0.fill(v);
        }
        let (out, view) = r.split(b).unwrap();
        out.copy_from_slice(&[7, 8]);
        assert_eq!(view.get(a), Some(&[1, 1, 1][..]));
        assert_eq!(view.get(c), Some(&[3, 3, 3][..]));
        assert_eq!(view.get(b), None, "being written");
        assert_eq!(r.view().get(b), Some(&[7, 8][..]));
        assert_eq!(Ring::new(8).view().get(a), None, "another ring");
    }
}
