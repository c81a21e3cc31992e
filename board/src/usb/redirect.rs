//! The redirection class-driver slot: claims a device none of the firmware's
//! own drivers wants (never a hub, HID, CDC or wireless device: the
//! keyboard, mouse and network stay local) and runs the transfers the VM asks
//! for on it through the [`HostController`].
//!
//! Owns: the [`CLASS`] entry (last in [`super::classes::CLASSES`]), the
//! mailbox between the USB task and the firmware's usbredir glue
//! ([`take_event`], [`submit`], [`take_completion`], [`WAKE`]), and the
//! translation of the active configuration into usbredir's interface and
//! endpoint tables. A device is claimed only when the firmware's policy
//! ([`set_policy`]: its `usb-filter`) allows it; one device is redirected at a
//! time, a second allowed one is left alone (logged).
//! Must not: speak the usbredir wire format (`barespice-usbredir` does) or
//! know the filter rules (the firmware's policy does).
//!
//! Transfers run in the USB task's per-driver service hook, one request at a
//! time: bulk data in chunks of [`CHUNK`] bytes (a DWC2 channel counts at most
//! 1023 packets; an xHCI TRB must not cross 64 KiB), each chunk awaited with a
//! [`TRANSFER_TIMEOUT`]. A port reset from the VM is done as a re-issued
//! SET_CONFIGURATION with every pipe reopened (data toggles back to DATA0),
//! not a bus reset: the device keeps its address.

use super::bus::{Bus, ClassDriver, ClassEntry, Context, Pipe};
use super::controller::{BoxFut, Device, HostController, PipeId};
use super::desc::{self, DeviceDescriptor, EndpointDescriptor, Setup};
use super::dma::DmaBuf;
use super::{Direction, EndpointKind, Speed, UsbError};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use barespice_usbredir::filter::Interface as FilterInterface;
use barespice_usbredir::packet::{DeviceInfo, EpInfo, InterfaceInfo};
use barespice_usbredir::proto::*;
use barespice_usbredir::{Attached, Completion, ControlSetup, Request};
use core::cell::RefCell;
use critical_section::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Instant};

/// Bulk transfers are split into chunks of at most this many bytes.
pub const CHUNK: usize = 32 * 1024;
/// How long one chunk or control transfer may take before it fails.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(5);
/// Completions held for the firmware before new requests wait.
const MAX_COMPLETIONS: usize = 128;

/// A device offered for redirection.
#[derive(Clone, Debug)]
pub struct Offer {
    /// What the VM is told (device_connect, interface and endpoint tables).
    pub attached: Attached,
    /// Interface classes, for the `usb-filter` check.
    pub interfaces: Vec<FilterInterface>,
    /// USB address (for logs).
    pub address: u8,
}

/// A change of the redirectable device.
#[derive(Clone, Debug)]
pub enum DeviceEvent {
    /// A device was claimed.
    Attached(Box<Offer>),
    /// It went away.
    Detached,
}

#[derive(Default)]
struct Mailbox {
    events: VecDeque<DeviceEvent>,
    requests: VecDeque<Request>,
    completions: VecDeque<Completion>,
    claimed: bool,
}

static MAILBOX: Mutex<RefCell<Option<Mailbox>>> = Mutex::new(RefCell::new(None));

/// Decides whether an offer may go to the VM.
pub type Policy = Box<dyn Fn(&Offer) -> bool + Send>;

static POLICY: Mutex<RefCell<Option<Policy>>> = Mutex::new(RefCell::new(None));

/// Installs the sharing decision (before the USB task runs); without one
/// nothing is redirected.
pub fn set_policy(p: Policy) {
    critical_section::with(|cs| POLICY.borrow(cs).replace(Some(p)));
}

fn allowed(o: &Offer) -> bool {
    critical_section::with(|cs| POLICY.borrow(cs).borrow().as_ref().is_some_and(|p| p(o)))
}

/// Signalled whenever an event or completion is waiting for the firmware.
pub static WAKE: Signal<CriticalSectionRawMutex, ()> = Signal::new();

fn with<R>(f: impl FnOnce(&mut Mailbox) -> R) -> R {
    critical_section::with(|cs| {
        let mut m = MAILBOX.borrow(cs).borrow_mut();
        f(m.get_or_insert_with(Mailbox::default))
    })
}

/// The next device change, for the firmware.
pub fn take_event() -> Option<DeviceEvent> {
    with(|m| m.events.pop_front())
}

/// Hands a request from the VM to the USB task.
pub fn submit(r: Request) {
    with(|m| m.requests.push_back(r));
}

/// The next finished request, for the firmware.
pub fn take_completion() -> Option<Completion> {
    with(|m| m.completions.pop_front())
}

/// Forgets queued requests and completions (the usbredir channel closed).
pub fn flush() {
    with(|m| {
        m.requests.clear();
        m.completions.clear();
    });
}

fn complete(c: Completion) {
    with(|m| m.completions.push_back(c));
    WAKE.signal(());
}

/// Interface classes the firmware keeps for itself: hubs, HID (keyboard,
/// mouse), CDC communications/data (Ethernet) and wireless controllers.
const LOCAL_CLASSES: [u8; 5] = [0x09, 0x03, 0x02, 0x0a, 0xe0];

fn redirectable(d: &DeviceDescriptor, config: &[u8]) -> bool {
    !LOCAL_CLASSES.contains(&d.class)
        && desc::interfaces(config).next().is_some()
        && desc::interfaces(config).all(|i| !LOCAL_CLASSES.contains(&i.desc.class))
}

/// The class-table entry (tried last).
pub static CLASS: ClassEntry = ClassEntry {
    name: "usbredir",
    matches: redirectable,
    probe,
};

fn speed(s: Speed) -> u8 {
    match s {
        Speed::Low => USB_REDIR_SPEED_LOW,
        Speed::Full => USB_REDIR_SPEED_FULL,
        Speed::High => USB_REDIR_SPEED_HIGH,
        Speed::Super => USB_REDIR_SPEED_SUPER,
    }
}

fn ep_address(e: &EndpointDescriptor) -> u8 {
    e.number
        | if e.direction == Direction::In {
            0x80
        } else {
            0
        }
}

/// usbredir's interface and endpoint tables for `config` with the
/// alternate settings in `alts` (interface number → alternate).
pub fn layout(config: &[u8], alts: &[u8; MAX_SLOTS]) -> (InterfaceInfo, EpInfo) {
    let mut ii = InterfaceInfo::default();
    let mut eps = EpInfo::default();
    for i in desc::interfaces(config) {
        let n = usize::from(i.desc.number);
        let want = alts.get(n).copied().unwrap_or(0);
        if i.desc.alternate != want {
            continue;
        }
        let k = ii.count as usize;
        if k < MAX_SLOTS {
            ii.interface[k] = i.desc.number;
            ii.class[k] = i.desc.class;
            ii.subclass[k] = i.desc.subclass;
            ii.protocol[k] = i.desc.protocol;
            ii.count += 1;
        }
        for e in i.endpoints() {
            let x = ep_index(ep_address(&e));
            eps.ty[x] = match e.kind {
                EndpointKind::Control => USB_REDIR_TYPE_CONTROL,
                EndpointKind::Isochronous => USB_REDIR_TYPE_ISO,
                EndpointKind::Bulk => USB_REDIR_TYPE_BULK,
                EndpointKind::Interrupt => USB_REDIR_TYPE_INTERRUPT,
            };
            eps.interval[x] = e.interval;
            eps.interface[x] = i.desc.number;
            eps.max_packet_size[x] = e.max_packet;
        }
    }
    (ii, eps)
}

fn config_value(config: &[u8]) -> u8 {
    desc::ConfigHeader::parse(config).map_or(1, |h| h.value)
}

fn probe<'a>(
    bus: &'a mut Bus,
    dev: &'a Device,
    config: &'a [u8],
) -> BoxFut<'a, Result<super::bus::Bound, UsbError>> {
    Box::pin(async move {
        let d = dev.descriptor;
        let (interfaces, eps) = layout(config, &[0; MAX_SLOTS]);
        let offer = Offer {
            attached: Attached {
                info: DeviceInfo {
                    speed: speed(dev.speed),
                    class: d.class,
                    subclass: d.subclass,
                    protocol: d.protocol,
                    vendor_id: d.vendor,
                    product_id: d.product,
                    device_version_bcd: d.device_version,
                },
                interfaces,
                eps,
                configuration: config_value(config),
            },
            interfaces: (0..interfaces.count as usize)
                .map(|k| FilterInterface {
                    class: interfaces.class[k],
                    subclass: interfaces.subclass[k],
                    protocol: interfaces.protocol[k],
                })
                .collect(),
            address: dev.address,
        };
        if !allowed(&offer) {
            defmt::info!(
                "usbredir: device {} {:04x}:{:04x} not shared (usb-filter / enable-usb-autoshare)",
                dev.address,
                d.vendor,
                d.product
            );
            return Ok(Vec::new());
        }
        if with(|m| core::mem::replace(&mut m.claimed, true)) {
            defmt::info!(
                "usbredir: device {} not claimed: another device is redirected",
                dev.address
            );
            return Ok(Vec::new());
        }
        let mut driver = Redirect {
            dev: *dev,
            config: config.to_vec(),
            alts: [0; MAX_SLOTS],
            pipes: Vec::new(),
            int_in: 0,
        };
        if let Err(e) = driver.open_pipes(bus).await {
            with(|m| m.claimed = false);
            return Err(e);
        }
        defmt::info!(
            "usbredir: claimed device {} {:04x}:{:04x} ({} interfaces) for redirection",
            dev.address,
            d.vendor,
            d.product,
            interfaces.count
        );
        with(|m| m.events.push_back(DeviceEvent::Attached(Box::new(offer))));
        WAKE.signal(());
        let bound: Box<dyn ClassDriver> = Box::new(driver);
        Ok(alloc::vec![bound])
    })
}

/// The bound redirection driver.
struct Redirect {
    dev: Device,
    config: Vec<u8>,
    alts: [u8; MAX_SLOTS],
    /// (endpoint address, pipe) of the active alternate settings.
    pipes: Vec<(u8, Pipe)>,
    /// Bit [`ep_index`]: interrupt IN endpoints the VM polls.
    int_in: u32,
}

fn status(e: UsbError) -> u8 {
    match e {
        UsbError::Stall => USB_REDIR_STALL,
        UsbError::Timeout => USB_REDIR_TIMEOUT,
        UsbError::Babble => USB_REDIR_BABBLE,
        UsbError::Cancelled => USB_REDIR_CANCELLED,
        _ => USB_REDIR_IOERROR,
    }
}

impl Redirect {
    async fn close_pipes(&mut self, bus: &mut Bus) {
        for (_, p) in self.pipes.drain(..) {
            bus.hc.close_pipe(p.id).await;
        }
    }

    async fn open_pipes(&mut self, bus: &mut Bus) -> Result<(), UsbError> {
        self.close_pipes(bus).await;
        let mut eps = Vec::new();
        for i in desc::interfaces(&self.config) {
            let want = self
                .alts
                .get(usize::from(i.desc.number))
                .copied()
                .unwrap_or(0);
            if i.desc.alternate == want {
                eps.extend(
                    i.endpoints()
                        .filter(|e| matches!(e.kind, EndpointKind::Bulk | EndpointKind::Interrupt)),
                );
            }
        }
        for e in eps {
            let len = if e.kind == EndpointKind::Bulk {
                CHUNK
            } else {
                usize::from(e.max_packet)
            };
            let mut p = Pipe::open(bus, &self.dev, &e, len).await?;
            if e.kind == EndpointKind::Bulk {
                // Aligned to its size so no chunk crosses a 64 KiB boundary
                // (an xHCI TRB must not; Pipe::open aligns to a page at most).
                p.buf = DmaBuf::new_aligned(CHUNK, CHUNK).ok_or(UsbError::NoMemory)?;
            }
            self.pipes.push((ep_address(&e), p));
        }
        Ok(())
    }

    async fn control(&mut self, bus: &mut Bus, setup: ControlSetup, data: &[u8]) -> Completion {
        let s = Setup {
            request_type: setup.requesttype,
            request: setup.request,
            value: setup.value,
            index: setup.index,
            length: setup.length,
        };
        let is_in = setup.requesttype & 0x80 != 0;
        let fail = |st| Completion::Control {
            id: 0,
            setup,
            status: st,
            length: 0,
            data: Vec::new(),
        };
        let Some(mut buf) = DmaBuf::new_aligned(usize::from(setup.length).max(8), 64) else {
            return fail(USB_REDIR_IOERROR);
        };
        if !is_in {
            let n = data.len().min(buf.len());
            buf.as_mut_slice()[..n].copy_from_slice(&data[..n]);
        }
        let r =
            embassy_time::with_timeout(TRANSFER_TIMEOUT, bus.hc.control(&self.dev, s, &mut buf))
                .await
                .unwrap_or(Err(UsbError::Timeout));
        match r {
            Ok(n) => {
                let n = n.min(usize::from(setup.length)).min(buf.len());
                // CLEAR_FEATURE(ENDPOINT_HALT) resets the endpoint's toggle in
                // the device: reset ours too by reopening the pipe.
                if setup.requesttype == 0x02
                    && setup.request == desc::REQ_CLEAR_FEATURE
                    && setup.value == 0
                {
                    let _ = self.reopen(bus, setup.index as u8).await;
                }
                Completion::Control {
                    id: 0,
                    setup,
                    status: USB_REDIR_SUCCESS,
                    length: n as u16,
                    data: if is_in {
                        buf.as_slice()[..n].to_vec()
                    } else {
                        Vec::new()
                    },
                }
            }
            Err(e) => fail(status(e)),
        }
    }

    async fn reopen(&mut self, bus: &mut Bus, ep: u8) -> Result<(), UsbError> {
        let Some(pos) = self.pipes.iter().position(|(a, _)| *a == ep) else {
            return Ok(());
        };
        let (_, old) = self.pipes.remove(pos);
        bus.hc.close_pipe(old.id).await;
        let mut p = Pipe::open(bus, &self.dev, &old.ep, 0).await?;
        p.buf = old.buf; // keeps its size and alignment
        self.pipes.push((ep, p));
        Ok(())
    }

    /// One chunk on `pipe`, awaited (NAKs retried) up to the timeout.
    async fn chunk(
        hc: &mut dyn HostController,
        pipe: &mut Pipe,
        len: usize,
    ) -> Result<usize, UsbError> {
        let deadline = Instant::now() + TRANSFER_TIMEOUT;
        hc.start(pipe.id, &pipe.buf, len)?;
        loop {
            hc.service().await;
            match hc.poll(pipe.id) {
                None => {}
                Some(Err(UsbError::Nak)) => hc.start(pipe.id, &pipe.buf, len)?,
                Some(r) => return r,
            }
            if Instant::now() >= deadline {
                hc.close_pipe(pipe.id).await;
                return Err(UsbError::Timeout);
            }
            embassy_futures::yield_now().await;
        }
    }

    async fn bulk(
        &mut self,
        bus: &mut Bus,
        ep: u8,
        length: u32,
        data: &[u8],
    ) -> (u8, u32, Vec<u8>) {
        let hc = &mut *bus.hc;
        let Some(pipe) = self
            .pipes
            .iter_mut()
            .find(|(a, _)| *a == ep)
            .map(|(_, p)| p)
        else {
            return (USB_REDIR_INVAL, 0, Vec::new());
        };
        let mps = usize::from(pipe.ep.max_packet).max(1);
        let chunk = (pipe.buf.len() / mps * mps).max(mps);
        if ep & 0x80 != 0 {
            let want = length as usize;
            let mut got = Vec::new();
            while got.len() < want {
                let ask = (want - got.len()).min(chunk);
                let len = ask.div_ceil(mps) * mps;
                match Self::chunk(hc, pipe, len.min(pipe.buf.len())).await {
                    Ok(n) => {
                        let n = n.min(ask);
                        got.extend_from_slice(&pipe.buf.as_slice()[..n]);
                        if n < ask {
                            break; // short packet: the transfer ends here
                        }
                    }
                    Err(e) => return (status(e), got.len() as u32, got),
                }
            }
            (USB_REDIR_SUCCESS, got.len() as u32, got)
        } else {
            let mut sent = 0usize;
            for part in data.chunks(chunk) {
                pipe.buf.as_mut_slice()[..part.len()].copy_from_slice(part);
                match Self::chunk(hc, pipe, part.len()).await {
                    Ok(n) => sent += n.min(part.len()),
                    Err(e) => return (status(e), sent as u32, Vec::new()),
                }
            }
            if data.is_empty() {
                // Zero-length packet.
                if let Err(e) = Self::chunk(hc, pipe, 0).await {
                    return (status(e), 0, Vec::new());
                }
            }
            (USB_REDIR_SUCCESS, sent as u32, Vec::new())
        }
    }

    async fn set_configuration(&mut self, bus: &mut Bus, value: u8) -> Result<(), UsbError> {
        let setup = Setup::no_data(0, desc::REQ_SET_CONFIGURATION, value.into(), 0);
        bus.control_out(&self.dev, setup, &[]).await?;
        if value != config_value(&self.config) {
            for index in 0..self.dev.descriptor.configurations.clamp(1, 8) {
                let c = bus.read_config(&self.dev, index).await?;
                if config_value(&c) == value {
                    self.config = c;
                    break;
                }
            }
        }
        self.alts = [0; MAX_SLOTS];
        self.int_in = 0;
        self.open_pipes(bus).await
    }

    async fn execute(&mut self, bus: &mut Bus, r: Request) {
        match r {
            Request::Control { id, setup, data } => {
                let mut c = self.control(bus, setup, &data).await;
                if let Completion::Control { id: cid, .. } = &mut c {
                    *cid = id;
                }
                complete(c);
            }
            Request::Bulk {
                id,
                endpoint,
                length,
                data,
            } => {
                let (st, length, data) = self.bulk(bus, endpoint, length, &data).await;
                complete(Completion::Bulk {
                    id,
                    endpoint,
                    status: st,
                    length,
                    data,
                });
            }
            Request::InterruptOut { id, endpoint, data } => {
                let (st, length, _) = self.bulk(bus, endpoint, data.len() as u32, &data).await;
                complete(Completion::InterruptOut {
                    id,
                    endpoint,
                    status: st,
                    length: length as u16,
                });
            }
            Request::StartInterruptIn { endpoint } => self.int_in |= 1 << ep_index(endpoint),
            Request::StopInterruptIn { endpoint } => self.int_in &= !(1 << ep_index(endpoint)),
            Request::SetConfiguration { id, configuration } => {
                let st = match self.set_configuration(bus, configuration).await {
                    Ok(()) => USB_REDIR_SUCCESS,
                    Err(e) => status(e),
                };
                let (interfaces, eps) = layout(&self.config, &self.alts);
                complete(Completion::Configuration {
                    id,
                    status: st,
                    configuration: config_value(&self.config),
                    interfaces,
                    eps,
                });
            }
            Request::SetAltSetting { id, interface, alt } => {
                let setup = Setup::no_data(
                    desc::RT_INTERFACE,
                    desc::REQ_SET_INTERFACE,
                    alt.into(),
                    interface.into(),
                );
                let mut st = match bus.control_out(&self.dev, setup, &[]).await {
                    Ok(()) => USB_REDIR_SUCCESS,
                    Err(e) => status(e),
                };
                if st == USB_REDIR_SUCCESS {
                    if let Some(a) = self.alts.get_mut(usize::from(interface)) {
                        *a = alt;
                    }
                    if let Err(e) = self.open_pipes(bus).await {
                        st = status(e);
                    }
                }
                let (_, eps) = layout(&self.config, &self.alts);
                complete(Completion::AltSetting {
                    id,
                    status: st,
                    interface,
                    alt,
                    eps,
                });
            }
            Request::Reset => {
                let value = config_value(&self.config);
                defmt::info!(
                    "usbredir: reset of device {} (configuration {} again)",
                    self.dev.address,
                    value
                );
                if let Err(e) = self.set_configuration(bus, value).await {
                    defmt::warn!(
                        "usbredir: reset of device {} failed: {}",
                        self.dev.address,
                        e
                    );
                }
            }
        }
    }
}

impl Drop for Redirect {
    fn drop(&mut self) {
        defmt::info!("usbredir: device {} gone", self.dev.address);
        with(|m| {
            m.claimed = false;
            m.requests.clear();
            m.events.push_back(DeviceEvent::Detached);
        });
        WAKE.signal(());
    }
}

impl ClassDriver for Redirect {
    fn name(&self) -> &'static str {
        "usbredir"
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>) {
        if self.int_in == 0 {
            return;
        }
        let mask = self.int_in;
        for (ep, pipe) in self.pipes.iter_mut() {
            if *ep & 0x80 == 0 || mask & (1 << ep_index(*ep)) == 0 {
                continue;
            }
            let len = usize::from(pipe.ep.max_packet);
            match pipe.poll_in(hc, now, len) {
                Some(Ok(n)) => {
                    cx.active = true;
                    complete(Completion::InterruptIn {
                        endpoint: *ep,
                        status: USB_REDIR_SUCCESS,
                        data: pipe.buf.as_slice()[..n.min(len)].to_vec(),
                    });
                }
                Some(Err(UsbError::Nak)) | None => {}
                Some(Err(e)) => complete(Completion::InterruptIn {
                    endpoint: *ep,
                    status: status(e),
                    data: Vec::new(),
                }),
            }
        }
    }

    fn pipes(&self) -> Vec<PipeId> {
        self.pipes.iter().map(|(_, p)| p.id).collect()
    }

    fn service<'a>(&'a mut self, bus: &'a mut Bus) -> Option<BoxFut<'a, bool>> {
        let backlog = with(|m| m.completions.len() >= MAX_COMPLETIONS || m.requests.is_empty());
        if backlog {
            return None;
        }
        Some(Box::pin(async move {
            let mut did = false;
            while let Some(r) = with(|m| {
                if m.completions.len() >= MAX_COMPLETIONS {
                    None
                } else {
                    m.requests.pop_front()
                }
            }) {
                self.execute(bus, r).await;
                did = true;
            }
            did
        }))
    }
}
