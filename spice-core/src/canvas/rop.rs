//! Raster operations: the 16 boolean ops on (source, destination) that
//! SPICE's `SpiceRopd` descriptors select, the row kernels that apply one
//! to a run of pixels, and the Windows-numbered ternary ops of DRAW_ROP3.
//! A leaf module: it knows pixels as `u32` words and nothing of surfaces.

use crate::enums::*;

/// The 16 boolean raster operations on (source, destination), in the order
/// of `SpiceROP` (`pixman_utils.h`) / X11 GX codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rop {
    /// 0
    Clear,
    /// src AND dst
    And,
    /// src AND NOT dst
    AndReverse,
    /// src
    Copy,
    /// NOT src AND dst
    AndInverted,
    /// dst
    Noop,
    /// src XOR dst
    Xor,
    /// src OR dst
    Or,
    /// NOT (src OR dst)
    Nor,
    /// NOT src XOR dst
    Equiv,
    /// NOT dst
    Invert,
    /// src OR NOT dst
    OrReverse,
    /// NOT src
    CopyInverted,
    /// NOT src OR dst
    OrInverted,
    /// NOT (src AND dst)
    Nand,
    /// all ones
    Set,
}

/// Which operand of a draw command plays "source" or "destination" when a
/// `SpiceRopd` descriptor is turned into a [`Rop`] (`canvas_base.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopInput {
    /// The source image.
    Src,
    /// The brush.
    Brush,
    /// The destination surface.
    Dest,
}

impl Rop {
    const ALL: [Rop; 16] = [
        Rop::Clear,
        Rop::And,
        Rop::AndReverse,
        Rop::Copy,
        Rop::AndInverted,
        Rop::Noop,
        Rop::Xor,
        Rop::Or,
        Rop::Nor,
        Rop::Equiv,
        Rop::Invert,
        Rop::OrReverse,
        Rop::CopyInverted,
        Rop::OrInverted,
        Rop::Nand,
        Rop::Set,
    ];

    /// Turn a `SPICE_ROPD_*` descriptor into a raster op. `src` / `dest` say
    /// which inversion bits (INVERS_SRC / INVERS_BRUSH / INVERS_DEST) apply
    /// to the op's two inputs, as `ropd_descriptor_to_rop` does.
    pub fn from_descriptor(desc: u16, src: RopInput, dest: RopInput) -> Rop {
        let d = desc as u32;
        let inv_bit = |i: RopInput| match i {
            RopInput::Src => SPICE_ROPD_INVERS_SRC,
            RopInput::Brush => SPICE_ROPD_INVERS_BRUSH,
            RopInput::Dest => SPICE_ROPD_INVERS_DEST,
        };
        let inv_s = d & inv_bit(src) != 0;
        let inv_d = d & inv_bit(dest) != 0;
        let inv_r = d & SPICE_ROPD_INVERS_RES != 0;
        let op: fn(bool, bool) -> bool = if d & SPICE_ROPD_OP_PUT != 0 {
            |s, _| s
        } else if d & SPICE_ROPD_OP_OR != 0 {
            |s, d| s | d
        } else if d & SPICE_ROPD_OP_AND != 0 {
            |s, d| s & d
        } else if d & SPICE_ROPD_OP_XOR != 0 {
            |s, d| s ^ d
        } else if d & SPICE_ROPD_OP_BLACKNESS != 0 {
            return Rop::Clear;
        } else if d & SPICE_ROPD_OP_WHITENESS != 0 {
            return Rop::Set;
        } else if d & SPICE_ROPD_OP_INVERS != 0 {
            return Rop::Invert;
        } else {
            return Rop::Copy;
        };
        // GX code: bit ((!s) << 1 | !d) holds f(s, d).
        let mut code = 0usize;
        for s in [false, true] {
            for dv in [false, true] {
                if op(s ^ inv_s, dv ^ inv_d) ^ inv_r {
                    code |= 1 << (((!s as usize) << 1) | !dv as usize);
                }
            }
        }
        Rop::ALL[code]
    }

    /// Apply to one pair of pixels.
    #[inline(always)]
    pub fn apply(self, s: u32, d: u32) -> u32 {
        match self {
            Rop::Clear => 0,
            Rop::And => s & d,
            Rop::AndReverse => s & !d,
            Rop::Copy => s,
            Rop::AndInverted => !s & d,
            Rop::Noop => d,
            Rop::Xor => s ^ d,
            Rop::Or => s | d,
            Rop::Nor => !(s | d),
            Rop::Equiv => !s ^ d,
            Rop::Invert => !d,
            Rop::OrReverse => s | !d,
            Rop::CopyInverted => !s,
            Rop::OrInverted => !s | d,
            Rop::Nand => !(s & d),
            Rop::Set => !0,
        }
    }
}

/// `d[i] = rop(s[i], d[i]) & keep` with the op chosen once per row.
pub(super) fn rop_row(rop: Rop, d: &mut [u32], s: &[u32], keep: u32) {
    macro_rules! each {
        (|$s:ident, $d:ident| $e:expr) => {
            for (dp, &$s) in d.iter_mut().zip(s) {
                let $d = *dp;
                *dp = ($e) & keep;
            }
        };
    }
    match rop {
        Rop::Clear => each!(|_s, _d| 0),
        Rop::And => each!(|s, d| s & d),
        Rop::AndReverse => each!(|s, d| s & !d),
        Rop::Copy => each!(|s, _d| s),
        Rop::AndInverted => each!(|s, d| !s & d),
        Rop::Noop => {}
        Rop::Xor => each!(|s, d| s ^ d),
        Rop::Or => each!(|s, d| s | d),
        Rop::Nor => each!(|s, d| !(s | d)),
        Rop::Equiv => each!(|s, d| !s ^ d),
        Rop::Invert => each!(|_s, d| !d),
        Rop::OrReverse => each!(|s, d| s | !d),
        Rop::CopyInverted => each!(|s, _d| !s),
        Rop::OrInverted => each!(|s, d| !s | d),
        Rop::Nand => each!(|s, d| !(s & d)),
        Rop::Set => each!(|_s, _d| !0),
    }
}

/// Like [`rop_row`] with one source value for the whole row.
pub(super) fn rop_fill_row(rop: Rop, d: &mut [u32], s: u32, keep: u32) {
    let v = rop.apply(s, 0) & keep;
    let dependent = rop.apply(s, !0) & keep != v;
    if !dependent {
        d.fill(v);
        return;
    }
    for dp in d.iter_mut() {
        *dp = rop.apply(s, *dp) & keep;
    }
}

/// A Windows-numbered ternary raster op on (pattern, source, destination):
/// bit `(p << 2) | (s << 1) | d` of `code` is the result for those inputs.
#[inline]
pub fn rop3(code: u8, p: u32, s: u32, d: u32) -> u32 {
    let mut out = 0;
    for idx in 0..8 {
        if (code >> idx) & 1 != 0 {
            let pm = if idx & 4 != 0 { p } else { !p };
            let sm = if idx & 2 != 0 { s } else { !s };
            let dm = if idx & 1 != 0 { d } else { !d };
            out |= pm & sm & dm;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ropd_descriptors_match_canvas_base_table() {
        use RopInput::*;
        let r = |d: u32| Rop::from_descriptor(d as u16, Src, Dest);
        assert_eq!(r(SPICE_ROPD_OP_PUT), Rop::Copy);
        assert_eq!(
            r(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC),
            Rop::CopyInverted
        );
        assert_eq!(
            r(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_RES),
            Rop::Copy
        );
        assert_eq!(r(SPICE_ROPD_OP_OR), Rop::Or);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_RES), Rop::Nor);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC), Rop::OrInverted);
        assert_eq!(r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_DEST), Rop::OrReverse);
        assert_eq!(
            r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_DEST),
            Rop::Nand
        );
        assert_eq!(
            r(SPICE_ROPD_OP_OR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_RES),
            Rop::AndReverse
        );
        assert_eq!(r(SPICE_ROPD_OP_AND), Rop::And);
        assert_eq!(r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_RES), Rop::Nand);
        assert_eq!(
            r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_SRC),
            Rop::AndInverted
        );
        assert_eq!(
            r(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_DEST),
            Rop::AndReverse
        );
        assert_eq!(r(SPICE_ROPD_OP_XOR), Rop::Xor);
        assert_eq!(r(SPICE_ROPD_OP_XOR | SPICE_ROPD_INVERS_RES), Rop::Equiv);
        assert_eq!(
            r(SPICE_ROPD_OP_XOR | SPICE_ROPD_INVERS_SRC | SPICE_ROPD_INVERS_DEST),
            Rop::Xor
        );
        assert_eq!(
            r(SPICE_ROPD_OP_BLACKNESS | SPICE_ROPD_INVERS_RES),
            Rop::Clear
        );
        assert_eq!(r(SPICE_ROPD_OP_WHITENESS), Rop::Set);
        assert_eq!(r(SPICE_ROPD_OP_INVERS), Rop::Invert);
        assert_eq!(r(0), Rop::Copy);
        // For a fill the brush inversion bit is the one that counts.
        let f = |d: u32| Rop::from_descriptor(d as u16, Brush, Dest);
        assert_eq!(
            f(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_BRUSH),
            Rop::CopyInverted
        );
        assert_eq!(f(SPICE_ROPD_OP_PUT | SPICE_ROPD_INVERS_SRC), Rop::Copy);
    }

    #[test]
    fn rop_apply_truth_tables() {
        assert_eq!(Rop::AndReverse.apply(0b1100, 0b1010) & 0xf, 0b0100);
        assert_eq!(Rop::Equiv.apply(0b1100, 0b1010) & 0xf, 0b1001);
        assert_eq!(Rop::OrInverted.apply(0b1100, 0b1010) & 0xf, 0b1011);
        assert_eq!(Rop::Nor.apply(0b1100, 0b1010) & 0xf, 0b0001);
    }

    #[test]
    fn rop3_codes() {
        // SRCCOPY 0xCC, PATCOPY 0xF0, DSTINVERT 0x55, PATINVERT 0x5A, SRCAND 0x88
        assert_eq!(rop3(0xcc, 1, 2, 3), 2);
        assert_eq!(rop3(0xf0, 1, 2, 3), 1);
        assert_eq!(rop3(0x55, 1, 2, 3), !3);
        assert_eq!(rop3(0x5a, 0b1100, 0, 0b1010), 0b0110);
        assert_eq!(rop3(0x88, 0, 0b1100, 0b1010), 0b1000);
    }
}
