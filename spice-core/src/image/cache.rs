//! The client-side image caches the server manages: the pixmap cache
//! (images sent with `CACHE_ME`, later referenced by `FROM_CACHE`) and the
//! palette cache (`PAL_CACHE_ME` / `PAL_FROM_CACHE`).
//!
//! Owns storage and the memory bound only. The server decides what is
//! cached and evicts through INVAL_LIST / INVAL_ALL_PIXMAPS / INVAL_PALETTE;
//! this module must not guess beyond that. The server keeps its own count of
//! the pixels the client holds against the size the client announced in
//! DISPLAY_INIT (width x height per image) and sends the INVAL_LIST of what
//! it evicts before the message that caches the new image (or does not set
//! `CACHE_ME` when it cannot make room), so a server that makes the pixmap
//! cache hold more than announced is broken or hostile: [`PixmapCache::insert`]
//! refuses, and the session ends with [`OVER_ANNOUNCED`].
//!
//! An image the server evicts that nobody else holds is kept as a spare
//! while the cached pixels and the spares together stay within the announced
//! size, for a later `CACHE_ME` image of exactly its size to be decoded into
//! ([`PixmapCache::take_spare`]): one allocation per cached image is
//! otherwise inherent (the cache must own its pixels), and in the steady
//! state of a full cache none is needed.

use super::spares::Spares;
use super::Image;
use crate::budget::{Budget, Charge, Use};
use crate::error::WireError;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

#[derive(Debug)]
struct Entry {
    image: Arc<Image>,
    lossy: bool,
}

/// Reason of the error when the server caches more pixels than announced.
pub const OVER_ANNOUNCED: &str = "pixmap cache over its announced size";

/// Pixmap cache keyed by the image descriptor id, bounded in pixels.
#[derive(Debug)]
pub struct PixmapCache {
    entries: BTreeMap<u64, Entry>,
    used: u64,
    budget: u64,
    /// The session-budget charge for the entries' bookkeeping (the pixels
    /// are covered by the owner's charge for the announced cache size).
    overhead: Charge,
    /// Evicted images kept to be decoded into again.
    spares: Spares,
}

/// Bytes of bookkeeping one cached image costs besides its pixels (map
/// entries, `Arc` and `Vec` headers), charged so that a flood of tiny
/// images cannot outgrow the budget while staying within the pixel count.
pub const ENTRY_OVERHEAD: usize = 256;

impl PixmapCache {
    /// A cache holding at most `budget_pixels` pixels (negative = none).
    pub fn new(budget_pixels: i64) -> Self {
        Self {
            entries: BTreeMap::new(),
            used: 0,
            budget: budget_pixels.max(0) as u64,
            overhead: Charge::default(),
            spares: Spares::default(),
        }
    }

    /// Like [`new`](Self::new), charging each entry's bookkeeping to `budget`.
    pub fn with_budget(budget_pixels: i64, budget: &Budget) -> Result<Self, WireError> {
        Ok(Self {
            overhead: budget.charge(0, Use::PixmapCache)?,
            ..Self::new(budget_pixels)
        })
    }

    fn size_of(image: &Image) -> u64 {
        image.width as u64 * image.height as u64
    }

    /// Insert (or replace) `id`. Fails with [`OVER_ANNOUNCED`] when the
    /// cache would then hold more pixels than announced (nothing is evicted
    /// on the server's behalf), or when one more entry does not fit the
    /// session budget; then nothing changes.
    pub fn insert(&mut self, id: u64, image: Arc<Image>, lossy: bool) -> Result<(), WireError> {
        let replaced = self.entries.get(&id).map(|e| Self::size_of(&e.image));
        let used = (self.used - replaced.unwrap_or(0)).saturating_add(Self::size_of(&image));
        if used > self.budget {
            return Err(WireError::new(0, OVER_ANNOUNCED));
        }
        let entries = self.entries.len() + usize::from(replaced.is_none());
        self.overhead
            .resize(entries.saturating_mul(ENTRY_OVERHEAD), Use::PixmapCache)?;
        self.used = used;
        if let Some(old) = self.entries.insert(id, Entry { image, lossy }) {
            self.release(old.image);
        }
        // The new pixels come first: spares that no longer fit go.
        self.spares.trim(self.room());
        Ok(())
    }

    /// Pixels of the announced size the cached images leave free.
    fn room(&self) -> u64 {
        self.budget.saturating_sub(self.used)
    }

    /// Offer an evicted image to the spares, with the room the cached
    /// images leave.
    fn release(&mut self, image: Arc<Image>) {
        let room = self.room();
        self.spares.offer(image, room);
    }

    /// An emptied pixel buffer of exactly `pixels` pixels' capacity from a
    /// spare, with the image it came in, to decode a new image into (and
    /// [`insert`](Self::insert) it).
    pub fn take_spare(&mut self, pixels: usize) -> Option<(Vec<u32>, Arc<Image>)> {
        // Exact fits only: the cache counts its images' pixels as the
        // server does (width x height), so a larger buffer would hold more
        // than the announced size charges for.
        self.spares.take(pixels, 0)
    }

    /// Shrink the bookkeeping charge to the entries held now.
    fn charge_entries(&mut self) {
        // Shrinking never fails.
        let _ = self
            .overhead
            .resize(self.entries.len() * ENTRY_OVERHEAD, Use::PixmapCache);
    }

    /// The image cached as `id`.
    pub fn get(&self, id: u64) -> Option<Arc<Image>> {
        self.entries.get(&id).map(|e| e.image.clone())
    }

    /// Whether `id` is cached from a lossy (JPEG) source.
    pub fn is_lossy(&self, id: u64) -> Option<bool> {
        self.entries.get(&id).map(|e| e.lossy)
    }

    /// Forget `id`.
    pub fn remove(&mut self, id: u64) {
        if let Some(e) = self.entries.remove(&id) {
            self.used -= Self::size_of(&e.image);
            self.release(e.image);
        }
        self.charge_entries();
    }

    /// Forget everything (spares too).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.used = 0;
        self.spares.clear();
        self.charge_entries();
    }

    /// Pixels currently held.
    pub fn used_pixels(&self) -> u64 {
        self.used
    }

    /// Number of cached images.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Most palettes kept at once (each at most
/// [`MAX_PALETTE_ENTRIES`](super::MAX_PALETTE_ENTRIES) entries).
pub const MAX_PALETTES: usize = 1024;

/// Palette cache keyed by `SpicePalette.unique`.
#[derive(Debug, Default)]
pub struct PaletteCache {
    map: BTreeMap<u64, Arc<Vec<u32>>>,
}

impl PaletteCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
    /// Keep `palette` as `id` (dropping an arbitrary old one when full).
    pub fn insert(&mut self, id: u64, palette: Arc<Vec<u32>>) {
        if !self.map.contains_key(&id) && self.map.len() >= MAX_PALETTES {
            self.map.pop_first();
        }
        self.map.insert(id, palette);
    }
    /// The palette cached as `id`.
    pub fn get(&self, id: u64) -> Option<Arc<Vec<u32>>> {
        self.map.get(&id).cloned()
    }
    /// Forget `id`.
    pub fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }
    /// Forget everything.
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn img(w: u32, h: u32) -> Arc<Image> {
        Arc::new(Image {
            width: w,
            height: h,
            pixels: vec![0; (w * h) as usize],
            has_alpha: false,
        })
    }

    #[test]
    fn a_flood_of_tiny_entries_hits_the_session_budget_and_gives_it_back() {
        let b = Budget::new(10 * ENTRY_OVERHEAD);
        let mut c = PixmapCache::with_budget(1 << 20, &b).unwrap();
        for id in 0..10 {
            c.insert(id, img(1, 1), false).unwrap();
        }
        let e = c.insert(10, img(1, 1), false).unwrap_err();
        assert_eq!(e.reason, "memory budget exceeded by the pixmap cache");
        assert!(c.get(10).is_none());
        assert_eq!((c.len(), b.used()), (10, 10 * ENTRY_OVERHEAD));
        // Replacing an entry costs nothing extra.
        c.insert(3, img(1, 1), false).unwrap();
        c.remove(3);
        assert_eq!(b.used(), 9 * ENTRY_OVERHEAD);
        c.clear();
        assert_eq!(b.used(), 0);
        drop(c);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn the_announced_size_is_enforced_not_evicted_for_the_server() {
        let mut c = PixmapCache::new(100);
        c.insert(1, img(5, 10), false).unwrap();
        c.insert(2, img(5, 10), true).unwrap();
        assert_eq!(c.used_pixels(), 100);
        // One pixel more than announced: refused, nothing evicted or added.
        let e = c.insert(3, img(1, 1), false).unwrap_err();
        assert_eq!(e.reason, OVER_ANNOUNCED);
        assert_eq!((c.len(), c.used_pixels()), (2, 100));
        assert!(c.get(1).is_some() && c.get(3).is_none());
        assert_eq!(c.is_lossy(2), Some(true));
        // After the server's INVAL_LIST the same image fits.
        c.remove(1);
        c.insert(3, img(1, 10), false).unwrap();
        assert_eq!(c.used_pixels(), 60);
        // Replacing (CACHE_REPLACE_ME) counts the new size instead of the old.
        c.insert(2, img(9, 10), false).unwrap();
        assert_eq!(c.used_pixels(), 100);
        assert_eq!(c.is_lossy(2), Some(false));
        assert_eq!(
            c.insert(2, img(10, 10), false).unwrap_err().reason,
            OVER_ANNOUNCED
        );
        assert_eq!(c.get(2).unwrap().width, 9);
        c.remove(3);
        c.remove(3);
        assert_eq!(c.used_pixels(), 90);
        c.clear();
        assert!(c.is_empty());
        // An image larger than the whole cache, or a cache announced as none.
        assert!(c.insert(4, img(11, 10), false).is_err());
        assert!(PixmapCache::new(-5).insert(1, img(1, 1), false).is_err());
        PixmapCache::new(1).insert(1, img(1, 1), false).unwrap();
    }

    #[test]
    fn evicted_images_are_spares_within_the_announced_size() {
        let mut c = PixmapCache::new(100);
        c.insert(1, img(5, 10), false).unwrap();
        let held = img(5, 10);
        c.insert(2, held.clone(), false).unwrap();
        c.remove(1);
        // Held elsewhere (a draw in progress): not kept.
        c.remove(2);
        assert_eq!((c.spares.len(), c.spares.pixels()), (1, 50));
        assert!(c.take_spare(49).is_none());
        let (pixels, spare) = c.take_spare(50).unwrap();
        assert!(!Arc::ptr_eq(&spare, &held));
        assert!(c.spares.is_empty());
        let image = Image {
            width: 10,
            height: 5,
            pixels,
            has_alpha: false,
        };
        c.insert(3, super::super::spares::refill(Some(spare), image), false)
            .unwrap();
        c.remove(3);
        assert_eq!(c.spares.pixels(), 50);
        // Cached pixels and spares never exceed the announced size: new
        // pixels push spares out.
        c.insert(4, img(6, 10), false).unwrap();
        assert_eq!((c.used_pixels(), c.spares.pixels()), (60, 0));
        for id in 5..40 {
            c.remove(id - 1);
            c.insert(id, img(1 + id as u32 % 7, 10), false).unwrap();
            assert!(c.used_pixels() + c.spares.pixels() <= 100, "id {id}");
        }
        c.clear();
        assert!(c.spares.is_empty());
    }

    #[test]
    fn palettes_are_bounded() {
        let mut p = PaletteCache::new();
        for i in 0..(MAX_PALETTES as u64 + 10) {
            p.insert(i, Arc::new(vec![i as u32]));
        }
        assert_eq!(p.map.len(), MAX_PALETTES);
        assert_eq!(
            p.get(MAX_PALETTES as u64 + 9).unwrap()[0],
            MAX_PALETTES as u32 + 9
        );
        p.remove(MAX_PALETTES as u64 + 9);
        assert!(p.get(MAX_PALETTES as u64 + 9).is_none());
    }
}
