//! The DWC2 behind the [`HostController`] seam: pipes are host channels with
//! their addressing ([`Target`]) and data toggle, control transfers run their
//! three stages on one shared channel, and addresses are set with SET_ADDRESS.
//!
//! Owns: the pipe table and the control channel. Must not: touch a register
//! (that is [`super::dwc2`]).
//!
//! Limits (as before the seam): one root port, no split transactions, so the
//! [`Device::tt`] the core computes is not used yet.

use super::controller::{BoxFut, Device, HostController, PipeId, RootPort};
use super::desc::{self, EndpointDescriptor, Setup};
use super::dma::DmaBuf;
use super::dwc2::{Dwc2, Pid, Target, MAX_CHANNELS};
use super::{Direction, EndpointKind, Speed, UsbError};
use alloc::boxed::Box;
use embassy_time::Duration;

/// Longest a control transfer stage may take before we give up on it.
const CONTROL_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone, Copy)]
struct PipeState {
    ch: u8,
    target: Target,
    pid: Pid,
}

/// A DWC2 as a [`HostController`].
pub struct Dwc2Host {
    hc: Dwc2,
    ctrl_ch: u8,
    setup: DmaBuf,
    pipes: [Option<PipeState>; MAX_CHANNELS],
    root_was_connected: bool,
}

impl Dwc2Host {
    /// Wraps an initialised controller; claims one channel for control transfers.
    pub fn new(mut hc: Dwc2) -> Result<Self, UsbError> {
        let ctrl_ch = hc.alloc_channel().ok_or(UsbError::NoChannel)?;
        let setup = DmaBuf::new(8).ok_or(UsbError::NoMemory)?;
        Ok(Self { hc, ctrl_ch, setup, pipes: [None; MAX_CHANNELS], root_was_connected: false })
    }

    fn target0(dev: &Device) -> Target {
        Target {
            address: dev.address,
            endpoint: 0,
            direction: Direction::Out,
            kind: EndpointKind::Control,
            max_packet: dev.max_packet0.max(8),
            speed: dev.speed,
        }
    }

    async fn control_stages(&mut self, dev: &Device, setup: Setup, buf: &mut DmaBuf) -> Result<usize, UsbError> {
        let mut t = Self::target0(dev);
        let ch = self.ctrl_ch;
        self.setup.as_mut_slice()[..8].copy_from_slice(&setup.to_bytes());
        self.hc.transfer(ch, &t, Pid::Setup, &self.setup, 8, CONTROL_TIMEOUT).await?;
        let len = usize::from(setup.length);
        if len > buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        let mut got = 0;
        if len > 0 {
            t.direction = setup.direction();
            got = self.hc.transfer(ch, &t, Pid::Data1, buf, len, CONTROL_TIMEOUT).await?.len;
        }
        // Status stage: opposite direction to the data (IN when there was none).
        t.direction = if len > 0 && setup.direction() == Direction::In { Direction::Out } else { Direction::In };
        self.hc.transfer(ch, &t, Pid::Data1, &self.setup, 0, CONTROL_TIMEOUT).await?;
        Ok(got)
    }

    fn pipe(&self, pipe: PipeId) -> Option<PipeState> {
        *self.pipes.get(usize::from(pipe.0))?
    }
}

impl HostController for Dwc2Host {
    fn name(&self) -> &'static str {
        "dwc2"
    }

    fn root_ports(&self) -> u8 {
        1
    }

    fn root_port(&mut self, _port: u8) -> RootPort {
        let connected = self.hc.root_connected();
        let changed = connected != self.root_was_connected;
        self.root_was_connected = connected;
        RootPort { connected, changed }
    }

    fn reset_root_port(&mut self, _port: u8) -> BoxFut<'_, Result<Speed, UsbError>> {
        Box::pin(self.hc.reset_root_port())
    }

    fn add_device<'a>(&'a mut self, dev: &'a mut Device) -> BoxFut<'a, Result<(), UsbError>> {
        dev.slot = 0;
        Box::pin(async { Ok(()) })
    }

    fn set_address<'a>(&'a mut self, dev: &'a mut Device, address: u8) -> BoxFut<'a, Result<(), UsbError>> {
        Box::pin(async move {
            let setup = Setup::no_data(0, desc::REQ_SET_ADDRESS, address.into(), 0);
            let mut none = DmaBuf::new(64).ok_or(UsbError::NoMemory)?;
            let mut last = UsbError::Timeout;
            for _ in 0..3 {
                match self.control_stages(dev, setup, &mut none).await {
                    Ok(_) => {
                        dev.address = address;
                        dev.slot = address;
                        return Ok(());
                    }
                    Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => last = e,
                    Err(e) => return Err(e),
                }
            }
            Err(last)
        })
    }

    fn set_hub<'a>(
        &'a mut self,
        _dev: &'a Device,
        _ports: u8,
        _tt: u8,
        _multi: bool,
    ) -> BoxFut<'a, Result<(), UsbError>> {
        Box::pin(async { Ok(()) })
    }

    fn remove_device<'a>(&'a mut self, _dev: &'a Device) -> BoxFut<'a, ()> {
        Box::pin(async {})
    }

    fn control<'a>(
        &'a mut self,
        dev: &'a Device,
        setup: Setup,
        buf: &'a mut DmaBuf,
    ) -> BoxFut<'a, Result<usize, UsbError>> {
        Box::pin(self.control_stages(dev, setup, buf))
    }

    fn open_pipe<'a>(
        &'a mut self,
        dev: &'a Device,
        ep: &'a EndpointDescriptor,
    ) -> BoxFut<'a, Result<PipeId, UsbError>> {
        let r = self.hc.alloc_channel().ok_or(UsbError::NoChannel).map(|ch| {
            let target = Target {
                address: dev.address,
                endpoint: ep.number,
                direction: ep.direction,
                kind: ep.kind,
                max_packet: ep.max_packet,
                speed: dev.speed,
            };
            self.pipes[usize::from(ch)] = Some(PipeState { ch, target, pid: Pid::Data0 });
            PipeId(ch.into())
        });
        Box::pin(async move { r })
    }

    fn close_pipe(&mut self, pipe: PipeId) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some(p) = self.pipe(pipe) {
                self.hc.halt(p.ch).await;
                self.hc.free_channel(p.ch);
                self.pipes[usize::from(pipe.0)] = None;
            }
        })
    }

    fn start(&mut self, pipe: PipeId, buf: &DmaBuf, len: usize) -> Result<(), UsbError> {
        let p = self.pipe(pipe).ok_or(UsbError::ChannelBusy)?;
        self.hc.start(p.ch, &p.target, p.pid, buf, len)
    }

    fn poll(&mut self, pipe: PipeId) -> Option<Result<usize, UsbError>> {
        let p = self.pipe(pipe)?;
        let r = self.hc.poll(p.ch)?;
        if let (Ok(c), Some(Some(state))) = (r, self.pipes.get_mut(usize::from(pipe.0))) {
            state.pid = c.next_pid;
        }
        Some(r.map(|c| c.len))
    }

    fn busy(&self, pipe: PipeId) -> bool {
        self.pipe(pipe).is_some_and(|p| self.hc.busy(p.ch))
    }

    fn paces_periodic(&self) -> bool {
        false
    }

    fn service(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async {})
    }
}
