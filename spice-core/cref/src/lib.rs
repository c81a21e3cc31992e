//! Bench-only: spice-common's own C image codecs (the decoders
//! libspice-client-glib runs, and the encoders a SPICE server runs) behind a
//! small safe API, so `cargo bench -p spice-core --bench reference` can
//! compare barespice's decoders with them on the same images.
//!
//! Built by `build.rs` from Debian's spice-gtk source package (which
//! vendors spice-common); [`available`] is false when that source was not
//! unpacked (`scripts/spice-common-src`). Never linked into the client.

#[cfg(cref)]
mod ffi;
#[cfg(cref)]
pub use ffi::*;

/// Whether the reference codecs were built (the spice-gtk source was found).
pub fn available() -> bool {
    cfg!(cref)
}
