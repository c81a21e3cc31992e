//! Fuzz a whole session's receive path: the channel engine (deframing, ACK
//! windows, PING, LIST, NOTIFY, ...) and the main, display, inputs and
//! cursor handlers behind it, through `Session::receive`.
//!
//! Setup (not fuzzed): MAIN is linked with what the lab server really sent
//! (fixtures/main.bin: link reply, result, messages through MAIN_INIT), then
//! DISPLAY 0, INPUTS 0 and CURSOR 0 are opened and linked with their captured
//! replies (mini header negotiated).
//! Input: chunks `[channel u8][len u16 LE][bytes]` (see
//! `barespice_fuzz::chunks`); channel % 4 picks main, display, inputs,
//! cursor. After each chunk the queued bytes are taken and the events
//! drained, as a client loop would. Nothing may panic.
//!
//! Seeds: fuzz/seeds/session (server-to-client bytes of real sessions with
//! the lab server, cut where the TCP reads ended).
#![no_main]

use barespice_fuzz::{chunks, drain, linked_session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mut s, handles)) = linked_session() else {
        panic!("the captured link fixtures no longer bring a session up");
    };
    for (sel, bytes) in chunks(data) {
        let h = handles[(sel % 4) as usize];
        let _ = s.receive(h, bytes);
        drain(&mut s);
        let _ = s.take_dirty();
    }
});
