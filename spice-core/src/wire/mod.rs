//! Wire formats: bounds-checked readers and the SPICE message layouts.
//!
//! Owns byte-level parsing and serialisation only; no channel state lives
//! here (that is `channel`, `session` and the per-channel modules). Every
//! accessor checks lengths first and returns a [`WireError`](crate::error::WireError).

pub mod agent;
pub mod common;
pub mod cursor;
pub mod inputs;
pub mod link;
pub mod main;
pub mod playback;
pub mod reader;
#[cfg(test)]
pub(crate) mod testutil;
pub mod writer;

pub use reader::Reader;
pub use writer::Writer;
