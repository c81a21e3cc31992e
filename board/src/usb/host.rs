//! The USB core's task: watches the root ports and hub ports, enumerates what
//! appears there, binds class drivers from [`super::classes::CLASSES`] and
//! services them every millisecond; tears devices (and what hangs below them)
//! down when they go away.
//!
//! Owns: [`UsbHost`] (the device list and the bound drivers) and [`start`],
//! which a board calls to turn an initialised [`HostController`] into its USB
//! task plus the Ethernet device. Must not: know any register or any class
//! (drivers come from the table), or trust any byte a device sends.

use super::bus::{Bus, ClassDriver, Context, PortEvent};
use super::classes;
use super::controller::{Device, HostController, PipeId};
use super::net_channel::{self, NetDevice, NetRunner, NetState};
use super::{UsbError, UsbInput};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use embassy_time::{Duration, Instant, Timer};

/// How often root ports are looked at.
const ROOT_CHECK: Duration = Duration::from_millis(200);
/// Rounds in a row the task may poll without sleeping while data moves.
const BURST_ROUNDS: u32 = 64;

/// The USB task a board hands the firmware to spawn.
pub type UsbTask = Pin<Box<dyn Future<Output = ()>>>;

/// The board side of the USB stack: the task to spawn (it runs `init` first,
/// then the stack, and logs why if either stops) and the Ethernet device for
/// embassy-net. Input goes to [`super::input::UsbInputs`].
pub fn start<H, F>(init: F) -> (UsbTask, NetDevice)
where
    H: HostController + 'static,
    F: Future<Output = Result<H, UsbError>> + 'static,
{
    let state: &'static mut NetState = Box::leak(Box::new(NetState::new()));
    let (runner, device) = net_channel::channel(state);
    let service = Box::pin(async move {
        defmt::debug!("usb: host task started");
        let result = async {
            let hc = init.await?;
            UsbHost::new(Box::new(hc), Some(runner), super::input::sink())?
                .run()
                .await
        };
        let Err(e) = result.await;
        defmt::error!("usb: host stack stopped: {}", e);
        critical_section::with(|cs| FAILURE.borrow(cs).replace(Some(e)));
    });
    (service, device)
}

static FAILURE: critical_section::Mutex<core::cell::Cell<Option<UsbError>>> =
    critical_section::Mutex::new(core::cell::Cell::new(None));

/// Why the USB task ended (it only ends on failure), for the status screen:
/// what failed and what to check.
pub fn failure() -> Option<(alloc::string::String, &'static str)> {
    let e = critical_section::with(|cs| FAILURE.borrow(cs).get())?;
    let hint = match e {
        UsbError::NoController => {
            "the USB host controller (QEMU: -device qemu-xhci; Pi 4: PCIe link and VL805 firmware)"
        }
        UsbError::Timeout => {
            "the USB host controller did not respond (serial log: the register it waited for)"
        }
        _ => "the USB host controller (serial log: usb:/xhci:/dwc2: lines)",
    };
    Some((alloc::format!("USB host stack stopped: {:?}", e), hint))
}

/// The whole host stack: bus, bound class drivers and the input sink.
pub struct UsbHost {
    bus: Bus,
    functions: Vec<Box<dyn ClassDriver>>,
    devices: Vec<Device>,
    input: Box<dyn FnMut(UsbInput)>,
    /// Bit n: root port n has a device enumerated (or failed) on it.
    root_attached: u32,
}

impl UsbHost {
    /// A stack on an initialised controller. `net` is handed to the first
    /// Ethernet function found; `input` receives every HID event.
    pub fn new(
        hc: Box<dyn HostController>,
        net: Option<NetRunner>,
        input: Box<dyn FnMut(UsbInput)>,
    ) -> Result<Self, UsbError> {
        Ok(Self {
            bus: Bus::new(hc, net)?,
            functions: Vec::new(),
            devices: Vec::new(),
            input,
            root_attached: 0,
        })
    }

    /// The task body: brings up the root ports, enumerates everything behind
    /// them and then services the class drivers every millisecond, forever.
    pub async fn run(mut self) -> Result<core::convert::Infallible, UsbError> {
        defmt::info!(
            "usb: {} with {} root ports",
            self.bus.hc.name(),
            self.bus.hc.root_ports()
        );
        let mut last_root_check = Instant::from_ticks(0);
        let mut idle_rounds = 0u32;
        loop {
            self.bus.hc.service().await;
            let now = Instant::now();
            if now.duration_since(last_root_check) >= ROOT_CHECK {
                last_root_check = now;
                self.check_roots().await;
            }
            let now = Instant::now();
            let mut cx = Context {
                input: &mut *self.input,
                active: false,
            };
            for f in self.functions.iter_mut() {
                f.poll(&mut *self.bus.hc, now, &mut cx);
            }
            let mut active = cx.active;
            for f in self.functions.iter_mut() {
                if let Some(work) = f.maintain(&mut self.bus, now) {
                    work.await;
                }
                if let Some(work) = f.service(&mut self.bus) {
                    active |= work.await;
                }
            }
            self.service_hubs().await;
            if active && idle_rounds < BURST_ROUNDS {
                idle_rounds += 1;
                embassy_futures::yield_now().await;
            } else {
                idle_rounds = 0;
                Timer::after_millis(1).await;
            }
        }
    }

    async fn check_roots(&mut self) {
        for port in 1..=self.bus.hc.root_ports().min(31) {
            let bit = 1u32 << port;
            let state = self.bus.hc.root_port(port);
            let attached = self.root_attached & bit != 0;
            if attached && (!state.connected || state.changed) {
                defmt::warn!("usb: root port {} disconnected", port);
                self.detach_root(port).await;
                self.root_attached &= !bit;
            }
            if self.root_attached & bit == 0 && state.connected {
                // USB 2.0 §7.1.7.3: 100 ms for the connection to settle.
                Timer::after_millis(100).await;
                match self.bus.hc.reset_root_port(port).await {
                    Ok(speed) => {
                        self.root_attached |= bit;
                        if let Err(e) = self.attach(Device::on_root_port(port, speed)).await {
                            defmt::warn!("usb: device on root port {} failed: {}", port, e);
                        }
                    }
                    Err(e) => defmt::warn!("usb: root port {} reset failed: {}", port, e),
                }
            }
        }
    }

    /// Enumerates a device just reset on a port and binds drivers to it.
    async fn attach(&mut self, mut dev: Device) -> Result<(), UsbError> {
        let config = self.bus.enumerate(&mut dev, classes::known).await?;
        self.devices.push(dev);
        for class in classes::CLASSES {
            if !(class.matches)(&dev.descriptor, &config) {
                continue;
            }
            match (class.probe)(&mut self.bus, &dev, &config).await {
                Ok(bound) if !bound.is_empty() => {
                    self.functions.extend(bound);
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => defmt::warn!(
                    "usb: {} probe on device {} failed: {}",
                    class.name,
                    dev.address,
                    e
                ),
            }
        }
        defmt::info!("usb: no driver for device {}", dev.address);
        Ok(())
    }

    /// Handles the port changes every hub reported.
    async fn service_hubs(&mut self) {
        let mut i = 0;
        while i < self.functions.len() {
            let Some(hub) = self.functions[i].hub() else {
                i += 1;
                continue;
            };
            let changes = hub.take_pending();
            let ports = hub.ports();
            let multi_tt = hub.multi_tt();
            let hub_dev = *self.functions[i].device();
            i += 1;
            for port in 1..=ports {
                if changes & (1 << port) != 0 {
                    self.service_hub_port(hub_dev, multi_tt, port).await;
                }
            }
        }
    }

    async fn service_hub_port(&mut self, hub_dev: Device, multi_tt: bool, port: u8) {
        // Attaching or detaching may have moved drivers around: find it again.
        let Some(f) = self
            .functions
            .iter_mut()
            .find(|f| f.device().address == hub_dev.address)
        else {
            return;
        };
        let Some(hub) = f.hub() else { return };
        match hub.port_change(&mut self.bus, port).await {
            Ok(PortEvent::Connected(speed)) => {
                let dev = Device::behind_hub(&hub_dev, port, speed, multi_tt);
                if let Err(e) = self.attach(dev).await {
                    defmt::warn!(
                        "usb: device on hub {} port {} failed: {}",
                        hub_dev.address,
                        port,
                        e
                    );
                }
            }
            Ok(PortEvent::Disconnected) => self.detach_port(hub_dev.address, port).await,
            Ok(PortEvent::None) => {}
            Err(e) => defmt::warn!("usb: hub {} port {}: {}", hub_dev.address, port, e),
        }
    }

    /// Drops every device on hub `hub`'s port `port` (and, for hubs, below it).
    async fn detach_port(&mut self, hub: u8, port: u8) {
        let gone: Vec<u8> = self
            .devices
            .iter()
            .filter(|d| d.parent == Some((hub, port)))
            .map(|d| d.address)
            .collect();
        for a in gone {
            Box::pin(self.detach_address(a)).await;
        }
    }

    /// Drops the device on root port `port` and everything below it.
    async fn detach_root(&mut self, port: u8) {
        let gone: Vec<u8> = self
            .devices
            .iter()
            .filter(|d| d.parent.is_none() && d.root_port == port)
            .map(|d| d.address)
            .collect();
        for a in gone {
            self.detach_address(a).await;
        }
    }

    /// Drops device `address`: its children first (if a hub), then its
    /// drivers' pipes, then the controller's record and its address.
    async fn detach_address(&mut self, address: u8) {
        let children: Vec<u8> = self
            .devices
            .iter()
            .filter(|d| d.parent.is_some_and(|(h, _)| h == address))
            .map(|d| d.address)
            .collect();
        for a in children {
            Box::pin(self.detach_address(a)).await;
        }
        let mut i = 0;
        while i < self.functions.len() {
            if self.functions[i].device().address == address {
                let f = self.functions.remove(i);
                defmt::info!("usb: {} at {} detached", f.name(), address);
                self.close(f.pipes()).await;
                if let Some(runner) = f.release_net() {
                    self.bus.net = Some(runner);
                }
            } else {
                i += 1;
            }
        }
        if let Some(pos) = self.devices.iter().position(|d| d.address == address) {
            let dev = self.devices.remove(pos);
            self.bus.hc.remove_device(&dev).await;
        }
        self.bus.free_address(address);
    }

    async fn close(&mut self, pipes: Vec<PipeId>) {
        for p in pipes {
            self.bus.hc.close_pipe(p).await;
        }
    }
}
