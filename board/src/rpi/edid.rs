//! The monitor's preferred mode, from its EDID as the GPU firmware reads it
//! over HDMI (mailbox property tag 0x00030020, "get EDID block").
//!
//! Owns: the tag's request and answer layout (`[block number]` in,
//! `[block number, status, 128 bytes of EDID]` out, status 0 = read) and
//! reading the preferred mode out of the 128-byte base block: the header
//! magic, the checksum, and the first detailed timing descriptor (bytes
//! 54..71; VESA E-EDID 1.3/1.4 make the first one the preferred timing):
//! horizontal active pixels = byte 56 + high nibble of byte 58 × 256,
//! vertical active lines = byte 59 + high nibble of byte 61 × 256.
//! Must not: do I/O (the caller makes the mailbox call), so it is
//! unit-tested on the host (board/host-tests); every byte is the monitor's
//! and is checked before use.
//!
//! References followed: U-Boot has no EDID property tag in its bcm283x
//! mailbox code (arch/arm/mach-bcm283x/include/mach/mbox.h), so the tag
//! layout follows Circle (include/circle/bcmpropertytags.h:
//! PROPTAG_GET_EDID_BLOCK, TPropertyTagEDIDBlock {block number, status,
//! 128-byte block}); the descriptor fields follow the VESA E-EDID layout as
//! Linux reads it (drivers/gpu/drm/drm_edid.c, struct detailed_pixel_timing).
//! Deliberate difference: only block 0's first descriptor is used (no
//! extension blocks, no standard-timing fallback): a kiosk wants the mode the
//! monitor prefers, and anything else falls back to the configured default.
//! Written to the references, not yet run on hardware (under QEMU raspi3b the
//! answer holds no EDID header, so there the firmware logs the fallback).

/// Mailbox property tag: get EDID block.
pub const TAG_GET_EDID_BLOCK: u32 = 0x0003_0020;
/// Answer words: block number, status, 128 bytes.
pub const ANSWER_WORDS: usize = 2 + 128 / 4;

/// The EDID header every base block starts with.
const MAGIC: [u8; 8] = [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00];

/// The 128 EDID bytes of a tag answer (`[block, status, bytes...]`, words
/// little-endian), if the firmware says it read the block.
pub fn block_from_answer(words: &[u32; ANSWER_WORDS]) -> Result<[u8; 128], &'static str> {
    if words[1] != 0 {
        return Err("the GPU firmware could not read the monitor's EDID (status not 0)");
    }
    let mut b = [0u8; 128];
    for (chunk, w) in b.chunks_exact_mut(4).zip(&words[2..]) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    Ok(b)
}

/// The preferred mode (width, height) of an EDID base block.
pub fn preferred_mode(b: &[u8; 128]) -> Result<(u32, u32), &'static str> {
    if b[..8] != MAGIC {
        return Err("EDID header missing");
    }
    if b.iter().fold(0u8, |s, &v| s.wrapping_add(v)) != 0 {
        return Err("EDID checksum wrong");
    }
    let d = &b[54..72];
    if d[0] == 0 && d[1] == 0 {
        return Err("EDID has no detailed timing (first descriptor is a display descriptor)");
    }
    let w = u32::from(d[2]) | (u32::from(d[4] & 0xF0) << 4);
    let h = u32::from(d[5]) | (u32::from(d[7] & 0xF0) << 4);
    if w < 320 || h < 200 {
        return Err("EDID preferred mode is implausibly small");
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base block with the header, one detailed timing of `w` x `h`
    /// (148.5 MHz, the fields a 1080p monitor sends), and a fixed checksum.
    fn block(w: u16, h: u16) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[..8].copy_from_slice(&MAGIC);
        b[18] = 1; // EDID 1.4
        b[19] = 4;
        let d = &mut b[54..72];
        d[0..2].copy_from_slice(&14850u16.to_le_bytes()); // pixel clock / 10 kHz
        d[2] = w as u8; // h active low 8 bits
        d[3] = 280u16 as u8; // h blanking low 8 bits
        d[4] = (((w >> 8) as u8) << 4) | (280u16 >> 8) as u8;
        d[5] = h as u8;
        d[6] = 45;
        d[7] = ((h >> 8) as u8) << 4;
        let sum = b[..127].iter().fold(0u8, |s, &v| s.wrapping_add(v));
        b[127] = 0u8.wrapping_sub(sum);
        b
    }

    #[test]
    fn preferred_mode_from_the_first_detailed_timing() {
        assert_eq!(preferred_mode(&block(1920, 1080)), Ok((1920, 1080)));
        assert_eq!(preferred_mode(&block(1280, 800)), Ok((1280, 800)));
        assert_eq!(preferred_mode(&block(3840, 2160)), Ok((3840, 2160)));
    }

    #[test]
    fn bad_blocks_are_refused() {
        let mut b = block(1920, 1080);
        b[127] ^= 1;
        assert_eq!(preferred_mode(&b), Err("EDID checksum wrong"));
        let mut b = block(1920, 1080);
        b[0] = 1;
        assert_eq!(preferred_mode(&b), Err("EDID header missing"));
        assert!(preferred_mode(&block(100, 50)).is_err());
        let mut b = block(1920, 1080);
        b[54] = 0;
        b[55] = 0;
        let sum = b[..127].iter().fold(0u8, |s, &v| s.wrapping_add(v));
        b[127] = 0u8.wrapping_sub(sum);
        assert!(preferred_mode(&b).is_err());
        assert!(preferred_mode(&[0; 128]).is_err());
    }

    #[test]
    fn answer_words_carry_the_block_little_endian() {
        let b = block(1280, 1024);
        let mut words = [0u32; ANSWER_WORDS];
        for (i, c) in b.chunks_exact(4).enumerate() {
            words[2 + i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        assert_eq!(block_from_answer(&words), Ok(b));
        words[1] = 1;
        assert!(block_from_answer(&words).is_err());
    }
}
