//! Playback-channel layouts (`PlaybackChannel` in `spice.proto`, the
//! `SpiceMsgPlayback*` / `SpiceMsgAudio*` structs of spice-protocol's
//! `messages.h`): DATA, MODE, START, VOLUME, MUTE and LATENCY.
//!
//! Owns byte layouts only; the channel state (mode, format, the PCM queue)
//! lives in [`crate::playback`].

use crate::error::WireError;
use crate::wire::Reader;

/// `SPICE_MSG_PLAYBACK_DATA`: `u32 time, u8 data[]` (the rest of the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// Server multimedia time of the packet, ms.
    pub time: u32,
    /// The samples (raw mode: interleaved S16LE frames).
    pub data: &'a [u8],
}

/// Parse `SPICE_MSG_PLAYBACK_DATA`.
pub fn parse_data(body: &[u8]) -> Result<Data<'_>, WireError> {
    let mut r = Reader::new(body);
    let time = r.u32()?;
    Ok(Data {
        time,
        data: r.rest(),
    })
}

/// `SPICE_MSG_PLAYBACK_MODE`: `u32 time, u16 mode (SPICE_AUDIO_DATA_MODE_*),
/// u8 data[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode<'a> {
    /// Server multimedia time, ms.
    pub time: u32,
    /// `SPICE_AUDIO_DATA_MODE_*`.
    pub mode: u16,
    /// Codec-specific data (empty for raw).
    pub data: &'a [u8],
}

/// Parse `SPICE_MSG_PLAYBACK_MODE`.
pub fn parse_mode(body: &[u8]) -> Result<Mode<'_>, WireError> {
    let mut r = Reader::new(body);
    let time = r.u32()?;
    let mode = r.u16()?;
    Ok(Mode {
        time,
        mode,
        data: r.rest(),
    })
}

/// `SPICE_MSG_PLAYBACK_START`: `u32 channels, u16 format (SPICE_AUDIO_FMT_*),
/// u32 frequency, u32 time` (14 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Interleaved channels.
    pub channels: u32,
    /// `SPICE_AUDIO_FMT_*`.
    pub format: u16,
    /// Sample rate, Hz.
    pub frequency: u32,
    /// Server multimedia time, ms.
    pub time: u32,
}

/// Parse `SPICE_MSG_PLAYBACK_START`.
pub fn parse_start(body: &[u8]) -> Result<Start, WireError> {
    let mut r = Reader::new(body);
    Ok(Start {
        channels: r.u32()?,
        format: r.u16()?,
        frequency: r.u32()?,
        time: r.u32()?,
    })
}

/// Most channels a VOLUME message may name (`uint8 nchannels`).
pub const MAX_VOLUME_CHANNELS: usize = 255;

/// Parse `SPICE_MSG_PLAYBACK_VOLUME` (`AudioVolume`: `u8 nchannels,
/// u16 volume[nchannels]`) into `out`; returns how many were read (at most
/// `out.len()` are kept, the rest are checked and skipped).
pub fn parse_volume(body: &[u8], out: &mut [u16]) -> Result<usize, WireError> {
    let mut r = Reader::new(body);
    let n = r.u8()? as usize;
    for i in 0..n {
        let v = r.u16()?;
        if let Some(slot) = out.get_mut(i) {
            *slot = v;
        }
    }
    Ok(n.min(out.len()))
}

/// Parse `SPICE_MSG_PLAYBACK_MUTE` (`AudioMute`: `u8 mute`).
pub fn parse_mute(body: &[u8]) -> Result<bool, WireError> {
    Ok(Reader::new(body).u8()? != 0)
}

/// Parse `SPICE_MSG_PLAYBACK_LATENCY` (`u32 latency_ms`).
pub fn parse_latency(body: &[u8]) -> Result<u32, WireError> {
    Reader::new(body).u32()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::{assert_prefixes_rejected, fuzz_parser};

    #[test]
    fn start_is_14_bytes_with_a_16_bit_format() {
        // channels 2, SPICE_AUDIO_FMT_S16 (16 bits), 48000 Hz, time 0x01020304
        let msg = [2, 0, 0, 0, 1, 0, 0x80, 0xBB, 0, 0, 4, 3, 2, 1];
        assert_eq!(
            parse_start(&msg).unwrap(),
            Start {
                channels: 2,
                format: crate::enums::SPICE_AUDIO_FMT_S16 as u16,
                frequency: 48000,
                time: 0x0102_0304,
            }
        );
        assert_prefixes_rejected(&msg, parse_start);
    }

    #[test]
    fn mode_and_data_keep_their_tails() {
        let m = parse_mode(&[7, 0, 0, 0, 1, 0, 0xAA]).unwrap();
        assert_eq!((m.time, m.mode, m.data), (7, 1, &[0xAA][..]));
        assert_prefixes_rejected(&[7, 0, 0, 0, 1, 0], |b| parse_mode(b).map(|m| m.mode));
        let d = parse_data(&[1, 0, 0, 0, 1, 2, 3, 4]).unwrap();
        assert_eq!((d.time, d.data), (1, &[1, 2, 3, 4][..]));
        assert!(parse_data(&[1, 0, 0]).is_err());
    }

    #[test]
    fn volume_mute_latency() {
        let mut v = [0u16; 2];
        assert_eq!(parse_volume(&[2, 0x00, 0xFF, 0x34, 0x12], &mut v), Ok(2));
        assert_eq!(v, [0xFF00, 0x1234]);
        assert!(parse_volume(&[2, 0x00, 0xFF, 0x34], &mut v).is_err());
        // more channels than we keep: all checked, two kept
        assert_eq!(parse_volume(&[3, 1, 0, 2, 0, 3, 0], &mut v), Ok(2));
        assert_eq!(v, [1, 2]);
        assert_eq!(parse_mute(&[1]), Ok(true));
        assert_eq!(parse_mute(&[0]), Ok(false));
        assert!(parse_mute(&[]).is_err());
        assert_eq!(parse_latency(&[0x2C, 1, 0, 0]), Ok(300));
        assert!(parse_latency(&[0x2C, 1, 0]).is_err());
    }

    #[test]
    fn random_bodies_never_panic() {
        fuzz_parser(14, parse_start);
        fuzz_parser(6, |b| parse_mode(b).map(|m| m.mode));
        fuzz_parser(4, |b| parse_data(b).map(|d| d.time));
        fuzz_parser(1, |b| parse_volume(b, &mut [0u16; 2]));
    }
}
