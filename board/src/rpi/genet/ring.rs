//! GENET DMA ring bookkeeping: the 16-bit producer/consumer counters, the
//! descriptor slot they select, and the descriptor length/status word.
//!
//! Owns: the arithmetic only. The hardware's counters run modulo 65536 while a
//! ring has `size` descriptors (a power of two dividing 65536, so the slot of
//! a counter stays right across the wrap). Must not: touch a register or a
//! buffer; the driver in [`super`] reads the counters and hands them in, so
//! this is unit-tested on the host. Every value the hardware reports is
//! bounded here before it indexes anything.

/// The counters are 16 bits wide.
pub const INDEX_MASK: u32 = 0xffff;

/// How far counter `ahead` is past counter `behind`, modulo 65536.
pub fn distance(ahead: u32, behind: u32) -> u32 {
    ahead.wrapping_sub(behind) & INDEX_MASK
}

/// The receive side: the hardware produces, the driver consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxRing {
    size: u32,
    cons: u32,
}

/// What a receive ring poll found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxPoll {
    /// Nothing new.
    Empty,
    /// A filled descriptor at this slot.
    Ready(usize),
    /// The hardware claims more filled descriptors than the ring has: its
    /// counter is not trustworthy; the driver resynchronises.
    Overrun(u32),
}

impl RxRing {
    /// A ring of `size` descriptors (a power of two, 2..=256) whose consumer
    /// counter starts at `cons` (the hardware's producer counter at set-up:
    /// it cannot be reset, so the consumer is aligned to it).
    pub fn new(size: u32, cons: u32) -> Self {
        debug_assert!(size.is_power_of_two() && (2..=256).contains(&size));
        Self {
            size,
            cons: cons & INDEX_MASK,
        }
    }

    /// The consumer counter to write back to the hardware.
    pub fn consumer(&self) -> u32 {
        self.cons
    }

    /// The next filled descriptor, given the hardware's producer counter.
    pub fn poll(&self, hw_prod: u32) -> RxPoll {
        match distance(hw_prod, self.cons) {
            0 => RxPoll::Empty,
            n if n > self.size => RxPoll::Overrun(n),
            _ => RxPoll::Ready(self.slot(self.cons)),
        }
    }

    /// Marks the descriptor returned by [`RxRing::poll`] consumed; returns the
    /// new consumer counter.
    pub fn advance(&mut self) -> u32 {
        self.cons = (self.cons + 1) & INDEX_MASK;
        self.cons
    }

    /// Drops everything the hardware produced (after an [`RxPoll::Overrun`]).
    pub fn resync(&mut self, hw_prod: u32) -> u32 {
        self.cons = hw_prod & INDEX_MASK;
        self.cons
    }

    fn slot(&self, counter: u32) -> usize {
        (counter % self.size) as usize
    }
}

/// The transmit side: the driver produces, the hardware consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxRing {
    size: u32,
    prod: u32,
}

impl TxRing {
    /// A ring of `size` descriptors whose producer counter starts at `prod`
    /// (the hardware's consumer counter at set-up).
    pub fn new(size: u32, prod: u32) -> Self {
        debug_assert!(size.is_power_of_two() && (2..=256).contains(&size));
        Self {
            size,
            prod: prod & INDEX_MASK,
        }
    }

    /// Frames handed to the hardware and not yet sent; a consumer counter
    /// ahead of the producer (impossible) counts as a full ring.
    pub fn in_flight(&self, hw_cons: u32) -> u32 {
        distance(self.prod, hw_cons).min(self.size)
    }

    /// The slot for the next frame, if one is free (one slot stays empty so a
    /// full ring and an empty one differ).
    pub fn next_slot(&self, hw_cons: u32) -> Option<usize> {
        (self.in_flight(hw_cons) < self.size - 1).then_some((self.prod % self.size) as usize)
    }

    /// Records a frame placed in [`TxRing::next_slot`]; returns the producer
    /// counter to write to the hardware.
    pub fn push(&mut self) -> u32 {
        self.prod = (self.prod + 1) & INDEX_MASK;
        self.prod
    }
}

/// Descriptor word 0: buffer length in bits 27:16.
const LEN_SHIFT: u32 = 16;
const LEN_MASK: u32 = 0x0fff;
/// Descriptor word 0: owned by the hardware (receive, at set-up).
pub const DESC_OWN: u32 = 0x8000;
/// End of packet.
pub const DESC_EOP: u32 = 0x4000;
/// Start of packet.
pub const DESC_SOP: u32 = 0x2000;
/// Transmit: let the MAC append the FCS.
const TX_APPEND_CRC: u32 = 0x0040;
/// Transmit: queue tag field (bits 12:7), all ones as the references use.
const TX_QTAG: u32 = 0x3f << 7;
/// Receive error bits: overrun, CRC, receive error, non-octet, too long.
const RX_ERRORS: u32 = 0x01 | 0x02 | 0x04 | 0x08 | 0x10;

/// Bytes the MAC inserts before each received frame (`RBUF_ALIGN_2B`), so the
/// IP header lands 4-byte aligned.
pub const RX_PAD: usize = 2;
/// Shortest Ethernet frame without FCS; shorter transmits are zero-padded.
pub const MIN_FRAME: usize = 60;

/// Descriptor word 0 of a receive buffer given to the hardware.
pub fn rx_free_word(buf_len: usize) -> u32 {
    ((buf_len as u32 & LEN_MASK) << LEN_SHIFT) | DESC_OWN
}

/// Descriptor word 0 of a single-buffer frame of `len` bytes to send.
pub fn tx_word(len: usize) -> u32 {
    ((len as u32 & LEN_MASK) << LEN_SHIFT) | TX_QTAG | TX_APPEND_CRC | DESC_SOP | DESC_EOP
}

/// A received descriptor, judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxFrame {
    /// A whole frame: its bytes start at [`RX_PAD`] in the buffer.
    Frame {
        /// Frame length without the pad (and without FCS, which the MAC strips).
        len: usize,
    },
    /// Not usable: error bits, a frame split over buffers, or a length that
    /// does not fit the buffer; the status word for the log.
    Bad(u32),
}

/// Judges receive descriptor word 0 for a buffer of `buf_len` bytes.
pub fn rx_frame(word: u32, buf_len: usize) -> RxFrame {
    let len = ((word >> LEN_SHIFT) & LEN_MASK) as usize;
    let whole = word & (DESC_SOP | DESC_EOP) == DESC_SOP | DESC_EOP;
    if word & RX_ERRORS != 0 || !whole || len > buf_len || len < RX_PAD + 14 {
        return RxFrame::Bad(word);
    }
    RxFrame::Frame { len: len - RX_PAD }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_wrap_at_16_bits() {
        assert_eq!(distance(5, 3), 2);
        assert_eq!(distance(1, 0xffff), 2);
        assert_eq!(distance(0x1_0003, 0x0001), 2, "upper bits ignored");
        assert_eq!(distance(3, 3), 0);
    }

    #[test]
    fn rx_consumes_in_order_across_the_wrap() {
        // The hardware's producer was 0xfffe at set-up.
        let mut r = RxRing::new(64, 0xfffe);
        assert_eq!(r.poll(0xfffe), RxPoll::Empty);
        // 0xfffe % 64 = 62.
        assert_eq!(r.poll(0x0001), RxPoll::Ready(62));
        assert_eq!(r.advance(), 0xffff);
        assert_eq!(r.poll(0x0001), RxPoll::Ready(63));
        assert_eq!(r.advance(), 0x0000);
        assert_eq!(r.poll(0x0001), RxPoll::Ready(0));
        assert_eq!(r.advance(), 0x0001);
        assert_eq!(r.poll(0x0001), RxPoll::Empty);
        assert_eq!(r.consumer(), 1);
    }

    #[test]
    fn rx_rejects_impossible_producer() {
        let mut r = RxRing::new(64, 10);
        assert_eq!(
            r.poll(10 + 64),
            RxPoll::Ready(10),
            "a full ring is possible"
        );
        assert_eq!(r.poll(10 + 65), RxPoll::Overrun(65));
        assert_eq!(r.resync(75), 75);
        assert_eq!(r.poll(75), RxPoll::Empty);
    }

    #[test]
    fn tx_keeps_one_slot_free() {
        let mut t = TxRing::new(4, 0xfffe);
        let cons = 0xfffe;
        assert_eq!(t.next_slot(cons), Some(2));
        t.push();
        assert_eq!(t.next_slot(cons), Some(3));
        t.push();
        assert_eq!(t.next_slot(cons), Some(0), "slot wraps with the counter");
        assert_eq!(t.push(), 0x0001);
        assert_eq!(t.in_flight(cons), 3);
        assert_eq!(t.next_slot(cons), None, "ring full");
        // The hardware sent two.
        assert_eq!(t.in_flight(0x0000), 1);
        assert_eq!(t.next_slot(0x0000), Some(1));
        // A consumer counter beyond the producer cannot happen: treat as full.
        assert_eq!(t.in_flight(0x0005), 4);
        assert_eq!(t.next_slot(0x0005), None);
    }

    #[test]
    fn descriptor_words() {
        assert_eq!(rx_free_word(2048), 0x0800_8000);
        assert_eq!(rx_free_word(1536), (1536 << 16) | 0x8000);
        assert_eq!(rx_free_word(4096), 0x8000, "cut to the 12-bit field");
        assert_eq!(
            tx_word(60),
            (60 << 16) | (0x3f << 7) | 0x40 | 0x2000 | 0x4000
        );
    }

    #[test]
    fn received_frames_are_bounded() {
        let ok = (66u32 << 16) | DESC_SOP | DESC_EOP;
        assert_eq!(rx_frame(ok, 2048), RxFrame::Frame { len: 64 });
        assert_eq!(
            rx_frame(ok | 0x02, 2048),
            RxFrame::Bad(ok | 0x02),
            "CRC error"
        );
        assert_eq!(
            rx_frame((66 << 16) | DESC_SOP, 2048),
            RxFrame::Bad((66 << 16) | DESC_SOP),
            "no EOP"
        );
        let long = (1600u32 << 16) | DESC_SOP | DESC_EOP;
        assert_eq!(rx_frame(long, 1536), RxFrame::Bad(long));
        let short = (10u32 << 16) | DESC_SOP | DESC_EOP;
        assert_eq!(rx_frame(short, 2048), RxFrame::Bad(short));
    }
}
