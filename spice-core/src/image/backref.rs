//! LZ back-references, shared by the LZ-family decoders (GLZ, LZ4): copy
//! `len` units that start `back` units before the write position, front to
//! back, so that an overlap (`back < len`) repeats the last `back` units as
//! LZ runs need. Done as block copies: one `copy_within` when the source
//! ends before the destination starts, a fill for `back == 1`, otherwise
//! copies of the growing periodic tail (each one doubles it).
//!
//! Leaf module: it knows nothing of any format. Callers check the bounds
//! (`0 < back <= position`, room for `len` more units) before calling.

use alloc::vec::Vec;

/// Append the back-reference to `out` (its length is the write position).
#[inline(always)]
pub(crate) fn extend_from_back<T: Copy>(out: &mut Vec<T>, back: usize, len: usize) {
    let start = out.len() - back;
    if back >= len {
        out.extend_from_within(start..start + len);
    } else if back == 1 {
        let v = out[start];
        out.resize(out.len() + len, v);
    } else {
        // The periodic tail [start, end) doubles with each non-overlapping copy.
        let end = out.len() + len;
        while out.len() < end {
            let n = (out.len() - start).min(end - out.len());
            out.extend_from_within(start..start + n);
        }
    }
}

/// Write the back-reference into `out` at `pos` (`pos + len <= out.len()`).
/// Units past `pos + len` may be overwritten when there is room (a
/// 16-unit "wild" copy for short references); the caller writes them later.
#[inline(always)]
pub(crate) fn copy_back<T: Copy>(out: &mut [T], pos: usize, back: usize, len: usize) {
    const WILD: usize = 16;
    let start = pos - back;
    if back >= WILD && len <= WILD && pos + WILD <= out.len() {
        out.copy_within(start..start + WILD, pos);
    } else if back >= len {
        out.copy_within(start..start + len, pos);
    } else if back == 1 {
        let v = out[start];
        out[pos..pos + len].fill(v);
    } else {
        let mut done = 0;
        while done < len {
            let n = (pos + done - start).min(len - done);
            out.copy_within(start..start + n, pos + done);
            done += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte definition both helpers must match.
    fn naive(out: &mut Vec<u8>, back: usize, len: usize) {
        for _ in 0..len {
            out.push(out[out.len() - back]);
        }
    }

    #[test]
    fn every_overlap_matches_the_byte_loop() {
        for back in 1..40 {
            for len in 0..70 {
                let seed: Vec<u8> = (0..50u8).map(|b| b.wrapping_mul(37)).collect();
                let mut want = seed.clone();
                naive(&mut want, back, len);
                let mut got = seed.clone();
                extend_from_back(&mut got, back, len);
                assert_eq!(got, want, "extend back {back} len {len}");
                for room in [0, 3, 20] {
                    let mut buf = seed.clone();
                    buf.resize(seed.len() + len + room, 0xee);
                    copy_back(&mut buf, seed.len(), back, len);
                    assert_eq!(&buf[..want.len()], &want[..], "copy back {back} len {len}");
                }
            }
        }
    }
}
