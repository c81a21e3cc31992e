//! The cursor channel's client logic: pointer shape, position and
//! visibility for the caller to draw, and the cursor cache.
//!
//! Owns decoding `SpiceCursor` shapes (ALPHA, MONO, COLOR32, COLOR16,
//! COLOR4) into `0xAARRGGBB` images, and a bounded cache keyed by the
//! header's `unique`, whose pixels are charged to the session's memory
//! budget (a shape that does not fit ends the channel with
//! "memory budget exceeded by the cursor cache"). It must not draw: compositing the cursor over the
//! display is the caller's job. A cache miss or an unsupported shape type
//! leaves the shape unknown (`shape == None`) rather than failing the
//! channel, as spice-gtk does; a shape whose data is too short is a
//! protocol error.

use crate::budget::{Budget, Charge, Use};
use crate::enums::*;
use crate::error::WireError;
use crate::outbox::Outbox;
use crate::wire::cursor::{
    parse_inval_one, parse_move, parse_trail, CursorInit, CursorRef, CursorSet,
};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Largest cursor side accepted, in pixels.
pub const MAX_CURSOR_SIDE: u16 = 512;
/// Most shapes kept in the cache (the server assumes up to 256).
pub const CURSOR_CACHE_ENTRIES: usize = 256;
/// Most pixels kept in the cache altogether.
pub const CURSOR_CACHE_PIXELS: usize = 4 * 1024 * 1024;

/// A decoded cursor image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Hot spot x (clamped to the width).
    pub hot_x: u16,
    /// Hot spot y (clamped to the height).
    pub hot_y: u16,
    /// `width * height` pixels, `0xAARRGGBB`, top row first.
    pub pixels: Vec<u32>,
}

/// Cursor state for the caller.
#[derive(Debug, Clone, Default)]
pub struct CursorState {
    /// Pointer position on the display.
    pub x: i16,
    /// Pointer position on the display.
    pub y: i16,
    /// Whether the server wants the cursor shown.
    pub visible: bool,
    /// Current shape, if known.
    pub shape: Option<Arc<CursorShape>>,
    /// Trail length (TRAIL; informational).
    pub trail_length: u16,
    /// Trail frequency (TRAIL; informational).
    pub trail_frequency: u16,
    /// Incremented on every change; compare to notice updates.
    pub serial: u64,
}

/// Cursor channel state: the visible state plus the cache.
#[derive(Debug, Default)]
pub struct CursorChannel {
    /// What to draw.
    pub state: CursorState,
    cache: VecDeque<(u64, Arc<CursorShape>)>,
    cache_pixels: usize,
    /// The cache's pixels, charged to the session's budget.
    charge: Charge,
    budget: Budget,
    /// Shapes of a type this decoder does not support.
    pub unsupported: u64,
    /// FROM_CACHE references to shapes not in the cache.
    pub cache_misses: u64,
}

fn bit(mask: &[u8], stride: usize, x: usize, y: usize) -> Option<bool> {
    mask.get(y * stride + x / 8)
        .map(|b| b & (0x80 >> (x % 8)) != 0)
}

/// Decode shape data of `cursor_type` into ARGB pixels; `None` for an
/// unsupported type. Errors carry offsets relative to `data`.
pub fn decode_shape(
    cursor_type: u8,
    width: u16,
    height: u16,
    data: &[u8],
) -> Result<Option<Vec<u32>>, WireError> {
    let (w, h) = (width as usize, height as usize);
    let n = w * h;
    let stride = w.div_ceil(8);
    let mask_len = stride * h;
    let need = |len: usize| -> Result<(), WireError> {
        if data.len() < len {
            Err(WireError::new(data.len(), "cursor data truncated"))
        } else {
            Ok(())
        }
    };
    // For the COLOR types: pixel data, then the AND mask; a set mask bit is
    // transparent, except over white where Windows means "invert" (drawn as
    // opaque black here).
    let masked = |color: &dyn Fn(usize) -> u32, mask: &[u8]| -> Vec<u32> {
        (0..n)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let c = color(i) & 0x00FF_FFFF;
                match bit(mask, stride, x, y) {
                    Some(true) if c == 0x00FF_FFFF => 0xFF00_0000,
                    Some(true) => 0,
                    _ => 0xFF00_0000 | c,
                }
            })
            .collect()
    };
    let px = match cursor_type as u32 {
        SPICE_CURSOR_TYPE_ALPHA => {
            need(n * 4)?;
            data.chunks_exact(4)
                .take(n)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        SPICE_CURSOR_TYPE_MONO => {
            // AND mask then XOR mask, rows padded to bytes.
            need(2 * mask_len)?;
            let (and, xor) = data.split_at(mask_len);
            (0..n)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    match (bit(and, stride, x, y), bit(xor, stride, x, y)) {
                        (Some(true), Some(false)) => 0,           // transparent
                        (Some(false), Some(true)) => 0xFFFF_FFFF, // white
                        _ => 0xFF00_0000, // black; "invert" also drawn black
                    }
                })
                .collect()
        }
        SPICE_CURSOR_TYPE_COLOR32 => {
            need(n * 4 + mask_len)?;
            let get = |i: usize| {
                u32::from_le_bytes([
                    data[i * 4],
                    data[i * 4 + 1],
                    data[i * 4 + 2],
                    data[i * 4 + 3],
                ])
            };
            masked(&get, &data[n * 4..])
        }
        SPICE_CURSOR_TYPE_COLOR16 => {
            need(n * 2 + mask_len)?;
            let get = |i: usize| {
                let p = u16::from_le_bytes([data[i * 2], data[i * 2 + 1]]) as u32;
                let (r, g, b) = ((p >> 10) & 0x1F, (p >> 5) & 0x1F, p & 0x1F);
                ((r << 3 | r >> 2) << 16) | ((g << 3 | g >> 2) << 8) | (b << 3 | b >> 2)
            };
            masked(&get, &data[n * 2..])
        }
        SPICE_CURSOR_TYPE_COLOR4 => {
            let row = w.div_ceil(2);
            let pix_len = row * h;
            need(pix_len + 64 + mask_len)?;
            let pal: Vec<u32> = data[pix_len..pix_len + 64]
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let get = |i: usize| {
                let (x, y) = (i % w, i / w);
                let b = data[y * row + x / 2];
                let idx = if x % 2 == 0 { b >> 4 } else { b & 0x0F };
                pal[idx as usize]
            };
            masked(&get, &data[pix_len + 64..])
        }
        _ => return Ok(None),
    };
    Ok(Some(px))
}

impl CursorChannel {
    /// A cursor channel with an empty cache, on a budget of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cursor channel whose cache is charged to the session's `budget`.
    pub fn with_budget(budget: Budget) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    /// Charge the cache at what it holds now.
    fn recharge(&mut self) -> Result<(), WireError> {
        let bytes = self.cache_pixels.saturating_mul(4);
        if self.charge.bytes() == 0 && bytes > 0 {
            self.charge = self.budget.charge(bytes, Use::CursorCache)?;
            return Ok(());
        }
        self.charge.resize(bytes, Use::CursorCache)
    }

    /// Channel caps the client advertises on CURSOR (none).
    pub fn client_caps() -> Vec<u32> {
        Vec::new()
    }

    fn cache_find(&self, unique: u64) -> Option<Arc<CursorShape>> {
        self.cache
            .iter()
            .find(|(u, _)| *u == unique)
            .map(|(_, s)| s.clone())
    }

    fn cache_remove(&mut self, unique: u64) {
        if let Some(i) = self.cache.iter().position(|(u, _)| *u == unique) {
            if let Some((_, s)) = self.cache.remove(i) {
                self.cache_pixels -= s.pixels.len();
            }
        }
        // Shrinking always fits.
        let _ = self.recharge();
    }

    /// Cache `shape`, evicting the oldest beyond the cache's limits; a shape
    /// the budget cannot hold is not cached and fails the channel.
    fn cache_add(&mut self, unique: u64, shape: Arc<CursorShape>) -> Result<(), WireError> {
        self.cache_remove(unique);
        self.cache_pixels += shape.pixels.len();
        self.cache.push_back((unique, shape));
        while self.cache.len() > CURSOR_CACHE_ENTRIES || self.cache_pixels > CURSOR_CACHE_PIXELS {
            match self.cache.pop_front() {
                Some((_, s)) => self.cache_pixels -= s.pixels.len(),
                None => break,
            }
        }
        if let Err(e) = self.recharge() {
            self.cache_remove(unique);
            return Err(e);
        }
        Ok(())
    }

    fn cache_clear(&mut self) {
        self.cache.clear();
        self.cache_pixels = 0;
        self.charge = Charge::default();
    }

    /// Bytes the cache holds (what it charges to the budget).
    pub fn cache_bytes(&self) -> usize {
        self.cache_pixels.saturating_mul(4)
    }

    /// Number of cached shapes.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Resolve a `SpiceCursor` into a shape (or `None`: no cursor, unknown
    /// type, cache miss).
    fn shape(&mut self, c: &CursorRef<'_>) -> Result<Option<Arc<CursorShape>>, WireError> {
        let flags = c.flags as u32;
        let Some(h) = c.header else { return Ok(None) };
        if flags & SPICE_CURSOR_FLAGS_FROM_CACHE != 0 {
            let s = self.cache_find(h.unique);
            if s.is_none() {
                self.cache_misses += 1;
            }
            return Ok(s);
        }
        if h.width > MAX_CURSOR_SIDE || h.height > MAX_CURSOR_SIDE {
            return Err(WireError::new(c.data_offset, "cursor too large"));
        }
        let pixels = decode_shape(h.cursor_type, h.width, h.height, c.data)
            .map_err(|e| e.at_base(c.data_offset))?;
        let Some(pixels) = pixels else {
            self.unsupported += 1;
            return Ok(None);
        };
        let shape = Arc::new(CursorShape {
            width: h.width,
            height: h.height,
            hot_x: h.hot_spot_x.min(h.width),
            hot_y: h.hot_spot_y.min(h.height),
            pixels,
        });
        if flags & SPICE_CURSOR_FLAGS_CACHE_ME != 0 {
            self.cache_add(h.unique, shape.clone())
                .map_err(|e| e.at_base(c.data_offset))?;
        }
        Ok(Some(shape))
    }

    /// Handle one cursor-channel message (type > `SPICE_MSG_BASE_LAST`).
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        _out: &mut Outbox,
    ) -> Result<(), WireError> {
        let st = &mut self.state;
        match msg_type {
            SPICE_MSG_CURSOR_INIT => {
                let i = CursorInit::parse(body)?;
                self.cache_clear();
                let shape = self.shape(&i.cursor)?;
                let st = &mut self.state;
                (st.x, st.y) = i.position;
                (st.trail_length, st.trail_frequency) = (i.trail_length, i.trail_frequency);
                st.visible = i.visible && i.cursor.header.is_some();
                st.shape = shape;
            }
            SPICE_MSG_CURSOR_SET => {
                let s = CursorSet::parse(body)?;
                let shape = self.shape(&s.cursor)?;
                let st = &mut self.state;
                (st.x, st.y) = s.position;
                st.visible = s.visible && s.cursor.header.is_some();
                st.shape = shape;
            }
            SPICE_MSG_CURSOR_MOVE => (st.x, st.y) = parse_move(body)?,
            SPICE_MSG_CURSOR_HIDE => st.visible = false,
            SPICE_MSG_CURSOR_TRAIL => (st.trail_length, st.trail_frequency) = parse_trail(body)?,
            SPICE_MSG_CURSOR_RESET => {
                self.cache_clear();
                self.state.visible = false;
                self.state.shape = None;
            }
            SPICE_MSG_CURSOR_INVAL_ONE => self.cache_remove(parse_inval_one(body)?),
            SPICE_MSG_CURSOR_INVAL_ALL => self.cache_clear(),
            _ => return Ok(()),
        }
        self.state.serial += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    fn set_msg(flags: u16, unique: u64, ty: u8, w: u16, h: u16, data: &[u8]) -> Vec<u8> {
        let mut m = Writer::new();
        m.u16(3).u16(4).u8(1).u16(flags);
        m.u64(unique).u8(ty).u16(w).u16(h).u16(1).u16(9);
        m.bytes(data);
        m.finish()
    }

    #[test]
    fn alpha_cursor_cached_and_reused() {
        let mut c = CursorChannel::new();
        let mut out = Outbox::new();
        let px = [0x80FF0000u32, 0xFF00FF00];
        let data: Vec<u8> = px.iter().flat_map(|p| p.to_le_bytes()).collect();
        c.handle(
            SPICE_MSG_CURSOR_SET,
            &set_msg(2, 42, 0, 2, 1, &data),
            &mut out,
        )
        .unwrap();
        let s = c.state.shape.clone().unwrap();
        assert_eq!(s.pixels, px);
        assert_eq!((s.hot_x, s.hot_y), (1, 1)); // hot y 9 clamped to height 1
        assert_eq!((c.state.x, c.state.y, c.state.visible), (3, 4, true));
        c.handle(SPICE_MSG_CURSOR_HIDE, &[], &mut out).unwrap();
        assert!(!c.state.visible);
        c.handle(
            SPICE_MSG_CURSOR_SET,
            &set_msg(4, 42, 0, 0, 0, &[]),
            &mut out,
        )
        .unwrap();
        assert_eq!(c.state.shape.as_deref(), Some(&*s));
        c.handle(SPICE_MSG_CURSOR_INVAL_ONE, &42u64.to_le_bytes(), &mut out)
            .unwrap();
        c.handle(
            SPICE_MSG_CURSOR_SET,
            &set_msg(4, 42, 0, 0, 0, &[]),
            &mut out,
        )
        .unwrap();
        assert!(c.state.shape.is_none());
        assert_eq!(c.cache_misses, 1);
    }

    #[test]
    fn mono_truth_table() {
        // 2x1: AND row [1,0], XOR row [0,1] -> transparent, white
        // second message 2x1: AND [0,1], XOR [0,1] -> black, invert(black)
        let p = decode_shape(1, 2, 1, &[0b1000_0000, 0b0100_0000])
            .unwrap()
            .unwrap();
        assert_eq!(p, [0, 0xFFFF_FFFF]);
        let p = decode_shape(1, 2, 1, &[0b0100_0000, 0b0100_0000])
            .unwrap()
            .unwrap();
        assert_eq!(p, [0xFF00_0000, 0xFF00_0000]);
        assert!(decode_shape(1, 9, 1, &[0, 0, 0]).is_err()); // needs 2 bytes per mask row
    }

    #[test]
    fn color_types_use_and_mask() {
        // COLOR16 2x1: red (0x7C00) opaque, blue masked -> transparent
        let p = decode_shape(4, 2, 1, &[0x00, 0x7C, 0x1F, 0x00, 0b0100_0000])
            .unwrap()
            .unwrap();
        assert_eq!(p, [0xFFFF_0000, 0]);
        // COLOR4 2x1: indices 1, 0 with palette[1] = green
        let mut d = alloc::vec![0x10u8];
        let mut pal = [0u32; 16];
        pal[1] = 0x00FF00;
        d.extend(pal.iter().flat_map(|p| p.to_le_bytes()));
        d.push(0);
        assert_eq!(
            decode_shape(2, 2, 1, &d).unwrap().unwrap(),
            [0xFF00_FF00, 0xFF00_0000]
        );
        assert_eq!(decode_shape(3, 1, 1, &[0; 8]).unwrap(), None); // COLOR8 unsupported
    }

    #[test]
    fn errors_and_limits() {
        let mut c = CursorChannel::new();
        let mut out = Outbox::new();
        let e = c
            .handle(
                SPICE_MSG_CURSOR_SET,
                &set_msg(0, 1, 0, 2, 2, &[0; 15]),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.offset, 24 + 15);
        assert!(c
            .handle(
                SPICE_MSG_CURSOR_SET,
                &set_msg(0, 1, 0, 1000, 1, &[]),
                &mut out
            )
            .is_err());
        for u in 0..300u64 {
            c.handle(
                SPICE_MSG_CURSOR_SET,
                &set_msg(2, u, 0, 1, 1, &[0; 4]),
                &mut out,
            )
            .unwrap();
        }
        assert_eq!(c.cache_len(), CURSOR_CACHE_ENTRIES);
        c.handle(SPICE_MSG_CURSOR_RESET, &[], &mut out).unwrap();
        assert_eq!(c.cache_len(), 0);
    }

    #[test]
    fn cache_is_charged_to_the_budget_and_refused_beyond_it() {
        // Room for two cached 32x32 shapes (4 KiB each), not three.
        let budget = Budget::new(10 * 1024);
        let mut c = CursorChannel::with_budget(budget.clone());
        let mut out = Outbox::new();
        let shape = |u: u64| set_msg(2, u, 0, 32, 32, &[0x7f; 32 * 32 * 4]);
        c.handle(SPICE_MSG_CURSOR_SET, &shape(1), &mut out).unwrap();
        c.handle(SPICE_MSG_CURSOR_SET, &shape(2), &mut out).unwrap();
        assert_eq!(budget.used(), 2 * 4096);
        assert_eq!(c.cache_bytes(), 2 * 4096);
        let e = c
            .handle(SPICE_MSG_CURSOR_SET, &shape(3), &mut out)
            .unwrap_err();
        assert_eq!(e.reason, "memory budget exceeded by the cursor cache");
        // The refused shape is not kept; the others still are.
        assert_eq!(c.cache_len(), 2);
        assert_eq!(budget.used(), 2 * 4096);
        // Invalidating gives the bytes back; so does dropping the channel.
        c.handle(SPICE_MSG_CURSOR_INVAL_ONE, &1u64.to_le_bytes(), &mut out)
            .unwrap();
        assert_eq!(budget.used(), 4096);
        c.handle(SPICE_MSG_CURSOR_SET, &shape(3), &mut out).unwrap();
        assert_eq!(budget.used(), 2 * 4096);
        drop(c);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn random_bodies() {
        let mut errors = 0;
        for (i, input) in crate::wire::testutil::random_inputs(5, 3000, 200)
            .into_iter()
            .enumerate()
        {
            let mut c = CursorChannel::new();
            if c.handle(
                SPICE_MSG_CURSOR_INIT + (i % 8) as u16,
                &input,
                &mut Outbox::new(),
            )
            .is_err()
            {
                errors += 1;
            }
        }
        assert!(errors > 0);
    }
}
