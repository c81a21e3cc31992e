//! usbredir packets: decoding the bytes after the header and encoding whole
//! packets, with the type-header lengths that depend on the capabilities both
//! sides share (`usbredirparser_get_type_header_len` in usbredirparser.c) and
//! its rules for which direction may carry data.
//!
//! Direction: `from_host` is true for packets the usb-host (barespice, the side
//! with the real device) sends and false for what the usb-guest (QEMU's
//! `usb-redir`) sends. A packet type sent the wrong way is an error, as in
//! `usbredirparser.c`.

use crate::caps::Caps;
use crate::proto::*;
use alloc::vec::Vec;
use core::fmt;

/// What a device_connect packet says (`usb_redir_device_connect_header`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `USB_REDIR_SPEED_*`.
    pub speed: u8,
    /// bDeviceClass.
    pub class: u8,
    /// bDeviceSubClass.
    pub subclass: u8,
    /// bDeviceProtocol.
    pub protocol: u8,
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// bcdDevice (sent only with `USB_REDIR_CAP_CONNECT_DEVICE_VERSION`).
    pub device_version_bcd: u16,
}

/// `usb_redir_interface_info_header`: the active configuration's interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Entries used (at most 32).
    pub count: u32,
    /// bInterfaceNumber of each.
    pub interface: [u8; MAX_SLOTS],
    /// bInterfaceClass.
    pub class: [u8; MAX_SLOTS],
    /// bInterfaceSubClass.
    pub subclass: [u8; MAX_SLOTS],
    /// bInterfaceProtocol.
    pub protocol: [u8; MAX_SLOTS],
}

impl Default for InterfaceInfo {
    fn default() -> Self {
        Self {
            count: 0,
            interface: [0; MAX_SLOTS],
            class: [0; MAX_SLOTS],
            subclass: [0; MAX_SLOTS],
            protocol: [0; MAX_SLOTS],
        }
    }
}

/// `usb_redir_ep_info_header`, indexed by [`ep_index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpInfo {
    /// `USB_REDIR_TYPE_*` (INVALID where there is no endpoint).
    pub ty: [u8; MAX_SLOTS],
    /// bInterval.
    pub interval: [u8; MAX_SLOTS],
    /// Interface number the endpoint belongs to.
    pub interface: [u8; MAX_SLOTS],
    /// wMaxPacketSize (with `USB_REDIR_CAP_EP_INFO_MAX_PACKET_SIZE`).
    pub max_packet_size: [u16; MAX_SLOTS],
    /// Bulk streams (with `USB_REDIR_CAP_BULK_STREAMS`).
    pub max_streams: [u32; MAX_SLOTS],
}

impl Default for EpInfo {
    /// No endpoints but the two halves of endpoint 0 (control).
    fn default() -> Self {
        let mut ty = [USB_REDIR_TYPE_INVALID; MAX_SLOTS];
        ty[ep_index(0x00)] = USB_REDIR_TYPE_CONTROL;
        ty[ep_index(0x80)] = USB_REDIR_TYPE_CONTROL;
        Self {
            ty,
            interval: [0; MAX_SLOTS],
            interface: [0; MAX_SLOTS],
            max_packet_size: [0; MAX_SLOTS],
            max_streams: [0; MAX_SLOTS],
        }
    }
}

/// One usbredir packet (after the header).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields are named as in usbredirproto.h
pub enum Packet {
    /// Version string (up to 64 bytes, NUL-padded) and capabilities.
    Hello {
        version: Vec<u8>,
        caps: Caps,
    },
    DeviceConnect(DeviceInfo),
    DeviceDisconnect,
    Reset,
    InterfaceInfo(InterfaceInfo),
    EpInfo(EpInfo),
    SetConfiguration {
        configuration: u8,
    },
    GetConfiguration,
    ConfigurationStatus {
        status: u8,
        configuration: u8,
    },
    SetAltSetting {
        interface: u8,
        alt: u8,
    },
    GetAltSetting {
        interface: u8,
    },
    AltSettingStatus {
        status: u8,
        interface: u8,
        alt: u8,
    },
    StartIsoStream {
        endpoint: u8,
        pkts_per_urb: u8,
        no_urbs: u8,
    },
    StopIsoStream {
        endpoint: u8,
    },
    IsoStreamStatus {
        status: u8,
        endpoint: u8,
    },
    StartInterruptReceiving {
        endpoint: u8,
    },
    StopInterruptReceiving {
        endpoint: u8,
    },
    InterruptReceivingStatus {
        status: u8,
        endpoint: u8,
    },
    AllocBulkStreams {
        endpoints: u32,
        no_streams: u32,
    },
    FreeBulkStreams {
        endpoints: u32,
    },
    BulkStreamsStatus {
        endpoints: u32,
        no_streams: u32,
        status: u8,
    },
    /// Cancels the data packet whose id is this packet's id.
    CancelDataPacket,
    FilterReject,
    /// The rules string, without its terminating NUL.
    FilterFilter(Vec<u8>),
    DeviceDisconnectAck,
    /// A control transfer: request (guest) or completion (host). `length` is
    /// wLength in a request and the bytes moved in a completion.
    Control {
        endpoint: u8,
        request: u8,
        requesttype: u8,
        status: u8,
        value: u16,
        index: u16,
        length: u16,
        data: Vec<u8>,
    },
    /// A bulk transfer (request or completion).
    Bulk {
        endpoint: u8,
        status: u8,
        length: u32,
        stream_id: u32,
        data: Vec<u8>,
    },
    /// An isochronous packet.
    Iso {
        endpoint: u8,
        status: u8,
        length: u16,
        data: Vec<u8>,
    },
    /// An interrupt transfer (OUT request/completion, or IN data the host polled).
    Interrupt {
        endpoint: u8,
        status: u8,
        length: u16,
        data: Vec<u8>,
    },
}

/// Why a packet was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields are what the Display text names
pub enum PacketError {
    /// Unknown type, or a type this side must not receive / send.
    UnexpectedType(u32),
    /// Fewer bytes than the type header needs.
    Short { ty: u32, len: usize },
    /// Data where none is allowed, or data length != the header's length.
    DataLength {
        ty: u32,
        endpoint: u8,
        header: u32,
        data: usize,
    },
    /// A packet type that needs a capability not negotiated.
    MissingCap { ty: u32, cap: u32 },
    /// interface_info with more than 32 interfaces.
    TooManyInterfaces(u32),
    /// An endpoint address of the wrong direction for this packet.
    WrongDirection { ty: u32, endpoint: u8 },
    /// filter_filter data not NUL-terminated.
    FilterNotTerminated,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnexpectedType(t) => write!(f, "usbredir packet type {t} not expected here"),
            Self::Short { ty, len } => write!(f, "usbredir packet type {ty} too short ({len} bytes)"),
            Self::DataLength { ty, endpoint, header, data } => write!(
                f,
                "usbredir packet type {ty} ep {endpoint:02x}: {data} data bytes, header says {header}"
            ),
            Self::MissingCap { ty, cap } => {
                write!(f, "usbredir packet type {ty} without capability {cap}")
            }
            Self::TooManyInterfaces(n) => write!(f, "usbredir interface_info with {n} interfaces"),
            Self::WrongDirection { ty, endpoint } => {
                write!(f, "usbredir packet type {ty} on endpoint {endpoint:02x} of the wrong direction")
            }
            Self::FilterNotTerminated => write!(f, "usbredir filter_filter not NUL-terminated"),
        }
    }
}

/// Which side may send a packet type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    Host,
    Guest,
    Both,
}

/// Length of the type-specific header of `ty` sent by `from_host`'s side,
/// `None` for a type that side must not send (usbredirparser.c's
/// `usbredirparser_get_type_header_len`).
pub fn type_header_len(ty: u32, shared: Caps, from_host: bool) -> Option<usize> {
    let (sender, len) = match ty {
        USB_REDIR_HELLO => (Sender::Both, HELLO_VERSION_LEN),
        USB_REDIR_DEVICE_CONNECT => (
            Sender::Host,
            if shared.has(USB_REDIR_CAP_CONNECT_DEVICE_VERSION) {
                10
            } else {
                8
            },
        ),
        USB_REDIR_DEVICE_DISCONNECT => (Sender::Host, 0),
        USB_REDIR_RESET => (Sender::Guest, 0),
        USB_REDIR_INTERFACE_INFO => (Sender::Host, 4 + 4 * MAX_SLOTS),
        USB_REDIR_EP_INFO => (
            Sender::Host,
            if shared.has(USB_REDIR_CAP_BULK_STREAMS) {
                3 * MAX_SLOTS + 2 * MAX_SLOTS + 4 * MAX_SLOTS
            } else if shared.has(USB_REDIR_CAP_EP_INFO_MAX_PACKET_SIZE) {
                3 * MAX_SLOTS + 2 * MAX_SLOTS
            } else {
                3 * MAX_SLOTS
            },
        ),
        USB_REDIR_SET_CONFIGURATION => (Sender::Guest, 1),
        USB_REDIR_GET_CONFIGURATION => (Sender::Guest, 0),
        USB_REDIR_CONFIGURATION_STATUS => (Sender::Host, 2),
        USB_REDIR_SET_ALT_SETTING => (Sender::Guest, 2),
        USB_REDIR_GET_ALT_SETTING => (Sender::Guest, 1),
        USB_REDIR_ALT_SETTING_STATUS => (Sender::Host, 3),
        USB_REDIR_START_ISO_STREAM => (Sender::Guest, 3),
        USB_REDIR_STOP_ISO_STREAM => (Sender::Guest, 1),
        USB_REDIR_ISO_STREAM_STATUS => (Sender::Host, 2),
        USB_REDIR_START_INTERRUPT_RECEIVING => (Sender::Guest, 1),
        USB_REDIR_STOP_INTERRUPT_RECEIVING => (Sender::Guest, 1),
        USB_REDIR_INTERRUPT_RECEIVING_STATUS => (Sender::Host, 2),
        USB_REDIR_ALLOC_BULK_STREAMS => (Sender::Guest, 8),
        USB_REDIR_FREE_BULK_STREAMS => (Sender::Guest, 4),
        USB_REDIR_BULK_STREAMS_STATUS => (Sender::Host, 9),
        USB_REDIR_CANCEL_DATA_PACKET => (Sender::Guest, 0),
        USB_REDIR_FILTER_REJECT => (Sender::Guest, 0),
        USB_REDIR_FILTER_FILTER => (Sender::Both, 0),
        USB_REDIR_DEVICE_DISCONNECT_ACK => (Sender::Guest, 0),
        USB_REDIR_START_BULK_RECEIVING => (Sender::Guest, 10),
        USB_REDIR_STOP_BULK_RECEIVING => (Sender::Guest, 5),
        USB_REDIR_BULK_RECEIVING_STATUS => (Sender::Host, 6),
        USB_REDIR_CONTROL_PACKET => (Sender::Both, 10),
        USB_REDIR_BULK_PACKET => (
            Sender::Both,
            if shared.has(USB_REDIR_CAP_32BITS_BULK_LENGTH) {
                10
            } else {
                8
            },
        ),
        USB_REDIR_ISO_PACKET => (Sender::Both, 4),
        USB_REDIR_INTERRUPT_PACKET => (Sender::Both, 4),
        USB_REDIR_BUFFERED_BULK_PACKET => (Sender::Host, 10),
        _ => return None,
    };
    match (sender, from_host) {
        (Sender::Both, _) | (Sender::Host, true) | (Sender::Guest, false) => Some(len),
        _ => None,
    }
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn arr(b: &[u8]) -> [u8; MAX_SLOTS] {
    let mut a = [0u8; MAX_SLOTS];
    a.copy_from_slice(&b[..MAX_SLOTS]);
    a
}

/// Checks the data of a data packet: it goes with IN completions (host) and
/// OUT requests (guest), and its length must equal the header's
/// (`usbredirparser_verify_type_header`).
fn check_data(
    ty: u32,
    endpoint: u8,
    header: u32,
    data: &[u8],
    from_host: bool,
) -> Result<(), PacketError> {
    let is_in = endpoint & 0x80 != 0;
    let carries = is_in == from_host;
    if carries {
        if data.len() as u64 != u64::from(header) {
            return Err(PacketError::DataLength {
                ty,
                endpoint,
                header,
                data: data.len(),
            });
        }
    } else {
        if !data.is_empty() {
            return Err(PacketError::DataLength {
                ty,
                endpoint,
                header,
                data: data.len(),
            });
        }
        let wrong = match ty {
            USB_REDIR_ISO_PACKET => true,
            USB_REDIR_INTERRUPT_PACKET => !from_host,
            _ => false,
        };
        if wrong {
            return Err(PacketError::WrongDirection { ty, endpoint });
        }
    }
    Ok(())
}

impl Packet {
    /// Decodes the body (type header + data) of a packet of type `ty` sent by
    /// the host (`from_host`) or the guest, with `shared` capabilities.
    pub fn decode(
        ty: u32,
        body: &[u8],
        shared: Caps,
        from_host: bool,
    ) -> Result<Packet, PacketError> {
        let hl = type_header_len(ty, shared, from_host).ok_or(PacketError::UnexpectedType(ty))?;
        if body.len() < hl {
            return Err(PacketError::Short {
                ty,
                len: body.len(),
            });
        }
        let (h, data) = body.split_at(hl);
        let no_data = |p: Packet| -> Result<Packet, PacketError> {
            if data.is_empty() {
                Ok(p)
            } else {
                Err(PacketError::DataLength {
                    ty,
                    endpoint: 0,
                    header: 0,
                    data: data.len(),
                })
            }
        };
        let need = |cap: u32| -> Result<(), PacketError> {
            if shared.has(cap) {
                Ok(())
            } else {
                Err(PacketError::MissingCap { ty, cap })
            }
        };
        let in_ep = |endpoint: u8| -> Result<(), PacketError> {
            if endpoint & 0x80 != 0 {
                Ok(())
            } else {
                Err(PacketError::WrongDirection { ty, endpoint })
            }
        };
        match ty {
            USB_REDIR_HELLO => {
                let end = h.iter().position(|&c| c == 0).unwrap_or(HELLO_VERSION_LEN);
                // Capability words beyond the ones we know are ignored, as
                // usbredirparser.c does.
                let caps = if data.len() >= 4 {
                    Caps(u32le(data, 0))
                } else {
                    Caps(0)
                };
                Ok(Packet::Hello {
                    version: h[..end].to_vec(),
                    caps,
                })
            }
            USB_REDIR_DEVICE_CONNECT => no_data(Packet::DeviceConnect(DeviceInfo {
                speed: h[0],
                class: h[1],
                subclass: h[2],
                protocol: h[3],
                vendor_id: u16le(h, 4),
                product_id: u16le(h, 6),
                device_version_bcd: if hl >= 10 { u16le(h, 8) } else { 0 },
            })),
            USB_REDIR_DEVICE_DISCONNECT => no_data(Packet::DeviceDisconnect),
            USB_REDIR_RESET => no_data(Packet::Reset),
            USB_REDIR_INTERFACE_INFO => {
                let count = u32le(h, 0);
                if count > MAX_SLOTS as u32 {
                    return Err(PacketError::TooManyInterfaces(count));
                }
                no_data(Packet::InterfaceInfo(InterfaceInfo {
                    count,
                    interface: arr(&h[4..]),
                    class: arr(&h[4 + MAX_SLOTS..]),
                    subclass: arr(&h[4 + 2 * MAX_SLOTS..]),
                    protocol: arr(&h[4 + 3 * MAX_SLOTS..]),
                }))
            }
            USB_REDIR_EP_INFO => {
                let mut e = EpInfo {
                    ty: arr(h),
                    interval: arr(&h[MAX_SLOTS..]),
                    interface: arr(&h[2 * MAX_SLOTS..]),
                    ..EpInfo::default()
                };
                if hl > 3 * MAX_SLOTS {
                    for i in 0..MAX_SLOTS {
                        e.max_packet_size[i] = u16le(h, 3 * MAX_SLOTS + 2 * i);
                    }
                }
                if hl > 5 * MAX_SLOTS {
                    for i in 0..MAX_SLOTS {
                        e.max_streams[i] = u32le(h, 5 * MAX_SLOTS + 4 * i);
                    }
                }
                no_data(Packet::EpInfo(e))
            }
            USB_REDIR_SET_CONFIGURATION => no_data(Packet::SetConfiguration {
                configuration: h[0],
            }),
            USB_REDIR_GET_CONFIGURATION => no_data(Packet::GetConfiguration),
            USB_REDIR_CONFIGURATION_STATUS => no_data(Packet::ConfigurationStatus {
                status: h[0],
                configuration: h[1],
            }),
            USB_REDIR_SET_ALT_SETTING => no_data(Packet::SetAltSetting {
                interface: h[0],
                alt: h[1],
            }),
            USB_REDIR_GET_ALT_SETTING => no_data(Packet::GetAltSetting { interface: h[0] }),
            USB_REDIR_ALT_SETTING_STATUS => no_data(Packet::AltSettingStatus {
                status: h[0],
                interface: h[1],
                alt: h[2],
            }),
            USB_REDIR_START_ISO_STREAM => no_data(Packet::StartIsoStream {
                endpoint: h[0],
                pkts_per_urb: h[1],
                no_urbs: h[2],
            }),
            USB_REDIR_STOP_ISO_STREAM => no_data(Packet::StopIsoStream { endpoint: h[0] }),
            USB_REDIR_ISO_STREAM_STATUS => no_data(Packet::IsoStreamStatus {
                status: h[0],
                endpoint: h[1],
            }),
            USB_REDIR_START_INTERRUPT_RECEIVING => {
                in_ep(h[0])?;
                no_data(Packet::StartInterruptReceiving { endpoint: h[0] })
            }
            USB_REDIR_STOP_INTERRUPT_RECEIVING => {
                in_ep(h[0])?;
                no_data(Packet::StopInterruptReceiving { endpoint: h[0] })
            }
            USB_REDIR_INTERRUPT_RECEIVING_STATUS => {
                in_ep(h[1])?;
                no_data(Packet::InterruptReceivingStatus {
                    status: h[0],
                    endpoint: h[1],
                })
            }
            USB_REDIR_ALLOC_BULK_STREAMS => no_data(Packet::AllocBulkStreams {
                endpoints: u32le(h, 0),
                no_streams: u32le(h, 4),
            }),
            USB_REDIR_FREE_BULK_STREAMS => no_data(Packet::FreeBulkStreams {
                endpoints: u32le(h, 0),
            }),
            USB_REDIR_BULK_STREAMS_STATUS => no_data(Packet::BulkStreamsStatus {
                endpoints: u32le(h, 0),
                no_streams: u32le(h, 4),
                status: h[8],
            }),
            USB_REDIR_CANCEL_DATA_PACKET => no_data(Packet::CancelDataPacket),
            USB_REDIR_FILTER_REJECT => {
                need(USB_REDIR_CAP_FILTER)?;
                no_data(Packet::FilterReject)
            }
            USB_REDIR_FILTER_FILTER => {
                need(USB_REDIR_CAP_FILTER)?;
                match data.split_last() {
                    Some((0, rules)) => Ok(Packet::FilterFilter(rules.to_vec())),
                    _ => Err(PacketError::FilterNotTerminated),
                }
            }
            USB_REDIR_DEVICE_DISCONNECT_ACK => {
                need(USB_REDIR_CAP_DEVICE_DISCONNECT_ACK)?;
                no_data(Packet::DeviceDisconnectAck)
            }
            USB_REDIR_START_BULK_RECEIVING
            | USB_REDIR_STOP_BULK_RECEIVING
            | USB_REDIR_BULK_RECEIVING_STATUS
            | USB_REDIR_BUFFERED_BULK_PACKET => Err(PacketError::MissingCap {
                ty,
                cap: USB_REDIR_CAP_BULK_RECEIVING,
            }),
            USB_REDIR_CONTROL_PACKET => {
                let (endpoint, length) = (h[0], u16le(h, 8));
                check_data(ty, endpoint, u32::from(length), data, from_host)?;
                Ok(Packet::Control {
                    endpoint,
                    request: h[1],
                    requesttype: h[2],
                    status: h[3],
                    value: u16le(h, 4),
                    index: u16le(h, 6),
                    length,
                    data: data.to_vec(),
                })
            }
            USB_REDIR_BULK_PACKET => {
                let endpoint = h[0];
                let high = if hl >= 10 { u32::from(u16le(h, 8)) } else { 0 };
                let length = u32::from(u16le(h, 2)) | high << 16;
                check_data(ty, endpoint, length, data, from_host)?;
                Ok(Packet::Bulk {
                    endpoint,
                    status: h[1],
                    length,
                    stream_id: u32le(h, 4),
                    data: data.to_vec(),
                })
            }
            USB_REDIR_ISO_PACKET | USB_REDIR_INTERRUPT_PACKET => {
                let (endpoint, length) = (h[0], u16le(h, 2));
                check_data(ty, endpoint, u32::from(length), data, from_host)?;
                let (status, data) = (h[1], data.to_vec());
                Ok(if ty == USB_REDIR_ISO_PACKET {
                    Packet::Iso {
                        endpoint,
                        status,
                        length,
                        data,
                    }
                } else {
                    Packet::Interrupt {
                        endpoint,
                        status,
                        length,
                        data,
                    }
                })
            }
            _ => Err(PacketError::UnexpectedType(ty)),
        }
    }

    /// The packet's `USB_REDIR_*` type.
    pub fn ty(&self) -> u32 {
        match self {
            Packet::Hello { .. } => USB_REDIR_HELLO,
            Packet::DeviceConnect(_) => USB_REDIR_DEVICE_CONNECT,
            Packet::DeviceDisconnect => USB_REDIR_DEVICE_DISCONNECT,
            Packet::Reset => USB_REDIR_RESET,
            Packet::InterfaceInfo(_) => USB_REDIR_INTERFACE_INFO,
            Packet::EpInfo(_) => USB_REDIR_EP_INFO,
            Packet::SetConfiguration { .. } => USB_REDIR_SET_CONFIGURATION,
            Packet::GetConfiguration => USB_REDIR_GET_CONFIGURATION,
            Packet::ConfigurationStatus { .. } => USB_REDIR_CONFIGURATION_STATUS,
            Packet::SetAltSetting { .. } => USB_REDIR_SET_ALT_SETTING,
            Packet::GetAltSetting { .. } => USB_REDIR_GET_ALT_SETTING,
            Packet::AltSettingStatus { .. } => USB_REDIR_ALT_SETTING_STATUS,
            Packet::StartIsoStream { .. } => USB_REDIR_START_ISO_STREAM,
            Packet::StopIsoStream { .. } => USB_REDIR_STOP_ISO_STREAM,
            Packet::IsoStreamStatus { .. } => USB_REDIR_ISO_STREAM_STATUS,
            Packet::StartInterruptReceiving { .. } => USB_REDIR_START_INTERRUPT_RECEIVING,
            Packet::StopInterruptReceiving { .. } => USB_REDIR_STOP_INTERRUPT_RECEIVING,
            Packet::InterruptReceivingStatus { .. } => USB_REDIR_INTERRUPT_RECEIVING_STATUS,
            Packet::AllocBulkStreams { .. } => USB_REDIR_ALLOC_BULK_STREAMS,
            Packet::FreeBulkStreams { .. } => USB_REDIR_FREE_BULK_STREAMS,
            Packet::BulkStreamsStatus { .. } => USB_REDIR_BULK_STREAMS_STATUS,
            Packet::CancelDataPacket => USB_REDIR_CANCEL_DATA_PACKET,
            Packet::FilterReject => USB_REDIR_FILTER_REJECT,
            Packet::FilterFilter(_) => USB_REDIR_FILTER_FILTER,
            Packet::DeviceDisconnectAck => USB_REDIR_DEVICE_DISCONNECT_ACK,
            Packet::Control { .. } => USB_REDIR_CONTROL_PACKET,
            Packet::Bulk { .. } => USB_REDIR_BULK_PACKET,
            Packet::Iso { .. } => USB_REDIR_ISO_PACKET,
            Packet::Interrupt { .. } => USB_REDIR_INTERRUPT_PACKET,
        }
    }

    /// Appends the whole packet (header, type header, data) to `out`. The
    /// header carries a 64-bit id when `shared` has 64-bit ids, except for
    /// hello, which always goes before the peer's capabilities are known
    /// (32-bit id header).
    pub fn encode(&self, id: u64, shared: Caps, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        let b = &mut body;
        match self {
            Packet::Hello { version, caps } => {
                let mut v = [0u8; HELLO_VERSION_LEN];
                let n = version.len().min(HELLO_VERSION_LEN - 1);
                v[..n].copy_from_slice(&version[..n]);
                b.extend_from_slice(&v);
                b.extend_from_slice(&caps.0.to_le_bytes());
            }
            Packet::DeviceConnect(d) => {
                b.extend_from_slice(&[d.speed, d.class, d.subclass, d.protocol]);
                b.extend_from_slice(&d.vendor_id.to_le_bytes());
                b.extend_from_slice(&d.product_id.to_le_bytes());
                if shared.has(USB_REDIR_CAP_CONNECT_DEVICE_VERSION) {
                    b.extend_from_slice(&d.device_version_bcd.to_le_bytes());
                }
            }
            Packet::DeviceDisconnect
            | Packet::Reset
            | Packet::GetConfiguration
            | Packet::CancelDataPacket
            | Packet::FilterReject
            | Packet::DeviceDisconnectAck => {}
            Packet::InterfaceInfo(i) => {
                b.extend_from_slice(&i.count.to_le_bytes());
                for a in [&i.interface, &i.class, &i.subclass, &i.protocol] {
                    b.extend_from_slice(a);
                }
            }
            Packet::EpInfo(e) => {
                b.extend_from_slice(&e.ty);
                b.extend_from_slice(&e.interval);
                b.extend_from_slice(&e.interface);
                if shared.has(USB_REDIR_CAP_EP_INFO_MAX_PACKET_SIZE)
                    || shared.has(USB_REDIR_CAP_BULK_STREAMS)
                {
                    for m in e.max_packet_size {
                        b.extend_from_slice(&m.to_le_bytes());
                    }
                }
                if shared.has(USB_REDIR_CAP_BULK_STREAMS) {
                    for m in e.max_streams {
                        b.extend_from_slice(&m.to_le_bytes());
                    }
                }
            }
            Packet::SetConfiguration { configuration } => b.push(*configuration),
            Packet::ConfigurationStatus {
                status,
                configuration,
            } => b.extend_from_slice(&[*status, *configuration]),
            Packet::SetAltSetting { interface, alt } => b.extend_from_slice(&[*interface, *alt]),
            Packet::GetAltSetting { interface } => b.push(*interface),
            Packet::AltSettingStatus {
                status,
                interface,
                alt,
            } => b.extend_from_slice(&[*status, *interface, *alt]),
            Packet::StartIsoStream {
                endpoint,
                pkts_per_urb,
                no_urbs,
            } => b.extend_from_slice(&[*endpoint, *pkts_per_urb, *no_urbs]),
            Packet::StopIsoStream { endpoint }
            | Packet::StartInterruptReceiving { endpoint }
            | Packet::StopInterruptReceiving { endpoint } => b.push(*endpoint),
            Packet::IsoStreamStatus { status, endpoint }
            | Packet::InterruptReceivingStatus { status, endpoint } => {
                b.extend_from_slice(&[*status, *endpoint])
            }
            Packet::AllocBulkStreams {
                endpoints,
                no_streams,
            } => {
                b.extend_from_slice(&endpoints.to_le_bytes());
                b.extend_from_slice(&no_streams.to_le_bytes());
            }
            Packet::FreeBulkStreams { endpoints } => b.extend_from_slice(&endpoints.to_le_bytes()),
            Packet::BulkStreamsStatus {
                endpoints,
                no_streams,
                status,
            } => {
                b.extend_from_slice(&endpoints.to_le_bytes());
                b.extend_from_slice(&no_streams.to_le_bytes());
                b.push(*status);
            }
            Packet::FilterFilter(rules) => {
                b.extend_from_slice(rules);
                b.push(0);
            }
            Packet::Control {
                endpoint,
                request,
                requesttype,
                status,
                value,
                index,
                length,
                data,
            } => {
                b.extend_from_slice(&[*endpoint, *request, *requesttype, *status]);
                b.extend_from_slice(&value.to_le_bytes());
                b.extend_from_slice(&index.to_le_bytes());
                b.extend_from_slice(&length.to_le_bytes());
                b.extend_from_slice(data);
            }
            Packet::Bulk {
                endpoint,
                status,
                length,
                stream_id,
                data,
            } => {
                b.extend_from_slice(&[*endpoint, *status]);
                b.extend_from_slice(&(*length as u16).to_le_bytes());
                b.extend_from_slice(&stream_id.to_le_bytes());
                if shared.has(USB_REDIR_CAP_32BITS_BULK_LENGTH) {
                    b.extend_from_slice(&((*length >> 16) as u16).to_le_bytes());
                }
                b.extend_from_slice(data);
            }
            Packet::Iso {
                endpoint,
                status,
                length,
                data,
            }
            | Packet::Interrupt {
                endpoint,
                status,
                length,
                data,
            } => {
                b.extend_from_slice(&[*endpoint, *status]);
                b.extend_from_slice(&length.to_le_bytes());
                b.extend_from_slice(data);
            }
        }
        let wide = !matches!(self, Packet::Hello { .. }) && shared.has(USB_REDIR_CAP_64BITS_IDS);
        out.extend_from_slice(&self.ty().to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        if wide {
            out.extend_from_slice(&id.to_le_bytes());
        } else {
            out.extend_from_slice(&(id as u32).to_le_bytes());
        }
        out.extend_from_slice(&body);
    }
}
