//! [`JitterBuffer`]: PCM between the network and an audio sink.
//!
//! Owns the frames received but not yet handed to the sink, the priming
//! rule (playback starts once `target` worth of audio is queued, so network
//! jitter up to that much is absorbed), the bound (beyond `max`, the oldest
//! frames are dropped, so a server that sends faster than the sink plays
//! cannot grow it), and the figures the measurements report: underruns,
//! dropped and silence frames, and the time each packet waited from its
//! arrival (`PLAYBACK_DATA`) until the sink took its first frame.
//!
//! Pure logic: the caller passes the time (µs, any monotonic origin) and
//! owns the sink. Frames are opaque byte groups of `frame_bytes`.

use alloc::collections::VecDeque;

/// Latency figures, µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Samples taken.
    pub count: u64,
    /// Sum of the samples (for the mean).
    pub sum_us: u64,
    /// Smallest sample.
    pub min_us: u64,
    /// Largest sample.
    pub max_us: u64,
    /// Most recent sample.
    pub last_us: u64,
}

impl Latency {
    /// Add one sample.
    pub fn add(&mut self, us: u64) {
        self.min_us = if self.count == 0 {
            us
        } else {
            self.min_us.min(us)
        };
        self.max_us = self.max_us.max(us);
        self.sum_us = self.sum_us.saturating_add(us);
        self.last_us = us;
        self.count += 1;
    }

    /// Mean of the samples (0 when there are none).
    pub fn mean_us(&self) -> u64 {
        self.sum_us.checked_div(self.count).unwrap_or(0)
    }
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Times the buffer ran dry while playing (not counting the end of a stream).
    pub underruns: u64,
    /// Frames dropped because the buffer was full.
    pub dropped_frames: u64,
    /// Frames of silence handed out (priming and underruns).
    pub silence_frames: u64,
    /// Frames of audio handed out.
    pub played_frames: u64,
    /// Packet arrival → sink (plus the sink's own delay the caller reports).
    pub latency: Latency,
}

/// What [`JitterBuffer::pull`] put into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// Audio throughout.
    Audio,
    /// Silence: not primed yet (or nothing playing).
    Silence,
    /// Some audio, then silence: the buffer ran dry (an underrun, counted
    /// unless the stream had ended).
    Short {
        /// Audio frames before the silence.
        frames: usize,
    },
}

/// A bounded FIFO of PCM frames with a start threshold.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    frame_bytes: usize,
    target_frames: usize,
    max_frames: usize,
    data: VecDeque<u8>,
    /// Per received packet not yet fully handed out: (frames left, arrival
    /// time µs, whether its latency was sampled).
    packets: VecDeque<(usize, u64, bool)>,
    primed: bool,
    ended: bool,
    /// Counters.
    pub stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for frames of `frame_bytes` bytes (channels × 2 for S16)
    /// that starts playing at `target_frames` and holds at most `max_frames`
    /// (raised to `target_frames` if smaller).
    pub fn new(frame_bytes: usize, target_frames: usize, max_frames: usize) -> Self {
        let frame_bytes = frame_bytes.max(1);
        let max_frames = max_frames.max(target_frames).max(1);
        Self {
            frame_bytes,
            target_frames,
            max_frames,
            data: VecDeque::with_capacity(max_frames * frame_bytes),
            packets: VecDeque::new(),
            primed: false,
            ended: false,
            stats: JitterStats::default(),
        }
    }

    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Frames queued.
    pub fn depth_frames(&self) -> usize {
        self.data.len() / self.frame_bytes
    }

    /// Whether the start threshold has been reached (and not lost since).
    pub fn is_playing(&self) -> bool {
        self.primed
    }

    /// Add a received packet (`pcm`: whole frames; a partial trailing frame
    /// is ignored) that arrived at `now_us`. When the buffer would exceed its
    /// bound, the oldest frames are dropped.
    pub fn push(&mut self, now_us: u64, pcm: &[u8]) {
        let frames = pcm.len() / self.frame_bytes;
        if frames == 0 {
            return;
        }
        self.ended = false;
        // Keep only what can ever fit.
        let keep = frames.min(self.max_frames);
        let skip = frames - keep;
        self.stats.dropped_frames += skip as u64;
        let over = (self.depth_frames() + keep).saturating_sub(self.max_frames);
        if over > 0 {
            self.discard_oldest(over);
            self.stats.dropped_frames += over as u64;
        }
        self.data
            .extend(&pcm[skip * self.frame_bytes..frames * self.frame_bytes]);
        self.packets.push_back((keep, now_us, false));
    }

    fn discard_oldest(&mut self, frames: usize) {
        self.data.drain(..frames * self.frame_bytes);
        self.forget_frames(frames);
    }

    /// Account for `frames` leaving the front of the buffer.
    fn forget_frames(&mut self, mut frames: usize) {
        while frames > 0 {
            let Some(front) = self.packets.front_mut() else {
                break;
            };
            let n = front.0.min(frames);
            front.0 -= n;
            frames -= n;
            if front.0 == 0 {
                self.packets.pop_front();
            }
        }
    }

    /// The server stopped the stream: what is queued plays out (even below
    /// the start threshold) and running dry afterwards is not an underrun.
    pub fn end_of_stream(&mut self) {
        self.ended = true;
        if !self.data.is_empty() {
            self.primed = true;
        }
    }

    /// Drop everything queued (a new stream format); counters stay.
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
        self.primed = false;
        self.ended = false;
    }

    /// Fill `out` (whole frames) at `now_us` for the sink, whose own queue
    /// delays what it takes now by `sink_delay_us`.
    pub fn pull(&mut self, now_us: u64, sink_delay_us: u64, out: &mut [u8]) -> Pulled {
        let want = out.len() / self.frame_bytes;
        if !self.primed {
            if self.depth_frames() >= self.target_frames.max(1) {
                self.primed = true;
            } else {
                out.fill(0);
                self.stats.silence_frames += want as u64;
                return Pulled::Silence;
            }
        }
        let frames = want.min(self.depth_frames());
        // Latency: each packet whose first frame leaves now.
        let mut left = frames;
        for p in self.packets.iter_mut() {
            if left == 0 {
                break;
            }
            if !p.2 {
                p.2 = true;
                self.stats
                    .latency
                    .add(now_us.saturating_sub(p.1).saturating_add(sink_delay_us));
            }
            left = left.saturating_sub(p.0);
        }
        let bytes = frames * self.frame_bytes;
        for (o, b) in out[..bytes].iter_mut().zip(self.data.drain(..bytes)) {
            *o = b;
        }
        self.forget_frames(frames);
        self.stats.played_frames += frames as u64;
        if frames == want {
            return Pulled::Audio;
        }
        out[bytes..want * self.frame_bytes].fill(0);
        self.stats.silence_frames += (want - frames) as u64;
        self.primed = false;
        if !self.ended {
            self.stats.underruns += 1;
        }
        Pulled::Short { frames }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn frames(n: usize, v: u8) -> Vec<u8> {
        vec![v; n * 4]
    }

    #[test]
    fn waits_for_the_target_then_plays_in_order() {
        let mut j = JitterBuffer::new(4, 10, 100);
        let mut out = [9u8; 4 * 8];
        j.push(0, &frames(6, 1));
        assert_eq!(j.pull(1_000, 0, &mut out), Pulled::Silence);
        assert!(out.iter().all(|&b| b == 0));
        j.push(2_000, &frames(6, 2));
        assert_eq!(j.pull(5_000, 0, &mut out), Pulled::Audio);
        assert!(out[..24].iter().all(|&b| b == 1) && out[24..].iter().all(|&b| b == 2));
        // both packets started leaving at 5 ms: 5 ms and 3 ms
        assert_eq!(j.stats.latency.count, 2);
        assert_eq!(
            (j.stats.latency.max_us, j.stats.latency.min_us),
            (5_000, 3_000)
        );
        assert_eq!(j.stats.latency.mean_us(), 4_000);
        assert_eq!(j.depth_frames(), 4);
        assert_eq!(j.stats.underruns, 0);
    }

    #[test]
    fn running_dry_is_an_underrun_and_reprimes() {
        let mut j = JitterBuffer::new(4, 4, 100);
        let mut out = [0u8; 4 * 4];
        j.push(0, &frames(6, 7));
        assert_eq!(j.pull(0, 0, &mut out), Pulled::Audio);
        assert_eq!(j.pull(0, 0, &mut out), Pulled::Short { frames: 2 });
        assert_eq!(&out[8..], &[0; 8]);
        assert_eq!(j.stats.underruns, 1);
        assert!(!j.is_playing());
        // below the target again: silence, no second underrun
        j.push(0, &frames(2, 7));
        assert_eq!(j.pull(0, 0, &mut out), Pulled::Silence);
        assert_eq!(j.stats.underruns, 1);
        assert_eq!(j.stats.silence_frames, 2 + 4);
        assert_eq!(j.stats.played_frames, 6);
    }

    #[test]
    fn end_of_stream_plays_out_without_an_underrun() {
        let mut j = JitterBuffer::new(4, 100, 200);
        let mut out = [0u8; 4 * 4];
        j.push(0, &frames(3, 5));
        j.end_of_stream();
        assert_eq!(j.pull(0, 0, &mut out), Pulled::Short { frames: 3 });
        assert_eq!(j.stats.underruns, 0);
        assert_eq!(j.pull(0, 0, &mut out), Pulled::Silence);
    }

    #[test]
    fn bounded_drops_the_oldest() {
        let mut j = JitterBuffer::new(4, 2, 8);
        j.push(0, &frames(6, 1));
        j.push(1_000, &frames(6, 2));
        assert_eq!(j.depth_frames(), 8);
        assert_eq!(j.stats.dropped_frames, 4);
        let mut out = [0u8; 4 * 8];
        assert_eq!(j.pull(3_000, 500, &mut out), Pulled::Audio);
        assert!(out[..8].iter().all(|&b| b == 1) && out[8..].iter().all(|&b| b == 2));
        assert_eq!(j.stats.latency.max_us, 3_500);
        // one packet larger than the whole buffer keeps its newest frames
        j.push(0, &frames(20, 3));
        assert_eq!(j.depth_frames(), 8);
        assert_eq!(j.stats.dropped_frames, 16);
    }

    #[test]
    fn partial_frames_are_ignored() {
        let mut j = JitterBuffer::new(4, 1, 8);
        j.push(0, &[1, 2, 3]);
        assert_eq!(j.depth_frames(), 0);
        j.push(0, &[1, 2, 3, 4, 5]);
        assert_eq!(j.depth_frames(), 1);
    }
}
