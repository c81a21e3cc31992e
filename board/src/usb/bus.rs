//! What class drivers build on: the [`Bus`] (a host controller plus the shared
//! control buffer, address pool and the Ethernet channel), control transfers
//! and enumeration, [`Pipe`] (one opened endpoint with its DMA buffer and
//! polling interval), and the [`ClassDriver`] / [`HubPorts`] traits.
//!
//! Owns: control-transfer retries, device enumeration (descriptor, address,
//! configuration choice) and the enumeration log line. Must not: know any
//! register (that is the [`HostController`]'s), interpret class-specific data
//! (the class modules do), know which class drivers exist (that is
//! [`super::classes`]), or trust any byte a device sends.

use super::controller::{BoxFut, Device, HostController, PipeId};
use super::desc::{self, ConfigHeader, DeviceDescriptor, EndpointDescriptor, Setup};
use super::dma::DmaBuf;
use super::net_channel::NetRunner;
use super::{EndpointKind, Speed, UsbError, UsbInput};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_time::{Duration, Instant, Timer};

/// Size of the shared control data buffer: enough for any configuration we use.
const CONTROL_DATA: usize = 1024;

/// The host controller plus what every control transfer shares.
pub struct Bus {
    /// The controller (class drivers start/poll their pipes on it).
    pub hc: Box<dyn HostController>,
    data: DmaBuf,
    addresses: u128,
    /// The Ethernet channel, until an Ethernet class driver takes it (and
    /// after it gives it back on unplug).
    pub net: Option<NetRunner>,
}

impl Bus {
    /// Wraps an initialised controller.
    pub fn new(hc: Box<dyn HostController>, net: Option<NetRunner>) -> Result<Self, UsbError> {
        let data = DmaBuf::new_aligned(CONTROL_DATA, CONTROL_DATA).ok_or(UsbError::NoMemory)?;
        Ok(Self {
            hc,
            data,
            addresses: 1,
            net,
        })
    }

    /// Takes the lowest free device address.
    fn alloc_address(&mut self) -> Result<u8, UsbError> {
        let a = (!self.addresses).trailing_zeros();
        if a > 127 {
            return Err(UsbError::NoAddress);
        }
        self.addresses |= 1 << a;
        Ok(a as u8)
    }

    /// Returns an address to the pool.
    pub fn free_address(&mut self, a: u8) {
        if a != 0 && a <= 127 {
            self.addresses &= !(1u128 << a);
        }
    }

    /// A control transfer with an IN data stage; returns the bytes received.
    pub async fn control_in(
        &mut self,
        dev: &Device,
        setup: Setup,
        out: &mut [u8],
    ) -> Result<usize, UsbError> {
        let mut last = UsbError::Timeout;
        for _ in 0..3 {
            match self.hc.control(dev, setup, &mut self.data).await {
                Ok(n) => {
                    let n = n.min(out.len()).min(self.data.len());
                    out[..n].copy_from_slice(&self.data.as_slice()[..n]);
                    return Ok(n);
                }
                Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => {
                    last = e
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// A control transfer with an OUT data stage (or none when `data` is empty).
    pub async fn control_out(
        &mut self,
        dev: &Device,
        setup: Setup,
        data: &[u8],
    ) -> Result<(), UsbError> {
        let n = data.len().min(usize::from(setup.length));
        if n > self.data.len() {
            return Err(UsbError::BufferTooSmall);
        }
        let mut last = UsbError::Timeout;
        for _ in 0..3 {
            self.data.as_mut_slice()[..n].copy_from_slice(&data[..n]);
            match self.hc.control(dev, setup, &mut self.data).await {
                Ok(_) => return Ok(()),
                Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => {
                    last = e
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Reads a whole configuration descriptor (header first, then wTotalLength).
    pub async fn read_config(&mut self, dev: &Device, index: u8) -> Result<Vec<u8>, UsbError> {
        let mut head = [0u8; 9];
        let n = self
            .control_in(
                dev,
                Setup::get_descriptor(desc::DT_CONFIGURATION, index, 9),
                &mut head,
            )
            .await?;
        let h = ConfigHeader::parse(&head[..n]).ok_or(UsbError::BadDescriptor)?;
        let total = usize::from(h.total_length).clamp(9, CONTROL_DATA);
        let mut all = alloc::vec![0u8; total];
        let n = self
            .control_in(
                dev,
                Setup::get_descriptor(desc::DT_CONFIGURATION, index, total as u16),
                &mut all,
            )
            .await?;
        all.truncate(n);
        Ok(all)
    }

    /// Reads string descriptor `index` (first language) as ASCII into `out`.
    pub async fn read_string(
        &mut self,
        dev: &Device,
        index: u8,
        out: &mut [u8],
    ) -> Result<usize, UsbError> {
        if index == 0 {
            return Ok(0);
        }
        let mut langs = [0u8; 4];
        let n = self
            .control_in(
                dev,
                Setup::get_descriptor(desc::DT_STRING, 0, 4),
                &mut langs,
            )
            .await?;
        let lang = if n >= 4 {
            u16::from_le_bytes([langs[2], langs[3]])
        } else {
            0x0409
        };
        let mut raw = [0u8; 255];
        let n = self
            .control_in(
                dev,
                Setup::get_descriptor_lang(desc::DT_STRING, index, lang, 255),
                &mut raw,
            )
            .await?;
        Ok(desc::string_to_ascii(&raw[..n], out))
    }

    /// Enumerates `dev`, just reset on its port: reads its descriptor, gives
    /// it an address, picks and sets a configuration (the first one a class
    /// driver accepts according to `known`). Returns the chosen configuration's
    /// descriptors. On failure the controller has forgotten the device.
    pub async fn enumerate(
        &mut self,
        dev: &mut Device,
        known: fn(&DeviceDescriptor, &[u8]) -> bool,
    ) -> Result<Vec<u8>, UsbError> {
        self.hc.add_device(dev).await?;
        let result = self.address_and_configure(dev, known).await;
        if result.is_err() {
            self.hc.remove_device(dev).await;
            self.free_address(dev.address);
        }
        result
    }

    async fn address_and_configure(
        &mut self,
        dev: &mut Device,
        known: fn(&DeviceDescriptor, &[u8]) -> bool,
    ) -> Result<Vec<u8>, UsbError> {
        let mut head = [0u8; 8];
        let n = self
            .control_in(dev, Setup::get_descriptor(desc::DT_DEVICE, 0, 8), &mut head)
            .await?;
        let d = DeviceDescriptor::parse(&head[..n]).ok_or(UsbError::BadDescriptor)?;
        dev.max_packet0 = match (dev.speed, d.max_packet0) {
            // USB 3: bMaxPacketSize0 is an exponent (9 = 512 bytes).
            (Speed::Super, 9) => 512,
            (_, 8 | 16 | 32 | 64) => u16::from(d.max_packet0),
            _ => return Err(UsbError::BadDescriptor),
        };
        let address = self.alloc_address()?;
        if let Err(e) = self.hc.set_address(dev, address).await {
            self.free_address(address);
            return Err(e);
        }
        if dev.address != address {
            // The controller chose its own address (xHCI): keep the pool in step.
            self.free_address(address);
            self.addresses |= 1u128 << (dev.address & 0x7f);
        }
        // USB 2.0 §9.2.6.3: 2 ms SET_ADDRESS recovery.
        Timer::after_millis(10).await;
        self.finish_enumeration(dev, known).await
    }

    async fn finish_enumeration(
        &mut self,
        dev: &mut Device,
        known: fn(&DeviceDescriptor, &[u8]) -> bool,
    ) -> Result<Vec<u8>, UsbError> {
        let mut full = [0u8; 18];
        let n = self
            .control_in(
                dev,
                Setup::get_descriptor(desc::DT_DEVICE, 0, 18),
                &mut full,
            )
            .await?;
        dev.descriptor = DeviceDescriptor::parse(&full[..n]).ok_or(UsbError::BadDescriptor)?;
        let d = dev.descriptor;
        let mut name = [0u8; 48];
        let name_len = self
            .read_string(dev, d.product_string, &mut name)
            .await
            .unwrap_or(0);
        defmt::info!(
            "usb: device {} {:04x}:{:04x} class {:02x} usb {:x} {} ep0 {} configs {} \"{}\" on {}",
            dev.address,
            d.vendor,
            d.product,
            d.class,
            d.usb_version,
            dev.speed,
            dev.max_packet0,
            d.configurations,
            core::str::from_utf8(&name[..name_len]).unwrap_or("?"),
            Attachment(dev.parent)
        );
        defmt::info!("usb:   at {}", Topology(dev));

        // Prefer the first configuration a class driver here understands (QEMU's
        // usb-net lists RNDIS first and CDC-ECM second), else the first one.
        let mut chosen: Option<Vec<u8>> = None;
        for index in 0..d.configurations.clamp(1, 8) {
            let config = self.read_config(dev, index).await?;
            let ok = known(&d, &config);
            if ok || chosen.is_none() {
                chosen = Some(config);
            }
            if ok {
                break;
            }
        }
        let config = chosen.ok_or(UsbError::BadDescriptor)?;
        let header = ConfigHeader::parse(&config).ok_or(UsbError::BadDescriptor)?;
        for i in desc::interfaces(&config) {
            defmt::info!(
                "usb:   interface {} alt {} class {:02x}/{:02x}/{:02x}, {} endpoints",
                i.desc.number,
                i.desc.alternate,
                i.desc.class,
                i.desc.subclass,
                i.desc.protocol,
                i.desc.endpoints
            );
            for e in i.endpoints() {
                defmt::info!(
                    "usb:     ep {} {} {} mps {} interval {}",
                    e.number,
                    e.direction,
                    e.kind,
                    e.max_packet,
                    e.interval
                );
            }
        }
        self.control_out(
            dev,
            Setup::no_data(0, desc::REQ_SET_CONFIGURATION, header.value.into(), 0),
            &[],
        )
        .await?;
        Ok(config)
    }
}

/// Where a device hangs, for the enumeration log: "root port" or "hub H port P"
/// (the scripts' tests match these words at the end of the line).
struct Attachment(Option<(u8, u8)>);

impl defmt::Format for Attachment {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            None => defmt::write!(f, "root port"),
            Some((hub, port)) => defmt::write!(f, "hub {} port {}", hub, port),
        }
    }
}

/// The rest of where a device hangs: root port number, route string, TT.
struct Topology<'a>(&'a Device);

impl defmt::Format for Topology<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let d = self.0;
        defmt::write!(
            f,
            "root port {}, route {=u32:05x}, slot {}",
            d.root_port,
            d.route,
            d.slot
        );
        match d.tt {
            Some(tt) => defmt::write!(f, ", TT of hub {} port {}", tt.hub_address, tt.port),
            None => defmt::write!(f, ", no TT"),
        }
    }
}

/// One opened endpoint with its DMA buffer and polling interval.
pub struct Pipe {
    /// The controller's handle.
    pub id: PipeId,
    /// The endpoint.
    pub ep: EndpointDescriptor,
    /// The DMA buffer (received data lands at its start).
    pub buf: DmaBuf,
    interval: Duration,
    next_due: Instant,
}

impl Pipe {
    /// Opens endpoint `ep` of `dev` with a buffer of at least `buf_len` bytes.
    pub async fn open(
        bus: &mut Bus,
        dev: &Device,
        ep: &EndpointDescriptor,
        buf_len: usize,
    ) -> Result<Self, UsbError> {
        let len = buf_len.max(usize::from(ep.max_packet));
        // Naturally aligned (up to a page), so no buffer crosses a 64 KiB
        // boundary: xHCI TRBs must not.
        let buf = DmaBuf::new_aligned(len, len.next_power_of_two().clamp(64, 4096))
            .ok_or(UsbError::NoMemory)?;
        let id = bus.hc.open_pipe(dev, ep).await?;
        let frames = match (ep.kind, dev.speed) {
            (EndpointKind::Interrupt, Speed::High | Speed::Super) => {
                1u64 << ep.interval.clamp(1, 16).saturating_sub(1) >> 3
            }
            (EndpointKind::Interrupt, _) => u64::from(ep.interval),
            _ => 0,
        };
        Ok(Pipe {
            id,
            ep: *ep,
            buf,
            interval: Duration::from_millis(frames.max(1)),
            next_due: Instant::now(),
        })
    }

    /// For IN pipes: starts a transfer of up to `len` bytes when idle and due;
    /// returns the result once one finishes (data in `self.buf`). NAKs are
    /// swallowed: the next attempt waits one interval.
    pub fn poll_in(
        &mut self,
        hc: &mut dyn HostController,
        now: Instant,
        len: usize,
    ) -> Option<Result<usize, UsbError>> {
        if hc.busy(self.id) {
            return match hc.poll(self.id)? {
                Ok(n) => {
                    self.next_due = if hc.paces_periodic() {
                        now
                    } else {
                        now + self.interval
                    };
                    Some(Ok(n))
                }
                Err(UsbError::Nak) => {
                    self.next_due = now + self.interval;
                    None
                }
                Err(e) => {
                    // Back off a little on errors (e.g. a device going away).
                    self.next_due = now + Duration::from_millis(50);
                    Some(Err(e))
                }
            };
        }
        if now >= self.next_due {
            let mps = usize::from(self.ep.max_packet).max(1);
            let len = len.div_ceil(mps) * mps;
            if let Err(e) = hc.start(self.id, &self.buf, len.min(self.buf.len())) {
                self.next_due = now + Duration::from_millis(50);
                return Some(Err(e));
            }
        }
        None
    }

    /// For OUT pipes: copies `data` into the buffer and starts sending it.
    pub fn start_out(&mut self, hc: &mut dyn HostController, data: &[u8]) -> Result<(), UsbError> {
        if data.len() > self.buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        self.buf.as_mut_slice()[..data.len()].copy_from_slice(data);
        hc.start(self.id, &self.buf, data.len())
    }

    /// For OUT pipes: `None` while sending, else the result.
    pub fn poll_out(&mut self, hc: &mut dyn HostController) -> Option<Result<usize, UsbError>> {
        hc.poll(self.id)
    }

    /// True while a transfer is in flight.
    pub fn busy(&self, hc: &dyn HostController) -> bool {
        hc.busy(self.id)
    }
}

/// What a class driver may do while it is polled.
pub struct Context<'a> {
    /// Where decoded input goes.
    pub input: &'a mut dyn FnMut(UsbInput),
    /// Set by a driver that moved data this round: the core then polls again
    /// at once instead of sleeping a millisecond (bulk traffic in bursts).
    pub active: bool,
}

/// What happened on a hub port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum PortEvent {
    /// A device is attached, reset and enabled; it answers at address 0.
    Connected(Speed),
    /// The device that was there is gone.
    Disconnected,
    /// Nothing that needs the core.
    None,
}

/// A bound class driver: serviced every millisecond, never blocking.
pub trait ClassDriver {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    /// The device it drives.
    fn device(&self) -> &Device;
    /// Starts or checks this driver's transfers.
    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>);
    /// The pipes it holds, so the core can close them when the device goes away.
    fn pipes(&self) -> Vec<PipeId>;
    /// When the device goes away: a network driver hands its channel to
    /// embassy-net back (link down) so the next adapter plugged in can use it.
    fn release_net(self: Box<Self>) -> Option<NetRunner> {
        None
    }
    /// A hub driver's ports, for the core to enumerate what is found there.
    fn hub(&mut self) -> Option<&mut dyn HubPorts> {
        None
    }
    /// Slow periodic work that needs control transfers (a NIC's PHY link
    /// poll): `None` when nothing is due at `now`, else the work, which the
    /// core awaits in line (keep it to a few control transfers).
    fn maintain<'a>(&'a mut self, _bus: &'a mut Bus, _now: Instant) -> Option<BoxFut<'a, ()>> {
        None
    }
    /// Work that awaits control transfers (the redirection driver runs the
    /// VM's requests here); `None` when there is none. The future returns
    /// true when it moved data.
    fn service<'a>(&'a mut self, _bus: &'a mut Bus) -> Option<BoxFut<'a, bool>> {
        None
    }
}

/// The port side of a hub driver.
pub trait HubPorts {
    /// Number of downstream ports.
    fn ports(&self) -> u8;
    /// Whether it has one transaction translator per port.
    fn multi_tt(&self) -> bool;
    /// Returns and clears the bitmap of ports (bit n = port n) with changes.
    fn take_pending(&mut self) -> u32;
    /// Reads and acknowledges a port's changes; resets a newly attached device.
    fn port_change<'a>(
        &'a mut self,
        bus: &'a mut Bus,
        port: u8,
    ) -> BoxFut<'a, Result<PortEvent, UsbError>>;
}

/// A class driver's entry in [`super::classes::CLASSES`].
pub struct ClassEntry {
    /// Name for logs.
    pub name: &'static str,
    /// True when the device (descriptor + chosen configuration) has something
    /// this driver binds to.
    pub matches: fn(&DeviceDescriptor, &[u8]) -> bool,
    /// Binds to the device; an empty list means "not mine after all".
    pub probe: ProbeFn,
}

/// The drivers a probe bound (empty: none).
pub type Bound = Vec<Box<dyn ClassDriver>>;

/// A class driver's probe: binds to a configured device, given the chosen
/// configuration's descriptors.
pub type ProbeFn =
    for<'a> fn(&'a mut Bus, &'a Device, &'a [u8]) -> BoxFut<'a, Result<Bound, UsbError>>;

/// Helper for [`ClassEntry::matches`]: true when some interface of `config`
/// satisfies `f`.
pub fn any_interface(config: &[u8], f: impl Fn(&desc::Interface<'_>) -> bool) -> bool {
    desc::interfaces(config).any(|i| f(&i))
}
