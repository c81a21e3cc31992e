//! virtio-mmio plumbing for the QEMU virt board: the `Hal` that
//! `virtio-drivers` needs (identity-mapped, cache-coherent DMA from the heap)
//! and discovery of the transports listed in the device tree.
//!
//! Must not: be used on hardware with non-coherent DMA (the `share` below does
//! no cache maintenance, which is only right under QEMU).

use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

use crate::irq::IrqLine;

/// DMA memory and address translation for virtio-drivers on virt.
pub struct VirtHal;

fn dma_layout(pages: usize) -> Option<Layout> {
    Layout::from_size_align(pages.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()
}

// SAFETY: memory from `dma_alloc` is zeroed, page-aligned, identity-mapped
// (physical == virtual) and stays allocated until `dma_dealloc`; QEMU's
// virtio DMA is cache-coherent, so sharing a buffer needs no maintenance.
unsafe impl Hal for VirtHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = dma_layout(pages).expect("virtio DMA size overflow");
        // SAFETY: the layout has non-zero size (virtio never asks for 0 pages).
        let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let p = NonNull::new(p).expect("out of memory for virtio DMA");
        (p.as_ptr() as PhysAddr, p)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        if let Some(layout) = dma_layout(pages) {
            // SAFETY: `vaddr` came from `dma_alloc` with this same layout.
            unsafe { alloc::alloc::dealloc(vaddr.as_ptr(), layout) };
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("null MMIO address")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio-mmio slot that holds a device, with its interrupt line.
pub struct Found {
    /// The transport (device already identified).
    pub transport: MmioTransport<'static>,
    /// What kind of device it is.
    pub kind: DeviceType,
    /// Its interrupt line, if the device tree names one.
    pub irq: Option<IrqLine>,
}

/// Every populated `virtio,mmio` slot in the device tree.
pub fn probe(fdt: &fdt::Fdt<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for node in crate::dt::find_all(fdt, "virtio,mmio") {
        let Some((base, size)) = crate::dt::reg(&node) else {
            continue;
        };
        let Some(header) = NonNull::new(base as *mut VirtIOHeader) else {
            continue;
        };
        // SAFETY: the device tree says a virtio-mmio register block of `size`
        // bytes is at `base`; it is mapped as Device memory and each slot is
        // probed once, so this transport is its only user.
        let Ok(transport) = (unsafe { MmioTransport::new(header, size) }) else {
            continue;
        };
        let kind = transport.device_type();
        let irq = crate::dt::gic_interrupt(&node, 0).and_then(IrqLine::new);
        defmt::debug!(
            "virtio-mmio at {=usize:#x}: {}",
            base,
            defmt::Debug2Format(&kind)
        );
        out.push(Found {
            transport,
            kind,
            irq,
        });
    }
    out
}
