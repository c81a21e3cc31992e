//! Working memory a surface keeps between draws so that the drawing
//! primitives allocate nothing in the steady state. Never part of the
//! picture: two surfaces with the same pixels are equal whatever their
//! scratch holds, and a cloned surface starts with an empty one.

use alloc::vec::Vec;
use core::fmt;

/// The source columns one destination column of a scaled copy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tap {
    /// Left (or only, for nearest) source column.
    pub(super) left: u32,
    /// Right source column (bilinear only).
    pub(super) right: u32,
    /// Weight of `right`, 0..=256 (bilinear only).
    pub(super) weight: u32,
}

/// Reusable buffers of one surface; grows to the widest draw seen (at most
/// the surface width) and is then reused.
#[derive(Default)]
pub struct Scratch {
    /// Per-column taps of the scaled copy being drawn.
    pub(super) taps: Vec<Tap>,
}

impl Clone for Scratch {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Scratch {}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch")
            .field("taps_capacity", &self.taps.capacity())
            .finish()
    }
}
