//! Fuzz the USB parsers of the `usb-parse` crate (data a USB device sends).
//!
//! Input: a selector byte, then the device's bytes. Selector bit 0 clear: a
//! configuration descriptor set (`desc::interfaces`, every interface's
//! endpoints and class descriptors, `ConfigHeader`, `DeviceDescriptor`, a
//! string descriptor, a MAC string). Bit 0 set: a HID report descriptor
//! (`PointerLayout::parse`), then reports decoded with it, and boot keyboard
//! reports diffed. Nothing may panic; decoded pointer coordinates stay in range.
//!
//! Seeds: fuzz/seeds/usb (QEMU's usb-net, usb-hub, usb-kbd and usb-tablet
//! descriptors as the firmware read them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use usb_parse::desc::{self, ConfigHeader, DeviceDescriptor};
use usb_parse::report::{is_rollover_error, keyboard_diff, PointerLayout};
use usb_parse::{UsbInput, ABS_MAX};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if sel & 1 == 0 {
        let _ = ConfigHeader::parse(rest);
        let _ = DeviceDescriptor::parse(rest);
        for i in desc::interfaces(rest) {
            for e in i.endpoints() {
                assert!(e.number < 16);
            }
            for d in i.class_descriptors(desc::DT_CS_INTERFACE) {
                assert!(!d.is_empty());
            }
            let _ = i.find_endpoint(usb_parse::Direction::In, usb_parse::EndpointKind::Interrupt);
        }
        let mut out = [0u8; 64];
        let n = desc::string_to_ascii(rest, &mut out);
        assert!(n <= out.len());
        let _ = desc::mac_from_hex(&out[..n]);
        return;
    }
    // Report descriptor length in the second byte; the rest are reports.
    let Some((&len, rest)) = rest.split_first() else { return };
    let (rd, reports) = rest.split_at(usize::from(len).min(rest.len()));
    if let Some(layout) = PointerLayout::parse(rd) {
        for r in reports.chunks(8) {
            if let Some(UsbInput::PointerAbsolute { x, y, .. }) = layout.decode(r) {
                assert!(x <= ABS_MAX && y <= ABS_MAX);
            }
        }
    }
    let mut last = [0u8; 8];
    for r in reports.chunks_exact(8) {
        let r: [u8; 8] = r.try_into().unwrap_or_default();
        keyboard_diff(&last, &r, &mut |_| {});
        if !is_rollover_error(&r) {
            last = r;
        }
    }
});
