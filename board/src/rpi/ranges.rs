//! Device-tree `ranges` / `dma-ranges` entries: how a bus's child addresses map
//! to its parent's (the BCM2711's `/scb` bus, its PCIe windows).
//!
//! Owns: splitting a property's big-endian cells into entries and translating
//! an address through them. Must not: read the tree itself (callers pass the
//! property bytes and cell counts), so it is unit-tested on the host.

/// One `ranges` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeEntry {
    /// The child-bus address, all of its cells (for PCI: the space code cell
    /// in bits 95:64, the 64-bit address below).
    pub child: u128,
    /// The parent-bus address.
    pub parent: u64,
    /// Length in bytes.
    pub size: u64,
}

impl RangeEntry {
    /// The low 64 bits of the child address (the PCI bus address for PCI).
    pub fn child_address(&self) -> u64 {
        self.child as u64
    }

    /// The PCI space code (`0x02` 32-bit memory, `0x03` 64-bit memory, `0x01`
    /// I/O) of a 3-cell PCI child address.
    pub fn pci_space(&self) -> u8 {
        (((self.child >> 64) as u32) >> 24) as u8 & 0x03
    }
}

fn read_cells(bytes: &[u8]) -> u128 {
    bytes.chunks_exact(4).fold(0u128, |acc, c| {
        (acc << 32) | u128::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    })
}

/// The entries of a `ranges`-style property with the given cell counts.
/// Entries whose cells do not fit (more than 3 child, 2 parent or 2 size
/// cells) yield nothing; a trailing partial entry is ignored.
pub fn parse(
    prop: &[u8],
    child_cells: usize,
    parent_cells: usize,
    size_cells: usize,
) -> impl Iterator<Item = RangeEntry> + '_ {
    let ok = (1..=3).contains(&child_cells)
        && (1..=2).contains(&parent_cells)
        && (1..=2).contains(&size_cells);
    let stride = (child_cells + parent_cells + size_cells) * 4;
    let chunks = if ok {
        prop.chunks_exact(stride)
    } else {
        prop[..0].chunks_exact(1)
    };
    chunks.filter(move |_| ok).map(move |e| {
        let c = child_cells * 4;
        let p = c + parent_cells * 4;
        RangeEntry {
            child: read_cells(&e[..c]),
            parent: read_cells(&e[c..p]) as u64,
            size: read_cells(&e[p..]) as u64,
        }
    })
}

/// The address of a `reg` property's first entry, `address_cells` (1 or 2) wide.
pub fn first_address(reg: &[u8], address_cells: usize) -> Option<u64> {
    if !(1..=2).contains(&address_cells) {
        return None;
    }
    reg.get(..address_cells * 4).map(|b| read_cells(b) as u64)
}

/// Translates a child-bus `addr` to the parent bus through `entries`.
pub fn translate(mut entries: impl Iterator<Item = RangeEntry>, addr: u64) -> Option<u64> {
    entries.find_map(|e| {
        let start = e.child_address();
        let off = addr.checked_sub(start)?;
        (off < e.size).then(|| e.parent.checked_add(off)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn be(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn scb_ranges_translate() {
        // bcm2711 /scb: 2 child, 2 parent, 2 size cells.
        let p = be(&[
            0x0,
            0x7c00_0000,
            0x0,
            0xfc00_0000,
            0x0,
            0x0380_0000, //
            0x6,
            0x0000_0000,
            0x6,
            0x0000_0000,
            0x0,
            0x4000_0000,
        ]);
        assert_eq!(parse(&p, 2, 2, 2).count(), 2);
        assert_eq!(
            translate(parse(&p, 2, 2, 2), 0x7d58_0000),
            Some(0xfd58_0000)
        );
        assert_eq!(
            translate(parse(&p, 2, 2, 2), 0x7d50_0000),
            Some(0xfd50_0000)
        );
        assert_eq!(
            translate(parse(&p, 2, 2, 2), 0x6_0000_1000),
            Some(0x6_0000_1000)
        );
        assert_eq!(translate(parse(&p, 2, 2, 2), 0x7bff_ffff), None);
        assert_eq!(
            translate(parse(&p, 2, 2, 2), 0x7f80_0000),
            None,
            "one past the end"
        );
    }

    #[test]
    fn pci_ranges() {
        // pcie@7d500000 ranges: 32-bit memory, PCI 0xc000_0000 at CPU 0x6_0000_0000, 1 GiB.
        let p = be(&[0x0200_0000, 0x0, 0xc000_0000, 0x6, 0x0, 0x0, 0x4000_0000]);
        let e: Vec<_> = parse(&p, 3, 2, 2).collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].pci_space(), 2);
        assert_eq!(e[0].child_address(), 0xc000_0000);
        assert_eq!(e[0].parent, 0x6_0000_0000);
        assert_eq!(e[0].size, 1 << 30);
    }

    #[test]
    fn reg_first_address() {
        assert_eq!(
            first_address(&be(&[0x0, 0x7d58_0000, 0x0, 0x1_0000]), 2),
            Some(0x7d58_0000)
        );
        assert_eq!(
            first_address(&be(&[0x7e20_0000, 0x100]), 1),
            Some(0x7e20_0000)
        );
        assert_eq!(first_address(&be(&[0x1]), 2), None, "short property");
        assert_eq!(first_address(&be(&[0x1, 0x2, 0x3]), 3), None);
    }

    #[test]
    fn malformed_properties() {
        // A trailing partial entry is ignored; impossible cell counts give nothing.
        let p = be(&[0x0, 0x1000, 0x0, 0x2000, 0x0, 0x100, 0x7]);
        assert_eq!(parse(&p, 2, 2, 2).count(), 1);
        assert_eq!(parse(&p, 4, 2, 2).count(), 0);
        assert_eq!(parse(&p, 0, 2, 2).count(), 0);
        assert_eq!(parse(&[], 2, 2, 2).count(), 0);
        // An entry whose parent range would overflow does not translate.
        let p = be(&[0x0, 0x0, 0xffff_ffff, 0xffff_ff00, 0x0, 0x1000]);
        assert_eq!(translate(parse(&p, 2, 2, 2), 0x800), None);
    }
}
