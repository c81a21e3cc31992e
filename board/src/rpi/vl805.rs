//! The VIA VL805 USB 3 host controller behind the Pi 4's PCIe link: the
//! function at 01:00.0 whose xHCI registers carry the USB-A ports.
//!
//! Owns: checking the function's identity, placing its one 64-bit memory BAR
//! at the start of the outbound window with memory decoding and bus mastering
//! on, asking the GPU firmware to load the VL805's firmware (mailbox tag
//! 0x0003_0058 with the function's address) when none is running, and
//! reading the firmware version and xHCI capability registers for the log.
//! Must not: drive the xHCI (the generic xHCI driver does, given
//! [`Vl805::xhci_base`] and [`Vl805::dma`]).
//!
//! Written to the references, not yet run on hardware. Followed: U-Boot
//! `arch/arm/mach-bcm283x/msg.c` (`bcm2711_notify_vl805_reset`: the tag, the
//! bus << 20 | slot << 15 | func << 12 address, the 200 us wait); Circle
//! `lib/bcmpciehostbridge.cpp` (BAR placement and command bits done directly,
//! without a bus scan); Linux `drivers/firmware/raspberrypi.c`
//! (`rpi_firmware_init_vl805`: config dword 0x50 holds the firmware version,
//! and a non-zero version means the EEPROM already loaded one). Deliberate
//! difference from U-Boot: like Linux, the firmware is only asked to load the
//! VL805's firmware when the version reads 0 (boards with an SPI EEPROM load
//! their own after PERST#).

use super::mailbox::{Mailbox, MailboxError};
use super::pcie::fields::{bdf_address, XhciCaps};
use super::pcie::{
    BrcmPcie, PcieDma, Window, CFG_BAR0, CFG_BAR1, CFG_CLASS, CFG_COMMAND, CFG_ID, COMMAND_MASTER,
    COMMAND_MEMORY,
};
use crate::mmio::Mmio;

/// VIA Labs vendor id.
pub const VENDOR_VIA: u16 = 0x1106;
/// VL805 device id.
pub const DEVICE_VL805: u16 = 0x3483;
/// Class code of an xHCI controller (serial bus, USB, xHCI).
const CLASS_XHCI: u32 = 0x0c_0330;
/// Config dword holding the running VL805 firmware's version.
const CFG_FIRMWARE_VERSION: u16 = 0x50;
/// Mailbox tag: "notify xHCI reset" (load the VL805 firmware).
pub const TAG_NOTIFY_XHCI_RESET: u32 = 0x0003_0058;
/// Bytes of the outbound window given to the VL805's BAR (its xHCI registers
/// need far less; the bridge window is opened 1 MiB wide).
const BAR_SPAN: u64 = 1 << 20;
/// Bytes of register space the xHCI driver may touch behind [`Vl805::xhci_base`].
pub const XHCI_REGS_LEN: usize = BAR_SPAN as usize;

/// Why the VL805 is not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Vl805Error {
    /// Bus 1 answered with an unexpected vendor/device (all ones: nothing answered).
    NotVl805 {
        /// Config dword 0.
        id: u32,
    },
    /// The firmware refused or did not answer the notify-xHCI-reset call.
    Firmware(MailboxError),
    /// BAR 0 is not a memory BAR.
    BadBar {
        /// BAR 0 as read back.
        bar: u32,
    },
    /// The capability registers do not look like an xHCI (firmware not running).
    NoXhci {
        /// CAPLENGTH + HCIVERSION.
        dword0: u32,
    },
}

/// The VL805, configured and with its xHCI capability registers read.
pub struct Vl805 {
    xhci_cpu: u64,
    dma: Window,
    /// Firmware version from config dword 0x50 (0: none reported).
    pub firmware_version: u32,
    /// Its xHCI capability registers.
    pub caps: XhciCaps,
}

impl Vl805 {
    /// Configures the VL805 at 01:00.0 behind `pcie` (link must be up).
    pub fn bring_up(pcie: &BrcmPcie, mb: &Mailbox) -> Result<Self, Vl805Error> {
        pcie.configure_root_port(BAR_SPAN);
        let id = pcie.read32(1, 0, 0, CFG_ID);
        let class = pcie.read32(1, 0, 0, CFG_CLASS) >> 8;
        defmt::info!(
            "vl805: 01:00.0 id {=u16:04x}:{=u16:04x} class {=u32:06x}",
            id as u16,
            (id >> 16) as u16,
            class
        );
        if id as u16 != VENDOR_VIA || (id >> 16) as u16 != DEVICE_VL805 || class != CLASS_XHCI {
            return Err(Vl805Error::NotVl805 { id });
        }

        // BAR 0 (64-bit memory) at the start of the outbound window.
        let out = pcie.outbound();
        pcie.write32(1, 0, 0, CFG_BAR0, out.pci as u32);
        pcie.write32(1, 0, 0, CFG_BAR1, (out.pci >> 32) as u32);
        let bar = pcie.read32(1, 0, 0, CFG_BAR0);
        if bar & 1 != 0 {
            return Err(Vl805Error::BadBar { bar });
        }
        let cmd = pcie.read32(1, 0, 0, CFG_COMMAND);
        pcie.write32(
            1,
            0,
            0,
            CFG_COMMAND,
            (cmd & 0xffff) | COMMAND_MEMORY | COMMAND_MASTER,
        );

        let mut version = pcie.read32(1, 0, 0, CFG_FIRMWARE_VERSION);
        if version == 0 {
            defmt::info!(
                "vl805: no firmware running; asking the GPU firmware to load it (tag {=u32:#x})",
                TAG_NOTIFY_XHCI_RESET
            );
            mb.get::<1>(TAG_NOTIFY_XHCI_RESET, &[bdf_address(1, 0, 0)])
                .map_err(Vl805Error::Firmware)?;
            barespice_boot::cpu::delay_us(200);
            version = pcie.read32(1, 0, 0, CFG_FIRMWARE_VERSION);
        }
        defmt::info!("vl805: firmware version {=u32:08x}", version);

        let xhci_cpu = out
            .to_cpu(u64::from(bar & !0xf) | (u64::from(pcie.read32(1, 0, 0, CFG_BAR1)) << 32))
            .unwrap_or(out.cpu);
        // SAFETY: BAR 0 now decodes at the start of the outbound window, which
        // boot's MMU maps as Device memory; only the capability dwords are read.
        let caps_regs = unsafe { Mmio::new(xhci_cpu as usize, 8) };
        let dword0 = caps_regs.read32(0);
        let caps = XhciCaps::decode(dword0, caps_regs.read32(4));
        if !caps.plausible() {
            return Err(Vl805Error::NoXhci { dword0 });
        }
        defmt::info!(
            "vl805: xHCI {=u16:x}.{=u16:02x} at {=u64:#x}: {=u8} ports, {=u8} slots, {=u16} interrupters",
            caps.version >> 8,
            caps.version & 0xff,
            xhci_cpu,
            caps.max_ports,
            caps.max_slots,
            caps.max_interrupters
        );
        Ok(Self {
            xhci_cpu,
            dma: pcie.inbound(),
            firmware_version: version,
            caps,
        })
    }

    /// CPU address of the xHCI registers (capability registers first).
    pub fn xhci_base(&self) -> usize {
        self.xhci_cpu as usize
    }

    /// The DMA translation for the xHCI: `dma().to_pci(cpu_phys)` is the bus
    /// address to program for a buffer. The VL805 does not snoop the ARM
    /// caches: buffers need the same clean/invalidate as [`super::dma::PiDma`].
    pub fn dma(&self) -> Window {
        self.dma
    }

    /// The same translation as a [`crate::usb::dma::DmaHal`] (32-bit bus
    /// addresses, cache maintenance included) for the USB host-controller code.
    pub fn dma_hal(&self) -> PcieDma {
        PcieDma::new(self.dma)
    }
}
