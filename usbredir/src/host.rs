//! [`RedirHost`]: the usb-host side of one usbredir stream, sans-IO.
//!
//! It answers the guest's hello, announces the shared device (ep_info,
//! interface_info, device_connect, in usbredirhost.c's order), turns the
//! guest's commands and data packets into [`Request`]s for whoever owns the
//! USB device, and turns their [`Completion`]s into reply packets. Everything
//! it does not support is answered with a failure status rather than ignored
//! (isochronous streams, bulk streams). At most [`MAX_IN_FLIGHT`] requests are
//! queued; a guest that sends more ends the stream.

use crate::caps::Caps;
use crate::packet::{DeviceInfo, EpInfo, InterfaceInfo, Packet};
use crate::parser::{Parser, ParserError};
use crate::proto::*;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Largest packet body accepted from the guest (a bulk transfer of the guest's
/// usb-storage is at most 120 KiB with Linux's default max_sectors).
pub const MAX_PACKET: usize = 1 << 20;
/// Requests queued and not yet completed before the guest is refused.
pub const MAX_IN_FLIGHT: usize = 64;

/// The device as the guest is told about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// device_connect contents.
    pub info: DeviceInfo,
    /// The active configuration's interfaces.
    pub interfaces: InterfaceInfo,
    /// Its endpoints.
    pub eps: EpInfo,
    /// bConfigurationValue of the active configuration.
    pub configuration: u8,
}

/// The SETUP fields of a control transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlSetup {
    /// bmRequestType.
    pub requesttype: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength.
    pub length: u16,
}

/// Work for the owner of the USB device.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // ids and endpoints as in the packets
pub enum Request {
    /// A control transfer on endpoint 0 (`data` for OUT).
    Control {
        id: u64,
        setup: ControlSetup,
        data: Vec<u8>,
    },
    /// A bulk transfer: IN of `length` bytes, or OUT of `data`.
    Bulk {
        id: u64,
        endpoint: u8,
        length: u32,
        data: Vec<u8>,
    },
    /// An interrupt OUT transfer.
    InterruptOut {
        id: u64,
        endpoint: u8,
        data: Vec<u8>,
    },
    /// Start polling interrupt IN `endpoint`; data comes back as
    /// [`Completion::InterruptIn`].
    StartInterruptIn { endpoint: u8 },
    /// Stop polling it.
    StopInterruptIn { endpoint: u8 },
    /// SET_CONFIGURATION (answer with [`Completion::Configuration`]).
    SetConfiguration { id: u64, configuration: u8 },
    /// SET_INTERFACE (answer with [`Completion::AltSetting`]).
    SetAltSetting { id: u64, interface: u8, alt: u8 },
    /// Port reset of the device.
    Reset,
}

/// What the owner of the device reports back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // ids and endpoints as in the packets
pub enum Completion {
    /// A control transfer ended (`data`: what an IN transfer read).
    Control {
        id: u64,
        setup: ControlSetup,
        status: u8,
        length: u16,
        data: Vec<u8>,
    },
    /// A bulk transfer ended (`data`: what an IN transfer read).
    Bulk {
        id: u64,
        endpoint: u8,
        status: u8,
        length: u32,
        data: Vec<u8>,
    },
    /// An interrupt OUT transfer ended.
    InterruptOut {
        id: u64,
        endpoint: u8,
        status: u8,
        length: u16,
    },
    /// Interrupt IN data polled from the device.
    InterruptIn {
        endpoint: u8,
        status: u8,
        data: Vec<u8>,
    },
    /// SET_CONFIGURATION ended; on success the new layout.
    Configuration {
        id: u64,
        status: u8,
        configuration: u8,
        interfaces: InterfaceInfo,
        eps: EpInfo,
    },
    /// SET_INTERFACE ended; on success the new endpoints.
    AltSetting {
        id: u64,
        status: u8,
        interface: u8,
        alt: u8,
        eps: EpInfo,
    },
}

/// `USB_REDIR_SUCCESS` when `ok`, else `USB_REDIR_IOERROR`.
fn success_if(ok: bool) -> u8 {
    if ok {
        USB_REDIR_SUCCESS
    } else {
        USB_REDIR_IOERROR
    }
}

/// One usbredir stream, usb-host side.
pub struct RedirHost {
    parser: Parser,
    out: Vec<u8>,
    device: Option<Attached>,
    announced: bool,
    alt: [u8; MAX_SLOTS],
    requests: VecDeque<Request>,
    in_flight: usize,
    /// The guest's filter rejected the device.
    pub rejected: bool,
}

impl RedirHost {
    /// A stream that starts by sending our hello with `version`.
    pub fn new(version: &[u8]) -> Self {
        let mut out = Vec::new();
        Packet::Hello {
            version: version.to_vec(),
            caps: Caps::OURS,
        }
        .encode(0, Caps::OURS, &mut out);
        Self {
            parser: Parser::for_host(Caps::OURS, MAX_PACKET),
            out,
            device: None,
            announced: false,
            alt: [0; MAX_SLOTS],
            requests: VecDeque::new(),
            in_flight: 0,
            rejected: false,
        }
    }

    /// Bytes to send to the guest (taken).
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// The next request for the device owner.
    pub fn next_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// True once the guest's hello arrived.
    pub fn peer_ready(&self) -> bool {
        self.parser.shared().is_some()
    }

    /// The guest's version string.
    pub fn peer_version(&self) -> &[u8] {
        self.parser.peer_version()
    }

    /// True while a device is announced to the guest.
    pub fn connected(&self) -> bool {
        self.announced
    }

    fn shared(&self) -> Caps {
        self.parser.shared().unwrap_or(Caps(0))
    }

    fn send(&mut self, id: u64, p: Packet) {
        let s = self.shared();
        p.encode(id, s, &mut self.out);
    }

    fn announce(&mut self) {
        let Some(a) = self.device else { return };
        if self.announced || !self.peer_ready() {
            return;
        }
        self.send(0, Packet::EpInfo(a.eps));
        self.send(0, Packet::InterfaceInfo(a.interfaces));
        self.send(0, Packet::DeviceConnect(a.info));
        self.announced = true;
    }

    /// Offers a device to the guest (announced once the guest's hello is in).
    pub fn attach(&mut self, a: Attached) {
        self.device = Some(a);
        self.announced = false;
        self.rejected = false;
        self.alt = [0; MAX_SLOTS];
        self.announce();
    }

    /// The device went away: tells the guest and drops queued requests.
    pub fn detach(&mut self) {
        if self.announced {
            self.send(0, Packet::DeviceDisconnect);
        }
        self.device = None;
        self.announced = false;
        self.requests.clear();
        self.in_flight = 0;
    }

    fn queue(&mut self, r: Request) -> Result<(), ParserError> {
        if self.in_flight >= MAX_IN_FLIGHT {
            return Err(ParserError::TooManyRequests(MAX_IN_FLIGHT));
        }
        if !matches!(
            r,
            Request::StartInterruptIn { .. } | Request::StopInterruptIn { .. } | Request::Reset
        ) {
            self.in_flight += 1;
        }
        self.requests.push_back(r);
        Ok(())
    }

    /// Feeds bytes from the guest.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), ParserError> {
        self.parser.push(data);
        while let Some((id, p)) = self.parser.next_packet()? {
            self.on_packet(id, p)?;
        }
        Ok(())
    }

    fn on_packet(&mut self, id: u64, p: Packet) -> Result<(), ParserError> {
        let have = self.device.is_some() && self.announced;
        match p {
            Packet::Hello { .. } => self.announce(),
            Packet::Reset if have => self.queue(Request::Reset)?,
            Packet::SetConfiguration { configuration } if have => {
                self.queue(Request::SetConfiguration { id, configuration })?
            }
            Packet::SetConfiguration { .. } | Packet::GetConfiguration => {
                let configuration = self.device.map_or(0, |d| d.configuration);
                let status = success_if(have);
                self.send(
                    id,
                    Packet::ConfigurationStatus {
                        status,
                        configuration,
                    },
                );
            }
            Packet::SetAltSetting { interface, alt } if have => {
                self.queue(Request::SetAltSetting { id, interface, alt })?
            }
            Packet::SetAltSetting { interface, .. } | Packet::GetAltSetting { interface } => {
                let alt = self.alt.get(usize::from(interface)).copied().unwrap_or(0);
                let status = success_if(have);
                self.send(
                    id,
                    Packet::AltSettingStatus {
                        status,
                        interface,
                        alt,
                    },
                );
            }
            Packet::StartIsoStream { endpoint, .. } | Packet::StopIsoStream { endpoint } => self
                .send(
                    id,
                    Packet::IsoStreamStatus {
                        status: USB_REDIR_STALL,
                        endpoint,
                    },
                ),
            Packet::StartInterruptReceiving { endpoint } => {
                if have {
                    self.queue(Request::StartInterruptIn { endpoint })?;
                }
                let status = success_if(have);
                self.send(id, Packet::InterruptReceivingStatus { status, endpoint });
            }
            Packet::StopInterruptReceiving { endpoint } => {
                if have {
                    self.queue(Request::StopInterruptIn { endpoint })?;
                }
                self.send(
                    id,
                    Packet::InterruptReceivingStatus {
                        status: USB_REDIR_SUCCESS,
                        endpoint,
                    },
                );
            }
            Packet::AllocBulkStreams {
                endpoints,
                no_streams,
            } => self.send(
                id,
                Packet::BulkStreamsStatus {
                    endpoints,
                    no_streams,
                    status: USB_REDIR_STALL,
                },
            ),
            Packet::FreeBulkStreams { endpoints } => self.send(
                id,
                Packet::BulkStreamsStatus {
                    endpoints,
                    no_streams: 0,
                    status: USB_REDIR_STALL,
                },
            ),
            Packet::FilterReject => {
                self.rejected = true;
                self.detach();
            }
            Packet::Control {
                request,
                requesttype,
                value,
                index,
                length,
                data,
                ..
            } => {
                let setup = ControlSetup {
                    requesttype,
                    request,
                    value,
                    index,
                    length,
                };
                if have {
                    self.queue(Request::Control { id, setup, data })?;
                } else {
                    self.complete(Completion::Control {
                        id,
                        setup,
                        status: USB_REDIR_IOERROR,
                        length: 0,
                        data: Vec::new(),
                    });
                }
            }
            Packet::Bulk {
                endpoint,
                length,
                data,
                ..
            } => {
                if have {
                    self.queue(Request::Bulk {
                        id,
                        endpoint,
                        length,
                        data,
                    })?;
                } else {
                    self.send(
                        id,
                        Packet::Bulk {
                            endpoint,
                            status: USB_REDIR_IOERROR,
                            length: 0,
                            stream_id: 0,
                            data: Vec::new(),
                        },
                    );
                }
            }
            Packet::Interrupt { endpoint, data, .. } => {
                if have {
                    self.queue(Request::InterruptOut { id, endpoint, data })?;
                } else {
                    self.send(
                        id,
                        Packet::Interrupt {
                            endpoint,
                            status: USB_REDIR_IOERROR,
                            length: 0,
                            data: Vec::new(),
                        },
                    );
                }
            }
            // Cancellation is best effort: the transfer still completes and is
            // answered; the guest drops answers it no longer waits for.
            Packet::CancelDataPacket
            | Packet::FilterFilter(_)
            | Packet::DeviceDisconnectAck
            | Packet::Iso { .. }
            | Packet::Reset => {}
            // Host-to-guest packets never reach here (the parser refuses them).
            _ => {}
        }
        Ok(())
    }

    /// Reports a finished request (dropped when the device is gone meanwhile).
    pub fn complete(&mut self, c: Completion) {
        if !matches!(c, Completion::InterruptIn { .. }) {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        match c {
            Completion::Control {
                id,
                setup,
                status,
                length,
                data,
            } => self.send(
                id,
                Packet::Control {
                    endpoint: setup.requesttype & 0x80,
                    request: setup.request,
                    requesttype: setup.requesttype,
                    status,
                    value: setup.value,
                    index: setup.index,
                    length: if setup.requesttype & 0x80 != 0 {
                        data.len() as u16
                    } else {
                        length
                    },
                    data: if setup.requesttype & 0x80 != 0 {
                        data
                    } else {
                        Vec::new()
                    },
                },
            ),
            Completion::Bulk {
                id,
                endpoint,
                status,
                length,
                data,
            } => {
                let is_in = endpoint & 0x80 != 0;
                self.send(
                    id,
                    Packet::Bulk {
                        endpoint,
                        status,
                        length: if is_in { data.len() as u32 } else { length },
                        stream_id: 0,
                        data: if is_in { data } else { Vec::new() },
                    },
                )
            }
            Completion::InterruptOut {
                id,
                endpoint,
                status,
                length,
            } => self.send(
                id,
                Packet::Interrupt {
                    endpoint,
                    status,
                    length,
                    data: Vec::new(),
                },
            ),
            Completion::InterruptIn {
                endpoint,
                status,
                data,
            } => self.send(
                0,
                Packet::Interrupt {
                    endpoint,
                    status,
                    length: data.len() as u16,
                    data,
                },
            ),
            Completion::Configuration {
                id,
                status,
                configuration,
                interfaces,
                eps,
            } => {
                if status == USB_REDIR_SUCCESS {
                    if let Some(d) = &mut self.device {
                        d.configuration = configuration;
                        d.interfaces = interfaces;
                        d.eps = eps;
                    }
                    self.alt = [0; MAX_SLOTS];
                    self.send(0, Packet::EpInfo(eps));
                    self.send(0, Packet::InterfaceInfo(interfaces));
                }
                let configuration = self.device.map_or(0, |d| d.configuration);
                self.send(
                    id,
                    Packet::ConfigurationStatus {
                        status,
                        configuration,
                    },
                );
            }
            Completion::AltSetting {
                id,
                status,
                interface,
                alt,
                eps,
            } => {
                if status == USB_REDIR_SUCCESS {
                    if let Some(a) = self.alt.get_mut(usize::from(interface)) {
                        *a = alt;
                    }
                    if let Some(d) = &mut self.device {
                        d.eps = eps;
                    }
                    self.send(0, Packet::EpInfo(eps));
                }
                let alt = self.alt.get(usize::from(interface)).copied().unwrap_or(0);
                self.send(
                    id,
                    Packet::AltSettingStatus {
                        status,
                        interface,
                        alt,
                    },
                );
            }
        }
    }
}
