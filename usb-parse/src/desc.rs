//! Standard USB descriptors (USB 2.0 chapter 9) and control requests.
//!
//! Owns: the SETUP packet encoding, parsing of device, configuration,
//! interface and endpoint descriptors, and walking a configuration's descriptor
//! list. Every byte comes from a device and is untrusted: parsers check lengths
//! and return `None` instead of indexing out of bounds. Must not: perform I/O.

use crate::{Direction, EndpointKind};

/// Descriptor type: DEVICE.
pub const DT_DEVICE: u8 = 1;
/// Descriptor type: CONFIGURATION.
pub const DT_CONFIGURATION: u8 = 2;
/// Descriptor type: STRING.
pub const DT_STRING: u8 = 3;
/// Descriptor type: INTERFACE.
pub const DT_INTERFACE: u8 = 4;
/// Descriptor type: ENDPOINT.
pub const DT_ENDPOINT: u8 = 5;
/// Class-specific interface descriptor (CDC functional descriptors).
pub const DT_CS_INTERFACE: u8 = 0x24;

/// Standard request GET_STATUS.
pub const REQ_GET_STATUS: u8 = 0;
/// Standard request CLEAR_FEATURE.
pub const REQ_CLEAR_FEATURE: u8 = 1;
/// Standard request SET_FEATURE.
pub const REQ_SET_FEATURE: u8 = 3;
/// Standard request SET_ADDRESS.
pub const REQ_SET_ADDRESS: u8 = 5;
/// Standard request GET_DESCRIPTOR.
pub const REQ_GET_DESCRIPTOR: u8 = 6;
/// Standard request SET_CONFIGURATION.
pub const REQ_SET_CONFIGURATION: u8 = 9;
/// Standard request SET_INTERFACE.
pub const REQ_SET_INTERFACE: u8 = 11;

/// bmRequestType: device-to-host.
pub const RT_IN: u8 = 0x80;
/// bmRequestType: class request.
pub const RT_CLASS: u8 = 0x20;
/// bmRequestType recipient: interface.
pub const RT_INTERFACE: u8 = 0x01;
/// bmRequestType recipient: other (a hub port).
pub const RT_OTHER: u8 = 0x03;

/// An 8-byte SETUP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Setup {
    /// bmRequestType.
    pub request_type: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength.
    pub length: u16,
}

impl Setup {
    /// The wire encoding (little endian).
    pub fn to_bytes(&self) -> [u8; 8] {
        let v = self.value.to_le_bytes();
        let i = self.index.to_le_bytes();
        let l = self.length.to_le_bytes();
        [
            self.request_type,
            self.request,
            v[0],
            v[1],
            i[0],
            i[1],
            l[0],
            l[1],
        ]
    }

    /// Direction of the data stage.
    pub fn direction(&self) -> Direction {
        if self.request_type & RT_IN != 0 {
            Direction::In
        } else {
            Direction::Out
        }
    }

    /// GET_DESCRIPTOR(type, index) for `length` bytes, to the device.
    pub fn get_descriptor(kind: u8, index: u8, length: u16) -> Self {
        Self::get_descriptor_lang(kind, index, 0, length)
    }

    /// GET_DESCRIPTOR with a language ID (string descriptors).
    pub fn get_descriptor_lang(kind: u8, index: u8, lang: u16, length: u16) -> Self {
        Setup {
            request_type: RT_IN,
            request: REQ_GET_DESCRIPTOR,
            value: (u16::from(kind) << 8) | u16::from(index),
            index: lang,
            length,
        }
    }

    /// A request without a data stage.
    pub fn no_data(request_type: u8, request: u8, value: u16, index: u16) -> Self {
        Setup {
            request_type,
            request,
            value,
            index,
            length: 0,
        }
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The parts of a device descriptor the stack uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, defmt::Format)]
pub struct DeviceDescriptor {
    /// bcdUSB.
    pub usb_version: u16,
    /// bDeviceClass.
    pub class: u8,
    /// bDeviceSubClass.
    pub subclass: u8,
    /// bDeviceProtocol.
    pub protocol: u8,
    /// bMaxPacketSize0.
    pub max_packet0: u8,
    /// idVendor.
    pub vendor: u16,
    /// idProduct.
    pub product: u16,
    /// bcdDevice.
    pub device_version: u16,
    /// iManufacturer.
    pub manufacturer_string: u8,
    /// iProduct.
    pub product_string: u8,
    /// bNumConfigurations.
    pub configurations: u8,
}

impl DeviceDescriptor {
    /// Parses the first 8 bytes (enough for bMaxPacketSize0) or all 18.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 8 || *b.get(1)? != DT_DEVICE || usize::from(b[0]) < 8 {
            return None;
        }
        let mut d = DeviceDescriptor {
            usb_version: le16(b, 2)?,
            class: b[4],
            subclass: b[5],
            protocol: b[6],
            max_packet0: b[7],
            ..Default::default()
        };
        if b.len() >= 18 && b[0] >= 18 {
            d.vendor = le16(b, 8)?;
            d.product = le16(b, 10)?;
            d.device_version = le16(b, 12)?;
            d.manufacturer_string = b[14];
            d.product_string = b[15];
            d.configurations = b[17];
        }
        Some(d)
    }
}

/// The header of a configuration descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct ConfigHeader {
    /// wTotalLength: the configuration with all its interface/endpoint descriptors.
    pub total_length: u16,
    /// bNumInterfaces.
    pub interfaces: u8,
    /// bConfigurationValue (the argument of SET_CONFIGURATION).
    pub value: u8,
}

impl ConfigHeader {
    /// Parses the 9-byte configuration descriptor header.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 9 || b[1] != DT_CONFIGURATION || b[0] < 9 {
            return None;
        }
        Some(ConfigHeader {
            total_length: le16(b, 2)?,
            interfaces: b[4],
            value: b[5],
        })
    }
}

/// Iterator over the descriptors in a byte string: yields (bDescriptorType,
/// whole descriptor). Stops at the first malformed length.
pub struct Descriptors<'a> {
    rest: &'a [u8],
}

impl<'a> Descriptors<'a> {
    /// Walks `bytes` (usually a whole configuration).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let len = usize::from(*self.rest.first()?);
        if len < 2 || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let (d, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some((d[1], d))
    }
}

/// An interface descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct InterfaceDescriptor {
    /// bInterfaceNumber.
    pub number: u8,
    /// bAlternateSetting.
    pub alternate: u8,
    /// bNumEndpoints.
    pub endpoints: u8,
    /// bInterfaceClass.
    pub class: u8,
    /// bInterfaceSubClass.
    pub subclass: u8,
    /// bInterfaceProtocol.
    pub protocol: u8,
}

impl InterfaceDescriptor {
    /// Parses a 9-byte interface descriptor.
    pub fn parse(d: &[u8]) -> Option<Self> {
        if d.len() < 9 || d[1] != DT_INTERFACE {
            return None;
        }
        Some(InterfaceDescriptor {
            number: d[2],
            alternate: d[3],
            endpoints: d[4],
            class: d[5],
            subclass: d[6],
            protocol: d[7],
        })
    }
}

/// An endpoint descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct EndpointDescriptor {
    /// Endpoint number (bEndpointAddress bits 3:0).
    pub number: u8,
    /// Direction (bEndpointAddress bit 7).
    pub direction: Direction,
    /// Transfer type.
    pub kind: EndpointKind,
    /// wMaxPacketSize bits 10:0.
    pub max_packet: u16,
    /// bInterval (frames for full/low speed interrupt endpoints).
    pub interval: u8,
}

impl EndpointDescriptor {
    /// Parses a 7-byte endpoint descriptor.
    pub fn parse(d: &[u8]) -> Option<Self> {
        if d.len() < 7 || d[1] != DT_ENDPOINT {
            return None;
        }
        let max_packet = le16(d, 4)? & 0x7ff;
        if max_packet == 0 {
            return None;
        }
        Some(EndpointDescriptor {
            number: d[2] & 0x0f,
            direction: if d[2] & 0x80 != 0 {
                Direction::In
            } else {
                Direction::Out
            },
            kind: EndpointKind::from_attributes(d[3]),
            max_packet,
            interval: d[6],
        })
    }
}

/// One interface (alternate setting) of a configuration with the descriptors
/// that follow it up to the next interface: its endpoints and class-specific
/// descriptors.
#[derive(Clone, Copy, Debug)]
pub struct Interface<'a> {
    /// The interface descriptor.
    pub desc: InterfaceDescriptor,
    /// The raw descriptors after it (endpoints, class-specific ones).
    pub body: &'a [u8],
}

impl<'a> Interface<'a> {
    /// The endpoint descriptors of this alternate setting.
    pub fn endpoints(&self) -> impl Iterator<Item = EndpointDescriptor> + 'a {
        Descriptors::new(self.body).filter_map(|(t, d)| {
            if t == DT_ENDPOINT {
                EndpointDescriptor::parse(d)
            } else {
                None
            }
        })
    }

    /// The first endpoint with this direction and type.
    pub fn find_endpoint(
        &self,
        direction: Direction,
        kind: EndpointKind,
    ) -> Option<EndpointDescriptor> {
        self.endpoints()
            .find(|e| e.direction == direction && e.kind == kind)
    }

    /// Class-specific descriptors of type `kind` in this interface's body.
    pub fn class_descriptors(&self, kind: u8) -> impl Iterator<Item = &'a [u8]> + 'a {
        Descriptors::new(self.body).filter_map(move |(t, d)| if t == kind { Some(d) } else { None })
    }
}

/// Iterates the interfaces (every alternate setting) of a whole configuration.
pub fn interfaces(config: &[u8]) -> impl Iterator<Item = Interface<'_>> {
    let mut offset = 0usize;
    core::iter::from_fn(move || {
        // Find the next interface descriptor at or after `offset`.
        let mut pos = offset;
        let mut found = None;
        for (t, d) in Descriptors::new(config.get(offset..)?) {
            if t == DT_INTERFACE {
                if let Some(desc) = InterfaceDescriptor::parse(d) {
                    found = Some((desc, pos + d.len()));
                    break;
                }
            }
            pos += d.len();
        }
        let (desc, body_start) = found?;
        // Its body runs to the next interface descriptor or the end.
        let mut end = body_start;
        for (t, d) in Descriptors::new(config.get(body_start..)?) {
            if t == DT_INTERFACE {
                break;
            }
            end += d.len();
        }
        offset = end;
        Some(Interface {
            desc,
            body: config.get(body_start..end)?,
        })
    })
}

/// Decodes a UTF-16LE string descriptor into `out` (non-ASCII becomes '?');
/// returns the number of bytes written.
pub fn string_to_ascii(d: &[u8], out: &mut [u8]) -> usize {
    if d.len() < 2 || d[1] != DT_STRING {
        return 0;
    }
    let len = usize::from(d[0]).min(d.len());
    let mut n = 0;
    for pair in d.get(2..len).unwrap_or(&[]).chunks_exact(2) {
        let Some(slot) = out.get_mut(n) else { break };
        let c = u16::from_le_bytes([pair[0], pair[1]]);
        *slot = if (0x20..0x7f).contains(&c) {
            c as u8
        } else {
            b'?'
        };
        n += 1;
    }
    n
}

/// Parses a MAC address written as 12 hex digits, the form of the string
/// descriptor a CDC Ethernet functional descriptor's iMACAddress names.
pub fn mac_from_hex(text: &[u8]) -> Option<[u8; 6]> {
    if text.len() != 12 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (k, pair) in text.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        mac[k] = (hi * 16 + lo) as u8;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A configuration shaped like QEMU's usb-net CDC configuration (USB CDC 1.2
    // ECM §5.4): control interface with header, union and Ethernet functional
    // descriptors and one interrupt endpoint, then data interface alt 0 (no
    // endpoints) and alt 1 (bulk IN 0x82, bulk OUT 0x02).
    const CDC_CONFIG: [u8; 80] = [
        9, 2, 80, 0, 2, 1, 0, 0xc0, 50, // configuration, wTotalLength 80
        9, 4, 0, 0, 1, 2, 6, 0, 0, // interface 0: CDC, ECM
        5, 0x24, 0, 0x10, 0x01, // header
        5, 0x24, 6, 0, 1, // union
        13, 0x24, 0x0f, 3, 0, 0, 0, 0, 0xea, 0x05, 0, 0, 0, // ethernet, iMACAddress 3
        7, 5, 0x81, 3, 16, 0, 32, // interrupt IN 1
        9, 4, 1, 0, 0, 0x0a, 0, 0, 0, // interface 1 alt 0
        9, 4, 1, 1, 2, 0x0a, 0, 0, 0, // interface 1 alt 1
        7, 5, 0x82, 2, 64, 0, 0, // bulk IN 2
        7, 5, 0x02, 2, 64, 0, 0, // bulk OUT 2
    ];

    #[test]
    fn walks_interfaces_and_endpoints() {
        let h = ConfigHeader::parse(&CDC_CONFIG).unwrap();
        assert_eq!((h.total_length, h.interfaces, h.value), (80, 2, 1));
        let ifs: alloc::vec::Vec<Interface<'_>> = interfaces(&CDC_CONFIG).collect();
        assert_eq!(ifs.len(), 3);
        assert_eq!((ifs[0].desc.class, ifs[0].desc.subclass), (2, 6));
        assert_eq!(ifs[0].class_descriptors(DT_CS_INTERFACE).count(), 3);
        let int = ifs[0]
            .find_endpoint(Direction::In, EndpointKind::Interrupt)
            .unwrap();
        assert_eq!((int.number, int.max_packet, int.interval), (1, 16, 32));
        assert_eq!(ifs[1].endpoints().count(), 0);
        assert_eq!((ifs[2].desc.number, ifs[2].desc.alternate), (1, 1));
        let out = ifs[2]
            .find_endpoint(Direction::Out, EndpointKind::Bulk)
            .unwrap();
        assert_eq!((out.number, out.max_packet), (2, 64));
    }

    #[test]
    fn truncated_and_zero_length_descriptors_stop_the_walk() {
        assert_eq!(interfaces(&CDC_CONFIG[..12]).count(), 0);
        let bad = [9u8, 2, 20, 0, 1, 1, 0, 0, 0, 0, 4, 0, 0];
        assert_eq!(Descriptors::new(&bad).count(), 1);
        assert!(EndpointDescriptor::parse(&[7, 5, 0x81, 3, 0, 0, 1]).is_none());
    }

    #[test]
    fn device_descriptor_from_8_and_18_bytes() {
        // QEMU usb-kbd: bcdUSB 1.00, bMaxPacketSize0 8, VID 0x0627 PID 0x0001.
        let d = [
            18u8, 1, 0x00, 0x01, 0, 0, 0, 8, 0x27, 0x06, 0x01, 0x00, 0, 0, 1, 4, 5, 1,
        ];
        let short = DeviceDescriptor::parse(&d[..8]).unwrap();
        assert_eq!(short.max_packet0, 8);
        assert_eq!(short.vendor, 0);
        let full = DeviceDescriptor::parse(&d).unwrap();
        assert_eq!(
            (full.vendor, full.product, full.configurations),
            (0x0627, 1, 1)
        );
        assert!(DeviceDescriptor::parse(&d[..7]).is_none());
    }

    #[test]
    fn setup_encoding_matches_chapter_9() {
        // GET_DESCRIPTOR(DEVICE) for 18 bytes: 80 06 00 01 00 00 12 00.
        assert_eq!(
            Setup::get_descriptor(DT_DEVICE, 0, 18).to_bytes(),
            [0x80, 6, 0, 1, 0, 0, 0x12, 0]
        );
        // SET_ADDRESS(5): 00 05 05 00 00 00 00 00.
        assert_eq!(
            Setup::no_data(0, REQ_SET_ADDRESS, 5, 0).to_bytes(),
            [0, 5, 5, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn string_descriptor_to_ascii() {
        let d = [10u8, 3, b'4', 0, b'0', 0, b'0', 0, 0xe9, 0];
        let mut out = [0u8; 8];
        let n = string_to_ascii(&d, &mut out);
        assert_eq!(&out[..n], b"400?");
    }

    #[test]
    fn mac_string() {
        // QEMU usb-net's iMACAddress string: "400102030405".
        assert_eq!(
            mac_from_hex(b"400102030405"),
            Some([0x40, 0x01, 0x02, 0x03, 0x04, 0x05])
        );
        assert_eq!(mac_from_hex(b"40010203040"), None);
        assert_eq!(mac_from_hex(b"4001020304zz"), None);
    }
}
