//! The display channel: parses draw, surface, stream and cache messages and
//! renders them onto the software canvas.
//!
//! Owns the display-channel state (surfaces via [`Canvas`], pixmap and
//! palette caches, video streams, monitor layout) and the client messages it
//! answers with (INIT, PREFERRED_COMPRESSION, STREAM_REPORT). It must not do
//! I/O or framing: bodies come in from the channel engine, replies go out
//! through an [`Outbox`]. A body is first parsed into a typed
//! [`DisplayMsg`] ([`message`], with the layouts of [`wire`]), then applied.
//! Stream bookkeeping lives in [`stream`], pixel work in `canvas`, image
//! decoding in `image`. An unmasked OP_PUT DRAW_COPY of a whole uncached
//! image is decoded straight into its surface (an LZ or LZ4 one narrower
//! than the surface through a reused staging run); other uncached sources
//! of an in-place codec or JPEG, areas of a surface used as a source, and
//! stream frames go through one reused scratch image, masks and pattern
//! brush tiles through scratch images of their own, sources resampled for
//! ops without a scaled primitive through a reused resampling buffer
//! (all in `scratch`, charged to the budget); text coverage and stroke
//! paths have reused buffers too, so that the steady state of a session
//! allocates nothing per draw beyond what zune-jpeg allocates inside a
//! JPEG decode (`tests/display_allocs.rs` counts).

mod columns;
pub mod message;
mod polyline;
mod scratch;
pub mod stream;
pub mod wire;

use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::canvas::{Canvas, Mask, Paint, Rect, Rop, RopInput, ScaleMode, Surface};
use crate::channel::Ahead;
use crate::enums::*;
use crate::error::WireError;
use crate::image::cache::{PaletteCache, PixmapCache, MAX_PALETTES};
use crate::image::glz::GlzWindow;
use crate::image::{
    decode_image_into_with, decode_image_with, decode_jpeg_into, decode_mask_into, direct_glz,
    direct_image, direct_jpeg, direct_mask, DecodeContext, Decoded, Image, NoAlpha, Staging,
    MAX_PALETTE_ENTRIES,
};
use crate::outbox::Outbox;
use crate::wire::Writer;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use message::{DisplayMsg, MaskOp};
use polyline::Polylines;
use scratch::{Resampled, Scratch, Scratches};
use stream::Stream;
use wire::{Brush, ClipRects, DisplayBase, Head, QMask};

/// What the client tells the server at link time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayConfig {
    /// `SPICE_IMAGE_COMPRESSION_*` to ask for, if any.
    pub preferred_compression: Option<u8>,
    /// GLZ dictionary window in pixels (0 disables GLZ in practice).
    pub glz_window_pixels: u32,
    /// Pixmap cache budget in pixels.
    pub pixmap_cache_pixels: i64,
    /// GLZ dictionary id (shared by channels with the same id).
    pub glz_dictionary_id: u8,
    /// Pixmap cache id.
    pub pixmap_cache_id: u8,
}

/// The `SPICE_IMAGE_TYPE_*` values [`DisplayStats::images`] counts, with
/// their header names, in index order.
pub const COUNTED_IMAGE_TYPES: [(u32, &str); 12] = [
    (SPICE_IMAGE_TYPE_BITMAP, "BITMAP"),
    (SPICE_IMAGE_TYPE_QUIC, "QUIC"),
    (SPICE_IMAGE_TYPE_LZ_PLT, "LZ_PLT"),
    (SPICE_IMAGE_TYPE_LZ_RGB, "LZ_RGB"),
    (SPICE_IMAGE_TYPE_GLZ_RGB, "GLZ_RGB"),
    (SPICE_IMAGE_TYPE_FROM_CACHE, "FROM_CACHE"),
    (SPICE_IMAGE_TYPE_SURFACE, "SURFACE"),
    (SPICE_IMAGE_TYPE_JPEG, "JPEG"),
    (SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS, "FROM_CACHE_LOSSLESS"),
    (SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB, "ZLIB_GLZ_RGB"),
    (SPICE_IMAGE_TYPE_JPEG_ALPHA, "JPEG_ALPHA"),
    (SPICE_IMAGE_TYPE_LZ4, "LZ4"),
];

/// Counters a caller may log; nothing here changes behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DisplayStats {
    /// Draw commands rendered.
    pub draws: u64,
    /// Draw commands parsed but not rendered (STROKE, TEXT, COMPOSITE).
    pub unsupported: u64,
    /// Draws aimed at a surface that does not exist (ignored).
    pub missing_surface: u64,
    /// Messages of a type this module does not know.
    pub unknown: u64,
    /// Stream frames drawn.
    pub frames: u64,
    /// Stream frames dropped (unsupported codec, decode failure, no stream).
    pub dropped_frames: u64,
    /// The last message type counted in `unsupported`.
    pub last_unsupported: u16,
    /// Images decoded without error, per type (sources, brushes and masks),
    /// indexed like [`COUNTED_IMAGE_TYPES`].
    pub images: [u64; COUNTED_IMAGE_TYPES.len()],
    /// Runs of adjacent LZ columns decoded side by side (each of their
    /// draws is also counted in `draws` at its own turn).
    pub column_runs: u64,
    /// The columns of those runs.
    pub run_columns: u64,
}

impl DisplayStats {
    /// How many images of `SPICE_IMAGE_TYPE_*` `kind` were decoded.
    pub fn image_count(&self, kind: u32) -> u64 {
        COUNTED_IMAGE_TYPES
            .iter()
            .position(|&(t, _)| t == kind)
            .and_then(|i| self.images.get(i))
            .copied()
            .unwrap_or(0)
    }
}

/// One display channel's state.
#[derive(Debug)]
pub struct Display {
    channel_id: u8,
    config: DisplayConfig,
    canvas: Canvas,
    pixmaps: PixmapCache,
    palettes: PaletteCache,
    streams: BTreeMap<u32, Stream>,
    monitors: Vec<Head>,
    max_monitors: u16,
    stats: DisplayStats,
    budget: Budget,
    /// The up-front charge for the pixmap and palette caches.
    _caches: Charge,
    /// COPY_BITS's clip pieces, kept to be reused.
    pieces: Vec<Rect>,
    /// Where sources that cannot go straight onto the surface are decoded
    /// or copied, and stream frames decoded; masks, brush tiles and
    /// resampled sources likewise: reused from draw to draw.
    scratch: Scratches,
    /// What an LZ or LZ4 decoder drawing straight onto a surface cannot
    /// write in place (the image of a rectangle narrower than the surface,
    /// 16/24-bit rows, an alpha plane), reused from draw to draw (charged
    /// at its largest size).
    staging: Staging,
    /// An abbreviated MJPEG frame completed with the standard Huffman
    /// tables, reused from frame to frame (at most a message's size).
    jpeg_spliced: Vec<u8>,
    /// DRAW_TEXT's glyph coverage map, reused from draw to draw.
    coverage: Vec<u8>,
    /// What `coverage` costs the budget (its largest size).
    coverage_charge: Charge,
    /// DRAW_STROKE's flattened path, reused from draw to draw.
    polylines: Polylines,
    /// DRAW_COPYs drawn ahead of their turn with the run of LZ columns
    /// they belong to, in message order ([`columns`]); kept to be reused.
    predrawn: Vec<columns::Predrawn>,
    /// The first of `predrawn` whose turn has not come.
    predrawn_next: usize,
}

fn set_cap(words: &mut Vec<u32>, cap: u32) {
    let w = (cap / 32) as usize;
    if words.len() <= w {
        words.resize(w + 1, 0);
    }
    words[w] |= 1 << (cap % 32);
}

fn has_cap(words: &[u32], cap: u32) -> bool {
    words
        .get((cap / 32) as usize)
        .is_some_and(|w| w & (1 << (cap % 32)) != 0)
}

/// Run `f` on each rectangle a draw touches: `bbox` cut by each clip
/// rectangle (empty cuts skipped), or `bbox` itself when unclipped.
fn for_each_piece(bbox: Rect, clip: Option<impl Iterator<Item = Rect>>, mut f: impl FnMut(Rect)) {
    match clip {
        None => f(bbox),
        Some(rects) => {
            for c in rects {
                let piece = c.intersect(&bbox);
                if !piece.is_empty() {
                    f(piece);
                }
            }
        }
    }
}

/// Whether a clip leaves all of `bbox` drawable: none, or one rectangle
/// that covers it.
fn clip_covers(clip: Option<ClipRects<'_>>, bbox: Rect) -> bool {
    match clip {
        None => true,
        Some(c) => c.len() == 1 && c.iter().all(|r| r.intersect(&bbox) == bbox),
    }
}

/// Where a source's pixels are: an image of its own (or the pixmap cache's
/// and GLZ window's, shared), or the display's reused scratch buffer.
enum Pixels<'s> {
    Shared(Arc<Image>),
    Scratch(&'s Image),
}

impl core::ops::Deref for Pixels<'_> {
    type Target = Image;
    fn deref(&self) -> &Image {
        match self {
            Pixels::Shared(i) => i,
            Pixels::Scratch(i) => i,
        }
    }
}

/// A source image ready to draw: pixels, the area to use in its
/// coordinates, and whether it came from a surface.
struct Source<'s> {
    image: Pixels<'s>,
    area: Rect,
    from_surface: bool,
}

/// A decoded mask and where its origin lands on the destination.
struct LoadedMask<'s> {
    image: Pixels<'s>,
    x: i32,
    y: i32,
    invert: bool,
}

impl LoadedMask<'_> {
    fn as_mask(&self) -> Mask<'_> {
        Mask {
            image: &self.image,
            x: self.x,
            y: self.y,
            invert: self.invert,
        }
    }
}

impl Display {
    /// A display channel handler for channel `channel_id`, with no
    /// memory limit beyond each object's own (tools and tests).
    pub fn new(channel_id: u8, config: DisplayConfig) -> Self {
        Self::build(
            channel_id,
            config,
            Budget::new(usize::MAX),
            Charge::default(),
            PixmapCache::new(config.pixmap_cache_pixels),
        )
    }

    /// A display channel handler that charges everything the server makes
    /// it hold to `budget`: the pixmap cache at its announced size and the
    /// palette cache at its maximum now, surfaces and images as they come.
    pub fn with_budget(
        channel_id: u8,
        config: DisplayConfig,
        budget: Budget,
    ) -> Result<Self, WireError> {
        let pixmap_bytes = pixel_bytes(
            config.pixmap_cache_pixels.clamp(0, u32::MAX as i64) as u32,
            1,
        );
        let palette_bytes = MAX_PALETTES * MAX_PALETTE_ENTRIES * 4;
        let mut caches = budget.charge(pixmap_bytes, Use::PixmapCache)?;
        caches.resize(pixmap_bytes + palette_bytes, Use::PaletteCache)?;
        let pixmaps = PixmapCache::with_budget(config.pixmap_cache_pixels, &budget)?;
        Ok(Self::build(channel_id, config, budget, caches, pixmaps))
    }

    fn build(
        channel_id: u8,
        config: DisplayConfig,
        budget: Budget,
        caches: Charge,
        pixmaps: PixmapCache,
    ) -> Self {
        Self {
            channel_id,
            config,
            canvas: Canvas::with_budget(budget.clone()),
            pixmaps,
            palettes: PaletteCache::new(),
            streams: BTreeMap::new(),
            monitors: Vec::new(),
            max_monitors: 0,
            stats: DisplayStats::default(),
            budget,
            _caches: caches,
            pieces: Vec::new(),
            scratch: Scratches::default(),
            staging: Staging::default(),
            jpeg_spliced: Vec::new(),
            coverage: Vec::new(),
            coverage_charge: Charge::default(),
            polylines: Polylines::default(),
            predrawn: Vec::new(),
            predrawn_next: 0,
        }
    }

    /// The display capability words to advertise in the link message.
    pub fn client_caps() -> Vec<u32> {
        let mut w = Vec::new();
        for cap in [
            SPICE_DISPLAY_CAP_SIZED_STREAM,
            SPICE_DISPLAY_CAP_MONITORS_CONFIG,
            SPICE_DISPLAY_CAP_STREAM_REPORT,
            SPICE_DISPLAY_CAP_LZ4_COMPRESSION,
            SPICE_DISPLAY_CAP_PREF_COMPRESSION,
            SPICE_DISPLAY_CAP_MULTI_CODEC,
            SPICE_DISPLAY_CAP_CODEC_MJPEG,
        ] {
            set_cap(&mut w, cap);
        }
        w
    }

    /// Channel linked: queue DISPLAY_INIT and, if the server accepts it,
    /// PREFERRED_COMPRESSION.
    pub fn on_linked(&mut self, server_caps: &[u32], out: &mut Outbox) {
        let mut w = Writer::new();
        w.u8(self.config.pixmap_cache_id)
            .i64(self.config.pixmap_cache_pixels)
            .u8(self.config.glz_dictionary_id)
            .i32(self.config.glz_window_pixels.min(i32::MAX as u32) as i32);
        out.push(SPICE_MSGC_DISPLAY_INIT, w.finish());
        if let Some(c) = self.config.preferred_compression {
            if has_cap(server_caps, SPICE_DISPLAY_CAP_PREF_COMPRESSION) {
                out.push(SPICE_MSGC_DISPLAY_PREFERRED_COMPRESSION, alloc::vec![c]);
            }
        }
    }

    /// The channel id this handler was made for.
    pub fn channel_id(&self) -> u8 {
        self.channel_id
    }

    /// The primary surface, once created.
    pub fn primary(&self) -> Option<&Surface> {
        self.canvas.primary()
    }

    /// All surfaces (primary and off-screen).
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// Union of the primary-surface rectangles changed since the last call.
    pub fn take_dirty(&mut self) -> Option<Rect> {
        self.canvas.take_dirty()
    }

    /// The heads of the last MONITORS_CONFIG and its `max_allowed`.
    pub fn monitors(&self) -> (&[Head], u16) {
        (&self.monitors, self.max_monitors)
    }

    /// Counters.
    pub fn stats(&self) -> DisplayStats {
        self.stats
    }

    /// The active streams by id.
    pub fn streams(&self) -> &BTreeMap<u32, Stream> {
        &self.streams
    }

    /// Handle one display-specific message (type >= 101): parse it into a
    /// [`DisplayMsg`], then apply it.
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        glz: &mut GlzWindow,
        out: &mut Outbox,
    ) -> Result<(), WireError> {
        self.handle_ahead(msg_type, body, Ahead::NONE, glz, out)
    }

    /// [`handle`](Self::handle) with the complete messages buffered behind
    /// this one in view: a direct LZ DRAW_COPY that starts a run of
    /// adjacent LZ columns there is drawn with the whole run, each later
    /// column's turn then doing the rest of what it owes
    /// (the `columns` module). Each message must be handed over in turn, from the
    /// same unmoved buffer `ahead` looked into.
    pub fn handle_ahead(
        &mut self,
        msg_type: u16,
        body: &[u8],
        ahead: Ahead<'_>,
        glz: &mut GlzWindow,
        out: &mut Outbox,
    ) -> Result<(), WireError> {
        if let Some(result) = self.take_predrawn(body) {
            return result;
        }
        let msg = message::parse(msg_type, body)?;
        if let DisplayMsg::Copy(base, c) = &msg {
            if let Some(result) = self.copy_column_run(body, base, c, ahead) {
                return result;
            }
        }
        self.apply(msg, body, glz, out)
    }

    /// Apply a parsed message; `body` is the message it came from (images
    /// are read from it by offset). The scratch buffer is lent to the draw.
    fn apply(
        &mut self,
        msg: DisplayMsg<'_>,
        body: &[u8],
        glz: &mut GlzWindow,
        out: &mut Outbox,
    ) -> Result<(), WireError> {
        let mut scratch = core::mem::take(&mut self.scratch);
        let res = self.apply_with(msg, body, glz, out, &mut scratch);
        self.scratch = scratch;
        res
    }

    /// [`apply`](Self::apply) with the scratch buffers held apart.
    fn apply_with(
        &mut self,
        msg: DisplayMsg<'_>,
        body: &[u8],
        glz: &mut GlzWindow,
        out: &mut Outbox,
        scratch: &mut Scratches,
    ) -> Result<(), WireError> {
        match msg {
            DisplayMsg::Mode | DisplayMsg::Mark | DisplayMsg::Ignored => {}
            DisplayMsg::Reset => {
                self.palettes.clear();
                self.streams.clear();
            }
            DisplayMsg::CopyBits { base, src } => self.copy_bits(&base, src.0, src.1),
            DisplayMsg::InvalList(list) => {
                for (kind, id) in list.iter() {
                    if kind as u32 == SPICE_RES_TYPE_PIXMAP {
                        self.pixmaps.remove(id);
                    }
                }
            }
            DisplayMsg::InvalAllPixmaps => self.pixmaps.clear(),
            DisplayMsg::InvalPalette(id) => self.palettes.remove(id),
            DisplayMsg::InvalAllPalettes => self.palettes.clear(),
            DisplayMsg::SurfaceCreate(s) => {
                let primary = s.flags & SPICE_SURFACE_FLAGS_PRIMARY != 0;
                self.canvas
                    .create_surface(s.surface_id, s.width, s.height, s.format, primary)?;
            }
            DisplayMsg::SurfaceDestroy(id) => {
                self.canvas.destroy_surface(id);
                self.streams.retain(|_, s| s.surface_id != id);
            }
            DisplayMsg::MonitorsConfig(max, heads) => {
                self.max_monitors = max;
                self.monitors = heads;
            }
            DisplayMsg::StreamCreate(c) => {
                if c.id >= SPICE_MAX_NUM_STREAMS {
                    return Err(WireError::new(4, "stream id out of range"));
                }
                self.streams.insert(c.id, Stream::new(c));
            }
            DisplayMsg::StreamData(d) => self.stream_frame(d, out, &mut scratch.source)?,
            DisplayMsg::StreamClip(id, clip) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.clip = clip;
                }
            }
            DisplayMsg::StreamDestroy(id) => {
                self.streams.remove(&id);
            }
            DisplayMsg::StreamDestroyAll => self.streams.clear(),
            DisplayMsg::ActivateReport(a) => {
                if let Some(s) = self.streams.get_mut(&a.stream_id) {
                    s.activate_report(&a);
                }
            }
            DisplayMsg::Fill(base, f) => self.draw_fill(body, &base, &f, glz, scratch)?,
            DisplayMsg::Copy(base, c) => self.draw_copy(body, &base, &c, glz, scratch)?,
            DisplayMsg::Opaque(base, o) => self.draw_opaque(body, &base, &o, glz, scratch)?,
            DisplayMsg::MaskOp(base, op, m) => {
                let (color, rop) = match op {
                    MaskOp::Blackness => (0, Rop::Copy),
                    MaskOp::Whiteness => (0xffff_ffff, Rop::Copy),
                    MaskOp::Invers => (0, Rop::Invert),
                };
                let mask = self.load_mask(body, &m, base.bbox, glz, &mut scratch.mask)?;
                self.paint(&base, |s, piece| {
                    s.fill(
                        piece,
                        color,
                        rop,
                        mask.as_ref().map(|m| m.as_mask()).as_ref(),
                    )
                });
            }
            DisplayMsg::Rop3(base, d) => self.draw_rop3(body, &base, &d, glz, scratch)?,
            DisplayMsg::Transparent(base, t) => {
                let src = self.load_scaled_source(
                    body,
                    t.src,
                    t.src_area,
                    base.bbox,
                    ScaleMode::Nearest,
                    glz,
                    (&mut scratch.source, &mut scratch.scaled),
                )?;
                let (dx, dy) = offset(base.bbox, src.area);
                let key = t.true_color;
                self.paint(&base, |s, piece| {
                    s.blit_colorkey(piece, &src.image, dx, dy, key)
                });
            }
            DisplayMsg::AlphaBlend(base, a) => {
                let src = self.load_scaled_source(
                    body,
                    a.src,
                    a.src_area,
                    base.bbox,
                    ScaleMode::Nearest,
                    glz,
                    (&mut scratch.source, &mut scratch.scaled),
                )?;
                if a.alpha == 0 {
                    return Ok(());
                }
                let (dx, dy) = offset(base.bbox, src.area);
                let src_alpha = if src.from_surface {
                    a.alpha_flags as u32 & SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA != 0
                } else {
                    src.image.has_alpha
                };
                self.paint(&base, |s, piece| {
                    s.blit_alpha(piece, &src.image, dx, dy, a.alpha, src_alpha)
                });
            }
            DisplayMsg::Text(base, t) => {
                self.draw_text(body, &base, &t, glz, &mut scratch.tiles)?
            }
            DisplayMsg::Stroke(base, st) => {
                let [tile, _] = &mut scratch.tiles;
                self.draw_stroke(body, &base, &st, glz, tile)?
            }
            DisplayMsg::Unsupported(msg_type) => {
                self.stats.unsupported += 1;
                self.stats.last_unsupported = msg_type;
            }
            DisplayMsg::Unknown => self.stats.unknown += 1,
        }
        Ok(())
    }

    /// Decode an image reference with this channel's caches.
    fn decode(
        &mut self,
        body: &[u8],
        ptr: u32,
        glz: &mut GlzWindow,
        as_mask: bool,
    ) -> Result<Decoded, WireError> {
        let mut ctx = DecodeContext {
            pixmaps: &mut self.pixmaps,
            palettes: &mut self.palettes,
            glz,
            budget: &self.budget,
        };
        let decoded = decode_image_with(body, ptr, &mut ctx, as_mask, &mut self.staging)?;
        self.count_image(body, ptr);
        Ok(decoded)
    }

    /// Count an image decoded without error in [`DisplayStats::images`].
    fn count_image(&mut self, body: &[u8], ptr: u32) {
        // The descriptor's type byte follows its u64 id.
        let kind = body
            .get((ptr as usize).saturating_add(8))
            .map_or(u32::MAX, |&k| k as u32);
        if let Some(i) = COUNTED_IMAGE_TYPES.iter().position(|&(t, _)| t == kind) {
            if let Some(n) = self.stats.images.get_mut(i) {
                *n += 1;
            }
        }
    }

    /// The source image of a draw, with `area` in the image's coordinates:
    /// an uncached image of an in-place codec (or a JPEG) is decoded into
    /// `scratch` and a surface's area copied into it (no allocation once it
    /// is large enough); a cached image is shared with the cache.
    fn load_source<'s>(
        &mut self,
        body: &[u8],
        ptr: u32,
        area: Rect,
        glz: &mut GlzWindow,
        scratch: &'s mut Scratch,
    ) -> Result<Source<'s>, WireError> {
        if ptr == 0 {
            return Err(WireError::new(0, "draw without source image"));
        }
        if let Some(img) = direct_image(body, ptr) {
            self.decode_into_scratch(body, ptr, img, scratch, glz)?;
            return Ok(Source {
                image: Pixels::Scratch(scratch.image()),
                area,
                from_surface: false,
            });
        }
        if direct_jpeg(body, ptr) {
            self.jpeg_into_scratch(body, ptr, scratch)?;
            return Ok(Source {
                image: Pixels::Scratch(scratch.image()),
                area,
                from_surface: false,
            });
        }
        let id = match self.decode(body, ptr, glz, false)? {
            Decoded::Image(image) => {
                return Ok(Source {
                    image: Pixels::Shared(image),
                    area,
                    from_surface: false,
                })
            }
            Decoded::Surface(id) => id,
        };
        let s = self.canvas.surface(id).ok_or(WireError::new(
            ptr as usize,
            "source surface does not exist",
        ))?;
        let got = scratch
            .copy_from(s, area, &self.budget)
            .map_err(|e| e.at_base(ptr as usize))?;
        Ok(Source {
            image: Pixels::Scratch(scratch.image()),
            area: area.translate(-got.left, -got.top),
            from_surface: true,
        })
    }

    /// Like [`load_source`](Self::load_source), resampled to the size of
    /// `bbox` when the sizes differ (for ops without a scaled primitive),
    /// into the reused [`Resampled`] buffer.
    #[allow(clippy::too_many_arguments)]
    fn load_scaled_source<'s>(
        &mut self,
        body: &[u8],
        ptr: u32,
        area: Rect,
        bbox: Rect,
        mode: ScaleMode,
        glz: &mut GlzWindow,
        (source, scaled): (&'s mut Scratch, &'s mut Resampled),
    ) -> Result<Source<'s>, WireError> {
        let src = self.load_source(body, ptr, area, glz, source)?;
        if src.area.same_size(&bbox) || bbox.is_empty() {
            return Ok(src);
        }
        let (w, h) = (bbox.width() as u32, bbox.height() as u32);
        let img = scaled
            .resample(&src.image, src.area, (w, h), mode, &self.budget)
            .map_err(|e| e.at_base(ptr as usize))?;
        Ok(Source {
            image: Pixels::Scratch(img),
            area: Rect::of_size(w, h),
            from_surface: src.from_surface,
        })
    }

    /// The mask of a draw, if it has one: an uncached 1-bit BITMAP decoded
    /// into `scratch`, a surface copied into it, a cached one shared.
    fn load_mask<'s>(
        &mut self,
        body: &[u8],
        m: &QMask,
        bbox: Rect,
        glz: &mut GlzWindow,
        scratch: &'s mut Scratch,
    ) -> Result<Option<LoadedMask<'s>>, WireError> {
        if m.bitmap == 0 {
            return Ok(None);
        }
        let image = if let Some((w, h)) = direct_mask(body, m.bitmap) {
            let mut dst = scratch
                .prepare(w, h, false, &self.budget)
                .map_err(|e| e.at_base(m.bitmap as usize))?;
            let mut ctx = DecodeContext {
                pixmaps: &mut self.pixmaps,
                palettes: &mut self.palettes,
                glz,
                budget: &self.budget,
            };
            decode_mask_into(body, m.bitmap, &mut ctx, &mut dst)?;
            self.count_image(body, m.bitmap);
            Pixels::Scratch(scratch.image())
        } else {
            match self.decode(body, m.bitmap, glz, true)? {
                Decoded::Image(i) => Pixels::Shared(i),
                Decoded::Surface(id) => {
                    let s = self.canvas.surface(id).ok_or(WireError::new(
                        m.bitmap as usize,
                        "mask surface does not exist",
                    ))?;
                    scratch.copy_from(s, s.bounds(), &self.budget)?;
                    Pixels::Scratch(scratch.image())
                }
            }
        };
        Ok(Some(LoadedMask {
            image,
            x: bbox.left.saturating_sub(m.pos.0),
            y: bbox.top.saturating_sub(m.pos.1),
            invert: m.flags as u32 & SPICE_MASK_FLAGS_INVERS != 0,
        }))
    }

    /// Run `f` on each clip piece of `base` on its surface, then mark the
    /// box dirty. A missing surface is counted and ignored.
    fn paint(&mut self, base: &DisplayBase<'_>, f: impl FnMut(&mut Surface, Rect)) {
        let clip = base.clip.map(|c| c.iter());
        self.paint_pieces(base.surface_id, base.bbox, clip, f);
    }

    /// [`paint`](Self::paint) for a box and clip held apart.
    fn paint_pieces(
        &mut self,
        surface_id: u32,
        bbox: Rect,
        clip: Option<impl Iterator<Item = Rect>>,
        mut f: impl FnMut(&mut Surface, Rect),
    ) {
        let Some(s) = self.canvas.surface_mut(surface_id) else {
            self.stats.missing_surface += 1;
            return;
        };
        for_each_piece(bbox, clip, |piece| f(s, piece));
        self.stats.draws += 1;
        self.canvas.mark_dirty(surface_id, bbox);
    }

    /// A pattern brush's tile, decoded or copied into `tile` as a source
    /// is (`None` for other brushes).
    fn brush_image<'s>(
        &mut self,
        body: &[u8],
        b: &Brush,
        glz: &mut GlzWindow,
        tile: &'s mut Scratch,
    ) -> Result<Option<Pixels<'s>>, WireError> {
        match *b {
            Brush::Pattern { image, .. } => {
                let all = Rect::new(0, 0, i32::MAX, i32::MAX);
                Ok(Some(self.load_source(body, image, all, glz, tile)?.image))
            }
            _ => Ok(None),
        }
    }

    fn draw_fill(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        f: &wire::FillData,
        glz: &mut GlzWindow,
        scratch: &mut Scratches,
    ) -> Result<(), WireError> {
        let Scratches { mask, tiles, .. } = scratch;
        let mask = self.load_mask(body, &f.mask, base.bbox, glz, mask)?;
        let tile = self.brush_image(body, &f.brush, glz, &mut tiles[0])?;
        let rop = Rop::from_descriptor(f.rop, RopInput::Brush, RopInput::Dest);
        if rop == Rop::Noop {
            return Ok(());
        }
        let m = mask.as_ref().map(|m| m.as_mask());
        let brush = f.brush;
        self.paint(base, |s, piece| {
            draw_brush(s, piece, &brush, tile.as_deref(), rop, m.as_ref())
        });
        Ok(())
    }

    fn draw_copy(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        c: &wire::CopyData,
        glz: &mut GlzWindow,
        scratch: &mut Scratches,
    ) -> Result<(), WireError> {
        let rop = Rop::from_descriptor(c.rop, RopInput::Src, RopInput::Dest);
        if rop == Rop::Copy && c.mask.bitmap == 0 && self.copy_direct(body, base, c, glz)? {
            return Ok(());
        }
        let Scratches { source, mask, .. } = scratch;
        let mask = self.load_mask(body, &c.mask, base.bbox, glz, mask)?;
        let m = mask.as_ref().map(|m| m.as_mask());
        let mode = ScaleMode::from_wire(c.scale_mode);
        let bbox = base.bbox;
        // Decode even for a no-op: the image may carry CACHE_ME.
        let src = self.load_source(body, c.src, c.src_area, glz, source)?;
        if rop == Rop::Noop {
            return Ok(());
        }
        self.paint(base, |s, piece| {
            blit_source(
                s,
                piece,
                (&src.image, src.area),
                bbox,
                mode,
                rop,
                m.as_ref(),
            )
        });
        Ok(())
    }

    /// A plain unmasked copy decoded straight onto its surface, when nothing
    /// stands between the decoder and the surface: the whole image, unscaled,
    /// wholly inside the surface, unclipped (or clipped to a rectangle that
    /// covers the box), of a codec that decodes in place (GLZ: into its
    /// window and the surface in one pass) and not to be cached.
    /// `Ok(false)`: not such a draw (nothing was done).
    fn copy_direct(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        c: &wire::CopyData,
        glz: &mut GlzWindow,
    ) -> Result<bool, WireError> {
        let bbox = base.bbox;
        if !clip_covers(base.clip, bbox) {
            return Ok(false);
        }
        let Some(surface) = self.canvas.surface_mut(base.surface_id) else {
            return Ok(false);
        };
        let direct = direct_image(body, c.src).or_else(|| direct_glz(body, c.src));
        let Some(img) = direct else {
            return Ok(false);
        };
        if (img.has_alpha && !surface.keeps_alpha())
            || c.src_area != Rect::of_size(img.width, img.height)
            || !c.src_area.same_size(&bbox)
        {
            return Ok(false);
        }
        let keeps_alpha = surface.keeps_alpha();
        let Some(mut dst) = surface.dest_mut(bbox) else {
            return Ok(false);
        };
        let mut ctx = DecodeContext {
            pixmaps: &mut self.pixmaps,
            palettes: &mut self.palettes,
            glz,
            budget: &self.budget,
        };
        let alpha = if keeps_alpha {
            NoAlpha::Opaque
        } else {
            NoAlpha::Clear
        };
        decode_image_into_with(body, c.src, &mut ctx, &mut dst, &mut self.staging, alpha)?;
        if !keeps_alpha && !img.alpha_clear {
            // Store what a blit stores on a surface without alpha.
            for y in 0..dst.height() {
                for p in dst.row_mut(y) {
                    *p &= 0x00ff_ffff;
                }
            }
        }
        self.drawn_direct(body, c.src, base.surface_id, bbox);
        Ok(true)
    }

    /// Decode the image at `ptr` (which [`direct_image`] described as `img`)
    /// into `scratch`.
    fn decode_into_scratch(
        &mut self,
        body: &[u8],
        ptr: u32,
        img: crate::image::DirectImage,
        scratch: &mut Scratch,
        glz: &mut GlzWindow,
    ) -> Result<(), WireError> {
        let mut dst = scratch
            .prepare(img.width, img.height, img.has_alpha, &self.budget)
            .map_err(|e| e.at_base(ptr as usize))?;
        let mut ctx = DecodeContext {
            pixmaps: &mut self.pixmaps,
            palettes: &mut self.palettes,
            glz,
            budget: &self.budget,
        };
        decode_image_into_with(
            body,
            ptr,
            &mut ctx,
            &mut dst,
            &mut self.staging,
            NoAlpha::Opaque,
        )?;
        self.count_image(body, ptr);
        Ok(())
    }

    /// Decode the JPEG or JPEG_ALPHA image at `ptr` (which [`direct_jpeg`]
    /// admitted) into `scratch`.
    fn jpeg_into_scratch(
        &mut self,
        body: &[u8],
        ptr: u32,
        scratch: &mut Scratch,
    ) -> Result<(), WireError> {
        let budget = &self.budget;
        let room = |w: u32, h: u32, alpha: bool| {
            // Moved in: the slice it returns borrows `scratch`.
            let scratch = scratch;
            scratch.prepare_pixels(w, h, alpha, budget)
        };
        decode_jpeg_into(
            body,
            ptr,
            budget,
            &mut self.jpeg_spliced,
            &mut self.staging,
            room,
        )?;
        self.count_image(body, ptr);
        Ok(())
    }

    fn draw_opaque(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        o: &wire::OpaqueData,
        glz: &mut GlzWindow,
        scratch: &mut Scratches,
    ) -> Result<(), WireError> {
        let Scratches {
            source,
            mask,
            tiles,
            ..
        } = scratch;
        let mask = self.load_mask(body, &o.mask, base.bbox, glz, mask)?;
        let src = self.load_source(body, o.src, o.src_area, glz, source)?;
        let tile = self.brush_image(body, &o.brush, glz, &mut tiles[0])?;
        // The brush is combined with the freshly copied source.
        let rop = Rop::from_descriptor(o.rop, RopInput::Brush, RopInput::Src);
        if rop == Rop::Noop {
            return Ok(());
        }
        let m = mask.as_ref().map(|m| m.as_mask());
        let mode = ScaleMode::from_wire(o.scale_mode);
        let (bbox, brush) = (base.bbox, o.brush);
        self.paint(base, |s, piece| {
            blit_source(
                s,
                piece,
                (&src.image, src.area),
                bbox,
                mode,
                Rop::Copy,
                m.as_ref(),
            );
            draw_brush(s, piece, &brush, tile.as_deref(), rop, m.as_ref());
        });
        Ok(())
    }

    fn draw_rop3(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        d: &wire::Rop3Data,
        glz: &mut GlzWindow,
        scratch: &mut Scratches,
    ) -> Result<(), WireError> {
        let Scratches {
            source,
            mask,
            tiles,
            scaled,
        } = scratch;
        let mask = self.load_mask(body, &d.mask, base.bbox, glz, mask)?;
        let mode = ScaleMode::from_wire(d.scale_mode);
        let (area, bbox) = (d.src_area, base.bbox);
        let src = self.load_scaled_source(body, d.src, area, bbox, mode, glz, (source, scaled))?;
        let tile = self.brush_image(body, &d.brush, glz, &mut tiles[0])?;
        let paint = brush_paint(&d.brush, tile.as_deref());
        let m = mask.as_ref().map(|m| m.as_mask());
        let (dx, dy) = offset(base.bbox, src.area);
        let code = d.rop3;
        self.paint(base, |s, piece| {
            s.blit_rop3(piece, &src.image, dx, dy, paint, code, m.as_ref())
        });
        Ok(())
    }

    fn draw_text(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        t: &wire::TextData,
        glz: &mut GlzWindow,
        tiles: &mut [Scratch; 2],
    ) -> Result<(), WireError> {
        let glyphs = wire::glyph_string(body, t.str_ptr)?;
        let (bpp, top_down) = (glyphs.bpp, glyphs.top_down);
        let [fore, back] = tiles;
        let fore_tile = self.brush_image(body, &t.fore_brush, glz, fore)?;
        let back_tile = self.brush_image(body, &t.back_brush, glz, back)?;
        let Some(bounds) = self.canvas.surface(base.surface_id).map(|s| s.bounds()) else {
            self.stats.missing_surface += 1;
            return Ok(());
        };
        // Glyph coverage over the visible part of the box (max where glyphs overlap).
        let area = base.bbox.intersect(&bounds);
        let aw = area.width() as usize;
        let n = aw * area.height() as usize;
        let mut cov = core::mem::take(&mut self.coverage);
        if n > cov.capacity() {
            // Give the old map back before asking for the bigger one.
            cov = Vec::new();
            self.coverage_charge.resize(0, Use::Image)?;
            self.coverage_charge.resize(n, Use::Image)?;
            cov.try_reserve_exact(n)
                .map_err(|_| WireError::new(0, "out of memory for text"))?;
        }
        cov.clear();
        cov.resize(n, 0);
        for g in glyphs.iter() {
            let gbox = Rect::new(
                g.left,
                g.top,
                g.left.saturating_add(g.width as i32),
                g.top.saturating_add(g.height as i32),
            );
            let vis = gbox.intersect(&area);
            let stride = (g.width as usize * bpp as usize).div_ceil(8);
            for y in vis.top..vis.bottom {
                let gy = (y - gbox.top) as usize;
                let row = if top_down {
                    gy
                } else {
                    g.height as usize - 1 - gy
                };
                let src = &g.data[row * stride..(row + 1) * stride];
                for x in vis.left..vis.right {
                    let gx = (x - gbox.left) as usize;
                    let a = match bpp {
                        1 => ((src[gx / 8] >> (7 - gx % 8)) & 1) * 255,
                        4 => {
                            ((src[gx / 2] >> if gx.is_multiple_of(2) { 4 } else { 0 }) & 0x0f) * 17
                        }
                        _ => src[gx],
                    };
                    let c = &mut cov[(y - area.top) as usize * aw + (x - area.left) as usize];
                    *c = (*c).max(a);
                }
            }
        }
        let fore = brush_paint(&t.fore_brush, fore_tile.as_deref());
        let (back_area, back_brush) = (t.back_area, t.back_brush);
        self.paint(base, |s, piece| {
            if !back_area.is_empty() {
                draw_brush(
                    s,
                    piece.intersect(&back_area),
                    &back_brush,
                    back_tile.as_deref(),
                    Rop::Copy,
                    None,
                );
            }
            s.paint_coverage(piece, &cov, area, fore);
        });
        self.coverage = cov;
        Ok(())
    }

    fn draw_stroke(
        &mut self,
        body: &[u8],
        base: &DisplayBase<'_>,
        st: &wire::StrokeData,
        glz: &mut GlzWindow,
        tile: &mut Scratch,
    ) -> Result<(), WireError> {
        let path = wire::path(body, st.path_ptr)?;
        let tile = self.brush_image(body, &st.brush, glz, tile)?;
        let rop = Rop::from_descriptor(st.fore_mode, RopInput::Brush, RopInput::Dest);
        let paint = brush_paint(&st.brush, tile.as_deref());
        let mut polylines = core::mem::take(&mut self.polylines);
        polylines.flatten(&path);
        self.paint(base, |s, piece| {
            for line in polylines.iter() {
                for w in line.windows(2) {
                    s.line(piece, w[0].0, w[0].1, w[1].0, w[1].1, paint, rop);
                }
            }
        });
        self.polylines = polylines;
        Ok(())
    }

    fn copy_bits(&mut self, base: &DisplayBase<'_>, sx: i32, sy: i32) {
        let dx = base.bbox.left.saturating_sub(sx);
        let dy = base.bbox.top.saturating_sub(sy);
        let mut pieces = core::mem::take(&mut self.pieces);
        pieces.clear();
        for_each_piece(base.bbox, base.clip.map(|c| c.iter()), |p| pieces.push(p));
        // Move pieces whose source another piece would overwrite first.
        pieces.sort_by_key(|p| {
            let ky = if dy > 0 {
                -(p.top as i64)
            } else {
                p.top as i64
            };
            let kx = if dx > 0 {
                -(p.left as i64)
            } else {
                p.left as i64
            };
            (ky, kx)
        });
        let pieces = {
            let Some(s) = self.canvas.surface_mut(base.surface_id) else {
                self.stats.missing_surface += 1;
                self.pieces = pieces;
                return;
            };
            for &piece in &pieces {
                s.copy_bits(piece, dx, dy);
            }
            pieces
        };
        self.pieces = pieces;
        self.stats.draws += 1;
        self.canvas.mark_dirty(base.surface_id, base.bbox);
    }

    /// Draw one stream frame, decoded into the reused scratch buffer; an
    /// undecodable frame is dropped (and counted), one the budget cannot
    /// hold ends the channel.
    fn stream_frame(
        &mut self,
        d: wire::StreamData<'_>,
        out: &mut Outbox,
        scratch: &mut Scratch,
    ) -> Result<(), WireError> {
        let Some(stream) = self.streams.get_mut(&d.id) else {
            self.stats.dropped_frames += 1;
            return Ok(());
        };
        if let Some((_, _, dest)) = d.sized {
            stream.dest = dest;
        }
        let mut refused = None;
        let mut frame = None;
        if stream.codec as u32 == SPICE_VIDEO_CODEC_TYPE_MJPEG {
            // The decoder's working planes, charged while it runs (the
            // headers are checked against the 4096 x 4096 limit first).
            let mut working = Charge::default();
            let (budget, pixels) = (&self.budget, &mut *scratch);
            let (working_slot, refused_slot) = (&mut working, &mut refused);
            let room = move |w: u32, h: u32| {
                // Moved in for good: the decoder calls this once, and the
                // slice it returns borrows `pixels`.
                let (pixels, refused_slot) = (pixels, refused_slot);
                let got = budget.charge(pixel_bytes(w, h), Use::Image).and_then(|c| {
                    *working_slot = c;
                    pixels.prepare_pixels(w, h, false, budget)
                });
                got.inspect_err(|e| *refused_slot = Some(*e))
            };
            frame = crate::image::jpeg::decode_with(d.data, &mut self.jpeg_spliced, room).ok();
        }
        if let Some(e) = refused {
            return Err(e);
        }
        if let Some(report) = stream.on_frame(d.id, d.mm_time, frame.is_none()) {
            out.push(SPICE_MSGC_DISPLAY_STREAM_REPORT, report.to_bytes());
        }
        let Some((width, height)) = frame else {
            self.stats.dropped_frames += 1;
            return Ok(());
        };
        if !stream.top_down() {
            scratch.flip_rows();
        }
        let (surface_id, bbox) = (stream.surface_id, stream.dest);
        // Lent out while drawing (the stream itself stays borrowed otherwise).
        let clip = stream.clip.take();
        let area = Rect::of_size(width, height);
        let rects = clip.as_ref().map(|c| c.iter().copied());
        let image = scratch.image();
        self.paint_pieces(surface_id, bbox, rects, |s, piece| {
            blit_source(
                s,
                piece,
                (image, area),
                bbox,
                ScaleMode::Nearest,
                Rop::Copy,
                None,
            )
        });
        if let Some(stream) = self.streams.get_mut(&d.id) {
            stream.clip = clip;
        }
        self.stats.frames += 1;
        Ok(())
    }
}

/// A brush as the paint operand of ROP3 / text / stroke (NONE paints 0).
fn brush_paint<'a>(b: &Brush, tile: Option<&'a Image>) -> Paint<'a> {
    match (*b, tile) {
        (Brush::Solid(c), _) => Paint::Solid(c),
        (Brush::Pattern { x, y, .. }, Some(t)) => Paint::Tile(t, x, y),
        _ => Paint::Solid(0),
    }
}

/// Destination-minus-source offset for same-size draws.
fn offset(bbox: Rect, area: Rect) -> (i32, i32) {
    (
        bbox.left.saturating_sub(area.left),
        bbox.top.saturating_sub(area.top),
    )
}

/// Draw `area` of `image` (a source and the part of it to use) onto the
/// piece of `bbox`, scaled when the sizes differ.
fn blit_source(
    s: &mut Surface,
    piece: Rect,
    (image, area): (&Image, Rect),
    bbox: Rect,
    mode: ScaleMode,
    rop: Rop,
    mask: Option<&Mask<'_>>,
) {
    if area.same_size(&bbox) {
        let (dx, dy) = offset(bbox, area);
        s.blit(piece, image, dx, dy, rop, mask);
    } else {
        s.blit_scaled(piece, image, area, bbox, mode, rop, mask);
    }
}

fn draw_brush(
    s: &mut Surface,
    piece: Rect,
    brush: &Brush,
    tile: Option<&Image>,
    rop: Rop,
    mask: Option<&Mask<'_>>,
) {
    match (*brush, tile) {
        (Brush::Solid(c), _) => s.fill(piece, c, rop, mask),
        (Brush::Pattern { x, y, .. }, Some(t)) => s.tile(piece, t, x, y, rop, mask),
        // NONE still matters for rops that ignore the source (e.g. invert).
        _ => s.fill(piece, 0, rop, mask),
    }
}

#[cfg(test)]
mod tests;
