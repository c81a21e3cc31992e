//! The playback channel's client logic: the server's audio stream as an
//! ordered queue of [`AudioItem`]s for the caller's sink.
//!
//! Owns the negotiated mode (raw PCM only: see [`PlaybackChannel::client_caps`]),
//! the stream format from START, the volume and mute state, the server's
//! latency report, and a bounded queue of what arrived (format changes,
//! PCM packets, stops) in order. It must not time or play anything: the
//! caller's jitter buffer ([`crate::jitter`]) and sink do that.
//!
//! Opus is not advertised: there is no maintained `no_std` Opus decoder in
//! Rust (the crates bind libopus, a C library with its own allocator), and
//! raw S16 at 48 kHz (1.5 Mbit/s) fits the LANs thin clients sit on. A
//! server that sends a mode we did not advertise, a format other than S16
//! with 1 or 2 channels, or a packet that is not whole frames ends the
//! channel with a protocol error.

use crate::enums::*;
use crate::error::WireError;
use crate::outbox::Outbox;
use crate::wire::link::caps_from_bits;
use crate::wire::playback as w;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Largest PLAYBACK_DATA payload accepted (spice-server sends 480-frame
/// packets, 1920 bytes of stereo S16).
pub const MAX_PACKET_BYTES: usize = 64 * 1024;
/// Most PCM bytes held in the queue before the oldest packets are dropped
/// (about 2.7 s of 48 kHz stereo S16; a caller that drains every loop never
/// gets near it).
pub const MAX_QUEUED_BYTES: usize = 512 * 1024;
/// Lowest and highest sample rates accepted from START.
pub const RATE_RANGE: core::ops::RangeInclusive<u32> = 8_000..=192_000;

/// A PCM stream format (always signed 16-bit little-endian, interleaved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    /// Channels (1 or 2).
    pub channels: u8,
    /// Frames per second.
    pub rate: u32,
}

impl PcmFormat {
    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        usize::from(self.channels) * 2
    }
}

/// One step of the audio stream, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioItem {
    /// A stream starts (START) with this format.
    Start(PcmFormat),
    /// PCM frames (raw mode), with the server's multimedia time in ms.
    Data {
        /// Server time of the packet.
        time: u32,
        /// Whole frames of interleaved S16LE.
        pcm: Vec<u8>,
    },
    /// The stream stopped (STOP).
    Stop,
    /// New per-channel volume (0..=65535).
    Volume([u16; 2]),
    /// Mute on/off.
    Mute(bool),
}

/// Playback channel state.
#[derive(Debug, Default)]
pub struct PlaybackChannel {
    /// `SPICE_AUDIO_DATA_MODE_*` from the last MODE (0 before any).
    pub mode: u16,
    /// The current stream's format, between START and STOP.
    pub format: Option<PcmFormat>,
    /// Per-channel volume (left, right), 65535 = full.
    pub volume: [u16; 2],
    /// Whether the server muted playback.
    pub mute: bool,
    /// The server's requested minimum playback latency (LATENCY), ms.
    pub latency_ms: Option<u32>,
    queue: VecDeque<AudioItem>,
    queued_bytes: usize,
    /// PLAYBACK_DATA messages received.
    pub packets: u64,
    /// Packets dropped: outside a stream, or the queue was full.
    pub dropped_packets: u64,
}

impl PlaybackChannel {
    /// A fresh playback channel (full volume, not muted).
    pub fn new() -> Self {
        Self {
            volume: [u16::MAX; 2],
            ..Self::default()
        }
    }

    /// Channel caps the client advertises on PLAYBACK: VOLUME and LATENCY,
    /// no codec (so the server sends raw PCM).
    pub fn client_caps() -> Vec<u32> {
        caps_from_bits(&[SPICE_PLAYBACK_CAP_VOLUME, SPICE_PLAYBACK_CAP_LATENCY])
    }

    /// Handle one playback-channel message (type > `SPICE_MSG_BASE_LAST`).
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        _out: &mut Outbox,
    ) -> Result<(), WireError> {
        match msg_type {
            SPICE_MSG_PLAYBACK_MODE => {
                let m = w::parse_mode(body)?;
                if u32::from(m.mode) != SPICE_AUDIO_DATA_MODE_RAW {
                    return Err(WireError::new(4, "audio mode the client did not offer"));
                }
                self.mode = m.mode;
            }
            SPICE_MSG_PLAYBACK_START => {
                let s = w::parse_start(body)?;
                if u32::from(s.format) != SPICE_AUDIO_FMT_S16 {
                    return Err(WireError::new(4, "audio format is not S16"));
                }
                let channels = match s.channels {
                    1 | 2 => s.channels as u8,
                    _ => return Err(WireError::new(0, "audio channel count not 1 or 2")),
                };
                if !RATE_RANGE.contains(&s.frequency) {
                    return Err(WireError::new(6, "audio sample rate out of range"));
                }
                let f = PcmFormat {
                    channels,
                    rate: s.frequency,
                };
                self.format = Some(f);
                self.push(AudioItem::Start(f));
            }
            SPICE_MSG_PLAYBACK_DATA => {
                let d = w::parse_data(body)?;
                self.packets += 1;
                if self.mode != 0 && u32::from(self.mode) != SPICE_AUDIO_DATA_MODE_RAW {
                    return Err(WireError::new(
                        4,
                        "audio data in a mode the client did not offer",
                    ));
                }
                if d.data.len() > MAX_PACKET_BYTES {
                    return Err(WireError::new(4, "audio packet too large"));
                }
                let Some(f) = self.format else {
                    self.dropped_packets += 1; // before START: nothing to play it with
                    return Ok(());
                };
                if d.data.len() % f.frame_bytes() != 0 {
                    return Err(WireError::new(4, "audio packet is not whole frames"));
                }
                self.push(AudioItem::Data {
                    time: d.time,
                    pcm: d.data.to_vec(),
                });
            }
            SPICE_MSG_PLAYBACK_STOP => {
                self.format = None;
                self.push(AudioItem::Stop);
            }
            SPICE_MSG_PLAYBACK_VOLUME => {
                let mut v = [u16::MAX; 2];
                let n = w::parse_volume(body, &mut v)?;
                if n == 1 {
                    v[1] = v[0];
                }
                if n > 0 {
                    self.volume = v;
                    self.push(AudioItem::Volume(v));
                }
            }
            SPICE_MSG_PLAYBACK_MUTE => {
                self.mute = w::parse_mute(body)?;
                self.push(AudioItem::Mute(self.mute));
            }
            SPICE_MSG_PLAYBACK_LATENCY => {
                self.latency_ms = Some(w::parse_latency(body)?);
            }
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, item: AudioItem) {
        if let AudioItem::Data { pcm, .. } = &item {
            // Bounded: drop the oldest PCM (control items stay, in order).
            while self.queued_bytes + pcm.len() > MAX_QUEUED_BYTES {
                let Some(i) = self
                    .queue
                    .iter()
                    .position(|q| matches!(q, AudioItem::Data { .. }))
                else {
                    break;
                };
                if let Some(AudioItem::Data { pcm: old, .. }) = self.queue.remove(i) {
                    self.queued_bytes -= old.len();
                }
                self.dropped_packets += 1;
            }
            self.queued_bytes += pcm.len();
        }
        self.queue.push_back(item);
    }

    /// The oldest item not yet taken.
    pub fn take(&mut self) -> Option<AudioItem> {
        let item = self.queue.pop_front()?;
        if let AudioItem::Data { pcm, .. } = &item {
            self.queued_bytes -= pcm.len();
        }
        Some(item)
    }

    /// PCM bytes waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    fn start(channels: u32, format: u16, rate: u32) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(channels).u16(format).u32(rate).u32(1000);
        w.finish()
    }

    fn data(pcm: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(1234).bytes(pcm);
        w.finish()
    }

    fn mode(m: u16) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(5).u16(m);
        w.finish()
    }

    #[test]
    fn caps_offer_volume_and_latency_only() {
        assert_eq!(
            PlaybackChannel::client_caps(),
            [(1 << SPICE_PLAYBACK_CAP_VOLUME) | (1 << SPICE_PLAYBACK_CAP_LATENCY)]
        );
    }

    #[test]
    fn raw_stream_in_order() {
        let mut p = PlaybackChannel::new();
        let mut out = Outbox::new();
        p.handle(SPICE_MSG_PLAYBACK_MODE, &mode(1), &mut out)
            .unwrap();
        p.handle(SPICE_MSG_PLAYBACK_DATA, &data(&[1, 2, 3, 4]), &mut out)
            .unwrap();
        assert_eq!(p.dropped_packets, 1, "data before START is dropped");
        p.handle(SPICE_MSG_PLAYBACK_START, &start(2, 1, 48000), &mut out)
            .unwrap();
        p.handle(SPICE_MSG_PLAYBACK_VOLUME, &[2, 0, 0x80, 0, 0xFF], &mut out)
            .unwrap();
        p.handle(SPICE_MSG_PLAYBACK_MUTE, &[1], &mut out).unwrap();
        p.handle(SPICE_MSG_PLAYBACK_DATA, &data(&[1, 2, 3, 4]), &mut out)
            .unwrap();
        p.handle(SPICE_MSG_PLAYBACK_LATENCY, &[100, 0, 0, 0], &mut out)
            .unwrap();
        p.handle(SPICE_MSG_PLAYBACK_STOP, &[], &mut out).unwrap();
        assert_eq!(p.latency_ms, Some(100));
        assert_eq!(p.queued_bytes(), 4);
        let items: Vec<_> = core::iter::from_fn(|| p.take()).collect();
        assert_eq!(
            items,
            [
                AudioItem::Start(PcmFormat {
                    channels: 2,
                    rate: 48000
                }),
                AudioItem::Volume([0x8000, 0xFF00]),
                AudioItem::Mute(true),
                AudioItem::Data {
                    time: 1234,
                    pcm: alloc::vec![1, 2, 3, 4]
                },
                AudioItem::Stop,
            ]
        );
        assert_eq!(p.queued_bytes(), 0);
        assert!(out.is_empty(), "playback sends nothing back");
    }

    #[test]
    fn malformed_or_unoffered_is_an_error() {
        let mut out = Outbox::new();
        let mut p = PlaybackChannel::new();
        let e = p
            .handle(SPICE_MSG_PLAYBACK_MODE, &mode(3), &mut out)
            .unwrap_err();
        assert_eq!(e.reason, "audio mode the client did not offer");
        assert!(p
            .handle(SPICE_MSG_PLAYBACK_START, &start(2, 0, 48000), &mut out)
            .is_err());
        assert!(p
            .handle(SPICE_MSG_PLAYBACK_START, &start(6, 1, 48000), &mut out)
            .is_err());
        assert!(p
            .handle(SPICE_MSG_PLAYBACK_START, &start(2, 1, 1_000_000), &mut out)
            .is_err());
        assert!(p
            .handle(
                SPICE_MSG_PLAYBACK_START,
                &start(2, 1, 48000)[..13],
                &mut out
            )
            .is_err());
        p.handle(SPICE_MSG_PLAYBACK_START, &start(2, 1, 48000), &mut out)
            .unwrap();
        let e = p
            .handle(SPICE_MSG_PLAYBACK_DATA, &data(&[1, 2, 3]), &mut out)
            .unwrap_err();
        assert_eq!(e.reason, "audio packet is not whole frames");
        let big = alloc::vec![0u8; MAX_PACKET_BYTES + 4];
        assert!(p
            .handle(SPICE_MSG_PLAYBACK_DATA, &data(&big), &mut out)
            .is_err());
        assert!(p.handle(SPICE_MSG_PLAYBACK_MUTE, &[], &mut out).is_err());
    }

    #[test]
    fn queue_is_bounded() {
        let mut out = Outbox::new();
        let mut p = PlaybackChannel::new();
        p.handle(SPICE_MSG_PLAYBACK_START, &start(2, 1, 48000), &mut out)
            .unwrap();
        let pcm = alloc::vec![0u8; 1920];
        let n = MAX_QUEUED_BYTES / 1920 + 10;
        for _ in 0..n {
            p.handle(SPICE_MSG_PLAYBACK_DATA, &data(&pcm), &mut out)
                .unwrap();
        }
        assert!(p.queued_bytes() <= MAX_QUEUED_BYTES);
        assert_eq!(p.dropped_packets, 10);
        assert_eq!(p.take(), Some(AudioItem::Start(p.format.unwrap())));
    }

    #[test]
    fn random_messages_never_panic() {
        let mut out = Outbox::new();
        for (k, input) in crate::wire::testutil::random_inputs(5, 400, 64)
            .into_iter()
            .enumerate()
        {
            let mut p = PlaybackChannel::new();
            let _ = p.handle(SPICE_MSG_PLAYBACK_START, &start(2, 1, 48000), &mut out);
            let _ = p.handle(SPICE_MSG_PLAYBACK_DATA + (k % 7) as u16, &input, &mut out);
        }
    }
}
