//! A GLZ *encoder* for the benches only (the client never encodes GLZ): a
//! small greedy encoder writing the format of the server's `glz-encode*.c`
//! (runs, copies from the row above, copies from the same place in an
//! earlier image of the window, literals). The benches check that decoding
//! gives the frame back as a sanity check.
#![allow(dead_code)]

use spice_core::image::lz::{LZ_IMAGE_TYPE_RGB32, LZ_MAGIC, LZ_VERSION};

/// Writes a GLZ RGB32 stream.
pub struct GlzStream {
    out: Vec<u8>,
    lits: Vec<u32>,
}

impl GlzStream {
    fn new(w: u32, h: u32, id: u64, win_head_dist: u32) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&LZ_MAGIC.to_be_bytes());
        out.extend_from_slice(&LZ_VERSION.to_be_bytes());
        out.push(LZ_IMAGE_TYPE_RGB32 as u8 | 1 << 4); // top-down
        for v in [w, h, w * 4] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&win_head_dist.to_be_bytes());
        Self {
            out,
            lits: Vec::new(),
        }
    }
    fn flush(&mut self) {
        for chunk in self.lits.chunks(32) {
            self.out.push(chunk.len() as u8 - 1);
            for p in chunk {
                self.out
                    .extend_from_slice(&[*p as u8, (*p >> 8) as u8, (*p >> 16) as u8]);
            }
        }
        self.lits.clear();
    }
    /// A match of `len` pixels: in this image `ofs + 1` back (image_dist
    /// 0), or from pixel `ofs` of the image `image_dist` back.
    fn matched(&mut self, len: usize, image_dist: u32, ofs: usize) {
        self.flush();
        let o = &mut self.out;
        let far = if ofs >= 4096 { 16 } else { 0 };
        if len < 7 {
            o.push(((len as u8) << 5) + far + (ofs & 0xf) as u8);
        } else {
            o.push((7 << 5) + far + (ofs & 0xf) as u8);
            let mut rest = len - 7;
            while rest >= 255 {
                o.push(255);
                rest -= 255;
            }
            o.push(rest as u8);
        }
        o.push((ofs >> 4) as u8);
        assert!(image_dist < 64);
        if ofs < 4096 {
            o.push(image_dist as u8);
        } else {
            let long = if ofs >= 1 << 17 { 32 } else { 0 };
            let extra: u8 = if image_dist == 0 { 0 } else { 1 };
            o.push(long + (extra << 6) + ((ofs >> 12) & 31) as u8);
            if image_dist != 0 {
                o.push(image_dist as u8);
            }
            if long != 0 {
                o.push((ofs >> 17) as u8);
            }
        }
    }
}

/// Greedy GLZ encoding of `px` as image `id`: runs, copies from the row
/// above, copies from the same place in `prev` (the image `dist` ids back),
/// else literals. The server's window head is image 0.
pub fn encode(px: &[u32], w: usize, h: usize, id: u64, prev: Option<(&[u32], u32)>) -> Vec<u8> {
    let mut s = GlzStream::new(w as u32, h as u32, id, id as u32);
    let n = px.len();
    let run_len = |i: usize, r: usize| (0..n - i).take_while(|&k| px[i + k] == px[r + k]).count();
    let mut i = 0;
    while i < n {
        if i > 0 && px[i] == px[i - 1] {
            let l = (0..n - i).take_while(|&k| px[i + k] == px[i - 1]).count();
            if l >= 2 {
                s.matched(l, 0, 0);
                i += l;
                continue;
            }
        }
        if let Some((q, dist)) = prev {
            let l = (0..n - i).take_while(|&k| px[i + k] == q[i + k]).count();
            if l >= 2 {
                s.matched(l, dist, i);
                i += l;
                continue;
            }
        }
        if i >= w {
            let l = run_len(i, i - w);
            if l >= 2 {
                s.matched(l, 0, w - 1);
                i += l;
                continue;
            }
        }
        s.lits.push(px[i]);
        i += 1;
    }
    s.flush();
    s.out
}
