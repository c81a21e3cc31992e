//! The QUIC bit stream: 32-bit little-endian words whose bits are consumed
//! from the most significant end.
//!
//! Owns reading bits only. The reader is a bit position; each read loads
//! the pair of words around it, so there is no buffer to refill. Reading
//! past the end yields zero bits so the hot decode loops need no per-read
//! error path; [`Bits::check`] (called once per
//! row) turns any such overrun into an error, with the same verdict the
//! reference decoder reaches (it needs its 32-bit window to lie inside the
//! data at all times).

use crate::error::WireError;

/// A cursor over the words of a QUIC bit stream: the stream and a bit
/// position. It is `Copy` so hot loops can work on a local copy (kept in
/// registers) and store it back.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    /// The stream's whole words (a trailing partial word is ignored).
    words: &'a [[u8; 4]],
    /// Stream bits consumed so far (grows past the end while zero bits
    /// are being supplied).
    pos: usize,
    /// Byte offset of the stream within the QUIC payload (for errors).
    base: usize,
}

impl<'a> Bits<'a> {
    /// A reader over `data` (a trailing partial word is ignored, as the
    /// reference does); `base` is its offset in the payload, for errors.
    pub(super) fn new(data: &'a [u8], base: usize) -> Self {
        Bits {
            words: data.as_chunks::<4>().0,
            pos: 0,
            base,
        }
    }

    /// The upcoming stream bits, first one in the MSB: at least the top 33
    /// are stream bits (zeros past the end of the stream).
    ///
    /// The two words around the position, read as one little-endian `u64`,
    /// hold the first word in the low half: swapping the halves puts the
    /// stream in order, and a shift drops the bits already consumed.
    #[inline(always)]
    pub(super) fn window(&self) -> u64 {
        let at = self.pos >> 5;
        let pair = match self.words.get(at..at.wrapping_add(2)) {
            Some(&[[a, b, c, d], [e, f, g, h]]) => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => self.last_words(at),
        };
        pair.rotate_left(32) << (self.pos & 31)
    }

    /// [`Self::window`]'s word pair where fewer than two words are left:
    /// the last word (if `at` is its index) and zeros.
    #[cold]
    fn last_words(&self, at: usize) -> u64 {
        match self.words.get(at) {
            Some(&word) => u64::from(u32::from_le_bytes(word)),
            None => 0,
        }
    }

    /// The next 32 bits of the stream (not consumed).
    #[inline(always)]
    pub(super) fn peek(&self) -> u32 {
        (self.window() >> 32) as u32
    }

    /// Consume `n` bits.
    #[inline(always)]
    pub(super) fn eat(&mut self, n: u32) {
        self.pos = self.pos.wrapping_add(n as usize);
    }

    /// The stream position: bits consumed so far.
    #[inline(always)]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Move to stream position `pos` (as [`Self::pos`] gave it).
    #[inline(always)]
    pub(super) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Bits consumed so far.
    fn consumed(&self) -> u64 {
        self.pos as u64
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
