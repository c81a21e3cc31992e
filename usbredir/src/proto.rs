//! Constants of the usbredir protocol, named as in usbredir's
//! `usbredirparser/usbredirproto.h` (upper-cased).

/// Protocol version this implementation follows (0.7).
pub const USBREDIR_VERSION: u32 = 0x000701;

/// Status codes (`usb_redir_success` ...).
pub const USB_REDIR_SUCCESS: u8 = 0;
/// The transfer was cancelled.
pub const USB_REDIR_CANCELLED: u8 = 1;
/// Invalid packet type / length / endpoint.
pub const USB_REDIR_INVAL: u8 = 2;
/// I/O error.
pub const USB_REDIR_IOERROR: u8 = 3;
/// Stalled.
pub const USB_REDIR_STALL: u8 = 4;
/// Request timed out.
pub const USB_REDIR_TIMEOUT: u8 = 5;
/// The device babbled.
pub const USB_REDIR_BABBLE: u8 = 6;

/// Endpoint types (these four match the USB specification).
pub const USB_REDIR_TYPE_CONTROL: u8 = 0;
/// Isochronous endpoint.
pub const USB_REDIR_TYPE_ISO: u8 = 1;
/// Bulk endpoint.
pub const USB_REDIR_TYPE_BULK: u8 = 2;
/// Interrupt endpoint.
pub const USB_REDIR_TYPE_INTERRUPT: u8 = 3;
/// Endpoint not present.
pub const USB_REDIR_TYPE_INVALID: u8 = 255;

/// Low speed.
pub const USB_REDIR_SPEED_LOW: u8 = 0;
/// Full speed.
pub const USB_REDIR_SPEED_FULL: u8 = 1;
/// High speed.
pub const USB_REDIR_SPEED_HIGH: u8 = 2;
/// Super speed.
pub const USB_REDIR_SPEED_SUPER: u8 = 3;
/// Unknown speed.
pub const USB_REDIR_SPEED_UNKNOWN: u8 = 255;

/// Control packet types.
pub const USB_REDIR_HELLO: u32 = 0;
/// Host -> guest: a device is there.
pub const USB_REDIR_DEVICE_CONNECT: u32 = 1;
/// Host -> guest: the device went away.
pub const USB_REDIR_DEVICE_DISCONNECT: u32 = 2;
/// Guest -> host: reset the device.
pub const USB_REDIR_RESET: u32 = 3;
/// Host -> guest: interfaces of the active configuration.
pub const USB_REDIR_INTERFACE_INFO: u32 = 4;
/// Host -> guest: endpoints of the active configuration.
pub const USB_REDIR_EP_INFO: u32 = 5;
/// Guest -> host: SET_CONFIGURATION.
pub const USB_REDIR_SET_CONFIGURATION: u32 = 6;
/// Guest -> host: which configuration is active.
pub const USB_REDIR_GET_CONFIGURATION: u32 = 7;
/// Host -> guest: answer to set/get configuration.
pub const USB_REDIR_CONFIGURATION_STATUS: u32 = 8;
/// Guest -> host: SET_INTERFACE.
pub const USB_REDIR_SET_ALT_SETTING: u32 = 9;
/// Guest -> host: which alternate setting is active.
pub const USB_REDIR_GET_ALT_SETTING: u32 = 10;
/// Host -> guest: answer to set/get alt setting.
pub const USB_REDIR_ALT_SETTING_STATUS: u32 = 11;
/// Guest -> host: start an isochronous stream.
pub const USB_REDIR_START_ISO_STREAM: u32 = 12;
/// Guest -> host: stop an isochronous stream.
pub const USB_REDIR_STOP_ISO_STREAM: u32 = 13;
/// Host -> guest: isochronous stream status.
pub const USB_REDIR_ISO_STREAM_STATUS: u32 = 14;
/// Guest -> host: poll an interrupt IN endpoint continuously.
pub const USB_REDIR_START_INTERRUPT_RECEIVING: u32 = 15;
/// Guest -> host: stop polling an interrupt IN endpoint.
pub const USB_REDIR_STOP_INTERRUPT_RECEIVING: u32 = 16;
/// Host -> guest: interrupt receiving status.
pub const USB_REDIR_INTERRUPT_RECEIVING_STATUS: u32 = 17;
/// Guest -> host: allocate bulk streams (USB 3).
pub const USB_REDIR_ALLOC_BULK_STREAMS: u32 = 18;
/// Guest -> host: free bulk streams.
pub const USB_REDIR_FREE_BULK_STREAMS: u32 = 19;
/// Host -> guest: bulk streams status.
pub const USB_REDIR_BULK_STREAMS_STATUS: u32 = 20;
/// Guest -> host: cancel the data packet with this id.
pub const USB_REDIR_CANCEL_DATA_PACKET: u32 = 21;
/// Guest -> host: the guest's filter rejected the device.
pub const USB_REDIR_FILTER_REJECT: u32 = 22;
/// Either way: the sender's filter rules (NUL-terminated string).
pub const USB_REDIR_FILTER_FILTER: u32 = 23;
/// Guest -> host: acknowledges a device_disconnect.
pub const USB_REDIR_DEVICE_DISCONNECT_ACK: u32 = 24;
/// Guest -> host: start buffered bulk receiving.
pub const USB_REDIR_START_BULK_RECEIVING: u32 = 25;
/// Guest -> host: stop buffered bulk receiving.
pub const USB_REDIR_STOP_BULK_RECEIVING: u32 = 26;
/// Host -> guest: bulk receiving status.
pub const USB_REDIR_BULK_RECEIVING_STATUS: u32 = 27;
/// Data packets: control transfer.
pub const USB_REDIR_CONTROL_PACKET: u32 = 100;
/// Bulk transfer.
pub const USB_REDIR_BULK_PACKET: u32 = 101;
/// Isochronous transfer.
pub const USB_REDIR_ISO_PACKET: u32 = 102;
/// Interrupt transfer.
pub const USB_REDIR_INTERRUPT_PACKET: u32 = 103;
/// Buffered bulk IN data.
pub const USB_REDIR_BUFFERED_BULK_PACKET: u32 = 104;

/// Capability bits (index into the capability words).
pub const USB_REDIR_CAP_BULK_STREAMS: u32 = 0;
/// device_connect carries `device_version_bcd`.
pub const USB_REDIR_CAP_CONNECT_DEVICE_VERSION: u32 = 1;
/// filter_reject / filter_filter supported.
pub const USB_REDIR_CAP_FILTER: u32 = 2;
/// device_disconnect_ack supported.
pub const USB_REDIR_CAP_DEVICE_DISCONNECT_ACK: u32 = 3;
/// ep_info carries `max_packet_size`.
pub const USB_REDIR_CAP_EP_INFO_MAX_PACKET_SIZE: u32 = 4;
/// 64-bit ids in the packet header.
pub const USB_REDIR_CAP_64BITS_IDS: u32 = 5;
/// bulk_packet carries `length_high`.
pub const USB_REDIR_CAP_32BITS_BULK_LENGTH: u32 = 6;
/// Buffered bulk receiving.
pub const USB_REDIR_CAP_BULK_RECEIVING: u32 = 7;
/// Number of u32 capability words (`USB_REDIR_CAPS_SIZE`).
pub const USB_REDIR_CAPS_SIZE: usize = 1;

/// `sizeof(struct usb_redir_header_32bit_id)`: type, length, 32-bit id.
pub const HEADER_32BIT_ID_LEN: usize = 12;
/// `sizeof(struct usb_redir_header)`: type, length, 64-bit id.
pub const HEADER_64BIT_ID_LEN: usize = 16;
/// `version` field of `usb_redir_hello_header`.
pub const HELLO_VERSION_LEN: usize = 64;
/// Interfaces and endpoints in interface_info / ep_info arrays.
pub const MAX_SLOTS: usize = 32;

/// The ep_info array index of endpoint address `ep` (OUT 0..15, IN 16..31),
/// as usbredir's `EP2I`.
pub fn ep_index(ep: u8) -> usize {
    usize::from(((ep & 0x80) >> 3) | (ep & 0x0f))
}
