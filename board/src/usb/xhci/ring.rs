//! xHCI Transfer Request Blocks and the two ring disciplines (xHCI 1.2 §4.9):
//! producer rings (command and transfer rings: the driver writes TRBs, a Link
//! TRB at the end points back to the start and toggles the cycle state) and
//! the consumer side of the event ring (the controller writes; a TRB is new
//! while its cycle bit equals the consumer cycle state, which flips at every
//! wrap).
//!
//! Owns: TRB layouts and field encodings, enqueue/dequeue positions and cycle
//! states. Pure logic over a [`TrbMem`], so it is unit-tested on the host
//! (board/host-tests). Must not: touch registers, allocate, or know about
//! cache maintenance (the [`TrbMem`] implementation does that).

/// One TRB: four little-endian dwords.
pub type Trb = [u32; 4];

/// Where TRBs live. Writes put dwords 0..=2 first and dword 3 (with the cycle
/// bit) last, so the controller never sees a half-written TRB as valid.
pub trait TrbMem {
    /// Number of TRBs.
    fn len(&self) -> usize;
    /// Reads TRB `i` (as the controller left it).
    fn read(&self, i: usize) -> Trb;
    /// Writes TRB `i` and makes it visible to the controller.
    fn write(&mut self, i: usize, trb: Trb);
    /// True when there are no TRBs.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---- TRB types (xHCI 1.2 table 6-91) ----
/// Normal (bulk/interrupt data).
pub const TRB_NORMAL: u32 = 1;
/// Control transfer: Setup Stage.
pub const TRB_SETUP: u32 = 2;
/// Control transfer: Data Stage.
pub const TRB_DATA: u32 = 3;
/// Control transfer: Status Stage.
pub const TRB_STATUS: u32 = 4;
/// Link to the start of the ring.
pub const TRB_LINK: u32 = 6;
/// Command: Enable Slot.
pub const TRB_ENABLE_SLOT: u32 = 9;
/// Command: Disable Slot.
pub const TRB_DISABLE_SLOT: u32 = 10;
/// Command: Address Device.
pub const TRB_ADDRESS_DEVICE: u32 = 11;
/// Command: Configure Endpoint.
pub const TRB_CONFIGURE_ENDPOINT: u32 = 12;
/// Command: Reset Endpoint.
pub const TRB_RESET_ENDPOINT: u32 = 14;
/// Command: Stop Endpoint.
pub const TRB_STOP_ENDPOINT: u32 = 15;
/// Command: Set TR Dequeue Pointer.
pub const TRB_SET_TR_DEQUEUE: u32 = 16;
/// Event: Transfer.
pub const TRB_TRANSFER_EVENT: u32 = 32;
/// Event: Command Completion.
pub const TRB_COMMAND_COMPLETION: u32 = 33;
/// Event: Port Status Change.
pub const TRB_PORT_STATUS_CHANGE: u32 = 34;

// ---- control dword (dword 3) bits ----
/// Cycle bit.
pub const CYCLE: u32 = 1 << 0;
/// Link TRB: Toggle Cycle.
pub const LINK_TOGGLE: u32 = 1 << 1;
/// Interrupt on Short Packet.
pub const ISP: u32 = 1 << 2;
/// Chain bit.
pub const CHAIN: u32 = 1 << 4;
/// Interrupt On Completion.
pub const IOC: u32 = 1 << 5;
/// Immediate Data (Setup Stage).
pub const IDT: u32 = 1 << 6;
/// Address Device: Block Set Address Request.
pub const BSR: u32 = 1 << 9;
/// Data/Status Stage direction: IN.
pub const DIR_IN: u32 = 1 << 16;

// ---- completion codes (xHCI 1.2 table 6-90) ----
/// Success.
pub const CC_SUCCESS: u8 = 1;
/// Data Buffer Error.
pub const CC_DATA_BUFFER: u8 = 2;
/// Babble Detected.
pub const CC_BABBLE: u8 = 3;
/// USB Transaction Error.
pub const CC_TRANSACTION: u8 = 4;
/// Stall.
pub const CC_STALL: u8 = 6;
/// Short Packet.
pub const CC_SHORT_PACKET: u8 = 13;
/// Stopped (a Stop Endpoint command ended the TD).
pub const CC_STOPPED: u8 = 26;
/// Stopped, length invalid.
pub const CC_STOPPED_LENGTH_INVALID: u8 = 27;

/// The type field of a TRB.
pub fn trb_type(t: &Trb) -> u32 {
    (t[3] >> 10) & 0x3f
}

/// A TRB's 64-bit pointer field (dwords 0-1).
pub fn pointer(t: &Trb) -> u64 {
    u64::from(t[0]) | (u64::from(t[1]) << 32)
}

/// An event's completion code.
pub fn completion_code(t: &Trb) -> u8 {
    (t[2] >> 24) as u8
}

/// A transfer event's residual length (bytes not transferred).
pub fn residual(t: &Trb) -> u32 {
    t[2] & 0x00ff_ffff
}

/// An event's slot id.
pub fn slot_id(t: &Trb) -> u8 {
    (t[3] >> 24) as u8
}

/// A transfer event's endpoint (Device Context Index).
pub fn endpoint_id(t: &Trb) -> u8 {
    ((t[3] >> 16) & 0x1f) as u8
}

/// A TRB of `kind` with the pointer/parameter `param`, status dword `status`
/// and extra control bits `flags` (the cycle bit is added by the ring).
pub fn make(kind: u32, param: u64, status: u32, flags: u32) -> Trb {
    [
        param as u32,
        (param >> 32) as u32,
        status,
        (kind << 10) | (flags & !CYCLE),
    ]
}

/// Normal or Data Stage transfer length + TD Size (packets left after this
/// TRB, xHCI 1.2 §4.11.2.4) for the status dword.
pub fn transfer_status(len: u32, td_size: u32) -> u32 {
    (len & 0x1_ffff) | (td_size.min(31) << 17)
}

/// A producer ring (command or transfer ring): `len - 1` usable TRBs and a
/// Link TRB in the last slot pointing back at `base` (the bus address of TRB 0).
#[derive(Clone, Copy, Debug)]
pub struct ProducerRing {
    base: u64,
    len: usize,
    enqueue: usize,
    cycle: bool,
}

impl ProducerRing {
    /// A ring of `len` TRBs (at least 2) at bus address `base`; the memory
    /// must be zeroed. Writes the Link TRB.
    pub fn new(mem: &mut dyn TrbMem, base: u64) -> Self {
        let len = mem.len().max(2);
        let ring = ProducerRing {
            base,
            len,
            enqueue: 0,
            cycle: true,
        };
        // Link TRB with the producer cycle state "not yet valid" (0): it becomes
        // valid when the producer wraps onto it.
        mem.write(len - 1, make(TRB_LINK, base, 0, LINK_TOGGLE));
        ring
    }

    /// Bus address of the next TRB to be written, with the cycle state in
    /// bit 0 (the form CRCR and the endpoint context's TR Dequeue Pointer take).
    pub fn dequeue_pointer(&self) -> u64 {
        self.trb_address(self.enqueue) | u64::from(self.cycle)
    }

    /// Bus address of TRB `i`.
    pub fn trb_address(&self, i: usize) -> u64 {
        self.base + (i as u64) * 16
    }

    /// Writes `trb` at the enqueue position with the producer cycle bit;
    /// returns its bus address. Passing the Link TRB hands it to the
    /// controller and flips the cycle state.
    pub fn push(&mut self, mem: &mut dyn TrbMem, mut trb: Trb) -> u64 {
        trb[3] = (trb[3] & !CYCLE) | u32::from(self.cycle);
        let at = self.trb_address(self.enqueue);
        mem.write(self.enqueue, trb);
        self.enqueue += 1;
        if self.enqueue == self.len - 1 {
            // The Link TRB takes this chain bit from the last TRB (a TD may span
            // the wrap, xHCI 1.2 §4.11.5.1) and the current cycle state.
            let chain = trb[3] & CHAIN;
            let link = make(TRB_LINK, self.base, 0, LINK_TOGGLE | chain);
            mem.write(
                self.len - 1,
                [link[0], link[1], link[2], link[3] | u32::from(self.cycle)],
            );
            self.enqueue = 0;
            self.cycle = !self.cycle;
        }
        at
    }

    /// Free TRB slots before the producer would overrun `dequeue_index` (the
    /// oldest TRB the controller may still own).
    pub fn free_slots(&self, dequeue_index: usize) -> usize {
        let usable = self.len - 1;
        (dequeue_index + usable - self.enqueue - 1) % usable
    }

    /// The index of the TRB at bus address `addr`, if it is in this ring.
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        (off % 16 == 0 && off / 16 < self.len as u64).then_some((off / 16) as usize)
    }
}

/// The consumer side of a one-segment event ring.
#[derive(Clone, Copy, Debug)]
pub struct EventRing {
    base: u64,
    len: usize,
    dequeue: usize,
    cycle: bool,
}

impl EventRing {
    /// An event ring of `len` TRBs at bus address `base` (zeroed memory: no
    /// TRB is valid until the controller writes it with cycle 1).
    pub fn new(base: u64, len: usize) -> Self {
        EventRing {
            base,
            len: len.max(1),
            dequeue: 0,
            cycle: true,
        }
    }

    /// The next event, if the controller has written one; advances past it.
    pub fn pop(&mut self, mem: &dyn TrbMem) -> Option<Trb> {
        let t = mem.read(self.dequeue);
        if (t[3] & CYCLE != 0) != self.cycle {
            return None;
        }
        self.dequeue += 1;
        if self.dequeue == self.len {
            self.dequeue = 0;
            self.cycle = !self.cycle;
        }
        Some(t)
    }

    /// Index of the TRB the next [`EventRing::pop`] looks at (to invalidate its
    /// cache line first).
    pub fn dequeue_index(&self) -> usize {
        self.dequeue
    }

    /// Bus address for ERDP: the next TRB to be read.
    pub fn dequeue_pointer(&self) -> u64 {
        self.base + (self.dequeue as u64) * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    struct Mem(Vec<Trb>);

    impl TrbMem for Mem {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn read(&self, i: usize) -> Trb {
            self.0[i]
        }
        fn write(&mut self, i: usize, trb: Trb) {
            self.0[i] = trb;
        }
    }

    const BASE: u64 = 0x4010_0000;

    #[test]
    fn producer_sets_cycle_and_link_wraps_with_toggle() {
        let mut mem = Mem(vec![[0; 4]; 4]);
        let mut ring = ProducerRing::new(&mut mem, BASE);
        assert_eq!(trb_type(&mem.0[3]), TRB_LINK);
        assert_eq!(pointer(&mem.0[3]), BASE);
        assert_eq!(mem.0[3][3] & CYCLE, 0, "link not handed over yet");
        assert_eq!(ring.dequeue_pointer(), BASE | 1);

        assert_eq!(ring.push(&mut mem, make(TRB_NORMAL, 0x1000, 8, IOC)), BASE);
        assert_eq!(mem.0[0][3] & CYCLE, 1);
        assert_eq!(
            ring.push(&mut mem, make(TRB_NORMAL, 0x2000, 8, IOC)),
            BASE + 16
        );
        // Third TRB fills the last usable slot: the link becomes valid (cycle 1)
        // and the producer cycle flips.
        assert_eq!(
            ring.push(&mut mem, make(TRB_NORMAL, 0x3000, 8, IOC)),
            BASE + 32
        );
        assert_eq!(mem.0[3][3] & CYCLE, 1);
        assert_ne!(mem.0[3][3] & LINK_TOGGLE, 0);
        assert_eq!(ring.dequeue_pointer(), BASE);

        // After the wrap TRBs carry cycle 0, and the next link too.
        assert_eq!(ring.push(&mut mem, make(TRB_NORMAL, 0x4000, 8, IOC)), BASE);
        assert_eq!(mem.0[0][3] & CYCLE, 0);
        assert_eq!(pointer(&mem.0[0]), 0x4000);
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        assert_eq!(mem.0[3][3] & CYCLE, 0);
        assert_eq!(ring.dequeue_pointer(), BASE | 1);
    }

    #[test]
    fn link_inherits_chain_of_a_td_that_spans_the_wrap() {
        let mut mem = Mem(vec![[0; 4]; 3]);
        let mut ring = ProducerRing::new(&mut mem, BASE);
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        ring.push(&mut mem, make(TRB_SETUP, 0, 8, IDT | CHAIN));
        assert_ne!(mem.0[2][3] & CHAIN, 0);
        ring.push(&mut mem, make(TRB_STATUS, 0, 0, IOC));
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        assert_eq!(mem.0[2][3] & CHAIN, 0);
    }

    #[test]
    fn free_slots_and_index_of() {
        let mut mem = Mem(vec![[0; 4]; 8]);
        let mut ring = ProducerRing::new(&mut mem, BASE);
        assert_eq!(ring.free_slots(0), 6);
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        ring.push(&mut mem, make(TRB_NORMAL, 0, 0, 0));
        assert_eq!(ring.free_slots(0), 4);
        assert_eq!(ring.free_slots(2), 6);
        assert_eq!(ring.index_of(BASE + 32), Some(2));
        assert_eq!(ring.index_of(BASE + 8), None);
        assert_eq!(ring.index_of(BASE - 16), None);
        assert_eq!(ring.index_of(BASE + 8 * 16), None);
    }

    #[test]
    fn event_ring_dequeues_by_cycle_and_wraps() {
        let mut mem = Mem(vec![[0; 4]; 3]);
        let mut ev = EventRing::new(BASE, 3);
        assert_eq!(ev.pop(&mem), None, "zeroed ring holds no event");
        // Controller writes two events with cycle 1.
        mem.0[0] = [
            0x1000,
            0,
            (u32::from(CC_SUCCESS) << 24) | 5,
            (TRB_TRANSFER_EVENT << 10) | (3 << 16) | (2 << 24) | 1,
        ];
        mem.0[1] = [
            0,
            0,
            u32::from(CC_SUCCESS) << 24,
            (TRB_COMMAND_COMPLETION << 10) | (1 << 24) | 1,
        ];
        let e = ev.pop(&mem).unwrap();
        assert_eq!(trb_type(&e), TRB_TRANSFER_EVENT);
        assert_eq!(
            (
                completion_code(&e),
                residual(&e),
                slot_id(&e),
                endpoint_id(&e)
            ),
            (CC_SUCCESS, 5, 2, 3)
        );
        assert_eq!(pointer(&e), 0x1000);
        assert_eq!(trb_type(&ev.pop(&mem).unwrap()), TRB_COMMAND_COMPLETION);
        assert_eq!(ev.pop(&mem), None);
        assert_eq!(ev.dequeue_pointer(), BASE + 32);
        // Third slot, then wrap: the consumer now waits for cycle 0.
        mem.0[2] = [0, 0, 0, (TRB_PORT_STATUS_CHANGE << 10) | 1];
        assert_eq!(trb_type(&ev.pop(&mem).unwrap()), TRB_PORT_STATUS_CHANGE);
        assert_eq!(ev.dequeue_index(), 0);
        assert_eq!(ev.pop(&mem), None, "old cycle-1 event is not new");
        mem.0[0][3] &= !CYCLE;
        assert!(ev.pop(&mem).is_some());
    }

    #[test]
    fn make_never_sets_cycle_and_status_packs_td_size() {
        let t = make(TRB_NORMAL, 0x1_2345_6789, 0, CYCLE | IOC);
        assert_eq!(t[3] & CYCLE, 0);
        assert_eq!(pointer(&t), 0x1_2345_6789);
        assert_eq!(transfer_status(512, 3), 512 | (3 << 17));
        assert_eq!(transfer_status(512, 99) >> 17, 31);
    }
}
