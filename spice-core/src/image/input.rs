//! [`Input`]: the bounds-checked byte cursor the LZ-family decoders (LZ, GLZ)
//! read their compressed stream from.
//!
//! Owns only reading; running past the end is an error carrying the codec's
//! own "truncated" reason and the offset, never a panic.

use crate::error::WireError;

/// A cursor over a compressed stream.
#[derive(Clone)]
pub(crate) struct Input<'a> {
    /// The whole compressed payload.
    pub(crate) data: &'a [u8],
    /// Offset of the next unread byte.
    pub(crate) pos: usize,
    truncated: &'static str,
}

impl<'a> Input<'a> {
    /// A cursor at `pos` of `data`; `truncated` is the reason reported when
    /// the stream ends early.
    pub(crate) fn new(data: &'a [u8], pos: usize, truncated: &'static str) -> Self {
        Self {
            data,
            pos,
            truncated,
        }
    }

    /// The next byte.
    #[inline(always)]
    pub(crate) fn byte(&mut self) -> Result<u8, WireError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(WireError::new(self.pos, self.truncated)),
        }
    }

    /// The next `n` bytes.
    #[inline(always)]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        match self.data.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(WireError::new(self.pos, self.truncated)),
        }
    }

    /// A big-endian u32.
    pub(crate) fn u32_be(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u64.
    pub(crate) fn u64_be(&mut self) -> Result<u64, WireError> {
        let hi = self.u32_be()? as u64;
        let lo = self.u32_be()? as u64;
        Ok(hi << 32 | lo)
    }
}
