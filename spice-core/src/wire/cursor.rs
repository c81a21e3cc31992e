//! Cursor-channel layouts (`CursorChannel`, `Cursor`, `CursorHeader` in
//! `spice.proto`): INIT, SET, MOVE, TRAIL, INVAL_ONE.
//!
//! Owns byte layouts only; decoding shapes and the cache are [`crate::cursor`].

use crate::enums::SPICE_CURSOR_FLAGS_NONE;
use crate::error::WireError;
use crate::wire::Reader;

/// `SpiceCursorHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorHeader {
    /// Cache key.
    pub unique: u64,
    /// `SPICE_CURSOR_TYPE_*`.
    pub cursor_type: u8,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Hot spot x.
    pub hot_spot_x: u16,
    /// Hot spot y.
    pub hot_spot_y: u16,
}

/// `SpiceCursor`: flags, a header unless `NONE`, and the shape data (the
/// rest of the message), as an offset range into the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorRef<'a> {
    /// `SPICE_CURSOR_FLAGS_*`.
    pub flags: u16,
    /// Header (absent with `SPICE_CURSOR_FLAGS_NONE`).
    pub header: Option<CursorHeader>,
    /// Shape data.
    pub data: &'a [u8],
    /// Offset of `data` in the message body (for error offsets).
    pub data_offset: usize,
}

fn parse_cursor<'a>(r: &mut Reader<'a>) -> Result<CursorRef<'a>, WireError> {
    let flags = r.u16()?;
    let header = if flags as u32 & SPICE_CURSOR_FLAGS_NONE != 0 {
        None
    } else {
        Some(CursorHeader {
            unique: r.u64()?,
            cursor_type: r.u8()?,
            width: r.u16()?,
            height: r.u16()?,
            hot_spot_x: r.u16()?,
            hot_spot_y: r.u16()?,
        })
    };
    let data_offset = r.pos();
    Ok(CursorRef {
        flags,
        header,
        data: r.rest(),
        data_offset,
    })
}

/// `SPICE_MSG_CURSOR_INIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorInit<'a> {
    /// Position (x, y).
    pub position: (i16, i16),
    /// Trail length.
    pub trail_length: u16,
    /// Trail frequency.
    pub trail_frequency: u16,
    /// Whether the cursor is shown.
    pub visible: bool,
    /// The cursor.
    pub cursor: CursorRef<'a>,
}

impl<'a> CursorInit<'a> {
    /// Parse the body.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let position = (r.i16()?, r.i16()?);
        let trail_length = r.u16()?;
        let trail_frequency = r.u16()?;
        let visible = r.u8()? != 0;
        Ok(Self {
            position,
            trail_length,
            trail_frequency,
            visible,
            cursor: parse_cursor(&mut r)?,
        })
    }
}

/// `SPICE_MSG_CURSOR_SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorSet<'a> {
    /// Position (x, y).
    pub position: (i16, i16),
    /// Whether the cursor is shown.
    pub visible: bool,
    /// The cursor.
    pub cursor: CursorRef<'a>,
}

impl<'a> CursorSet<'a> {
    /// Parse the body.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let position = (r.i16()?, r.i16()?);
        let visible = r.u8()? != 0;
        Ok(Self {
            position,
            visible,
            cursor: parse_cursor(&mut r)?,
        })
    }
}

/// Parse `SPICE_MSG_CURSOR_MOVE` (`Point16`).
pub fn parse_move(body: &[u8]) -> Result<(i16, i16), WireError> {
    let mut r = Reader::new(body);
    Ok((r.i16()?, r.i16()?))
}

/// Parse `SPICE_MSG_CURSOR_TRAIL` (`u16 length, u16 frequency`).
pub fn parse_trail(body: &[u8]) -> Result<(u16, u16), WireError> {
    let mut r = Reader::new(body);
    Ok((r.u16()?, r.u16()?))
}

/// Parse `SPICE_MSG_CURSOR_INVAL_ONE` (`u64 id`).
pub fn parse_inval_one(body: &[u8]) -> Result<u64, WireError> {
    Reader::new(body).u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::*;
    use crate::wire::Writer;

    #[test]
    fn set_layout() {
        let mut w = Writer::new();
        w.u16(10).u16((-2i16) as u16).u8(1); // position, visible
        w.u16(2).u64(0xABCD).u8(0).u16(2).u16(1).u16(1).u16(0); // flags CACHE_ME, header
        w.bytes(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let b = w.finish();
        let s = CursorSet::parse(&b).unwrap();
        assert_eq!(s.position, (10, -2));
        assert!(s.visible);
        let h = s.cursor.header.unwrap();
        assert_eq!(
            (h.unique, h.cursor_type, h.width, h.height, h.hot_spot_x),
            (0xABCD, 0, 2, 1, 1)
        );
        assert_eq!(s.cursor.data_offset, 24);
        assert_eq!(s.cursor.data.len(), 8);
        assert_prefixes_rejected(&b[..24], |b| CursorSet::parse(b).map(|_| ()));
        // NONE: no header
        let none = [0, 0, 0, 0, 0, 1, 0];
        let s = CursorSet::parse(&none).unwrap();
        assert!(s.cursor.header.is_none());
    }

    #[test]
    fn init_and_small_messages() {
        let init = [1, 0, 2, 0, 3, 0, 4, 0, 1, 1, 0];
        let i = CursorInit::parse(&init).unwrap();
        assert_eq!(
            (i.position, i.trail_length, i.trail_frequency, i.visible),
            ((1, 2), 3, 4, true)
        );
        assert_prefixes_rejected(&init, |b| CursorInit::parse(b).map(|_| ()));
        assert_eq!(parse_move(&[0xFF, 0xFF, 5, 0]), Ok((-1, 5)));
        assert_eq!(parse_trail(&[1, 0, 2, 0]), Ok((1, 2)));
        assert_eq!(parse_inval_one(&[9, 0, 0, 0, 0, 0, 0, 0]), Ok(9));
        assert_prefixes_rejected(&[9, 0, 0, 0, 0, 0, 0, 0], parse_inval_one);
    }

    #[test]
    fn random_input() {
        fuzz_parser(11, |b| CursorInit::parse(b).map(|_| ()));
        fuzz_parser(7, |b| CursorSet::parse(b).map(|_| ()));
        fuzz_parser(4, parse_move);
        fuzz_parser(4, parse_trail);
        fuzz_parser(8, parse_inval_one);
    }
}
