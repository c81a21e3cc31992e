//! Hub class driver (USB 2.0 chapter 11): port power, connect detection through
//! the status-change endpoint, port reset and speed.
//!
//! Owns: one hub's ports and its status-change pipe, and telling the host
//! controller the device is a hub (port count, TT think time, multi-TT).
//! Enumerating what is found on a port is the core's job ([`super::host`]);
//! this module only reports [`PortEvent`]s. Must not: trust the hub's port
//! count or status words beyond their documented bits.

use super::bus::{any_interface, Bus, ClassDriver, ClassEntry, Context, HubPorts, Pipe, PortEvent};
use super::controller::{BoxFut, Device, HostController, PipeId};
use super::desc::{
    DeviceDescriptor, Setup, REQ_CLEAR_FEATURE, REQ_GET_DESCRIPTOR, REQ_GET_STATUS,
    REQ_SET_FEATURE, RT_CLASS, RT_IN, RT_OTHER,
};
use super::{Direction, EndpointKind, Speed, UsbError};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_time::{Duration, Instant, Timer};

/// The hub class code (device and interface).
const CLASS_HUB: u8 = 9;
/// Hub descriptor type.
const DT_HUB: u8 = 0x29;

// Port features (USB 2.0 table 11-17).
const PORT_RESET: u16 = 4;
const PORT_POWER: u16 = 8;
const C_PORT_CONNECTION: u16 = 16;
const C_PORT_ENABLE: u16 = 17;
const C_PORT_SUSPEND: u16 = 18;
const C_PORT_OVER_CURRENT: u16 = 19;
const C_PORT_RESET: u16 = 20;

// wPortStatus / wPortChange bits.
const PS_CONNECTION: u16 = 1 << 0;
const PS_ENABLE: u16 = 1 << 1;
const PS_LOW_SPEED: u16 = 1 << 9;
const PS_HIGH_SPEED: u16 = 1 << 10;
const PC_RESET: u16 = 1 << 4;

/// Most ports a hub may report (the status-change bitmap is then 4 bytes).
const MAX_PORTS: u8 = 31;

/// The hub driver's entry in [`super::classes::CLASSES`].
pub const CLASS: ClassEntry = ClassEntry {
    name: "hub",
    matches,
    probe: |bus, dev, config| Box::pin(probe(bus, dev, config)),
};

/// True for a hub device.
pub fn matches(d: &DeviceDescriptor, config: &[u8]) -> bool {
    d.class == CLASS_HUB || any_interface(config, |i| i.desc.class == CLASS_HUB)
}

async fn probe(
    bus: &mut Bus,
    dev: &Device,
    config: &[u8],
) -> Result<Vec<Box<dyn ClassDriver>>, UsbError> {
    let hub: Box<dyn ClassDriver> = Box::new(Hub::probe(bus, *dev, config).await?);
    Ok(alloc::vec![hub])
}

/// A configured hub.
pub struct Hub {
    dev: Device,
    ports: u8,
    status: Pipe,
    multi_tt: bool,
    pending: u32,
    attached: u32,
}

impl Hub {
    /// Reads the hub descriptor, powers every port and opens the status-change
    /// endpoint. All ports start out pending so already-attached devices are found.
    async fn probe(bus: &mut Bus, dev: Device, config: &[u8]) -> Result<Hub, UsbError> {
        let iface = super::desc::interfaces(config)
            .next()
            .ok_or(UsbError::BadDescriptor)?;
        let ep = iface
            .find_endpoint(Direction::In, EndpointKind::Interrupt)
            .ok_or(UsbError::BadDescriptor)?;
        let mut hd = [0u8; 16];
        let setup = Setup {
            request_type: RT_IN | RT_CLASS,
            request: REQ_GET_DESCRIPTOR,
            value: u16::from(DT_HUB) << 8,
            index: 0,
            length: 16,
        };
        let n = bus.control_in(&dev, setup, &mut hd).await?;
        if n < 7 || hd[1] != DT_HUB {
            return Err(UsbError::BadDescriptor);
        }
        let ports = hd[2].min(MAX_PORTS);
        let characteristics = u16::from_le_bytes([hd[3], hd[4]]);
        // wHubCharacteristics bits 6:5: TT think time in units of 8 FS bit times.
        let think_time = ((characteristics >> 5) & 3) as u8;
        // bDeviceProtocol 2 on a high-speed hub: one TT per port (USB 2.0 §11.23.1).
        let multi_tt = dev.speed == Speed::High && dev.descriptor.protocol == 2;
        let power_good_ms = u64::from(hd[5]) * 2;
        let tt = match (dev.speed, multi_tt) {
            (Speed::High, true) => "one TT per port",
            (Speed::High, false) => "one TT",
            _ => "no TT",
        };
        defmt::info!(
            "usb: hub {} with {} ports ({}, {})",
            dev.address,
            ports,
            dev.speed,
            tt
        );
        bus.hc.set_hub(&dev, ports, think_time, multi_tt).await?;
        for port in 1..=ports {
            bus.control_out(&dev, port_request(REQ_SET_FEATURE, PORT_POWER, port), &[])
                .await?;
        }
        Timer::after_millis(power_good_ms.max(20) + 20).await;
        let status = Pipe::open(bus, &dev, &ep, 8).await?;
        let all = if ports == 0 {
            0
        } else {
            ((1u64 << (ports + 1)) - 2) as u32
        };
        Ok(Hub {
            dev,
            ports,
            status,
            multi_tt,
            pending: all,
            attached: 0,
        })
    }
}

impl ClassDriver for Hub {
    fn name(&self) -> &'static str {
        "hub"
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn pipes(&self) -> Vec<PipeId> {
        alloc::vec![self.status.id]
    }

    fn hub(&mut self) -> Option<&mut dyn HubPorts> {
        Some(self)
    }

    /// Services the status-change endpoint.
    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, _cx: &mut Context<'_>) {
        let len = usize::from(self.ports / 8 + 1);
        if let Some(Ok(n)) = self.status.poll_in(hc, now, len) {
            let mut bits = 0u32;
            for (i, b) in self.status.buf.as_slice()[..n.min(4)].iter().enumerate() {
                bits |= u32::from(*b) << (8 * i);
            }
            // Bit 0 is the hub itself (power/over-current): nothing to enumerate.
            self.pending |= bits & !1;
        }
    }
}

impl HubPorts for Hub {
    fn ports(&self) -> u8 {
        self.ports
    }

    fn multi_tt(&self) -> bool {
        self.multi_tt
    }

    fn take_pending(&mut self) -> u32 {
        core::mem::take(&mut self.pending)
    }

    fn port_change<'a>(
        &'a mut self,
        bus: &'a mut Bus,
        port: u8,
    ) -> BoxFut<'a, Result<PortEvent, UsbError>> {
        Box::pin(self.change(bus, port))
    }
}

impl Hub {
    /// Reads and acknowledges a port's changes; resets a newly attached device.
    async fn change(&mut self, bus: &mut Bus, port: u8) -> Result<PortEvent, UsbError> {
        let (status, change) = port_status(bus, &self.dev, port).await?;
        for (bit, feature) in [
            (0, C_PORT_CONNECTION),
            (1, C_PORT_ENABLE),
            (2, C_PORT_SUSPEND),
            (3, C_PORT_OVER_CURRENT),
            (4, C_PORT_RESET),
        ] {
            if change & (1 << bit) != 0 {
                bus.control_out(
                    &self.dev,
                    port_request(REQ_CLEAR_FEATURE, feature, port),
                    &[],
                )
                .await?;
            }
        }
        let mask = 1u32 << port;
        let was = self.attached & mask != 0;
        let is = status & PS_CONNECTION != 0;
        if was && (!is || change & 1 != 0) {
            self.attached &= !mask;
            if !is {
                return Ok(PortEvent::Disconnected);
            }
        }
        if !is || self.attached & mask != 0 {
            return Ok(PortEvent::None);
        }
        // USB 2.0 §7.1.7.3: let the connection settle, then reset (10-20 ms).
        Timer::after_millis(100).await;
        bus.control_out(
            &self.dev,
            port_request(REQ_SET_FEATURE, PORT_RESET, port),
            &[],
        )
        .await?;
        let end = Instant::now() + Duration::from_millis(500);
        let (status, _) = loop {
            Timer::after_millis(10).await;
            let (s, c) = port_status(bus, &self.dev, port).await?;
            if c & PC_RESET != 0 {
                bus.control_out(
                    &self.dev,
                    port_request(REQ_CLEAR_FEATURE, C_PORT_RESET, port),
                    &[],
                )
                .await?;
                break (s, c);
            }
            if Instant::now() > end {
                return Err(UsbError::Timeout);
            }
        };
        // §7.1.7.5: 10 ms reset recovery.
        Timer::after_millis(10).await;
        if status & PS_ENABLE == 0 {
            return Err(UsbError::PortDisabled);
        }
        self.attached |= mask;
        let speed = if status & PS_LOW_SPEED != 0 {
            Speed::Low
        } else if status & PS_HIGH_SPEED != 0 {
            Speed::High
        } else {
            Speed::Full
        };
        Ok(PortEvent::Connected(speed))
    }
}

fn port_request(request: u8, feature: u16, port: u8) -> Setup {
    Setup::no_data(RT_CLASS | RT_OTHER, request, feature, port.into())
}

async fn port_status(bus: &mut Bus, hub: &Device, port: u8) -> Result<(u16, u16), UsbError> {
    let mut s = [0u8; 4];
    let setup = Setup {
        request_type: RT_IN | RT_CLASS | RT_OTHER,
        request: REQ_GET_STATUS,
        value: 0,
        index: port.into(),
        length: 4,
    };
    let n = bus.control_in(hub, setup, &mut s).await?;
    if n < 4 {
        return Err(UsbError::BadDescriptor);
    }
    Ok((
        u16::from_le_bytes([s[0], s[1]]),
        u16::from_le_bytes([s[2], s[3]]),
    ))
}
