//! The audio sink trait: where the firmware's playback task sends PCM.
//!
//! Owns the contract between the firmware (which decides what to play and
//! when) and a board's audio output (which takes fixed-size periods of
//! interleaved signed 16-bit little-endian frames and plays them at the
//! stream's rate). Implementations: virtio-sound on QEMU `virt`
//! ([`crate::virtio_sound`]), the Raspberry Pi 3/4 analogue jack via PWM
//! ([`crate::rpi::pwm_audio`], written to the references, not yet run on
//! hardware). HDMI audio on the Pis is a later step.
//! Must not: know about SPICE.

use alloc::string::String;

/// Why a sink refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioError {
    /// The sink cannot play this channel count or rate.
    Unsupported,
    /// The device failed a request.
    Device,
    /// [`AudioSink::submit`] without a free period, or of the wrong size.
    Busy,
}

impl core::fmt::Display for AudioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Unsupported => "format not supported by the audio device",
            Self::Device => "audio device error",
            Self::Busy => "audio device queue full",
        })
    }
}

/// An audio output playing S16LE interleaved frames.
pub trait AudioSink {
    /// Short description for logs and the status screen.
    fn describe(&self) -> String;
    /// Open a stream of `channels` at `rate` Hz; returns the period size in
    /// frames that [`AudioSink::submit`] takes. A running stream is stopped first.
    fn start(&mut self, channels: u8, rate: u32) -> Result<usize, AudioError>;
    /// Periods the sink can take now (finished ones are reclaimed first).
    fn free_periods(&mut self) -> usize;
    /// Queue one period (exactly the period size of frames).
    fn submit(&mut self, period: &[u8]) -> Result<(), AudioError>;
    /// Frames queued in the sink and not yet played: its output delay.
    fn queued_frames(&self) -> usize;
    /// Stop the stream (queued frames may be discarded).
    fn stop(&mut self);
}
