//! The firmware framebuffer, allocated through the mailbox.
//!
//! Owns: the allocation message (physical and virtual size, depth 32, the
//! pixel order that makes pixels 0x00RRGGBB, offset 0, allocate, pitch), the
//! returned buffer, and a shadow copy in ordinary RAM that the firmware draws
//! into. [`Framebuffer::flush`] copies the
//! changed rectangle to the GPU's buffer with aligned 32-bit stores: the GPU
//! buffer lies outside ARM RAM, mapped Normal non-cacheable (write-combining)
//! when the board could remap it, else as Device memory, where reads are slow
//! and unaligned or cache-zeroing stores would fault. Rows are copied
//! with the pitch the firmware returned, which may exceed width × 4.
//!
//! Must not: trust the firmware's numbers without checking them against the
//! request (depth, pitch, size).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;

use super::dma::arm_address;
use super::mailbox::{self, Mailbox, Message};
use crate::{FbInfo, Framebuffer};

/// Pixel order 0, "BGR": the bytes in memory are blue, green, red, unused, so a
/// little-endian u32 reads 0x00RRGGBB (order 1, "RGB", puts red first in memory).
const ORDER_BGR: u32 = 0;

/// A mailbox framebuffer with a RAM shadow.
pub struct MailboxFb {
    info: FbInfo,
    /// The GPU's buffer (ARM physical address) and its pitch in bytes.
    hw: usize,
    pitch: usize,
    /// Swap red and blue while copying (firmware kept BGR order).
    swap: bool,
    shadow: Box<[u32]>,
}

impl MailboxFb {
    /// Asks the firmware for a `width` × `height` × 32 buffer.
    pub fn new(mb: &Mailbox, width: u32, height: u32) -> Result<Self, &'static str> {
        let mut m = Message::new();
        m.tag(mailbox::TAG_FB_SET_PHYSICAL, &[width, height], 2);
        let virt = m.tag(mailbox::TAG_FB_SET_VIRTUAL, &[width, height], 2);
        m.tag(mailbox::TAG_FB_SET_OFFSET, &[0, 0], 2);
        let depth = m.tag(mailbox::TAG_FB_SET_DEPTH, &[32], 1);
        let order = m.tag(mailbox::TAG_FB_SET_PIXEL_ORDER, &[ORDER_BGR], 1);
        let alloc = m.tag(mailbox::TAG_FB_ALLOCATE, &[4096, 0], 2);
        let pitch = m.tag(mailbox::TAG_FB_GET_PITCH, &[], 1);
        mb.call(&mut m)
            .map_err(|_| "mailbox framebuffer request failed")?;

        let v = m.values(virt).ok_or("no virtual size in answer")?;
        let (w, h) = (*v.first().unwrap_or(&0), *v.get(1).unwrap_or(&0));
        if m.values(depth).and_then(|d| d.first().copied()) != Some(32) {
            return Err("firmware refused 32 bits per pixel");
        }
        let a = m
            .values(alloc)
            .ok_or("firmware did not allocate a framebuffer")?;
        let (bus, size) = (*a.first().unwrap_or(&0), *a.get(1).unwrap_or(&0) as usize);
        let pitch = m
            .values(pitch)
            .and_then(|p| p.first().copied())
            .unwrap_or(0) as usize;
        let order = m
            .values(order)
            .and_then(|o| o.first().copied())
            .unwrap_or(ORDER_BGR);
        if w == 0
            || h == 0
            || bus == 0
            || pitch < w as usize * 4
            || !pitch.is_multiple_of(4)
            || size < pitch * h as usize
        {
            return Err("firmware framebuffer geometry is inconsistent");
        }
        let info = FbInfo {
            width: w,
            height: h,
            stride: w,
        };
        defmt::info!(
            "display: mailbox framebuffer {=u32}x{=u32} at {=usize:#x}, pitch {=usize}, order {=u32}",
            w,
            h,
            arm_address(bus),
            pitch,
            order
        );
        let hw = arm_address(bus);
        Ok(Self {
            info,
            hw,
            pitch,
            swap: order != ORDER_BGR,
            shadow: vec![0u32; (w * h) as usize].into_boxed_slice(),
        })
    }
}

impl MailboxFb {
    /// The GPU buffer's ARM physical range `[start, end)`.
    pub fn hw_range(&self) -> (usize, usize) {
        (self.hw, self.hw + self.pitch * self.info.height as usize)
    }

    /// Hands the GPU buffer itself to the fatal screen (it draws there
    /// directly, with the firmware's pitch). Only once the buffer is mapped as
    /// Normal memory: the fatal path's plain stores (and memset's `dc zva`)
    /// would fault on Device memory. With the firmware's RGB order the fatal
    /// screen's colours come out with red and blue swapped.
    pub fn register_fatal(&self) {
        let info = FbInfo {
            stride: (self.pitch / 4) as u32,
            ..self.info
        };
        crate::fatal_screen::register(self.hw, info);
    }
}

impl Framebuffer for MailboxFb {
    fn info(&self) -> FbInfo {
        self.info
    }

    fn pixels(&mut self) -> &mut [u32] {
        &mut self.shadow
    }

    fn flush(&mut self, x: u32, y: u32, w: u32, h: u32) {
        let (fw, fh) = (self.info.width, self.info.height);
        let x0 = x.min(fw) as usize;
        let y0 = y.min(fh) as usize;
        let x1 = x.saturating_add(w).min(fw) as usize;
        let y1 = y.saturating_add(h).min(fh) as usize;
        let stride = self.info.stride as usize;
        for row in y0..y1 {
            let src = &self.shadow[row * stride + x0..row * stride + x1];
            let dst = (self.hw + row * self.pitch + x0 * 4) as *mut u32;
            if self.swap {
                for (i, &p) in src.iter().enumerate() {
                    let p = (p & 0xff00) | ((p >> 16) & 0xff) | ((p & 0xff) << 16);
                    // SAFETY: as below, one aligned pixel at a time.
                    unsafe { core::ptr::write_volatile(dst.add(i), p) };
                }
            } else {
                // SAFETY: the firmware allocated `size >= pitch * height` bytes at
                // `hw` for us alone; row < height and x0..x1 <= width keep the row
                // inside it, and the shadow never overlaps it. Both sides are
                // 4-byte aligned (the 4096-aligned base, a pitch that is a whole
                // number of pixels), and the target's strict alignment keeps the
                // copy to aligned stores, which Device memory requires.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
            }
            // Without a device tree the boot code maps this as cacheable RAM:
            // push the row out to the GPU then (harmless for Device memory).
            barespice_boot::cpu::dcache_clean_invalidate(dst as usize, (x1 - x0) * 4);
        }
    }

    fn describe(&self) -> String {
        format!(
            "mailbox framebuffer {}x{}",
            self.info.width, self.info.height
        )
    }
}
