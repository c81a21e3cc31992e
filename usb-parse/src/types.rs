//! Plain types shared by every layer of the USB stack: speeds, directions,
//! endpoint types, errors and decoded input. Must not: depend on anything but
//! `core` and `defmt`.

/// USB bus speed of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Speed {
    /// 1.5 Mbit/s.
    Low,
    /// 12 Mbit/s.
    Full,
    /// 480 Mbit/s.
    High,
    /// 5 Gbit/s and up (USB 3; xHCI only).
    Super,
}

/// Transfer direction, from the host's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Direction {
    /// Host to device.
    Out,
    /// Device to host.
    In,
}

/// Endpoint transfer type (bmAttributes bits 1:0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum EndpointKind {
    /// Control.
    Control,
    /// Isochronous.
    Isochronous,
    /// Bulk.
    Bulk,
    /// Interrupt.
    Interrupt,
}

impl EndpointKind {
    /// The two-bit encoding USB (and the DWC2 EPTYPE field) uses.
    pub fn bits(self) -> u32 {
        match self {
            EndpointKind::Control => 0,
            EndpointKind::Isochronous => 1,
            EndpointKind::Bulk => 2,
            EndpointKind::Interrupt => 3,
        }
    }

    /// Decodes bmAttributes.
    pub fn from_attributes(attr: u8) -> Self {
        match attr & 3 {
            0 => EndpointKind::Control,
            1 => EndpointKind::Isochronous,
            2 => EndpointKind::Bulk,
            _ => EndpointKind::Interrupt,
        }
    }
}

/// Why a USB operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum UsbError {
    /// No host controller at the given address (or it is not one we drive).
    NoController,
    /// The host controller refused a command (xHCI completion code).
    Command(u8),
    /// The host controller ran out of device slots.
    NoSlot,
    /// A register did not reach the expected state in time, or a transfer hung.
    Timeout,
    /// The port did not enable after reset (nothing attached, or it failed).
    PortDisabled,
    /// The endpoint answered STALL.
    Stall,
    /// The endpoint had no data (interrupt/periodic NAK).
    Nak,
    /// CRC, timeout or bit-stuff error on the bus.
    Transaction,
    /// The device sent more than asked for.
    Babble,
    /// Data toggle mismatch.
    DataToggle,
    /// The controller's DMA failed (bad bus address).
    Dma,
    /// The channel was halted before it finished.
    Cancelled,
    /// The channel is already in use.
    ChannelBusy,
    /// No free host channel.
    NoChannel,
    /// A DMA buffer is smaller than the transfer.
    BufferTooSmall,
    /// The buffer lies where the controller cannot reach it.
    Unreachable,
    /// Heap exhausted.
    NoMemory,
    /// The device sent a malformed or unexpected answer.
    BadDescriptor,
    /// All 127 addresses are taken.
    NoAddress,
}

/// An input report decoded by a HID class driver, in USB terms. The board turns
/// these into its own input events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum UsbInput {
    /// A key went down or up. `usage` is the HID Keyboard/Keypad page usage
    /// (0x04 = A ... 0xE7 = Right GUI); modifiers come as usages 0xE0..=0xE7.
    Key {
        /// HID usage ID.
        usage: u8,
        /// True on press.
        pressed: bool,
    },
    /// Relative pointer motion (a mouse).
    PointerRelative {
        /// Horizontal motion, right positive.
        dx: i16,
        /// Vertical motion, down positive.
        dy: i16,
        /// Wheel steps, away from the user positive.
        wheel: i8,
        /// Button bits: 1 left, 2 right, 4 middle.
        buttons: u8,
    },
    /// Absolute pointer position (a tablet or touch screen), scaled to
    /// 0..=[`ABS_MAX`] on both axes.
    PointerAbsolute {
        /// Horizontal position.
        x: u16,
        /// Vertical position.
        y: u16,
        /// Wheel steps, away from the user positive.
        wheel: i8,
        /// Button bits: 1 left, 2 right, 4 middle.
        buttons: u8,
    },
}

/// The full-scale value of [`UsbInput::PointerAbsolute`] coordinates.
pub const ABS_MAX: u16 = 0x7fff;
