//! Runs of adjacent LZ columns drawn side by side ([`super::super::columns`])
//! against the same messages handled one by one: same surface, counters,
//! dirty rectangle and result, on the recorded lab session and on random
//! column streams, whole, truncated and damaged.

use super::*;
use crate::channel::tests::mini;
use crate::channel::{Channel, TxQueue};
use crate::error::ProtocolError;
use crate::image::lz::tests::random_rgb32;
use rand::{Rng, SeedableRng};

/// The messages of `bodies` framed with the mini header.
fn stream(msgs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    msgs.iter().flat_map(|(t, body)| mini(*t, body)).collect()
}

/// What a display ends with after `bytes` went through a channel engine.
struct Outcome {
    pixels: Vec<u32>,
    stats: DisplayStats,
    dirty: Option<Rect>,
    result: Result<(), ProtocolError>,
    /// Display messages handed over (the last one failed, on error).
    handled: usize,
}

/// Feed `bytes` (mini-header messages) to a display on a `w x h` primary
/// surface through the channel engine in chunks of `chunk` bytes, the
/// display seeing what is buffered ahead (`batched`) or not.
fn run(bytes: &[u8], (w, h): (u32, u32), chunk: usize, batched: bool) -> Outcome {
    let mut rig = Rig::new(w, h);
    let mut ch = Channel::new(SPICE_CHANNEL_DISPLAY as u8, 0, true, TxQueue::default());
    let mut events = Vec::new();
    let mut handled = 0;
    let mut result = Ok(());
    for piece in bytes.chunks(chunk) {
        let Rig { d, glz, .. } = &mut rig;
        result = ch.receive(piece, &mut events, |t, body, ahead, out| {
            handled += 1;
            if batched {
                d.handle_ahead(t, body, ahead, glz, out)
            } else {
                d.handle(t, body, glz, out)
            }
        });
        if result.is_err() {
            break;
        }
    }
    let mut stats = rig.d.stats();
    if !batched {
        assert_eq!((stats.column_runs, stats.run_columns), (0, 0));
    }
    assert!(stats.run_columns >= 2 * stats.column_runs);
    (stats.column_runs, stats.run_columns) = (0, 0);
    Outcome {
        pixels: rig.px(),
        stats,
        dirty: rig.d.take_dirty(),
        result,
        handled,
    }
}

/// Both ways of handling `msgs` agree; on an error, on every pixel outside
/// the boxes of the failing message and those after it (`boxes[i]`:
/// message `i`'s DRAW_COPY box, if any), which a run may have begun to
/// draw before the failure ended the channel. Returns how many runs were drawn
/// side by side.
fn agree(msgs: &[(u16, Vec<u8>)], boxes: &[Option<Rect>], size: (u32, u32), chunk: usize) -> u64 {
    let bytes = stream(msgs);
    let one = run(&bytes, size, chunk, false);
    let mut rig = Rig::new(size.0, size.1);
    let mut batched = run(&bytes, size, chunk, true);
    let runs = {
        // Count the runs again on a fresh display (run() zeroes them).
        let mut ch = Channel::new(SPICE_CHANNEL_DISPLAY as u8, 0, true, TxQueue::default());
        let Rig { d, glz, .. } = &mut rig;
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            let r = ch.receive(piece, &mut events, |t, body, ahead, out| {
                d.handle_ahead(t, body, ahead, glz, out)
            });
            if r.is_err() {
                break;
            }
        }
        d.stats().column_runs
    };
    assert_eq!(batched.result, one.result, "same result");
    assert_eq!(batched.handled, one.handled, "same messages handed over");
    assert_eq!(batched.stats, one.stats, "same counters");
    assert_eq!(batched.dirty, one.dirty, "same dirty rectangle");
    let mut want = one.pixels;
    if one.result.is_err() {
        // Messages after the failing one (index handled - 1) never ran;
        // the failing draw itself is left part drawn, and past where it
        // failed its rows may hold what block copies running ahead of a
        // match read beyond its source row: the next columns' pixels,
        // drawn already in a run, not yet one by one.
        for r in boxes.iter().skip(one.handled - 1).flatten() {
            for y in r.top..r.bottom {
                for x in r.left..r.right {
                    let i = (y as u32 * size.0 + x as u32) as usize;
                    want[i] = 0;
                    batched.pixels[i] = 0;
                }
            }
        }
    }
    if let Some(i) = (0..want.len()).find(|&i| want[i] != batched.pixels[i]) {
        panic!(
            "same surface: pixel ({}, {}) {:08x} one by one, {:08x} batched ({:?}, {} handled)",
            i as u32 % size.0,
            i as u32 / size.0,
            want[i],
            batched.pixels[i],
            one.result,
            one.handled
        );
    }
    runs
}

/// A DRAW_COPY of the whole `image` (`w x h`, of `kind`) at (`x`, `y`).
fn copy_msg(kind: u32, payload: &[u8], (x, y, w, h): (i32, i32, i32, i32)) -> Vec<u8> {
    let image = sized_image(kind, w as u32, h as u32, payload);
    whole_copy(&image, (x, y, w, h), &[])
}

#[test]
fn recorded_lab_columns_draw_as_one_by_one() {
    let rec: &[u8] = include_bytes!("../../../tests/data/display/lz-192x144.spicerec");
    // After the 16-byte magic the recording is a mini-header stream.
    let body = &rec[16..];
    let mut msgs = Vec::new();
    let mut rest = body;
    while rest.len() >= 6 {
        let t = u16::from_le_bytes([rest[0], rest[1]]);
        let n = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
        msgs.push((t, rest[6..6 + n].to_vec()));
        rest = &rest[6 + n..];
    }
    let boxes: Vec<Option<Rect>> = msgs
        .iter()
        .map(|(t, b)| match message::parse(*t, b) {
            Ok(DisplayMsg::Copy(base, _)) => Some(base.bbox),
            _ => None,
        })
        .collect();
    let size = (192, 144);
    // The recording creates its own 192x144 primary surface over the rig's.
    let runs = agree(&msgs, &boxes, size, usize::MAX);
    assert!(runs > 0, "the recording's columns were drawn side by side");
    // Arriving a few bytes at a time, runs are what happens to be buffered.
    for chunk in [1000, 4096, 20_000] {
        agree(&msgs, &boxes, size, chunk);
    }
    // Damaged: a byte of a draw changed, or a draw cut short.
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let draws: Vec<usize> = (0..msgs.len()).filter(|&i| boxes[i].is_some()).collect();
    for round in 0..60 {
        let mut m = msgs.clone();
        let i = draws[rng.gen_range(0..draws.len())];
        let b = &mut m[i].1;
        if round % 3 == 0 {
            let cut = rng.gen_range(b.len() / 2..b.len());
            b.truncate(cut);
        } else {
            let at = rng.gen_range(b.len() / 2..b.len());
            b[at] ^= rng.gen_range(1..=255u8);
        }
        agree(&m, &boxes, size, usize::MAX);
    }
}

#[test]
fn random_column_runs_draw_as_one_by_one() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let (sw, sh) = (160u32, 48u32);
    let mut runs = 0;
    for round in 0..300 {
        let mut msgs = Vec::new();
        let mut boxes = Vec::new();
        let top = rng.gen_range(0..8);
        let h = rng.gen_range(1..=40);
        let top_down = rng.gen_bool(0.7);
        let mut x = rng.gen_range(0..10);
        let count = rng.gen_range(1..=24);
        for k in 0..count {
            let w = rng.gen_range(1..=24).min(sw as i32 - x);
            if w <= 0 {
                break;
            }
            let mut lz = random_rgb32(&mut rng, w as u32, h as u32, top_down as u32);
            match round % 4 {
                // Damaged: the stream cut short or a byte changed.
                1 if k == count / 2 => {
                    let cut = rng.gen_range(28..=lz.len());
                    lz.truncate(cut);
                }
                2 if rng.gen_bool(0.2) => {
                    let at = rng.gen_range(28..lz.len());
                    lz[at] ^= rng.gen_range(1..=255u8);
                }
                _ => {}
            }
            let r = (x, top, w, h);
            msgs.push((
                SPICE_MSG_DISPLAY_DRAW_COPY,
                copy_msg(SPICE_IMAGE_TYPE_LZ_RGB, &lz, r),
            ));
            boxes.push(Some(Rect::new(x, top, x + w, top + h)));
            // Now and then a gap, a fill between columns or a column that
            // does not line up: a run ends there.
            match rng.gen_range(0..12) {
                0 => x += 1,
                1 => {
                    let f = fill_msg(0, (0, 0, 4, 4), &[], 0x00ab_cdef, SPICE_ROPD_OP_PUT);
                    msgs.push((SPICE_MSG_DISPLAY_DRAW_FILL, f));
                    boxes.push(None);
                }
                _ => {}
            }
            x += w;
        }
        let chunk = if round % 5 == 0 {
            rng.gen_range(50..2000)
        } else {
            usize::MAX
        };
        runs += agree(&msgs, &boxes, (sw, sh), chunk);
    }
    assert!(runs > 100, "runs were drawn side by side ({runs})");
}
