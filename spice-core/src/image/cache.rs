//! The client-side image caches the server manages: the pixmap cache
//! (images sent with `CACHE_ME`, later referenced by `FROM_CACHE`) and the
//! palette cache (`PAL_CACHE_ME` / `PAL_FROM_CACHE`).
//!
//! Owns storage and the memory bound only. The server decides what is
//! cached and evicts through INVAL_LIST / INVAL_ALL_PIXMAPS / INVAL_PALETTE;
//! this module must not guess beyond that, except to refuse or evict the
//! oldest entries when a (possibly hostile) server exceeds the budget the
//! client announced in DISPLAY_INIT.

use super::Image;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

#[derive(Debug)]
struct Entry {
    image: Arc<Image>,
    lossy: bool,
    seq: u64,
}

/// Pixmap cache keyed by the image descriptor id, bounded in pixels.
#[derive(Debug)]
pub struct PixmapCache {
    entries: BTreeMap<u64, Entry>,
    order: BTreeMap<u64, u64>,
    next_seq: u64,
    used: u64,
    budget: u64,
}

impl PixmapCache {
    /// A cache holding at most `budget_pixels` pixels (negative = none).
    pub fn new(budget_pixels: i64) -> Self {
        Self {
            entries: BTreeMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            used: 0,
            budget: budget_pixels.max(0) as u64,
        }
    }

    fn size_of(image: &Image) -> u64 {
        image.width as u64 * image.height as u64
    }

    /// Insert (or replace) `id`. Returns false if the image alone is larger
    /// than the whole budget (then it is not kept).
    pub fn insert(&mut self, id: u64, image: Arc<Image>, lossy: bool) -> bool {
        let size = Self::size_of(&image);
        if size > self.budget {
            return false;
        }
        self.remove(id);
        while self.used + size > self.budget {
            let Some((_, old)) = self.order.pop_first() else { break };
            if let Some(e) = self.entries.remove(&old) {
                self.used -= Self::size_of(&e.image);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, id);
        self.used += size;
        self.entries.insert(id, Entry { image, lossy, seq });
        true
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
            self.order.remove(&e.seq);
            self.used -= Self::size_of(&e.image);
        }
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.used = 0;
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

/// Most palettes kept at once (each at most 65535 entries).
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
        Arc::new(Image { width: w, height: h, pixels: vec![0; (w * h) as usize], has_alpha: false })
    }

    #[test]
    fn pixmap_budget_evicts_oldest_and_refuses_oversize() {
        let mut c = PixmapCache::new(100);
        assert!(c.insert(1, img(5, 10), false));
        assert!(c.insert(2, img(5, 10), true));
        assert_eq!(c.used_pixels(), 100);
        assert!(c.insert(3, img(1, 10), false));
        assert!(c.get(1).is_none());
        assert!(c.get(2).is_some());
        assert_eq!(c.is_lossy(2), Some(true));
        assert_eq!(c.used_pixels(), 60);
        assert!(!c.insert(4, img(11, 10), false));
        c.insert(2, img(1, 1), false);
        assert_eq!(c.used_pixels(), 11);
        c.remove(3);
        c.remove(3);
        assert_eq!(c.used_pixels(), 1);
        c.clear();
        assert!(c.is_empty());
        assert!(!PixmapCache::new(-5).insert(1, img(1, 1), false));
    }

    #[test]
    fn palettes_are_bounded() {
        let mut p = PaletteCache::new();
        for i in 0..(MAX_PALETTES as u64 + 10) {
            p.insert(i, Arc::new(vec![i as u32]));
        }
        assert_eq!(p.map.len(), MAX_PALETTES);
        assert_eq!(p.get(MAX_PALETTES as u64 + 9).unwrap()[0], MAX_PALETTES as u32 + 9);
        p.remove(MAX_PALETTES as u64 + 9);
        assert!(p.get(MAX_PALETTES as u64 + 9).is_none());
    }
}
