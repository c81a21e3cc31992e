//! Test helpers for parsers: deterministic pseudo-random byte strings and
//! prefix truncations. Test-only; owns no protocol knowledge.

use alloc::vec::Vec;

/// `count` pseudo-random byte strings of length 0..`max_len` (xorshift32,
/// fixed seed, so failures reproduce).
pub fn random_inputs(seed: u32, count: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    (0..count)
        .map(|_| {
            let len = next() as usize % (max_len + 1);
            (0..len).map(|_| next() as u8).collect()
        })
        .collect()
}

/// Assert that every strict prefix of the valid message `msg` is rejected
/// by `parse` (for layouts with no optional tail).
pub fn assert_prefixes_rejected<T>(
    msg: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, crate::error::WireError>,
) {
    for n in 0..msg.len() {
        assert!(parse(&msg[..n]).is_err(), "prefix of {n} bytes accepted");
    }
    assert!(parse(msg).is_ok(), "full message rejected");
}

/// Run `parse` over random inputs; inputs shorter than `min_len` must be
/// rejected, and nothing may panic. Returns how many inputs were accepted.
pub fn fuzz_parser<T>(
    min_len: usize,
    parse: impl Fn(&[u8]) -> Result<T, crate::error::WireError>,
) -> usize {
    let mut ok = 0;
    for input in random_inputs(0x9E37_79B9, 3000, 300) {
        if parse(&input).is_ok() {
            assert!(
                input.len() >= min_len,
                "accepted {} bytes, minimum is {min_len}",
                input.len()
            );
            ok += 1;
        }
    }
    ok
}
