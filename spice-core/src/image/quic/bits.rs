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
    #[cfg(test)]
    fn peek(&self) -> u32 {
        (self.window() >> 32) as u32
    }

    /// Consume `n` bits.
    #[inline(always)]
    pub(super) fn eat(&mut self, n: u32) {
        self.pos = self.pos.wrapping_add(n as usize);
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

/// A [`Bits`] cursor turned into a buffer for the pixel loop: the upcoming
/// stream bits sit in one register that is shifted as codewords are eaten
/// and topped up from the next word, which was loaded ahead. So the next
/// pixel's bits do not wait for a load whose address depends on the
/// lengths just decoded (as [`Bits::window`] does), only for a shift.
#[derive(Clone, Copy)]
pub(super) struct Buffered<'a> {
    /// The stream's whole words, as in [`Bits`].
    words: &'a [[u8; 4]],
    /// Upcoming stream bits, first one in the MSB: `valid` of them, then
    /// more stream bits or zeros.
    buf: u64,
    /// How many of `buf`'s top bits are known to be stream bits (at most
    /// 63 before a [`Self::refill`], at least 32 after one).
    valid: u32,
    /// Index of the word holding the stream bits right after the valid
    /// ones (the stream position is `32 * next - valid`).
    next: usize,
    /// Word `next` (zero past the end of the stream), loaded ahead.
    word: u64,
    /// As in [`Bits`].
    base: usize,
}

impl<'a> Buffered<'a> {
    /// A buffer at the position of `bits`.
    #[inline(always)]
    pub(super) fn at(bits: &Bits<'a>) -> Self {
        let pos = bits.pos;
        // The window holds `64 - pos % 32` stream bits; claim 32 of them
        // when that is 64, so that a refill never shifts by 64.
        let valid = match 64 - (pos & 31) as u32 {
            64 => 32,
            n => n,
        };
        let next = (pos >> 5).wrapping_add(if valid == 32 { 1 } else { 2 });
        let mut b = Buffered {
            words: bits.words,
            buf: bits.window(),
            valid,
            next,
            word: 0,
            base: bits.base,
        };
        b.word = b.load(next);
        b
    }

    /// Word `at` of the stream, zero past its end.
    #[inline(always)]
    fn load(&self, at: usize) -> u64 {
        match self.words.get(at) {
            Some(&word) => u64::from(u32::from_le_bytes(word)),
            None => 0,
        }
    }

    /// Make at least 32 of the buffer's top bits stream bits. Branch-free:
    /// the word loaded ahead is always merged in behind the valid bits (a
    /// word already merged is merged again to no effect, as the bits it
    /// covers are either its own or zeros), and the buffer only counts it,
    /// and loads the next, when it fits whole.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        self.buf |= (self.word << 32) >> (self.valid & 63);
        let whole = self.valid <= 32;
        self.next = self.next.wrapping_add(usize::from(whole));
        self.valid += u32::from(whole) << 5;
        self.word = self.load(self.next);
    }

    /// [`Self::refill`] if fewer than `n` (at most 32) bits are valid, so
    /// that at least `n` are, and the next refill still sees at most 63.
    #[inline(always)]
    pub(super) fn refill_below(&mut self, n: u32) {
        if self.valid < n {
            self.refill();
        }
    }

    /// The upcoming bits, first one in the MSB (see [`Self::refill`] for
    /// how many are valid).
    #[inline(always)]
    pub(super) fn peek(&self) -> u64 {
        self.buf
    }

    /// Consume `n` bits, at most as many as are valid.
    #[inline(always)]
    pub(super) fn eat(&mut self, n: u32) {
        self.buf <<= n & 63;
        self.valid = self.valid.wrapping_sub(n);
    }

    /// The cursor at this buffer's position.
    #[inline(always)]
    pub(super) fn bits(&self) -> Bits<'a> {
        Bits {
            words: self.words,
            pos: self.next.wrapping_mul(32).wrapping_sub(self.valid as usize),
            base: self.base,
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
