//! The per-session memory budget.
//!
//! Owns one number per session: how many bytes the server may make this
//! client hold at once, and how many it holds now. Everything whose size the
//! server decides takes a [`Charge`] before it allocates: surfaces, the
//! pixmap and palette caches and the GLZ window (charged at the size the
//! client announced), the cursor cache (what it holds), each image while it
//! is decoded, and each channel's receive buffer. A charge is returned when it is dropped, so dropping the
//! session (or one channel's state) gives everything back; [`Budget::used`]
//! then reads 0 again.
//!
//! A request that does not fit fails with a [`WireError`] whose reason starts
//! with [`OVER_BUDGET`] and names what asked; the channel ends with that
//! reason and the caller shows it and reconnects. This module must not
//! allocate on behalf of anyone or know what the bytes are for.
//!
//! The budget is an accounting limit, not an allocator: it keeps a hostile
//! server from using more than its share of the heap, while the heap itself
//! still holds the client's own fixed buffers (network, framebuffer) outside
//! it. Sizes: `SessionConfig::memory_budget` (host default
//! [`DEFAULT_BUDGET`]; the firmware derives it from the heap it booted with).

use crate::error::WireError;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Prefix of every error reason this module produces.
pub const OVER_BUDGET: &str = "memory budget exceeded";

/// Budget used when the caller does not choose one (the host client): 512 MiB.
pub const DEFAULT_BUDGET: usize = 512 * 1024 * 1024;

/// What a charge pays for; each has its own error reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A display surface.
    Surface,
    /// The pixmap cache (announced size).
    PixmapCache,
    /// The palette cache (its fixed maximum).
    PaletteCache,
    /// The GLZ dictionary window (announced size).
    GlzWindow,
    /// An image (or video frame) while it is decoded.
    Image,
    /// A channel's buffer of received, not yet complete messages.
    Message,
    /// The cursor channel's cache of shapes (what it holds).
    CursorCache,
}

impl Use {
    /// The error reason used when this charge does not fit.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Surface => "memory budget exceeded by a surface",
            Self::PixmapCache => "memory budget exceeded by the pixmap cache",
            Self::PaletteCache => "memory budget exceeded by the palette cache",
            Self::GlzWindow => "memory budget exceeded by the GLZ window",
            Self::Image => "memory budget exceeded by an image",
            Self::Message => "memory budget exceeded by a message",
            Self::CursorCache => "memory budget exceeded by the cursor cache",
        }
    }
}

#[derive(Debug)]
struct Account {
    limit: usize,
    used: AtomicUsize,
    high_water: AtomicUsize,
}

/// One session's memory budget; clones share the same account.
#[derive(Debug, Clone)]
pub struct Budget {
    account: Arc<Account>,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

impl Budget {
    /// A budget of `limit` bytes, nothing charged yet.
    pub fn new(limit: usize) -> Self {
        Self {
            account: Arc::new(Account {
                limit,
                used: AtomicUsize::new(0),
                high_water: AtomicUsize::new(0),
            }),
        }
    }

    /// Take `bytes` for `what`, or fail without taking anything.
    pub fn charge(&self, bytes: usize, what: Use) -> Result<Charge, WireError> {
        self.take(bytes, what)?;
        Ok(Charge {
            account: Some(self.account.clone()),
            bytes,
        })
    }

    /// Whether `bytes` more would fit now (for a size read from the network,
    /// before anything is allocated for it).
    pub fn fits(&self, bytes: usize) -> bool {
        bytes <= self.account.limit.saturating_sub(self.used())
    }

    fn take(&self, bytes: usize, what: Use) -> Result<(), WireError> {
        let a = &self.account;
        let mut used = a.used.load(Ordering::Relaxed);
        loop {
            let new = used
                .checked_add(bytes)
                .filter(|&n| n <= a.limit)
                .ok_or(WireError::new(0, what.reason()))?;
            match a
                .used
                .compare_exchange_weak(used, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    a.high_water.fetch_max(new, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.account.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.account.used.load(Ordering::Relaxed)
    }

    /// The most bytes ever charged at once.
    pub fn high_water(&self) -> usize {
        self.account.high_water.load(Ordering::Relaxed)
    }
}

/// Bytes taken from a [`Budget`]; given back when dropped. The default
/// charge belongs to no budget and holds nothing.
#[derive(Debug, Default)]
pub struct Charge {
    account: Option<Arc<Account>>,
    bytes: usize,
}

impl Charge {
    /// Bytes this charge holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Grow or shrink this charge to `bytes` (growing may fail, leaving it
    /// as it was). A charge of no budget just records the size.
    pub fn resize(&mut self, bytes: usize, what: Use) -> Result<(), WireError> {
        if let Some(a) = &self.account {
            let budget = Budget { account: a.clone() };
            if bytes > self.bytes {
                budget.take(bytes - self.bytes, what)?;
            } else {
                a.used.fetch_sub(self.bytes - bytes, Ordering::Relaxed);
            }
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(a) = &self.account {
            a.used.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

/// Bytes of `width x height` 32-bit pixels (saturating, so an absurd size
/// simply does not fit).
pub fn pixel_bytes(width: u32, height: u32) -> usize {
    (width as usize)
        .saturating_mul(height as usize)
        .saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_up_refuse_overflow_and_return_on_drop() {
        let b = Budget::new(100);
        let a = b.charge(60, Use::Surface).unwrap();
        let e = b.charge(41, Use::Image).unwrap_err();
        assert_eq!(e.reason, "memory budget exceeded by an image");
        assert!(e.reason.starts_with(OVER_BUDGET));
        assert_eq!(b.used(), 60);
        let c = b.charge(40, Use::Message).unwrap();
        assert_eq!((b.used(), b.high_water()), (100, 100));
        assert!(b.charge(usize::MAX, Use::Surface).is_err());
        assert!(!b.fits(1));
        drop(a);
        assert!(b.fits(60) && !b.fits(61));
        drop(c);
        assert_eq!((b.used(), b.high_water()), (0, 100));
    }

    #[test]
    fn resize_grows_only_within_the_limit() {
        let b = Budget::new(10);
        let mut c = b.charge(2, Use::Message).unwrap();
        c.resize(10, Use::Message).unwrap();
        assert_eq!(
            c.resize(11, Use::Message).unwrap_err().reason,
            Use::Message.reason()
        );
        assert_eq!((c.bytes(), b.used()), (10, 10));
        c.resize(3, Use::Message).unwrap();
        assert_eq!(b.used(), 3);
        drop(c);
        assert_eq!(b.used(), 0);
        let mut free = Charge::default();
        free.resize(1 << 40, Use::Message).unwrap();
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn pixel_bytes_saturates() {
        assert_eq!(pixel_bytes(2, 3), 24);
        assert_eq!(
            pixel_bytes(u32::MAX, u32::MAX),
            (u32::MAX as usize)
                .saturating_mul(u32::MAX as usize)
                .saturating_mul(4)
        );
    }
}
