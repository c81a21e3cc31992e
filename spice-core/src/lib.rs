//! `spice-core`: the SPICE client protocol, sans-IO.
//!
//! Owns everything a SPICE client must understand about bytes on the wire:
//! the link handshake and RSA-OAEP ticket, message framing, the common
//! channel duties (ACK windows, PING/PONG), the main, display, inputs,
//! cursor, playback and spicevmc (USB redirection stream) channels, the
//! image decoders, a software canvas, the audio jitter buffer and the pacing
//! of key events towards the guest (`key_pace`).
//!
//! It must not do I/O: no sockets, clocks, threads or hardware. The caller
//! feeds received bytes per channel into a [`session::Session`], drains the
//! bytes it should send, and polls events (see `session`). The same code runs
//! in the host client (`barespice-host`) and in the bare-metal firmware.
//!
//! Message numbers and layouts follow `spice/enums.h` and `spice.proto` of
//! spice-protocol 0.14.3 / spice-common (see [`enums`]).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod agent;
pub mod budget;
pub mod canvas;
pub mod channel;
pub mod cursor;
pub mod display;
pub mod enums;
pub mod error;
pub mod fit;
pub mod image;
pub mod inputs;
pub mod jitter;
pub mod key_pace;
pub mod keymap;
pub mod link;
pub mod main_channel;
pub mod outbox;
pub mod playback;
pub mod session;
pub mod spicevmc;
pub mod stall;
pub mod wire;
