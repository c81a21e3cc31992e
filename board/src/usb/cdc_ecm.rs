//! CDC-ECM (USB Communications Device Class, Ethernet Control Model) class
//! driver: QEMU's `usb-net` and many USB Ethernet adapters and phones.
//!
//! Owns: finding the control/data interface pair, the MAC address string, the
//! data interface's alternate setting and packet filter, and moving frames
//! between the bulk endpoints and an `embassy-net-driver-channel` whose
//! [`NetDevice`] half is the `embassy_net_driver::Driver` handed to embassy-net.
//! Must not: parse Ethernet frames (the stack does), or block: frames that find
//! no free channel buffer are dropped, as a NIC would.

use super::bus::{any_interface, Bus, ClassDriver, ClassEntry, Context, Pipe};
use super::controller::{Device, HostController, PipeId};
use super::desc::{
    self, DeviceDescriptor, Interface, Setup, DT_CS_INTERFACE, REQ_SET_INTERFACE, RT_CLASS,
    RT_INTERFACE,
};
use super::{Direction, EndpointKind, UsbError};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_net_driver::HardwareAddress;
use embassy_time::Instant;

pub use super::net_channel::{channel, NetDevice, NetRunner, NetState, MTU, RX_FRAMES, TX_FRAMES};

/// Bytes asked for per bulk IN transfer (a frame ends early with a short packet).
const RX_REQUEST: usize = 2048;

const CLASS_COMM: u8 = 0x02;
const SUBCLASS_ECM: u8 = 0x06;
const CLASS_CDC_DATA: u8 = 0x0a;
const CDC_UNION: u8 = 0x06;
const CDC_ETHERNET: u8 = 0x0f;
const REQ_SET_ETHERNET_PACKET_FILTER: u8 = 0x43;
/// Directed | broadcast | all-multicast (CDC ECM 1.2 table 8).
const PACKET_FILTER: u16 = 0x0004 | 0x0008 | 0x0002;
/// Notification NETWORK_CONNECTION (CDC 1.2 table 20).
const NOTIFY_NETWORK_CONNECTION: u8 = 0x00;

/// The CDC-ECM driver's entry in [`super::classes::CLASSES`].
pub const CLASS: ClassEntry = ClassEntry {
    name: "cdc-ecm",
    matches,
    probe: |bus, dev, config| Box::pin(probe(bus, dev, config)),
};

fn is_ecm(i: &Interface<'_>) -> bool {
    i.desc.class == CLASS_COMM && i.desc.subclass == SUBCLASS_ECM
}

/// True for a device with a CDC-ECM communication interface.
pub fn matches(_d: &DeviceDescriptor, config: &[u8]) -> bool {
    any_interface(config, is_ecm)
}

/// Binds to the device's ECM function if it has one and the Ethernet channel
/// is free (only one network interface is used).
async fn probe(
    bus: &mut Bus,
    dev: &Device,
    config: &[u8],
) -> Result<Vec<Box<dyn ClassDriver>>, UsbError> {
    let Some(control) = desc::interfaces(config).find(is_ecm) else {
        return Ok(Vec::new());
    };
    if bus.net.is_none() {
        defmt::info!(
            "usb: ethernet at {} not used: another adapter has the network",
            dev.address
        );
        return Ok(Vec::new());
    }
    let (mac, data_if, rx, tx, notify) = bind(bus, dev, config, &control).await?;
    let Some(mut runner) = bus.net.take() else {
        return Ok(Vec::new());
    };
    {
        {
            runner.set_hardware_address(HardwareAddress::Ethernet(mac));
            runner.set_link_state(embassy_net_driver::LinkState::Up);
            defmt::info!(
                "usb: CDC-ECM ethernet at {} (data interface {}), MAC {=[u8]:02x}",
                dev.address,
                data_if,
                mac
            );
            let f: Box<dyn ClassDriver> = Box::new(Ecm {
                dev: *dev,
                rx,
                tx,
                notify,
                runner,
                zlp_pending: false,
                link_up: true,
            });
            Ok(alloc::vec![f])
        }
    }
}

type Bound = ([u8; 6], u8, Pipe, Pipe, Option<Pipe>);

async fn bind(
    bus: &mut Bus,
    dev: &Device,
    config: &[u8],
    control: &Interface<'_>,
) -> Result<Bound, UsbError> {
    // Functional descriptors: the union names the data interface, the Ethernet
    // descriptor names the string that holds the MAC address.
    let mut data_if = control.desc.number.wrapping_add(1);
    let mut mac_string = 0u8;
    for d in control.class_descriptors(DT_CS_INTERFACE) {
        match d.get(2) {
            Some(&CDC_UNION) => data_if = *d.get(4).ok_or(UsbError::BadDescriptor)?,
            Some(&CDC_ETHERNET) => mac_string = *d.get(3).ok_or(UsbError::BadDescriptor)?,
            _ => {}
        }
    }
    let data = desc::interfaces(config)
        .find(|i| {
            i.desc.number == data_if && i.desc.class == CLASS_CDC_DATA && i.desc.endpoints >= 2
        })
        .ok_or(UsbError::BadDescriptor)?;
    let ep_in = data
        .find_endpoint(Direction::In, EndpointKind::Bulk)
        .ok_or(UsbError::BadDescriptor)?;
    let ep_out = data
        .find_endpoint(Direction::Out, EndpointKind::Bulk)
        .ok_or(UsbError::BadDescriptor)?;

    let mut text = [0u8; 12];
    let n = bus.read_string(dev, mac_string, &mut text).await?;
    let mac = desc::mac_from_hex(&text[..n]).ok_or(UsbError::BadDescriptor)?;

    // Alternate setting 0 of the data interface has no endpoints; selecting the
    // one with the bulk pair starts the function (CDC ECM 1.2 §3.3).
    bus.control_out(
        dev,
        Setup::no_data(
            desc::RT_INTERFACE,
            REQ_SET_INTERFACE,
            data.desc.alternate.into(),
            data_if.into(),
        ),
        &[],
    )
    .await?;
    // Optional request: some functions STALL it.
    let _ = bus
        .control_out(
            dev,
            Setup::no_data(
                RT_CLASS | RT_INTERFACE,
                REQ_SET_ETHERNET_PACKET_FILTER,
                PACKET_FILTER,
                control.desc.number.into(),
            ),
            &[],
        )
        .await;

    // Whole packets, more than the largest frame: the device ends each frame with
    // a short (or zero-length) packet. Asking for more than 1536 bytes also keeps
    // QEMU's DWC2 from moving transfers that small one packet per 250 µs.
    let rx = Pipe::open(
        bus,
        dev,
        &ep_in,
        RX_REQUEST.div_ceil(usize::from(ep_in.max_packet)) * usize::from(ep_in.max_packet),
    )
    .await?;
    let tx = Pipe::open(bus, dev, &ep_out, MTU).await?;
    let notify = match control.find_endpoint(Direction::In, EndpointKind::Interrupt) {
        Some(ep) => Some(Pipe::open(bus, dev, &ep, 16).await?),
        None => None,
    };
    Ok((mac, data_if, rx, tx, notify))
}

/// A bound ECM function.
struct Ecm {
    dev: Device,
    rx: Pipe,
    tx: Pipe,
    notify: Option<Pipe>,
    runner: NetRunner,
    zlp_pending: bool,
    link_up: bool,
}

impl ClassDriver for Ecm {
    fn name(&self) -> &'static str {
        "cdc-ecm"
    }

    fn device(&self) -> &Device {
        &self.dev
    }

    fn pipes(&self) -> Vec<PipeId> {
        let mut p = alloc::vec![self.rx.id, self.tx.id];
        p.extend(self.notify.as_ref().map(|n| n.id));
        p
    }

    fn release_net(mut self: Box<Self>) -> Option<NetRunner> {
        self.runner
            .set_link_state(embassy_net_driver::LinkState::Down);
        Some(self.runner)
    }

    fn poll(&mut self, hc: &mut dyn HostController, now: Instant, cx: &mut Context<'_>) {
        // Receive: one bulk IN transfer is always outstanding; the hardware
        // retries NAKs until the device has a frame.
        let rx_len = self.rx.buf.len();
        if let Some(r) = self.rx.poll_in(hc, now, rx_len) {
            match r {
                Ok(n) if n > 0 && n <= MTU => {
                    if let Some(buf) = self.runner.try_rx_buf() {
                        let n = n.min(buf.len());
                        buf[..n].copy_from_slice(&self.rx.buf.as_slice()[..n]);
                        self.runner.rx_done(n);
                    }
                    cx.active = true;
                    // Queue the next receive now rather than next round.
                    let _ = self.rx.poll_in(hc, now, rx_len);
                }
                Ok(_) => {}
                Err(e) => defmt::debug!("usb: ecm rx {}", e),
            }
        }

        // Transmit: one frame at a time; a frame that is a whole number of
        // packets is followed by a zero-length packet to end it.
        if self.tx.busy(hc) {
            if let Some(Err(e)) = self.tx.poll_out(hc) {
                defmt::debug!("usb: ecm tx {}", e);
            }
        }
        if !self.tx.busy(hc) {
            if self.zlp_pending {
                self.zlp_pending = false;
                let _ = self.tx.start_out(hc, &[]);
            } else if let Some(frame) = self.runner.try_tx_buf() {
                let n = frame.len().min(MTU);
                let mps = usize::from(self.tx.ep.max_packet);
                let result = self.tx.start_out(hc, &frame[..n]);
                self.runner.tx_done();
                cx.active = true;
                match result {
                    Ok(()) => self.zlp_pending = n % mps == 0,
                    Err(e) => defmt::debug!("usb: ecm tx start {}", e),
                }
            }
        }

        // Link notifications (CDC 1.2 §6.3.1): an 8-byte header, wValue = 1 for up.
        if let Some(p) = self.notify.as_mut() {
            if let Some(Ok(n)) = p.poll_in(hc, now, 16) {
                let b = p.buf.as_slice();
                if n >= 8 && b[1] == NOTIFY_NETWORK_CONNECTION {
                    let up = b[2] != 0;
                    // Devices repeat the notification; log changes only.
                    if up != self.link_up {
                        self.link_up = up;
                        defmt::info!("usb: ecm link {}", if up { "up" } else { "down" });
                        self.runner.set_link_state(if up {
                            embassy_net_driver::LinkState::Up
                        } else {
                            embassy_net_driver::LinkState::Down
                        });
                    }
                }
            }
        }
    }
}
