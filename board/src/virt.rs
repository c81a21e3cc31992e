//! The QEMU `virt` board (`-M virt`, Cortex-A72): PL011 console, GICv2,
//! generic timer, PSCI reset, virtio-mmio net/input/rng/sound, ramfb via fw_cfg,
//! and, when there is no virtio-net (`scripts/emulate --board virt-xhci`), an
//! xHCI on the generic ECAM PCIe bridge carrying USB keyboard, tablet and
//! Ethernet. Everything is located through the device tree.
//! Must not: be selected on anything whose root compatible is not
//! "linux,dummy-virt".

use alloc::boxed::Box;
use alloc::string::String;
use virtio_drivers::transport::DeviceType;

use barespice_boot::psci::{self, Conduit};

use crate::console;
use crate::dt;
use crate::gic::Gic;
use crate::input::VirtioInputs;
use crate::mmio::Mmio;
use crate::net::VirtioNic;
use crate::pl011::Pl011;
use crate::ramfb::{FwCfg, Ramfb};
use crate::rng::BoardRng;
use crate::usb::dma::DmaHal;
use crate::{AnyNic, Board, BoardOptions, Framebuffer, InputSource};

static CONDUIT: critical_section::Mutex<core::cell::Cell<Conduit>> =
    critical_section::Mutex::new(core::cell::Cell::new(Conduit::Hvc));

fn psci_reset() {
    let c = critical_section::with(|cs| CONDUIT.borrow(cs).get());
    psci::call(c, psci::SYSTEM_RESET);
}

/// # Safety-relevant contract
/// Device-tree addresses are trusted: QEMU generated the tree.
fn mmio(node: &fdt::node::FdtNode<'_, '_>, index: usize) -> Option<Mmio> {
    let (base, size) = dt::reg_n(node, index)?;
    // SAFETY: the device tree describes this register window; boot's MMU maps
    // every non-RAM address as Device memory; each window is wrapped once.
    Some(unsafe { Mmio::new(base, size.max(4)) })
}

pub(crate) fn early(fdt: &fdt::Fdt<'_>) -> Result<(), &'static str> {
    // Console first: the node /chosen/stdout-path names, else the first PL011.
    let uart = fdt
        .chosen()
        .stdout()
        .filter(|n| {
            n.compatible()
                .is_some_and(|c| c.all().any(|s| s == "arm,pl011"))
        })
        .or_else(|| dt::find(fdt, "arm,pl011"))
        .ok_or("no PL011 in the device tree")?;
    let regs = mmio(&uart, 0).ok_or("PL011 without registers")?;
    console::install(Box::leak(Box::new(Pl011::new(regs))));

    if let Some(p) = fdt.find_node("/psci") {
        let method = p
            .property("method")
            .and_then(|m| m.as_str())
            .unwrap_or("hvc");
        let c = if method == "smc" {
            Conduit::Smc
        } else {
            Conduit::Hvc
        };
        critical_section::with(|cs| CONDUIT.borrow(cs).set(c));
        barespice_boot::fatal::set_reset_hook(psci_reset);
    }

    let gic_node = dt::find(fdt, "arm,cortex-a15-gic")
        .or_else(|| dt::find(fdt, "arm,gic-400"))
        .ok_or("no GICv2 in the device tree")?;
    let dist = mmio(&gic_node, 0).ok_or("GIC distributor registers")?;
    let cpu = mmio(&gic_node, 1).ok_or("GIC CPU interface registers")?;
    let timer = dt::find(fdt, "arm,armv8-timer")
        .or_else(|| dt::find(fdt, "arm,armv7-timer"))
        .ok_or("no generic timer in the device tree")?;
    // Interrupts are <secure phys, non-secure phys, virtual, hypervisor>.
    let vtimer = dt::gic_interrupt(&timer, 2).ok_or("timer without interrupts")?;
    crate::irq::init(Gic::new(dist, cpu), vtimer);
    defmt::info!(
        "board: QEMU virt, timer {=u64} Hz (PPI id {=u32}), reset via PSCI",
        barespice_boot::cpu::counter_frequency(),
        vtimer
    );
    Ok(())
}

pub(crate) fn devices(fdt: &fdt::Fdt<'_>, opts: BoardOptions) -> Board {
    let mut nic = None;
    let mut inputs = VirtioInputs::new();
    let mut rng = None;
    let mut audio: Option<Box<dyn crate::audio::AudioSink>> = None;
    for found in crate::virtio::probe(fdt) {
        match found.kind {
            DeviceType::Network if nic.is_none() => {
                nic = VirtioNic::new(found.transport, found.irq).map(|n| {
                    let m = n.mac();
                    defmt::info!("net: virtio-net, MAC {=[u8]:02x}", m);
                    AnyNic::Virtio(n)
                })
            }
            DeviceType::Input => inputs.add(found.transport, found.irq),
            DeviceType::Sound if audio.is_none() => {
                audio = crate::virtio_sound::VirtioSound::new(found.transport)
                    .map(|s| Box::new(s) as Box<dyn crate::audio::AudioSink>)
            }
            DeviceType::EntropySource if rng.is_none() => {
                rng = Some(BoardRng::from_virtio(found.transport))
            }
            _ => {}
        }
    }
    let mut input: Box<dyn InputSource> = Box::new(inputs);
    let mut service = None;
    if nic.is_none() {
        match start_usb(fdt) {
            Some((task, device)) => {
                defmt::info!(
                    "net: no virtio-net; using USB Ethernet and USB input behind the xHCI"
                );
                nic = Some(AnyNic::Usb(device));
                input = Box::new(crate::usb::input::UsbInputs);
                service = Some(task);
            }
            None => defmt::warn!(
                "net: no virtio-net device (add -device virtio-net-device) and no xHCI"
            ),
        }
    }
    let rng = rng.unwrap_or_else(BoardRng::from_jitter);
    defmt::info!("rng: seeded from {}", rng.source());

    let framebuffer: Option<Box<dyn Framebuffer>> =
        match dt::find(fdt, "qemu,fw-cfg-mmio").and_then(|n| mmio(&n, 0)) {
            Some(regs) => match Ramfb::new(&FwCfg::new(regs), opts.fb_width, opts.fb_height) {
                Ok(fb) => {
                    defmt::info!(
                        "display: ramfb {=u32}x{=u32}",
                        opts.fb_width,
                        opts.fb_height
                    );
                    Some(Box::new(fb))
                }
                Err(e) => {
                    defmt::warn!("display: ramfb unavailable: {}", e);
                    None
                }
            },
            None => {
                defmt::warn!("display: no fw_cfg in the device tree");
                None
            }
        };
    let _ = String::new();
    Board {
        name: "QEMU virt",
        nic,
        framebuffer,
        input,
        rng,
        audio,
        service,
    }
}

/// How PCI devices on virt see RAM: 1:1 (no IOMMU), and QEMU keeps DMA
/// coherent; the cache maintenance is still done, as on hardware.
struct VirtDma;

impl DmaHal for VirtDma {
    fn bus_address(&self, addr: usize) -> Option<u32> {
        u32::try_from(addr).ok()
    }

    fn bus_address64(&self, addr: usize) -> Option<u64> {
        Some(addr as u64)
    }

    fn before_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }

    fn after_dma(&self, addr: usize, len: usize) {
        barespice_boot::cpu::dcache_clean_invalidate(addr, len);
    }
}

static VIRT_DMA: VirtDma = VirtDma;

/// Finds the generic ECAM bridge, enumerates it and, if it carries an xHCI,
/// returns the USB task and Ethernet device.
fn start_usb(
    fdt: &fdt::Fdt<'_>,
) -> Option<(crate::usb::host::UsbTask, crate::usb::cdc_ecm::NetDevice)> {
    use crate::pci::{self, ecam};
    let node = dt::find(fdt, "pci-host-ecam-generic")?;
    let Some(bridge) = ecam::parse(&node) else {
        defmt::warn!("pci: ECAM bridge without reg/ranges in the device tree");
        return None;
    };
    defmt::info!(
        "pci: ECAM at {=u64:#x} ({=u64:#x} bytes), buses {}-{}, memory {}",
        bridge.config.0 as u64,
        bridge.config.1 as u64,
        bridge.buses.0,
        bridge.buses.1,
        bridge.memory
    );
    // Only the 32-bit window is used: the 64-bit one lies past the 39-bit map.
    let window = pci::Window {
        size: bridge
            .memory
            .size
            .min(0x1_0000_0000 - bridge.memory.cpu.min(0xffff_ffff)),
        ..bridge.memory
    };
    // SAFETY: the device tree describes the ECAM window; boot maps every
    // non-RAM address as Device memory; it is wrapped once, here.
    let cfg = ecam::Ecam::new(
        unsafe { Mmio::new(bridge.config.0, bridge.config.1) },
        bridge.buses.0,
        bridge.buses.1,
    );
    let functions = pci::enumerate(&cfg, cfg.first_bus(), &window);
    let Some(f) = functions.iter().find(|f| f.class == pci::CLASS_XHCI) else {
        defmt::warn!(
            "pci: no xHCI (class 0c0330) among {} functions",
            functions.len()
        );
        return None;
    };
    let Some(bar) = f.bars[0] else {
        defmt::warn!("pci: xHCI {} has no memory BAR 0", f.bdf);
        return None;
    };
    defmt::info!(
        "usb: xHCI {=u16:04x}:{=u16:04x} at {} registers {=u64:#x}",
        f.vendor,
        f.device,
        f.bdf,
        bar.cpu
    );
    // SAFETY: BAR 0 was just assigned to this window of the bridge's memory
    // range (Device memory in boot's map) and is wrapped once, here.
    let regs = unsafe { Mmio::new(bar.cpu as usize, bar.size as usize) };
    Some(crate::usb::host::start(crate::usb::xhci::Xhci::new(
        regs, &VIRT_DMA,
    )))
}
