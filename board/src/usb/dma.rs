//! DMA buffers for the USB host controller and the board hooks that make them
//! visible to it.
//!
//! Owns: [`DmaBuf`] (a heap buffer aligned to whole cache lines, so cache
//! maintenance on it never touches a neighbour) and the [`DmaHal`] trait a board
//! implements to translate addresses and keep caches coherent. Must not: know
//! any register of any controller.
//!
//! On a Raspberry Pi the DWC2 is a "legacy" bus master: it sees ARM RAM through
//! the VideoCore bus alias (RAM | 0xC000_0000) and only the first GiB of it, and
//! it does not snoop the ARM caches. An xHCI behind PCIe sees RAM through the
//! root complex's inbound window (64-bit bus addresses: [`DmaHal::bus_address64`]).
//! QEMU hides both facts; real hardware needs [`DmaHal::before_dma`] before a
//! transfer and [`DmaHal::after_dma`] after it.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;

/// Cache line size the buffers are aligned and padded to (Cortex-A53/A72).
pub const DMA_ALIGN: usize = 64;

/// What a board provides so a host controller can DMA into ordinary RAM.
pub trait DmaHal {
    /// The bus address the controller must be given for CPU address `addr`, or
    /// `None` if the controller cannot reach it.
    fn bus_address(&self, addr: usize) -> Option<u32>;
    /// The same for controllers with 64-bit DMA (xHCI); by default the 32-bit
    /// answer.
    fn bus_address64(&self, addr: usize) -> Option<u64> {
        self.bus_address(addr).map(u64::from)
    }
    /// Makes CPU writes to `[addr, addr+len)` visible to the device and drops
    /// stale lines (clean + invalidate), before the device reads or writes it.
    fn before_dma(&self, addr: usize, len: usize);
    /// Drops cached lines of `[addr, addr+len)` after the device wrote it, so the
    /// CPU reads what the device put there.
    fn after_dma(&self, addr: usize, len: usize);
}

/// A zeroed heap buffer whose start and length are whole cache lines.
pub struct DmaBuf {
    ptr: NonNull<u8>,
    len: usize,
    align: usize,
}

// SAFETY: DmaBuf owns its allocation exclusively, like a Box<[u8]>.
unsafe impl Send for DmaBuf {}

impl DmaBuf {
    /// Allocates at least `len` bytes (rounded up to [`DMA_ALIGN`]); `None` when
    /// the heap is exhausted.
    pub fn new(len: usize) -> Option<Self> {
        Self::new_aligned(len, DMA_ALIGN)
    }

    /// Allocates at least `len` bytes starting at a multiple of `align` (a
    /// power of two; at least [`DMA_ALIGN`] is used), e.g. page-aligned xHCI
    /// scratchpads or rings that must not cross a 64 KiB boundary.
    pub fn new_aligned(len: usize, align: usize) -> Option<Self> {
        let align = align.max(DMA_ALIGN);
        let len = len.max(1).div_ceil(DMA_ALIGN) * DMA_ALIGN;
        let layout = Layout::from_size_align(len, align).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(Self { ptr, len, align })
    }

    /// The usable length (a multiple of [`DMA_ALIGN`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: buffers have at least one cache line.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// CPU address of the first byte.
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The contents.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is a live allocation of len initialised (zeroed) bytes.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The contents, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self gives exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // The layout was valid when allocated with the same values.
        if let Ok(layout) = Layout::from_size_align(self.len, self.align) {
            // SAFETY: ptr came from alloc_zeroed with this layout and is freed once.
            unsafe { dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}
