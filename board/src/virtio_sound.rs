//! Audio out on QEMU `virt`: a virtio-sound device (`-device
//! virtio-sound-device,audiodev=...`, virtio 1.2 §5.14) through
//! `virtio-drivers`' `VirtIOSound`, as an [`AudioSink`].
//!
//! Owns choosing the first output stream, setting its parameters (S16,
//! the stream's channels and rate, [`PERIODS`] periods of [`PERIOD_FRAMES`]),
//! and keeping up to [`PERIODS`] transfers in flight on the TX queue. QEMU
//! completes a transfer when its audio backend has consumed the period, so
//! completions pace the stream at the audiodev's rate.
//! Must not: be used on hardware (the virtio HAL assumes coherent DMA).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use virtio_drivers::device::sound::{PcmFeatures, PcmFormat, PcmRate, VirtIOSound};
use virtio_drivers::transport::mmio::MmioTransport;

use crate::audio::{AudioError, AudioSink};
use crate::virtio::VirtHal;

/// Frames per period (10 ms at 48 kHz, spice-server's packet size).
pub const PERIOD_FRAMES: usize = 480;
/// Periods in flight on the device (its delay: 40 ms at 48 kHz).
pub const PERIODS: usize = 4;

/// A virtio-sound output stream.
pub struct VirtioSound {
    dev: VirtIOSound<VirtHal, MmioTransport<'static>>,
    stream: Option<u32>,
    period_bytes: usize,
    in_flight: VecDeque<u16>,
    running: bool,
}

fn pcm_rate(rate: u32) -> Option<PcmRate> {
    Some(match rate {
        8000 => PcmRate::Rate8000,
        11025 => PcmRate::Rate11025,
        16000 => PcmRate::Rate16000,
        22050 => PcmRate::Rate22050,
        32000 => PcmRate::Rate32000,
        44100 => PcmRate::Rate44100,
        48000 => PcmRate::Rate48000,
        64000 => PcmRate::Rate64000,
        88200 => PcmRate::Rate88200,
        96000 => PcmRate::Rate96000,
        176400 => PcmRate::Rate176400,
        192000 => PcmRate::Rate192000,
        _ => return None,
    })
}

impl VirtioSound {
    /// Bring up the device on `transport`; `None` (logged) when it fails or
    /// has no output stream.
    pub fn new(transport: MmioTransport<'static>) -> Option<Self> {
        let mut dev = match VirtIOSound::<VirtHal, _>::new(transport) {
            Ok(d) => d,
            Err(e) => {
                defmt::warn!(
                    "audio: virtio-sound init failed: {}",
                    defmt::Debug2Format(&e)
                );
                return None;
            }
        };
        let stream = match dev.output_streams() {
            Ok(s) => s.first().copied(),
            Err(e) => {
                defmt::warn!("audio: virtio-sound streams: {}", defmt::Debug2Format(&e));
                return None;
            }
        };
        let Some(stream) = stream else {
            defmt::warn!("audio: virtio-sound has no output stream");
            return None;
        };
        defmt::info!(
            "audio: virtio-sound, {=u32} streams, output stream {=u32}",
            dev.streams(),
            stream
        );
        Some(Self {
            dev,
            stream: Some(stream),
            period_bytes: 0,
            in_flight: VecDeque::new(),
            running: false,
        })
    }

    fn reap(&mut self) {
        while let Some(&t) = self.in_flight.front() {
            if self.dev.pcm_xfer_ok(t).is_err() {
                break;
            }
            self.in_flight.pop_front();
        }
    }
}

impl AudioSink for VirtioSound {
    fn describe(&self) -> String {
        format!("virtio-sound stream {}", self.stream.unwrap_or(0))
    }

    fn start(&mut self, channels: u8, rate: u32) -> Result<usize, AudioError> {
        self.stop();
        let stream = self.stream.ok_or(AudioError::Device)?;
        let r = pcm_rate(rate).ok_or(AudioError::Unsupported)?;
        let period_bytes = PERIOD_FRAMES * usize::from(channels) * 2;
        self.dev
            .pcm_set_params(
                stream,
                (period_bytes * PERIODS) as u32,
                period_bytes as u32,
                PcmFeatures::empty(),
                channels,
                PcmFormat::S16,
                r,
            )
            .map_err(|_| AudioError::Unsupported)?;
        self.dev
            .pcm_prepare(stream)
            .map_err(|_| AudioError::Device)?;
        self.dev.pcm_start(stream).map_err(|_| AudioError::Device)?;
        self.period_bytes = period_bytes;
        self.running = true;
        Ok(PERIOD_FRAMES)
    }

    fn free_periods(&mut self) -> usize {
        self.reap();
        if self.running {
            PERIODS - self.in_flight.len().min(PERIODS)
        } else {
            0
        }
    }

    fn submit(&mut self, period: &[u8]) -> Result<(), AudioError> {
        let stream = self.stream.ok_or(AudioError::Device)?;
        if !self.running || period.len() != self.period_bytes || self.in_flight.len() >= PERIODS {
            return Err(AudioError::Busy);
        }
        let t = self
            .dev
            .pcm_xfer_nb(stream, period)
            .map_err(|_| AudioError::Device)?;
        self.in_flight.push_back(t);
        Ok(())
    }

    fn queued_frames(&self) -> usize {
        self.in_flight.len() * PERIOD_FRAMES
    }

    fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let Some(stream) = self.stream else { return };
        // Let queued periods finish (bounded: QEMU completes them at its rate).
        for _ in 0..2_000_000 {
            self.reap();
            if self.in_flight.is_empty() {
                break;
            }
            core::hint::spin_loop();
        }
        if let Err(e) = self.dev.pcm_stop(stream) {
            defmt::warn!("audio: virtio-sound stop: {}", defmt::Debug2Format(&e));
        }
        if let Err(e) = self.dev.pcm_release(stream) {
            defmt::warn!("audio: virtio-sound release: {}", defmt::Debug2Format(&e));
        }
        self.in_flight.clear();
    }
}
