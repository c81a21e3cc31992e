//! GLZ_RGB and ZLIB_GLZ_RGB image decoding, and the GLZ dictionary window.
//!
//! Owns the GLZ payload format (the `LZ  ` header with an image id and a
//! window-head distance, then an LZ stream whose matches may point into
//! earlier images) and [`GlzWindow`], the client half of the server's shared
//! dictionary: the decoded images that later images may reference, keyed by
//! image id, freed when the server says it no longer refers to them or when
//! they fall out of the advertised window size. ZLIB_GLZ is a zlib stream
//! around a GLZ payload.
//!
//! It must not panic, read outside a buffer or trust any size or reference
//! from the network: a reference to an image that is not in the window, or
//! outside it, is an error. It does not pick which window a channel uses
//! (the session keeps one per `glz_dictionary_id`) and does not draw.
//!
//! Format (learnt from spice-gtk `decode-glz*.c` and the server's
//! `glz-encode*.c`): all header integers are big-endian. The LZ stream is a
//! sequence of control bytes: below `MAX_COPY` it announces `ctrl + 1`
//! literal units; otherwise it is a match of `ctrl >> 5` units (7 = more
//! length bytes follow) with a pixel offset and an image distance coded in
//! the following bytes. Image distance 0 means "earlier in this image, this
//! many units back"; otherwise "image `id - distance`, from this unit on".
//! Units are pixels for RGB types and bytes for palette types. The server
//! only matches images of the same LZ type.

use super::backref::{copy_back, extend_from_back};
use super::dest::Dest;
use super::input::Input;
use super::lz::{
    LZ_IMAGE_TYPE_PLT1_BE, LZ_IMAGE_TYPE_PLT1_LE, LZ_IMAGE_TYPE_PLT4_BE, LZ_IMAGE_TYPE_PLT4_LE,
    LZ_IMAGE_TYPE_PLT8, LZ_IMAGE_TYPE_RGB16, LZ_IMAGE_TYPE_RGB24, LZ_IMAGE_TYPE_RGB32,
    LZ_IMAGE_TYPE_RGBA, LZ_MAGIC, LZ_VERSION,
};
use super::pixel::{
    bgr_quads_to_xrgb, bgr_to_xrgb, expand_indexed, extend_bgr_to_xrgb, rgb555_to_xrgb,
};
use super::ring::{Ring, RingView, Slot};
use super::rows::{NoRows, RowCopy, Rows};
use super::spares::{refill, Spares};
use super::{alloc_pixels, Image, MAX_IMAGE_PIXELS};
use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::error::WireError;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use miniz_oxide::inflate::core::DecompressorOxide;

/// `LZ_IMAGE_TYPE_MASK` (lz_common.h): the low bits of the GLZ type byte
/// hold the LZ image type.
const LZ_IMAGE_TYPE_MASK: u8 = 0x0f;
/// `LZ_IMAGE_TYPE_LOG`: the top-down flag sits above this many type bits.
const LZ_IMAGE_TYPE_LOG: u8 = 4;
/// `MAX_COPY` (lz_common.h): control bytes below this announce literals.
const MAX_COPY: usize = 32;

/// Size of the GLZ header: magic, version, type byte, width, height,
/// stride, id (u64), win_head_dist.
pub const GLZ_HEADER_LEN: usize = 4 + 4 + 1 + 4 + 4 + 4 + 8 + 4;

/// The most units one input byte can expand to (a match-length extension
/// byte of 255); used to refuse headers whose size the data cannot fill
/// before allocating anything.
const MAX_UNITS_PER_BYTE: usize = 255;

/// The parsed GLZ header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlzHeader {
    /// `LZ_IMAGE_TYPE_*` (see [`lz`](super::lz)).
    pub image_type: u32,
    /// Rows are stored top row first.
    pub top_down: bool,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row (meaningful for palette types).
    pub stride: u32,
    /// The image's id in the server's dictionary.
    pub id: u64,
    /// How many images back the server's window head is: images with an id
    /// below `id - win_head_dist` are no longer referenced.
    pub win_head_dist: u32,
}

impl GlzHeader {
    /// Parse and validate the header at the start of a GLZ payload.
    pub fn parse(data: &[u8]) -> Result<Self, WireError> {
        let mut inp = Input::new(data, 0, "GLZ: truncated");
        if inp.u32_be()? != LZ_MAGIC {
            return Err(WireError::new(0, "GLZ: bad magic"));
        }
        if inp.u32_be()? != LZ_VERSION {
            return Err(WireError::new(4, "GLZ: unsupported version"));
        }
        let tb = inp.byte()?;
        let image_type = (tb & LZ_IMAGE_TYPE_MASK) as u32;
        let h = GlzHeader {
            image_type,
            top_down: (tb >> LZ_IMAGE_TYPE_LOG) != 0,
            width: inp.u32_be()?,
            height: inp.u32_be()?,
            stride: inp.u32_be()?,
            id: inp.u64_be()?,
            win_head_dist: inp.u32_be()?,
        };
        if !(LZ_IMAGE_TYPE_PLT1_LE..=LZ_IMAGE_TYPE_RGBA).contains(&image_type) {
            return Err(WireError::new(8, "GLZ: unsupported image type"));
        }
        if h.width == 0 || h.height == 0 {
            return Err(WireError::new(9, "GLZ: empty image"));
        }
        if (h.width as u64) * (h.height as u64) > MAX_IMAGE_PIXELS as u64 {
            return Err(WireError::new(9, "GLZ: image too large"));
        }
        if let Some(ppb) = plt_pixels_per_byte(image_type) {
            let min_stride = h.width.div_ceil(ppb);
            if h.stride < min_stride {
                return Err(WireError::new(17, "GLZ: palette stride shorter than a row"));
            }
            if (h.stride as u64) * (h.height as u64) > MAX_IMAGE_PIXELS as u64 {
                return Err(WireError::new(17, "GLZ: palette stride too large"));
            }
        }
        Ok(h)
    }

    /// Units the LZ stream decodes to: pixels for RGB types, bytes for
    /// palette types.
    pub fn units(&self) -> usize {
        match plt_pixels_per_byte(self.image_type) {
            Some(_) => self.stride as usize * self.height as usize,
            None => self.width as usize * self.height as usize,
        }
    }

    /// The image's size as the server's dictionary counts it ("gross
    /// pixels"), for the window budget.
    pub fn gross_pixels(&self) -> u64 {
        match plt_pixels_per_byte(self.image_type) {
            Some(ppb) => self.stride as u64 * ppb as u64 * self.height as u64,
            None => self.width as u64 * self.height as u64,
        }
    }
}

/// Pixels per byte for palette LZ types, `None` for RGB types.
fn plt_pixels_per_byte(image_type: u32) -> Option<u32> {
    match image_type {
        LZ_IMAGE_TYPE_PLT1_LE | LZ_IMAGE_TYPE_PLT1_BE => Some(8),
        LZ_IMAGE_TYPE_PLT4_LE | LZ_IMAGE_TYPE_PLT4_BE => Some(2),
        LZ_IMAGE_TYPE_PLT8 => Some(1),
        _ => None,
    }
}

/// One step of an LZ pass.
enum Op {
    /// This many literal units follow.
    Literals(usize),
    /// Copy `len` units: from `ofs` units back in this image when
    /// `image_dist` is 0 (bias already removed), else from unit `ofs` of
    /// image `id - image_dist`.
    Match {
        len: usize,
        image_dist: u64,
        ofs: usize,
    },
}

/// Read one control sequence; `len_bias` is the pass's match-length bias.
#[inline(always)]
fn next_op(inp: &mut Input, len_bias: usize) -> Result<Op, WireError> {
    let ctrl = inp.byte()? as usize;
    if ctrl < MAX_COPY {
        return Ok(Op::Literals(ctrl + 1));
    }
    let mut len = ctrl >> 5;
    let pixel_flag = (ctrl >> 4) & 1;
    let mut ofs = ctrl & 0x0f;
    if len == 7 {
        loop {
            let code = inp.byte()?;
            len += code as usize;
            if code != 255 {
                break;
            }
        }
    }
    ofs += (inp.byte()? as usize) << 4;
    let code = inp.byte()?;
    let extra = (code >> 6) as u32;
    let mut image_dist = 0u64;
    if pixel_flag == 0 {
        image_dist = (code & 0x3f) as u64;
        for i in 0..extra {
            image_dist += (inp.byte()? as u64) << (6 + 8 * i);
        }
    } else {
        ofs += ((code & 0x1f) as usize) << 12;
        for i in 0..extra {
            image_dist += (inp.byte()? as u64) << (8 * i);
        }
        if (code >> 5) & 1 != 0 {
            ofs += (inp.byte()? as usize) << 17;
        }
    }
    if image_dist == 0 {
        ofs += 1;
    }
    Ok(Op::Match {
        len: len + len_bias,
        image_dist,
        ofs,
    })
}

/// The units of image `id - image_dist` from `ofs`, `len` long, checked;
/// `last` caches the previous lookup (streams refer to few images).
#[inline(always)]
fn window_units<'w>(
    window: &Window<'w>,
    last: &mut Option<(u64, &'w WindowImage)>,
    h: &GlzHeader,
    image_dist: u64,
    ofs: usize,
    len: usize,
    at: usize,
) -> Result<&'w [u32], WireError> {
    let ref_id =
        h.id.checked_sub(image_dist)
            .ok_or(WireError::new(at, "GLZ: reference before the first image"))?;
    let img = match *last {
        Some((id, img)) if id == ref_id => img,
        _ => {
            let img = window.held.get(ref_id).ok_or(WireError::new(
                at,
                "GLZ: referenced image not in the window",
            ))?;
            *last = Some((ref_id, img));
            img
        }
    };
    if img.image_type != h.image_type {
        return Err(WireError::new(at, "GLZ: referenced image has another type"));
    }
    let units = match &img.units {
        Units::Ring(slot) => window.ring.get(*slot).unwrap_or(&[]),
        units => units.as_slice(),
    };
    units
        .get(ofs..ofs.saturating_add(len))
        .ok_or(WireError::new(
            at,
            "GLZ: reference outside the referenced image",
        ))
}

/// What a pass may reference: the window's images, those in the ring seen
/// through `ring` (which leaves out the slot being written).
struct Window<'w> {
    held: &'w Held,
    ring: RingView<'w>,
}

/// Where a colour pass writes its units, front to back: a growing buffer
/// or a ring slot of the image's size.
trait Out {
    /// Units written so far.
    fn len(&self) -> usize;
    /// The units written so far.
    fn run(&self) -> &[u32];
    /// The units written so far, to change in place (the alpha pass).
    fn run_mut(&mut self) -> &mut [u32];
    /// Decode colour-pass steps until at least `stop` units are written
    /// (the last step may go past it, never past `end`); `last` is
    /// [`window_units`]' cache, kept from call to call.
    fn steps<'w, L: Literals>(
        &mut self,
        inp: &mut Input,
        stop_end: (usize, usize),
        h: &GlzHeader,
        window: &Window<'w>,
        last: &mut Option<(u64, &'w WindowImage)>,
    ) -> Result<(), WireError>;
}

impl Out for Vec<u32> {
    #[inline(always)]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline(always)]
    fn run(&self) -> &[u32] {
        self
    }
    #[inline(always)]
    fn run_mut(&mut self) -> &mut [u32] {
        self
    }
    #[inline(always)]
    fn steps<'w, L: Literals>(
        &mut self,
        inp: &mut Input,
        stop_end: (usize, usize),
        h: &GlzHeader,
        window: &Window<'w>,
        last: &mut Option<(u64, &'w WindowImage)>,
    ) -> Result<(), WireError> {
        colour_steps::<L>(inp, self, stop_end, h, window, last)
    }
}

/// A ring slot being filled: `buf` is the whole slot (the image's units),
/// `len` units of it are written.
struct Fill<'a> {
    buf: &'a mut [u32],
    len: usize,
}

impl Out for Fill<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline(always)]
    fn run(&self) -> &[u32] {
        self.buf.get(..self.len).unwrap_or_default()
    }
    #[inline(always)]
    fn run_mut(&mut self) -> &mut [u32] {
        self.buf.get_mut(..self.len).unwrap_or_default()
    }
    #[inline(always)]
    fn steps<'w, L: Literals>(
        &mut self,
        inp: &mut Input,
        (stop, _end): (usize, usize),
        h: &GlzHeader,
        window: &Window<'w>,
        last: &mut Option<(u64, &'w WindowImage)>,
    ) -> Result<(), WireError> {
        slot_steps::<L>(inp, self.buf, &mut self.len, stop, h, window, last)
    }
}

/// How a colour pass (RGB16, RGB24/32, palette) reads literal units.
trait Literals {
    /// Added to a coded match length.
    const LEN_BIAS: usize;
    /// Append `n` literal units read from `inp`.
    fn push(inp: &mut Input, out: &mut Vec<u32>, n: usize) -> Result<(), WireError>;
    /// Write `n` literal units read from `inp` into `buf` at `at` (the
    /// caller checked that they fit); units of `buf` past them may be
    /// overwritten (the pass writes them later).
    fn write(inp: &mut Input, buf: &mut [u32], at: usize, n: usize) -> Result<(), WireError>;
}

/// RGB24, RGB32 and the colour pass of RGBA: 3 bytes (b, g, r) per literal.
struct Rgb32;
impl Literals for Rgb32 {
    const LEN_BIAS: usize = 0;
    #[inline(always)]
    fn push(inp: &mut Input, out: &mut Vec<u32>, n: usize) -> Result<(), WireError> {
        extend_bgr_to_xrgb(inp.take(n * 3)?, out);
        Ok(())
    }
    #[inline(always)]
    fn write(inp: &mut Input, buf: &mut [u32], at: usize, n: usize) -> Result<(), WireError> {
        // Whole groups of four when the input and the slot have room past
        // the run: no loop for its last pixels.
        let quads = n.div_ceil(4);
        let src = inp
            .data
            .get(inp.pos..)
            .unwrap_or_default()
            .as_chunks::<12>()
            .0;
        let dst = buf.get_mut(at..).unwrap_or_default().as_chunks_mut::<4>().0;
        if let (Some(src), Some(dst)) = (src.get(..quads), dst.get_mut(..quads)) {
            bgr_quads_to_xrgb(src, dst);
            inp.pos += n * 3;
            return Ok(());
        }
        let dst = buf.get_mut(at..at + n).unwrap_or_default();
        bgr_to_xrgb(inp.take(n * 3)?, dst);
        Ok(())
    }
}

/// An RGB16 literal: the x1r5g5b5 pixel, big-endian.
#[inline(always)]
fn rgb16_unit(c: &[u8; 2]) -> u32 {
    rgb555_to_xrgb(u16::from_be_bytes(*c))
}

/// RGB16: 2 bytes per literal, the x1r5g5b5 pixel big-endian.
struct Rgb16;
impl Literals for Rgb16 {
    const LEN_BIAS: usize = 1;
    #[inline(always)]
    fn push(inp: &mut Input, out: &mut Vec<u32>, n: usize) -> Result<(), WireError> {
        out.extend(inp.take(n * 2)?.as_chunks::<2>().0.iter().map(rgb16_unit));
        Ok(())
    }
    #[inline(always)]
    fn write(inp: &mut Input, buf: &mut [u32], at: usize, n: usize) -> Result<(), WireError> {
        let src = inp.take(n * 2)?.as_chunks::<2>().0;
        let dst = buf.get_mut(at..at + n).unwrap_or_default();
        for (d, c) in dst.iter_mut().zip(src) {
            *d = rgb16_unit(c);
        }
        Ok(())
    }
}

/// Palette types: one byte (of packed indices) per unit.
struct Plt;
impl Literals for Plt {
    const LEN_BIAS: usize = 2;
    #[inline(always)]
    fn push(inp: &mut Input, out: &mut Vec<u32>, n: usize) -> Result<(), WireError> {
        out.extend(inp.take(n)?.iter().map(|&b| b as u32));
        Ok(())
    }
    #[inline(always)]
    fn write(inp: &mut Input, buf: &mut [u32], at: usize, n: usize) -> Result<(), WireError> {
        let src = inp.take(n)?;
        let dst = buf.get_mut(at..at + n).unwrap_or_default();
        for (d, &b) in dst.iter_mut().zip(src) {
            *d = b as u32;
        }
        Ok(())
    }
}

/// Decode the colour pass into `out` (empty, with capacity for `end`
/// units), resolving references into `window`; `rows` is handed the units
/// decoded so far whenever they reach the length it asked for.
fn decode_colour<L: Literals, O: Out, R: Rows>(
    inp: &mut Input,
    out: &mut O,
    end: usize,
    h: &GlzHeader,
    window: &Window<'_>,
    rows: &mut R,
) -> Result<(), WireError> {
    let mut last = None;
    while out.len() < end {
        // Always past what is decoded: every call makes progress.
        let stop = rows.stop(out.len(), end).max(out.len() + 1);
        out.steps::<L>(inp, (stop, end), h, window, &mut last)?;
        rows.advance(out.run());
    }
    Ok(())
}

/// Decode colour-pass steps into the growing `out` until it holds at
/// least `stop` units (the last step may go past it, never past `end`);
/// `last` is [`window_units`]' cache, kept from call to call. Not inlined:
/// one copy per literal type, whatever the caller does with the rows.
#[inline(never)]
fn colour_steps<'w, L: Literals>(
    inp: &mut Input,
    out: &mut Vec<u32>,
    (stop, end): (usize, usize),
    h: &GlzHeader,
    window: &Window<'w>,
    last: &mut Option<(u64, &'w WindowImage)>,
) -> Result<(), WireError> {
    while out.len() < stop {
        let at = inp.pos;
        match next_op(inp, L::LEN_BIAS)? {
            Op::Literals(n) => {
                if n > end - out.len() {
                    return Err(literals_past_end(at));
                }
                L::push(inp, out, n)?;
            }
            Op::Match {
                len,
                image_dist,
                ofs,
            } => {
                if len > end - out.len() {
                    return Err(match_past_end(at));
                }
                if image_dist == 0 {
                    if ofs > out.len() {
                        return Err(match_before_start(at));
                    }
                    extend_from_back(out, ofs, len);
                } else {
                    out.extend_from_slice(window_units(window, last, h, image_dist, ofs, len, at)?);
                }
            }
        }
    }
    Ok(())
}

/// [`colour_steps`] into a ring slot: `buf` is the whole slot (the image's
/// units), `*pos` of them are written. The write position is a plain
/// index and each step takes its destination as one sub-slice of `buf`
/// (one bounds check per step, none per unit).
#[inline(never)]
fn slot_steps<'w, L: Literals>(
    inp: &mut Input,
    buf: &mut [u32],
    pos: &mut usize,
    stop: usize,
    h: &GlzHeader,
    window: &Window<'w>,
    last: &mut Option<(u64, &'w WindowImage)>,
) -> Result<(), WireError> {
    let mut op = *pos;
    let res = loop {
        if op >= stop {
            break Ok(());
        }
        let at = inp.pos;
        let step = match next_op(inp, L::LEN_BIAS) {
            Ok(Op::Literals(n)) if n > buf.len() - op => Err(literals_past_end(at)),
            Ok(Op::Literals(n)) => L::write(inp, buf, op, n).map(|()| n),
            Ok(Op::Match { len, .. }) if len > buf.len() - op => Err(match_past_end(at)),
            Ok(Op::Match {
                len,
                image_dist: 0,
                ofs,
            }) => {
                if ofs > op || ofs == 0 {
                    Err(match_before_start(at))
                } else {
                    if ofs >= len {
                        // The source ends where the copy starts: one copy.
                        buf.copy_within(op - ofs..op - ofs + len, op);
                    } else {
                        copy_back(buf, op, ofs, len);
                    }
                    Ok(len)
                }
            }
            Ok(Op::Match {
                len,
                image_dist,
                ofs,
            }) => window_units(window, last, h, image_dist, ofs, len, at).map(|src| {
                if let Some(dst) = buf.get_mut(op..op + src.len()) {
                    dst.copy_from_slice(src);
                }
                src.len()
            }),
            Err(e) => Err(e),
        };
        match step {
            Ok(n) => op += n,
            Err(e) => break Err(e),
        }
    };
    *pos = op;
    res
}

/// The error of a literal run that goes past the image's end.
fn literals_past_end(at: usize) -> WireError {
    WireError::new(at, "GLZ: literals run past the end of the image")
}

/// The error of a match that goes past the image's end.
fn match_past_end(at: usize) -> WireError {
    WireError::new(at, "GLZ: match runs past the end of the image")
}

/// The error of a match that starts before the image.
fn match_before_start(at: usize) -> WireError {
    WireError::new(at, "GLZ: match before the start of the image")
}

/// Decode the alpha pass of RGBA over the colour pass's `out`: literals
/// and matches replace only the alpha byte.
fn decode_alpha(
    inp: &mut Input,
    out: &mut [u32],
    h: &GlzHeader,
    window: &Window<'_>,
) -> Result<(), WireError> {
    const ALPHA_LEN_BIAS: usize = 2;
    let set = |o: &mut u32, a: u32| *o = (*o & 0x00ff_ffff) | (a & 0xff00_0000);
    let end = out.len();
    let mut op = 0;
    let mut last = None;
    while op < end {
        let at = inp.pos;
        match next_op(inp, ALPHA_LEN_BIAS)? {
            Op::Literals(n) => {
                let dst = out.get_mut(op..op + n).ok_or(literals_past_end(at))?;
                for (o, &a) in dst.iter_mut().zip(inp.take(n)?) {
                    set(o, (a as u32) << 24);
                }
                op += n;
            }
            Op::Match {
                len,
                image_dist,
                ofs,
            } => {
                if len > end - op {
                    return Err(match_past_end(at));
                }
                if image_dist == 0 {
                    if ofs > op {
                        return Err(match_before_start(at));
                    }
                    for i in op..op + len {
                        let a = out[i - ofs];
                        set(&mut out[i], a);
                    }
                } else {
                    let src = window_units(window, &mut last, h, image_dist, ofs, len, at)?;
                    for (o, &s) in out[op..op + len].iter_mut().zip(src) {
                        set(o, s);
                    }
                }
                op += len;
            }
        }
    }
    Ok(())
}

/// A decoded image kept for later references.
#[derive(Debug)]
struct WindowImage {
    image_type: u32,
    /// Decoded units in stream order (rows as the encoder saw them).
    units: Units,
    gross_pixels: u64,
    win_head_dist: u32,
}

impl WindowImage {
    /// Units the image's buffer has room for (its memory, in pixels).
    fn capacity(&self) -> u64 {
        match &self.units {
            Units::Own(u) => u.len() as u64,
            Units::Shared(img) => img.pixels.capacity() as u64,
            Units::Ring(_) => 0,
        }
    }

    /// Units of its buffer the image does not use (it was a larger spare's).
    fn slack(&self) -> u64 {
        match &self.units {
            Units::Own(_) | Units::Ring(_) => 0,
            Units::Shared(img) => (img.pixels.capacity() - img.pixels.len()) as u64,
        }
    }
}

/// The window's memory beyond its size, as a share of it: `window_pixels /
/// SPARE_SHARE` more pixels, for the spares and for the unused ends of the
/// larger spares' buffers the images held were decoded into. The units of
/// the images held are at most their gross pixels plus that slack, and
/// spares are kept only within what the images held leave, so the images
/// and the spares together never take more than `window_pixels * (1 + 1 /
/// SPARE_SHARE)` pixels of memory, which is what
/// [`GlzWindow::with_budget`] charges.
const SPARE_SHARE: u64 = 8;

/// The window's images in id order. Servers send ids in increasing order
/// and release the oldest first, so images join at the back and leave at
/// the front; a ring buffer does both without allocating once it has grown
/// to the window's image count (a B-tree allocates and frees nodes as they
/// fill and empty). An image may arrive late (display channels sharing the
/// dictionary interleave), at most [`MAX_LATE_IMAGES`] behind the newest,
/// which bounds the entries an insertion moves.
#[derive(Debug, Default)]
struct Held(VecDeque<(u64, WindowImage)>);

impl Held {
    /// Where image `id` is (`Ok`) or would go (`Err`).
    fn find(&self, id: u64) -> Result<usize, usize> {
        match self.0.back() {
            Some(&(last, _)) if last < id => Err(self.0.len()),
            _ => self.0.binary_search_by_key(&id, |&(k, _)| k),
        }
    }

    /// Image `id`.
    fn get(&self, id: u64) -> Option<&WindowImage> {
        let i = self.find(id).ok()?;
        self.0.get(i).map(|(_, img)| img)
    }

    /// Whether image `id` is held.
    fn contains(&self, id: u64) -> bool {
        self.find(id).is_ok()
    }

    /// How many images held have an id above `id`.
    fn newer_than(&self, id: u64) -> usize {
        let i = self.find(id).map_or_else(|i| i, |i| i + 1);
        self.0.len() - i
    }

    /// Add image `id`, returning the image it replaces.
    fn insert(&mut self, id: u64, img: WindowImage) -> Option<WindowImage> {
        match self.find(id) {
            Ok(i) => self
                .0
                .get_mut(i)
                .map(|slot| core::mem::replace(&mut slot.1, img)),
            Err(i) => {
                self.0.insert(i, (id, img));
                None
            }
        }
    }

    /// Remove the oldest image if its id is below `id`.
    fn pop_below(&mut self, id: u64) -> Option<WindowImage> {
        match self.0.front() {
            Some(&(k, _)) if k < id => self.0.pop_front().map(|(_, img)| img),
            _ => None,
        }
    }

    /// Remove the image with the lowest id other than `keep`.
    fn remove_oldest_but(&mut self, keep: u64) -> Option<WindowImage> {
        let i = match self.0.front() {
            Some(&(k, _)) if k == keep => 1,
            _ => 0,
        };
        self.0.remove(i).map(|(_, img)| img)
    }

    /// Number of images.
    fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no image is held.
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drop every image.
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// The most images held with a higher id than an arriving image's: a later
/// one is refused (display channels sharing a dictionary interleave their
/// images far less; inserting further from the newest would let a server
/// make every image move most of the entries).
const MAX_LATE_IMAGES: usize = 1024;

/// Where a window image's units live.
#[derive(Debug)]
enum Units {
    /// A buffer of its own (palette indices, or rows bottom-up: the image
    /// handed out differs from the stream order).
    Own(Box<[u32]>),
    /// The decoded image itself (top-down colour: the image's pixels are
    /// the units, so the window and the draw share one buffer).
    Shared(Arc<Image>),
    /// A slot of the window's ring (decoded straight onto a surface: no
    /// image is handed out).
    Ring(Slot),
}

impl Units {
    /// The units in stream order, when not in the ring.
    fn as_slice(&self) -> &[u32] {
        match self {
            Units::Own(u) => u,
            Units::Shared(img) => &img.pixels,
            Units::Ring(_) => &[],
        }
    }
}

/// The cross-image GLZ dictionary window shared by display channels with
/// the same `glz_dictionary_id`.
///
/// Holds the decoded images later GLZ images may reference, keyed by the
/// server's image id. An image is released once the newest image that has
/// all its predecessors present says (through `win_head_dist`) that the
/// server's window starts after it (before that image is decoded, so that
/// it can take the memory), or when the images held exceed
/// `window_pixels` (oldest first; the server's own window never holds more,
/// so give the same number that was advertised in DISPLAY_INIT).
///
/// A released top-down colour image nobody else holds (no pixmap cache
/// entry, no draw in progress) is kept as a spare while the memory of the
/// images held and the spares together stays within `window_pixels` and an
/// eighth more, and a later image its buffer fits (the smallest such, at
/// most twice the image's size) is decoded into it: in a session's steady
/// state, with the window full and each new image pushing the oldest out,
/// images come and go without allocating. The buffers' unused ends come out
/// of the same eighth.
///
/// An image decoded straight onto a surface (no image handed out) is kept
/// in a slot of the window's ring instead, one buffer of the window's size
/// and an eighth more that such images take in turn, as the server's
/// dictionary does: once the ring has gone round, they land in memory
/// already written (no fresh pages, no allocation). One that finds no free
/// run in the ring long enough is kept as above.
#[derive(Debug, Default)]
pub struct GlzWindow {
    window_pixels: u64,
    images: Held,
    total_pixels: u64,
    /// The memory of the images held: their buffers' capacities, in pixels.
    held_units: u64,
    /// The part of `held_units` the images do not use (see [`SPARE_SHARE`]).
    held_slack: u64,
    /// The lowest id not yet received in the run of consecutive ids that
    /// started with the first image seen (spice-gtk's "tail gap").
    tail_gap: Option<u64>,
    /// Released images kept to be decoded into again (see above).
    spares: Spares,
    /// Where images decoded straight onto a surface are kept (see above).
    ring: Ring,
    /// ZLIB_GLZ's inflated payload and inflater, reused from image to image.
    inflated: Vec<u8>,
    inflater: Inflater,
    /// The session-budget charge for `inflated` (its largest size).
    inflated_charge: Charge,
    /// The session-budget charge for the whole window (taken up front).
    _charge: Charge,
}

/// The zlib inflater ZLIB_GLZ reuses (made on first use: it is large).
#[derive(Default)]
struct Inflater(Option<Box<DecompressorOxide>>);

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Inflater")
    }
}

impl GlzWindow {
    /// A window that holds up to `window_pixels` decoded pixels.
    pub fn new(window_pixels: u32) -> Self {
        Self {
            window_pixels: window_pixels as u64,
            ring: Ring::new(ring_units(window_pixels)),
            ..Self::default()
        }
    }

    /// Like [`new`](Self::new), with the window's full memory (one 32-bit
    /// unit per pixel, and the spares' eighth more, and the ring) charged
    /// to `budget` now, so the window can never push the session over it
    /// later.
    pub fn with_budget(window_pixels: u32, budget: &Budget) -> Result<Self, WireError> {
        let ring = u32::try_from(ring_units(window_pixels)).unwrap_or(u32::MAX);
        let bytes = pixel_bytes(window_pixels, 1)
            .saturating_add(pixel_bytes(window_pixels / SPARE_SHARE as u32, 1))
            .saturating_add(pixel_bytes(ring, 1));
        let charge = budget.charge(bytes, Use::GlzWindow)?;
        Ok(Self {
            _charge: charge,
            inflated_charge: budget.charge(0, Use::GlzWindow)?,
            ..Self::new(window_pixels)
        })
    }

    /// Forget every image (on a display reset or a new dictionary).
    pub fn clear(&mut self) {
        self.images.clear();
        self.total_pixels = 0;
        self.held_units = 0;
        self.held_slack = 0;
        self.tail_gap = None;
        self.spares.clear();
        self.ring.clear();
    }

    /// Pixels of memory the spares may take: what the images held leave of
    /// the window and its share more.
    fn spare_room(&self) -> u64 {
        let most = self.window_pixels + self.window_pixels / SPARE_SHARE;
        most.saturating_sub(self.held_units)
    }

    /// Take a released image out of the counts and offer it to the spares
    /// when it is top-down colour (its pixels are its units).
    fn release(&mut self, old: WindowImage) {
        self.total_pixels -= old.gross_pixels;
        self.held_units -= old.capacity();
        self.held_slack -= old.slack();
        match old.units {
            Units::Shared(image) => {
                let room = self.spare_room();
                self.spares.offer(image, room);
            }
            Units::Ring(slot) => self.ring.free(slot),
            Units::Own(_) => {}
        }
    }

    /// Release, before image `h` is decoded, the images its window head
    /// says the server no longer refers to, when it is the next image of
    /// the run of consecutive ids (what [`insert`](Self::insert) would
    /// release once it joins), so that their memory (ring slots, spares)
    /// can take it. Those are images the server no longer refers to: an
    /// image that refers to one is an error, decoded into the window or
    /// not, and so is one that fails after this.
    fn release_unused(&mut self, h: &GlzHeader) {
        if self.tail_gap != Some(h.id) {
            return;
        }
        let oldest_used = h.id.saturating_sub(h.win_head_dist as u64);
        while let Some(old) = self.images.pop_below(oldest_used) {
            self.release(old);
        }
    }

    /// An empty pixel buffer for `n` units and the image to put it back in:
    /// the smallest spare's that holds them, at most twice as large and with
    /// no more slack than the images held leave of [`SPARE_SHARE`], or a
    /// new one (no image).
    fn units_for(&mut self, n: usize) -> Result<(Vec<u32>, Option<Arc<Image>>), WireError> {
        let room = (self.window_pixels / SPARE_SHARE).saturating_sub(self.held_slack);
        // At most twice its size: small images leave the large buffers.
        let slack = usize::try_from(room).unwrap_or(usize::MAX).min(n);
        match self.spares.take(n, slack) {
            Some((units, spare)) => Ok((units, Some(spare))),
            None => Ok((units_vec(n)?, None)),
        }
    }

    /// Number of images currently held.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether no image is held.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Whether the image with server id `id` is held.
    pub fn contains(&self, id: u64) -> bool {
        self.images.contains(id)
    }

    /// Pixels held, as the server's dictionary counts them.
    pub fn pixels(&self) -> u64 {
        self.total_pixels
    }

    /// Decode a GLZ_RGB payload. `palette` (0x00RRGGBB entries) is needed
    /// for palette types only. On success the image joins the window.
    pub fn decode(
        &mut self,
        data: &[u8],
        palette: Option<&[u32]>,
    ) -> Result<Arc<Image>, WireError> {
        let h = GlzHeader::parse(data)?;
        if plt_pixels_per_byte(h.image_type).is_some() && palette.is_none() {
            return Err(WireError::new(8, "GLZ: palette image without a palette"));
        }
        let (units, shell) = self.decode_units(data, &h, &mut NoRows)?;
        let has_alpha = h.image_type == LZ_IMAGE_TYPE_RGBA;
        let (image, units) = match plt_pixels_per_byte(h.image_type) {
            Some(_) => {
                let image = expand_palette(&units, &h, palette.unwrap_or(&[]))?;
                (Arc::new(image), Units::Own(units.into_boxed_slice()))
            }
            None if h.top_down => {
                // The units are the image: no second buffer, no copy.
                let image = shared_units(&h, units, shell);
                (image.clone(), Units::Shared(image))
            }
            None => {
                let mut pixels = units_vec(units.len())?;
                for row in units.chunks_exact(h.width as usize).rev() {
                    pixels.extend_from_slice(row);
                }
                let image = Image {
                    width: h.width,
                    height: h.height,
                    pixels,
                    has_alpha,
                };
                (Arc::new(image), Units::Own(units.into_boxed_slice()))
            }
        };
        self.keep(&h, units);
        Ok(image)
    }

    /// Decode a GLZ_RGB payload of a colour type into `dst` (of the image's
    /// size), each row copied there as soon as it is decoded; the image
    /// joins the window as [`decode`](Self::decode) would have it, but no
    /// image of its own is made (a bottom-up image is not flipped twice).
    /// On error `dst` may hold some rows of the image.
    pub fn decode_into(&mut self, data: &[u8], dst: &mut Dest<'_>) -> Result<(), WireError> {
        let h = GlzHeader::parse(data)?;
        if plt_pixels_per_byte(h.image_type).is_some() {
            return Err(WireError::new(8, "GLZ: palette image without a palette"));
        }
        dst.check_size(h.width, h.height)?;
        let mut rows = RowCopy::new(dst, !h.top_down);
        let n = self.admit(data, &h)?;
        if let Some(slot) = self.ring.alloc(n) {
            return match self.fill_slot(data, &h, slot, &mut rows) {
                Ok(()) => {
                    self.keep(&h, Units::Ring(slot));
                    Ok(())
                }
                Err(e) => {
                    self.ring.free(slot);
                    Err(e)
                }
            };
        }
        let (units, shell) = if h.image_type == LZ_IMAGE_TYPE_RGBA {
            // Rows are complete only after the alpha pass.
            self.decode_vec(data, &h, &mut NoRows)?
        } else {
            self.decode_vec(data, &h, &mut rows)?
        };
        rows.advance(&units);
        let units = if h.top_down {
            Units::Shared(shared_units(&h, units, shell))
        } else {
            Units::Own(units.into_boxed_slice())
        };
        self.keep(&h, units);
        Ok(())
    }

    /// Decode the colour image `h` (admitted) into the ring's `slot`,
    /// handing its rows to `rows` (all at the end for RGBA: rows are
    /// complete only after the alpha pass).
    fn fill_slot<R: Rows>(
        &mut self,
        data: &[u8],
        h: &GlzHeader,
        slot: Slot,
        rows: &mut R,
    ) -> Result<(), WireError> {
        let (buf, ring) = self
            .ring
            .split(slot)
            .ok_or(WireError::new(0, "GLZ: ring slot outside the ring"))?;
        let window = Window {
            held: &self.images,
            ring,
        };
        let mut out = Fill { buf, len: 0 };
        let n = slot.len();
        if h.image_type == LZ_IMAGE_TYPE_RGBA {
            decode_passes(data, h, &mut out, n, &window, &mut NoRows)?;
        } else {
            decode_passes(data, h, &mut out, n, &window, rows)?;
        }
        rows.advance(out.run());
        Ok(())
    }

    /// Check a payload against the window and decode its LZ passes into a
    /// unit buffer (a spare's, returned with the image to put it back in,
    /// for top-down colour), telling `rows` how far the colour pass got.
    fn decode_units<R: Rows>(
        &mut self,
        data: &[u8],
        h: &GlzHeader,
        rows: &mut R,
    ) -> Result<(Vec<u32>, Option<Arc<Image>>), WireError> {
        self.admit(data, h)?;
        self.decode_vec(data, h, rows)
    }

    /// Check payload `h` against the window (its size against its data,
    /// its id against the newest) and release the images it says the
    /// server no longer uses; its unit count.
    fn admit(&mut self, data: &[u8], h: &GlzHeader) -> Result<usize, WireError> {
        let body = data.get(GLZ_HEADER_LEN..).unwrap_or(&[]);
        let units_n = h.units();
        if units_n > body.len().saturating_mul(MAX_UNITS_PER_BYTE) {
            return Err(WireError::new(
                GLZ_HEADER_LEN,
                "GLZ: image larger than its data can encode",
            ));
        }
        if self.images.newer_than(h.id) > MAX_LATE_IMAGES {
            return Err(WireError::new(
                21,
                "GLZ: image id too far behind the newest",
            ));
        }
        self.release_unused(h);
        Ok(units_n)
    }

    /// Decode the admitted payload `h` into a unit buffer of its own (see
    /// [`decode_units`](Self::decode_units)).
    fn decode_vec<R: Rows>(
        &mut self,
        data: &[u8],
        h: &GlzHeader,
        rows: &mut R,
    ) -> Result<(Vec<u32>, Option<Arc<Image>>), WireError> {
        let units_n = h.units();
        let colour_top_down = plt_pixels_per_byte(h.image_type).is_none() && h.top_down;
        let (mut units, shell) = if colour_top_down {
            self.units_for(units_n)?
        } else {
            (units_vec(units_n)?, None)
        };
        let window = Window {
            held: &self.images,
            ring: self.ring.view(),
        };
        decode_passes(data, h, &mut units, units_n, &window, rows)?;
        Ok((units, shell))
    }

    /// Add the image `h` describes, with its decoded `units`, to the window.
    fn keep(&mut self, h: &GlzHeader, units: Units) {
        self.insert(
            h.id,
            WindowImage {
                image_type: h.image_type,
                units,
                gross_pixels: h.gross_pixels(),
                win_head_dist: h.win_head_dist,
            },
        );
    }

    /// Decode a ZLIB_GLZ_RGB payload (`glz_data_size` = inflated size): the
    /// zlib stream must inflate to exactly `glz_data_size` bytes of GLZ.
    /// Errors of the GLZ stage give offsets into the inflated data.
    pub fn decode_zlib(
        &mut self,
        data: &[u8],
        glz_data_size: u32,
    ) -> Result<Arc<Image>, WireError> {
        let mut glz = core::mem::take(&mut self.inflated);
        let state = self.inflater.0.get_or_insert_with(Box::default);
        let inflated = inflate_exact(
            data,
            glz_data_size,
            &mut glz,
            state,
            &mut self.inflated_charge,
        );
        let res = inflated.and_then(|()| self.decode(&glz, None));
        self.inflated = glz;
        res
    }

    /// Add a decoded image, then release what the server no longer uses.
    fn insert(&mut self, id: u64, img: WindowImage) {
        self.total_pixels += img.gross_pixels;
        self.held_units += img.capacity();
        self.held_slack += img.slack();
        if let Some(old) = self.images.insert(id, img) {
            self.release(old);
        }
        // Advance the tail over consecutive ids; the newest image of that
        // run tells where the server's window head is.
        let mut gap = *self.tail_gap.get_or_insert(id);
        while self.images.contains(gap) {
            match gap.checked_add(1) {
                Some(next) => gap = next,
                None => break, // id u64::MAX: no later id exists
            }
        }
        self.tail_gap = Some(gap);
        if let Some(newest) = gap.checked_sub(1).and_then(|n| self.images.get(n)) {
            let oldest_used = (gap - 1).saturating_sub(newest.win_head_dist as u64);
            while let Some(old) = self.images.pop_below(oldest_used) {
                self.release(old);
            }
        }
        // Never hold more than the window the server was told about: drop
        // the lowest ids except the image just added (which may itself have
        // the lowest id when a server sends ids out of order).
        while self.total_pixels > self.window_pixels {
            let Some(old) = self.images.remove_oldest_but(id) else {
                break;
            };
            self.release(old);
        }
        // The new image came first: spares that no longer fit go.
        self.spares.trim(self.spare_room());
    }
}

/// Decode the LZ passes of payload `h` (`units_n` units) into `out`,
/// resolving references into `window`, telling `rows` how far the colour
/// pass got.
fn decode_passes<O: Out, R: Rows>(
    data: &[u8],
    h: &GlzHeader,
    out: &mut O,
    units_n: usize,
    window: &Window<'_>,
    rows: &mut R,
) -> Result<(), WireError> {
    let mut inp = Input::new(data, GLZ_HEADER_LEN, "GLZ: truncated");
    match h.image_type {
        LZ_IMAGE_TYPE_RGB16 => {
            decode_colour::<Rgb16, O, R>(&mut inp, out, units_n, h, window, rows)
        }
        LZ_IMAGE_TYPE_RGB24 | LZ_IMAGE_TYPE_RGB32 => {
            decode_colour::<Rgb32, O, R>(&mut inp, out, units_n, h, window, rows)
        }
        LZ_IMAGE_TYPE_RGBA => {
            decode_colour::<Rgb32, O, R>(&mut inp, out, units_n, h, window, rows)?;
            decode_alpha(&mut inp, out.run_mut(), h, window)
        }
        _ => decode_colour::<Plt, O, R>(&mut inp, out, units_n, h, window, rows),
    }
}

/// Units of the window's ring for a window of `window_pixels`: the window
/// and an eighth more (room lost where a slot did not fit before the end).
fn ring_units(window_pixels: u32) -> usize {
    let w = window_pixels as usize;
    w.saturating_add(w / SPARE_SHARE as usize)
}

/// The top-down colour image whose pixels are `units`, in the spare image
/// `shell` when the units came from one.
fn shared_units(h: &GlzHeader, units: Vec<u32>, shell: Option<Arc<Image>>) -> Arc<Image> {
    let fresh = Image {
        width: h.width,
        height: h.height,
        pixels: units,
        has_alpha: h.image_type == LZ_IMAGE_TYPE_RGBA,
    };
    refill(shell, fresh)
}

/// An empty unit buffer with room for exactly `n` units (`n` was checked
/// against [`MAX_IMAGE_PIXELS`] with the header).
fn units_vec(n: usize) -> Result<Vec<u32>, WireError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| WireError::new(0, "GLZ: out of memory for image"))?;
    Ok(v)
}

/// Turn decoded palette bytes (rows of `stride` bytes) into pixels; an
/// index beyond the palette gives black (as for LZ_PLT and BITMAP).
fn expand_palette(units: &[u32], h: &GlzHeader, palette: &[u32]) -> Result<Image, WireError> {
    let (w, height, stride) = (h.width as usize, h.height as usize, h.stride as usize);
    let mut pixels = alloc_pixels(h.width, h.height)?;
    let (bits, msb_first) = match h.image_type {
        LZ_IMAGE_TYPE_PLT1_LE => (1, false),
        LZ_IMAGE_TYPE_PLT1_BE => (1, true),
        LZ_IMAGE_TYPE_PLT4_LE => (4, false),
        LZ_IMAGE_TYPE_PLT4_BE => (4, true),
        _ => (8, false),
    };
    let mut row = alloc::vec![0u8; stride];
    for (y, out) in pixels.chunks_exact_mut(w).enumerate() {
        let src_row = if h.top_down { y } else { height - 1 - y };
        for (b, &u) in row
            .iter_mut()
            .zip(&units[src_row * stride..src_row * stride + stride])
        {
            *b = u as u8;
        }
        expand_indexed(&row, bits, msb_first, palette, out);
    }
    Ok(Image {
        width: h.width,
        height: h.height,
        pixels,
        has_alpha: false,
    })
}

/// Largest GLZ payload accepted from ZLIB_GLZ: a maximal RGBA image coded
/// entirely as literals (4 bytes per pixel plus one control byte per 32
/// units in each pass) and the header.
const MAX_GLZ_DATA_SIZE: u64 = MAX_IMAGE_PIXELS as u64 * 4 + (MAX_IMAGE_PIXELS as u64 / 16) + 64;

/// Deflate cannot expand a byte into more than this many.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Inflate a zlib stream into exactly `size` bytes of `out` (reused: it
/// grows, with `charge`, only when too small), refusing more or less;
/// `state` is reset first.
fn inflate_exact(
    data: &[u8],
    size: u32,
    out: &mut Vec<u8>,
    state: &mut DecompressorOxide,
    charge: &mut Charge,
) -> Result<(), WireError> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags};
    use miniz_oxide::inflate::TINFLStatus;
    let size64 = size as u64;
    if size64 > MAX_GLZ_DATA_SIZE {
        return Err(WireError::new(0, "ZLIB_GLZ: glz_data_size too large"));
    }
    if size64 > (data.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(WireError::new(
            0,
            "ZLIB_GLZ: glz_data_size larger than the data can inflate to",
        ));
    }
    let size = size as usize;
    if size > out.capacity() {
        // Give the old buffer back before asking for the bigger one.
        *out = Vec::new();
        charge.resize(0, Use::GlzWindow)?;
        charge.resize(size, Use::GlzWindow)?;
        out.try_reserve_exact(size)
            .map_err(|_| WireError::new(0, "ZLIB_GLZ: out of memory"))?;
    }
    out.clear();
    out.resize(size, 0);
    state.init();
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, in_used, out_len) = decompress(state, data, out, 0, flags);
    match status {
        TINFLStatus::Done if out_len == out.len() => Ok(()),
        TINFLStatus::Done => Err(WireError::new(
            in_used,
            "ZLIB_GLZ: inflated data shorter than glz_data_size",
        )),
        TINFLStatus::HasMoreOutput => Err(WireError::new(
            in_used,
            "ZLIB_GLZ: inflated data longer than glz_data_size",
        )),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            Err(WireError::new(in_used, "ZLIB_GLZ: truncated zlib stream"))
        }
        _ => Err(WireError::new(in_used, "ZLIB_GLZ: corrupt zlib stream")),
    }
}

#[cfg(test)]
mod tests {
    //! Byte sequences built by hand from the GLZ format as the server's
    //! encoder (`glz-encode*.c`) writes it; expected pixels come from the
    //! literal bytes, never from running this decoder.
    use super::*;
    use crate::image::lz::{LZ_IMAGE_TYPE_A8, LZ_IMAGE_TYPE_XXXA};
    use alloc::vec;

    /// A GLZ header for `image_type` (with the top-down bit when asked).
    fn header(
        image_type: u32,
        top_down: bool,
        w: u32,
        h: u32,
        stride: u32,
        id: u64,
        whd: u32,
    ) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&LZ_MAGIC.to_be_bytes());
        v.extend_from_slice(&LZ_VERSION.to_be_bytes());
        v.push(image_type as u8 | if top_down { 1 << LZ_IMAGE_TYPE_LOG } else { 0 });
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&stride.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&whd.to_be_bytes());
        assert_eq!(v.len(), GLZ_HEADER_LEN);
        v
    }

    /// An RGB32 GLZ image of `w` x 1, top-down, with the given stream.
    fn rgb32(w: u32, id: u64, whd: u32, stream: &[u8]) -> Vec<u8> {
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, w, 1, w * 4, id, whd);
        v.extend_from_slice(stream);
        v
    }

    const A: u32 = 0x0011_2233;
    const B: u32 = 0x0044_5566;
    // Literal byte order is b, g, r.
    const A_BGR: [u8; 3] = [0x33, 0x22, 0x11];
    const B_BGR: [u8; 3] = [0x66, 0x55, 0x44];

    fn lit(pixels: &[[u8; 3]]) -> Vec<u8> {
        let mut v = vec![(pixels.len() - 1) as u8];
        for p in pixels {
            v.extend_from_slice(p);
        }
        v
    }

    #[test]
    fn header_fields_are_big_endian() {
        let h = GlzHeader::parse(&header(
            LZ_IMAGE_TYPE_RGB32,
            true,
            3,
            2,
            12,
            0x0102_0304_0506_0708,
            9,
        ))
        .unwrap();
        assert_eq!(
            h,
            GlzHeader {
                image_type: LZ_IMAGE_TYPE_RGB32,
                top_down: true,
                width: 3,
                height: 2,
                stride: 12,
                id: 0x0102_0304_0506_0708,
                win_head_dist: 9
            }
        );
    }

    #[test]
    fn literals_and_overlapping_match() {
        // A B, then a match of 4 at distance 2 (coded distance 1, length unbiased).
        let mut s = lit(&[A_BGR, B_BGR]);
        s.extend_from_slice(&[4 << 5 | 1, 0x00, 0x00]);
        let img = GlzWindow::new(1 << 20)
            .decode(&rgb32(6, 0, 0, &s), None)
            .unwrap();
        assert_eq!(img.pixels, vec![A, B, A, B, A, B]);
        assert!(!img.has_alpha);
    }

    #[test]
    fn long_match_length_and_run() {
        // One literal, then a run (distance 1) of 300: length 7 + 255 + 38.
        let mut s = lit(&[A_BGR]);
        s.extend_from_slice(&[7 << 5, 255, 38, 0x00, 0x00]);
        let img = GlzWindow::new(1 << 20)
            .decode(&rgb32(301, 0, 0, &s), None)
            .unwrap();
        assert_eq!(img.pixels, vec![A; 301]);
    }

    #[test]
    fn reference_into_an_earlier_image() {
        let mut w = GlzWindow::new(1 << 20);
        w.decode(&rgb32(3, 7, 0, &lit(&[A_BGR, B_BGR, A_BGR])), None)
            .unwrap();
        // Image 8: 2 pixels from image 8-1 at offset 1 (no bias for other images).
        let img = w
            .decode(&rgb32(2, 8, 1, &[2 << 5 | 1, 0x00, 0x01]), None)
            .unwrap();
        assert_eq!(img.pixels, vec![B, A]);
        // Same with a medium pixel offset (>= 4096): pixel_flag set, one image-distance byte.
        let mut s = lit(&[A_BGR]);
        // Run of 4499 (7 + 17*255 + 157) -> 4500 pixels of A, then B, A.
        s.extend_from_slice(&[7 << 5]);
        s.extend_from_slice(&[255; 17]);
        s.extend_from_slice(&[157, 0x00, 0x00]);
        s.extend_from_slice(&lit(&[B_BGR, A_BGR]));
        let big = w.decode(&rgb32(4502, 9, 0, &s), None).unwrap();
        assert_eq!(big.pixels[4499..], [A, B, A]);
        let ofs = 4499usize;
        let refm = [
            (2 << 5 | 16 | (ofs & 0xf)) as u8,
            ((ofs >> 4) & 0xff) as u8,
            (1 << 6 | ((ofs >> 12) & 31)) as u8,
            1,
        ];
        let img = w.decode(&rgb32(2, 10, 1, &refm), None).unwrap();
        assert_eq!(img.pixels, vec![A, B]);
    }

    #[test]
    fn bad_references_are_errors() {
        let mut w = GlzWindow::new(1 << 20);
        w.decode(&rgb32(2, 5, 0, &lit(&[A_BGR, B_BGR])), None)
            .unwrap();
        // Image 4 is not in the window (the server's holds 5 and 6).
        let e = w
            .decode(&rgb32(2, 6, 1, &[2 << 5, 0x00, 0x02]), None)
            .unwrap_err();
        assert_eq!(e.reason, "GLZ: referenced image not in the window");
        assert_eq!(e.offset, GLZ_HEADER_LEN);
        // Past the end of image 5.
        let e = w
            .decode(&rgb32(2, 6, 1, &[2 << 5 | 1, 0x00, 0x01]), None)
            .unwrap_err();
        assert_eq!(e.reason, "GLZ: reference outside the referenced image");
        // Distance larger than the id.
        let e = w
            .decode(&rgb32(2, 6, 1, &[2 << 5, 0x00, 0x07]), None)
            .unwrap_err();
        assert_eq!(e.reason, "GLZ: reference before the first image");
        // Within the image, before its start.
        let mut s = lit(&[A_BGR]);
        s.extend_from_slice(&[1 << 5 | 1, 0x00, 0x00]);
        let e = w.decode(&rgb32(2, 6, 1, &s), None).unwrap_err();
        assert_eq!(e.reason, "GLZ: match before the start of the image");
        // A match longer than the image.
        let mut s = lit(&[A_BGR]);
        s.extend_from_slice(&[3 << 5, 0x00, 0x00]);
        let e = w.decode(&rgb32(3, 6, 1, &s), None).unwrap_err();
        assert_eq!(e.reason, "GLZ: match runs past the end of the image");
        // More literals than pixels.
        let e = w
            .decode(&rgb32(1, 6, 1, &lit(&[A_BGR, B_BGR])), None)
            .unwrap_err();
        assert_eq!(e.reason, "GLZ: literals run past the end of the image");
        // Referenced image of another type (RGB24 referring to RGB32 image 5).
        let mut v = header(LZ_IMAGE_TYPE_RGB24, true, 2, 1, 6, 6, 1);
        v.extend_from_slice(&[2 << 5, 0x00, 0x01]);
        assert_eq!(
            w.decode(&v, None).unwrap_err().reason,
            "GLZ: referenced image has another type"
        );
        // None of the failures entered the window.
        assert_eq!(w.len(), 1);
        // Image 6 says the server's window holds only itself: image 5 is
        // released before it is decoded, and a reference to it is an error.
        let e = w
            .decode(&rgb32(2, 6, 0, &[2 << 5, 0x00, 0x01]), None)
            .unwrap_err();
        assert_eq!(e.reason, "GLZ: referenced image not in the window");
        assert!(w.is_empty());
    }

    #[test]
    fn bad_headers_are_errors() {
        let good = rgb32(2, 0, 0, &lit(&[A_BGR, B_BGR]));
        let mut w = GlzWindow::new(1 << 20);
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert_eq!(w.decode(&bad, None).unwrap_err().reason, "GLZ: bad magic");
        let mut bad = good.clone();
        bad[7] = 2;
        assert_eq!(
            w.decode(&bad, None).unwrap_err().reason,
            "GLZ: unsupported version"
        );
        for t in [0, LZ_IMAGE_TYPE_XXXA, LZ_IMAGE_TYPE_A8, 15] {
            let mut bad = good.clone();
            bad[8] = t as u8;
            assert_eq!(
                w.decode(&bad, None).unwrap_err().reason,
                "GLZ: unsupported image type"
            );
        }
        // Huge sizes are refused before any allocation.
        let e = w.decode(
            &header(LZ_IMAGE_TYPE_RGB32, true, 0xffff_ffff, 0xffff_ffff, 0, 0, 0),
            None,
        );
        assert_eq!(e.unwrap_err().reason, "GLZ: image too large");
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, 4096, 4096, 4096 * 4, 0, 0);
        v.extend_from_slice(&[0; 16]);
        assert_eq!(
            w.decode(&v, None).unwrap_err().reason,
            "GLZ: image larger than its data can encode"
        );
        let v = header(LZ_IMAGE_TYPE_RGB32, true, 0, 5, 0, 0, 0);
        assert_eq!(w.decode(&v, None).unwrap_err().reason, "GLZ: empty image");
        let v = header(LZ_IMAGE_TYPE_PLT8, true, 8, 1, 7, 0, 0);
        assert_eq!(
            w.decode(&v, Some(&[0])).unwrap_err().reason,
            "GLZ: palette stride shorter than a row"
        );
        let mut v = header(LZ_IMAGE_TYPE_PLT8, true, 1, 1, 1, 0, 0);
        v.extend_from_slice(&[0, 0]);
        assert_eq!(
            w.decode(&v, None).unwrap_err().reason,
            "GLZ: palette image without a palette"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut s = lit(&[A_BGR, B_BGR]);
        s.extend_from_slice(&[7 << 5 | 1, 255, 3, 0x00, 0x00]);
        let full = rgb32(2 + 7 + 255 + 3, 0, 0, &s);
        assert!(GlzWindow::new(1 << 20).decode(&full, None).is_ok());
        for n in 0..full.len() {
            let mut w = GlzWindow::new(1 << 20);
            assert!(w.decode(&full[..n], None).is_err(), "prefix {n}");
            assert!(w.is_empty());
        }
    }

    #[test]
    fn random_corruption_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut s = lit(&[A_BGR, B_BGR, A_BGR]);
        s.extend_from_slice(&[
            4 << 5 | 1,
            0x00,
            0x00,
            2 << 5 | 16 | 3,
            0x10,
            0x41,
            0x01,
            0x7f,
        ]);
        let base = rgb32(40, 3, 1, &s);
        let mut refused = 0;
        for _ in 0..20_000 {
            let mut w = GlzWindow::new(1 << 16);
            w.decode(&rgb32(8, 2, 0, &lit(&[A_BGR; 8])), None).unwrap();
            let mut d = base.clone();
            for _ in 0..rng.gen_range(1..6) {
                let i = rng.gen_range(GLZ_HEADER_LEN - 12..d.len());
                d[i] = rng.gen();
            }
            let n = rng.gen_range(GLZ_HEADER_LEN..=d.len());
            if w.decode(&d[..n], None).is_err() {
                refused += 1;
            }
        }
        assert!(
            refused > 10_000,
            "only {refused} of 20000 damaged images refused"
        );
    }

    #[test]
    fn bottom_up_rows_are_flipped() {
        let mut v = header(LZ_IMAGE_TYPE_RGB32, false, 2, 2, 8, 0, 0);
        v.extend_from_slice(&lit(&[A_BGR, A_BGR, B_BGR, B_BGR]));
        let img = GlzWindow::new(1 << 20).decode(&v, None).unwrap();
        assert_eq!((img.width, img.height), (2, 2));
        assert_eq!(img.pixels, vec![B, B, A, A]);
    }

    #[test]
    fn rgba_alpha_pass_replaces_alpha_only() {
        // Colour: A, B, then match of 4 at distance 2. Alpha: 0x10, 0x80, then
        // match of 4 at distance 2 (alpha lengths are biased by 2).
        let mut s = lit(&[A_BGR, B_BGR]);
        s.extend_from_slice(&[4 << 5 | 1, 0x00, 0x00]);
        s.extend_from_slice(&[1, 0x10, 0x80, 2 << 5 | 1, 0x00, 0x00]);
        let mut v = header(LZ_IMAGE_TYPE_RGBA, true, 6, 1, 24, 0, 0);
        v.extend_from_slice(&s);
        let mut w = GlzWindow::new(1 << 20);
        let img = w.decode(&v, None).unwrap();
        let (a, b) = (0x1011_2233, 0x8044_5566);
        assert_eq!(img.pixels, vec![a, b, a, b, a, b]);
        assert!(img.has_alpha);
        // A later RGBA image copies colour and alpha from image 0 (offset 1, length 3).
        let mut v = header(LZ_IMAGE_TYPE_RGBA, true, 3, 1, 12, 1, 1);
        v.extend_from_slice(&[3 << 5 | 1, 0x00, 0x01, 1 << 5 | 1, 0x00, 0x01]);
        assert_eq!(w.decode(&v, None).unwrap().pixels, vec![b, a, b]);
    }

    /// `payload` decoded by `into` straight into a 2-pixel-inset rectangle
    /// of a wider buffer, and by `whole` as an image: the rectangle's rows
    /// and the image's must be the same, and nothing else written.
    fn same_into_as_whole(whole: &mut GlzWindow, into: &mut GlzWindow, payload: &[u8]) -> Vec<u32> {
        let img = whole.decode(payload, None).unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        let stride = w + 4;
        let mut buf = vec![0xdead_beef_u32; stride * (h + 1)];
        let mut dst = Dest::new(&mut buf[2..], w, h, stride).unwrap();
        into.decode_into(payload, &mut dst).unwrap();
        for (y, row) in img.pixels.chunks_exact(w).enumerate() {
            assert_eq!(&buf[2 + y * stride..2 + y * stride + w], row, "row {y}");
            assert_eq!(buf[y * stride..y * stride + 2], [0xdead_beef; 2]);
        }
        assert_eq!(buf[2 + h * stride..], vec![0xdead_beef; stride - 2]);
        img.pixels.clone()
    }

    #[test]
    fn decode_into_matches_decode_and_keeps_the_same_window() {
        let (mut whole, mut into) = (GlzWindow::new(1 << 20), GlzWindow::new(1 << 20));
        // Image 0: top-down 3x2 of literals, a row per step.
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, 3, 2, 12, 0, 0);
        v.extend_from_slice(&lit(&[A_BGR, B_BGR, A_BGR]));
        v.extend_from_slice(&lit(&[B_BGR, B_BGR, B_BGR]));
        let px = same_into_as_whole(&mut whole, &mut into, &v);
        assert_eq!(px, vec![A, B, A, B, B, B]);
        // Image 1: bottom-up 3x2, all six units from image 0 (distance 1).
        let mut v = header(LZ_IMAGE_TYPE_RGB32, false, 3, 2, 12, 1, 1);
        v.extend_from_slice(&[6 << 5, 0x00, 0x01]);
        let px = same_into_as_whole(&mut whole, &mut into, &v);
        assert_eq!(px, vec![B, B, B, A, B, A]);
        // Image 2: RGBA 3x1, colour and alpha literals.
        let mut v = header(LZ_IMAGE_TYPE_RGBA, true, 3, 1, 12, 2, 2);
        v.extend_from_slice(&lit(&[A_BGR, B_BGR, A_BGR]));
        v.extend_from_slice(&[2, 0x10, 0x80, 0x10]);
        let px = same_into_as_whole(&mut whole, &mut into, &v);
        assert_eq!(px, vec![0x1011_2233, 0x8044_5566, 0x1011_2233]);
        // Image 3: units 2.. of the bottom-up image 1 (its stream order), 4 wide.
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, 4, 1, 16, 3, 3);
        v.extend_from_slice(&[4 << 5 | 2, 0x00, 0x02]);
        let px = same_into_as_whole(&mut whole, &mut into, &v);
        assert_eq!(px, vec![A, B, B, B]);
        assert_eq!(whole.len(), into.len());
        assert_eq!(whole.pixels(), into.pixels());
    }

    /// Decode `payload` both ways into windows holding the same 8-pixel
    /// image 0 (`whole` by `decode`, `into` by `decode_into`, so into its
    /// ring); both must refuse it with the same error or give the same
    /// pixels. Whether it was decoded.
    fn both_ways_agree(payload: &[u8], w: usize, h: usize) -> bool {
        let seed = rgb32(
            8,
            0,
            0,
            &lit(&[A_BGR, B_BGR, A_BGR, B_BGR, B_BGR, A_BGR, A_BGR, B_BGR]),
        );
        let (mut whole, mut into) = (GlzWindow::new(1 << 16), GlzWindow::new(1 << 16));
        whole.decode(&seed, None).unwrap();
        let mut buf = vec![0u32; 8];
        into.decode_into(&seed, &mut Dest::new(&mut buf, 8, 1, 8).unwrap())
            .unwrap();
        let mut buf = vec![0xdead_beef_u32; w * h + 1];
        let got = into.decode_into(payload, &mut Dest::new(&mut buf, w, h, w).unwrap());
        match (whole.decode(payload, None), got) {
            (Ok(img), Ok(())) => {
                assert_eq!(img.pixels, buf[..w * h], "pixels");
                assert_eq!(buf[w * h], 0xdead_beef, "wrote past the image");
                true
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "errors");
                false
            }
            (a, b) => panic!("decode {:?}, decode_into {b:?}", a.map(|_| ())),
        }
    }

    #[test]
    fn decode_into_agrees_with_decode_on_damaged_streams() {
        use rand::{Rng, SeedableRng};
        // 8x6 (48 units): literal runs of several lengths, overlapping and
        // apart back-references, a reference into image 0.
        let px = |n: usize, k: usize| -> Vec<[u8; 3]> {
            (0..n)
                .map(|i| [(i * 7 + k) as u8, (i * 13) as u8, (k * 29 + i) as u8])
                .collect()
        };
        let back = |len: u8, dist: usize| {
            [
                len << 5 | ((dist - 1) & 0xf) as u8,
                ((dist - 1) >> 4) as u8,
                0,
            ]
        };
        let mut s = lit(&px(5, 1));
        s.extend_from_slice(&lit(&px(1, 2)));
        s.extend_from_slice(&back(5, 1));
        s.extend_from_slice(&lit(&px(3, 3)));
        s.extend_from_slice(&back(6, 3));
        s.extend_from_slice(&back(4, 12));
        s.extend_from_slice(&[6 << 5 | 2, 0x00, 0x01]);
        s.extend_from_slice(&lit(&px(9, 4)));
        s.extend_from_slice(&lit(&px(2, 5)));
        s.extend_from_slice(&back(6, 20));
        s.extend_from_slice(&lit(&px(1, 6)));
        let mut base = header(LZ_IMAGE_TYPE_RGB32, true, 8, 6, 32, 1, 1);
        base.extend_from_slice(&s);
        assert!(both_ways_agree(&base, 8, 6));
        for n in GLZ_HEADER_LEN..base.len() {
            assert!(!both_ways_agree(&base[..n], 8, 6), "prefix {n}");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut decoded = 0;
        for _ in 0..3_000 {
            let mut d = base.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(GLZ_HEADER_LEN - 12..d.len());
                d[i] = rng.gen();
            }
            if both_ways_agree(&d, 8, 6) {
                decoded += 1;
            }
        }
        assert!(decoded > 0 && decoded < 3_000, "{decoded} of 3000 decoded");
        // RGB16: literals and a biased overlapping match.
        let mut v = header(LZ_IMAGE_TYPE_RGB16, true, 6, 1, 12, 1, 1);
        v.extend_from_slice(&[2, 0x7c, 0x00, 0x03, 0xe0, 0x42, 0x10]);
        v.extend_from_slice(&[2 << 5, 0x00, 0x00]);
        assert!(both_ways_agree(&v, 6, 1));
        assert!(!both_ways_agree(&v[..v.len() - 1], 6, 1));
    }

    #[test]
    fn decode_into_goes_round_the_ring_without_growing_it() {
        // A 16-pixel window: an 18-unit ring. Image k (3 to 8 pixels, rows
        // top-down or not) says the server's window holds it and image
        // k - 1, copies two units from that one, has one literal, then
        // repeats its last two units.
        let (mut whole, mut into) = (GlzWindow::new(16), GlzWindow::new(16));
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, 2, 1, 8, 0, 0);
        v.extend_from_slice(&lit(&[A_BGR, B_BGR]));
        same_into_as_whole(&mut whole, &mut into, &v);
        let mut in_ring = 0;
        for id in 1..60u64 {
            let n = 3 + (id as usize * 5) % 6;
            let mut v = header(
                LZ_IMAGE_TYPE_RGB32,
                id % 3 != 0,
                n as u32,
                1,
                4 * n as u32,
                id,
                1,
            );
            v.extend_from_slice(&[2 << 5, 0x00, 0x01]);
            v.extend_from_slice(&lit(&[B_BGR]));
            if n > 3 {
                v.extend_from_slice(&[((n - 3) << 5 | 1) as u8, 0x00, 0x00]);
            }
            let px = same_into_as_whole(&mut whole, &mut into, &v);
            assert_eq!(px.len(), n, "id {id}");
            assert_eq!((whole.len(), whole.pixels()), (into.len(), into.pixels()));
            assert!(into.ring.touched() <= 18, "id {id}");
            let newest = into.images.get(id).map(|img| &img.units);
            in_ring += usize::from(matches!(newest, Some(Units::Ring(_))));
        }
        // A few find no free run long enough and are kept on their own.
        assert!(in_ring > 40, "{in_ring} of 59 in the ring");
        into.clear();
        assert_eq!(
            into.ring.alloc(18).map(|s| s.len()),
            Some(18),
            "all given back"
        );
    }

    #[test]
    fn decode_into_refuses_palettes_and_other_sizes() {
        let mut w = GlzWindow::new(1 << 20);
        let mut buf = vec![0u32; 8];
        let mut dst = Dest::new(&mut buf, 2, 2, 2).unwrap();
        let mut v = header(LZ_IMAGE_TYPE_RGB32, true, 3, 1, 12, 0, 0);
        v.extend_from_slice(&lit(&[A_BGR, B_BGR, A_BGR]));
        assert!(w.decode_into(&v, &mut dst).is_err());
        let mut v = header(LZ_IMAGE_TYPE_PLT8, true, 2, 2, 2, 0, 0);
        v.extend_from_slice(&[3, 0, 1, 1, 0]);
        assert!(w.decode_into(&v, &mut dst).is_err());
        assert!(w.is_empty());
        assert_eq!(buf, vec![0; 8]);
    }

    #[test]
    fn rgb16_literals_and_biased_match() {
        // x1r5g5b5 sent big-endian; match lengths biased by 1.
        let mut v = header(LZ_IMAGE_TYPE_RGB16, true, 6, 1, 12, 0, 0);
        v.extend_from_slice(&[2, 0x7c, 0x00, 0x03, 0xe0, 0x42, 0x10]);
        v.extend_from_slice(&[2 << 5, 0x00, 0x00]);
        let img = GlzWindow::new(1 << 20).decode(&v, None).unwrap();
        let grey = 0x0084_8484; // 16 -> (16 << 3) | (16 >> 2) = 0x84
        assert_eq!(
            img.pixels,
            vec![0x00ff_0000, 0x0000_ff00, grey, grey, grey, grey]
        );
    }

    #[test]
    fn palette_types_expand_through_the_palette() {
        let pal = [0x0011_2233, 0x0044_5566, 0x0077_8899, 0x00aa_bbcc];
        let (p0, p1, p2, p3) = (0x0011_2233, 0x0044_5566, 0x0077_8899, 0x00aa_bbcc);
        let mut w = GlzWindow::new(1 << 20);
        // PLT8, bottom-up, 2x2 (stride 2): stream rows are bottom first.
        let mut v = header(LZ_IMAGE_TYPE_PLT8, false, 2, 2, 2, 0, 0);
        v.extend_from_slice(&[3, 0, 1, 2, 3]);
        assert_eq!(
            w.decode(&v, Some(&pal)).unwrap().pixels,
            vec![p2, p3, p0, p1]
        );
        // PLT1_BE: first pixel in bit 7; 10 pixels in a stride of 2.
        let mut v = header(LZ_IMAGE_TYPE_PLT1_BE, true, 10, 1, 2, 1, 0);
        v.extend_from_slice(&[1, 0b1010_0000, 0b0100_0000]);
        let img = w.decode(&v, Some(&pal)).unwrap();
        assert_eq!(img.pixels, vec![p1, p0, p1, p0, p0, p0, p0, p0, p0, p1]);
        // PLT4_LE: first pixel in the low nibble; PLT4_BE: high nibble.
        let mut v = header(LZ_IMAGE_TYPE_PLT4_LE, true, 3, 1, 2, 2, 0);
        v.extend_from_slice(&[1, 0x21, 0x03]);
        assert_eq!(w.decode(&v, Some(&pal)).unwrap().pixels, vec![p1, p2, p3]);
        let mut v = header(LZ_IMAGE_TYPE_PLT4_BE, true, 3, 1, 2, 3, 0);
        v.extend_from_slice(&[1, 0x21, 0x03]);
        assert_eq!(w.decode(&v, Some(&pal)).unwrap().pixels, vec![p2, p1, p0]);
        // PLT8 match: 2 literals then 3 more at distance 2 (coded 1; length biased by 2).
        let mut v = header(LZ_IMAGE_TYPE_PLT8, true, 5, 1, 5, 4, 0);
        v.extend_from_slice(&[1, 1, 2, 1 << 5 | 1, 0x00, 0x00]);
        assert_eq!(
            w.decode(&v, Some(&pal)).unwrap().pixels,
            vec![p1, p2, p1, p2, p1]
        );
        // An index beyond the palette gives black, as for LZ_PLT and BITMAP.
        let mut v = header(LZ_IMAGE_TYPE_PLT8, true, 2, 1, 2, 5, 0);
        v.extend_from_slice(&[1, 9, 1]);
        assert_eq!(w.decode(&v, Some(&pal)).unwrap().pixels, vec![0, p1]);
    }

    #[test]
    fn window_releases_what_the_server_no_longer_uses() {
        let mut w = GlzWindow::new(1 << 20);
        for id in 0..3 {
            w.decode(&rgb32(4, id, 10, &lit(&[A_BGR; 4])), None)
                .unwrap();
        }
        assert_eq!(w.len(), 3);
        // Image 3 says the server's window starts at image 3 - 1 = 2.
        w.decode(&rgb32(4, 3, 1, &lit(&[A_BGR; 4])), None).unwrap();
        assert!(!w.contains(0) && !w.contains(1));
        assert!(w.contains(2) && w.contains(3));
        assert_eq!(w.pixels(), 8);
        // An image arriving ahead of a missing one does not release anything
        // until the gap closes (another channel may still need them).
        w.decode(&rgb32(4, 5, 0, &lit(&[A_BGR; 4])), None).unwrap();
        assert!(w.contains(2) && w.contains(3) && w.contains(5));
        w.decode(&rgb32(4, 4, 2, &lit(&[A_BGR; 4])), None).unwrap();
        // Newest consecutive image is 5 with win_head_dist 0: only 5 stays.
        assert_eq!(w.len(), 1);
        assert!(w.contains(5));
        w.clear();
        assert!(w.is_empty());
        assert_eq!(w.pixels(), 0);
    }

    #[test]
    fn window_never_exceeds_its_pixel_budget() {
        let mut w = GlzWindow::new(10);
        for id in 0..5 {
            w.decode(&rgb32(4, id, 100, &lit(&[A_BGR; 4])), None)
                .unwrap();
            assert!(w.pixels() <= 10);
            assert!(w.contains(id));
        }
        assert_eq!(w.len(), 2);
        assert!(w.contains(3) && w.contains(4));
    }

    #[test]
    fn released_images_are_decoded_into_again_within_the_window() {
        // 64 pixels: spares and the unused ends of reused buffers may use 8
        // more.
        let mut w = GlzWindow::new(64);
        let decode = |w: &mut GlzWindow, n: usize, id: u64, px: [u8; 3]| {
            // Each image says the server's window holds only itself.
            w.decode(&rgb32(n as u32, id, 0, &lit(&vec![px; n])), None)
                .unwrap()
        };
        let ptr0 = decode(&mut w, 16, 0, A_BGR).pixels.as_ptr();
        // Image 0 is released before image 1 is decoded; its buffer is too
        // small for it.
        let ptr1 = decode(&mut w, 18, 1, B_BGR).pixels.as_ptr();
        assert_eq!((w.len(), w.spares.len(), w.spares.pixels()), (1, 1, 16));
        // 17 pixels: the spare of 16 is too small, image 1's 18 fits.
        let ptr2 = decode(&mut w, 17, 2, A_BGR).pixels.as_ptr();
        assert_eq!(ptr2, ptr1);
        assert_eq!((w.spares.len(), w.spares.pixels()), (1, 16));
        // 16 pixels: the smallest buffer that fits.
        let img = decode(&mut w, 16, 3, B_BGR);
        assert_eq!((img.pixels.as_ptr(), img.pixels.len()), (ptr0, 16));
        assert_eq!(img.pixels, vec![B; 16]);
        assert_eq!((w.spares.len(), w.spares.pixels()), (1, 18));
        // Image 3, still held by the caller when it is released, is no
        // spare: 18 is taken.
        let img = decode(&mut w, 16, 4, A_BGR);
        assert_eq!((img.pixels.as_ptr(), img.pixels.len()), (ptr1, 16));
        assert_eq!(img.pixels, vec![A; 16]);
        assert!(w.spares.is_empty());
        // Held elsewhere (as a pixmap cache entry would): not a spare.
        let held = img.clone();
        decode(&mut w, 3, 5, B_BGR);
        assert!(w.spares.is_empty());
        assert_eq!(held.pixels, vec![A; 16]);
        // The memory of the images held and the spares never exceeds the
        // window and its eighth, whatever the sizes and ids.
        for id in 6..200 {
            let n = 1 + (id as usize * 7) % 31;
            let whd = if id % 5 == 0 { 100 } else { id as u32 % 3 };
            w.decode(&rgb32(n as u32, id, whd, &lit(&vec![A_BGR; n])), None)
                .unwrap();
            assert!(w.pixels() <= 64, "id {id}");
            assert!(w.held_units + w.spares.pixels() <= 64 + 8, "id {id}");
            assert!(w.held_slack <= 8, "id {id}");
        }
        w.clear();
        assert!(w.spares.is_empty());
        assert_eq!((w.held_units, w.held_slack), (0, 0));
    }

    /// A zlib stream (RFC 1950) holding `data` in one stored deflate block (RFC 1951).
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        let mut v = vec![0x78, 0x01, 0x01];
        let n = data.len() as u16;
        v.extend_from_slice(&n.to_le_bytes());
        v.extend_from_slice(&(!n).to_le_bytes());
        v.extend_from_slice(data);
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + x as u32) % 65521;
            b = (b + a) % 65521;
        }
        v.extend_from_slice(&(b << 16 | a).to_be_bytes());
        v
    }

    #[test]
    fn zlib_glz_inflates_to_exactly_glz_data_size() {
        let glz = rgb32(3, 0, 0, &lit(&[A_BGR, B_BGR, A_BGR]));
        let z = zlib_stored(&glz);
        let n = glz.len() as u32;
        let mut w = GlzWindow::new(1 << 20);
        assert_eq!(w.decode_zlib(&z, n).unwrap().pixels, vec![A, B, A]);
        assert!(w.contains(0));
        let e = w.decode_zlib(&z, n - 1).unwrap_err();
        assert_eq!(
            e.reason,
            "ZLIB_GLZ: inflated data longer than glz_data_size"
        );
        let e = w.decode_zlib(&z, n + 1).unwrap_err();
        assert_eq!(
            e.reason,
            "ZLIB_GLZ: inflated data shorter than glz_data_size"
        );
        let e = w.decode_zlib(&z, u32::MAX).unwrap_err();
        assert_eq!(e.reason, "ZLIB_GLZ: glz_data_size too large");
        let e = w.decode_zlib(&z[..10], 1 << 20).unwrap_err();
        assert_eq!(
            e.reason,
            "ZLIB_GLZ: glz_data_size larger than the data can inflate to"
        );
        let mut bad = z.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            w.decode_zlib(&bad, n).unwrap_err().reason,
            "ZLIB_GLZ: corrupt zlib stream"
        );
        for k in 0..z.len() {
            assert!(w.decode_zlib(&z[..k], n).is_err(), "prefix {k}");
        }
    }

    /// Found by fuzz/glz: the image id u64::MAX overflowed the walk over
    /// consecutive ids (a panic with overflow checks on).
    #[test]
    fn last_possible_id_does_not_overflow() {
        let mut w = GlzWindow::new(1 << 20);
        let img = w
            .decode(&rgb32(1, u64::MAX, 0, &lit(&[A_BGR])), None)
            .unwrap();
        assert_eq!(img.pixels, vec![A]);
        assert!(w.contains(u64::MAX));
        let img = w
            .decode(&rgb32(1, u64::MAX - 1, 0, &lit(&[B_BGR])), None)
            .unwrap();
        assert_eq!(img.pixels, vec![B]);
    }

    #[test]
    fn late_images_are_taken_within_a_bound() {
        let late = MAX_LATE_IMAGES as u64;
        let mut w = GlzWindow::new(1 << 20);
        // Even ids 0 ..= 2 * (late + 10), one pixel each.
        for id in (0..=2 * (late + 10)).step_by(2) {
            w.decode(&rgb32(1, id, 1 << 30, &lit(&[A_BGR])), None)
                .unwrap();
        }
        // 21 has exactly `late` newer images (22 ..= the newest): taken,
        // between its neighbours.
        w.decode(&rgb32(1, 21, 1 << 30, &lit(&[B_BGR])), None)
            .unwrap();
        assert!(w.contains(20) && w.contains(21) && w.contains(22));
        // One more newer than 19, and more still than 1: refused.
        for id in [19, 1] {
            let e = w.decode(&rgb32(1, id, 1 << 30, &lit(&[B_BGR])), None);
            assert_eq!(
                e.unwrap_err().reason,
                "GLZ: image id too far behind the newest"
            );
            assert!(!w.contains(id));
        }
        // The newest image again (none newer): replaced.
        let img = w
            .decode(&rgb32(1, 2 * (late + 10), 1 << 30, &lit(&[B_BGR])), None)
            .unwrap();
        assert_eq!(img.pixels, vec![B]);
        assert_eq!(w.len() as u64, late + 11 + 1);
    }

    /// Found by fuzz/glz: with ids arriving in decreasing order the newest
    /// image always had the lowest id, the size check stopped there, and
    /// the window grew without bound (every image kept).
    #[test]
    fn window_size_holds_when_ids_decrease() {
        let mut w = GlzWindow::new(4);
        for id in [50, 40, 30, 20] {
            // 3 pixels each, win_head_dist far back so only the size check evicts.
            w.decode(&rgb32(3, id, 100, &lit(&[A_BGR, B_BGR, A_BGR])), None)
                .unwrap();
            assert_eq!(w.pixels(), 3, "after id {id}");
            assert!(w.contains(id));
        }
        assert_eq!(w.len(), 1);
    }
}
