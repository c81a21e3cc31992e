//! A zlib stream builder for tests and benches that feed ZLIB_GLZ images:
//! stored (uncompressed) deflate blocks need no encoder crate.

/// A zlib stream (RFC 1950) holding `data` in stored deflate blocks (RFC 1951).
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x78, 0x01];
    let mut chunks = data.chunks(0xffff).peekable();
    while let Some(c) = chunks.next() {
        v.push(u8::from(chunks.peek().is_none()));
        let n = c.len() as u16;
        v.extend_from_slice(&n.to_le_bytes());
        v.extend_from_slice(&(!n).to_le_bytes());
        v.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    v.extend_from_slice(&(b << 16 | a).to_be_bytes());
    v
}
