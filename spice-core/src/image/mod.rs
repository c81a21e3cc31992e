//! Images: the decoded pixel type, the image-descriptor dispatcher and one
//! module per SPICE image codec.
//!
//! Owns turning a `SpiceImage` (descriptor + codec payload) into an [`Image`].
//! Each codec module exposes a pure function over the codec payload (the
//! bytes after the per-type `data_size` field) and must never panic, read out
//! of bounds, or allocate more than the header's width x height allows
//! ([`alloc_pixels`] enforces the limit). Drawing the image is `canvas`'s job.

use crate::error::WireError;
use alloc::vec::Vec;
pub use dest::{Dest, Staging};

mod backref;
pub mod bitmap;
pub mod cache;
pub mod dest;
pub mod glz;
mod input;
pub mod jpeg;
pub mod lz;
pub mod lz4;
pub mod pixel;
pub mod quic;
mod ring;
mod rows;
pub mod spares;

/// Largest image (in pixels) any decoder will allocate: 4096 x 4096.
pub const MAX_IMAGE_PIXELS: usize = 4096 * 4096;

/// A decoded image: `width * height` pixels, row-major, top row first,
/// each pixel `0xAARRGGBB` (alpha meaningful only when `has_alpha`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixels, `width * height` of them, `0xAARRGGBB`.
    pub pixels: Vec<u32>,
    /// Whether the alpha byte carries information.
    pub has_alpha: bool,
}

impl Image {
    /// Reverse the row order (for bottom-up sources).
    pub fn flip_rows(&mut self) {
        let w = self.width as usize;
        let h = self.height as usize;
        if w == 0 || self.pixels.len() != w * h {
            return;
        }
        bitmap::flip_rows(&mut self.pixels, w);
    }
}

/// The number of pixels of a `width x height` image, refusing empty,
/// overflowing or over-limit ([`MAX_IMAGE_PIXELS`]) sizes.
pub fn pixel_count(width: u32, height: u32) -> Result<usize, WireError> {
    let n = (width as usize)
        .checked_mul(height as usize)
        .ok_or(WireError::new(0, "image size overflows"))?;
    if n == 0 {
        return Err(WireError::new(0, "empty image"));
    }
    if n > MAX_IMAGE_PIXELS {
        return Err(WireError::new(0, "image too large"));
    }
    Ok(n)
}

/// Allocate a zeroed pixel buffer for a `width x height` image, refusing
/// empty, overflowing or over-limit sizes.
pub fn alloc_pixels(width: u32, height: u32) -> Result<Vec<u32>, WireError> {
    let n = pixel_count(width, height)?;
    // One zeroed allocation (calloc on a host: fresh pages come zeroed, no
    // second pass over the image before the decoder writes it).
    bytemuck::allocation::try_zeroed_vec(n)
        .map_err(|_| WireError::new(0, "out of memory for image"))
}

// ---------------------------------------------------------------------------
// The SpiceImage dispatcher.

use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::enums::*;
use crate::wire::Reader;
use alloc::sync::Arc;
use cache::{PaletteCache, PixmapCache};
use glz::GlzWindow;

/// Size of `SpiceImageDescriptor` on the wire (id u64, type u8, flags u8,
/// width u32, height u32).
pub const IMAGE_DESCRIPTOR_SIZE: usize = 18;

/// The `SpiceImageDescriptor` that starts every image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageDescriptor {
    /// Cache id.
    pub id: u64,
    /// `SPICE_IMAGE_TYPE_*`.
    pub kind: u8,
    /// `SPICE_IMAGE_FLAGS_*`.
    pub flags: u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl ImageDescriptor {
    /// Read a descriptor at the reader's position.
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            id: r.u64()?,
            kind: r.u8()?,
            flags: r.u8()?,
            width: r.u32()?,
            height: r.u32()?,
        })
    }
}

/// What an image reference resolves to.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// Pixels (shared with the pixmap cache when cached).
    Image(Arc<Image>),
    /// Another surface of the same channel (`SPICE_IMAGE_TYPE_SURFACE`);
    /// the caller reads it from its canvas.
    Surface(u32),
}

/// The state image decoding needs besides the message: the caches and the
/// GLZ dictionary.
#[derive(Debug)]
pub struct DecodeContext<'a> {
    /// Pixmap cache (`CACHE_ME` / `FROM_CACHE`).
    pub pixmaps: &'a mut PixmapCache,
    /// Palette cache (`PAL_CACHE_ME` / `PAL_FROM_CACHE`).
    pub palettes: &'a mut PaletteCache,
    /// Shared GLZ window.
    pub glz: &'a mut GlzWindow,
    /// The session's budget, asked before each image is decoded.
    pub budget: &'a Budget,
}

/// Bytes to reserve while decoding an image of `width x height`: its pixels
/// and as much again for the decoders' working buffers (GLZ units, LZ alpha
/// and palette rows, JPEG planes).
pub fn decode_bytes(width: u32, height: u32) -> usize {
    pixel_bytes(width, height).saturating_mul(2)
}

/// The size the codec header of `data` claims (what the decoder will
/// allocate), read without decoding; the descriptor's size when the codec
/// has no header of its own or it does not parse (the decoder then fails).
fn claimed_size(kind: u32, data: &[u8], desc: &ImageDescriptor) -> (u32, u32) {
    let parsed = match kind {
        SPICE_IMAGE_TYPE_LZ_RGB | SPICE_IMAGE_TYPE_LZ_PLT => {
            lz::parse_header(data).map(|h| (h.width, h.height)).ok()
        }
        SPICE_IMAGE_TYPE_GLZ_RGB => glz::GlzHeader::parse(data)
            .map(|h| (h.width, h.height))
            .ok(),
        SPICE_IMAGE_TYPE_QUIC => quic::parse_header(data).map(|h| (h.width, h.height)).ok(),
        SPICE_IMAGE_TYPE_JPEG | SPICE_IMAGE_TYPE_JPEG_ALPHA => jpeg::frame_size(data),
        _ => None,
    };
    let (w, h) = parsed.unwrap_or((desc.width, desc.height));
    // Charge the larger of the two claims.
    if pixel_bytes(w, h) >= pixel_bytes(desc.width, desc.height) {
        (w, h)
    } else {
        (desc.width, desc.height)
    }
}

/// Most entries a palette may have: the largest indexed format (8 bits per
/// pixel) can address 256.
pub const MAX_PALETTE_ENTRIES: usize = 256;

/// A palette as one image uses it: the palette cache's entry, or one read
/// from the message into a fixed array (no allocation per image).
// Large on purpose: an inline palette lives on the stack for one decode
// (1 KiB) instead of on the heap.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Palette {
    /// Shared with the palette cache.
    Cached(Arc<Vec<u32>>),
    /// Read from the message: the first `len` entries of `ents`.
    Inline {
        /// Entries (only the first `len` are the palette's).
        ents: [u32; MAX_PALETTE_ENTRIES],
        /// How many entries the palette has.
        len: usize,
    },
}

impl Palette {
    /// The palette's entries.
    pub fn entries(&self) -> &[u32] {
        match self {
            Palette::Cached(v) => v,
            Palette::Inline { ents, len } => ents.get(..*len).unwrap_or(ents),
        }
    }
}

/// Read a `SpicePalette` at body offset `ptr`: its unique id and entries.
fn read_palette(body: &Reader<'_>, ptr: u32) -> Result<(u64, Palette), WireError> {
    let mut r = body.at(ptr)?;
    let unique = r.u64()?;
    let at = r.pos();
    let n = r.u16()? as usize;
    if n > MAX_PALETTE_ENTRIES {
        return Err(WireError::new(at, "palette has more than 256 entries"));
    }
    if n * 4 > r.remaining() {
        return Err(r.error("palette truncated"));
    }
    let mut ents = [0u32; MAX_PALETTE_ENTRIES];
    for e in ents.iter_mut().take(n) {
        *e = r.u32()?;
    }
    Ok((unique, Palette::Inline { ents, len: n }))
}

/// The palette of a BITMAP or LZ_PLT image: either from the cache
/// (`PAL_FROM_CACHE`, reading the u64 id) or behind a u32 pointer (cached
/// when `PAL_CACHE_ME`, the only case that allocates). A null pointer
/// means "no palette".
fn palette_field(
    r: &mut Reader<'_>,
    bitmap_flags: u8,
    palettes: &mut PaletteCache,
) -> Result<Option<Palette>, WireError> {
    let flags = bitmap_flags as u32;
    if flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE != 0 {
        let at = r.pos();
        let id = r.u64()?;
        return palettes
            .get(id)
            .map(|p| Some(Palette::Cached(p)))
            .ok_or(WireError::new(at, "palette not in cache"));
    }
    let ptr = r.u32()?;
    if ptr == 0 {
        return Ok(None);
    }
    let (unique, palette) = read_palette(r, ptr)?;
    if flags & SPICE_BITMAP_FLAGS_PAL_CACHE_ME == 0 {
        return Ok(Some(palette));
    }
    let ents = palette.entries();
    let mut v = Vec::new();
    v.try_reserve_exact(ents.len())
        .map_err(|_| r.error("out of memory for palette"))?;
    v.extend_from_slice(ents);
    let shared = Arc::new(v);
    palettes.insert(unique, shared.clone());
    Ok(Some(Palette::Cached(shared)))
}

/// The fields of an `LZPLTData` after the descriptor: the payload's body
/// offset and bytes, and its palette.
fn lz_plt_fields<'a>(
    r: &mut Reader<'a>,
    palettes: &mut PaletteCache,
) -> Result<(usize, &'a [u8], Option<Palette>), WireError> {
    let flags = r.u8()?;
    let size = r.u32()? as usize;
    let palette = palette_field(r, flags, palettes)?;
    let at = r.pos();
    Ok((at, r.bytes(size)?, palette))
}

/// The codec payload of a `kind` image whose descriptor `r` has just read,
/// for [`claimed_size`] (empty when the layout has no plain `data_size`
/// field right there, or it is truncated).
fn peek_data<'a>(kind: u32, r: &Reader<'a>) -> &'a [u8] {
    let mut r = *r;
    let skip = match kind {
        SPICE_IMAGE_TYPE_JPEG_ALPHA => 5,
        _ => 0,
    };
    let sized = matches!(
        kind,
        SPICE_IMAGE_TYPE_LZ_RGB
            | SPICE_IMAGE_TYPE_GLZ_RGB
            | SPICE_IMAGE_TYPE_QUIC
            | SPICE_IMAGE_TYPE_JPEG
            | SPICE_IMAGE_TYPE_JPEG_ALPHA
    );
    if !sized || r.bytes(skip).is_err() {
        return &[];
    }
    sized_data(&mut r).map(|(_, d)| d).unwrap_or(&[])
}

/// `data_size` followed by that many bytes.
fn sized_data<'a>(r: &mut Reader<'a>) -> Result<(usize, &'a [u8]), WireError> {
    let size = r.u32()? as usize;
    let at = r.pos();
    Ok((at, r.bytes(size)?))
}

/// Read the descriptor of the image at body offset `ptr` and ask the budget
/// for what its decoder may allocate, before any decoder runs (the charge is
/// given back when dropped; a cached result is paid for by the cache's own
/// charge). Returns the reader just past the descriptor.
fn begin<'a>(
    body: &'a [u8],
    ptr: u32,
    budget: &Budget,
) -> Result<(Reader<'a>, ImageDescriptor, Charge), WireError> {
    let mut r = Reader::new(body).at(ptr)?;
    let desc = ImageDescriptor::parse(&mut r)?;
    let kind = desc.kind as u32;
    let (cw, ch) = claimed_size(kind, peek_data(kind, &r), &desc);
    let charge = budget
        .charge(decode_bytes(cw, ch), Use::Image)
        .map_err(|e| e.at_base(ptr as usize))?;
    Ok((r, desc, charge))
}

/// Decode the `SpiceImage` at body offset `ptr`, honouring and updating
/// the caches. With `as_mask`, a BITMAP is read as a 1-bit mask (set bits
/// become non-zero pixels, the palette is ignored).
pub fn decode_image(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    as_mask: bool,
) -> Result<Decoded, WireError> {
    decode_image_with(body, ptr, ctx, as_mask, &mut Staging::default())
}

/// [`decode_image`] staging what an LZ or LZ4 decoder writing into a
/// pixmap cache's spare buffer cannot write in place (16/24-bit LZ4 rows,
/// LZ palette indices) in the caller's `stage` (grown, and charged to the
/// budget, only when too small).
pub fn decode_image_with(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    as_mask: bool,
    stage: &mut Staging,
) -> Result<Decoded, WireError> {
    if !as_mask {
        if let Some(image) = decode_into_spare(body, ptr, ctx, stage)? {
            return Ok(Decoded::Image(image));
        }
    }
    let (mut r, desc, _decoding) = begin(body, ptr, ctx.budget)?;
    let kind = desc.kind as u32;
    let lossy = matches!(kind, SPICE_IMAGE_TYPE_JPEG | SPICE_IMAGE_TYPE_JPEG_ALPHA);
    let image: Arc<Image> = match kind {
        SPICE_IMAGE_TYPE_FROM_CACHE | SPICE_IMAGE_TYPE_FROM_CACHE_LOSSLESS => {
            let img = ctx
                .pixmaps
                .get(desc.id)
                .ok_or(WireError::new(ptr as usize, "image not in pixmap cache"))?;
            return Ok(Decoded::Image(img));
        }
        SPICE_IMAGE_TYPE_SURFACE => return Ok(Decoded::Surface(r.u32()?)),
        SPICE_IMAGE_TYPE_BITMAP => {
            let (info, palette) = bitmap_header(&mut r, ctx.palettes)?;
            let at = r.pos();
            let data = r.rest();
            let res = if as_mask {
                bitmap::decode_mask(&info, data)
            } else {
                bitmap::decode(&info, data, palette.as_ref().map(Palette::entries))
            };
            Arc::new(res.map_err(|e| e.at_base(at))?)
        }
        SPICE_IMAGE_TYPE_LZ_RGB => {
            let (at, data) = sized_data(&mut r)?;
            Arc::new(lz::decode(data, None).map_err(|e| e.at_base(at))?)
        }
        SPICE_IMAGE_TYPE_LZ_PLT => {
            let (at, data, palette) = lz_plt_fields(&mut r, ctx.palettes)?;
            Arc::new(
                lz::decode(data, palette.as_ref().map(Palette::entries))
                    .map_err(|e| e.at_base(at))?,
            )
        }
        SPICE_IMAGE_TYPE_GLZ_RGB => {
            let (at, data) = sized_data(&mut r)?;
            ctx.glz.decode(data, None).map_err(|e| e.at_base(at))?
        }
        SPICE_IMAGE_TYPE_ZLIB_GLZ_RGB => {
            let glz_size = r.u32()?;
            let (at, data) = sized_data(&mut r)?;
            ctx.glz
                .decode_zlib(data, glz_size)
                .map_err(|e| e.at_base(at))?
        }
        SPICE_IMAGE_TYPE_QUIC => {
            let (at, data) = sized_data(&mut r)?;
            Arc::new(quic::decode(data).map_err(|e| e.at_base(at))?)
        }
        SPICE_IMAGE_TYPE_LZ4 => {
            let (at, data) = sized_data(&mut r)?;
            Arc::new(lz4::decode(data, desc.width, desc.height).map_err(|e| e.at_base(at))?)
        }
        SPICE_IMAGE_TYPE_JPEG => {
            let (at, data) = sized_data(&mut r)?;
            Arc::new(jpeg::decode(data).map_err(|e| e.at_base(at))?)
        }
        SPICE_IMAGE_TYPE_JPEG_ALPHA => {
            let _flags = r.u8()?;
            let jpeg_size = r.u32()? as usize;
            let (at, data) = sized_data(&mut r)?;
            if jpeg_size > data.len() {
                return Err(WireError::new(at, "JPEG_ALPHA jpeg_size beyond data"));
            }
            let (jpeg_part, alpha_part) = data.split_at(jpeg_size);
            let mut img = jpeg::decode(jpeg_part).map_err(|e| e.at_base(at))?;
            lz::decode_alpha(alpha_part, &mut img).map_err(|e| e.at_base(at + jpeg_size))?;
            Arc::new(img)
        }
        _ => return Err(WireError::new(ptr as usize + 8, "unknown image type")),
    };
    let flags = desc.flags as u32;
    if flags & (SPICE_IMAGE_FLAGS_CACHE_ME | SPICE_IMAGE_FLAGS_CACHE_REPLACE_ME) != 0 {
        ctx.pixmaps
            .insert(desc.id, image.clone(), lossy)
            .map_err(|e| e.at_base(ptr as usize))?;
    }
    Ok(Decoded::Image(image))
}

/// What an image without alpha should store in its pixels' alpha byte
/// when decoded in place ([`decode_image_into_with`]). Only QUIC, whose
/// decoder would otherwise store it opaque, does as asked; every other
/// codec stores what [`DirectImage::alpha_clear`] says either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAlpha {
    /// Opaque (0xff), as [`decode_image`] gives such an image.
    Opaque,
    /// Clear, as a surface without alpha holds its pixels.
    Clear,
}

/// An image [`decode_image_into`] can decode into a destination rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether its pixels carry alpha (as [`Image::has_alpha`] would say).
    pub has_alpha: bool,
    /// Whether its decoder, asked for [`NoAlpha::Clear`], leaves every
    /// pixel's alpha byte clear (what a surface without alpha stores), so
    /// that need not be done again.
    pub alpha_clear: bool,
}

/// The image at body offset `ptr`, when it can be decoded straight into a
/// destination rectangle with [`decode_image_into`]: a QUIC, LZ_RGB (colour
/// or A8), LZ_PLT, LZ4 or BITMAP (any format) image, not to be cached (a
/// cache holds the decoded image itself), whose codec header agrees with
/// its descriptor.
pub fn direct_image(body: &[u8], ptr: u32) -> Option<DirectImage> {
    let (desc, img) = in_place(body, ptr)?;
    (!to_be_cached(&desc)).then_some(img)
}

/// The image at body offset `ptr`, when it is a GLZ_RGB image of a colour
/// type, not to be cached, whose header agrees with its descriptor:
/// [`decode_image_into`] then decodes it into the window and a destination
/// rectangle in one pass. Kept apart from [`direct_image`]: a GLZ image
/// drawn any other way is shared with the window, not copied.
pub fn direct_glz(body: &[u8], ptr: u32) -> Option<DirectImage> {
    let mut r = Reader::new(body).at(ptr).ok()?;
    let desc = ImageDescriptor::parse(&mut r).ok()?;
    if desc.kind as u32 != SPICE_IMAGE_TYPE_GLZ_RGB || to_be_cached(&desc) {
        return None;
    }
    let h = glz::GlzHeader::parse(sized_data(&mut r).ok()?.1).ok()?;
    let alpha = match h.image_type {
        lz::LZ_IMAGE_TYPE_RGBA => true,
        lz::LZ_IMAGE_TYPE_RGB16 | lz::LZ_IMAGE_TYPE_RGB24 | lz::LZ_IMAGE_TYPE_RGB32 => false,
        _ => return None,
    };
    ((h.width, h.height) == (desc.width, desc.height)).then_some(DirectImage {
        width: h.width,
        height: h.height,
        has_alpha: alpha,
        // Its colour pass leaves the alpha byte clear.
        alpha_clear: !alpha,
    })
}

/// The LZ payload of the image at body offset `ptr` and its offset in
/// `body`, when [`decode_image_into`] would decode it straight into a
/// destination through [`lz::decode_into`]: an LZ_RGB image not to be
/// cached (what [`direct_image`] admits of LZ_RGB), whose decode the
/// budget can hold now (the charge [`decode_image_into`] takes for the
/// decode, taken and given back here). For a caller that decodes such
/// images itself, resumably ([`lz::LzRows`]).
pub fn lz_direct_payload<'a>(
    body: &'a [u8],
    ptr: u32,
    budget: &Budget,
) -> Option<(usize, &'a [u8])> {
    direct_image(body, ptr)?;
    let (mut r, desc, _charge) = begin(body, ptr, budget).ok()?;
    if desc.kind as u32 != SPICE_IMAGE_TYPE_LZ_RGB {
        return None;
    }
    sized_data(&mut r).ok()
}

/// Whether an image carries `CACHE_ME` or `CACHE_REPLACE_ME`.
fn to_be_cached(desc: &ImageDescriptor) -> bool {
    desc.flags as u32 & (SPICE_IMAGE_FLAGS_CACHE_ME | SPICE_IMAGE_FLAGS_CACHE_REPLACE_ME) != 0
}

/// The descriptor of the image at body offset `ptr` and how it decodes in
/// place, when its codec can ([`direct_image`] without the cache test).
fn in_place(body: &[u8], ptr: u32) -> Option<(ImageDescriptor, DirectImage)> {
    let mut r = Reader::new(body).at(ptr).ok()?;
    let desc = ImageDescriptor::parse(&mut r).ok()?;
    let size = (desc.width, desc.height);
    let (header, has_alpha, alpha_clear) = match desc.kind as u32 {
        SPICE_IMAGE_TYPE_QUIC => {
            let h = quic::parse_header(sized_data(&mut r).ok()?.1).ok()?;
            (
                (h.width, h.height),
                h.image_type == quic::QuicImageType::Rgba,
                // Its types without an alpha plane store the alpha byte
                // asked for (`NoAlpha`).
                h.image_type != quic::QuicImageType::Rgba,
            )
        }
        SPICE_IMAGE_TYPE_LZ_RGB => {
            let h = lz::parse_header(sized_data(&mut r).ok()?.1).ok()?;
            let alpha = match h.kind {
                lz::LZ_IMAGE_TYPE_RGBA | lz::LZ_IMAGE_TYPE_A8 => true,
                lz::LZ_IMAGE_TYPE_RGB16 | lz::LZ_IMAGE_TYPE_RGB24 | lz::LZ_IMAGE_TYPE_RGB32 => {
                    false
                }
                _ => return None,
            };
            ((h.width, h.height), alpha, lz::leaves_alpha_clear(h.kind))
        }
        SPICE_IMAGE_TYPE_LZ_PLT => {
            let flags = r.u8().ok()? as u32;
            let size = r.u32().ok()? as usize;
            // The palette field: a u64 cache id or a u32 pointer.
            let field = if flags & SPICE_BITMAP_FLAGS_PAL_FROM_CACHE != 0 {
                8
            } else {
                4
            };
            r.bytes(field).ok()?;
            let h = lz::parse_header(r.bytes(size).ok()?).ok()?;
            if !lz::is_plt(h.kind) {
                return None;
            }
            // Palette entries are taken as they come, high byte included.
            ((h.width, h.height), false, false)
        }
        SPICE_IMAGE_TYPE_LZ4 => {
            let format = *sized_data(&mut r).ok()?.1.get(1)? as u32;
            (
                size,
                format == SPICE_BITMAP_FMT_RGBA,
                lz4::leaves_alpha_clear(format),
            )
        }
        SPICE_IMAGE_TYPE_BITMAP => {
            let format = r.u8().ok()?;
            bitmap::bits_per_pixel(format)?;
            r.u8().ok()?;
            (
                (r.u32().ok()?, r.u32().ok()?),
                bitmap::has_alpha(format),
                bitmap::leaves_alpha_clear(format as u32),
            )
        }
        _ => return None,
    };
    (header == size && size.0 > 0 && size.1 > 0).then_some((
        desc,
        DirectImage {
            width: size.0,
            height: size.1,
            has_alpha,
            alpha_clear,
        },
    ))
}

/// Decode a `CACHE_ME` image of an in-place codec, or a JPEG, into a
/// spare of the pixmap cache (an evicted image's buffer of exactly its
/// size) and cache it; `None` when there is no such spare or it is not
/// such an image (then nothing was done).
fn decode_into_spare(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    stage: &mut Staging,
) -> Result<Option<Arc<Image>>, WireError> {
    let Some((desc, img)) = in_place(body, ptr) else {
        return jpeg_into_spare(body, ptr, ctx, stage);
    };
    if !to_be_cached(&desc) {
        return Ok(None);
    }
    let n = pixel_count(img.width, img.height).map_err(|e| e.at_base(ptr as usize))?;
    let Some((mut pixels, spare)) = ctx.pixmaps.take_spare(n) else {
        return Ok(None);
    };
    // Within the spare's capacity: no allocation.
    pixels.resize(n, 0);
    let (w, h) = (img.width as usize, img.height as usize);
    let mut dst = Dest::new(&mut pixels, w, h, w).map_err(|e| e.at_base(ptr as usize))?;
    decode_image_into_with(body, ptr, ctx, &mut dst, stage, NoAlpha::Opaque)?;
    let image = Image {
        width: img.width,
        height: img.height,
        pixels,
        has_alpha: img.has_alpha,
    };
    let image = spares::refill(Some(spare), image);
    ctx.pixmaps
        .insert(desc.id, image.clone(), false)
        .map_err(|e| e.at_base(ptr as usize))?;
    Ok(Some(image))
}

/// [`decode_into_spare`] for a `CACHE_ME` JPEG or JPEG_ALPHA image, with
/// a spare of its descriptor's size (a frame of another size, which the
/// server does not send, is decoded into a buffer of its own).
fn jpeg_into_spare(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    stage: &mut Staging,
) -> Result<Option<Arc<Image>>, WireError> {
    let Ok(desc) = Reader::new(body)
        .at(ptr)
        .and_then(|mut r| ImageDescriptor::parse(&mut r))
    else {
        return Ok(None);
    };
    let kind = desc.kind as u32;
    if !matches!(kind, SPICE_IMAGE_TYPE_JPEG | SPICE_IMAGE_TYPE_JPEG_ALPHA) || !to_be_cached(&desc)
    {
        return Ok(None);
    }
    let Ok(n) = pixel_count(desc.width, desc.height) else {
        return Ok(None);
    };
    let Some((mut pixels, spare)) = ctx.pixmaps.take_spare(n) else {
        return Ok(None);
    };
    // Within the spare's capacity: no allocation.
    pixels.resize(n, 0);
    let mut own = Vec::new();
    let (spare_px, own_px) = (&mut pixels, &mut own);
    let room = move |w: u32, h: u32, _alpha: bool| {
        // Moved into the body: the slice it returns borrows one of them.
        let (spare_px, own_px) = (spare_px, own_px);
        if (w, h) == (desc.width, desc.height) {
            Ok(spare_px.as_mut_slice())
        } else {
            *own_px = alloc_pixels(w, h)?;
            Ok(own_px.as_mut_slice())
        }
    };
    let (width, height, has_alpha) =
        decode_jpeg_into(body, ptr, ctx.budget, &mut Vec::new(), stage, room)?;
    let (image, spare) = if own.is_empty() {
        (pixels, Some(spare))
    } else {
        (own, None)
    };
    let image = Image {
        width,
        height,
        pixels: image,
        has_alpha,
    };
    let image = spares::refill(spare, image);
    ctx.pixmaps
        .insert(desc.id, image.clone(), true)
        .map_err(|e| e.at_base(ptr as usize))?;
    Ok(Some(image))
}

/// Decode the image at body offset `ptr`, which [`direct_image`] or
/// [`direct_glz`] admitted, straight into `dst` (of that size). The budget is asked for the
/// decoder's working room first, as [`decode_image`] does. What an LZ or
/// LZ4 decoder stages goes into a buffer allocated for this call:
/// [`decode_image_into_with`] reuses one.
pub fn decode_image_into(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    decode_image_into_with(
        body,
        ptr,
        ctx,
        dst,
        &mut Staging::default(),
        NoAlpha::Opaque,
    )
}

/// [`decode_image_into`] staging what an LZ or LZ4 decoder cannot write
/// straight into `dst` (an LZ4 image into a strided `dst`, byte rows) in the caller's
/// `stage` (grown, and charged to the budget, only when too small), and
/// asking for `alpha` in the alpha byte of an image without alpha.
pub fn decode_image_into_with(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    dst: &mut Dest<'_>,
    stage: &mut Staging,
    alpha: NoAlpha,
) -> Result<(), WireError> {
    let (mut r, desc, _decoding) = begin(body, ptr, ctx.budget)?;
    let kind = desc.kind as u32;
    dst.check_size(desc.width, desc.height)
        .map_err(|e| e.at_base(ptr as usize))?;
    match kind {
        SPICE_IMAGE_TYPE_BITMAP => {
            let (info, palette) = bitmap_header(&mut r, ctx.palettes)?;
            let at = r.pos();
            let palette = palette.as_ref().map(Palette::entries);
            bitmap::decode_into(&info, r.rest(), palette, dst).map_err(|e| e.at_base(at))
        }
        SPICE_IMAGE_TYPE_LZ_PLT => {
            let (at, data, palette) = lz_plt_fields(&mut r, ctx.palettes)?;
            let need = lz::staging_pixels(data, dst);
            let run = stage_for(need, stage, ctx.budget).map_err(|e| e.at_base(at))?;
            let palette = palette.as_ref().map(Palette::entries);
            lz::decode_into_with(data, palette, dst, run).map_err(|e| e.at_base(at))
        }
        SPICE_IMAGE_TYPE_LZ_RGB => {
            let (at, data) = sized_data(&mut r)?;
            let need = lz::staging_pixels(data, dst);
            let run = stage_for(need, stage, ctx.budget).map_err(|e| e.at_base(at))?;
            lz::decode_into_with(data, None, dst, run).map_err(|e| e.at_base(at))
        }
        SPICE_IMAGE_TYPE_QUIC => {
            let (at, data) = sized_data(&mut r)?;
            match alpha {
                NoAlpha::Opaque => quic::decode_into(data, dst),
                NoAlpha::Clear => quic::decode_into_clear(data, dst),
            }
            .map_err(|e| e.at_base(at))
        }
        SPICE_IMAGE_TYPE_LZ4 => {
            let (at, data) = sized_data(&mut r)?;
            let need = lz4::staging_pixels(data, dst);
            let run = stage_for(need, stage, ctx.budget).map_err(|e| e.at_base(at))?;
            lz4::decode_into_with(data, dst, run).map_err(|e| e.at_base(at))
        }
        SPICE_IMAGE_TYPE_GLZ_RGB => {
            let (at, data) = sized_data(&mut r)?;
            ctx.glz.decode_into(data, dst).map_err(|e| e.at_base(at))
        }
        _ => Err(WireError::new(
            ptr as usize + 8,
            "image type cannot be decoded in place",
        )),
    }
}

/// The size of the mask image at body offset `ptr` when
/// [`decode_mask_into`] can decode it into a caller's buffer: a 1-bit
/// BITMAP not to be cached (its bitmap header's size).
pub fn direct_mask(body: &[u8], ptr: u32) -> Option<(u32, u32)> {
    let mut r = Reader::new(body).at(ptr).ok()?;
    let desc = ImageDescriptor::parse(&mut r).ok()?;
    let format = r.u8().ok()? as u32;
    let one_bit = matches!(format, SPICE_BITMAP_FMT_1BIT_LE | SPICE_BITMAP_FMT_1BIT_BE);
    if desc.kind as u32 != SPICE_IMAGE_TYPE_BITMAP || !one_bit || to_be_cached(&desc) {
        return None;
    }
    r.u8().ok()?;
    let size = (r.u32().ok()?, r.u32().ok()?);
    (size.0 > 0 && size.1 > 0).then_some(size)
}

/// Decode the mask at body offset `ptr`, which [`direct_mask`] admitted,
/// into `dst` (of that size) as [`decode_image`] does with `as_mask`.
pub fn decode_mask_into(
    body: &[u8],
    ptr: u32,
    ctx: &mut DecodeContext<'_>,
    dst: &mut Dest<'_>,
) -> Result<(), WireError> {
    let (mut r, desc, _decoding) = begin(body, ptr, ctx.budget)?;
    if desc.kind as u32 != SPICE_IMAGE_TYPE_BITMAP {
        return Err(WireError::new(ptr as usize + 8, "mask is not a BITMAP"));
    }
    let (info, _palette) = bitmap_header(&mut r, ctx.palettes)?;
    let at = r.pos();
    bitmap::decode_mask_into(&info, r.rest(), dst).map_err(|e| e.at_base(at))
}

/// Whether the image at body offset `ptr` is a JPEG or JPEG_ALPHA image
/// not to be cached, which [`decode_jpeg_into`] decodes into a caller's
/// buffer.
pub fn direct_jpeg(body: &[u8], ptr: u32) -> bool {
    let mut r = match Reader::new(body).at(ptr) {
        Ok(r) => r,
        Err(_) => return false,
    };
    ImageDescriptor::parse(&mut r).is_ok_and(|d| {
        let kind = d.kind as u32;
        (kind == SPICE_IMAGE_TYPE_JPEG || kind == SPICE_IMAGE_TYPE_JPEG_ALPHA) && !to_be_cached(&d)
    })
}

/// Decode the JPEG or JPEG_ALPHA image at body offset `ptr` (which
/// [`direct_jpeg`] admitted) into the pixels `room(width, height,
/// has_alpha)` lends once the frame header is read and checked (exactly
/// `width * height` of them, rows `width` apart); returns the frame size
/// and whether it has alpha. The decoder's working room
/// ([`decode_bytes`]) is charged to `budget` while it runs, a JPEG_ALPHA's alpha plane is staged in
/// `stage`, and an abbreviated JPEG is completed in `spliced` (both
/// kept by the caller for the next image).
pub fn decode_jpeg_into<'d>(
    body: &[u8],
    ptr: u32,
    budget: &Budget,
    spliced: &mut Vec<u8>,
    stage: &mut Staging,
    room: impl FnOnce(u32, u32, bool) -> Result<&'d mut [u32], WireError>,
) -> Result<(u32, u32, bool), WireError> {
    let mut r = Reader::new(body).at(ptr)?;
    let desc = ImageDescriptor::parse(&mut r)?;
    let alpha = desc.kind as u32 == SPICE_IMAGE_TYPE_JPEG_ALPHA;
    let (at, jpeg, plane) = if alpha {
        let _flags = r.u8()?;
        let jpeg_size = r.u32()? as usize;
        let (at, data) = sized_data(&mut r)?;
        if jpeg_size > data.len() {
            return Err(WireError::new(at, "JPEG_ALPHA jpeg_size beyond data"));
        }
        let (jpeg, plane) = data.split_at(jpeg_size);
        (at, jpeg, Some((at + jpeg_size, plane)))
    } else {
        let (at, data) = sized_data(&mut r)?;
        (at, data, None)
    };
    // What `begin` asks for any other image: its pixels and as much again.
    let mut working = Charge::default();
    let room = |w: u32, h: u32| {
        working = budget.charge(decode_bytes(w, h), Use::Image)?;
        room(w, h, alpha)
    };
    let (w, h, pixels) = jpeg::decode_lent(jpeg, spliced, room).map_err(|e| e.at_base(at))?;
    drop(working);
    if let Some((at, plane)) = plane {
        let (wu, hu) = (w as usize, h as usize);
        let mut dst = Dest::new(pixels, wu, hu, wu).map_err(|e| e.at_base(at))?;
        let run =
            stage_for(lz::alpha_staging_pixels(w, h), stage, budget).map_err(|e| e.at_base(at))?;
        lz::decode_alpha_into(plane, &mut dst, run).map_err(|e| e.at_base(at))?;
    }
    Ok((w, h, alpha))
}

/// `stage`'s run, made at least `need` pixels long (what the decoder said
/// it will stage; charged to `budget` before it grows).
fn stage_for<'s>(
    need: usize,
    stage: &'s mut Staging,
    budget: &Budget,
) -> Result<&'s mut Vec<u32>, WireError> {
    stage.reserve(need, budget)?;
    Ok(stage.pixels_mut())
}

/// The `SpiceBitmap` fields after the descriptor, and its palette.
type BitmapHeader = (bitmap::BitmapInfo, Option<Palette>);

/// Read a `SpiceBitmap` header and its palette field.
fn bitmap_header(
    r: &mut Reader<'_>,
    palettes: &mut PaletteCache,
) -> Result<BitmapHeader, WireError> {
    let format = r.u8()?;
    let flags = r.u8()?;
    let info = bitmap::BitmapInfo {
        format,
        flags,
        width: r.u32()?,
        height: r.u32()?,
        stride: r.u32()?,
    };
    let palette = palette_field(r, flags, palettes)?;
    Ok((info, palette))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;
    use alloc::vec;

    /// The allocator's zeroed buffer holds exactly the image, all zero;
    /// sizes out of range are refused before allocating.
    #[test]
    fn alloc_pixels_zeroed_and_bounded() {
        assert_eq!(alloc_pixels(3, 2).unwrap(), vec![0u32; 6]);
        assert!(alloc_pixels(0, 5).is_err());
        assert!(alloc_pixels(u32::MAX, u32::MAX).is_err());
    }

    struct Caches {
        pixmaps: PixmapCache,
        palettes: PaletteCache,
        glz: GlzWindow,
        budget: Budget,
    }
    impl Caches {
        fn new() -> Self {
            Self {
                pixmaps: PixmapCache::new(1 << 20),
                palettes: PaletteCache::new(),
                glz: GlzWindow::new(0),
                budget: Budget::new(1 << 20),
            }
        }
        fn ctx(&mut self) -> DecodeContext<'_> {
            DecodeContext {
                pixmaps: &mut self.pixmaps,
                palettes: &mut self.palettes,
                glz: &mut self.glz,
                budget: &self.budget,
            }
        }
    }

    /// SpiceImageDescriptor as laid out in spice.proto.
    fn descriptor(w: &mut Writer, id: u64, kind: u32, flags: u32, width: u32, height: u32) {
        w.u64(id)
            .u8(kind as u8)
            .u8(flags as u8)
            .u32(width)
            .u32(height);
    }

    fn unwrap_image(d: Decoded) -> Arc<Image> {
        match d {
            Decoded::Image(i) => i,
            Decoded::Surface(_) => panic!("expected pixels"),
        }
    }

    #[test]
    fn bitmap_with_palette_pointer_cached_then_reused() {
        // Image at offset 4 (after 4 bytes of "message"), palette placed after the data.
        let mut w = Writer::new();
        w.u32(0xdeadbeef);
        descriptor(
            &mut w,
            77,
            SPICE_IMAGE_TYPE_BITMAP,
            SPICE_IMAGE_FLAGS_CACHE_ME,
            2,
            1,
        );
        // BitmapData: format, flags, x, y, stride, palette ptr, data
        w.u8(SPICE_BITMAP_FMT_8BIT as u8)
            .u8((SPICE_BITMAP_FLAGS_TOP_DOWN | SPICE_BITMAP_FLAGS_PAL_CACHE_ME) as u8);
        w.u32(2).u32(1).u32(2);
        let pal_ptr_at = w.buf.len();
        w.u32(0);
        w.u8(1).u8(0);
        let pal_at = w.buf.len() as u32;
        w.buf[pal_ptr_at..pal_ptr_at + 4].copy_from_slice(&pal_at.to_le_bytes());
        // Palette: unique, num_ents, ents
        w.u64(0x5000).u16(2).u32(0x00aa0000).u32(0x0000bb00);
        let body = w.finish();
        let mut c = Caches::new();
        // The bitmap data runs to the end of the body here; only stride*y bytes matter.
        let img = unwrap_image(decode_image(&body, 4, &mut c.ctx(), false).unwrap());
        assert_eq!(img.pixels, vec![0x0000bb00, 0x00aa0000]);
        assert!(c.palettes.get(0x5000).is_some());
        // FROM_CACHE returns the same pixels.
        let mut w = Writer::new();
        descriptor(&mut w, 77, SPICE_IMAGE_TYPE_FROM_CACHE, 0, 2, 1);
        let img2 = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap());
        assert_eq!(img2.pixels, img.pixels);
        // PAL_FROM_CACHE: u64 palette id in place of the pointer.
        let mut w = Writer::new();
        descriptor(&mut w, 0, SPICE_IMAGE_TYPE_BITMAP, 0, 1, 1);
        w.u8(SPICE_BITMAP_FMT_8BIT as u8)
            .u8(SPICE_BITMAP_FLAGS_PAL_FROM_CACHE as u8);
        w.u32(1).u32(1).u32(1).u64(0x5000).u8(1);
        let img3 = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap());
        assert_eq!(img3.pixels, vec![0x0000bb00]);
    }

    #[test]
    fn lz_rgb_and_surface_and_errors() {
        let mut w = Writer::new();
        descriptor(&mut w, 1, SPICE_IMAGE_TYPE_LZ_RGB, 0, 1, 1);
        let mut lz = Vec::new();
        for word in [
            lz::LZ_MAGIC,
            lz::LZ_VERSION,
            lz::LZ_IMAGE_TYPE_RGB32,
            1,
            1,
            4,
            1,
        ] {
            lz.extend_from_slice(&word.to_be_bytes());
        }
        lz.extend_from_slice(&[0, 0x33, 0x22, 0x11]);
        w.u32(lz.len() as u32).bytes(&lz);
        let mut c = Caches::new();
        let img = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap());
        assert_eq!(img.pixels, vec![0x112233]);

        let mut w = Writer::new();
        descriptor(&mut w, 1, SPICE_IMAGE_TYPE_SURFACE, 0, 1, 1);
        w.u32(5);
        assert!(matches!(
            decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap(),
            Decoded::Surface(5)
        ));

        let mut w = Writer::new();
        descriptor(&mut w, 99, SPICE_IMAGE_TYPE_FROM_CACHE, 0, 1, 1);
        assert_eq!(
            decode_image(&w.finish(), 0, &mut c.ctx(), false)
                .unwrap_err()
                .reason,
            "image not in pixmap cache"
        );
        let mut w = Writer::new();
        descriptor(&mut w, 1, 55, 0, 1, 1);
        assert!(decode_image(&w.finish(), 0, &mut c.ctx(), false).is_err());
        let mut w = Writer::new();
        descriptor(&mut w, 1, SPICE_IMAGE_TYPE_LZ_RGB, 0, 1, 1);
        w.u32(1000).u8(0);
        assert!(decode_image(&w.finish(), 0, &mut c.ctx(), false).is_err());
        assert!(decode_image(&[0; 4], 0, &mut c.ctx(), false).is_err());
        assert!(decode_image(&[0; 40], 400, &mut c.ctx(), false).is_err());
    }

    #[test]
    fn lz_plt_with_palette_pointer_then_from_cache() {
        // LZPLTData: flags u8, data_size u32, palette ptr (or u64 id), data.
        let mut lz = Vec::new();
        for word in [
            lz::LZ_MAGIC,
            lz::LZ_VERSION,
            lz::LZ_IMAGE_TYPE_PLT8,
            2,
            1,
            2,
            1,
        ] {
            lz.extend_from_slice(&word.to_be_bytes());
        }
        lz.extend_from_slice(&[1, 1, 0]);
        let mut w = Writer::new();
        descriptor(&mut w, 5, SPICE_IMAGE_TYPE_LZ_PLT, 0, 2, 1);
        w.u8((SPICE_BITMAP_FLAGS_PAL_CACHE_ME | SPICE_BITMAP_FLAGS_TOP_DOWN) as u8)
            .u32(lz.len() as u32);
        let pal_at = w.buf.len();
        w.u32(0).bytes(&lz);
        let here = w.buf.len() as u32;
        w.buf[pal_at..pal_at + 4].copy_from_slice(&here.to_le_bytes());
        w.u64(42).u16(2).u32(0x00aaaaaa).u32(0x00bbbbbb);
        let mut c = Caches::new();
        let img = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap());
        assert_eq!(img.pixels, vec![0xbbbbbb, 0xaaaaaa]);
        let mut w = Writer::new();
        descriptor(&mut w, 6, SPICE_IMAGE_TYPE_LZ_PLT, 0, 2, 1);
        w.u8(SPICE_BITMAP_FLAGS_PAL_FROM_CACHE as u8)
            .u32(lz.len() as u32)
            .u64(42)
            .bytes(&lz);
        let img = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap());
        assert_eq!(img.pixels, vec![0xbbbbbb, 0xaaaaaa]);
        c.palettes.clear();
        let mut w = Writer::new();
        descriptor(&mut w, 6, SPICE_IMAGE_TYPE_LZ_PLT, 0, 2, 1);
        w.u8(SPICE_BITMAP_FLAGS_PAL_FROM_CACHE as u8)
            .u32(lz.len() as u32)
            .u64(42)
            .bytes(&lz);
        assert_eq!(
            decode_image(&w.finish(), 0, &mut c.ctx(), false)
                .unwrap_err()
                .reason,
            "palette not in cache"
        );
    }

    #[test]
    fn palettes_over_256_entries_and_images_over_budget_are_refused() {
        let mut w = Writer::new();
        descriptor(&mut w, 0, SPICE_IMAGE_TYPE_BITMAP, 0, 1, 1);
        w.u8(SPICE_BITMAP_FMT_8BIT as u8)
            .u8(SPICE_BITMAP_FLAGS_PAL_CACHE_ME as u8);
        w.u32(1).u32(1).u32(1);
        let ptr_at = w.buf.len();
        w.u32(0).u8(0);
        let pal_at = w.buf.len() as u32;
        w.buf[ptr_at..ptr_at + 4].copy_from_slice(&pal_at.to_le_bytes());
        w.u64(9).u16(257);
        for i in 0..257 {
            w.u32(i);
        }
        let mut c = Caches::new();
        let e = decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap_err();
        assert_eq!(e.reason, "palette has more than 256 entries");
        assert!(c.palettes.get(9).is_none());

        // A 1x1 descriptor whose LZ header claims 512 x 512 is charged for
        // the header's size (2 MiB with working space) before decoding.
        let mut w = Writer::new();
        descriptor(&mut w, 1, SPICE_IMAGE_TYPE_LZ_RGB, 0, 1, 1);
        let mut lz = Vec::new();
        for word in [
            lz::LZ_MAGIC,
            lz::LZ_VERSION,
            lz::LZ_IMAGE_TYPE_RGB32,
            512,
            512,
            2048,
            1,
        ] {
            lz.extend_from_slice(&word.to_be_bytes());
        }
        lz.resize(lz.len() + 2048, 0);
        w.u32(lz.len() as u32).bytes(&lz);
        let e = decode_image(&w.finish(), 0, &mut c.ctx(), false).unwrap_err();
        assert_eq!(e.reason, "memory budget exceeded by an image");
        assert_eq!(c.budget.used(), 0);
    }

    #[test]
    fn mask_bitmap_uses_bits_not_palette() {
        let mut w = Writer::new();
        descriptor(&mut w, 1, SPICE_IMAGE_TYPE_BITMAP, 0, 3, 1);
        w.u8(SPICE_BITMAP_FMT_1BIT_BE as u8)
            .u8(SPICE_BITMAP_FLAGS_TOP_DOWN as u8);
        w.u32(3).u32(1).u32(1).u32(0).u8(0b1010_0000);
        let mut c = Caches::new();
        let img = unwrap_image(decode_image(&w.finish(), 0, &mut c.ctx(), true).unwrap());
        assert_eq!(
            img.pixels.iter().map(|&p| p != 0).collect::<Vec<_>>(),
            vec![true, false, true]
        );
    }
}
