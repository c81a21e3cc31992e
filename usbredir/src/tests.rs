//! Byte layouts written out from `usbredirproto.h` (packed, little endian).

use crate::caps::Caps;
use crate::filter::{Interface, Rules, DEFAULT_AUTOSHARE};
use crate::packet::{DeviceInfo, EpInfo, Packet, PacketError};
use crate::parser::{Parser, ParserError};
use crate::proto::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

/// A hello as QEMU's usb-redir (usb-guest) sends it: 32-bit id header.
fn guest_hello(caps: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0u32.to_le_bytes()); // type hello
    v.extend_from_slice(&68u32.to_le_bytes()); // 64 + one caps word
    v.extend_from_slice(&0u32.to_le_bytes()); // id
    let mut ver = [0u8; 64];
    ver[..14].copy_from_slice(b"qemu usb-redir");
    v.extend_from_slice(&ver);
    v.extend_from_slice(&caps.to_le_bytes());
    v
}

/// GET_DESCRIPTOR(device) as the guest asks for it: IN, wLength 18, no data.
fn get_device_descriptor() -> Packet {
    Packet::Control {
        endpoint: 0x80,
        request: 6,
        requesttype: 0x80,
        status: 0,
        value: 0x100,
        index: 0,
        length: 18,
        data: vec![],
    }
}

fn header64(ty: u32, len: u32, id: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v
}

fn host_parser_after_hello(peer_caps: u32) -> Parser {
    let mut p = Parser::for_host(Caps::OURS, 1 << 20);
    p.push(&guest_hello(peer_caps));
    let (_, hello) = p.next_packet().unwrap().unwrap();
    assert_eq!(
        hello,
        Packet::Hello {
            version: b"qemu usb-redir".to_vec(),
            caps: Caps(peer_caps)
        }
    );
    p
}

#[test]
fn our_hello_is_80_bytes_with_a_32_bit_id_header() {
    let mut out = Vec::new();
    Packet::Hello {
        version: b"barespice".to_vec(),
        caps: Caps::OURS,
    }
    .encode(0, Caps::OURS, &mut out);
    assert_eq!(out.len(), 12 + 64 + 4);
    assert_eq!(&out[..12], &[0, 0, 0, 0, 68, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&out[12..21], b"barespice");
    assert!(out[21..76].iter().all(|&b| b == 0));
    assert_eq!(&out[76..], &0x7eu32.to_le_bytes());
}

#[test]
fn control_request_with_64_bit_id_after_hello() {
    let mut p = host_parser_after_hello(0xff);
    assert_eq!(p.shared(), Some(Caps::OURS));
    // GET_DESCRIPTOR(device) IN, wLength 18: no data from the guest.
    let mut v = header64(USB_REDIR_CONTROL_PACKET, 10, 0x1_0000_0002);
    v.extend_from_slice(&[0x80, 6, 0x80, 0, 0x00, 0x01, 0, 0, 18, 0]);
    p.push(&v);
    let (id, pk) = p.next_packet().unwrap().unwrap();
    assert_eq!(id, 0x1_0000_0002);
    assert_eq!(pk, get_device_descriptor());
    assert_eq!(p.buffered(), 0);
}

#[test]
fn ids_stay_32_bit_when_the_peer_lacks_the_cap() {
    let mut p = host_parser_after_hello(1 << USB_REDIR_CAP_FILTER);
    let mut v = Vec::new();
    v.extend_from_slice(&USB_REDIR_RESET.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&7u32.to_le_bytes());
    p.push(&v);
    assert_eq!(p.next_packet().unwrap(), Some((7, Packet::Reset)));
    // Our packets use the 12-byte header too.
    let mut out = Vec::new();
    Packet::DeviceDisconnect.encode(9, p.shared().unwrap(), &mut out);
    assert_eq!(out, [2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0]);
}

#[test]
fn device_connect_layout_with_and_without_version() {
    let d = DeviceInfo {
        speed: USB_REDIR_SPEED_HIGH,
        class: 0,
        subclass: 0,
        protocol: 0,
        vendor_id: 0x46f4,
        product_id: 0x0001,
        device_version_bcd: 0x0000,
    };
    let mut out = Vec::new();
    Packet::DeviceConnect(d).encode(0, Caps::OURS, &mut out);
    assert_eq!(&out[..16], &header64(USB_REDIR_DEVICE_CONNECT, 10, 0)[..]);
    assert_eq!(&out[16..], &[2, 0, 0, 0, 0xf4, 0x46, 0x01, 0x00, 0, 0]);
    let mut short = Vec::new();
    Packet::DeviceConnect(d).encode(0, Caps(0), &mut short);
    assert_eq!(short.len(), 12 + 8);
    // And it decodes back the same on the guest side.
    let back = Packet::decode(USB_REDIR_DEVICE_CONNECT, &out[16..], Caps::OURS, true).unwrap();
    assert_eq!(back, Packet::DeviceConnect(d));
}

#[test]
fn ep_info_size_follows_caps() {
    let mut e = EpInfo::default();
    e.ty[ep_index(0x81)] = USB_REDIR_TYPE_BULK;
    e.max_packet_size[ep_index(0x81)] = 512;
    e.ty[ep_index(0x02)] = USB_REDIR_TYPE_BULK;
    let mut out = Vec::new();
    Packet::EpInfo(e).encode(0, Caps::OURS, &mut out);
    assert_eq!(out.len(), 16 + 32 * 5);
    assert_eq!(out[16 + ep_index(0x81)], USB_REDIR_TYPE_BULK);
    assert_eq!(ep_index(0x81), 17);
    assert_eq!(ep_index(0x02), 2);
    assert_eq!(out[16], USB_REDIR_TYPE_CONTROL);
    assert_eq!(out[16 + 16], USB_REDIR_TYPE_CONTROL);
    assert_eq!(out[16 + 1], USB_REDIR_TYPE_INVALID);
    let mps = 16 + 96 + 2 * 17;
    assert_eq!(&out[mps..mps + 2], &[0x00, 0x02]);
    let mut small = Vec::new();
    Packet::EpInfo(e).encode(0, Caps(1 << USB_REDIR_CAP_64BITS_IDS), &mut small);
    assert_eq!(small.len(), 16 + 96);
    let back = Packet::decode(USB_REDIR_EP_INFO, &out[16..], Caps::OURS, true).unwrap();
    assert_eq!(back, Packet::EpInfo(e));
}

#[test]
fn bulk_with_32_bit_length() {
    let mut p = host_parser_after_hello(0xff);
    let data: Vec<u8> = (0..0x12345u32).map(|i| i as u8).collect();
    let mut v = header64(USB_REDIR_BULK_PACKET, 10 + data.len() as u32, 5);
    v.extend_from_slice(&[0x02, 0, 0x45, 0x23, 0, 0, 0, 0, 0x01, 0x00]);
    v.extend_from_slice(&data);
    p.push(&v);
    let (_, pk) = p.next_packet().unwrap().unwrap();
    let Packet::Bulk {
        endpoint,
        length,
        data: d,
        ..
    } = pk
    else {
        panic!("{pk:?}")
    };
    assert_eq!((endpoint, length, d.len()), (0x02, 0x12345, 0x12345));
    // The reply (an OUT completion) carries no data; an IN completion does.
    let mut out = Vec::new();
    Packet::Bulk {
        endpoint: 0x81,
        status: 0,
        length: 13,
        stream_id: 0,
        data: vec![7; 13],
    }
    .encode(6, Caps::OURS, &mut out);
    assert_eq!(&out[..16], &header64(USB_REDIR_BULK_PACKET, 23, 6)[..]);
    assert_eq!(&out[16..26], &[0x81, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn data_direction_rules() {
    let s = Caps::OURS;
    // Guest: IN control request must not carry data.
    let mut b = vec![0x80, 6, 0x80, 0, 0, 1, 0, 0, 2, 0];
    b.extend_from_slice(&[1, 2]);
    assert!(matches!(
        Packet::decode(USB_REDIR_CONTROL_PACKET, &b, s, false),
        Err(PacketError::DataLength { .. })
    ));
    // Guest: OUT bulk with fewer bytes than its length.
    let b = [0x02, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
    assert!(matches!(
        Packet::decode(USB_REDIR_BULK_PACKET, &b, s, false),
        Err(PacketError::DataLength { .. })
    ));
    // Guest: interrupt packets on IN endpoints go through interrupt receiving.
    assert_eq!(
        Packet::decode(USB_REDIR_INTERRUPT_PACKET, &[0x81, 0, 8, 0], s, false),
        Err(PacketError::WrongDirection {
            ty: USB_REDIR_INTERRUPT_PACKET,
            endpoint: 0x81
        })
    );
    // Guest must not send device_connect; host must not send reset.
    assert_eq!(
        Packet::decode(USB_REDIR_DEVICE_CONNECT, &[0; 10], s, false),
        Err(PacketError::UnexpectedType(USB_REDIR_DEVICE_CONNECT))
    );
    assert!(Packet::decode(USB_REDIR_RESET, &[], s, true).is_err());
    // Start interrupt receiving on an OUT endpoint.
    assert!(Packet::decode(USB_REDIR_START_INTERRUPT_RECEIVING, &[0x01], s, false).is_err());
    // Short type header.
    assert_eq!(
        Packet::decode(USB_REDIR_SET_ALT_SETTING, &[1], s, false),
        Err(PacketError::Short {
            ty: USB_REDIR_SET_ALT_SETTING,
            len: 1
        })
    );
    // Filter packets need the cap; their string must end in NUL.
    assert!(Packet::decode(USB_REDIR_FILTER_FILTER, b"x\0", Caps(0), false).is_err());
    assert_eq!(
        Packet::decode(USB_REDIR_FILTER_FILTER, b"-1,-1,-1,-1,1\0", s, false),
        Ok(Packet::FilterFilter(b"-1,-1,-1,-1,1".to_vec()))
    );
    assert_eq!(
        Packet::decode(USB_REDIR_FILTER_FILTER, b"x", s, false),
        Err(PacketError::FilterNotTerminated)
    );
    // Interface count over 32.
    let mut ii = vec![0u8; 132];
    ii[0] = 33;
    assert_eq!(
        Packet::decode(USB_REDIR_INTERFACE_INFO, &ii, s, true),
        Err(PacketError::TooManyInterfaces(33))
    );
}

#[test]
fn hello_first_bound_and_second_hello() {
    let mut p = Parser::for_host(Caps::OURS, 1024);
    p.push(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p.next_packet(), Err(ParserError::NoHello(3)));

    let mut p = host_parser_after_hello(0xff);
    // 16 MiB announced: refused from the header alone.
    p.push(&header64(USB_REDIR_BULK_PACKET, 16 << 20, 1));
    assert_eq!(
        p.next_packet(),
        Err(ParserError::TooLong {
            ty: USB_REDIR_BULK_PACKET,
            len: 16 << 20,
            max: 1 << 20
        })
    );

    let mut p = host_parser_after_hello(0xff);
    p.push(&header64(USB_REDIR_HELLO, 68, 0));
    p.push(&[0; 68]);
    assert_eq!(p.next_packet(), Err(ParserError::SecondHello));
}

#[test]
fn stream_split_at_every_byte() {
    let s = Caps::OURS;
    let packets = [
        Packet::SetConfiguration { configuration: 1 },
        Packet::SetAltSetting {
            interface: 0,
            alt: 0,
        },
        Packet::Control {
            endpoint: 0,
            request: 0xff,
            requesttype: 0x21,
            status: 0,
            value: 0,
            index: 0,
            length: 3,
            data: vec![9, 8, 7],
        },
        Packet::Bulk {
            endpoint: 0x81,
            status: 0,
            length: 512,
            stream_id: 0,
            data: vec![],
        },
        Packet::StartInterruptReceiving { endpoint: 0x83 },
        Packet::CancelDataPacket,
        Packet::DeviceDisconnectAck,
    ];
    let mut stream = guest_hello(0xff);
    for (i, pk) in packets.iter().enumerate() {
        pk.encode(i as u64 + 100, s, &mut stream);
    }
    let mut p = Parser::for_host(Caps::OURS, 4096);
    let mut got = Vec::new();
    for b in &stream {
        p.push(core::slice::from_ref(b));
        while let Some(x) = p.next_packet().unwrap() {
            got.push(x);
        }
    }
    assert_eq!(got.len(), packets.len() + 1);
    for (i, pk) in packets.iter().enumerate() {
        assert_eq!(got[i + 1], (i as u64 + 100, pk.clone()));
    }
}

const STORAGE: [Interface; 1] = [Interface {
    class: 0x08,
    subclass: 0x06,
    protocol: 0x50,
}];
const KEYBOARD: [Interface; 1] = [Interface {
    class: 0x03,
    subclass: 1,
    protocol: 1,
}];

#[test]
fn filter_syntax() {
    let r = Rules::parse("0x03,-1,-1,-1,0|-1,-1,-1,-1,1").unwrap();
    assert_eq!(r.0.len(), 2);
    assert_eq!(r.0[0].class, Some(3));
    assert!(!r.0[0].allow);
    assert_eq!(r.to_string(), "0x03,-1,-1,-1,0|-1,-1,-1,-1,1");
    let r = Rules::parse("8,0x46f4,1,0x0000,1").unwrap();
    assert_eq!(
        (r.0[0].vendor, r.0[0].product, r.0[0].version),
        (Some(0x46f4), Some(1), Some(0))
    );
    assert_eq!(Rules::parse("").unwrap().0.len(), 0);
    assert_eq!(Rules::parse("|0x08,-1,-1,-1,1|").unwrap().0.len(), 1);
    for bad in [
        "0x08,-1,-1,1",
        "0x08,-1,-1,-1,2",
        "0x100,-1,-1,-1,1",
        "x,-1,-1,-1,1",
        "8,-1,-1,0x10000,1",
    ] {
        assert!(Rules::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Rules::parse("1,1,1,1,1|1,1").unwrap_err().rule, 1);
}

#[test]
fn filter_matching() {
    let def = Rules::parse(DEFAULT_AUTOSHARE).unwrap();
    assert!(def.allows(0, 0x46f4, 1, 0, &STORAGE));
    assert!(!def.allows(0, 0x627, 1, 0, &KEYBOARD));
    // First match wins: a deny for this vendor/product before the allow.
    let r = Rules::parse("-1,0x46f4,0x0001,-1,0|0x08,-1,-1,-1,1").unwrap();
    assert!(!r.allows(0, 0x46f4, 1, 0, &STORAGE));
    assert!(r.allows(0, 0x1234, 1, 0, &STORAGE));
    // No rule matching is "no".
    assert!(!Rules::parse("0x0e,-1,-1,-1,1")
        .unwrap()
        .allows(0, 1, 1, 0, &STORAGE));
    // Device class (not 0/0xef) is checked first.
    let hub_only_storage = Rules::parse("0x08,-1,-1,-1,1").unwrap();
    assert!(!hub_only_storage.allows(
        0x09,
        1,
        1,
        0,
        &[Interface {
            class: 8,
            ..Default::default()
        }]
    ));
    // Composite: a non-boot HID interface next to storage is skipped ...
    let composite = [
        STORAGE[0],
        Interface {
            class: 3,
            subclass: 0,
            protocol: 0,
        },
    ];
    assert!(def.allows(0xef, 1, 1, 0, &composite));
    // ... but not when it is the only kind of interface.
    let hid_only = [Interface {
        class: 3,
        ..Default::default()
    }; 2];
    assert!(!def.allows(0, 1, 1, 0, &hid_only));
    // Every interface must be allowed.
    assert!(!def.allows(0, 1, 1, 0, &[STORAGE[0], KEYBOARD[0]]));
}

mod host {
    use super::*;
    use crate::host::*;
    use crate::packet::InterfaceInfo;

    fn storage() -> Attached {
        let mut interfaces = InterfaceInfo {
            count: 1,
            ..Default::default()
        };
        interfaces.class[0] = 8;
        interfaces.subclass[0] = 6;
        interfaces.protocol[0] = 0x50;
        let mut eps = EpInfo::default();
        eps.ty[ep_index(0x81)] = USB_REDIR_TYPE_BULK;
        eps.ty[ep_index(0x02)] = USB_REDIR_TYPE_BULK;
        Attached {
            info: DeviceInfo {
                speed: USB_REDIR_SPEED_HIGH,
                vendor_id: 0x46f4,
                product_id: 1,
                ..Default::default()
            },
            interfaces,
            eps,
            configuration: 1,
        }
    }

    fn guest_side(bytes: &[u8], guest: &mut Parser) -> Vec<u32> {
        guest.push(bytes);
        let mut types = Vec::new();
        while let Some((_, p)) = guest.next_packet().unwrap() {
            types.push(p.ty());
        }
        types
    }

    #[test]
    fn hello_announce_transfer_disconnect() {
        let mut h = RedirHost::new(b"barespice");
        let mut guest = Parser::for_guest(Caps(0xff), 1 << 20);
        // Attached before the guest's hello: nothing announced yet.
        h.attach(storage());
        assert_eq!(guest_side(&h.take_output(), &mut guest), [USB_REDIR_HELLO]);
        h.receive(&guest_hello(0xff)).unwrap();
        assert_eq!(
            guest_side(&h.take_output(), &mut guest),
            [
                USB_REDIR_EP_INFO,
                USB_REDIR_INTERFACE_INFO,
                USB_REDIR_DEVICE_CONNECT
            ]
        );
        // GET_DESCRIPTOR from the guest becomes a request ...
        let s = Caps::OURS;
        let mut v = Vec::new();
        get_device_descriptor().encode(41, s, &mut v);
        Packet::Bulk {
            endpoint: 0x02,
            status: 0,
            length: 3,
            stream_id: 0,
            data: vec![1, 2, 3],
        }
        .encode(42, s, &mut v);
        h.receive(&v).unwrap();
        let Some(Request::Control { id: 41, setup, .. }) = h.next_request() else {
            panic!()
        };
        assert_eq!(setup.length, 18);
        assert_eq!(
            h.next_request(),
            Some(Request::Bulk {
                id: 42,
                endpoint: 2,
                length: 3,
                data: vec![1, 2, 3]
            })
        );
        // ... and its completion the reply with the data.
        h.complete(Completion::Control {
            id: 41,
            setup,
            status: 0,
            length: 0,
            data: vec![0x12, 1],
        });
        h.complete(Completion::Bulk {
            id: 42,
            endpoint: 2,
            status: 0,
            length: 3,
            data: vec![],
        });
        let mut reply = Parser::for_guest(Caps(0xff), 1 << 20);
        reply.push(&guest_hello_as_host());
        reply.next_packet().unwrap();
        reply.push(&h.take_output());
        let (id, p) = reply.next_packet().unwrap().unwrap();
        assert_eq!(id, 41);
        assert!(matches!(p, Packet::Control { length: 2, ref data, .. } if data == &[0x12, 1]));
        let (id, p) = reply.next_packet().unwrap().unwrap();
        assert_eq!((id, p.ty()), (42, USB_REDIR_BULK_PACKET));
        // Unplug: device_disconnect.
        h.detach();
        reply.push(&h.take_output());
        assert_eq!(
            reply.next_packet().unwrap().unwrap().1,
            Packet::DeviceDisconnect
        );
    }

    /// Our hello as the guest parser sees it first (the guest side's parser
    /// needs the host's hello before anything else).
    fn guest_hello_as_host() -> Vec<u8> {
        let mut v = Vec::new();
        Packet::Hello {
            version: b"barespice".to_vec(),
            caps: Caps::OURS,
        }
        .encode(0, Caps::OURS, &mut v);
        v
    }

    #[test]
    fn without_a_device_requests_fail_and_flood_is_refused() {
        let mut h = RedirHost::new(b"barespice");
        h.receive(&guest_hello(0xff)).unwrap();
        h.take_output();
        let mut v = Vec::new();
        Packet::Bulk {
            endpoint: 0x81,
            status: 0,
            length: 512,
            stream_id: 0,
            data: vec![],
        }
        .encode(1, Caps::OURS, &mut v);
        h.receive(&v).unwrap();
        assert_eq!(h.next_request(), None);
        let mut g = Parser::for_guest(Caps(0xff), 1 << 20);
        g.push(&guest_hello_as_host());
        g.next_packet().unwrap();
        g.push(&h.take_output());
        assert!(matches!(
            g.next_packet().unwrap().unwrap().1,
            Packet::Bulk {
                status: USB_REDIR_IOERROR,
                ..
            }
        ));
        h.attach(storage());
        let mut flood = Vec::new();
        for i in 0..=MAX_IN_FLIGHT as u64 {
            Packet::Bulk {
                endpoint: 0x81,
                status: 0,
                length: 512,
                stream_id: 0,
                data: vec![],
            }
            .encode(i, Caps::OURS, &mut flood);
        }
        assert_eq!(
            h.receive(&flood),
            Err(ParserError::TooManyRequests(MAX_IN_FLIGHT))
        );
    }
}
