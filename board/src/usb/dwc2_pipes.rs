//! The DWC2 behind the [`HostController`] seam: pipes are host channels with
//! their addressing ([`Target`]) and data toggle, control transfers run their
//! three stages on one shared channel, and addresses are set with SET_ADDRESS.
//!
//! Host channels are allocated per transfer (the real core has only 8): a pipe
//! holds a channel only while a transfer is in flight, and a transfer that finds
//! none free waits in the pipe until one is (its pipe stays busy meanwhile). One
//! channel stays reserved for control transfers. A low/full-speed device behind
//! a high-speed hub gets the [`Device::tt`] the core computed as its split route.
//!
//! Owns: the pipe table and the control channel. Must not: touch a register
//! (that is [`super::dwc2`]).
//!
//! Limits: one root port.

use super::controller::{BoxFut, Device, HostController, PipeId, RootPort};
use super::desc::{self, EndpointDescriptor, Setup};
use super::dma::DmaBuf;
use super::dwc2::{Dwc2, Pid, Target};
use super::dwc2_split::SplitRoute;
use super::{Direction, EndpointKind, Speed, UsbError};
use alloc::boxed::Box;
use alloc::vec::Vec;
use embassy_time::Duration;

/// Longest a control transfer stage may take before we give up on it.
const CONTROL_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone, Copy)]
struct PipeState {
    target: Target,
    pid: Pid,
    /// The channel of the transfer in flight.
    ch: Option<u8>,
    /// A started transfer waiting for a free channel: buffer address,
    /// capacity and length.
    queued: Option<(usize, usize, usize)>,
}

/// A DWC2 as a [`HostController`].
pub struct Dwc2Host {
    hc: Dwc2,
    ctrl_ch: u8,
    setup: DmaBuf,
    pipes: Vec<Option<PipeState>>,
    root_was_connected: bool,
}

impl Dwc2Host {
    /// Wraps an initialised controller; claims one channel for control transfers.
    pub fn new(mut hc: Dwc2) -> Result<Self, UsbError> {
        let ctrl_ch = hc.alloc_channel().ok_or(UsbError::NoChannel)?;
        let setup = DmaBuf::new(8).ok_or(UsbError::NoMemory)?;
        Ok(Self {
            hc,
            ctrl_ch,
            setup,
            pipes: Vec::new(),
            root_was_connected: false,
        })
    }

    fn target0(dev: &Device) -> Target {
        Target {
            address: dev.address,
            endpoint: 0,
            direction: Direction::Out,
            kind: EndpointKind::Control,
            max_packet: dev.max_packet0.max(8),
            speed: dev.speed,
            split: Self::split_route(dev),
        }
    }

    /// The TT a device's transfers split through, if it needs one.
    fn split_route(dev: &Device) -> Option<SplitRoute> {
        let tt = dev.tt?;
        Some(SplitRoute {
            hub_address: tt.hub_address,
            port: tt.port,
        })
    }

    /// Starts pipe `i`'s queued transfer if a channel is free.
    fn try_dispatch(&mut self, i: usize) -> Result<(), UsbError> {
        let Some(Some(p)) = self.pipes.get(i).copied() else {
            return Ok(());
        };
        let (Some((addr, cap, len)), None) = (p.queued, p.ch) else {
            return Ok(());
        };
        let Some(ch) = self.hc.alloc_channel() else {
            return Ok(());
        };
        let r = self.hc.start_at(ch, &p.target, p.pid, addr, cap, len);
        if let Some(Some(state)) = self.pipes.get_mut(i) {
            state.queued = None;
            if r.is_ok() {
                state.ch = Some(ch);
            }
        }
        if r.is_err() {
            self.hc.free_channel(ch);
        }
        r
    }

    async fn control_stages(
        &mut self,
        dev: &Device,
        setup: Setup,
        buf: &mut DmaBuf,
    ) -> Result<usize, UsbError> {
        let mut t = Self::target0(dev);
        let ch = self.ctrl_ch;
        self.setup.as_mut_slice()[..8].copy_from_slice(&setup.to_bytes());
        self.hc
            .transfer(ch, &t, Pid::Setup, &self.setup, 8, CONTROL_TIMEOUT)
            .await?;
        let len = usize::from(setup.length);
        if len > buf.len() {
            return Err(UsbError::BufferTooSmall);
        }
        let mut got = 0;
        if len > 0 {
            t.direction = setup.direction();
            got = self
                .hc
                .transfer(ch, &t, Pid::Data1, buf, len, CONTROL_TIMEOUT)
                .await?
                .len;
        }
        // Status stage: opposite direction to the data (IN when there was none).
        t.direction = if len > 0 && setup.direction() == Direction::In {
            Direction::Out
        } else {
            Direction::In
        };
        self.hc
            .transfer(ch, &t, Pid::Data1, &self.setup, 0, CONTROL_TIMEOUT)
            .await?;
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

    fn set_address<'a>(
        &'a mut self,
        dev: &'a mut Device,
        address: u8,
    ) -> BoxFut<'a, Result<(), UsbError>> {
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
                    Err(e @ (UsbError::Transaction | UsbError::Timeout | UsbError::DataToggle)) => {
                        last = e
                    }
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
        let target = Target {
            address: dev.address,
            endpoint: ep.number,
            direction: ep.direction,
            kind: ep.kind,
            max_packet: ep.max_packet,
            speed: dev.speed,
            split: Self::split_route(dev),
        };
        let state = Some(PipeState {
            target,
            pid: Pid::Data0,
            ch: None,
            queued: None,
        });
        let i = match self.pipes.iter().position(Option::is_none) {
            Some(i) => {
                self.pipes[i] = state;
                i
            }
            None => {
                self.pipes.push(state);
                self.pipes.len() - 1
            }
        };
        let r = u16::try_from(i)
            .map(PipeId)
            .map_err(|_| UsbError::NoChannel);
        Box::pin(async move { r })
    }

    fn close_pipe(&mut self, pipe: PipeId) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some(p) = self.pipe(pipe) {
                if let Some(ch) = p.ch {
                    self.hc.halt(ch).await;
                    self.hc.free_channel(ch);
                }
                self.pipes[usize::from(pipe.0)] = None;
            }
        })
    }

    fn start(&mut self, pipe: PipeId, buf: &DmaBuf, len: usize) -> Result<(), UsbError> {
        let i = usize::from(pipe.0);
        let p = self.pipe(pipe).ok_or(UsbError::ChannelBusy)?;
        if p.ch.is_some() || p.queued.is_some() {
            return Err(UsbError::ChannelBusy);
        }
        if let Some(Some(state)) = self.pipes.get_mut(i) {
            state.queued = Some((buf.addr(), buf.len(), len));
        }
        self.try_dispatch(i)
    }

    fn poll(&mut self, pipe: PipeId) -> Option<Result<usize, UsbError>> {
        let i = usize::from(pipe.0);
        let p = self.pipe(pipe)?;
        let Some(ch) = p.ch else {
            // Waiting for a channel: try again now.
            if let Err(e) = self.try_dispatch(i) {
                return Some(Err(e));
            }
            return None;
        };
        let r = self.hc.poll(ch)?;
        self.hc.free_channel(ch);
        if let Some(Some(state)) = self.pipes.get_mut(i) {
            state.ch = None;
            if let Ok(c) = r {
                state.pid = c.next_pid;
            }
        }
        Some(r.map(|c| c.len))
    }

    fn busy(&self, pipe: PipeId) -> bool {
        self.pipe(pipe)
            .is_some_and(|p| p.queued.is_some() || p.ch.is_some_and(|ch| self.hc.busy(ch)))
    }

    fn paces_periodic(&self) -> bool {
        false
    }

    fn service(&mut self) -> BoxFut<'_, ()> {
        Box::pin(async {})
    }
}
