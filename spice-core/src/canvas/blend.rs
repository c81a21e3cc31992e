//! Per-pixel blending arithmetic on packed `0xAARRGGBB` words: coverage
//! mixing, bilinear interpolation and premultiplied OVER. A leaf module.

/// `s*a + d*(255-a)` per channel, `a` in 0..=255.
#[inline]
pub(super) fn mix(s: u32, d: u32, a: u32) -> u32 {
    let mut out = 0;
    for shift in [0u32, 8, 16, 24] {
        let v = (((s >> shift) & 0xff) * a + ((d >> shift) & 0xff) * (255 - a)) / 255;
        out |= v << shift;
    }
    out
}

/// Blend two pixels, all four channels at once: `a*(256-w) + b*w`, `w` in 0..=256.
#[inline(always)]
fn lerp2(a: u32, b: u32, w: u32) -> u32 {
    let iw = 256 - w;
    let rb = (((a & 0x00ff_00ff) * iw + (b & 0x00ff_00ff) * w) >> 8) & 0x00ff_00ff;
    let ag = (((a >> 8) & 0x00ff_00ff) * iw + ((b >> 8) & 0x00ff_00ff) * w) & 0xff00_ff00;
    rb | ag
}

/// Bilinear blend of a 2x2 neighbourhood: `a b` over `c d`, with the
/// horizontal weight `wx` and vertical weight `wy` in 0..=256.
#[inline(always)]
pub(crate) fn bilerp(a: u32, b: u32, c: u32, d: u32, wx: u32, wy: u32) -> u32 {
    lerp2(lerp2(a, b, wx), lerp2(c, d, wx), wy)
}

/// Premultiplied OVER with a global alpha: `dst = src*ga + dst*(1 - sa*ga)`.
#[inline]
pub(super) fn over(s: u32, d: u32, ga: u32, src_alpha: bool) -> u32 {
    let sa = if src_alpha { s >> 24 } else { 255 };
    let a = sa * ga / 255;
    let mut out = 0u32;
    for shift in [0u32, 8, 16, 24] {
        let sc = if shift == 24 { sa } else { (s >> shift) & 0xff };
        let dc = (d >> shift) & 0xff;
        let v = (sc * ga + dc * (255 - a)) / 255;
        out |= v.min(255) << shift;
    }
    out
}
