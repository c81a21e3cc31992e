//! PL011 bring-up on the header pins GPIO14 (TXD) / GPIO15 (RXD): pin function
//! ALT0, pulls off, baud divisors from the UART clock the firmware reports.
//!
//! Owns: the GPIO function/pull registers for pins 14 and 15, and the PL011's
//! configuration registers. Transmitting is the shared [`crate::pl011`] driver.
//! Must not: touch other pins than those and, on a Pi 3, GPIO32/33. On a Pi 3
//! with Bluetooth the firmware gives the PL011 to Bluetooth (GPIO32/33, ALT3)
//! and the mini UART to the header; selecting ALT0 on 14/15 moves the PL011 to
//! the header whatever config.txt says, and GPIO32/33 go back to inputs so the
//! PL011's receive line is not driven from two pin pairs at once (written to
//! the BCM2837 peripheral manual's function table, not yet run on hardware).

use super::Model;
use crate::mmio::Mmio;

/// Size of the GPIO register block.
pub const GPIO_LEN: usize = 0x100;
/// Size of the PL011 register block.
pub const UART_LEN: usize = 0x100;
/// The console's baud rate.
pub const BAUD: u32 = 115_200;

const GPFSEL1: usize = 0x04;
const GPFSEL3: usize = 0x0c;
const GPPUD: usize = 0x94;
const GPPUDCLK0: usize = 0x98;
const GPIO_PUP_PDN_CNTRL0: usize = 0xe4;
const FSEL_ALT0: u32 = 0b100;

const IBRD: usize = 0x24;
const FBRD: usize = 0x28;
const LCRH: usize = 0x2c;
const CR: usize = 0x30;
const ICR: usize = 0x44;
const FR: usize = 0x18;
const FR_BUSY: u32 = 1 << 3;
const LCRH_8N1_FIFO: u32 = (0b11 << 5) | (1 << 4);
const CR_ENABLE_TX_RX: u32 = 1 | (1 << 8) | (1 << 9);

/// Routes the PL011 to GPIO14/15 with pulls off.
pub fn select_pins(gpio: Mmio, model: Model) {
    // Function select: 3 bits per pin, pins 10..19 in GPFSEL1.
    let mut f = gpio.read32(GPFSEL1);
    for pin in [14u32, 15] {
        let shift = (pin - 10) * 3;
        f = (f & !(0b111 << shift)) | (FSEL_ALT0 << shift);
    }
    gpio.write32(GPFSEL1, f);
    match model {
        Model::Pi3 => {
            // GPIO32/33 (pins 30..39 in GPFSEL3) back to input (000).
            let f3 = gpio.read32(GPFSEL3) & !((0b111 << 6) | (0b111 << 9));
            gpio.write32(GPFSEL3, f3);
            // BCM2835 sequence: set the control, clock it into the pins, release.
            gpio.write32(GPPUD, 0);
            barespice_boot::cpu::delay_us(5);
            gpio.write32(GPPUDCLK0, (1 << 14) | (1 << 15));
            barespice_boot::cpu::delay_us(5);
            gpio.write32(GPPUDCLK0, 0);
        }
        Model::Pi4 => {
            // BCM2711: two bits per pin, 0 = no pull.
            let v = gpio.read32(GPIO_PUP_PDN_CNTRL0) & !((0b11 << 28) | (0b11 << 30));
            gpio.write32(GPIO_PUP_PDN_CNTRL0, v);
        }
        // Not called for the Pi 5: its uart10 has dedicated debug-connector pins.
        Model::Pi5 => {}
    }
}

/// The PL011 integer and fractional divisors (units of 1/64) for `baud` at
/// `clock_hz`: divisor = clock / (16 × baud).
pub fn divisors(clock_hz: u32, baud: u32) -> (u32, u32) {
    let div64 = ((u64::from(clock_hz) * 4 + u64::from(baud) / 2) / u64::from(baud.max(1))) as u32;
    (div64 >> 6, div64 & 0x3f)
}

/// Programs 8N1 with FIFOs at [`BAUD`] and enables transmit and receive.
pub fn configure(uart: Mmio, clock_hz: u32) {
    // Let anything the firmware was sending drain, then disable to reprogram.
    let deadline = barespice_boot::cpu::counter() + barespice_boot::cpu::counter_frequency() / 100;
    while uart.read32(FR) & FR_BUSY != 0 && barespice_boot::cpu::counter() < deadline {}
    uart.write32(CR, 0);
    uart.write32(ICR, 0x7ff);
    let (i, f) = divisors(clock_hz, BAUD);
    uart.write32(IBRD, i);
    uart.write32(FBRD, f);
    uart.write32(LCRH, LCRH_8N1_FIFO);
    uart.write32(CR, CR_ENABLE_TX_RX);
}
