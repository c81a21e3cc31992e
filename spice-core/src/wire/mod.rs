//! Wire formats: bounds-checked readers and the SPICE message layouts.
//!
//! Owns byte-level parsing and serialisation only; no channel state lives
//! here (that is `channel`, `session` and the per-channel modules). Every
//! accessor checks lengths first and returns a [`WireError`](crate::error::WireError).

pub mod reader;
pub mod writer;
pub mod link;
pub mod common;
pub mod main;
pub mod inputs;
pub mod cursor;
#[cfg(test)]
pub(crate) mod testutil;

pub use reader::Reader;
pub use writer::Writer;
