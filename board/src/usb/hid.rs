//! HID class drivers: boot-protocol keyboards, and pointers (mice, tablets,
//! touch screens) described by their report descriptor.
//!
//! Owns: binding HID interfaces (boot protocol for keyboards, the report
//! descriptor for pointers such as QEMU's `usb-tablet`) and polling their
//! interrupt-IN endpoints; the reports are decoded by [`super::report`]. Must
//! not: bind a device whose report descriptor it does not understand.

use super::bus::{any_interface, Bus, ClassDriver, ClassEntry, Context, Pipe};
use super::controller::{Device, HostController, PipeId};
use super::desc::{
    self, DeviceDescriptor, Interface, Setup, REQ_GET_DESCRIPTOR, RT_CLASS, RT_IN, RT_INTERFACE,
};
use super::report::{is_rollover_error, keyboard_diff, PointerLayout};
use super::{Direction, EndpointKind, UsbError};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_time::Instant;

const CLASS_HID: u8 = 3;
const SUBCLASS_BOOT: u8 = 1;
const PROTOCOL_KEYBOARD: u8 = 1;
const DT_REPORT: u8 = 0x22;
const REQ_SET_IDLE: u8 = 0x0a;
const REQ_SET_PROTOCOL: u8 = 0x0b;

/// The HID driver's entry in [`super::classes::CLASSES`].
pub const CLASS: ClassEntry = ClassEntry {
    name: "hid",
    matches,
    probe: |bus, dev, config| Box::pin(probe(bus, dev, config)),
};

/// True for any HID interface (keyboards and pointers are sorted out in probe).
pub fn matches(_d: &DeviceDescriptor, config: &[u8]) -> bool {
    any_interface(config, |i| i.desc.class == CLASS_HID)
}

/// Binds a driver to every HID interface of `dev` it understands.
async fn probe(
    bus: &mut Bus,
    dev: &Device,
    config: &[u8],
) -> Result<Vec<Box<dyn ClassDriver>>, UsbError> {
    let mut bound = Vec::new();
    for iface in
        desc::interfaces(config).filter(|i| i.desc.alternate == 0 && i.desc.class == CLASS_HID)
    {
        match probe_interface(bus, dev, &iface).await {
            Ok(f) => bound.push(f),
            Err(e) => defmt::warn!(
                "usb: hid probe on interface {} failed: {}",
                iface.desc.number,
                e
            ),
        }
    }
    Ok(bound)
}

/// Binds a driver to HID interface `iface` of `dev`.
async fn probe_interface(
    bus: &mut Bus,
    dev: &Device,
    iface: &Interface<'_>,
) -> Result<Box<dyn ClassDriver>, UsbError> {
    let ep = iface
        .find_endpoint(Direction::In, EndpointKind::Interrupt)
        .ok_or(UsbError::BadDescriptor)?;
    let number = u16::from(iface.desc.number);
    let class_if = RT_CLASS | RT_INTERFACE;
    if iface.desc.subclass == SUBCLASS_BOOT && iface.desc.protocol == PROTOCOL_KEYBOARD {
        // Boot protocol: a fixed 8-byte report whatever the report descriptor says.
        bus.control_out(
            dev,
            Setup::no_data(class_if, REQ_SET_PROTOCOL, 0, number),
            &[],
        )
        .await?;
        // Report only on change (idle rate 0). Optional in the spec: ignore a STALL.
        let _ = bus
            .control_out(dev, Setup::no_data(class_if, REQ_SET_IDLE, 0, number), &[])
            .await;
        let pipe = Pipe::open(bus, dev, &ep, 8).await?;
        defmt::info!("usb: boot keyboard at {} interface {}", dev.address, number);
        return Ok(Box::new(Keyboard {
            dev: *dev,
            pipe,
            last: [0; 8],
        }));
    }

    // Everything else: read the report descriptor and look for a pointer.
    let len = hid_report_length(iface).unwrap_or(256).min(512);
    let mut rd = alloc::vec![0u8; usize::from(len)];
    let setup = Setup {
        request_type: RT_IN | RT_INTERFACE,
        request: REQ_GET_DESCRIPTOR,
        value: u16::from(DT_REPORT) << 8,
        index: number,
        length: len,
    };
    let n = bus.control_in(dev, setup, &mut rd).await?;
    let layout = PointerLayout::parse(&rd[..n]).ok_or(UsbError::BadDescriptor)?;
    let _ = bus
        .control_out(dev, Setup::no_data(class_if, REQ_SET_IDLE, 0, number), &[])
        .await;
    let pipe = Pipe::open(bus, dev, &ep, usize::from(ep.max_packet)).await?;
    defmt::info!(
        "usb: {} pointer at {} interface {}",
        if layout.absolute {
            "absolute"
        } else {
            "relative"
        },
        dev.address,
        number
    );
    Ok(Box::new(Pointer {
        dev: *dev,
        pipe,
        layout,
    }))
}

/// wDescriptorLength of the report descriptor, from the interface's HID descriptor.
fn hid_report_length(iface: &Interface<'_>) -> Option<u16> {
    let d = iface.class_descriptors(0x21).next()?;
    // bLength, type, bcdHID(2), country, bNumDescriptors, then (type, length) pairs.
    let count = usize::from(*d.get(5)?);
    (0..count).find_map(|k| {
        let at = 6 + 3 * k;
        if *d.get(at)? == DT_REPORT {
            Some(u16::from_le_bytes([*d.get(at + 1)?, *d.get(at + 2)?]))
        } else {
            None
        }
    })
}

/// A boot-protocol keyboard.
struct Keyboard {
    dev: Device,
    pipe: Pipe,
    last: [u8; 8],
}

impl ClassDriver for Keyboard {
    fn name(&self) -> &'static str {
        "keyboard"
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn pipes(&self) -> Vec<PipeId> {
        alloc::vec![self.pipe.id]
    }

    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>) {
        if let Some(Ok(n)) = self.pipe.poll_in(hc, now, 8) {
            let mut report = [0u8; 8];
            let n = n.min(8);
            report[..n].copy_from_slice(&self.pipe.buf.as_slice()[..n]);
            keyboard_diff(&self.last, &report, cx.input);
            if !is_rollover_error(&report) {
                self.last = report;
            }
        }
    }
}

/// A mouse or tablet in report protocol.
struct Pointer {
    dev: Device,
    pipe: Pipe,
    layout: PointerLayout,
}

impl ClassDriver for Pointer {
    fn name(&self) -> &'static str {
        "pointer"
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn pipes(&self) -> Vec<PipeId> {
        alloc::vec![self.pipe.id]
    }

    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>) {
        let len = usize::from(self.pipe.ep.max_packet);
        if let Some(Ok(n)) = self.pipe.poll_in(hc, now, len) {
            if let Some(ev) = self.layout.decode(&self.pipe.buf.as_slice()[..n]) {
                (cx.input)(ev);
            }
        }
    }
}
