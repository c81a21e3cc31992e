//! virtio-net as an `embassy-net-driver` NIC (QEMU virt).
//!
//! Receive and transmit go through virtio-drivers' buffered `VirtIONet`;
//! when nothing is ready the driver registers for the device's interrupt
//! (see `irq`) so the executor sleeps until a frame arrives.
//! Must not: know about IP; that is embassy-net's job.

use core::cell::RefCell;
use core::task::Context;
use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::MmioTransport;

use crate::irq::IrqLine;
use crate::virtio::VirtHal;

const QUEUE: usize = 32;
const BUF_LEN: usize = 2048;
const MTU: usize = 1514;

type Dev = VirtIONet<VirtHal, MmioTransport<'static>, QUEUE>;

/// A virtio-net device driven through embassy-net-driver.
pub struct VirtioNic {
    // Boxed: the device keeps its receive buffers inline (kilobytes).
    dev: alloc::boxed::Box<RefCell<Dev>>,
    irq: Option<IrqLine>,
    mac: [u8; 6],
}

impl VirtioNic {
    /// Initialises the device behind `transport`.
    pub fn new(transport: MmioTransport<'static>, irq: Option<IrqLine>) -> Option<Self> {
        let dev = match Dev::new(transport, BUF_LEN) {
            Ok(d) => d,
            Err(e) => {
                defmt::error!("virtio-net init failed: {}", defmt::Debug2Format(&e));
                return None;
            }
        };
        let mac = dev.mac_address();
        Some(Self {
            dev: alloc::boxed::Box::new(RefCell::new(dev)),
            irq,
            mac,
        })
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn sleep(&self, cx: &Context<'_>) {
        match self.irq {
            Some(irq) => {
                irq.register(cx.waker());
                let _ = self.dev.borrow_mut().ack_interrupt();
                irq.unmask();
            }
            // No interrupt line known: poll again soon.
            None => cx.waker().wake_by_ref(),
        }
    }
}

/// A received frame, returned to the device's queue after use.
pub struct NicRx<'a> {
    buf: Option<RxBuffer>,
    dev: &'a RefCell<Dev>,
}

/// Permission to send one frame.
pub struct NicTx<'a> {
    dev: &'a RefCell<Dev>,
}

impl embassy_net_driver::Driver for VirtioNic {
    type RxToken<'a>
        = NicRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = NicTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(NicRx<'_>, NicTx<'_>)> {
        let ready = {
            let d = self.dev.borrow();
            d.can_recv() && d.can_send()
        };
        if !ready {
            self.sleep(cx);
            let d = self.dev.borrow();
            if d.can_recv() && d.can_send() {
                cx.waker().wake_by_ref();
            }
            return None;
        }
        let buf = self.dev.borrow_mut().receive().ok()?;
        Some((
            NicRx {
                buf: Some(buf),
                dev: &self.dev,
            },
            NicTx { dev: &self.dev },
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<NicTx<'_>> {
        if self.dev.borrow().can_send() {
            Some(NicTx { dev: &self.dev })
        } else {
            self.sleep(cx);
            None
        }
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.max_transmission_unit = MTU;
        // No burst limit: smoltcp would cap the TCP window at burst * MSS.
        // QEMU holds frames back while the receive ring is full.
        c.max_burst_size = None;
        c
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}

impl embassy_net_driver::RxToken for NicRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        let mut buf = self.buf.take().expect("rx token consumed once");
        let r = f(buf.packet_mut());
        if let Err(e) = self.dev.borrow_mut().recycle_rx_buffer(buf) {
            defmt::warn!(
                "virtio-net: rx buffer not recycled: {}",
                defmt::Debug2Format(&e)
            );
        }
        r
    }
}

impl embassy_net_driver::TxToken for NicTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut d = self.dev.borrow_mut();
        let mut tx = d.new_tx_buffer(len);
        let r = f(tx.packet_mut());
        if let Err(e) = d.send(tx) {
            defmt::warn!("virtio-net: send failed: {}", defmt::Debug2Format(&e));
        }
        r
    }
}

impl Drop for NicRx<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            let _ = self.dev.borrow_mut().recycle_rx_buffer(buf);
        }
    }
}
