//! [`Ahead`]: the complete messages buffered behind the one being handled,
//! for a handler that can do several of them better together than one by
//! one (the display channel decodes runs of adjacent LZ columns side by
//! side). Owns only reading them: it never consumes, reorders or answers
//! a message; each is still handled in turn by the channel engine.

use crate::wire::common::DataHeader;

/// The bytes buffered after the message being handled, read as a sequence
/// of complete top-level messages `(type, body)`. It ends at the first
/// incomplete message, at one with a sub-message list (LIST or a full
/// header's `sub_list`), at one larger than `max_size`, and at a header
/// that does not parse: the engine would stop or fail there, or hand its
/// pieces over differently.
#[derive(Debug, Clone, Copy)]
pub struct Ahead<'a> {
    rest: &'a [u8],
    mini: bool,
    max_size: u32,
}

impl<'a> Ahead<'a> {
    /// Nothing ahead (a sub-message of a LIST, or a caller with no buffer).
    pub const NONE: Ahead<'static> = Ahead {
        rest: &[],
        mini: true,
        max_size: 0,
    };

    /// The messages framed in `rest` with the mini (`mini`) or full header,
    /// bodies of at most `max_size` bytes.
    pub fn new(rest: &'a [u8], mini: bool, max_size: u32) -> Self {
        Self {
            rest,
            mini,
            max_size,
        }
    }
}

impl<'a> Iterator for Ahead<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let hlen = DataHeader::len(self.mini);
        let header = DataHeader::parse(self.rest, self.mini).ok()?;
        let end = hlen.checked_add(header.size as usize)?;
        if header.size > self.max_size
            || header.sub_list != 0
            || header.msg_type == crate::enums::SPICE_MSG_LIST
        {
            self.rest = &[];
            return None;
        }
        let body = self.rest.get(hlen..end)?;
        self.rest = self.rest.get(end..).unwrap_or_default();
        Some((header.msg_type, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::mini;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn yields_complete_messages_and_stops_at_the_first_partial_one() {
        let mut bytes = mini(302, &[1, 2, 3]);
        bytes.extend(mini(303, &[]));
        bytes.extend(&mini(304, &[9, 9, 9, 9])[..7]);
        let got: Vec<_> = Ahead::new(&bytes, true, 100).collect();
        assert_eq!(got, vec![(302, &[1u8, 2, 3][..]), (303, &[][..])]);
        assert_eq!(Ahead::NONE.count(), 0);
    }

    #[test]
    fn stops_at_lists_and_oversized_messages() {
        let mut bytes = mini(302, &[1]);
        bytes.extend(mini(crate::enums::SPICE_MSG_LIST, &[0, 0]));
        bytes.extend(mini(303, &[]));
        assert_eq!(Ahead::new(&bytes, true, 100).count(), 1);
        let mut bytes = mini(302, &[1]);
        bytes.extend(mini(303, &[0; 8]));
        bytes.extend(mini(304, &[]));
        assert_eq!(Ahead::new(&bytes, true, 4).count(), 1);
    }

    #[test]
    fn full_headers_with_a_sub_list_end_it() {
        let full = |t: u16, body: &[u8], sub: u32| {
            let mut v = 7u64.to_le_bytes().to_vec();
            v.extend_from_slice(&t.to_le_bytes());
            v.extend_from_slice(&(body.len() as u32).to_le_bytes());
            v.extend_from_slice(&sub.to_le_bytes());
            v.extend_from_slice(body);
            v
        };
        let mut bytes = full(302, &[5, 6], 0);
        bytes.extend(full(303, &[0; 8], 4));
        bytes.extend(full(304, &[], 0));
        let got: Vec<_> = Ahead::new(&bytes, false, 100).collect();
        assert_eq!(got, vec![(302, &[5u8, 6][..])]);
    }
}
