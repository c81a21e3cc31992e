//! The Raspberry Pi 3 and 4 (BCM2837 / BCM2711), on hardware and on QEMU's
//! `raspi3b` / `raspi4b`, and the Pi 5's base support (BCM2712: console,
//! reset, mailbox framebuffer, RNG; [`bcm2712`], not yet run on hardware).
//!
//! Owns: telling the models apart, the peripheral map, and bringing up the
//! console (PL011 on GPIO14/15), the wake-up interrupt for the generic timer,
//! the watchdog reset, the hardware RNG, the mailbox framebuffer and the USB
//! host stack (keyboard, mouse/tablet and CDC-ECM Ethernet behind the DWC2).
//! On a real Pi 4 also the GENET Ethernet (preferred over USB Ethernet) and
//! the PCIe root complex with the VL805 USB 3 controller ([`pi4`]); QEMU's
//! `raspi4b` models neither, and they are not touched there.
//! Must not: hard-code a model's peripheral base where the device tree gives
//! one, or assume a device tree exists.
//!
//! Which Pi: the device tree's root `compatible` (the GPU firmware passes the
//! `.dtb` that config.txt names; QEMU passes `-dtb`). Without one (QEMU booting
//! a raw image gives x0 = 0x100, no tree) the main ID register decides:
//! Cortex-A53 is a Pi 3, Cortex-A72 a Pi 4, Cortex-A76 a Pi 5. The peripheral base comes from
//! `/soc/ranges` when present, else 0x3F00_0000 (Pi 3) / 0xFE00_0000 (Pi 4, low
//! peripheral mode, the firmware default); the Pi 5's window is fixed
//! ([`bcm2712::IO_BASE`]). On the Pi 5, Ethernet and USB sit behind RP1 (a
//! PCIe device) and are a later step: the status screen says so.
//!
//! Interrupts (see [`crate::irq`]): PSTATE.I stays masked; only the EL1 virtual
//! timer is routed so that its interrupt ends WFI. Pi 3: the BCM2836 per-core
//! controller (0x4000_0000) gets nCNTVIRQ routed to core 0's IRQ; there is no
//! GIC, and the idle loop services timers after every wake. Pi 4: the GIC-400
//! (0xFF84_1000 / 0xFF84_2000) with the timer's PPI 27. USB is polled every
//! millisecond, so no device interrupt is needed.
//!
//! Secondary cores: the firmware's (or QEMU's) armstub parks cores 1-3 in a
//! spin table at 0xD8..0xF0, waiting for an entry address. We never write it,
//! and the boot code keeps 0..0x80000 out of the heap, so they stay parked.
//!
//! Caches: the mailbox and the DWC2 do not snoop the ARM caches; their buffers
//! are cleaned and invalidated around each use ([`dma::PiDma`]).

pub mod bcm2712;
pub mod dma;
pub mod edid;
pub mod fb;
pub mod genet;
pub mod mailbox;
pub mod pcie;
mod pi4;
pub mod power;
pub mod property;
pub mod pwm_audio;
pub mod ranges;
pub mod rng;
pub mod uart;
pub mod vl805;

use alloc::boxed::Box;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::gic::Gic;
use crate::mmio::Mmio;
use crate::pl011::Pl011;
use crate::rng::BoardRng;
use crate::usb::{self, dwc2::Dwc2, dwc2_pipes::Dwc2Host};
use crate::{console, AnyNic, Board, BoardOptions, Framebuffer};
use dma::PiDma;
use mailbox::Mailbox;

/// Which Raspberry Pi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Model {
    /// BCM2837: Pi 3 A+/B/B+, Zero 2 W, CM3 (Cortex-A53).
    Pi3,
    /// BCM2711: Pi 4 B, Pi 400, CM4 (Cortex-A72).
    Pi4,
    /// BCM2712: Pi 5, Pi 500, CM5 (Cortex-A76). Base support only.
    Pi5,
}

// Offsets from the peripheral base.
const GPIO: usize = 0x20_0000;
/// Span of the peripheral window from its base (the BCM2711's is the longer).
const PERIPHERALS_LEN: usize = 0x0180_0000;
const UART0: usize = 0x20_1000;
const MAILBOX: usize = 0x00_b880;
const PM: usize = 0x10_0000;
const RNG: usize = 0x10_4000;
const USB: usize = 0x98_0000;

const PI3_PERIPHERALS: usize = 0x3f00_0000;
const PI4_PERIPHERALS: usize = 0xfe00_0000;
/// BCM2836 per-core interrupt controller (Pi 3).
const PI3_LOCAL: usize = 0x4000_0000;
const LOCAL_CORE0_TIMER_IRQCNTL: usize = 0x40;
const LOCAL_CNTV_IRQ: u32 = 1 << 3;
/// GIC-400 (Pi 4, low peripheral mode).
const PI4_GICD: usize = 0xff84_1000;
const PI4_GICC: usize = 0xff84_2000;
/// The EL1 virtual timer's interrupt id (PPI 11).
const VTIMER_PPI: u32 = 27;

// Power management watchdog (reset).
const PM_RSTC: usize = 0x1c;
const PM_WDOG: usize = 0x24;
const PM_PASSWORD: u32 = 0x5a00_0000;
const PM_RSTC_WRCFG_MASK: u32 = 0x30;
const PM_RSTC_FULL_RESET: u32 = 0x20;

static PM_BASE: AtomicUsize = AtomicUsize::new(0);
static DMA: PiDma = PiDma;

/// What [`early`] found, kept for [`devices`].
#[derive(Clone, Copy)]
pub struct Pi {
    model: Model,
    peripherals: usize,
    name: &'static str,
    /// QEMU's model of the firmware answered (it lacks the Pi 4's RNG200).
    emulated: bool,
}

/// Decides whether this is a Raspberry Pi: from the root `compatible` when a
/// device tree exists, else from the CPU (MIDR) if there is none at all.
pub fn detect(fdt: Option<&fdt::Fdt<'_>>) -> Option<(Model, usize)> {
    match fdt {
        Some(f) => {
            let model = crate::dt::machine_compatible(f).find_map(|c| match c {
                "brcm,bcm2837"
                | "brcm,bcm2710"
                | "raspberrypi,3-model-b"
                | "raspberrypi,3-model-b-plus" => Some(Model::Pi3),
                "brcm,bcm2711" | "raspberrypi,4-model-b" | "raspberrypi,400" => Some(Model::Pi4),
                c if bcm2712::is_bcm2712(c) => Some(Model::Pi5),
                _ => None,
            })?;
            // The BCM2712's /soc/ranges has no 0x7e00_0000 window to look up.
            let base = match model {
                Model::Pi5 => default_base(model),
                _ => soc_base(f).unwrap_or(default_base(model)),
            };
            Some((model, base))
        }
        None => {
            let model = match midr_part() {
                0xd03 => Model::Pi3,
                0xd08 => Model::Pi4,
                bcm2712::CORTEX_A76_PART => Model::Pi5,
                _ => return None,
            };
            Some((model, default_base(model)))
        }
    }
}

fn default_base(model: Model) -> usize {
    match model {
        Model::Pi3 => PI3_PERIPHERALS,
        Model::Pi4 => PI4_PERIPHERALS,
        Model::Pi5 => bcm2712::IO_BASE,
    }
}

/// The ARM address of bus address 0x7E00_0000 from `/soc/ranges`.
fn soc_base(f: &fdt::Fdt<'_>) -> Option<usize> {
    let soc = f.find_node("/soc")?;
    let ranges = soc.property("ranges")?.value;
    let child_cells = soc
        .property("#address-cells")
        .and_then(|p| p.as_usize())
        .unwrap_or(1);
    let parent_cells = f.root().cell_sizes().address_cells;
    let size_cells = soc
        .property("#size-cells")
        .and_then(|p| p.as_usize())
        .unwrap_or(1);
    let stride = (child_cells + parent_cells + size_cells) * 4;
    if stride == 0 {
        return None;
    }
    let read = |b: &[u8]| {
        b.chunks_exact(4).fold(0u64, |acc, c| {
            (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        })
    };
    ranges.chunks_exact(stride).find_map(|e| {
        let child = read(&e[..child_cells * 4]);
        let parent = read(&e[child_cells * 4..(child_cells + parent_cells) * 4]);
        (child == 0x7e00_0000).then_some(parent as usize)
    })
}

fn midr_part() -> u32 {
    let midr: u64;
    // SAFETY: reading MIDR_EL1 has no side effects and is allowed at EL1.
    unsafe {
        core::arch::asm!("mrs {}, midr_el1", out(reg) midr, options(nomem, nostack, preserves_flags))
    };
    ((midr >> 4) & 0xfff) as u32
}

fn window(base: usize, len: usize) -> Mmio {
    // SAFETY: every window passed here is a BCM283x/2711 peripheral block at its
    // documented offset from the base the device tree (or the model) gives;
    // boot's MMU maps all non-RAM addresses as Device memory.
    unsafe { Mmio::new(base, len) }
}

/// Pi 5: PSCI SYSTEM_RESET through the firmware's TF-A (`smc`, as the
/// BCM2712 device tree's /psci node says).
fn psci_reset() {
    use barespice_boot::psci;
    psci::call(psci::Conduit::Smc, psci::SYSTEM_RESET);
}

fn watchdog_reset() {
    let base = PM_BASE.load(Ordering::Relaxed);
    if base == 0 {
        return;
    }
    let pm = window(base, 0x30);
    // Fire the watchdog after a few ticks with a full-reset configuration.
    pm.write32(PM_WDOG, PM_PASSWORD | 10);
    let r = pm.read32(PM_RSTC) & !PM_RSTC_WRCFG_MASK;
    pm.write32(PM_RSTC, PM_PASSWORD | r | PM_RSTC_FULL_RESET);
    loop {
        barespice_boot::cpu::wait_for_interrupt();
    }
}

fn mailbox(p: &Pi) -> Mailbox {
    let offset = match p.model {
        Model::Pi5 => bcm2712::offset::MAILBOX,
        _ => MAILBOX,
    };
    Mailbox::new(window(p.peripherals + offset, mailbox::REGS_LEN), &DMA)
}

/// Console, timer wake-up and reset. Called by `early_init`.
pub(crate) fn early(model: Model, peripherals: usize) -> Result<Pi, &'static str> {
    let mut pi = Pi {
        model,
        peripherals,
        name: "Raspberry Pi",
        emulated: false,
    };
    let mb = mailbox(&pi);
    let uart_clock = mb.clock_rate(mailbox::CLOCK_UART).unwrap_or(48_000_000);
    if model == Model::Pi5 {
        // uart10 (debug connector): left as the bootloader configured it
        // (`enable_uart=1` in [pi5]); see the bcm2712 module's doc.
        let uart_regs = window(peripherals + bcm2712::offset::UART10, uart::UART_LEN);
        console::install(Box::leak(Box::new(Pl011::new(uart_regs))));
        barespice_boot::fatal::set_reset_hook(psci_reset);
    } else {
        uart::select_pins(window(peripherals + GPIO, uart::GPIO_LEN), model);
        let uart_regs = window(peripherals + UART0, uart::UART_LEN);
        uart::configure(uart_regs, uart_clock);
        console::install(Box::leak(Box::new(Pl011::new(uart_regs))));
        PM_BASE.store(peripherals + PM, Ordering::Relaxed);
        barespice_boot::fatal::set_reset_hook(watchdog_reset);
    }

    match model {
        Model::Pi3 => {
            // Route this core's virtual timer to its IRQ line: enough to end WFI.
            let local = window(PI3_LOCAL, 0x100);
            local.write32(
                LOCAL_CORE0_TIMER_IRQCNTL,
                local.read32(LOCAL_CORE0_TIMER_IRQCNTL) | LOCAL_CNTV_IRQ,
            );
        }
        Model::Pi4 => {
            let gic = Gic::new(window(PI4_GICD, 0x1000), window(PI4_GICC, 0x2000));
            crate::irq::init(gic, VTIMER_PPI);
        }
        Model::Pi5 => {
            let gic = Gic::new(
                window(bcm2712::address(bcm2712::offset::GICD), 0x1000),
                window(bcm2712::address(bcm2712::offset::GICC), 0x2000),
            );
            crate::irq::init(gic, VTIMER_PPI);
            defmt::info!(
                "board: BCM2712: uart10 at {=usize:#x}, mailbox at {=usize:#x}, RNG200 at {=usize:#x}, reset by PSCI (smc); written to the references, not yet run on hardware",
                bcm2712::address(bcm2712::offset::UART10),
                bcm2712::address(bcm2712::offset::MAILBOX),
                bcm2712::address(bcm2712::offset::RNG200)
            );
        }
    }

    let revision = mb
        .get::<1>(mailbox::TAG_BOARD_REVISION, &[])
        .map(|v| v[0])
        .unwrap_or(0);
    let firmware = mb
        .get::<1>(mailbox::TAG_FIRMWARE_REVISION, &[])
        .map(|v| v[0])
        .unwrap_or(0);
    // Real firmware reports its build time (seconds since 1970, > 2017 for any
    // firmware that boots a Pi 3 B+ or 4); QEMU answers a small constant.
    pi.emulated = firmware < 1_500_000_000;
    pi.name = board_name(revision, model);
    let serial = mb
        .get::<2>(mailbox::TAG_BOARD_SERIAL, &[])
        .unwrap_or([0; 2]);
    let arm = mb.get::<2>(mailbox::TAG_ARM_MEMORY, &[]).unwrap_or([0; 2]);
    let vc = mb.get::<2>(mailbox::TAG_VC_MEMORY, &[]).unwrap_or([0; 2]);
    let arm_clock = mb.clock_rate(mailbox::CLOCK_ARM).unwrap_or(0);
    defmt::info!(
        "board: {=str} (revision {=u32:#x}, firmware {=u32}{=str}, serial {=u32:08x}{=u32:08x}), peripherals at {=usize:#x}",
        pi.name,
        revision,
        firmware,
        if pi.emulated { " = QEMU" } else { "" },
        serial[1],
        serial[0],
        peripherals
    );
    defmt::info!(
        "board: ARM memory {=u32:#x}+{=u32:#x}, VC memory {=u32:#x}+{=u32:#x}, ARM {=u32} Hz, UART clock {=u32} Hz, timer {=u64} Hz",
        arm[0],
        arm[1],
        vc[0],
        vc[1],
        arm_clock,
        uart_clock,
        barespice_boot::cpu::counter_frequency()
    );
    Ok(pi)
}

/// A name for the revision code (new-style codes, bit 23 set: type in bits 11:4).
fn board_name(revision: u32, model: Model) -> &'static str {
    if revision & (1 << 23) != 0 {
        match (revision >> 4) & 0xff {
            0x08 => return "Raspberry Pi 3 Model B",
            0x0d => return "Raspberry Pi 3 Model B+",
            0x0e => return "Raspberry Pi 3 Model A+",
            0x0a | 0x10 => return "Raspberry Pi Compute Module 3",
            0x12 => return "Raspberry Pi Zero 2 W",
            0x11 => return "Raspberry Pi 4 Model B",
            0x13 => return "Raspberry Pi 400",
            0x14 => return "Raspberry Pi Compute Module 4",
            0x17 => return "Raspberry Pi 5",
            0x18 => return "Raspberry Pi Compute Module 5",
            0x19 => return "Raspberry Pi 500",
            _ => {}
        }
    }
    match model {
        Model::Pi3 => "Raspberry Pi 3 (BCM2837)",
        Model::Pi4 => "Raspberry Pi 4 (BCM2711)",
        Model::Pi5 => "Raspberry Pi 5 (BCM2712)",
    }
}

/// The Pi 5's board so far: display, serial log, RNG and reset, but no
/// network and no input. Its Ethernet (Cadence GEM) and USB (DWC3 xHCI) are
/// in RP1, behind PCIe: a later step, which the status screen says plainly.
fn pi5_without_rp1(pi: Pi, framebuffer: Option<Box<dyn Framebuffer>>, rng: BoardRng) -> Board {
    for part in ["Ethernet", "USB"] {
        crate::bringup::report(
            part,
            crate::bringup::Outcome::Unsupported,
            alloc::string::String::from(
                "goes through RP1 (PCIe) on the Pi 5: not supported yet, a later step",
            ),
            "",
        );
    }
    Board {
        name: pi.name,
        nic: None,
        framebuffer,
        // No USB stack runs: nothing ever arrives here.
        input: Box::new(usb::input::UsbInputs),
        rng,
        audio: None,
        service: None,
    }
}

/// The monitor's preferred mode from its EDID (no `resolution=` set), else
/// `fallback`; logs what it saw either way.
fn monitor_mode(mb: &Mailbox, fallback: (u32, u32)) -> (u32, u32) {
    let answer = mb.get::<{ edid::ANSWER_WORDS }>(edid::TAG_GET_EDID_BLOCK, &[0]);
    let mode = match answer {
        Ok(words) => edid::block_from_answer(&words).and_then(|b| edid::preferred_mode(&b)),
        Err(_) => Err("the GPU firmware did not answer the EDID tag (no monitor, or an emulator)"),
    };
    match mode {
        Ok((w, h)) => {
            defmt::info!(
                "display: monitor's preferred mode {=u32}x{=u32} (EDID)",
                w,
                h
            );
            (w.min(4096), h.min(4096))
        }
        Err(why) => {
            defmt::warn!(
                "display: {=str}; using {=u32}x{=u32}",
                why,
                fallback.0,
                fallback.1
            );
            fallback
        }
    }
}

/// Framebuffer, RNG, the Pi 4's PCIe/VL805 and GENET, and the USB stack
/// (NIC + input) with the GENET as service tasks.
pub(crate) fn devices(pi: Pi, fdt: Option<&fdt::Fdt<'_>>, opts: BoardOptions) -> Board {
    let mb = mailbox(&pi);
    let mac = mb.get::<2>(mailbox::TAG_BOARD_MAC, &[]).ok().map(|m| {
        [
            m[0] as u8,
            (m[0] >> 8) as u8,
            (m[0] >> 16) as u8,
            (m[0] >> 24) as u8,
            m[1] as u8,
            (m[1] >> 8) as u8,
        ]
    });
    if let Some(b) = mac {
        defmt::info!(
            "board: on-board Ethernet MAC {=[u8]:02x} from the firmware",
            b
        );
        // The Pi 3's on-board LAN9514/LAN7515 has no EEPROM: its USB driver
        // takes this address.
        usb::net_channel::set_board_mac(b);
    }

    // Under-voltage (a weak supply or cable) is the classic cause of USB and
    // Ethernet misbehaving on a Pi: say so on the status screen.
    match mb.get::<1>(power::TAG_GET_THROTTLED, &[0]) {
        Ok([v]) => match power::warning(v) {
            Some(w) => crate::bringup::report(
                "Power",
                crate::bringup::Outcome::Failed,
                w,
                if power::under_voltage(v) {
                    "the power supply and its cable: 5.1 V, 2.5 A (Pi 3) or 3 A (Pi 4)"
                } else {
                    "cooling: the SoC is holding its clock back"
                },
            ),
            None => defmt::info!("board: power ok (throttled = {=u32:#x})", v),
        },
        Err(_) => defmt::info!("board: the firmware does not report throttling"),
    }

    let (fb_w, fb_h) = if opts.fb_from_monitor {
        monitor_mode(&mb, (opts.fb_width, opts.fb_height))
    } else {
        (opts.fb_width, opts.fb_height)
    };
    let framebuffer: Option<Box<dyn Framebuffer>> = match fb::MailboxFb::new(&mb, fb_w, fb_h) {
        Ok(fb) => {
            // Write-combining instead of Device memory for the GPU's
            // buffer, when its 2 MiB blocks stay clear of the registers.
            let (start, end) = fb.hw_range();
            let clear_of_mmio = end.next_multiple_of(2 << 20) <= pi.peripherals
                || start >= pi.peripherals + PERIPHERALS_LEN;
            if clear_of_mmio && barespice_boot::mmu::map_normal_nc(start as u64, end as u64) {
                defmt::info!(
                    "display: framebuffer mapped Normal non-cacheable; fatal screen registered"
                );
                fb.register_fatal();
            } else {
                defmt::warn!("display: framebuffer stays Device memory (no fatal screen on it)");
            }
            Some(Box::new(fb))
        }
        Err(e) => {
            defmt::warn!("display: {=str}", e);
            None
        }
    };

    // QEMU's raspi4b maps nothing at the RNG200's address: touching it faults.
    let seed = if pi.emulated && pi.model == Model::Pi4 {
        defmt::warn!("rng: QEMU raspi4b has no RNG200");
        None
    } else {
        let offset = match pi.model {
            Model::Pi5 => bcm2712::offset::RNG200,
            _ => RNG,
        };
        rng::seed(window(pi.peripherals + offset, rng::REGS_LEN), pi.model)
    };
    let rng = match seed {
        Some(seed) => BoardRng::from_device_seed(seed),
        None => {
            defmt::warn!("rng: no hardware entropy; seeding from timer jitter");
            BoardRng::from_jitter()
        }
    };
    defmt::info!("rng: seeded from {}", rng.source());

    // Pi 4: the USB-A ports (PCIe -> VL805) and the on-board Ethernet (GENET).
    let (usb3, genet) = match pi.model {
        Model::Pi4 => (pi4::usb3(&pi, fdt, &mb), pi4::ethernet(&pi, fdt, mac)),
        Model::Pi3 => (None, None),
        Model::Pi5 => return pi5_without_rp1(pi, framebuffer, rng),
    };

    // USB: power the controller through the firmware, then hand the stack to a task.
    match mb.power_on(mailbox::POWER_USB_HCD) {
        Ok(true) => {}
        Ok(false) => defmt::warn!("usb: firmware reports the controller still off"),
        Err(e) => defmt::warn!("usb: power-on request failed: {}", e),
    }
    // The USB host controller: on a Pi 4 whose PCIe link and VL805 came up, the
    // xHCI behind it (the USB-A ports); otherwise the DWC2 (QEMU, Pi 3, or a
    // Pi 4 whose PCIe bring-up failed: then only the USB-C port works).
    let (usb_service, usb_nic) = match usb3 {
        Some((_pcie, vl805)) => {
            defmt::info!(
                "usb: using the VL805's xHCI at {=usize:#x}",
                vl805.xhci_base()
            );
            let hal: &'static pcie::PcieDma = Box::leak(Box::new(vl805.dma_hal()));
            // SAFETY: the xHCI's BAR 0 was placed at the start of the PCIe
            // outbound window (Device memory in boot's map) by `Vl805::bring_up`
            // and is wrapped once, here.
            let regs = unsafe { Mmio::new(vl805.xhci_base(), vl805::XHCI_REGS_LEN) };
            usb::host::start(usb::xhci::Xhci::new(regs, hal))
        }
        None => {
            let mut hc = Dwc2::new(window(pi.peripherals + USB, usb::dwc2::REGS_LEN), &DMA);
            usb::host::start(async move {
                hc.init().await?;
                Dwc2Host::new(hc)
            })
        }
    };
    // The GENET, when it came up, is the NIC; a USB Ethernet adapter's device is
    // then left unused.
    let (nic, service) = match genet {
        Some(g) => {
            let state: &'static mut genet::NetState = Box::leak(Box::new(genet::NetState::new()));
            let (runner, device) = genet::channel(state, g.mac());
            let genet_service = g.run(runner);
            let both: usb::host::UsbTask = Box::pin(async move {
                embassy_futures::join::join(usb_service, genet_service).await;
            });
            (AnyNic::Genet(device), both)
        }
        None => (AnyNic::Usb(usb_nic), usb_service),
    };

    Board {
        name: pi.name,
        nic: Some(nic),
        framebuffer,
        input: Box::new(usb::input::UsbInputs),
        rng,
        audio: pwm_audio::PwmAudio::probe(pi.model, pi.peripherals, pi.emulated),
        service: Some(service),
    }
}
