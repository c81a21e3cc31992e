//! Safe wrappers over `c/glue.c`.

use core::ffi::c_int;

#[repr(C)]
struct CrefCodecs {
    _private: [u8; 0],
}

#[repr(C)]
struct CrefGlz {
    _private: [u8; 0],
}

/// The glue's decoder signature (context, data, len, dest, width, height).
type DecodeFn =
    unsafe extern "C" fn(*mut CrefCodecs, *const u8, u32, *mut u32, c_int, c_int) -> c_int;

/// The glue's encoder signature (context, type, width, height, pixels,
/// out, out capacity in bytes) returning the bytes written or -1.
type EncodeFn =
    unsafe extern "C" fn(*mut CrefCodecs, c_int, c_int, c_int, *const u32, *mut u8, u32) -> c_int;

extern "C" {
    fn cref_quic_encode(
        c: *mut CrefCodecs,
        ty: c_int,
        w: c_int,
        h: c_int,
        px: *const u32,
        out: *mut u8,
        out_len: u32,
    ) -> c_int;
    fn cref_lz_encode(
        c: *mut CrefCodecs,
        ty: c_int,
        w: c_int,
        h: c_int,
        px: *const u32,
        out: *mut u8,
        out_len: u32,
    ) -> c_int;
    fn cref_codecs_new() -> *mut CrefCodecs;
    fn cref_codecs_free(c: *mut CrefCodecs);
    fn cref_quic_decode(
        c: *mut CrefCodecs,
        data: *const u8,
        len: u32,
        dest: *mut u32,
        w: c_int,
        h: c_int,
    ) -> c_int;
    fn cref_lz_decode(
        c: *mut CrefCodecs,
        data: *const u8,
        len: u32,
        dest: *mut u32,
        w: c_int,
        h: c_int,
    ) -> c_int;
    fn cref_lz4_decode(data: *const u8, len: u32, dest: *mut u32, w: c_int, h: c_int) -> c_int;
    fn cref_lz_draw_canvas(
        c: *mut CrefCodecs,
        data: *const u8,
        len: u32,
        dest: *mut u32,
        w: c_int,
        h: c_int,
        dest_stride: c_int,
    ) -> c_int;
    fn cref_lz4_draw_canvas(
        data: *const u8,
        len: u32,
        dest: *mut u32,
        w: c_int,
        h: c_int,
        dest_stride: c_int,
    ) -> c_int;
    fn cref_glz_draw_canvas(
        g: *mut CrefGlz,
        data: *const u8,
        dest: *mut u32,
        w: c_int,
        h: c_int,
        dest_stride: c_int,
    ) -> c_int;
    fn cref_lz4_compress(src: *const u8, n: c_int, dst: *mut u8, cap: c_int) -> c_int;
    fn cref_glz_new() -> *mut CrefGlz;
    fn cref_glz_free(g: *mut CrefGlz);
    fn cref_glz_decode(
        g: *mut CrefGlz,
        data: *const u8,
        out: *mut u32,
        w: c_int,
        h: c_int,
    ) -> c_int;
}

/// spice-common's QUIC and LZ contexts (one of each, reused like the
/// client's canvas reuses them).
pub struct Codecs(*mut CrefCodecs);

impl Codecs {
    /// Create the contexts.
    pub fn new() -> Self {
        // SAFETY: cref_codecs_new has no preconditions; null is checked.
        let p = unsafe { cref_codecs_new() };
        assert!(!p.is_null(), "cref_codecs_new: out of memory");
        Self(p)
    }

    /// `quic_encode` of `w x h` 32-bit pixels as QUIC image type `ty`.
    pub fn quic_encode(&mut self, ty: i32, w: usize, h: usize, px: &[u32]) -> Option<Vec<u8>> {
        self.encode_with(cref_quic_encode, ty, w, h, px)
    }

    /// `lz_encode` (top-down) of `w x h` 32-bit pixels as LZ image type `ty`.
    pub fn lz_encode(&mut self, ty: i32, w: usize, h: usize, px: &[u32]) -> Option<Vec<u8>> {
        self.encode_with(cref_lz_encode, ty, w, h, px)
    }

    /// Run one of the glue's encoders into a buffer big enough for any
    /// input (both coders expand incompressible pixels by well under 2x).
    fn encode_with(
        &mut self,
        f: EncodeFn,
        ty: i32,
        w: usize,
        h: usize,
        px: &[u32],
    ) -> Option<Vec<u8>> {
        assert_eq!(px.len(), w * h);
        let mut out = vec![0u32; w * h * 2 + 1024];
        let cap = (out.len() * 4) as u32;
        // SAFETY: px holds w*h pixels (stride w*4); out holds `cap` bytes,
        // word-aligned as quic_encode needs.
        let n = unsafe {
            f(
                self.0,
                ty,
                w as c_int,
                h as c_int,
                px.as_ptr(),
                out.as_mut_ptr().cast::<u8>(),
                cap,
            )
        };
        let bytes: &[u8] = bytemuck_free_bytes(&out);
        (n > 0).then(|| bytes[..n as usize].to_vec())
    }

    /// `quic_decode` of `data` into `dest` (`w x h` pixels); false on error.
    pub fn quic_decode(&mut self, data: &[u8], dest: &mut [u32], w: usize, h: usize) -> bool {
        // quic_decode_begin reads whole words (the bench aligns its inputs).
        assert_eq!(data.as_ptr() as usize % 4, 0, "QUIC input must be aligned");
        self.decode_with(cref_quic_decode, data, dest, w, h)
    }

    /// Run one of the glue's decoders (`cref_quic_decode`, `cref_lz_decode`).
    fn decode_with(
        &mut self,
        f: DecodeFn,
        data: &[u8],
        dest: &mut [u32],
        w: usize,
        h: usize,
    ) -> bool {
        assert_eq!(dest.len(), w * h);
        // SAFETY: data is data.len() bytes; dest holds w*h pixels; the
        // decoder checks the image size against w and h before writing.
        unsafe {
            f(
                self.0,
                data.as_ptr(),
                data.len() as u32,
                dest.as_mut_ptr(),
                w as c_int,
                h as c_int,
            ) == 0
        }
    }

    /// `lz_decode` of an RGB LZ image into `dest` (`w x h`); false on error.
    pub fn lz_decode(&mut self, data: &[u8], dest: &mut [u32], w: usize, h: usize) -> bool {
        self.decode_with(cref_lz_decode, data, dest, w, h)
    }

    /// An RGB LZ image drawn as spice-gtk's software canvas draws it: a new
    /// pixman surface, `lz_decode` into it, the surface composited onto
    /// `dest` (`w x h` at `stride` pixels per row) and freed.
    pub fn lz_draw_canvas(&mut self, data: &[u8], dest: &mut [u32], to: Rect) -> bool {
        to.check(dest);
        // SAFETY: data is data.len() bytes; `to.check` made sure dest holds
        // the rectangle; the decoder checks the image size against it.
        unsafe {
            cref_lz_draw_canvas(
                self.0,
                data.as_ptr(),
                data.len() as u32,
                dest.as_mut_ptr(),
                to.w as c_int,
                to.h as c_int,
                to.stride as c_int,
            ) == 0
        }
    }
}

impl Default for Codecs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Codecs {
    fn drop(&mut self) {
        // SAFETY: self.0 came from cref_codecs_new and is freed once.
        unsafe { cref_codecs_free(self.0) }
    }
}

/// The bytes of `words` in memory order (what the C encoders wrote).
fn bytemuck_free_bytes(words: &[u32]) -> &[u8] {
    // SAFETY: any u32 slice is valid as 4x as many bytes, same lifetime.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 4) }
}

/// Decode a SPICE LZ4 payload as spice-common's `canvas_get_lz4` does
/// (liblz4 streaming decode) into `dest` (`w x h`); false on error.
pub fn lz4_decode(data: &[u8], dest: &mut [u32], w: usize, h: usize) -> bool {
    assert_eq!(dest.len(), w * h);
    // SAFETY: data is len bytes; dest holds w*h pixels.
    unsafe {
        cref_lz4_decode(
            data.as_ptr(),
            data.len() as u32,
            dest.as_mut_ptr(),
            w as c_int,
            h as c_int,
        ) == 0
    }
}

/// A destination rectangle of `w x h` pixels at `stride` pixels per row
/// from the start of a slice (for the canvas-style draws).
#[derive(Clone, Copy, Debug)]
pub struct Rect {
    /// Width in pixels.
    pub w: usize,
    /// Height in rows.
    pub h: usize,
    /// Pixels from one row's start to the next.
    pub stride: usize,
}

impl Rect {
    /// Panic unless `dest` holds the rectangle.
    fn check(&self, dest: &[u32]) {
        assert!(self.w > 0 && self.h > 0 && self.stride >= self.w);
        assert!(dest.len() >= (self.h - 1) * self.stride + self.w);
    }
}

/// A SPICE LZ4 payload (32BIT) drawn as spice-gtk's software canvas draws
/// it: a new pixman surface (`canvas_get_lz4`), liblz4's streaming decode
/// into it, the surface composited onto `dest` and freed; false on error.
pub fn lz4_draw_canvas(data: &[u8], dest: &mut [u32], to: Rect) -> bool {
    to.check(dest);
    // SAFETY: data is data.len() bytes; `to.check` made sure dest holds the
    // rectangle.
    unsafe {
        cref_lz4_draw_canvas(
            data.as_ptr(),
            data.len() as u32,
            dest.as_mut_ptr(),
            to.w as c_int,
            to.h as c_int,
            to.stride as c_int,
        ) == 0
    }
}

/// One LZ4 block by liblz4's `LZ4_compress_default` (what spice-server's
/// LZ4 encoder calls).
pub fn lz4_compress(src: &[u8]) -> Vec<u8> {
    let cap = src.len() + src.len() / 255 + 64;
    let mut out = vec![0u8; cap];
    // SAFETY: src is src.len() bytes; out holds cap bytes.
    let n = unsafe {
        cref_lz4_compress(
            src.as_ptr(),
            src.len() as c_int,
            out.as_mut_ptr(),
            cap as c_int,
        )
    };
    assert!(n > 0, "LZ4_compress_default failed");
    out.truncate(n as usize);
    out
}

/// spice-gtk's GLZ decoder window and decoder.
pub struct Glz(*mut CrefGlz);

impl Glz {
    /// A fresh window.
    pub fn new() -> Self {
        // SAFETY: no preconditions; null is checked.
        let p = unsafe { cref_glz_new() };
        assert!(!p.is_null(), "cref_glz_new: out of memory");
        Self(p)
    }

    /// Decode one GLZ image (its references must already be in the
    /// window), copying the pixels to `out` when given (for checking).
    pub fn decode(&mut self, data: &[u8], out: Option<&mut [u32]>, w: usize, h: usize) -> bool {
        let out = match out {
            Some(o) => {
                assert_eq!(o.len(), w * h);
                o.as_mut_ptr()
            }
            None => core::ptr::null_mut(),
        };
        // SAFETY: data is a complete GLZ image from a trusted bench input
        // (the reference decoder trusts its input); out is null or w*h pixels.
        unsafe { cref_glz_decode(self.0, data.as_ptr(), out, w as c_int, h as c_int) == 0 }
    }
}

impl Glz {
    /// Decode one GLZ image and draw it as spice-gtk's software canvas
    /// does: the decoder's surface composited onto `dest`, then freed.
    pub fn draw_canvas(&mut self, data: &[u8], dest: &mut [u32], to: Rect) -> bool {
        to.check(dest);
        // SAFETY: data is a complete GLZ image from a trusted bench input;
        // `to.check` made sure dest holds the rectangle.
        unsafe {
            cref_glz_draw_canvas(
                self.0,
                data.as_ptr(),
                dest.as_mut_ptr(),
                to.w as c_int,
                to.h as c_int,
                to.stride as c_int,
            ) == 0
        }
    }
}

impl Default for Glz {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Glz {
    fn drop(&mut self) {
        // SAFETY: self.0 came from cref_glz_new and is freed once.
        unsafe { cref_glz_free(self.0) }
    }
}
