//! The mailbox property message format: a buffer of 32-bit words
//! `[total bytes, request code, tags..., end tag 0]`, each tag
//! `[id, value buffer bytes, request/response code, values...]`.
//!
//! Owns: building messages and reading answers back. The answers come from the
//! GPU firmware: a response length is never trusted beyond the room the tag has.
//! Must not: do I/O (the mailbox does), so it is unit-tested on the host.

use alloc::vec::Vec;

const CODE_REQUEST: u32 = 0;
/// Set in a tag's code word when the firmware answered it; the rest is the length.
pub const TAG_RESPONSE: u32 = 1 << 31;

/// A property message under construction: tags are appended, the call fills in
/// the answers, [`Message::values`] reads them back.
pub struct Message {
    words: Vec<u32>,
    closed: bool,
}

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Self {
            words: alloc::vec![0, CODE_REQUEST],
            closed: false,
        }
    }

    /// Appends tag `id` with `args` and room for `answer_words` words of answer;
    /// returns a handle for [`Message::values`].
    pub fn tag(&mut self, id: u32, args: &[u32], answer_words: usize) -> usize {
        if self.closed {
            // Reopen: drop the end tag; it is written again by `finish`.
            self.words.pop();
            self.closed = false;
        }
        let n = args.len().max(answer_words);
        let at = self.words.len();
        self.words.extend_from_slice(&[id, (n * 4) as u32, 0]);
        self.words.extend_from_slice(args);
        self.words.resize(at + 3 + n, 0);
        at
    }

    /// Closes the message (end tag, total size) and returns its words for the
    /// exchange; answers are then read with [`Message::values`].
    pub fn finish(&mut self) -> &mut [u32] {
        if !self.closed {
            self.words.push(0);
            self.closed = true;
        }
        let bytes = self.words.len() * 4;
        self.words[0] = bytes as u32;
        &mut self.words
    }

    /// The answer words of the tag at `handle`, if the firmware answered it.
    pub fn values(&self, handle: usize) -> Option<&[u32]> {
        let code = *self.words.get(handle + 2)?;
        if code & TAG_RESPONSE == 0 {
            return None;
        }
        let room = *self.words.get(handle + 1)? as usize / 4;
        let len = ((code & !TAG_RESPONSE) as usize).div_ceil(4).min(room);
        self.words.get(handle + 3..handle + 3 + len)
    }
}

impl Default for Message {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
    const CLOCK_UART: u32 = 2;

    #[test]
    fn message_layout_and_answers() {
        let mut m = Message::new();
        let h = m.tag(TAG_GET_CLOCK_RATE, &[CLOCK_UART, 0], 2);
        // [size, code, id, 8 bytes, req, uart, 0]
        assert_eq!(&m.words[..], &[0, 0, 0x0003_0002, 8, 0, 2, 0]);
        // Closing appends the end tag even though the last value is 0, and sets
        // the total size in bytes (8 words); closing twice changes nothing.
        assert_eq!(m.finish().to_vec(), [32, 0, 0x0003_0002, 8, 0, 2, 0, 0]);
        assert_eq!(m.finish().len(), 8);
        // The firmware's answer: response bit + 8 bytes, rate 48 MHz.
        m.words[h + 2] = TAG_RESPONSE | 8;
        m.words[h + 4] = 48_000_000;
        assert_eq!(m.values(h), Some(&[2u32, 48_000_000][..]));
        // A response length beyond the tag's room is clamped.
        m.words[h + 2] = TAG_RESPONSE | 400;
        assert_eq!(m.values(h).map(|v| v.len()), Some(2));
        // An unanswered tag has no values.
        m.words[h + 2] = 0;
        assert_eq!(m.values(h), None);
    }
}
