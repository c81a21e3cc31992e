//! Runs of adjacent LZ columns drawn side by side.
//!
//! QEMU sends each screen update as 32-pixel-wide images, one DRAW_COPY per
//! column. Drawn one after another straight into a 1920-wide surface, every
//! 128-byte row of a column lies on its own page, and the stores, not the
//! decode, are most of what such a draw costs. When the DRAW_COPY being
//! handled is a direct LZ draw (what [`Display::copy_direct`] would decode
//! straight into the surface) and the complete messages buffered behind it
//! ([`Ahead`]) begin with more such draws onto the same surface, same top
//! and height, each starting where the last ends, their images are decoded
//! together, a band of rows of each in turn ([`LzRows`]), so the stores
//! walk each surface row left to right.
//!
//! Owns only that: the draws taken ahead of their turn are remembered
//! ([`Predrawn`]) and, when each message's turn comes, it counts, marks its
//! rectangle dirty and returns its result then, so every other effect is
//! as if the messages were applied one by one. A column whose stream fails
//! fails at its own turn with the error a lone draw reports; the columns of
//! the run after it are abandoned (the error ends the channel before their
//! turn), having drawn at most the bands decoded before the failure. (Past
//! the point where it failed, the failing column's own rows may then hold
//! other pixels than drawn alone: block copies that run ahead of a match
//! read beyond its source row, into the next columns, already drawn.)

use super::message::{self, DisplayMsg};
use super::wire::{CopyData, DisplayBase};
use super::{clip_covers, Display};
use crate::canvas::{Rect, Rop, RopInput};
use crate::channel::Ahead;
use crate::enums::SPICE_MSG_DISPLAY_DRAW_COPY;
use crate::error::WireError;
use crate::image::lz::LzRows;
use crate::image::{direct_image, lz_direct_payload};

/// Most columns decoded side by side (a run of more goes on in the next).
const MAX_COLUMNS: usize = 16;
/// Rows of a column decoded before the next column's turn.
const BAND_ROWS: usize = 16;

/// A DRAW_COPY drawn ahead of its turn: what its turn still owes.
#[derive(Debug)]
pub(super) struct Predrawn {
    /// The message body's address and length: it is handed over later from
    /// the same receive buffer, unmoved.
    body: (usize, usize),
    surface_id: u32,
    bbox: Rect,
    /// The image's offset in the body (counted at its turn).
    src: u32,
    /// What drawing it reported.
    result: Result<(), WireError>,
}

/// A direct LZ draw about to be decoded in a run.
struct Column<'a> {
    body: &'a [u8],
    surface_id: u32,
    bbox: Rect,
    src: u32,
    /// The LZ payload's offset in the body (errors are reported from it).
    at: usize,
    rows: LzRows<'a>,
    result: Result<(), WireError>,
}

/// Where a body sits, to know it again at its turn.
fn key(body: &[u8]) -> (usize, usize) {
    (body.as_ptr() as usize, body.len())
}

impl Display {
    /// If `body` was drawn ahead of its turn by a run: do what its turn
    /// owes besides the drawing and return its result.
    pub(super) fn take_predrawn(&mut self, body: &[u8]) -> Option<Result<(), WireError>> {
        let next = self.predrawn.get_mut(self.predrawn_next)?;
        if next.body != key(body) {
            // Not the message expected (cannot happen while the engine
            // hands over what it buffered in order): forget the run.
            self.predrawn.clear();
            self.predrawn_next = 0;
            return None;
        }
        let result = core::mem::replace(&mut next.result, Ok(()));
        let (surface_id, bbox, src) = (next.surface_id, next.bbox, next.src);
        self.predrawn_next += 1;
        if self.predrawn_next == self.predrawn.len() {
            self.predrawn.clear();
            self.predrawn_next = 0;
        }
        if result.is_ok() {
            self.drawn_direct(body, src, surface_id, bbox);
        }
        Some(result)
    }

    /// What a direct draw does once its pixels are in place.
    pub(super) fn drawn_direct(&mut self, body: &[u8], src: u32, surface_id: u32, bbox: Rect) {
        self.count_image(body, src);
        self.stats.draws += 1;
        self.canvas.mark_dirty(surface_id, bbox);
    }

    /// The DRAW_COPY `c` in `body` as a column of a run, when it is a
    /// direct LZ draw of a colour image.
    fn lz_column<'a>(
        &mut self,
        body: &'a [u8],
        base: &DisplayBase<'_>,
        c: &CopyData,
    ) -> Option<Column<'a>> {
        let bbox = base.bbox;
        let rop = Rop::from_descriptor(c.rop, RopInput::Src, RopInput::Dest);
        if rop != Rop::Copy || c.mask.bitmap != 0 || !clip_covers(base.clip, bbox) {
            return None;
        }
        let img = direct_image(body, c.src)?;
        if img.has_alpha
            || !img.alpha_clear
            || c.src_area != Rect::of_size(img.width, img.height)
            || !c.src_area.same_size(&bbox)
        {
            return None;
        }
        let (at, data) = lz_direct_payload(body, c.src, &self.budget)?;
        let dst = self.canvas.surface_mut(base.surface_id)?.dest_mut(bbox)?;
        let rows = LzRows::new(data, &dst).ok()??;
        Some(Column {
            body,
            surface_id: base.surface_id,
            bbox,
            src: c.src,
            at,
            rows,
            result: Ok(()),
        })
    }

    /// Draw the DRAW_COPY `c` in `body` together with the run of adjacent
    /// LZ columns that follows it in `ahead`, when it starts one (at least
    /// one more column); `None`: it does not (nothing was done).
    pub(super) fn copy_column_run(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        c: &CopyData,
        ahead: Ahead<'_>,
    ) -> Option<Result<(), WireError>> {
        let mut ahead = ahead.peekable();
        ahead.peek()?;
        let first = self.lz_column(body, base, c)?;
        let (surface_id, top, bottom) = (first.surface_id, first.bbox.top, first.bbox.bottom);
        let mut right = first.bbox.right;
        let mut run: [Option<Column<'_>>; MAX_COLUMNS] = Default::default();
        let mut n = 1;
        run[0] = Some(first);
        for (t, b) in ahead {
            if n == MAX_COLUMNS || t != SPICE_MSG_DISPLAY_DRAW_COPY {
                break;
            }
            let Ok(DisplayMsg::Copy(base, c)) = message::parse(t, b) else {
                break;
            };
            let bbox = base.bbox;
            if base.surface_id != surface_id
                || (bbox.top, bbox.bottom, bbox.left) != (top, bottom, right)
            {
                break;
            }
            let Some(col) = self.lz_column(b, &base, &c) else {
                break;
            };
            right = bbox.right;
            run[n] = Some(col);
            n += 1;
        }
        if n == 1 {
            return None;
        }
        let failed = self.decode_run(&mut run[..n], (bottom - top) as usize);
        self.stats.column_runs += 1;
        self.stats.run_columns += n as u64;
        let mut cols = run.into_iter().take(failed.map_or(n, |f| f + 1)).flatten();
        let first = cols.next()?;
        for col in cols {
            self.predrawn.push(Predrawn {
                body: key(col.body),
                surface_id,
                bbox: col.bbox,
                src: col.src,
                result: col.result,
            });
        }
        if first.result.is_ok() {
            self.drawn_direct(body, first.src, surface_id, first.bbox);
        }
        Some(first.result)
    }

    /// Decode `run` (columns `height` rows tall on one surface) a band of
    /// rows of each column in turn; the first column whose stream fails, if
    /// one does (its error in its `result`). The columns before it are
    /// finished, those after it abandoned.
    fn decode_run(&mut self, run: &mut [Option<Column<'_>>], height: usize) -> Option<usize> {
        let mut failed = None;
        let mut rows = 0;
        while rows < height && failed.is_none() {
            rows = (rows + BAND_ROWS).min(height);
            for (i, col) in run.iter_mut().enumerate() {
                if !self.decode_column(col.as_mut(), rows) {
                    failed = Some(i);
                    break;
                }
            }
        }
        // The columns before a failed one are finished in order: the first
        // of them to fail is where a draw one by one would have stopped.
        let f = failed?;
        for (i, col) in run.iter_mut().enumerate().take(f) {
            if !self.decode_column(col.as_mut(), height) {
                return Some(i);
            }
        }
        Some(f)
    }

    /// Decode `col` on up to row `rows`; whether it has not failed.
    fn decode_column(&mut self, col: Option<&mut Column<'_>>, rows: usize) -> bool {
        let Some(col) = col else {
            return false;
        };
        let dst = self
            .canvas
            .surface_mut(col.surface_id)
            .and_then(|s| s.dest_mut(col.bbox));
        let result = match dst {
            Some(mut dst) => col.rows.run(&mut dst, rows).map_err(|e| e.at_base(col.at)),
            None => Err(WireError::new(0, "destination rectangle out of bounds")),
        };
        col.result = result;
        col.result.is_ok()
    }
}
