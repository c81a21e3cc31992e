//! The USB core: control transfers, device enumeration, address assignment,
//! configuration choice, class driver probing and the polling loop that drives
//! every class driver.
//!
//! Owns: [`Bus`] (the controller plus the shared control channel), [`Device`],
//! [`Pipe`] (one endpoint on its own host channel, used by class drivers), the
//! [`ClassDriver`] trait and [`UsbHost`], the task body. Must not: interpret
//! class-specific data (that is the class modules' job) or trust any byte a
//! device sends.

use super::desc::{self, ConfigHeader, DeviceDescriptor, EndpointDescriptor, Interface, Setup};
use super::dma::DmaBuf;
use super::dwc2::{Dwc2, Pid, Target};
use super::{cdc_ecm, hid, hub, Direction, EndpointKind, Speed, UsbError, UsbInput};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_time::{Duration, Instant, Timer};

/// Longest a control transfer stage may take before we give up on it.
const CONTROL_TIMEOUT: Duration = Duration::from_millis(500);
/// Size of the shared control data buffer: enough for any configuration we use.
const CONTROL_DATA: usize = 1024;

/// An addressed (or, during enumeration, default-address) device.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct Device {
    /// Bus address, 1..=127 (0 only during enumeration).
    pub address: u8,
    /// Bus speed.
    pub speed: Speed,
    /// Endpoint 0 max packet size.
    pub max_packet0: u16,
    /// The device descriptor (zeroed fields until read).
    pub descriptor: DeviceDescriptor,
    /// The hub address and port (1-based) it hangs off; `None` for the root port.
    pub parent: Option<(u8, u8)>,
}

/// The host controller plus what every control transfer shares.
pub struct Bus {
    /// The controller (class drivers start/poll their own channels on it).
    pub hc: Dwc2,
    ctrl_ch: u8,
    setup: DmaBuf,
    data: DmaBuf,
    addresses: u128,
}

impl Bus {
    /// Wraps an initialised controller; claims one channel for control transfers.
    pub fn new(mut hc: Dwc2) -> Result<Self, UsbError> {
        let ctrl_ch = hc.alloc_channel().ok_or(UsbError::NoChannel)?;
        let setup = DmaBuf::new(8).ok_or(UsbError::NoMemory)?;
        let data = DmaBuf::new(CONTROL_DATA).ok_or(UsbError::NoMemory)?;
        Ok(Self { hc, ctrl_ch, setup, data, addresses: 1 })
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
    pub async fn control_in(&mut self, dev: &Device, setup: Setup, out: &mut [u8]) -> Result<usize, UsbError> {
        let mut last = UsbError::Timeout;
        for _ in 0..3 {
            match self.control(dev, setup, None).await {
                Ok(n) => {
                    let n = n.min(out.len());
                    out[..n].copy_from_slice(&self.data.as_slice()[..n]);
                    return Ok(n);
                }
                Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// A control transfer with an OUT data stage (or none when `data` is empty).
    pub async fn control_out(&mut self, dev: &Device, setup: Setup, data: &[u8]) -> Result<(), UsbError> {
        let mut last = UsbError::Timeout;
        for _ in 0..3 {
            match self.control(dev, setup, Some(data)).await {
                Ok(_) => return Ok(()),
                Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    async fn control(&mut self, dev: &Device, setup: Setup, out: Option<&[u8]>) -> Result<usize, UsbError> {
        let mut t = Target {
            address: dev.address,
            endpoint: 0,
            direction: Direction::Out,
            kind: EndpointKind::Control,
            max_packet: dev.max_packet0.max(8),
            speed: dev.speed,
        };
        let ch = self.ctrl_ch;
        self.setup.as_mut_slice()[..8].copy_from_slice(&setup.to_bytes());
        self.hc.transfer(ch, &t, Pid::Setup, &self.setup, 8, CONTROL_TIMEOUT).await?;

        let len = usize::from(setup.length);
        if len > self.data.len() {
            return Err(UsbError::BufferTooSmall);
        }
        let mut got = 0;
        let data_in = setup.direction() == Direction::In;
        if len > 0 {
            t.direction = setup.direction();
            if let Some(bytes) = out {
                let n = bytes.len().min(len);
                self.data.as_mut_slice()[..n].copy_from_slice(&bytes[..n]);
            }
            got = self.hc.transfer(ch, &t, Pid::Data1, &self.data, len, CONTROL_TIMEOUT).await?.len;
        }
        // Status stage: opposite direction to the data (IN when there was none).
        t.direction = if len > 0 && data_in { Direction::Out } else { Direction::In };
        self.hc.transfer(ch, &t, Pid::Data1, &self.setup, 0, CONTROL_TIMEOUT).await?;
        Ok(got)
    }

    /// Reads a whole configuration descriptor (header first, then wTotalLength).
    pub async fn read_config(&mut self, dev: &Device, index: u8) -> Result<Vec<u8>, UsbError> {
        let mut head = [0u8; 9];
        let n = self.control_in(dev, Setup::get_descriptor(desc::DT_CONFIGURATION, index, 9), &mut head).await?;
        let h = ConfigHeader::parse(&head[..n]).ok_or(UsbError::BadDescriptor)?;
        let total = usize::from(h.total_length).clamp(9, CONTROL_DATA);
        let mut all = alloc::vec![0u8; total];
        let n = self
            .control_in(dev, Setup::get_descriptor(desc::DT_CONFIGURATION, index, total as u16), &mut all)
            .await?;
        all.truncate(n);
        Ok(all)
    }

    /// Reads string descriptor `index` (first language) as ASCII into `out`.
    pub async fn read_string(&mut self, dev: &Device, index: u8, out: &mut [u8]) -> Result<usize, UsbError> {
        if index == 0 {
            return Ok(0);
        }
        let mut langs = [0u8; 4];
        let n = self.control_in(dev, Setup::get_descriptor(desc::DT_STRING, 0, 4), &mut langs).await?;
        let lang = if n >= 4 { u16::from_le_bytes([langs[2], langs[3]]) } else { 0x0409 };
        let mut raw = [0u8; 255];
        let n = self.control_in(dev, Setup::get_descriptor_lang(desc::DT_STRING, index, lang, 255), &mut raw).await?;
        Ok(desc::string_to_ascii(&raw[..n], out))
    }

    /// Enumerates the device that was just reset on a port: reads its descriptor,
    /// gives it an address, picks and sets a configuration. Returns the device
    /// and the chosen configuration's descriptors.
    pub async fn enumerate(&mut self, speed: Speed, parent: Option<(u8, u8)>) -> Result<(Device, Vec<u8>), UsbError> {
        let mut dev = Device {
            address: 0,
            speed,
            max_packet0: if speed == Speed::High { 64 } else { 8 },
            descriptor: DeviceDescriptor::default(),
            parent,
        };
        let mut head = [0u8; 8];
        let n = self.control_in(&dev, Setup::get_descriptor(desc::DT_DEVICE, 0, 8), &mut head).await?;
        let d = DeviceDescriptor::parse(&head[..n]).ok_or(UsbError::BadDescriptor)?;
        dev.max_packet0 = match d.max_packet0 {
            8 | 16 | 32 | 64 => u16::from(d.max_packet0),
            _ => return Err(UsbError::BadDescriptor),
        };

        let address = self.alloc_address()?;
        if let Err(e) = self.control_out(&dev, Setup::no_data(0, desc::REQ_SET_ADDRESS, address.into(), 0), &[]).await {
            self.free_address(address);
            return Err(e);
        }
        dev.address = address;
        // USB 2.0 §9.2.6.3: 2 ms SET_ADDRESS recovery.
        Timer::after_millis(10).await;

        match self.finish_enumeration(&mut dev).await {
            Ok(config) => Ok((dev, config)),
            Err(e) => {
                self.free_address(address);
                Err(e)
            }
        }
    }

    async fn finish_enumeration(&mut self, dev: &mut Device) -> Result<Vec<u8>, UsbError> {
        let mut full = [0u8; 18];
        let n = self.control_in(dev, Setup::get_descriptor(desc::DT_DEVICE, 0, 18), &mut full).await?;
        dev.descriptor = DeviceDescriptor::parse(&full[..n]).ok_or(UsbError::BadDescriptor)?;
        let d = dev.descriptor;
        let mut name = [0u8; 48];
        let name_len = self.read_string(dev, d.product_string, &mut name).await.unwrap_or(0);
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

        // Prefer the first configuration a class driver here understands (QEMU's
        // usb-net lists RNDIS first and CDC-ECM second), else the first one.
        let mut chosen: Option<Vec<u8>> = None;
        for index in 0..d.configurations.clamp(1, 8) {
            let config = self.read_config(dev, index).await?;
            let known = desc::interfaces(&config).any(|i| class_matches(&d, &i));
            if known || chosen.is_none() {
                chosen = Some(config);
            }
            if known {
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
                defmt::info!("usb:     ep {} {} {} mps {} interval {}", e.number, e.direction, e.kind, e.max_packet, e.interval);
            }
        }
        self.control_out(dev, Setup::no_data(0, desc::REQ_SET_CONFIGURATION, header.value.into(), 0), &[])
            .await?;
        Ok(config)
    }
}

/// Where a device hangs, for the enumeration log: "root port" or "hub H port P".
struct Attachment(Option<(u8, u8)>);

impl defmt::Format for Attachment {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            None => defmt::write!(f, "root port"),
            Some((hub, port)) => defmt::write!(f, "hub {} port {}", hub, port),
        }
    }
}

/// True when some class driver handles interface `i` of a device like `d`.
fn class_matches(d: &DeviceDescriptor, i: &Interface<'_>) -> bool {
    hub::matches(d, i) || hid::matches(i) || cdc_ecm::matches(i)
}

/// One endpoint bound to its own host channel, with its DMA buffer, data toggle
/// and polling interval.
pub struct Pipe {
    /// The host channel.
    pub ch: u8,
    /// Addressing for the channel.
    pub target: Target,
    pid: Pid,
    /// The DMA buffer (received data lands at its start).
    pub buf: DmaBuf,
    interval: Duration,
    next_due: Instant,
}

impl Pipe {
    /// Claims a channel and a buffer of at least `buf_len` bytes for endpoint `ep`.
    pub fn open(bus: &mut Bus, dev: &Device, ep: &EndpointDescriptor, buf_len: usize) -> Result<Self, UsbError> {
        let buf = DmaBuf::new(buf_len.max(usize::from(ep.max_packet))).ok_or(UsbError::NoMemory)?;
        let ch = bus.hc.alloc_channel().ok_or(UsbError::NoChannel)?;
        let frames = match (ep.kind, dev.speed) {
            (EndpointKind::Interrupt, Speed::High) => 1u64 << ep.interval.clamp(1, 16).saturating_sub(1) >> 3,
            (EndpointKind::Interrupt, _) => u64::from(ep.interval),
            _ => 0,
        };
        Ok(Pipe {
            ch,
            target: Target {
                address: dev.address,
                endpoint: ep.number,
                direction: ep.direction,
                kind: ep.kind,
                max_packet: ep.max_packet,
                speed: dev.speed,
            },
            pid: Pid::Data0,
            buf,
            interval: Duration::from_millis(frames.max(1)),
            next_due: Instant::now(),
        })
    }

    /// For IN pipes: starts a transfer of up to `len` bytes when idle and due;
    /// returns the result once one finishes (data in `self.buf`). NAKs are
    /// swallowed: the next attempt waits one interval.
    pub fn poll_in(&mut self, hc: &mut Dwc2, now: Instant, len: usize) -> Option<Result<usize, UsbError>> {
        if hc.busy(self.ch) {
            return match hc.poll(self.ch)? {
                Ok(c) => {
                    self.pid = c.next_pid;
                    self.next_due = now + self.interval;
                    Some(Ok(c.len))
                }
                Err(UsbError::Nak) => {
                    self.next_due = now + self.interval;
                    None
                }
                Err(e) => {
                    self.next_due = now + Duration::from_millis(100);
                    Some(Err(e))
                }
            };
        }
        if now >= self.next_due {
            if let Err(e) = hc.start(self.ch, &self.target, self.pid, &self.buf, len) {
                return Some(Err(e));
            }
        }
        None
    }

    /// For OUT pipes: starts sending `data` (copied into the DMA buffer).
    pub fn start_out(&mut self, hc: &mut Dwc2, data: &[u8]) -> Result<(), UsbError> {
        let n = data.len();
        if n > self.buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        self.buf.as_mut_slice()[..n].copy_from_slice(data);
        hc.start(self.ch, &self.target, self.pid, &self.buf, n)
    }

    /// For OUT pipes: `None` while sending, else the result.
    pub fn poll_out(&mut self, hc: &mut Dwc2) -> Option<Result<usize, UsbError>> {
        let r = hc.poll(self.ch)?;
        if let Ok(c) = r {
            self.pid = c.next_pid;
        }
        Some(r.map(|c| c.len))
    }

    /// True while a transfer is in flight.
    pub fn busy(&self, hc: &Dwc2) -> bool {
        hc.busy(self.ch)
    }
}

/// What a class driver may do while it is polled.
pub struct Context<'a> {
    /// Where decoded input goes.
    pub input: &'a mut dyn FnMut(UsbInput),
}

/// A bound class driver: serviced every millisecond, never blocking.
pub trait ClassDriver {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    /// Address of the device it drives.
    fn address(&self) -> u8;
    /// Starts or checks this driver's transfers.
    fn poll(&mut self, hc: &mut Dwc2, now: Instant, cx: &mut Context<'_>);
    /// The host channels it holds, so the core can halt and free them when the
    /// device goes away.
    fn channels(&self) -> &[u8];
    /// When the device goes away: a network driver hands its channel to
    /// embassy-net back (link down) so the next adapter plugged in can use it.
    fn release_net(self: Box<Self>) -> Option<cdc_ecm::NetRunner> {
        None
    }
}

/// The whole host stack: bus, hubs, bound class drivers and the input sink.
pub struct UsbHost {
    bus: Bus,
    hubs: Vec<hub::Hub>,
    functions: Vec<Box<dyn ClassDriver>>,
    devices: Vec<Device>,
    net: Option<cdc_ecm::NetRunner>,
    input: Box<dyn FnMut(UsbInput)>,
    root_attached: bool,
}

impl UsbHost {
    /// A stack on an initialised controller. `net` is handed to the first
    /// Ethernet function found; `input` receives every HID event.
    pub fn new(hc: Dwc2, net: Option<cdc_ecm::NetRunner>, input: Box<dyn FnMut(UsbInput)>) -> Result<Self, UsbError> {
        Ok(Self {
            bus: Bus::new(hc)?,
            hubs: Vec::new(),
            functions: Vec::new(),
            devices: Vec::new(),
            net,
            input,
            root_attached: false,
        })
    }

    /// The task body: brings up the root port, enumerates everything behind it
    /// and then services the class drivers every millisecond, forever.
    pub async fn run(mut self) -> ! {
        let mut last_root_check = Instant::from_ticks(0);
        loop {
            let now = Instant::now();
            if now.duration_since(last_root_check) >= Duration::from_millis(200) || !self.root_attached {
                last_root_check = now;
                self.check_root().await;
            }
            let now = Instant::now();
            let mut cx = Context { input: &mut *self.input };
            for f in self.functions.iter_mut() {
                f.poll(&mut self.bus.hc, now, &mut cx);
            }
            let mut i = 0;
            while i < self.hubs.len() {
                self.hubs[i].poll(&mut self.bus.hc, now);
                if self.hubs[i].pending() != 0 {
                    self.service_hub(i).await;
                }
                i += 1;
            }
            Timer::after_millis(1).await;
        }
    }

    async fn check_root(&mut self) {
        let connected = self.bus.hc.root_connected();
        if self.root_attached && !connected {
            defmt::warn!("usb: root port disconnected");
            self.detach_all().await;
            self.root_attached = false;
        }
        if !self.root_attached && connected {
            // USB 2.0 §7.1.7.3: 100 ms for the connection to settle.
            Timer::after_millis(100).await;
            match self.bus.hc.reset_root_port().await {
                Ok(speed) => {
                    self.root_attached = true;
                    if let Err(e) = self.attach(speed, None).await {
                        defmt::warn!("usb: root device failed: {}", e);
                    }
                }
                Err(e) => defmt::warn!("usb: root port reset failed: {}", e),
            }
        } else if !self.root_attached {
            Timer::after_millis(100).await;
        }
    }

    /// Enumerates the device just reset on a port and binds drivers to it.
    async fn attach(&mut self, speed: Speed, parent: Option<(u8, u8)>) -> Result<(), UsbError> {
        let (dev, config) = self.bus.enumerate(speed, parent).await?;
        self.devices.push(dev);
        if hub::matches(&dev.descriptor, &desc::interfaces(&config).next().ok_or(UsbError::BadDescriptor)?) {
            let hub = hub::Hub::probe(&mut self.bus, dev, &config).await?;
            self.hubs.push(hub);
            return Ok(());
        }
        let mut bound = 0;
        if let Some(runner) = self.net.take() {
            match cdc_ecm::probe(&mut self.bus, &dev, &config, runner).await {
                Ok(Ok(f)) => {
                    self.functions.push(f);
                    bound += 1;
                }
                Ok(Err(runner)) => self.net = Some(runner),
                Err((e, runner)) => {
                    defmt::warn!("usb: ethernet probe failed: {}", e);
                    self.net = Some(runner);
                }
            }
        }
        for iface in desc::interfaces(&config).filter(|i| i.desc.alternate == 0 && hid::matches(i)) {
            match hid::probe(&mut self.bus, &dev, &iface).await {
                Ok(f) => {
                    self.functions.push(f);
                    bound += 1;
                }
                Err(e) => defmt::warn!("usb: hid probe on interface {} failed: {}", iface.desc.number, e),
            }
        }
        if bound == 0 {
            defmt::info!("usb: no driver for device {}", dev.address);
        }
        Ok(())
    }

    /// Handles the port changes a hub reported.
    async fn service_hub(&mut self, i: usize) {
        let changes = self.hubs[i].take_pending();
        let hub_dev = self.hubs[i].device();
        for port in 1..=self.hubs[i].ports() {
            if changes & (1 << port) == 0 {
                continue;
            }
            // Attaching or detaching may have moved hubs around: find it again.
            let Some(i) = self.hubs.iter().position(|h| h.device().address == hub_dev.address) else {
                return;
            };
            let event = self.hubs[i].port_change(&mut self.bus, port).await;
            match event {
                Ok(hub::PortEvent::Connected(speed)) => {
                    if let Err(e) = self.attach(speed, Some((hub_dev.address, port))).await {
                        defmt::warn!("usb: device on hub {} port {} failed: {}", hub_dev.address, port, e);
                    }
                }
                Ok(hub::PortEvent::Disconnected) => self.detach_port(hub_dev.address, port).await,
                Ok(hub::PortEvent::None) => {}
                Err(e) => defmt::warn!("usb: hub {} port {}: {}", hub_dev.address, port, e),
            }
        }
    }

    /// Drops every device on hub `hub`'s port `port` (and, for hubs, below it).
    async fn detach_port(&mut self, hub: u8, port: u8) {
        let gone: Vec<u8> =
            self.devices.iter().filter(|d| d.parent == Some((hub, port))).map(|d| d.address).collect();
        for a in gone {
            Box::pin(self.detach_address(a)).await;
        }
    }

    /// Drops device `address`: its children first (if a hub), then its drivers'
    /// channels, then its address.
    async fn detach_address(&mut self, address: u8) {
        if let Some(pos) = self.hubs.iter().position(|h| h.device().address == address) {
            let ports = self.hubs[pos].ports();
            for p in 1..=ports {
                self.detach_port(address, p).await;
            }
            if let Some(pos) = self.hubs.iter().position(|h| h.device().address == address) {
                let h = self.hubs.remove(pos);
                self.release(h.channels()).await;
            }
        }
        let mut i = 0;
        while i < self.functions.len() {
            if self.functions[i].address() == address {
                let f = self.functions.remove(i);
                defmt::info!("usb: {} at {} detached", f.name(), address);
                self.release(f.channels()).await;
                if let Some(runner) = f.release_net() {
                    self.net = Some(runner);
                }
            } else {
                i += 1;
            }
        }
        self.devices.retain(|d| d.address != address);
        self.bus.free_address(address);
    }

    async fn release(&mut self, channels: &[u8]) {
        for &ch in channels {
            self.bus.hc.halt(ch).await;
            self.bus.hc.free_channel(ch);
        }
    }

    async fn detach_all(&mut self) {
        let roots: Vec<u8> = self.devices.iter().filter(|d| d.parent.is_none()).map(|d| d.address).collect();
        for a in roots {
            self.detach_address(a).await;
        }
    }
}
