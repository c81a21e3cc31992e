//! The playback task: the SPICE session's audio stream → jitter buffer →
//! the board's audio sink.
//!
//! Owns the queue from the session task ([`QUEUE`], each item stamped with
//! its arrival time), the jitter buffer (spice-core's [`JitterBuffer`]:
//! playback starts at [`TARGET_MS`] of queued audio, holds at most
//! [`MAX_MS`]), applying the server's volume and mute to the samples, and
//! the measurement lines `audio: ...` (stream start/stop, and every
//! [`REPORT`] while a stream plays: underruns, drops, PLAYBACK_DATA → sink
//! latency). While a sink is open it is kept fed (silence when there is no
//! audio), so its clock never stops between streams.
//! Must not: parse protocol bytes (spice-core does) or touch registers (the
//! board's sink does).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use barespice_board::audio::AudioSink;
use core::sync::atomic::{AtomicBool, Ordering};
use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::{Duration, Instant, Timer};
use spice_core::jitter::{JitterBuffer, Pulled};
use spice_core::playback::{AudioItem, PcmFormat};

/// Audio queued before playback starts, ms (default; `barespice.audio-ms=N`
/// on the command line sets it, see [`target_ms`]).
pub const TARGET_MS: u32 = 80;
/// The range `barespice.audio-ms` accepts.
pub const TARGET_RANGE: core::ops::RangeInclusive<u32> = 20..=1000;
/// Most audio the jitter buffer holds, ms (beyond it the oldest is dropped);
/// at least twice the target.
pub const MAX_MS: u32 = 1000;

/// The jitter target from the command line's `barespice.audio-ms` (logged
/// and ignored when out of [`TARGET_RANGE`]), else [`TARGET_MS`].
pub fn target_ms(bootargs: &str) -> u32 {
    let Some(v) = barespice_config::barespice_option(bootargs, "audio-ms") else {
        return TARGET_MS;
    };
    match v.parse::<u32>() {
        Ok(ms) if TARGET_RANGE.contains(&ms) => ms,
        _ => {
            defmt::warn!(
                "config: barespice.audio-ms={=str} is not 20..1000 ms; using {=u32}",
                v.as_str(),
                TARGET_MS
            );
            TARGET_MS
        }
    }
}
/// How often the statistics line is written while a stream plays.
pub const REPORT: Duration = Duration::from_secs(5);
/// How often the sink is topped up when nothing arrives.
const TICK: Duration = Duration::from_millis(4);

/// Items from the session task, with their arrival time (µs since boot).
pub static QUEUE: Channel<CriticalSectionRawMutex, (u64, AudioItem), 64> = Channel::new();
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Whether the board has an audio sink (the session links PLAYBACK only then).
pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

/// Hand the session's audio items to the playback task (dropped, and
/// logged, if the task has fallen 64 items behind).
pub fn forward(session: &mut spice_core::session::Session) {
    let now = Instant::now().as_micros();
    while let Some(item) = session.take_audio() {
        if QUEUE.try_send((now, item)).is_err() {
            defmt::warn!("audio: playback task behind, packet dropped");
        }
    }
}

struct Stream {
    format: PcmFormat,
    jitter: JitterBuffer,
    volume: [u16; 2],
    mute: bool,
    period: Vec<u8>,
    last_report: Instant,
    reported_underruns: u64,
}

impl Stream {
    fn new(
        format: PcmFormat,
        period_frames: usize,
        target_ms: u32,
        volume: [u16; 2],
        mute: bool,
    ) -> Self {
        let ms = |ms: u32| (format.rate as usize * ms as usize) / 1000;
        Self {
            format,
            jitter: JitterBuffer::new(
                format.frame_bytes(),
                ms(target_ms),
                ms(MAX_MS.max(2 * target_ms)),
            ),
            volume,
            mute,
            period: vec![0; period_frames * format.frame_bytes()],
            last_report: Instant::now(),
            reported_underruns: 0,
        }
    }

    fn frames_us(&self, frames: usize) -> u64 {
        frames as u64 * 1_000_000 / u64::from(self.format.rate.max(1))
    }

    /// Fill every free period of the sink.
    fn feed(&mut self, sink: &mut dyn AudioSink) {
        while sink.free_periods() > 0 {
            let delay = self.frames_us(sink.queued_frames());
            let now = Instant::now().as_micros();
            let r = self.jitter.pull(now, delay, &mut self.period);
            if r != Pulled::Silence {
                self.apply_gain();
            }
            if let Pulled::Short { .. } = r {
                if self.jitter.stats.underruns != self.reported_underruns {
                    self.reported_underruns = self.jitter.stats.underruns;
                    defmt::info!(
                        "audio: underrun {=u64} (jitter buffer empty)",
                        self.reported_underruns
                    );
                }
            }
            if let Err(e) = sink.submit(&self.period) {
                defmt::warn!(
                    "audio: sink refused a period: {=str}",
                    alloc::format!("{e}").as_str()
                );
                return;
            }
        }
    }

    fn apply_gain(&mut self) {
        let ch = usize::from(self.format.channels);
        if self.mute {
            self.period.fill(0);
            return;
        }
        if self.volume == [u16::MAX; 2] {
            return;
        }
        for (i, s) in self.period.chunks_exact_mut(2).enumerate() {
            let g = i32::from(self.volume[(i % ch).min(1)]);
            let v = i32::from(i16::from_le_bytes([s[0], s[1]]));
            let out = ((v * g) >> 16) as i16;
            s.copy_from_slice(&out.to_le_bytes());
        }
    }

    fn report(&mut self, why: &str) {
        let st = &self.jitter.stats;
        let l = &st.latency;
        defmt::info!(
            "audio: {=str}: played {=u64} ms, underruns {=u64}, dropped {=u64} frames, latency ms last {=u64} min {=u64} mean {=u64} max {=u64}, buffered {=u64} ms",
            why,
            st.played_frames * 1000 / u64::from(self.format.rate.max(1)),
            st.underruns,
            st.dropped_frames,
            l.last_us / 1000,
            l.min_us / 1000,
            l.mean_us() / 1000,
            l.max_us / 1000,
            self.frames_us(self.jitter.depth_frames()) / 1000
        );
        self.last_report = Instant::now();
    }
}

/// Note that a sink exists (before the session task starts).
pub fn install(sink: &Option<Box<dyn AudioSink>>) {
    if let Some(s) = sink {
        AVAILABLE.store(true, Ordering::Relaxed);
        defmt::info!("audio: sink {=str}", s.describe().as_str());
    } else {
        defmt::info!("audio: no audio output on this board; playback not linked");
    }
}

/// The playback task: runs for ever with the board's sink.
#[embassy_executor::task]
pub async fn task(mut sink: Box<dyn AudioSink>, target_ms: u32) {
    let mut stream: Option<Stream> = None;
    let mut volume = [u16::MAX; 2];
    let mut mute = false;
    loop {
        let got = match select(QUEUE.receive(), Timer::after(TICK)).await {
            Either::First(x) => Some(x),
            Either::Second(()) => None,
        };
        let mut items: Vec<(u64, AudioItem)> = got.into_iter().collect();
        while let Ok(x) = QUEUE.try_receive() {
            items.push(x);
        }
        for (at, item) in items {
            match item {
                AudioItem::Start(f) => {
                    let same = stream.as_ref().is_some_and(|s| s.format == f);
                    if same {
                        defmt::info!("audio: stream start (same format, sink kept running)");
                        continue;
                    }
                    if let Some(mut s) = stream.take() {
                        s.report("stream replaced");
                    }
                    match sink.start(f.channels, f.rate) {
                        Ok(period) => {
                            defmt::info!(
                                "audio: stream start {=u8} ch {=u32} Hz S16, period {=usize} frames, jitter target {=u32} ms on {=str}",
                                f.channels,
                                f.rate,
                                period,
                                target_ms,
                                sink.describe().as_str()
                            );
                            stream = Some(Stream::new(f, period, target_ms, volume, mute));
                        }
                        Err(e) => defmt::warn!(
                            "audio: sink cannot play {=u8} ch {=u32} Hz: {=str}",
                            f.channels,
                            f.rate,
                            alloc::format!("{e}").as_str()
                        ),
                    }
                }
                AudioItem::Data { pcm, .. } => {
                    if let Some(s) = stream.as_mut() {
                        s.jitter.push(at, &pcm);
                    }
                }
                AudioItem::Stop => {
                    if let Some(s) = stream.as_mut() {
                        s.jitter.end_of_stream();
                        s.report("stream stop");
                    }
                }
                AudioItem::Volume(v) => {
                    volume = v;
                    defmt::info!("audio: volume {=u16} {=u16}", v[0], v[1]);
                    if let Some(s) = stream.as_mut() {
                        s.volume = v;
                    }
                }
                AudioItem::Mute(m) => {
                    mute = m;
                    defmt::info!("audio: mute {=bool}", m);
                    if let Some(s) = stream.as_mut() {
                        s.mute = m;
                    }
                }
            }
        }
        if let Some(s) = stream.as_mut() {
            s.feed(&mut *sink);
            if s.jitter.is_playing() && s.last_report.elapsed() >= REPORT {
                s.report("stats");
            }
        }
    }
}
