//! QEMU's `ramfb` display, configured through the fw_cfg interface (found
//! in the device tree as `qemu,fw-cfg-mmio`): we allocate the pixels in RAM
//! and tell QEMU where they are by DMA-writing the `etc/ramfb` file.
//! Must not: be used outside QEMU.

use alloc::boxed::Box;
use alloc::string::String;
use core::alloc::Layout;

use crate::mmio::Mmio;
use crate::{FbInfo, Framebuffer};

const FW_CFG_DATA: usize = 0x00;
const FW_CFG_SELECTOR: usize = 0x08;
const FW_CFG_DMA_HI: usize = 0x10;
const FW_CFG_DMA_LO: usize = 0x14;
const FW_CFG_FILE_DIR: u16 = 0x19;
const DMA_CTL_ERROR: u32 = 0x01;
const DMA_CTL_SELECT: u32 = 0x08;
const DMA_CTL_WRITE: u32 = 0x10;
/// DRM_FORMAT_XRGB8888 ("XR24"): 32-bit pixels 0x00RRGGBB, little endian.
const FOURCC_XRGB8888: u32 = u32::from_le_bytes(*b"XR24");

/// Why ramfb could not be set up.
#[derive(Debug, defmt::Format)]
pub enum RamfbError {
    /// QEMU was started without `-device ramfb`.
    NotPresent,
    /// The fw_cfg DMA transfer reported an error.
    DmaFailed,
    /// The requested size does not fit in memory.
    TooLarge,
}

/// QEMU's fw_cfg device.
pub struct FwCfg {
    regs: Mmio,
}

#[repr(C, align(16))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

impl FwCfg {
    /// Wraps the fw_cfg registers (from the device tree).
    pub fn new(regs: Mmio) -> Self {
        Self { regs }
    }

    fn select(&self, key: u16) {
        self.regs.write16(FW_CFG_SELECTOR, key.to_be());
    }

    fn read_bytes(&self, out: &mut [u8]) {
        for b in out {
            *b = self.regs.read8(FW_CFG_DATA);
        }
    }

    /// Finds a file in the fw_cfg directory: `(selector, size)`.
    pub fn find_file(&self, name: &str) -> Option<(u16, u32)> {
        self.select(FW_CFG_FILE_DIR);
        let mut n = [0u8; 4];
        self.read_bytes(&mut n);
        let count = u32::from_be_bytes(n).min(4096);
        for _ in 0..count {
            let mut e = [0u8; 64];
            self.read_bytes(&mut e);
            let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let sel = u16::from_be_bytes([e[4], e[5]]);
            let raw = &e[8..];
            let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
            if raw.get(..len) == Some(name.as_bytes()) {
                return Some((sel, size));
            }
        }
        None
    }

    /// Writes `data` to the item `key` with a DMA transfer.
    pub fn dma_write(&self, key: u16, data: &[u8]) -> Result<(), RamfbError> {
        let access = Box::new(DmaAccess {
            control: (u32::from(key) << 16 | DMA_CTL_SELECT | DMA_CTL_WRITE).to_be(),
            length: (data.len() as u32).to_be(),
            address: (data.as_ptr() as u64).to_be(),
        });
        let addr = &*access as *const DmaAccess as u64;
        barespice_boot::cpu::dsb();
        self.regs
            .write32(FW_CFG_DMA_HI, ((addr >> 32) as u32).to_be());
        self.regs.write32(FW_CFG_DMA_LO, (addr as u32).to_be());
        loop {
            // SAFETY: `access` is live and aligned; QEMU updates `control` by
            // DMA, so it must be re-read from memory each time.
            let ctl = u32::from_be(unsafe { core::ptr::read_volatile(&access.control) });
            if ctl & DMA_CTL_ERROR != 0 {
                return Err(RamfbError::DmaFailed);
            }
            if ctl == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
    }
}

/// A ramfb framebuffer: XRGB8888 pixels in RAM that QEMU scans out.
pub struct Ramfb {
    pixels: &'static mut [u32],
    info: FbInfo,
}

impl Ramfb {
    /// Allocates `width` x `height` pixels and hands them to QEMU.
    pub fn new(fw: &FwCfg, width: u32, height: u32) -> Result<Self, RamfbError> {
        let (sel, _) = fw.find_file("etc/ramfb").ok_or(RamfbError::NotPresent)?;
        let count = (width as usize)
            .checked_mul(height as usize)
            .ok_or(RamfbError::TooLarge)?;
        let layout = Layout::array::<u32>(count)
            .and_then(|l| l.align_to(4096))
            .map_err(|_| RamfbError::TooLarge)?;
        if count == 0 {
            return Err(RamfbError::TooLarge);
        }
        // SAFETY: non-zero size checked above; memory is zeroed (black) and
        // leaked: the display owns it for the life of the firmware.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) } as *mut u32;
        if ptr.is_null() {
            return Err(RamfbError::TooLarge);
        }
        // SAFETY: `ptr` is a fresh, zeroed, exclusively owned allocation of `count` u32s.
        let pixels = unsafe { core::slice::from_raw_parts_mut(ptr, count) };
        let stride = width * 4;
        let mut cfg = [0u8; 28];
        cfg[0..8].copy_from_slice(&(ptr as u64).to_be_bytes());
        cfg[8..12].copy_from_slice(&FOURCC_XRGB8888.to_be_bytes());
        cfg[12..16].copy_from_slice(&0u32.to_be_bytes());
        cfg[16..20].copy_from_slice(&width.to_be_bytes());
        cfg[20..24].copy_from_slice(&height.to_be_bytes());
        cfg[24..28].copy_from_slice(&stride.to_be_bytes());
        fw.dma_write(sel, &cfg)?;
        let info = FbInfo {
            width,
            height,
            stride: width,
        };
        crate::fatal_screen::register(ptr as usize, info);
        Ok(Self { pixels, info })
    }
}

impl Framebuffer for Ramfb {
    fn info(&self) -> FbInfo {
        self.info
    }
    fn pixels(&mut self) -> &mut [u32] {
        self.pixels
    }
    fn flush(&mut self, _x: u32, _y: u32, _w: u32, _h: u32) {}
    fn describe(&self) -> String {
        alloc::format!("ramfb {}x{}", self.info.width, self.info.height)
    }
}
