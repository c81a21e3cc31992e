//! Video-stream state of the display channel: what STREAM_CREATE set up,
//! the current clip, and the STREAM_REPORT window the server asked for.
//!
//! Owns per-stream bookkeeping only. Frame decoding and drawing happen in
//! the display module; this must not touch pixels or read the clock (there
//! is none in a sans-IO core: reports are sent per frame window).

use super::wire::{ActivateReport, StreamCreate, StreamReport};
use crate::canvas::Rect;
use crate::enums::*;
use alloc::vec::Vec;

/// One active stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Surface frames are drawn on.
    pub surface_id: u32,
    /// `SPICE_STREAM_FLAGS_*`.
    pub flags: u8,
    /// `SPICE_VIDEO_CODEC_TYPE_*`.
    pub codec: u8,
    /// Encoded frame size.
    pub stream_size: (u32, u32),
    /// Source size.
    pub src_size: (u32, u32),
    /// Destination rectangle on the surface.
    pub dest: Rect,
    /// Clip (`None` = only the destination rectangle).
    pub clip: Option<Vec<Rect>>,
    report: Option<ReportWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReportWindow {
    unique_id: u32,
    max_window: u32,
    first_mm: u32,
    last_mm: u32,
    frames: u32,
    drops: u32,
}

impl Stream {
    /// A stream as STREAM_CREATE describes it.
    pub fn new(c: StreamCreate) -> Self {
        Self {
            surface_id: c.surface_id,
            flags: c.flags,
            codec: c.codec,
            stream_size: (c.stream_width, c.stream_height),
            src_size: (c.src_width, c.src_height),
            dest: c.dest,
            clip: c.clip,
            report: None,
        }
    }

    /// Whether frames arrive top row first.
    pub fn top_down(&self) -> bool {
        self.flags as u32 & SPICE_STREAM_FLAGS_TOP_DOWN != 0
    }

    /// Start (or restart) reporting as STREAM_ACTIVATE_REPORT asks.
    pub fn activate_report(&mut self, a: &ActivateReport) {
        self.report = Some(ReportWindow {
            unique_id: a.unique_id,
            max_window: a.max_window_size.max(1),
            first_mm: 0,
            last_mm: 0,
            frames: 0,
            drops: 0,
        });
    }

    /// Account one frame (shown or dropped) due at `mm_time`; returns a
    /// report for stream `id` when the window is full.
    pub fn on_frame(&mut self, id: u32, mm_time: u32, dropped: bool) -> Option<StreamReport> {
        let w = self.report.as_mut()?;
        if w.frames == 0 {
            w.first_mm = mm_time;
        }
        w.last_mm = mm_time;
        w.frames += 1;
        if dropped {
            w.drops += 1;
        }
        if w.frames < w.max_window {
            return None;
        }
        let report = StreamReport {
            stream_id: id,
            unique_id: w.unique_id,
            start_frame_mm_time: w.first_mm,
            end_frame_mm_time: w.last_mm,
            num_frames: w.frames,
            num_drops: w.drops,
            last_frame_delay: 0,
            audio_delay: u32::MAX,
        };
        w.frames = 0;
        w.drops = 0;
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_after_window_frames() {
        let mut s = Stream::new(StreamCreate {
            surface_id: 0,
            id: 3,
            flags: SPICE_STREAM_FLAGS_TOP_DOWN as u8,
            codec: SPICE_VIDEO_CODEC_TYPE_MJPEG as u8,
            stamp: 0,
            stream_width: 4,
            stream_height: 4,
            src_width: 4,
            src_height: 4,
            dest: Rect::new(0, 0, 4, 4),
            clip: None,
        });
        assert!(s.top_down());
        assert!(s.on_frame(3, 10, false).is_none());
        s.activate_report(&ActivateReport {
            stream_id: 3,
            unique_id: 9,
            max_window_size: 2,
            timeout_ms: 100,
        });
        assert!(s.on_frame(3, 20, false).is_none());
        let r = s.on_frame(3, 30, true).unwrap();
        assert_eq!(
            (
                r.stream_id,
                r.unique_id,
                r.start_frame_mm_time,
                r.end_frame_mm_time
            ),
            (3, 9, 20, 30)
        );
        assert_eq!((r.num_frames, r.num_drops), (2, 1));
        assert!(s.on_frame(3, 40, false).is_none());
    }
}
