//! The QUIC bit stream: 32-bit little-endian words whose bits are consumed
//! from the most significant end.
//!
//! Owns reading bits only. Reading past the end yields zero bits so the hot
//! decode loops need no per-read error path; [`Bits::check`] (called once per
//! row) turns any such overrun into an error, with the same verdict the
//! reference decoder reaches (it needs its 32-bit window to lie inside the
//! data at all times).

use crate::error::WireError;

/// A cursor over the words of a QUIC bit stream. It is `Copy` so hot loops
/// can work on a local copy (kept in registers) and store it back.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    /// The stream's whole words (a trailing partial word is ignored).
    words: &'a [[u8; 4]],
    /// Index of the next word to load (grows past the end while zero words
    /// are being supplied).
    next: usize,
    /// Upcoming stream bits, first one in the MSB; `avail` of them are valid.
    buf: u64,
    /// Valid bits in `buf`; at least 32 between calls.
    avail: u32,
    /// Byte offset of the stream within the QUIC payload (for errors).
    base: usize,
}

impl<'a> Bits<'a> {
    /// A reader over `data` (a trailing partial word is ignored, as the
    /// reference does); `base` is its offset in the payload, for errors.
    pub(super) fn new(data: &'a [u8], base: usize) -> Self {
        let mut bits = Bits {
            words: data.as_chunks::<4>().0,
            next: 0,
            buf: 0,
            avail: 0,
            base,
        };
        bits.refill();
        bits
    }

    /// The next 32 bits of the stream (not consumed).
    #[inline(always)]
    pub(super) fn peek(&self) -> u32 {
        (self.buf >> 32) as u32
    }

    /// The next 64 bits of the stream (not consumed); at least the first
    /// 32 are valid stream bits.
    #[inline(always)]
    pub(super) fn peek64(&self) -> u64 {
        self.buf
    }

    /// Consume `n` bits, `n <= 32`.
    #[inline(always)]
    pub(super) fn eat(&mut self, n: u32) {
        self.buf <<= n;
        self.avail -= n;
        if self.avail < 32 {
            self.refill();
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        let word = match self.words.get(self.next) {
            Some(&word) => u32::from_le_bytes(word),
            None => 0,
        };
        self.buf |= u64::from(word) << (32 - self.avail);
        self.avail += 32;
        self.next = self.next.wrapping_add(1);
    }

    /// Bits consumed so far.
    fn consumed(&self) -> u64 {
        (self.next as u64) * 32 - u64::from(self.avail)
    }

    /// An error at the current stream position.
    pub(super) fn error(&self, reason: &'static str) -> WireError {
        let byte = usize::try_from(self.consumed() / 8).unwrap_or(usize::MAX);
        WireError::new(self.base.saturating_add(byte), reason)
    }

    /// Fail if the reader has used bits beyond the input, i.e. if a full
    /// 32-bit window at the current position does not fit in the data.
    pub(super) fn check(&self) -> Result<(), WireError> {
        if self.consumed() + 32 > self.words.len() as u64 * 32 {
            Err(self.error("QUIC data truncated"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_little_endian_and_read_msb_first() {
        // Word 0 = 0x8000_0001, word 1 = 0xC000_0000, word 2 = 0.
        let data = [0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0xC0, 0, 0, 0, 0];
        let mut b = Bits::new(&data, 0);
        assert_eq!(b.peek(), 0x8000_0001);
        b.eat(1);
        assert_eq!(b.peek(), 0x0000_0003);
        b.eat(31);
        assert_eq!(b.peek(), 0xC000_0000);
        b.eat(32);
        // 64 bits used: the window is exactly the last word.
        assert!(b.check().is_ok());
        b.eat(1);
        // The window now reaches past the third word.
        assert_eq!(b.check(), Err(WireError::new(8, "QUIC data truncated")));
    }
}
