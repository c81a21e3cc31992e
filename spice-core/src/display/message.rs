//! Display-channel messages as typed values: [`parse`] reads a whole body
//! with the layouts of [`wire`](super::wire) into a [`DisplayMsg`], which the
//! display channel then applies to its canvas and caches.
//!
//! Owns the mapping from `SPICE_MSG_DISPLAY_*` type to layout only. It must
//! not draw, decode images or hold state; images stay
//! [`ImageRef`](super::wire::ImageRef)s into the body, and clip rectangles stay in the body until they are drawn.

use super::wire::{
    self, ActivateReport, AlphaBlendData, CopyData, DisplayBase, FillData, Head, OpaqueData, QMask,
    Rop3Data, StreamCreate, StreamData, StrokeData, SurfaceCreate, TextData, TransparentData,
};
use crate::canvas::Rect;
use crate::enums::*;
use crate::error::WireError;
use crate::wire::Reader;
use alloc::vec::Vec;

/// Which fixed-colour raster op a BLACKNESS / WHITENESS / INVERS draw is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskOp {
    /// `DRAW_BLACKNESS`: paint 0.
    Blackness,
    /// `DRAW_WHITENESS`: paint all ones.
    Whiteness,
    /// `DRAW_INVERS`: invert the destination.
    Invers,
}

/// One display-channel message (type >= 101), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayMsg<'a> {
    /// `MODE` (pre-surface protocol; ignored).
    Mode,
    /// `MARK`.
    Mark,
    /// `RESET`.
    Reset,
    /// `COPY_BITS`: move the box's pixels from `src` on the same surface.
    CopyBits {
        /// Destination.
        base: DisplayBase<'a>,
        /// Source top-left.
        src: (i32, i32),
    },
    /// `INVAL_LIST`: `(resource type, id)` pairs.
    InvalList(wire::ResourceList<'a>),
    /// `INVAL_ALL_PIXMAPS`.
    InvalAllPixmaps,
    /// `INVAL_PALETTE`.
    InvalPalette(u64),
    /// `INVAL_ALL_PALETTES`.
    InvalAllPalettes,
    /// `SURFACE_CREATE`.
    SurfaceCreate(SurfaceCreate),
    /// `SURFACE_DESTROY`.
    SurfaceDestroy(u32),
    /// `MONITORS_CONFIG`: `max_allowed` and the heads.
    MonitorsConfig(u16, Vec<Head>),
    /// `STREAM_CREATE`.
    StreamCreate(StreamCreate),
    /// `STREAM_DATA` / `STREAM_DATA_SIZED`.
    StreamData(StreamData<'a>),
    /// `STREAM_CLIP`: stream id and its new clip.
    StreamClip(u32, Option<Vec<Rect>>),
    /// `STREAM_DESTROY`.
    StreamDestroy(u32),
    /// `STREAM_DESTROY_ALL`.
    StreamDestroyAll,
    /// `STREAM_ACTIVATE_REPORT`.
    ActivateReport(ActivateReport),
    /// `DRAW_FILL`.
    Fill(DisplayBase<'a>, FillData),
    /// `DRAW_COPY` and `DRAW_BLEND` (the ROP descriptor tells them apart).
    Copy(DisplayBase<'a>, CopyData),
    /// `DRAW_OPAQUE`.
    Opaque(DisplayBase<'a>, OpaqueData),
    /// `DRAW_BLACKNESS` / `DRAW_WHITENESS` / `DRAW_INVERS`.
    MaskOp(DisplayBase<'a>, MaskOp, QMask),
    /// `DRAW_ROP3`.
    Rop3(DisplayBase<'a>, Rop3Data),
    /// `DRAW_TRANSPARENT`.
    Transparent(DisplayBase<'a>, TransparentData),
    /// `DRAW_ALPHA_BLEND`.
    AlphaBlend(DisplayBase<'a>, AlphaBlendData),
    /// `DRAW_TEXT`.
    Text(DisplayBase<'a>, TextData),
    /// `DRAW_STROKE`.
    Stroke(DisplayBase<'a>, StrokeData),
    /// A draw parsed only as far as its common part and not rendered
    /// (`DRAW_COMPOSITE`, never sent without a capability we do not
    /// advertise), with its message type.
    Unsupported(u16),
    /// Known messages with nothing to do (GL scanout/draw, quality hint).
    Ignored,
    /// A type this module does not know.
    Unknown,
}

/// Parse the body of display message `msg_type` (>= 101).
pub fn parse(msg_type: u16, body: &[u8]) -> Result<DisplayMsg<'_>, WireError> {
    let mut r = Reader::new(body);
    let r = &mut r;
    Ok(match msg_type {
        SPICE_MSG_DISPLAY_MODE => {
            // x_res, y_res, bits.
            r.u32()?;
            r.u32()?;
            r.u32()?;
            DisplayMsg::Mode
        }
        SPICE_MSG_DISPLAY_MARK => DisplayMsg::Mark,
        SPICE_MSG_DISPLAY_RESET => DisplayMsg::Reset,
        SPICE_MSG_DISPLAY_COPY_BITS => DisplayMsg::CopyBits {
            base: wire::display_base(r)?,
            src: wire::point(r)?,
        },
        SPICE_MSG_DISPLAY_INVAL_LIST => DisplayMsg::InvalList(wire::inval_list(r)?),
        SPICE_MSG_DISPLAY_INVAL_ALL_PIXMAPS => {
            // The wait list orders this against other channels; a single
            // display channel processes in order already.
            wire::wait_list(r)?;
            DisplayMsg::InvalAllPixmaps
        }
        SPICE_MSG_DISPLAY_INVAL_PALETTE => DisplayMsg::InvalPalette(r.u64()?),
        SPICE_MSG_DISPLAY_INVAL_ALL_PALETTES => DisplayMsg::InvalAllPalettes,
        SPICE_MSG_DISPLAY_SURFACE_CREATE => DisplayMsg::SurfaceCreate(wire::surface_create(r)?),
        SPICE_MSG_DISPLAY_SURFACE_DESTROY => DisplayMsg::SurfaceDestroy(r.u32()?),
        SPICE_MSG_DISPLAY_MONITORS_CONFIG => {
            let (max, heads) = wire::monitors_config(r)?;
            DisplayMsg::MonitorsConfig(max, heads)
        }
        SPICE_MSG_DISPLAY_STREAM_CREATE => DisplayMsg::StreamCreate(wire::stream_create(r)?),
        SPICE_MSG_DISPLAY_STREAM_DATA | SPICE_MSG_DISPLAY_STREAM_DATA_SIZED => {
            let sized = msg_type == SPICE_MSG_DISPLAY_STREAM_DATA_SIZED;
            DisplayMsg::StreamData(wire::stream_data(r, sized)?)
        }
        SPICE_MSG_DISPLAY_STREAM_CLIP => {
            let id = r.u32()?;
            DisplayMsg::StreamClip(id, wire::clip(r)?)
        }
        SPICE_MSG_DISPLAY_STREAM_DESTROY => DisplayMsg::StreamDestroy(r.u32()?),
        SPICE_MSG_DISPLAY_STREAM_DESTROY_ALL => DisplayMsg::StreamDestroyAll,
        SPICE_MSG_DISPLAY_STREAM_ACTIVATE_REPORT => {
            DisplayMsg::ActivateReport(wire::activate_report(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_FILL => DisplayMsg::Fill(wire::display_base(r)?, wire::fill(r)?),
        SPICE_MSG_DISPLAY_DRAW_COPY | SPICE_MSG_DISPLAY_DRAW_BLEND => {
            DisplayMsg::Copy(wire::display_base(r)?, wire::copy(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_OPAQUE => {
            DisplayMsg::Opaque(wire::display_base(r)?, wire::opaque(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_BLACKNESS
        | SPICE_MSG_DISPLAY_DRAW_WHITENESS
        | SPICE_MSG_DISPLAY_DRAW_INVERS => {
            let base = wire::display_base(r)?;
            let op = match msg_type {
                SPICE_MSG_DISPLAY_DRAW_BLACKNESS => MaskOp::Blackness,
                SPICE_MSG_DISPLAY_DRAW_WHITENESS => MaskOp::Whiteness,
                _ => MaskOp::Invers,
            };
            DisplayMsg::MaskOp(base, op, wire::qmask(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_ROP3 => DisplayMsg::Rop3(wire::display_base(r)?, wire::rop3(r)?),
        SPICE_MSG_DISPLAY_DRAW_TRANSPARENT => {
            DisplayMsg::Transparent(wire::display_base(r)?, wire::transparent(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_ALPHA_BLEND => {
            DisplayMsg::AlphaBlend(wire::display_base(r)?, wire::alpha_blend(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_TEXT => DisplayMsg::Text(wire::display_base(r)?, wire::text(r)?),
        SPICE_MSG_DISPLAY_DRAW_STROKE => {
            DisplayMsg::Stroke(wire::display_base(r)?, wire::stroke(r)?)
        }
        SPICE_MSG_DISPLAY_DRAW_COMPOSITE => {
            wire::display_base(r)?;
            DisplayMsg::Unsupported(msg_type)
        }
        SPICE_MSG_DISPLAY_GL_SCANOUT_UNIX
        | SPICE_MSG_DISPLAY_GL_DRAW
        | SPICE_MSG_DISPLAY_QUALITY_INDICATOR => DisplayMsg::Ignored,
        _ => DisplayMsg::Unknown,
    })
}
