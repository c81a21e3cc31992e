//! Device-tree helpers: the few questions the boards ask of the DTB the
//! loader passed (which node is compatible with X, its registers, its
//! interrupt, /chosen's command line and initrd).
//!
//! Must not: hard-code addresses; every device address comes from here.

use fdt::node::FdtNode;
use fdt::Fdt;

/// One register window of a node: `(physical address, size)`.
pub fn reg(node: &FdtNode<'_, '_>) -> Option<(usize, usize)> {
    reg_n(node, 0)
}

/// The `index`-th register window of a node.
pub fn reg_n(node: &FdtNode<'_, '_>, index: usize) -> Option<(usize, usize)> {
    let r = node.reg()?.nth(index)?;
    Some((r.starting_address as usize, r.size.unwrap_or(0)))
}

fn cells<'a>(node: &FdtNode<'_, 'a>, name: &str) -> Option<impl Iterator<Item = u32> + 'a> {
    let p = node.property(name)?;
    Some(
        p.value
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
    )
}

/// The GIC interrupt id of a node's `index`-th interrupt, for a GIC parent
/// with 3 interrupt cells `<type number flags>`: SPI n -> 32+n, PPI n -> 16+n.
pub fn gic_interrupt(node: &FdtNode<'_, '_>, index: usize) -> Option<u32> {
    let mut it = cells(node, "interrupts")?;
    let mut k = 0;
    loop {
        let kind = it.next()?;
        let num = it.next()?;
        let _flags = it.next()?;
        if k == index {
            return Some(match kind {
                0 => 32 + num,
                _ => 16 + num,
            });
        }
        k += 1;
    }
}

/// First node whose `compatible` contains `compat`.
pub fn find<'b, 'a>(fdt: &'b Fdt<'a>, compat: &str) -> Option<FdtNode<'b, 'a>> {
    fdt.find_compatible(&[compat])
}

/// All nodes whose `compatible` contains `compat`.
pub fn find_all<'b, 'a: 'b>(
    fdt: &'b Fdt<'a>,
    compat: &'b str,
) -> impl Iterator<Item = FdtNode<'b, 'a>> + 'b {
    fdt.all_nodes()
        .filter(move |n| n.compatible().is_some_and(|c| c.all().any(|s| s == compat)))
}

/// `/chosen/bootargs` (the kernel command line), or "".
pub fn bootargs<'a>(fdt: &Fdt<'a>) -> &'a str {
    fdt.chosen().bootargs().unwrap_or("")
}

/// Root `compatible` strings, e.g. "linux,dummy-virt" or "raspberrypi,4-model-b".
pub fn machine_compatible<'a>(fdt: &Fdt<'a>) -> impl Iterator<Item = &'a str> {
    fdt.root().compatible().all()
}
