//! LZ back-references, shared by the LZ-family decoders (LZ, GLZ, LZ4): copy
//! `len` units that start `back` units before the write position, front to
//! back, so that an overlap (`back < len`) repeats the last `back` units as
//! LZ runs need. Done as block copies: fixed-size chunks for short
//! references when the buffer has room past them, one `copy_within` when
//! the source ends before the destination starts, a fill for `back == 1`,
//! otherwise copies of the growing periodic tail (each one doubles it).
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

/// Units moved per fixed-size block copy (16 bytes for `u8`).
pub(crate) const CHUNK: usize = 16;

/// References up to this long are copied as fixed-size chunks when there is
/// room; longer ones as one `copy_within` (or the doubling copies).
const CHUNKED_MAX: usize = 256;

/// Write the back-reference into `out` at `pos` (`pos + len <= out.len()`).
/// Units past `pos + len` may be overwritten when there is room (up to
/// [`CHUNK`]` - 1` more); the caller writes them
/// later.
///
/// Short references are fixed-size chunk copies (a constant-size copy is a
/// pair of vector loads and stores, no call): when `back >= CHUNK`, chunk
/// `k` reads only units written before it; when `back < CHUNK`, the first
/// `period - back` units are copied in chunks of 2, 4 or 8 units (no more
/// than `back`), `period` being the smallest multiple of `back` of at least
/// `CHUNK`, and the rest repeats that period chunk by chunk.
#[inline(always)]
pub(crate) fn copy_back<T: Copy>(out: &mut [T], pos: usize, back: usize, len: usize) {
    let start = pos - back;
    let room = out.len() - pos;
    if len <= CHUNKED_MAX && len + CHUNK <= room && back != 1 {
        let (period, mut d) = if back >= CHUNK {
            (back, pos)
        } else {
            // Chunks of `step <= back` units read only what is written, until
            // the periodic run is `period` long.
            let period = back * CHUNK.div_ceil(back);
            let head = pos + (period - back).min(len);
            let mut d = pos;
            match back {
                8.. => step_copy::<T, 8>(out, back, &mut d, head),
                4.. => step_copy::<T, 4>(out, back, &mut d, head),
                _ => step_copy::<T, 2>(out, back, &mut d, head),
            }
            (period, d)
        };
        let end = pos + len;
        while d < end {
            out.copy_within(d - period..d - period + CHUNK, d);
            d += CHUNK;
        }
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

/// [`copy_back`] for bytes, with short periods that divide [`CHUNK`] (1,
/// 2, 4, 8: runs of one byte, one 16/32-bit pixel, two pixels) written as a
/// 16-byte pattern, chunk after chunk, when there is room past the end.
#[inline(always)]
pub(crate) fn copy_back_bytes(out: &mut [u8], pos: usize, back: usize, len: usize) {
    let start = pos - back;
    if back <= 8 && back.is_power_of_two() && len + CHUNK <= out.len() - pos {
        let word = match back {
            1 => u64::from(out[start]) * 0x0101_0101_0101_0101,
            2 => {
                u64::from(u16::from_le_bytes([out[start], out[start + 1]])) * 0x0001_0001_0001_0001
            }
            4 => {
                let p = [out[start], out[start + 1], out[start + 2], out[start + 3]];
                u64::from(u32::from_le_bytes(p)) * 0x0000_0001_0000_0001
            }
            _ => {
                let mut p = [0u8; 8];
                p.copy_from_slice(&out[start..start + 8]);
                u64::from_le_bytes(p)
            }
        };
        let pattern = (u128::from(word) << 64 | u128::from(word)).to_le_bytes();
        let span = &mut out[pos..pos + len.next_multiple_of(CHUNK)];
        for c in span.chunks_exact_mut(CHUNK) {
            c.copy_from_slice(&pattern);
        }
        return;
    }
    copy_back(out, pos, back, len);
}

/// Units per block copy of [`copy_apart`] (32 bytes of `u32` pixels).
const APART_STEP: usize = 8;

/// Copy `len` units from `from` to `to` in `out` when the writes cannot
/// touch the source: `to + len <= end <= out.len()`, and no unit of
/// `from..from + len` lies in `to..end` (a source on an earlier row of a
/// strided image, or one ending before `to`). Done as [`APART_STEP`]-unit
/// block copies (no call) when they stay below `end` and inside `out`
/// (units of `to + len..end` may then be overwritten: the caller writes
/// them later), else one `copy_within`.
#[inline(always)]
pub(crate) fn copy_apart<T: Copy>(out: &mut [T], from: usize, to: usize, len: usize, end: usize) {
    let span = len.next_multiple_of(APART_STEP);
    if len <= CHUNKED_MAX && to + span <= end && from + span <= out.len() {
        let mut d = 0;
        while d < len {
            out.copy_within(from + d..from + d + APART_STEP, to + d);
            d += APART_STEP;
        }
    } else {
        out.copy_within(from..from + len, to);
    }
}

/// Copy `STEP`-unit chunks from `back` units behind `*d` to `*d` until
/// `*d >= end` (`STEP <= back`, room checked by the caller).
#[inline(always)]
fn step_copy<T: Copy, const STEP: usize>(out: &mut [T], back: usize, d: &mut usize, end: usize) {
    while *d < end {
        out.copy_within(*d - back..*d - back + STEP, *d);
        *d += STEP;
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
        for back in 1..60 {
            for len in 0..300 {
                let seed: Vec<u8> = (0..100u8).map(|b| b.wrapping_mul(37)).collect();
                let mut want = seed.clone();
                naive(&mut want, back, len);
                let mut got = seed.clone();
                extend_from_back(&mut got, back, len);
                assert_eq!(got, want, "extend back {back} len {len}");
                for room in [0, 3, 15, 16, 20, 300] {
                    let mut buf = seed.clone();
                    buf.resize(seed.len() + len + room, 0xee);
                    copy_back(&mut buf, seed.len(), back, len);
                    assert_eq!(&buf[..want.len()], &want[..], "copy back {back} len {len}");
                    let mut buf = seed.clone();
                    buf.resize(seed.len() + len + room, 0xee);
                    copy_back_bytes(&mut buf, seed.len(), back, len);
                    assert_eq!(&buf[..want.len()], &want[..], "bytes back {back} len {len}");
                    if back >= len {
                        // Writes up to `end` stay clear of the source.
                        let mut buf = seed.clone();
                        buf.resize(seed.len() + len + room, 0xee);
                        let end = buf.len() - room.min(7);
                        copy_apart(&mut buf, seed.len() - back, seed.len(), len, end);
                        assert_eq!(&buf[..want.len()], &want[..], "apart back {back} len {len}");
                        assert!(
                            buf[end..].iter().all(|&b| b == 0xee),
                            "apart wrote past end"
                        );
                    }
                }
            }
        }
    }
}
