//! xHCI (USB 3 eXtensible Host Controller Interface, revision 1.2) host
//! controller driver, polled: QEMU's `qemu-xhci` on `virt` (verified there) and
//! the Raspberry Pi 4's VL805 behind PCIe (written to the references, not yet
//! run on hardware).
//!
//! Owns: the controller's registers (capability, operational, runtime,
//! doorbells, port status), its reset and start, the Device Context Base
//! Address Array and scratchpads, the command ring, the event ring (one
//! segment, interrupter 0 with interrupts off: the driver polls it), device
//! slots with their input/output contexts, one transfer ring per endpoint,
//! root-port reset and speed, and stalled-endpoint recovery (Reset Endpoint +
//! Set TR Dequeue Pointer). Implements [`HostController`]. Must not: know
//! about classes, or assume a 1:1 DMA view or coherent caches: every address
//! the controller gets goes through [`DmaHal::bus_address64`], every TRB,
//! context and buffer is cleaned before the controller reads it and
//! invalidated before the CPU reads what it wrote (QEMU does not model caches;
//! a Pi 4 needs this).
//!
//! References read (none copied): the xHCI 1.2 specification (chapters 4-7);
//! U-Boot `drivers/usb/host/xhci.c`, `xhci-mem.c`, `xhci-ring.c` (the polled
//! model: one command and one transfer at a time, waiting on the event ring);
//! Linux `drivers/usb/host/xhci-hub.c` for the port-status write rules.
//! Deliberate differences from U-Boot: an event ring consumer that dispatches
//! every event (so several interrupt/bulk transfers can be in flight at once),
//! Address Device twice (BSR=1, then BSR=0 after the first 8 bytes of the
//! device descriptor, as Windows does) instead of reading bMaxPacketSize0 at
//! the address, and no 64 KiB-boundary splitting of buffers: the USB core
//! allocates naturally aligned buffers, and a crossing one is refused.

pub mod context;
pub mod ring;

use super::controller::{BoxFut, Device, HostController, PipeId, RootPort};
use super::desc::{EndpointDescriptor, Setup};
use super::dma::{DmaBuf, DmaHal};
use super::{Direction, EndpointKind, Speed, UsbError};
use crate::mmio::Mmio;
use alloc::boxed::Box;
use alloc::vec::Vec;
use context::SlotInfo;
use embassy_time::{Duration, Instant, Timer};
use ring::{EventRing, ProducerRing, Trb, TrbMem};

// ---- capability registers ----
const CAPLENGTH: usize = 0x00;
const HCSPARAMS1: usize = 0x04;
const HCSPARAMS2: usize = 0x08;
const HCCPARAMS1: usize = 0x10;
const DBOFF: usize = 0x14;
const RTSOFF: usize = 0x18;
// ---- operational registers (after CAPLENGTH) ----
const USBCMD: usize = 0x00;
const USBSTS: usize = 0x04;
const PAGESIZE: usize = 0x08;
const CRCR: usize = 0x18;
const DCBAAP: usize = 0x30;
const CONFIG: usize = 0x38;
const PORTSC: usize = 0x400;
const PORT_STRIDE: usize = 0x10;
// ---- interrupter 0 (runtime base + 0x20) ----
const IR0: usize = 0x20;
const ERSTSZ: usize = 0x08;
const ERSTBA: usize = 0x10;
const ERDP: usize = 0x18;

const CMD_RUN: u32 = 1 << 0;
const CMD_RESET: u32 = 1 << 1;
const STS_HALTED: u32 = 1 << 0;
const STS_NOT_READY: u32 = 1 << 11;
const ERDP_BUSY: u64 = 1 << 3;

const PORT_CCS: u32 = 1 << 0;
const PORT_PED: u32 = 1 << 1;
const PORT_PR: u32 = 1 << 4;
const PORT_PP: u32 = 1 << 9;
const PORT_LWS: u32 = 1 << 16;
const PORT_CSC: u32 = 1 << 17;
const PORT_PRC: u32 = 1 << 21;
/// Every write-1-to-clear change bit (CSC, PEC, WRC, OCC, PRC, PLC, CEC).
const PORT_CHANGES: u32 = 0x7f << 17;

/// TRBs per ring (one 4 KiB page: never crosses a 64 KiB boundary).
const RING_TRBS: usize = 256;
/// Most device slots the driver enables.
const MAX_SLOTS: u8 = 32;
/// How long a command or a control transfer may take.
const TIMEOUT: Duration = Duration::from_millis(1000);

/// A port status word with every bit that a write would act on (PED, PR, LWS
/// and the change bits) cleared: write this back plus the one action wanted.
fn port_neutral(v: u32) -> u32 {
    v & !(PORT_PED | PORT_PR | PORT_LWS | PORT_CHANGES)
}

/// TRB memory in a DMA buffer, with the cache maintenance around each access.
struct DmaTrbs<'a> {
    buf: &'a DmaBuf,
    hal: &'a dyn DmaHal,
}

impl TrbMem for DmaTrbs<'_> {
    fn len(&self) -> usize {
        self.buf.len() / 16
    }

    fn read(&self, i: usize) -> Trb {
        let at = self.buf.addr() + i * 16;
        self.hal.after_dma(at, 16);
        let p = at as *const u32;
        // SAFETY: i < len (callers index within the ring), so the four dwords
        // lie inside the buffer, which is 64-byte aligned; volatile because the
        // controller writes this memory.
        unsafe { core::array::from_fn(|k| core::ptr::read_volatile(p.add(k))) }
    }

    fn write(&mut self, i: usize, trb: Trb) {
        let at = self.buf.addr() + i * 16;
        let p = at as *mut u32;
        // SAFETY: as in `read`; the ring logic writes only its own slots, and the
        // controller does not write producer rings.
        unsafe {
            for (k, &d) in trb.iter().enumerate().take(3) {
                core::ptr::write_volatile(p.add(k), d);
            }
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
            core::ptr::write_volatile(p.add(3), trb[3]);
        }
        self.hal.before_dma(at, 16);
    }
}

/// A producer ring with its memory.
struct Ring {
    mem: DmaBuf,
    ring: ProducerRing,
}

impl Ring {
    fn new(hal: &dyn DmaHal) -> Result<Self, UsbError> {
        let mem = DmaBuf::new_aligned(RING_TRBS * 16, 4096).ok_or(UsbError::NoMemory)?;
        let base = hal.bus_address64(mem.addr()).ok_or(UsbError::Unreachable)?;
        let ring = ProducerRing::new(&mut DmaTrbs { buf: &mem, hal }, base);
        Ok(Ring { mem, ring })
    }

    fn push(&mut self, hal: &dyn DmaHal, trb: Trb) -> u64 {
        self.ring.push(
            &mut DmaTrbs {
                buf: &self.mem,
                hal,
            },
            trb,
        )
    }
}

/// A control transfer in flight on a slot's endpoint 0.
#[derive(Clone, Copy, Default)]
struct Control {
    data_trb: Option<u64>,
    status_trb: u64,
    len: usize,
    got: Option<usize>,
    done: Option<Result<usize, UsbError>>,
}

/// One enabled device slot.
struct Slot {
    out: DmaBuf,
    input: DmaBuf,
    ep0: Ring,
    info: SlotInfo,
    max_packet0: u16,
    control: Control,
}

/// A transfer in flight on a pipe.
#[derive(Clone, Copy)]
struct InFlight {
    trb: u64,
    len: usize,
    addr: usize,
    direction: Direction,
}

/// An opened bulk/interrupt endpoint.
struct Pipe {
    slot: u8,
    dci: u8,
    ep: EndpointDescriptor,
    ring: Ring,
    inflight: Option<InFlight>,
    result: Option<Result<usize, UsbError>>,
    halted: bool,
}

/// One xHCI host controller.
pub struct Xhci {
    regs: Mmio,
    op: usize,
    rt: usize,
    db: usize,
    hal: &'static dyn DmaHal,
    ac64: bool,
    ctx_size: usize,
    slots_enabled: u8,
    ports: u8,
    dcbaa: DmaBuf,
    _scratch: Vec<DmaBuf>,
    cmd: Ring,
    events: DmaBuf,
    event_ring: EventRing,
    _erst: DmaBuf,
    pending_cmd: Option<u64>,
    cmd_result: Option<Trb>,
    slots: Vec<Option<Slot>>,
    pipes: Vec<Option<Pipe>>,
}

impl Xhci {
    /// Resets and starts the controller whose registers (capability registers
    /// first, BAR 0 of a PCI xHCI) are `regs`; `hal` translates CPU addresses to
    /// the bus addresses the controller uses for DMA and keeps caches coherent
    /// (on the Pi 4: the PCIe inbound window; on QEMU virt: 1:1).
    pub async fn new(regs: Mmio, hal: &'static dyn DmaHal) -> Result<Self, UsbError> {
        let cap0 = regs.read32(CAPLENGTH);
        let op = (cap0 & 0xff) as usize;
        let version = cap0 >> 16;
        let params1 = regs.read32(HCSPARAMS1);
        let params2 = regs.read32(HCSPARAMS2);
        let cparams1 = regs.read32(HCCPARAMS1);
        if cap0 == u32::MAX || op < 0x20 {
            defmt::error!("xhci: no controller (capability register {=u32:08x})", cap0);
            return Err(UsbError::NoController);
        }
        let max_slots = (params1 & 0xff) as u8;
        let ports = (params1 >> 24) as u8;
        let scratchpads = (((params2 >> 21) & 0x1f) << 5) | ((params2 >> 27) & 0x1f);
        let ctx_size = if cparams1 & (1 << 2) != 0 { 64 } else { 32 };
        let ac64 = cparams1 & 1 != 0;
        defmt::info!(
            "xhci: version {=u32:x}.{=u32:02x}, {} slots, {} ports, {} scratchpads, {}-byte contexts, {}-bit DMA",
            version >> 8,
            version & 0xff,
            max_slots,
            ports,
            scratchpads,
            ctx_size,
            if ac64 { 64 } else { 32 }
        );
        let rt = (regs.read32(RTSOFF) & !0x1f) as usize;
        let db = (regs.read32(DBOFF) & !0x3) as usize;
        legacy_handoff(regs, cparams1).await;
        log_protocols(regs, cparams1);

        // Stop, then reset (xHCI 1.2 §4.2).
        wait(regs, op + USBSTS, STS_NOT_READY, 0, "controller not ready").await?;
        regs.write32(op + USBCMD, regs.read32(op + USBCMD) & !CMD_RUN);
        wait(regs, op + USBSTS, STS_HALTED, STS_HALTED, "halt").await?;
        regs.write32(op + USBCMD, CMD_RESET);
        Timer::after_millis(1).await;
        wait(regs, op + USBCMD, CMD_RESET, 0, "reset").await?;
        wait(
            regs,
            op + USBSTS,
            STS_NOT_READY,
            0,
            "controller not ready after reset",
        )
        .await?;

        let slots_enabled = max_slots.min(MAX_SLOTS);
        regs.write32(op + CONFIG, u32::from(slots_enabled));
        let page = 4096usize << (regs.read32(op + PAGESIZE) & 0xffff).trailing_zeros();

        let dcbaa = DmaBuf::new_aligned((usize::from(slots_enabled) + 1) * 8, 64)
            .ok_or(UsbError::NoMemory)?;
        let mut scratch = Vec::new();
        if scratchpads > 0 {
            let array =
                DmaBuf::new_aligned(scratchpads as usize * 8, 64).ok_or(UsbError::NoMemory)?;
            for i in 0..scratchpads as usize {
                let p = DmaBuf::new_aligned(page, page).ok_or(UsbError::NoMemory)?;
                let bus = bus64(hal, ac64, p.addr())?;
                write64(&array, i * 8, bus);
                hal.before_dma(p.addr(), p.len());
                scratch.push(p);
            }
            hal.before_dma(array.addr(), array.len());
            write64(&dcbaa, 0, bus64(hal, ac64, array.addr())?);
            scratch.push(array);
        }
        hal.before_dma(dcbaa.addr(), dcbaa.len());
        let r = regs;
        write_reg64(r, op + DCBAAP, bus64(hal, ac64, dcbaa.addr())?);

        let cmd = Ring::new(hal)?;
        write_reg64(r, op + CRCR, cmd.ring.dequeue_pointer());

        let events = DmaBuf::new_aligned(RING_TRBS * 16, 4096).ok_or(UsbError::NoMemory)?;
        hal.before_dma(events.addr(), events.len());
        let ev_base = bus64(hal, ac64, events.addr())?;
        let erst = DmaBuf::new_aligned(64, 64).ok_or(UsbError::NoMemory)?;
        write64(&erst, 0, ev_base);
        write64(&erst, 8, RING_TRBS as u64);
        hal.before_dma(erst.addr(), erst.len());
        r.write32(rt + IR0 + ERSTSZ, 1);
        write_reg64(r, rt + IR0 + ERDP, ev_base);
        write_reg64(r, rt + IR0 + ERSTBA, bus64(hal, ac64, erst.addr())?);

        r.write32(op + USBCMD, CMD_RUN);
        wait(regs, op + USBSTS, STS_HALTED, 0, "run").await?;
        for port in 1..=ports {
            let at = op + PORTSC + PORT_STRIDE * usize::from(port - 1);
            let v = r.read32(at);
            if v & PORT_PP == 0 {
                r.write32(at, port_neutral(v) | PORT_PP);
            }
        }
        Timer::after_millis(20).await;
        defmt::info!(
            "xhci: running, command ring and event ring set up, {} slots enabled",
            slots_enabled
        );

        let mut slots = Vec::new();
        slots.resize_with(usize::from(slots_enabled) + 1, || None);
        Ok(Xhci {
            regs,
            op,
            rt,
            db,
            hal,
            ac64,
            ctx_size,
            slots_enabled,
            ports,
            dcbaa,
            _scratch: scratch,
            cmd,
            events,
            event_ring: EventRing::new(ev_base, RING_TRBS),
            _erst: erst,
            pending_cmd: None,
            cmd_result: None,
            slots,
            pipes: Vec::new(),
        })
    }

    fn bus(&self, addr: usize) -> Result<u64, UsbError> {
        bus64(self.hal, self.ac64, addr)
    }

    fn portsc(&self, port: u8) -> usize {
        self.op + PORTSC + PORT_STRIDE * usize::from(port.max(1) - 1)
    }

    fn ring_doorbell(&self, slot: u8, target: u8) {
        self.regs
            .write32(self.db + 4 * usize::from(slot), u32::from(target));
    }

    /// Dispatches every new event: command completions, transfer events (to
    /// the control transfer or pipe whose TRB they name), port changes (the
    /// core polls PORTSC instead). Then tells the controller how far we read.
    fn drain_events(&mut self) {
        let mut any = false;
        loop {
            let mem = DmaTrbs {
                buf: &self.events,
                hal: self.hal,
            };
            let Some(ev) = self.event_ring.pop(&mem) else {
                break;
            };
            any = true;
            match ring::trb_type(&ev) {
                ring::TRB_COMMAND_COMPLETION => {
                    if Some(ring::pointer(&ev)) == self.pending_cmd {
                        self.cmd_result = Some(ev);
                    }
                }
                ring::TRB_TRANSFER_EVENT => self.transfer_event(&ev),
                ring::TRB_PORT_STATUS_CHANGE => {}
                other => defmt::debug!("xhci: event type {}", other),
            }
        }
        if any {
            let erdp = self.event_ring.dequeue_pointer() | ERDP_BUSY;
            write_reg64(self.regs, self.rt + IR0 + ERDP, erdp);
        }
    }

    fn transfer_event(&mut self, ev: &Trb) {
        let (slot_id, dci, at, cc) = (
            ring::slot_id(ev),
            ring::endpoint_id(ev),
            ring::pointer(ev),
            ring::completion_code(ev),
        );
        let residual = ring::residual(ev) as usize;
        if dci == 1 {
            let Some(Some(slot)) = self.slots.get_mut(usize::from(slot_id)) else {
                return;
            };
            let c = &mut slot.control;
            if c.done.is_some() {
                return;
            }
            if c.data_trb == Some(at) {
                match completion(cc) {
                    Ok(()) => c.got = Some(c.len.saturating_sub(residual)),
                    Err(e) => c.done = Some(Err(e)),
                }
            } else if c.status_trb == at {
                c.done = Some(completion(cc).map(|()| c.got.unwrap_or(c.len)));
            }
            return;
        }
        for p in self.pipes.iter_mut().flatten() {
            if p.slot == slot_id && p.dci == dci && p.inflight.is_some_and(|f| f.trb == at) {
                let Some(f) = p.inflight.take() else { return };
                if f.direction == Direction::In {
                    self.hal.after_dma(f.addr, f.len.max(1));
                }
                let r = completion(cc).map(|()| f.len.saturating_sub(residual));
                if matches!(
                    r,
                    Err(UsbError::Stall | UsbError::Transaction | UsbError::Babble)
                ) {
                    p.halted = true;
                }
                p.result = Some(r);
                return;
            }
        }
    }

    /// Runs one command and waits for its completion event.
    async fn command(&mut self, trb: Trb) -> Result<Trb, UsbError> {
        let at = self.cmd.push(self.hal, trb);
        self.pending_cmd = Some(at);
        self.cmd_result = None;
        self.ring_doorbell(0, 0);
        let end = Instant::now() + TIMEOUT;
        loop {
            self.drain_events();
            if let Some(ev) = self.cmd_result.take() {
                self.pending_cmd = None;
                let cc = ring::completion_code(&ev);
                return if cc == ring::CC_SUCCESS {
                    Ok(ev)
                } else {
                    Err(UsbError::Command(cc))
                };
            }
            if Instant::now() > end {
                self.pending_cmd = None;
                defmt::warn!("xhci: command {} timed out", ring::trb_type(&trb));
                return Err(UsbError::Timeout);
            }
            Timer::after_micros(100).await;
        }
    }

    /// Writes an input context for `slot_id`: control context with `add`
    /// flags, the slot context, and (when `ep0` is set) endpoint 0's context.
    fn write_input(&mut self, slot_id: u8, add: u32, ep0: bool) -> Result<u64, UsbError> {
        let cs = self.ctx_size;
        let hal = self.hal;
        let Some(Some(slot)) = self.slots.get_mut(usize::from(slot_id)) else {
            return Err(UsbError::NoSlot);
        };
        let input = &slot.input;
        write_dwords(input, 0, &[0, add]);
        write_dwords(input, cs, &context::slot_context(&slot.info));
        if ep0 {
            let c = context::endpoint_context(
                EndpointKind::Control,
                Direction::Out,
                slot.max_packet0,
                0,
                slot.ep0.ring.dequeue_pointer(),
            );
            write_dwords(input, 2 * cs, &c);
        }
        hal.before_dma(input.addr(), input.len());
        bus64(hal, self.ac64, input.addr())
    }

    async fn enable_slot(&mut self, dev: &mut Device) -> Result<(), UsbError> {
        let ev = self
            .command(ring::make(ring::TRB_ENABLE_SLOT, 0, 0, 0))
            .await?;
        let id = ring::slot_id(&ev);
        if id == 0 || id > self.slots_enabled {
            return Err(UsbError::NoSlot);
        }
        let cs = self.ctx_size;
        let out = DmaBuf::new_aligned(32 * cs, 64).ok_or(UsbError::NoMemory)?;
        let input = DmaBuf::new_aligned(33 * cs, 64).ok_or(UsbError::NoMemory)?;
        let ep0 = Ring::new(self.hal)?;
        self.hal.before_dma(out.addr(), out.len());
        let info = SlotInfo {
            route: dev.route,
            speed_id: context::speed_id(dev.speed),
            root_port: dev.root_port,
            context_entries: 1,
            hub: None,
            tt: dev.tt.map(|t| (t.hub_slot, t.port)),
        };
        write64(&self.dcbaa, usize::from(id) * 8, self.bus(out.addr())?);
        self.hal.before_dma(self.dcbaa.addr(), self.dcbaa.len());
        self.slots[usize::from(id)] = Some(Slot {
            out,
            input,
            ep0,
            info,
            max_packet0: dev.max_packet0,
            control: Control::default(),
        });
        dev.slot = id;
        // Address Device with BSR=1: endpoint 0 works at the default address.
        let input = self.write_input(id, 0b11, true)?;
        let cmd = ring::make(
            ring::TRB_ADDRESS_DEVICE,
            input,
            0,
            ring::BSR | (u32::from(id) << 24),
        );
        if let Err(e) = self.command(cmd).await {
            self.free_slot(id).await;
            dev.slot = 0;
            return Err(e);
        }
        Ok(())
    }

    async fn address(&mut self, dev: &mut Device) -> Result<(), UsbError> {
        let id = dev.slot;
        if let Some(Some(slot)) = self.slots.get_mut(usize::from(id)) {
            slot.max_packet0 = dev.max_packet0;
        }
        let input = self.write_input(id, 0b11, true)?;
        self.command(ring::make(
            ring::TRB_ADDRESS_DEVICE,
            input,
            0,
            u32::from(id) << 24,
        ))
        .await?;
        let Some(Some(slot)) = self.slots.get(usize::from(id)) else {
            return Err(UsbError::NoSlot);
        };
        self.hal.after_dma(slot.out.addr(), self.ctx_size);
        dev.address = (read_dword(&slot.out, 12) & 0xff) as u8;
        Ok(())
    }

    async fn free_slot(&mut self, id: u8) {
        if self.slots.get(usize::from(id)).is_some_and(|s| s.is_some()) {
            if let Err(e) = self
                .command(ring::make(
                    ring::TRB_DISABLE_SLOT,
                    0,
                    0,
                    u32::from(id) << 24,
                ))
                .await
            {
                defmt::debug!("xhci: disable slot {}: {}", id, e);
            }
            write64(&self.dcbaa, usize::from(id) * 8, 0);
            self.hal.before_dma(self.dcbaa.addr(), self.dcbaa.len());
            self.slots[usize::from(id)] = None;
        }
        for p in self.pipes.iter_mut() {
            if p.as_ref().is_some_and(|p| p.slot == id) {
                *p = None;
            }
        }
    }

    async fn control_transfer(
        &mut self,
        dev: &Device,
        setup: Setup,
        buf: &mut DmaBuf,
    ) -> Result<usize, UsbError> {
        let len = usize::from(setup.length);
        if len > buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        let data = self.bus(buf.addr())?;
        if len > 0 && (data & 0xffff) + len as u64 > 0x1_0000 {
            return Err(UsbError::Unreachable);
        }
        let hal = self.hal;
        let id = dev.slot;
        let Some(Some(slot)) = self.slots.get_mut(usize::from(id)) else {
            return Err(UsbError::NoSlot);
        };
        let input = setup.direction() == Direction::In;
        hal.before_dma(buf.addr(), len.max(1));
        let trt = match (len, input) {
            (0, _) => 0,
            (_, false) => 2,
            (_, true) => 3,
        };
        let bytes = u64::from_le_bytes(setup.to_bytes());
        slot.ep0.push(
            hal,
            ring::make(ring::TRB_SETUP, bytes, 8, ring::IDT | (trt << 16)),
        );
        let data_trb = (len > 0).then(|| {
            let dir = if input { ring::DIR_IN | ring::ISP } else { 0 };
            slot.ep0.push(
                hal,
                ring::make(
                    ring::TRB_DATA,
                    data,
                    ring::transfer_status(len as u32, 0),
                    dir,
                ),
            )
        });
        let status_dir = if len == 0 || !input { ring::DIR_IN } else { 0 };
        let status_trb = slot.ep0.push(
            hal,
            ring::make(ring::TRB_STATUS, 0, 0, status_dir | ring::IOC),
        );
        slot.control = Control {
            data_trb,
            status_trb,
            len,
            got: None,
            done: None,
        };
        self.ring_doorbell(id, 1);

        let end = Instant::now() + TIMEOUT;
        let result = loop {
            self.drain_events();
            let Some(Some(slot)) = self.slots.get_mut(usize::from(id)) else {
                return Err(UsbError::NoSlot);
            };
            if let Some(r) = slot.control.done.take() {
                break r;
            }
            if Instant::now() > end {
                break Err(UsbError::Timeout);
            }
            Timer::after_micros(100).await;
        };
        if input {
            hal.after_dma(buf.addr(), len.max(1));
        }
        if let Err(e) = result {
            // A STALL (or error) halts endpoint 0; a timeout leaves TRBs queued.
            // Either way: stop/reset it and move the dequeue pointer past them.
            self.recover(id, 1, e == UsbError::Timeout).await;
        }
        result
    }

    /// Puts endpoint `dci` of `slot` back into service after an error: Stop
    /// (when it may still be running) or Reset Endpoint, then Set TR Dequeue
    /// Pointer to the ring's enqueue position (abandoning queued TRBs).
    async fn recover(&mut self, slot: u8, dci: u8, running: bool) {
        let ep = (u32::from(slot) << 24) | (u32::from(dci) << 16);
        let kind = if running {
            ring::TRB_STOP_ENDPOINT
        } else {
            ring::TRB_RESET_ENDPOINT
        };
        if let Err(e) = self.command(ring::make(kind, 0, 0, ep)).await {
            defmt::debug!("xhci: slot {} endpoint {}: stop/reset {}", slot, dci, e);
        }
        let deq = if dci == 1 {
            self.slots
                .get(usize::from(slot))
                .and_then(|s| s.as_ref())
                .map(|s| s.ep0.ring.dequeue_pointer())
        } else {
            self.pipes
                .iter()
                .flatten()
                .find(|p| p.slot == slot && p.dci == dci)
                .map(|p| p.ring.ring.dequeue_pointer())
        };
        if let Some(deq) = deq {
            if let Err(e) = self
                .command(ring::make(ring::TRB_SET_TR_DEQUEUE, deq, 0, ep))
                .await
            {
                defmt::debug!("xhci: slot {} endpoint {}: set dequeue {}", slot, dci, e);
            }
        }
    }

    async fn configure(
        &mut self,
        dev: &Device,
        ep: &EndpointDescriptor,
    ) -> Result<PipeId, UsbError> {
        let id = dev.slot;
        let dci = context::dci(ep.number, ep.direction);
        let ring = Ring::new(self.hal)?;
        let interval = context::interval_exponent(dev.speed, ep.kind, ep.interval);
        let c = context::endpoint_context(
            ep.kind,
            ep.direction,
            ep.max_packet,
            interval,
            ring.ring.dequeue_pointer(),
        );
        let cs = self.ctx_size;
        {
            let Some(Some(slot)) = self.slots.get_mut(usize::from(id)) else {
                return Err(UsbError::NoSlot);
            };
            slot.info.context_entries = slot.info.context_entries.max(dci);
            write_dwords(&slot.input, usize::from(dci + 1) * cs, &c);
        }
        let input = self.write_input(id, 1 | (1 << dci), false)?;
        self.command(ring::make(
            ring::TRB_CONFIGURE_ENDPOINT,
            input,
            0,
            u32::from(id) << 24,
        ))
        .await?;
        let pipe = Pipe {
            slot: id,
            dci,
            ep: *ep,
            ring,
            inflight: None,
            result: None,
            halted: false,
        };
        let index = match self.pipes.iter().position(|p| p.is_none()) {
            Some(i) => {
                self.pipes[i] = Some(pipe);
                i
            }
            None => {
                self.pipes.push(Some(pipe));
                self.pipes.len() - 1
            }
        };
        Ok(PipeId(index as u16))
    }

    async fn reset_port(&mut self, port: u8) -> Result<Speed, UsbError> {
        let at = self.portsc(port);
        let r = self.regs;
        let v = r.read32(at);
        if v & PORT_CCS == 0 {
            return Err(UsbError::PortDisabled);
        }
        // USB 3 ports train by themselves and are enabled once connected.
        let already =
            v & PORT_PED != 0 && context::speed_from_id((v >> 10) & 0xf) == Some(Speed::Super);
        if !already {
            r.write32(at, port_neutral(v) | PORT_PR);
            let end = Instant::now() + Duration::from_millis(500);
            while r.read32(at) & PORT_PRC == 0 {
                if Instant::now() > end {
                    defmt::warn!(
                        "xhci: port {} reset did not finish (PORTSC {=u32:08x})",
                        port,
                        r.read32(at)
                    );
                    return Err(UsbError::Timeout);
                }
                Timer::after_millis(1).await;
            }
            let v = r.read32(at);
            r.write32(at, port_neutral(v) | PORT_PRC);
            // USB 2.0 §7.1.7.5: 10 ms reset recovery.
            Timer::after_millis(10).await;
        }
        let v = r.read32(at);
        if v & PORT_PED == 0 {
            defmt::warn!(
                "xhci: port {} not enabled after reset (PORTSC {=u32:08x})",
                port,
                v
            );
            return Err(UsbError::PortDisabled);
        }
        let speed = context::speed_from_id((v >> 10) & 0xf).ok_or(UsbError::PortDisabled)?;
        defmt::info!("xhci: port {} enabled, {}", port, speed);
        Ok(speed)
    }

    async fn stop_pipe(&mut self, pipe: PipeId) {
        let Some(Some(p)) = self.pipes.get(usize::from(pipe.0)) else {
            return;
        };
        let (slot, dci, busy) = (p.slot, p.dci, p.inflight.is_some());
        if busy
            && self
                .slots
                .get(usize::from(slot))
                .is_some_and(|s| s.is_some())
        {
            let ep = (u32::from(slot) << 24) | (u32::from(dci) << 16);
            let _ = self
                .command(ring::make(ring::TRB_STOP_ENDPOINT, 0, 0, ep))
                .await;
        }
        if let Some(p) = self.pipes.get_mut(usize::from(pipe.0)) {
            *p = None;
        }
    }

    async fn housekeeping(&mut self) {
        self.drain_events();
        let halted: Vec<(u8, u8)> = self
            .pipes
            .iter()
            .flatten()
            .filter(|p| p.halted && p.inflight.is_none())
            .map(|p| (p.slot, p.dci))
            .collect();
        for (slot, dci) in halted {
            self.recover(slot, dci, false).await;
            if let Some(p) = self
                .pipes
                .iter_mut()
                .flatten()
                .find(|p| p.slot == slot && p.dci == dci)
            {
                p.halted = false;
            }
        }
    }
}

impl HostController for Xhci {
    fn name(&self) -> &'static str {
        "xhci"
    }

    fn root_ports(&self) -> u8 {
        self.ports
    }

    fn root_port(&mut self, port: u8) -> RootPort {
        let at = self.portsc(port);
        let v = self.regs.read32(at);
        if v & PORT_CHANGES & !PORT_PRC != 0 {
            self.regs
                .write32(at, port_neutral(v) | (v & PORT_CHANGES & !PORT_PRC));
        }
        RootPort {
            connected: v & PORT_CCS != 0,
            changed: v & PORT_CSC != 0,
        }
    }

    fn reset_root_port(&mut self, port: u8) -> BoxFut<'_, Result<Speed, UsbError>> {
        Box::pin(self.reset_port(port))
    }

    fn add_device<'a>(&'a mut self, dev: &'a mut Device) -> BoxFut<'a, Result<(), UsbError>> {
        Box::pin(self.enable_slot(dev))
    }

    fn set_address<'a>(
        &'a mut self,
        dev: &'a mut Device,
        _address: u8,
    ) -> BoxFut<'a, Result<(), UsbError>> {
        Box::pin(self.address(dev))
    }

    fn set_hub<'a>(
        &'a mut self,
        dev: &'a Device,
        ports: u8,
        think_time: u8,
        multi_tt: bool,
    ) -> BoxFut<'a, Result<(), UsbError>> {
        Box::pin(async move {
            let id = dev.slot;
            let Some(Some(slot)) = self.slots.get_mut(usize::from(id)) else {
                return Err(UsbError::NoSlot);
            };
            slot.info.hub = Some((ports, think_time, multi_tt));
            let input = self.write_input(id, 1, false)?;
            self.command(ring::make(
                ring::TRB_CONFIGURE_ENDPOINT,
                input,
                0,
                u32::from(id) << 24,
            ))
            .await
            .map(|_| ())
        })
    }

    fn remove_device<'a>(&'a mut self, dev: &'a Device) -> BoxFut<'a, ()> {
        Box::pin(self.free_slot(dev.slot))
    }

    fn control<'a>(
        &'a mut self,
        dev: &'a Device,
        setup: Setup,
        buf: &'a mut DmaBuf,
    ) -> BoxFut<'a, Result<usize, UsbError>> {
        Box::pin(self.control_transfer(dev, setup, buf))
    }

    fn open_pipe<'a>(
        &'a mut self,
        dev: &'a Device,
        ep: &'a EndpointDescriptor,
    ) -> BoxFut<'a, Result<PipeId, UsbError>> {
        Box::pin(self.configure(dev, ep))
    }

    fn close_pipe(&mut self, pipe: PipeId) -> BoxFut<'_, ()> {
        Box::pin(self.stop_pipe(pipe))
    }

    fn start(&mut self, pipe: PipeId, buf: &DmaBuf, len: usize) -> Result<(), UsbError> {
        let hal = self.hal;
        let data = self.bus(buf.addr())?;
        let Some(Some(p)) = self.pipes.get_mut(usize::from(pipe.0)) else {
            return Err(UsbError::ChannelBusy);
        };
        if p.inflight.is_some() {
            return Err(UsbError::ChannelBusy);
        }
        if p.halted {
            return Err(UsbError::Stall);
        }
        if len > buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        if (data & 0xffff) + len as u64 > 0x1_0000 {
            return Err(UsbError::Unreachable);
        }
        hal.before_dma(buf.addr(), len.max(1));
        let flags = ring::IOC
            | if p.ep.direction == Direction::In {
                ring::ISP
            } else {
                0
            };
        let trb = p.ring.push(
            hal,
            ring::make(
                ring::TRB_NORMAL,
                data,
                ring::transfer_status(len as u32, 0),
                flags,
            ),
        );
        p.inflight = Some(InFlight {
            trb,
            len,
            addr: buf.addr(),
            direction: p.ep.direction,
        });
        p.result = None;
        let (slot, dci) = (p.slot, p.dci);
        self.ring_doorbell(slot, dci);
        Ok(())
    }

    fn poll(&mut self, pipe: PipeId) -> Option<Result<usize, UsbError>> {
        self.drain_events();
        self.pipes
            .get_mut(usize::from(pipe.0))?
            .as_mut()?
            .result
            .take()
    }

    fn busy(&self, pipe: PipeId) -> bool {
        self.pipes
            .get(usize::from(pipe.0))
            .and_then(|p| p.as_ref())
            .is_some_and(|p| p.inflight.is_some() || p.result.is_some())
    }

    fn paces_periodic(&self) -> bool {
        true
    }

    fn service(&mut self) -> BoxFut<'_, ()> {
        Box::pin(self.housekeeping())
    }
}

/// Maps a completion code to the stack's result.
fn completion(cc: u8) -> Result<(), UsbError> {
    match cc {
        ring::CC_SUCCESS | ring::CC_SHORT_PACKET => Ok(()),
        ring::CC_STALL => Err(UsbError::Stall),
        ring::CC_BABBLE => Err(UsbError::Babble),
        ring::CC_TRANSACTION => Err(UsbError::Transaction),
        ring::CC_DATA_BUFFER => Err(UsbError::Dma),
        ring::CC_STOPPED | ring::CC_STOPPED_LENGTH_INVALID => Err(UsbError::Cancelled),
        other => Err(UsbError::Command(other)),
    }
}

fn bus64(hal: &dyn DmaHal, ac64: bool, addr: usize) -> Result<u64, UsbError> {
    let b = hal.bus_address64(addr).ok_or(UsbError::Unreachable)?;
    if !ac64 && b > u64::from(u32::MAX) {
        return Err(UsbError::Unreachable);
    }
    Ok(b)
}

/// 64-bit register write as two 32-bit writes, low half first (xHCI 1.2 §5.1).
fn write_reg64(r: Mmio, off: usize, v: u64) {
    r.write32(off, v as u32);
    r.write32(off + 4, (v >> 32) as u32);
}

fn write_dwords(buf: &DmaBuf, off: usize, d: &[u32]) {
    for (k, &v) in d.iter().enumerate() {
        let at = off + 4 * k;
        if at + 4 <= buf.len() {
            // SAFETY: in bounds of the buffer (checked above), 4-byte aligned
            // (buffers are 64-byte aligned, offsets multiples of 4); the
            // controller reads it only after the caller's cache clean and command.
            unsafe { core::ptr::write_volatile((buf.addr() + at) as *mut u32, v) };
        }
    }
}

fn write64(buf: &DmaBuf, off: usize, v: u64) {
    write_dwords(buf, off, &[v as u32, (v >> 32) as u32]);
}

fn read_dword(buf: &DmaBuf, off: usize) -> u32 {
    if off + 4 > buf.len() {
        return 0;
    }
    // SAFETY: in bounds and aligned as in `write_dwords`; volatile because
    // the controller writes output contexts.
    unsafe { core::ptr::read_volatile((buf.addr() + off) as *const u32) }
}

async fn wait(
    r: Mmio,
    off: usize,
    mask: u32,
    want: u32,
    what: &'static str,
) -> Result<(), UsbError> {
    let end = Instant::now() + TIMEOUT;
    while r.read32(off) & mask != want {
        if Instant::now() > end {
            defmt::error!(
                "xhci: timeout waiting for {} (register {=usize:x} = {=u32:08x})",
                what,
                off,
                r.read32(off)
            );
            return Err(UsbError::Timeout);
        }
        Timer::after_micros(100).await;
    }
    Ok(())
}

/// Walks the extended capabilities (xHCI 1.2 §7): a pointer in HCCPARAMS1
/// bits 31:16 in dwords, each capability's next pointer in bits 15:8.
fn capabilities(r: Mmio, cparams1: u32) -> impl Iterator<Item = (usize, u8)> {
    let mut at = ((cparams1 >> 16) as usize) * 4;
    let mut left = 64;
    core::iter::from_fn(move || {
        if at == 0 || left == 0 || at + 16 > 0x1_0000 {
            return None;
        }
        left -= 1;
        let v = r.read32(at);
        let here = at;
        let next = ((v >> 8) & 0xff) as usize * 4;
        at = if next == 0 { 0 } else { at + next };
        Some((here, (v & 0xff) as u8))
    })
}

/// USB Legacy Support (capability 1): take the controller from firmware that
/// still owns it (PC BIOSes; harmless elsewhere).
async fn legacy_handoff(r: Mmio, cparams1: u32) {
    const BIOS_OWNED: u32 = 1 << 16;
    const OS_OWNED: u32 = 1 << 24;
    let Some((at, _)) = capabilities(r, cparams1).find(|&(_, id)| id == 1) else {
        return;
    };
    r.write32(at, r.read32(at) | OS_OWNED);
    let end = Instant::now() + TIMEOUT;
    while r.read32(at) & BIOS_OWNED != 0 && Instant::now() < end {
        Timer::after_millis(1).await;
    }
    defmt::info!(
        "xhci: legacy support capability, firmware ownership {}",
        if r.read32(at) & BIOS_OWNED != 0 {
            "kept"
        } else {
            "released"
        }
    );
}

/// Logs the Supported Protocol capabilities (capability 2): which root ports
/// are USB 2 and which USB 3.
fn log_protocols(r: Mmio, cparams1: u32) {
    for (at, id) in capabilities(r, cparams1) {
        if id == 2 {
            let major = r.read32(at) >> 24;
            let ports = r.read32(at + 8);
            let first = ports & 0xff;
            let count = (ports >> 8) & 0xff;
            defmt::info!(
                "xhci: USB {} ports {}-{}",
                major,
                first,
                first + count.saturating_sub(1)
            );
        }
    }
}
