//! The generic channel engine that runs after a successful link.
//!
//! Owns, for one channel connection: reassembling messages from arbitrary
//! byte chunks ([`Deframer`]), framing outgoing messages with the mini or
//! full header and queueing the bytes ([`TxQueue`]), and the duties common to
//! every channel: SET_ACK / ACK_SYNC / ACK flow control, PING -> PONG,
//! NOTIFY, DISCONNECTING, WAIT_FOR_CHANNELS, LIST (sub-messages dispatched
//! one by one) and MIGRATE* (ignored). Messages numbered above
//! `SPICE_MSG_BASE_LAST` go to a channel-specific handler supplied by the
//! caller. It must not know what main/display/inputs/cursor messages mean,
//! and does no I/O.
//!
//! ACK counting follows spice-gtk and the server's red-channel-client: every
//! received top-level message counts once (a LIST counts once, its
//! sub-messages do not); after `window` of them one ACK is sent.

use crate::budget::{Budget, Charge, Use};
use crate::enums::*;
use crate::error::{ProtocolError, WireError};
use crate::outbox::Outbox;
use crate::wire::common::{
    ack_sync, parse_migrate, parse_sub_list, parse_wait_for_channels, DataHeader, Disconnecting,
    Notify, Ping, SetAck,
};
use crate::wire::Writer;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

mod ahead;
pub use ahead::Ahead;

/// Largest message body accepted: one 4096 x 4096 32-bit raw image
/// (64 MiB) plus room for its draw header. Bytes are only buffered as they
/// arrive, so a lying header costs nothing until the data is really sent.
pub const MAX_MESSAGE_SIZE: u32 = 64 * 1024 * 1024 + 64 * 1024;

/// One reassembled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Header fields (serial and sub_list are 0 with the mini header).
    pub header: DataHeader,
    /// The message body.
    pub body: &'a [u8],
    /// The bytes buffered after it (complete messages and the start of
    /// an incomplete one).
    pub rest: &'a [u8],
}

/// Receive-buffer capacity a [`Deframer`] keeps once its messages are
/// consumed (it shrinks only when it holds more than four times this, or four
/// times what is buffered): big images arrive message after message, and
/// giving their buffer back to the allocator each time costs a page fault per
/// 4 KiB when it grows again. Charged to the budget like any capacity.
pub const RETAINED_RECEIVE_BUFFER: usize = 1024 * 1024;

/// Reassembles whole messages from a stream of byte chunks.
///
/// The bytes received and not yet returned are `buf[start..end]`; `buf` is
/// initialised up to its length, which may run past `end`, so that a caller
/// can read from its socket straight into the buffer ([`Deframer::lend`])
/// without the buffer being cleared for every read.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// `buf` is out with a caller ([`Deframer::lend`]) until it comes back.
    lent: bool,
    mini: bool,
    max_size: u32,
    /// The session budget and the charge for `buf`'s capacity, if any.
    budget: Option<(Budget, Charge)>,
}

/// A deframer's receive buffer lent out for one read ([`Deframer::lend`]):
/// the read goes into [`Lent::spare`], and [`Deframer::restore`] takes the
/// buffer back with the number of bytes read.
#[derive(Debug)]
pub struct Lent {
    buf: Vec<u8>,
    end: usize,
}

impl Lent {
    /// Where the next received bytes go (never empty).
    pub fn spare(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.end..).unwrap_or_default()
    }
}

impl Deframer {
    /// A deframer for the negotiated header form.
    pub fn new(mini: bool) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
            lent: false,
            mini,
            max_size: MAX_MESSAGE_SIZE,
            budget: None,
        }
    }

    /// Charge the receive buffer to `budget` from now on, and refuse a
    /// message whose announced size would not fit it.
    pub fn set_budget(&mut self, budget: Budget) -> Result<(), WireError> {
        let charge = budget.charge(self.buf.capacity(), Use::Message)?;
        self.budget = Some((budget, charge));
        Ok(())
    }

    /// Set a different body size limit.
    pub fn with_max_size(mut self, max_size: u32) -> Self {
        self.max_size = max_size;
        self
    }

    /// Make room for `n` more bytes after `end` (failing, with nothing
    /// changed, when the buffer cannot grow within the memory budget or the
    /// heap). Consumed bytes are dropped first when they are the larger part
    /// of the buffer, keeping the amortised cost linear.
    fn reserve(&mut self, n: usize) -> Result<(), WireError> {
        if self.lent {
            return Err(WireError::new(0, "receive buffer is lent out"));
        }
        if self.start > 0 && (self.start == self.end || self.start >= self.end / 2) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let keep = self.end.max(RETAINED_RECEIVE_BUFFER);
            if self.buf.capacity() > 4 * keep {
                self.buf.truncate(keep);
                self.buf.shrink_to(keep);
                if let Some((_, charge)) = &mut self.budget {
                    charge.resize(self.buf.capacity(), Use::Message)?;
                }
            }
        }
        let need = self.end.saturating_add(n);
        if need > self.buf.capacity() {
            // Grow geometrically, but never past what the budget allows.
            let want = need.max(self.buf.capacity().saturating_mul(2)).max(4096);
            let fits = |n: usize| match &self.budget {
                Some((b, c)) => b.fits(n.saturating_sub(c.bytes())),
                None => true,
            };
            let target = if fits(want) { want } else { need };
            if let Some((_, charge)) = &mut self.budget {
                charge.resize(target, Use::Message)?;
            }
            let more = target - self.buf.len();
            self.buf
                .try_reserve_exact(more)
                .map_err(|_| WireError::new(0, "out of memory for a message"))?;
            if let Some((_, charge)) = &mut self.budget {
                charge.resize(self.buf.capacity(), Use::Message)?;
            }
        }
        Ok(())
    }

    /// Append received bytes (failing, with nothing appended, when the
    /// buffer cannot grow within the memory budget or the heap).
    pub fn push(&mut self, data: &[u8]) -> Result<(), WireError> {
        self.reserve(data.len())?;
        // Overwrite what is initialised past `end`, append the rest.
        let over = self.buf.len().saturating_sub(self.end).min(data.len());
        let (head, tail) = data.split_at(over);
        if let Some(dst) = self.buf.get_mut(self.end..self.end + over) {
            dst.copy_from_slice(head);
        }
        self.buf.extend_from_slice(tail);
        self.end += data.len();
        Ok(())
    }

    /// Lend the receive buffer for one read of up to `n` bytes (at least
    /// one): the caller reads into [`Lent::spare`] and gives it back with
    /// [`Deframer::restore`], so the bytes are not copied again. The space is
    /// made like [`Deframer::push`] makes it (and charged to the budget the
    /// same way); it is cleared once, when it first becomes part of the
    /// buffer.
    pub fn lend(&mut self, n: usize) -> Result<Lent, WireError> {
        let n = n.max(1);
        self.reserve(n)?;
        let need = self.end + n;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        self.lent = true;
        Ok(Lent {
            buf: core::mem::take(&mut self.buf),
            end: self.end,
        })
    }

    /// Take back the buffer of [`Deframer::lend`] after `n` bytes were read
    /// into its spare part (clamped to that part).
    pub fn restore(&mut self, lent: Lent, n: usize) {
        let n = n.min(lent.buf.len().saturating_sub(lent.end));
        self.buf = lent.buf;
        self.end = lent.end + n;
        self.lent = false;
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The next complete message, if one is buffered. A header announcing a
    /// body larger than the limit is an error (with that header's type).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, (u16, WireError)> {
        let avail = self.buf.get(self.start..self.end).unwrap_or_default();
        let hlen = DataHeader::len(self.mini);
        if avail.len() < hlen {
            return Ok(None);
        }
        let header = DataHeader::parse(avail, self.mini).map_err(|e| (0, e))?;
        if header.size > self.max_size {
            return Err((
                header.msg_type,
                WireError::new(0, "message size over limit"),
            ));
        }
        if let Some((budget, charge)) = &self.budget {
            // Refuse at the header a message the budget could never hold.
            let whole = self
                .start
                .saturating_add(hlen)
                .saturating_add(header.size as usize);
            if !budget.fits(whole.saturating_sub(charge.bytes())) {
                return Err((header.msg_type, WireError::new(0, Use::Message.reason())));
            }
        }
        let total = hlen + header.size as usize;
        if avail.len() < total {
            return Ok(None);
        }
        let start = self.start + hlen;
        self.start += total;
        Ok(Some(Frame {
            header,
            body: &self.buf[start..start + header.size as usize],
            rest: &self.buf[self.start..self.end],
        }))
    }
}

/// Outgoing bytes waiting for the caller to transmit them.
#[derive(Debug, Default)]
pub struct TxQueue {
    buf: Vec<u8>,
    start: usize,
}

impl TxQueue {
    /// Bytes not yet reported as sent.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Mark the first `n` pending bytes as sent (clamped to what is pending).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Append raw bytes (link stage).
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Direct access for code that appends (the link state machine).
    pub fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

/// Something the common layer wants the session to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommonEvent {
    /// `SPICE_MSG_NOTIFY`.
    Notify(Notify),
    /// `SPICE_MSG_DISCONNECTING`: the server is about to close this channel.
    Disconnecting {
        /// `SPICE_LINK_ERR_*` reason.
        reason: u32,
    },
}

/// The per-connection engine: deframing, framing, ACK/PING duties.
#[derive(Debug)]
pub struct Channel {
    /// `SPICE_CHANNEL_*`.
    pub channel_type: u8,
    /// Channel id.
    pub channel_id: u8,
    deframer: Deframer,
    /// Bytes to transmit.
    pub tx: TxQueue,
    mini: bool,
    out_serial: u64,
    ack_window: u32,
    ack_left: u32,
    counts: BTreeMap<u16, u64>,
    record: Option<Vec<u8>>,
}

impl Channel {
    /// An engine for a linked channel; `mini` is whether both sides set
    /// `MINI_HEADER`. `tx` carries over whatever the link stage queued.
    pub fn new(channel_type: u8, channel_id: u8, mini: bool, tx: TxQueue) -> Self {
        Self {
            channel_type,
            channel_id,
            deframer: Deframer::new(mini),
            tx,
            mini,
            out_serial: 0,
            ack_window: 0,
            ack_left: 0,
            counts: BTreeMap::new(),
            record: None,
        }
    }

    /// Charge this channel's receive buffer to the session's `budget`.
    pub fn set_budget(&mut self, budget: Budget) -> Result<(), ProtocolError> {
        self.deframer
            .set_budget(budget)
            .map_err(|e| self.error(0, e))
    }

    /// Bytes of a message that has begun but is not complete yet (0 when
    /// the last byte received ended a message).
    pub fn buffered(&self) -> usize {
        self.deframer.buffered()
    }

    /// Start keeping a copy of every received top-level message (see
    /// [`Channel::take_recorded`]).
    pub fn set_recording(&mut self, on: bool) {
        self.record = if on { Some(Vec::new()) } else { None };
    }

    /// Take the recorded messages: each as `{u16 type, u32 size}` (LE) then
    /// the body, i.e. the mini-header framing, whatever the negotiated form.
    pub fn take_recorded(&mut self) -> Vec<u8> {
        self.record
            .as_mut()
            .map(core::mem::take)
            .unwrap_or_default()
    }

    /// How many messages of each type were received (sub-messages included).
    pub fn counts(&self) -> &BTreeMap<u16, u64> {
        &self.counts
    }

    /// Frame and queue one message.
    pub fn send(&mut self, msg_type: u16, body: &[u8]) {
        self.out_serial += 1;
        let h = DataHeader {
            serial: self.out_serial,
            msg_type,
            size: body.len() as u32,
            sub_list: 0,
        };
        let mut w = Writer::new();
        h.emit(self.mini, &mut w);
        self.tx.extend(&w.finish());
        self.tx.extend(body);
    }

    /// Frame and queue every message in `out`.
    pub fn send_all(&mut self, out: &mut Outbox) {
        for (t, body) in out.drain() {
            self.send(t, &body);
        }
    }

    fn error(&self, msg_type: u16, error: WireError) -> ProtocolError {
        ProtocolError {
            channel_type: self.channel_type,
            channel_id: self.channel_id,
            msg_type,
            error,
        }
    }

    /// Feed received bytes. Common messages are answered here; others go to
    /// `handler(type, body, ahead, outbox)`, whose queued replies are framed
    /// and sent; `ahead` holds the complete top-level messages buffered
    /// behind this one (none for a LIST's sub-messages), each of which is
    /// still handed over in turn.
    /// Stops at the first malformed message.
    pub fn receive<F>(
        &mut self,
        data: &[u8],
        events: &mut Vec<CommonEvent>,
        handler: F,
    ) -> Result<(), ProtocolError>
    where
        F: FnMut(u16, &[u8], Ahead<'_>, &mut Outbox) -> Result<(), WireError>,
    {
        if let Err(e) = self.deframer.push(data) {
            return Err(self.error(0, e));
        }
        self.process(events, handler)
    }

    /// Lend the receive buffer for one read of up to `n` bytes straight
    /// from the socket (see [`Deframer::lend`]); [`Channel::receive_lent`]
    /// gives it back.
    pub fn lend(&mut self, n: usize) -> Result<Lent, ProtocolError> {
        self.deframer.lend(n).map_err(|e| self.error(0, e))
    }

    /// [`Channel::receive`] for `n` bytes read into the spare part of a
    /// buffer from [`Channel::lend`].
    pub fn receive_lent<F>(
        &mut self,
        lent: Lent,
        n: usize,
        events: &mut Vec<CommonEvent>,
        handler: F,
    ) -> Result<(), ProtocolError>
    where
        F: FnMut(u16, &[u8], Ahead<'_>, &mut Outbox) -> Result<(), WireError>,
    {
        self.deframer.restore(lent, n);
        self.process(events, handler)
    }

    /// Handle every complete message buffered.
    fn process<F>(
        &mut self,
        events: &mut Vec<CommonEvent>,
        mut handler: F,
    ) -> Result<(), ProtocolError>
    where
        F: FnMut(u16, &[u8], Ahead<'_>, &mut Outbox) -> Result<(), WireError>,
    {
        let mut out = Outbox::new();
        let (mini, max_size) = (self.mini, self.deframer.max_size);
        loop {
            let frame = match self.deframer.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err((t, e)) => {
                    let (ct, ci) = (self.channel_type, self.channel_id);
                    return Err(ProtocolError {
                        channel_type: ct,
                        channel_id: ci,
                        msg_type: t,
                        error: e,
                    });
                }
            };
            let Frame { header, body, rest } = frame;
            if let Some(rec) = self.record.as_mut() {
                rec.extend_from_slice(&header.msg_type.to_le_bytes());
                rec.extend_from_slice(&header.size.to_le_bytes());
                rec.extend_from_slice(body);
            }
            // Count before handling, as spice-gtk does.
            if self.ack_left > 0 {
                self.ack_left -= 1;
                if self.ack_left == 0 {
                    out.push(SPICE_MSGC_ACK, Vec::new());
                    self.ack_left = self.ack_window;
                }
            }
            let mut ack = None;
            let mut result = Ok(());
            if header.msg_type == SPICE_MSG_LIST || header.sub_list != 0 {
                match parse_sub_list(body, header.sub_list) {
                    Ok(subs) => {
                        for s in subs {
                            let sub_body = &body[s.offset..s.offset + s.len];
                            *self.counts.entry(s.msg_type).or_insert(0) += 1;
                            if s.msg_type == SPICE_MSG_LIST {
                                continue; // no nesting
                            }
                            let r = dispatch(
                                s.msg_type,
                                sub_body,
                                Ahead::NONE,
                                &mut out,
                                events,
                                &mut ack,
                                &mut handler,
                            );
                            if let Err(e) = r {
                                result = Err((s.msg_type, e.at_base(s.offset)));
                                break;
                            }
                        }
                    }
                    Err(e) => result = Err((header.msg_type, e)),
                }
            }
            *self.counts.entry(header.msg_type).or_insert(0) += 1;
            if result.is_ok() && header.msg_type != SPICE_MSG_LIST {
                result = dispatch(
                    header.msg_type,
                    body,
                    Ahead::new(rest, mini, max_size),
                    &mut out,
                    events,
                    &mut ack,
                    &mut handler,
                )
                .map_err(|e| (header.msg_type, e));
            }
            if let Some(a) = ack {
                self.ack_window = a.window;
                self.ack_left = a.window;
            }
            self.send_all(&mut out);
            if let Err((t, e)) = result {
                return Err(self.error(t, e));
            }
        }
    }
}

/// Handle one message: the common ones here, the rest through `handler`.
/// A SET_ACK is reported through `ack` so the caller updates its window
/// after the count for this message was taken.
fn dispatch<F>(
    msg_type: u16,
    body: &[u8],
    ahead: Ahead<'_>,
    out: &mut Outbox,
    events: &mut Vec<CommonEvent>,
    ack: &mut Option<SetAck>,
    handler: &mut F,
) -> Result<(), WireError>
where
    F: FnMut(u16, &[u8], Ahead<'_>, &mut Outbox) -> Result<(), WireError>,
{
    if msg_type > SPICE_MSG_BASE_LAST {
        return handler(msg_type, body, ahead, out);
    }
    match msg_type {
        SPICE_MSG_SET_ACK => {
            let a = SetAck::parse(body)?;
            out.push(SPICE_MSGC_ACK_SYNC, ack_sync(a.generation));
            *ack = Some(a);
        }
        SPICE_MSG_PING => {
            let p = Ping::parse(body)?;
            out.push(SPICE_MSGC_PONG, p.pong());
        }
        SPICE_MSG_NOTIFY => events.push(CommonEvent::Notify(Notify::parse(body)?)),
        SPICE_MSG_DISCONNECTING => {
            let d = Disconnecting::parse(body)?;
            events.push(CommonEvent::Disconnecting { reason: d.reason });
        }
        SPICE_MSG_WAIT_FOR_CHANNELS => {
            // With one display channel there is nothing to wait for.
            parse_wait_for_channels(body)?;
        }
        SPICE_MSG_MIGRATE => {
            // No migration support: we never send MIGRATE_FLUSH_MARK; the
            // server falls back to disconnecting us if it must.
            parse_migrate(body)?;
        }
        // MIGRATE_DATA and unknown base messages carry nothing we use.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `body` framed as message `t` with the mini header.
    pub(crate) fn mini(t: u16, body: &[u8]) -> Vec<u8> {
        let mut v = t.to_le_bytes().to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    /// Split the queued output back into (type, body) pairs (mini header).
    fn sent(c: &mut Channel) -> Vec<(u16, Vec<u8>)> {
        let mut d = Deframer::new(true);
        d.push(c.tx.pending()).unwrap();
        let n = c.tx.pending().len();
        c.tx.consume(n);
        let mut v = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            v.push((f.header.msg_type, f.body.to_vec()));
        }
        v
    }

    fn no_handler(_: u16, _: &[u8], _: Ahead<'_>, _: &mut Outbox) -> Result<(), WireError> {
        Ok(())
    }

    #[test]
    fn set_ack_then_ack_every_window_messages() {
        let mut c = Channel::new(2, 0, true, TxQueue::default());
        let mut ev = Vec::new();
        c.receive(
            &mini(SPICE_MSG_SET_ACK, &[7, 0, 0, 0, 3, 0, 0, 0]),
            &mut ev,
            no_handler,
        )
        .unwrap();
        assert_eq!(
            sent(&mut c),
            [(SPICE_MSGC_ACK_SYNC, alloc::vec![7, 0, 0, 0])]
        );
        let mut stream = Vec::new();
        for _ in 0..7 {
            stream.extend(mini(302, &[]));
        }
        // deliver in odd-sized chunks
        for chunk in stream.chunks(5) {
            c.receive(chunk, &mut ev, no_handler).unwrap();
        }
        let acks = sent(&mut c);
        assert_eq!(acks.len(), 2); // after messages 3 and 6
        assert!(acks
            .iter()
            .all(|(t, b)| *t == SPICE_MSGC_ACK && b.is_empty()));
        // a LIST counts once, not once per sub-message (2 more -> 9th message acks)
        let list = [
            &[3u8, 0][..],
            &[14, 0, 0, 0, 20, 0, 0, 0, 26, 0, 0, 0],
            &mini(302, &[]),
            &mini(302, &[]),
            &mini(302, &[]),
        ]
        .concat();
        c.receive(&mini(SPICE_MSG_LIST, &list), &mut ev, no_handler)
            .unwrap();
        assert!(sent(&mut c).is_empty());
        c.receive(&mini(302, &[]), &mut ev, no_handler).unwrap();
        assert_eq!(sent(&mut c).len(), 1);
    }

    #[test]
    fn ping_answered_with_pong_even_when_large() {
        let mut c = Channel::new(1, 0, true, TxQueue::default());
        let mut body = alloc::vec![0u8; 12 + 256 * 1024];
        body[..4].copy_from_slice(&9u32.to_le_bytes());
        body[4..12].copy_from_slice(&0x1122334455667788u64.to_le_bytes());
        let mut ev = Vec::new();
        c.receive(&mini(SPICE_MSG_PING, &body), &mut ev, no_handler)
            .unwrap();
        let s = sent(&mut c);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, SPICE_MSGC_PONG);
        assert_eq!(s[0].1, body[..12]);
    }

    #[test]
    fn list_dispatches_sub_messages_with_offsets() {
        let mut c = Channel::new(2, 0, true, TxQueue::default());
        let list = [
            &[2u8, 0][..],
            &[10, 0, 0, 0, 19, 0, 0, 0],
            &mini(5, &[0]),
            &[1, 0],
            &mini(105, &[1, 2, 3]),
        ]
        .concat();
        // second offset points at the 105 message (after the 7-byte first one + 2 padding)
        let mut seen = Vec::new();
        let mut ev = Vec::new();
        c.receive(&mini(SPICE_MSG_LIST, &list), &mut ev, |t, b, _, _| {
            seen.push((t, b.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(105, alloc::vec![1, 2, 3])]);
        // a handler error in a sub-message reports the sub type and the offset in the LIST body
        let err = c
            .receive(&mini(SPICE_MSG_LIST, &list), &mut ev, |_, _, _, _| {
                Err(WireError::new(1, "bad"))
            })
            .unwrap_err();
        assert_eq!((err.msg_type, err.error.offset), (105, 26));
    }

    #[test]
    fn full_header_serials_and_notify_disconnect_events() {
        let mut c = Channel::new(1, 0, false, TxQueue::default());
        c.send(SPICE_MSGC_ACK, &[]);
        c.send(SPICE_MSGC_ACK, &[]);
        let p = c.tx.pending().to_vec();
        assert_eq!(p.len(), 36);
        assert_eq!(&p[..8], &1u64.to_le_bytes());
        assert_eq!(&p[18..26], &2u64.to_le_bytes());
        let mut notify = Writer::new();
        notify.u64(0).u32(0).u32(0).u32(0).u32(2).bytes(b"ok");
        let body = notify.finish();
        let mut msg = Writer::new();
        DataHeader {
            serial: 1,
            msg_type: SPICE_MSG_NOTIFY,
            size: body.len() as u32,
            sub_list: 0,
        }
        .emit(false, &mut msg);
        msg.bytes(&body);
        DataHeader {
            serial: 2,
            msg_type: SPICE_MSG_DISCONNECTING,
            size: 12,
            sub_list: 0,
        }
        .emit(false, &mut msg);
        msg.u64(0).u32(3);
        let mut ev = Vec::new();
        c.receive(&msg.finish(), &mut ev, no_handler).unwrap();
        assert!(matches!(&ev[0], CommonEvent::Notify(n) if n.text == "ok"));
        assert_eq!(ev[1], CommonEvent::Disconnecting { reason: 3 });
    }

    #[test]
    fn oversized_and_malformed_messages_are_errors() {
        let mut c = Channel::new(2, 0, true, TxQueue::default());
        let mut ev = Vec::new();
        let mut h = 304u16.to_le_bytes().to_vec();
        h.extend_from_slice(&(MAX_MESSAGE_SIZE + 1).to_le_bytes());
        let e = c.receive(&h, &mut ev, no_handler).unwrap_err();
        assert_eq!((e.channel_type, e.msg_type), (2, 304));
        let mut c = Channel::new(2, 0, true, TxQueue::default());
        let e = c
            .receive(&mini(SPICE_MSG_SET_ACK, &[1, 2]), &mut ev, no_handler)
            .unwrap_err();
        assert_eq!((e.msg_type, e.error.offset), (SPICE_MSG_SET_ACK, 0));
    }

    #[test]
    fn random_streams_never_panic() {
        let mut errors = 0;
        for input in crate::wire::testutil::random_inputs(3, 400, 600) {
            for mini_hdr in [true, false] {
                let mut c = Channel::new(1, 0, mini_hdr, TxQueue::default());
                let mut ev = Vec::new();
                for chunk in input.chunks(7) {
                    if c.receive(chunk, &mut ev, no_handler).is_err() {
                        errors += 1;
                        break;
                    }
                }
            }
        }
        assert!(errors > 0);
    }

    /// Deliver `stream` through lent buffers, reads of at most `read` bytes,
    /// and return the frames in order.
    fn deframe_lent(d: &mut Deframer, stream: &[u8], read: usize) -> Vec<(u16, Vec<u8>)> {
        let mut frames = Vec::new();
        for chunk in stream.chunks(read) {
            let mut lent = d.lend(read).unwrap();
            let spare = lent.spare();
            assert!(spare.len() >= read);
            spare[..chunk.len()].copy_from_slice(chunk);
            d.restore(lent, chunk.len());
            while let Some(f) = d.next_frame().unwrap() {
                frames.push((f.header.msg_type, f.body.to_vec()));
            }
        }
        frames
    }

    #[test]
    fn lent_reads_reassemble_like_pushed_ones() {
        // Messages of many sizes, some far larger than one read, fed in odd
        // read sizes; a lent stream and a pushed one give the same frames.
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (i, len) in [0usize, 1, 5000, 3, 70_000, 17, 200_000, 9]
            .iter()
            .enumerate()
        {
            let body: Vec<u8> = (0..*len).map(|k| (k * 7 + i) as u8).collect();
            stream.extend(mini(300 + i as u16, &body));
            want.push((300 + i as u16, body));
        }
        for read in [1, 7, 4096, 65_536] {
            let mut d = Deframer::new(true);
            assert_eq!(deframe_lent(&mut d, &stream, read), want, "read {read}");
            assert_eq!(d.buffered(), 0);
            // Pushed bytes after lent ones (the buffer is initialised past
            // its end now) and lent ones after pushed ones still line up.
            d.push(&stream[..10_000]).unwrap();
            let mut got = Vec::new();
            while let Some(f) = d.next_frame().unwrap() {
                got.push((f.header.msg_type, f.body.to_vec()));
            }
            got.extend(deframe_lent(&mut d, &stream[10_000..], read.max(1000)));
            assert_eq!(got, want, "push then lend, read {read}");
        }
    }

    #[test]
    fn lent_buffer_blocks_pushes_and_restore_clamps() {
        let mut d = Deframer::new(true);
        let mut lent = d.lend(8).unwrap();
        assert!(d.push(&[1]).is_err());
        assert!(d.lend(8).is_err());
        let m = mini(301, &[9, 9]);
        lent.spare()[..m.len()].copy_from_slice(&m);
        let spare = lent.spare().len();
        // A caller claiming more than the spare part is clamped to it.
        d.restore(lent, spare + 100);
        assert_eq!(d.buffered(), spare);
        let f = d.next_frame().unwrap().unwrap();
        assert_eq!((f.header.msg_type, f.body), (301, &[9u8, 9][..]));
        assert!(d.push(&[0]).is_ok());
    }

    #[test]
    fn lending_is_charged_to_the_budget() {
        let budget = Budget::new(64 * 1024);
        let mut d = Deframer::new(true);
        d.set_budget(budget.clone()).unwrap();
        let lent = d.lend(16 * 1024).unwrap();
        assert!(budget.used() >= 16 * 1024);
        d.restore(lent, 0);
        // More than the whole budget cannot be lent; nothing changes.
        let used = budget.used();
        assert!(d.lend(128 * 1024).is_err());
        assert_eq!(budget.used(), used);
        assert!(d.lend(1024).is_ok());
    }

    #[test]
    fn tx_queue_partial_consume() {
        let mut q = TxQueue::default();
        q.extend(&[1, 2, 3, 4]);
        q.consume(1);
        assert_eq!(q.pending(), [2, 3, 4]);
        q.consume(10);
        assert!(q.pending().is_empty());
    }
}
