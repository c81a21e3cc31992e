//! [`Reader`]: a bounds-checked little-endian cursor over a message body.
//!
//! SPICE bodies hold fixed fields and u32 "pointers" that are offsets from the
//! start of the body; [`Reader::at`] follows such a pointer. The primitive reads
//! are nom's complete-input number parsers, so a short buffer is an error
//! value (with the offset it happened at), never a panic.

use crate::error::WireError;
use nom::number::complete::{be_u32, le_i16, le_i32, le_u16, le_u32, le_u64, le_u8};
use nom::IResult;

/// A cursor over `buf` (a whole message body), positioned at `pos`.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf`, at offset 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A reader over the same buffer at absolute offset `offset` (a SPICE
    /// pointer). Fails if the offset lies beyond the end.
    pub fn at(&self, offset: u32) -> Result<Self, WireError> {
        let offset = offset as usize;
        if offset > self.buf.len() {
            return Err(WireError::new(offset, "pointer beyond end of message"));
        }
        Ok(Self {
            buf: self.buf,
            pos: offset,
        })
    }

    /// Current absolute offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the cursor.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The whole underlying buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    fn run<T>(&mut self, p: fn(&'a [u8]) -> IResult<&'a [u8], T>) -> Result<T, WireError> {
        match p(&self.buf[self.pos..]) {
            Ok((rest, v)) => {
                self.pos = self.buf.len() - rest.len();
                Ok(v)
            }
            Err(_) => Err(WireError::new(self.pos, "truncated")),
        }
    }

    /// Read a u8.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        self.run(le_u8)
    }
    /// Read a little-endian u16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.run(le_u16)
    }
    /// Read a little-endian i16.
    pub fn i16(&mut self) -> Result<i16, WireError> {
        self.run(le_i16)
    }
    /// Read a little-endian u32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.run(le_u32)
    }
    /// Read a big-endian u32 (LZ/GLZ headers are big-endian).
    pub fn u32_be(&mut self) -> Result<u32, WireError> {
        self.run(be_u32)
    }
    /// Read a little-endian i32.
    pub fn i32(&mut self) -> Result<i32, WireError> {
        self.run(le_i32)
    }
    /// Read a little-endian u64.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.run(le_u64)
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::new(self.pos, "truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), WireError> {
        self.bytes(n).map(|_| ())
    }

    /// Everything after the cursor (consumes it).
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// An error at the current offset.
    pub fn error(&self, reason: &'static str) -> WireError {
        WireError::new(self.pos, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_reports_truncation_offset() {
        let b = [0x01, 0x02, 0x03, 0x04, 0x05];
        let mut r = Reader::new(&b);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(r.u16().unwrap(), 0x0403);
        assert_eq!(r.u16(), Err(WireError::new(4, "truncated")));
        assert_eq!(r.u8().unwrap(), 5);
        assert!(r.at(6).is_err());
        assert_eq!(r.at(1).unwrap().u8().unwrap(), 2);
    }
}
