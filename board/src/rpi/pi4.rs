//! Bring-up of the Raspberry Pi 4's devices that sit outside the VideoCore
//! peripheral block: the PCIe root complex with the VL805 USB 3 controller,
//! and the GENET Ethernet MAC with its PHY.
//!
//! Owns: finding them in the device tree (`brcm,bcm2711-pcie`,
//! `brcm,bcm2711-genet-v5` under `/scb`, translated through `/scb`'s
//! `ranges`), the fallbacks a tree-less boot uses, deciding whether to touch
//! them at all, and reporting each step ([`crate::bringup`]) with what to
//! check. Must not: touch either block under QEMU's `raspi4b`, which models
//! neither (any access there is a data abort), or when the device tree marks
//! them disabled.
//!
//! Written to the references, not yet run on hardware (see [`super::pcie`],
//! [`super::vl805`], [`super::genet`]).

use super::genet::{self, Genet, PhyMode};
use super::mailbox::Mailbox;
use super::pcie::{BrcmPcie, PcieError, Window};
use super::ranges;
use super::vl805::{Vl805, Vl805Error};
use super::{window, Pi};
use crate::bringup::{self, Outcome};
use alloc::format;
use alloc::string::String;
use fdt::node::FdtNode;
use fdt::Fdt;

/// The `/scb` bus's ARM base below the VideoCore peripherals (low peripheral
/// mode: 0xfc00_0000 when the peripherals are at 0xfe00_0000).
const SCB_BELOW_PERIPHERALS: usize = 0x0200_0000;
/// Offsets on `/scb` of the PCIe bridge and of the GENET.
const SCB_PCIE: usize = 0x0150_0000;
const SCB_GENET: usize = 0x0158_0000;
/// The Pi 4's PHY address on the GENET's MDIO bus.
const DEFAULT_PHY_ADDR: u8 = 1;

const CHECK_PCIE: &str = "the power supply and the board (Pi 4 B / Pi 400; CM4: a card in its slot); the status value in the serial log";
const CHECK_VL805: &str =
    "the VL805 firmware: update the bootloader EEPROM (rpi-eeprom) or the GPU firmware files";
const CHECK_OTHER_DEVICE: &str =
    "a CM4 carrier's PCIe slot: only the VL805 (Pi 4 B, Pi 400) is supported";
const CHECK_GENET: &str =
    "the Ethernet PHY: a Pi 4 B (CM4: the carrier board's PHY) and the GPU firmware's device tree";

/// Where a Pi 4 block is: from the device tree when it has the node, else the
/// fixed BCM2711 layout. `None` when the tree disables it.
struct Found<'b, 'a> {
    base: usize,
    node: Option<FdtNode<'b, 'a>>,
}

fn scb_translate(fdt: &Fdt<'_>, addr: u64) -> Option<u64> {
    let scb = fdt.find_node("/scb")?;
    let child = scb.cell_sizes();
    let parent = fdt.root().cell_sizes();
    let prop = scb.property("ranges")?.value;
    ranges::translate(
        ranges::parse(
            prop,
            child.address_cells,
            parent.address_cells,
            child.size_cells,
        ),
        addr,
    )
}

fn find<'b, 'a>(
    pi: &Pi,
    fdt: Option<&'b Fdt<'a>>,
    compat: &str,
    offset: usize,
) -> Option<Found<'b, 'a>> {
    let fallback = pi.peripherals.wrapping_sub(SCB_BELOW_PERIPHERALS) + offset;
    let Some(f) = fdt else {
        return Some(Found {
            base: fallback,
            node: None,
        });
    };
    let Some(node) = crate::dt::find(f, compat) else {
        return Some(Found {
            base: fallback,
            node: None,
        });
    };
    if node
        .property("status")
        .and_then(|p| p.as_str())
        .is_some_and(|s| s != "okay" && s != "ok")
    {
        return None;
    }
    let scb_cells = f
        .find_node("/scb")
        .map_or(2, |s| s.cell_sizes().address_cells);
    let base = node
        .property("reg")
        .and_then(|p| ranges::first_address(p.value, scb_cells))
        .and_then(|a| scb_translate(f, a))
        .map_or(fallback, |a| a as usize);
    Some(Found {
        base,
        node: Some(node),
    })
}

/// [`find`], or `None` reported as absent: always under QEMU (not probed at
/// all), or when the device tree disables the block.
fn locate<'b, 'a>(
    pi: &Pi,
    fdt: Option<&'b Fdt<'a>>,
    part: &'static str,
    what: &str,
    compat: &str,
    offset: usize,
) -> Option<Found<'b, 'a>> {
    let why = if pi.emulated {
        format!("QEMU raspi4b models no {what} (not probed)")
    } else {
        match find(pi, fdt, compat, offset) {
            Some(f) => return Some(f),
            None => format!("{what} disabled in the device tree"),
        }
    };
    bringup::report(part, Outcome::Absent, why, "");
    None
}

/// The PCIe node's first memory window in `prop` (`ranges` or `dma-ranges`),
/// its CPU side translated through `/scb`.
fn pcie_window(
    fdt: Option<&Fdt<'_>>,
    node: Option<&FdtNode<'_, '_>>,
    prop: &str,
) -> Option<Window> {
    let (f, n) = (fdt?, node?);
    let parent_cells = f
        .find_node("/scb")
        .map_or(2, |s| s.cell_sizes().address_cells);
    let size_cells = n.cell_sizes().size_cells;
    let e = ranges::parse(n.property(prop)?.value, 3, parent_cells, size_cells)
        .find(|e| e.pci_space() >= 2)?;
    let cpu = scb_translate(f, e.parent).unwrap_or(e.parent);
    Some(Window {
        cpu,
        pci: e.child_address(),
        size: e.size,
    })
}

/// PCIe link, VL805 firmware and its xHCI registers. Returns the VL805 for the
/// xHCI driver when everything came up.
pub(super) fn usb3(pi: &Pi, fdt: Option<&Fdt<'_>>, mb: &Mailbox) -> Option<(BrcmPcie, Vl805)> {
    let found = locate(
        pi,
        fdt,
        "PCIe",
        "BCM2711 PCIe",
        "brcm,bcm2711-pcie",
        SCB_PCIE,
    )?;
    let node = found.node.as_ref();
    let outbound = pcie_window(fdt, node, "ranges").unwrap_or(Window::PI4_OUTBOUND);
    let inbound = pcie_window(fdt, node, "dma-ranges").unwrap_or(Window::PI4_INBOUND);
    let gen = node
        .and_then(|n| n.property("max-link-speed"))
        .and_then(|p| p.as_usize())
        .map(|g| g as u32);
    let ssc = node.is_some_and(|n| n.property("brcm,enable-ssc").is_some());
    defmt::info!(
        "pcie: outbound {}, inbound {}, max gen {}, ssc {=bool}",
        outbound,
        inbound,
        gen,
        ssc
    );
    let pcie = match BrcmPcie::bring_up(
        window(found.base, super::pcie::REGS_LEN),
        outbound,
        inbound,
        gen,
        ssc,
    ) {
        Ok(p) => p,
        Err(e) => {
            let detail = match e {
                PcieError::LinkDown { status } => format!(
                    "link down, PCIE_MISC_PCIE_STATUS {status:#x}: {}",
                    super::pcie::fields::LinkStatus::decode(status)
                        .why_not()
                        .unwrap_or("?")
                ),
                PcieError::EndpointMode { status } => {
                    format!("endpoint mode, PCIE_MISC_PCIE_STATUS {status:#x}")
                }
                PcieError::BadWindow => String::from("device tree window cannot be programmed"),
            };
            bringup::report("PCIe", Outcome::Failed, detail, CHECK_PCIE);
            return None;
        }
    };
    bringup::report("PCIe", Outcome::Ok, String::from("link up"), "");
    match Vl805::bring_up(&pcie, mb) {
        Ok(v) => {
            bringup::report(
                "VL805",
                Outcome::Ok,
                format!(
                    "firmware {:08x}, xHCI {:x}.{:02x}, {} ports (no xHCI driver on it yet)",
                    v.firmware_version,
                    v.caps.version >> 8,
                    v.caps.version & 0xff,
                    v.caps.max_ports
                ),
                "",
            );
            Some((pcie, v))
        }
        Err(e) => {
            let (detail, check) = match e {
                Vl805Error::NotVl805 { id: 0xffff_ffff } => {
                    (String::from("nothing answers at 01:00.0"), CHECK_PCIE)
                }
                Vl805Error::NotVl805 { id } => (
                    format!("01:00.0 is not a VL805 (id {id:#010x})"),
                    CHECK_OTHER_DEVICE,
                ),
                Vl805Error::Firmware(m) => {
                    (format!("firmware load request failed ({m:?})"), CHECK_VL805)
                }
                Vl805Error::BadBar { bar } => (format!("BAR0 reads {bar:#x}"), CHECK_VL805),
                Vl805Error::NoXhci { dword0 } => (
                    format!("no xHCI registers (CAPLENGTH/HCIVERSION {dword0:#x})"),
                    CHECK_VL805,
                ),
            };
            bringup::report("VL805", Outcome::Failed, detail, check);
            None
        }
    }
}

/// The GENET with its PHY negotiating, or `None` (reported) when absent or broken.
pub(super) fn ethernet(pi: &Pi, fdt: Option<&Fdt<'_>>, mac: Option<[u8; 6]>) -> Option<Genet> {
    let found = locate(
        pi,
        fdt,
        "Ethernet",
        "GENET",
        "brcm,bcm2711-genet-v5",
        SCB_GENET,
    )?;
    let node = found.node.as_ref();
    let mode = PhyMode::from_dt(
        node.and_then(|n| n.property("phy-mode"))
            .and_then(|p| p.as_str()),
    );
    let phy = node
        .and_then(|n| {
            n.children()
                .flat_map(|mdio| mdio.children())
                .find_map(|p| p.property("reg")?.as_usize())
        })
        .map_or(DEFAULT_PHY_ADDR, |a| (a & 0x1f) as u8);
    let Some(mac) = mac else {
        bringup::report(
            "Ethernet",
            Outcome::Failed,
            String::from("no MAC address from the firmware"),
            "the GPU firmware files",
        );
        return None;
    };
    match Genet::probe(window(found.base, genet::REGS_LEN), phy, mode, mac) {
        Ok(g) => {
            bringup::report(
                "Ethernet",
                Outcome::Ok,
                format!(
                    "GENET v5, PHY {:#010x} at MDIO {phy}, {mode:?}, MAC {}; negotiating",
                    g.phy_id(),
                    mac_text(&mac)
                ),
                "",
            );
            Some(g)
        }
        Err(e) => {
            bringup::report(
                "Ethernet",
                Outcome::Failed,
                format!("GENET: {e:?}"),
                CHECK_GENET,
            );
            None
        }
    }
}

fn mac_text(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}
