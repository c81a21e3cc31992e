//! Display-channel message layouts (spice-common `spice.proto`,
//! `channel DisplayChannel`), parsed from a message body.
//!
//! Owns the byte layout only: each parser reads one structure at the
//! reader's position and returns plain values, with image references kept
//! as u32 body offsets (pointers) for the image dispatcher. It must not draw,
//! decode images or hold state. Every count is checked against the bytes
//! that remain before anything is allocated.

use crate::canvas::Rect;
use crate::enums::*;
use crate::error::WireError;
use crate::wire::Reader;
use alloc::vec::Vec;

/// Bytes of a `Rect` on the wire.
pub const RECT_SIZE: usize = 16;

/// `Rect`: top, left, bottom, right (that order on the wire).
pub fn rect(r: &mut Reader<'_>) -> Result<Rect, WireError> {
    let top = r.i32()?;
    let left = r.i32()?;
    let bottom = r.i32()?;
    let right = r.i32()?;
    Ok(Rect {
        left,
        top,
        right,
        bottom,
    })
}

/// `Point`: x, y (int32).
pub fn point(r: &mut Reader<'_>) -> Result<(i32, i32), WireError> {
    Ok((r.i32()?, r.i32()?))
}

/// The rectangles of a `ClipRects` as they lie in the message, 16 bytes
/// each (checked to be there when parsed), read as they are iterated so a
/// clipped draw costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipRects<'a> {
    raw: &'a [u8],
}

impl<'a> ClipRects<'a> {
    /// Number of rectangles.
    pub fn len(&self) -> usize {
        self.raw.len() / RECT_SIZE
    }

    /// True when the clip has no rectangle (nothing is drawn).
    pub fn is_empty(&self) -> bool {
        self.raw.len() < RECT_SIZE
    }

    /// The rectangles in wire order.
    pub fn iter(&self) -> impl Iterator<Item = Rect> + 'a {
        self.raw
            .chunks_exact(RECT_SIZE)
            .filter_map(|c| rect(&mut Reader::new(c)).ok())
    }
}

/// `Clip`: type u8, then for RECTS an inline `ClipRects` (num_rects u32 +
/// rects). `None` means "no clip".
pub fn clip_rects<'a>(r: &mut Reader<'a>) -> Result<Option<ClipRects<'a>>, WireError> {
    let at = r.pos();
    match r.u8()? as u32 {
        SPICE_CLIP_TYPE_NONE => Ok(None),
        SPICE_CLIP_TYPE_RECTS => {
            let n = r.u32()? as usize;
            if n > r.remaining() / RECT_SIZE {
                return Err(r.error("clip rect count beyond message"));
            }
            Ok(Some(ClipRects {
                raw: r.bytes(n * RECT_SIZE)?,
            }))
        }
        _ => Err(WireError::new(at, "unknown clip type")),
    }
}

/// [`clip_rects`] as an owned list (for a clip kept beyond its message).
pub fn clip(r: &mut Reader<'_>) -> Result<Option<Vec<Rect>>, WireError> {
    Ok(clip_rects(r)?.map(|c| c.iter().collect()))
}

/// `DisplayBase` (`SpiceMsgDisplayBase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayBase<'a> {
    /// Target surface.
    pub surface_id: u32,
    /// Bounding box of the operation on the target.
    pub bbox: Rect,
    /// Clip rectangles (`None` = unclipped).
    pub clip: Option<ClipRects<'a>>,
}

/// Parse a `DisplayBase`.
pub fn display_base<'a>(r: &mut Reader<'a>) -> Result<DisplayBase<'a>, WireError> {
    Ok(DisplayBase {
        surface_id: r.u32()?,
        bbox: rect(r)?,
        clip: clip_rects(r)?,
    })
}

/// An image reference: the body offset of a `SpiceImage` (0 = none), the
/// form every image pointer of a display message takes on the wire.
pub type ImageRef = u32;

/// `Brush`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brush {
    /// No brush.
    None,
    /// A solid colour.
    Solid(u32),
    /// An image tiled from `(x, y)`.
    Pattern {
        /// The pattern image.
        image: ImageRef,
        /// Tile origin x.
        x: i32,
        /// Tile origin y.
        y: i32,
    },
}

/// Parse a `Brush`: type u8, then SOLID color u32 or PATTERN (Image* u32, Point).
pub fn brush(r: &mut Reader<'_>) -> Result<Brush, WireError> {
    let at = r.pos();
    Ok(match r.u8()? as u32 {
        SPICE_BRUSH_TYPE_NONE => Brush::None,
        SPICE_BRUSH_TYPE_SOLID => Brush::Solid(r.u32()?),
        SPICE_BRUSH_TYPE_PATTERN => {
            let image = r.u32()?;
            let (x, y) = point(r)?;
            Brush::Pattern { image, x, y }
        }
        _ => return Err(WireError::new(at, "unknown brush type")),
    })
}

/// `QMask`: flags u8, pos Point, bitmap Image* (0 = no mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QMask {
    /// `SPICE_MASK_FLAGS_*`.
    pub flags: u8,
    /// Position of the operation's box within the mask.
    pub pos: (i32, i32),
    /// The mask image, 0 for none.
    pub bitmap: ImageRef,
}

/// Parse a `QMask`.
pub fn qmask(r: &mut Reader<'_>) -> Result<QMask, WireError> {
    Ok(QMask {
        flags: r.u8()?,
        pos: point(r)?,
        bitmap: r.u32()?,
    })
}

/// `Copy` (also `Blend`): source image, area, ROP descriptor, scale, mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyData {
    /// The source image.
    pub src: ImageRef,
    /// Area of the source to draw.
    pub src_area: Rect,
    /// `SPICE_ROPD_*` bits.
    pub rop: u16,
    /// `SPICE_IMAGE_SCALE_MODE_*`.
    pub scale_mode: u8,
    /// Mask.
    pub mask: QMask,
}

/// Parse `Copy` / `Blend`.
pub fn copy(r: &mut Reader<'_>) -> Result<CopyData, WireError> {
    Ok(CopyData {
        src: r.u32()?,
        src_area: rect(r)?,
        rop: r.u16()?,
        scale_mode: r.u8()?,
        mask: qmask(r)?,
    })
}

/// `Fill`: brush, ROP descriptor, mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillData {
    /// Brush.
    pub brush: Brush,
    /// `SPICE_ROPD_*` bits.
    pub rop: u16,
    /// Mask.
    pub mask: QMask,
}

/// Parse `Fill`.
pub fn fill(r: &mut Reader<'_>) -> Result<FillData, WireError> {
    Ok(FillData {
        brush: brush(r)?,
        rop: r.u16()?,
        mask: qmask(r)?,
    })
}

/// `Opaque`: source, area, brush, ROP descriptor, scale, mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueData {
    /// The source image.
    pub src: ImageRef,
    /// Area of the source to draw.
    pub src_area: Rect,
    /// Brush combined over the copied source.
    pub brush: Brush,
    /// `SPICE_ROPD_*` bits.
    pub rop: u16,
    /// `SPICE_IMAGE_SCALE_MODE_*`.
    pub scale_mode: u8,
    /// Mask.
    pub mask: QMask,
}

/// Parse `Opaque`.
pub fn opaque(r: &mut Reader<'_>) -> Result<OpaqueData, WireError> {
    Ok(OpaqueData {
        src: r.u32()?,
        src_area: rect(r)?,
        brush: brush(r)?,
        rop: r.u16()?,
        scale_mode: r.u8()?,
        mask: qmask(r)?,
    })
}

/// `Rop3`: source, area, brush, ternary ROP code, scale, mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rop3Data {
    /// The source image.
    pub src: ImageRef,
    /// Area of the source to draw.
    pub src_area: Rect,
    /// Brush (the "pattern" operand).
    pub brush: Brush,
    /// Ternary raster op code (Windows ROP3 numbering).
    pub rop3: u8,
    /// `SPICE_IMAGE_SCALE_MODE_*`.
    pub scale_mode: u8,
    /// Mask.
    pub mask: QMask,
}

/// Parse `Rop3`.
pub fn rop3(r: &mut Reader<'_>) -> Result<Rop3Data, WireError> {
    Ok(Rop3Data {
        src: r.u32()?,
        src_area: rect(r)?,
        brush: brush(r)?,
        rop3: r.u8()?,
        scale_mode: r.u8()?,
        mask: qmask(r)?,
    })
}

/// `Transparent`: source, area, key colour (as sent and as true colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransparentData {
    /// The source image.
    pub src: ImageRef,
    /// Area of the source to draw.
    pub src_area: Rect,
    /// Key colour in the source's format.
    pub src_color: u32,
    /// Key colour as 32-bit RGB.
    pub true_color: u32,
}

/// Parse `Transparent`.
pub fn transparent(r: &mut Reader<'_>) -> Result<TransparentData, WireError> {
    Ok(TransparentData {
        src: r.u32()?,
        src_area: rect(r)?,
        src_color: r.u32()?,
        true_color: r.u32()?,
    })
}

/// `AlphaBlend`: flags, global alpha, source, area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlphaBlendData {
    /// `SPICE_ALPHA_FLAGS_*`.
    pub alpha_flags: u8,
    /// Global alpha.
    pub alpha: u8,
    /// The source image.
    pub src: ImageRef,
    /// Area of the source to draw.
    pub src_area: Rect,
}

/// Parse `AlphaBlend`.
pub fn alpha_blend(r: &mut Reader<'_>) -> Result<AlphaBlendData, WireError> {
    Ok(AlphaBlendData {
        alpha_flags: r.u8()?,
        alpha: r.u8()?,
        src: r.u32()?,
        src_area: rect(r)?,
    })
}

/// `surface_create` (`SpiceMsgSurfaceCreate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurfaceCreate {
    /// Surface id (0 is usually the primary).
    pub surface_id: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `SPICE_SURFACE_FMT_*`.
    pub format: u32,
    /// `SPICE_SURFACE_FLAGS_*`.
    pub flags: u32,
}

/// Parse `surface_create`.
pub fn surface_create(r: &mut Reader<'_>) -> Result<SurfaceCreate, WireError> {
    Ok(SurfaceCreate {
        surface_id: r.u32()?,
        width: r.u32()?,
        height: r.u32()?,
        format: r.u32()?,
        flags: r.u32()?,
    })
}

/// `Text`: the string pointer, background area, brushes and modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextData {
    /// Body offset of the `String`.
    pub str_ptr: u32,
    /// Area filled with `back_brush` first (empty = none).
    pub back_area: Rect,
    /// Brush for the glyphs.
    pub fore_brush: Brush,
    /// Brush for `back_area`.
    pub back_brush: Brush,
    /// `SPICE_ROPD_*` for the glyphs.
    pub fore_mode: u16,
    /// `SPICE_ROPD_*` for the background.
    pub back_mode: u16,
}

/// Parse `Text`.
pub fn text(r: &mut Reader<'_>) -> Result<TextData, WireError> {
    Ok(TextData {
        str_ptr: r.u32()?,
        back_area: rect(r)?,
        fore_brush: brush(r)?,
        back_brush: brush(r)?,
        fore_mode: r.u16()?,
        back_mode: r.u16()?,
    })
}

/// One raster glyph of a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyph<'a> {
    /// Left column on the surface (`render_pos.x + glyph_origin.x`).
    pub left: i32,
    /// Top row on the surface (`render_pos.y + glyph_origin.y`).
    pub top: i32,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Rows of `(width * bpp + 7) / 8` bytes.
    pub data: &'a [u8],
}

/// A parsed `String`: bits per glyph pixel (1, 4 or 8), whether rows are
/// top-down, and its glyphs as they lie in the message (checked to be all
/// there when parsed), read as they are iterated so text costs no
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlyphString<'a> {
    /// Bits per glyph pixel: 1, 4 or 8.
    pub bpp: u32,
    /// Whether glyph rows come top row first.
    pub top_down: bool,
    count: usize,
    raw: &'a [u8],
}

impl<'a> GlyphString<'a> {
    /// Number of glyphs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the string has no glyph.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The glyphs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = Glyph<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        let bpp = self.bpp;
        (0..self.count).map_while(move |_| glyph(&mut r, bpp).ok())
    }
}

/// One raster glyph at the reader's position.
fn glyph<'a>(r: &mut Reader<'a>, bpp: u32) -> Result<Glyph<'a>, WireError> {
    let (rx, ry) = point(r)?;
    let (ox, oy) = point(r)?;
    let width = r.u16()?;
    let height = r.u16()?;
    let stride = (width as usize * bpp as usize).div_ceil(8);
    let data = r.bytes(stride * height as usize)?;
    Ok(Glyph {
        left: rx.saturating_add(ox),
        top: ry.saturating_add(oy),
        width,
        height,
        data,
    })
}

/// Parse the `String` at body offset `ptr` (glyphs laid out one after
/// another on the wire), checking every glyph is there.
pub fn glyph_string(body: &[u8], ptr: u32) -> Result<GlyphString<'_>, WireError> {
    let mut r = Reader::new(body).at(ptr)?;
    let n = r.u16()? as usize;
    let at = r.pos();
    let flags = r.u8()? as u32;
    let bpp = if flags & SPICE_STRING_FLAGS_RASTER_A1 != 0 {
        1
    } else if flags & SPICE_STRING_FLAGS_RASTER_A4 != 0 {
        4
    } else if flags & SPICE_STRING_FLAGS_RASTER_A8 != 0 {
        8
    } else {
        return Err(WireError::new(at, "text string is not a raster string"));
    };
    let base = r.pos();
    let rest = r.rest();
    let mut check = Reader::new(rest);
    for _ in 0..n {
        glyph(&mut check, bpp).map_err(|e| e.at_base(base))?;
    }
    Ok(GlyphString {
        bpp,
        top_down: flags & SPICE_STRING_FLAGS_RASTER_TOP_DOWN != 0,
        count: n,
        raw: rest.get(..check.pos()).unwrap_or(&[]),
    })
}

/// `Stroke`: path pointer, line attributes, brush and modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrokeData {
    /// Body offset of the `Path`.
    pub path_ptr: u32,
    /// `SPICE_LINE_FLAGS_*`.
    pub line_flags: u8,
    /// Brush.
    pub brush: Brush,
    /// `SPICE_ROPD_*` for the line pixels.
    pub fore_mode: u16,
    /// `SPICE_ROPD_*` for the gaps of styled lines.
    pub back_mode: u16,
}

/// Parse `Stroke` (the dash style of a STYLED line is skipped: lines are
/// drawn solid).
pub fn stroke(r: &mut Reader<'_>) -> Result<StrokeData, WireError> {
    let path_ptr = r.u32()?;
    let line_flags = r.u8()?;
    if line_flags as u32 & SPICE_LINE_FLAGS_STYLED != 0 {
        r.u8()?; // style_nseg
        r.u32()?; // fixed28_4 *style
    }
    Ok(StrokeData {
        path_ptr,
        line_flags,
        brush: brush(r)?,
        fore_mode: r.u16()?,
        back_mode: r.u16()?,
    })
}

/// A parsed `Path`: its segments as they lie in the message (checked to be
/// all there when parsed), read as they are iterated so a stroke costs no
/// allocation for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a> {
    count: usize,
    raw: &'a [u8],
}

/// One `PathSegment`: `SPICE_PATH_*` flags and its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathSegment<'a> {
    /// `SPICE_PATH_*`.
    pub flags: u8,
    /// The points, 8 bytes each (x, y in 28.4 fixed point).
    raw: &'a [u8],
}

impl<'a> PathSegment<'a> {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.raw.len() / 8
    }

    /// True when the segment has no point.
    pub fn is_empty(&self) -> bool {
        self.raw.len() < 8
    }

    /// The points as (x, y) in 28.4 fixed point.
    pub fn points(&self) -> impl Iterator<Item = (i32, i32)> + 'a {
        self.raw
            .chunks_exact(8)
            .filter_map(|c| point(&mut Reader::new(c)).ok())
    }
}

impl<'a> Path<'a> {
    /// Number of segments.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the path has no segment.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The segments in wire order.
    pub fn iter(&self) -> impl Iterator<Item = PathSegment<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        (0..self.count).map_while(move |_| path_segment(&mut r).ok())
    }
}

/// One `PathSegment` at the reader's position: flags u8, count u32, points.
fn path_segment<'a>(r: &mut Reader<'a>) -> Result<PathSegment<'a>, WireError> {
    let flags = r.u8()?;
    let count = r.u32()? as usize;
    if count > r.remaining() / 8 {
        return Err(r.error("path point count beyond message"));
    }
    Ok(PathSegment {
        flags,
        raw: r.bytes(count * 8)?,
    })
}

/// Parse a `Path` at body offset `ptr`: num_segments u32, then segments
/// one after another.
pub fn path(body: &[u8], ptr: u32) -> Result<Path<'_>, WireError> {
    let mut r = Reader::new(body).at(ptr)?;
    let n = r.u32()? as usize;
    if n > r.remaining() / 5 {
        return Err(r.error("path segment count beyond message"));
    }
    let base = r.pos();
    let rest = r.rest();
    let mut check = Reader::new(rest);
    for _ in 0..n {
        path_segment(&mut check).map_err(|e| e.at_base(base))?;
    }
    Ok(Path {
        count: n,
        raw: rest.get(..check.pos()).unwrap_or(&[]),
    })
}

/// `stream_create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCreate {
    /// Surface the stream draws on.
    pub surface_id: u32,
    /// Stream id (< `SPICE_MAX_NUM_STREAMS`).
    pub id: u32,
    /// `SPICE_STREAM_FLAGS_*`.
    pub flags: u8,
    /// `SPICE_VIDEO_CODEC_TYPE_*`.
    pub codec: u8,
    /// Server stamp.
    pub stamp: u64,
    /// Encoded frame width.
    pub stream_width: u32,
    /// Encoded frame height.
    pub stream_height: u32,
    /// Source width.
    pub src_width: u32,
    /// Source height.
    pub src_height: u32,
    /// Where frames go on the surface.
    pub dest: Rect,
    /// Stream clip.
    pub clip: Option<Vec<Rect>>,
}

/// Parse `stream_create`.
pub fn stream_create(r: &mut Reader<'_>) -> Result<StreamCreate, WireError> {
    Ok(StreamCreate {
        surface_id: r.u32()?,
        id: r.u32()?,
        flags: r.u8()?,
        codec: r.u8()?,
        stamp: r.u64()?,
        stream_width: r.u32()?,
        stream_height: r.u32()?,
        src_width: r.u32()?,
        src_height: r.u32()?,
        dest: rect(r)?,
        clip: clip(r)?,
    })
}

/// `stream_data` / `stream_data_sized`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamData<'a> {
    /// Stream id.
    pub id: u32,
    /// Multimedia time the frame is due.
    pub mm_time: u32,
    /// For `stream_data_sized`: frame width, height and destination.
    pub sized: Option<(u32, u32, Rect)>,
    /// Encoded frame.
    pub data: &'a [u8],
}

/// Parse `stream_data` (`sized` false) or `stream_data_sized` (`sized` true).
pub fn stream_data<'a>(r: &mut Reader<'a>, sized: bool) -> Result<StreamData<'a>, WireError> {
    let id = r.u32()?;
    let mm_time = r.u32()?;
    let sized = if sized {
        Some((r.u32()?, r.u32()?, rect(r)?))
    } else {
        None
    };
    let size = r.u32()? as usize;
    Ok(StreamData {
        id,
        mm_time,
        sized,
        data: r.bytes(size)?,
    })
}

/// `stream_activate_report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivateReport {
    /// Stream id.
    pub stream_id: u32,
    /// Id to echo in reports.
    pub unique_id: u32,
    /// Frames per report.
    pub max_window_size: u32,
    /// Longest time between reports, in ms.
    pub timeout_ms: u32,
}

/// Parse `stream_activate_report`.
pub fn activate_report(r: &mut Reader<'_>) -> Result<ActivateReport, WireError> {
    Ok(ActivateReport {
        stream_id: r.u32()?,
        unique_id: r.u32()?,
        max_window_size: r.u32()?,
        timeout_ms: r.u32()?,
    })
}

/// One `Head` of `monitors_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Monitor id.
    pub id: u32,
    /// Surface shown on it.
    pub surface_id: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// X position on the surface.
    pub x: u32,
    /// Y position on the surface.
    pub y: u32,
    /// Flags.
    pub flags: u32,
}

/// Parse `monitors_config`: count u16, max_allowed u16, heads.
pub fn monitors_config(r: &mut Reader<'_>) -> Result<(u16, Vec<Head>), WireError> {
    let count = r.u16()? as usize;
    let max_allowed = r.u16()?;
    if count > r.remaining() / 28 {
        return Err(r.error("monitor count beyond message"));
    }
    let mut heads = Vec::with_capacity(count);
    for _ in 0..count {
        heads.push(Head {
            id: r.u32()?,
            surface_id: r.u32()?,
            width: r.u32()?,
            height: r.u32()?,
            x: r.u32()?,
            y: r.u32()?,
            flags: r.u32()?,
        });
    }
    Ok((max_allowed, heads))
}

/// The `ResourceID`s of an `inval_list` as they lie in the message, 9 bytes
/// each (checked to be there when parsed), read as they are iterated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceList<'a> {
    raw: &'a [u8],
}

/// Size of a `ResourceID` on the wire: type u8, id u64.
const RESOURCE_ID_SIZE: usize = 9;

impl<'a> ResourceList<'a> {
    /// Number of resources.
    pub fn len(&self) -> usize {
        self.raw.len() / RESOURCE_ID_SIZE
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.len() < RESOURCE_ID_SIZE
    }

    /// The `(resource type, id)` pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64)> + 'a {
        self.raw.chunks_exact(RESOURCE_ID_SIZE).filter_map(|c| {
            let mut r = Reader::new(c);
            Some((r.u8().ok()?, r.u64().ok()?))
        })
    }
}

/// Parse `inval_list`: count u16, then `ResourceID {type u8, id u64}`s.
pub fn inval_list<'a>(r: &mut Reader<'a>) -> Result<ResourceList<'a>, WireError> {
    let count = r.u16()? as usize;
    if count > r.remaining() / RESOURCE_ID_SIZE {
        return Err(r.error("resource count beyond message"));
    }
    Ok(ResourceList {
        raw: r.bytes(count * RESOURCE_ID_SIZE)?,
    })
}

/// Skip `inval_all_pixmaps`'s wait list: wait_count u8, then
/// `WaitForChannel`s {channel_type u8, channel_id u8, message_serial u64},
/// checked to be there.
pub fn wait_list(r: &mut Reader<'_>) -> Result<(), WireError> {
    let count = r.u8()? as usize;
    r.skip(count * 10)
}

/// `stream_report` (client to server), serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamReport {
    /// Stream id.
    pub stream_id: u32,
    /// Echo of the activation's unique id.
    pub unique_id: u32,
    /// mm-time of the first frame in the window.
    pub start_frame_mm_time: u32,
    /// mm-time of the last frame in the window.
    pub end_frame_mm_time: u32,
    /// Frames received in the window.
    pub num_frames: u32,
    /// Frames dropped in the window.
    pub num_drops: u32,
    /// How early (positive) or late the last frame was, in ms.
    pub last_frame_delay: i32,
    /// Audio delay in ms (`u32::MAX` when unknown).
    pub audio_delay: u32,
}

impl StreamReport {
    /// The message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = crate::wire::Writer::new();
        w.u32(self.stream_id)
            .u32(self.unique_id)
            .u32(self.start_frame_mm_time)
            .u32(self.end_frame_mm_time)
            .u32(self.num_frames)
            .u32(self.num_drops)
            .i32(self.last_frame_delay)
            .u32(self.audio_delay);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn rect_field_order_is_top_left_bottom_right() {
        let b = [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0];
        assert_eq!(
            rect(&mut Reader::new(&b)).unwrap(),
            Rect {
                top: 1,
                left: 2,
                bottom: 3,
                right: 4
            }
        );
    }

    #[test]
    fn display_base_with_clip_rects() {
        let mut b = vec![7, 0, 0, 0];
        for v in [10i32, 20, 30, 40] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(SPICE_CLIP_TYPE_RECTS as u8);
        b.extend_from_slice(&1u32.to_le_bytes());
        for v in [11i32, 21, 29, 39] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let base = display_base(&mut Reader::new(&b)).unwrap();
        assert_eq!(base.surface_id, 7);
        assert_eq!(base.bbox, Rect::new(20, 10, 40, 30));
        let clip: Vec<Rect> = base.clip.expect("rects").iter().collect();
        assert_eq!(clip, vec![Rect::new(21, 11, 39, 29)]);
        // A count larger than the message is refused before allocating.
        let mut bad = b.clone();
        bad[21..25].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(display_base(&mut Reader::new(&bad)).is_err());
        bad[20] = 9;
        assert_eq!(
            display_base(&mut Reader::new(&bad)).unwrap_err().reason,
            "unknown clip type"
        );
    }

    #[test]
    fn fill_with_solid_brush_layout() {
        // brush SOLID color, rop_descriptor u16, mask {flags, x, y, bitmap}
        let mut b = vec![SPICE_BRUSH_TYPE_SOLID as u8];
        b.extend_from_slice(&0x00ff8800u32.to_le_bytes());
        b.extend_from_slice(&(SPICE_ROPD_OP_PUT as u16).to_le_bytes());
        b.push(0);
        b.extend_from_slice(&[0; 12]);
        let f = fill(&mut Reader::new(&b)).unwrap();
        assert_eq!(f.brush, Brush::Solid(0x00ff8800));
        assert_eq!(f.rop, SPICE_ROPD_OP_PUT as u16);
        assert_eq!(f.mask, QMask::default());
        assert!(fill(&mut Reader::new(&b[..b.len() - 1])).is_err());
    }

    #[test]
    fn stream_report_is_32_bytes_in_proto_order() {
        let r = StreamReport {
            stream_id: 1,
            unique_id: 2,
            num_frames: 5,
            last_frame_delay: -1,
            ..Default::default()
        };
        let b = r.to_bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(&b[0..8], &[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&b[16..20], &[5, 0, 0, 0]);
        assert_eq!(&b[24..28], &[0xff; 4]);
    }
}
