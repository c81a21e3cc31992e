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

extern "C" {
    fn cref_codecs_new() -> *mut CrefCodecs;
    fn cref_codecs_free(c: *mut CrefCodecs);
    fn cref_quic_encode(
        c: *mut CrefCodecs,
        ty: c_int,
        w: c_int,
        h: c_int,
        px: *const u32,
        out: *mut u32,
        out_words: u32,
    ) -> c_int;
    fn cref_quic_decode(
        c: *mut CrefCodecs,
        data: *const u8,
        len: u32,
        dest: *mut u32,
        w: c_int,
        h: c_int,
    ) -> c_int;
    fn cref_lz_encode(
        c: *mut CrefCodecs,
        ty: c_int,
        w: c_int,
        h: c_int,
        top_down: c_int,
        px: *const u32,
        out: *mut u8,
        out_len: u32,
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
        assert_eq!(px.len(), w * h);
        let mut out = vec![0u32; w * h * 2 + 1024];
        // SAFETY: px holds w*h pixels (stride w*4); out holds out.len() words.
        let n = unsafe {
            cref_quic_encode(
                self.0,
                ty,
                w as c_int,
                h as c_int,
                px.as_ptr(),
                out.as_mut_ptr(),
                out.len() as u32,
            )
        };
        (n > 0).then(|| {
            out[..n as usize]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect()
        })
    }

    /// `quic_decode` of `data` into `dest` (`w x h` pixels); false on error.
    pub fn quic_decode(&mut self, data: &[u8], dest: &mut [u32], w: usize, h: usize) -> bool {
        assert_eq!(dest.len(), w * h);
        // quic_decode_begin reads whole words: give it a word-aligned copy
        // only when the input is not aligned (the bench aligns its inputs).
        assert_eq!(
            data.as_ptr() as usize % 4,
            0,
            "QUIC input must be word aligned"
        );
        // SAFETY: data is len bytes, aligned; dest holds w*h pixels.
        unsafe {
            cref_quic_decode(
                self.0,
                data.as_ptr(),
                data.len() as u32,
                dest.as_mut_ptr(),
                w as c_int,
                h as c_int,
            ) == 0
        }
    }

    /// `lz_encode` (top-down) of `w x h` 32-bit pixels as LZ image type `ty`.
    pub fn lz_encode(&mut self, ty: i32, w: usize, h: usize, px: &[u32]) -> Option<Vec<u8>> {
        assert_eq!(px.len(), w * h);
        let mut out = vec![0u8; w * h * 5 + 1024];
        // SAFETY: px holds w*h pixels (stride w*4); out holds out.len() bytes.
        let n = unsafe {
            cref_lz_encode(
                self.0,
                ty,
                w as c_int,
                h as c_int,
                1,
                px.as_ptr(),
                out.as_mut_ptr(),
                out.len() as u32,
            )
        };
        (n > 0).then(|| out[..n as usize].to_vec())
    }

    /// `lz_decode` of an RGB LZ image into `dest` (`w x h`); false on error.
    pub fn lz_decode(&mut self, data: &[u8], dest: &mut [u32], w: usize, h: usize) -> bool {
        assert_eq!(dest.len(), w * h);
        // SAFETY: data is len bytes; dest holds w*h pixels.
        unsafe {
            cref_lz_decode(
                self.0,
                data.as_ptr(),
                data.len() as u32,
                dest.as_mut_ptr(),
                w as c_int,
                h as c_int,
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
