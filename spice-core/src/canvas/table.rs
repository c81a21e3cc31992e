//! The surface table of one display channel: surfaces by id, what each
//! costs the session's memory budget, which one is the primary (the
//! screen), and the primary's dirty region.

use super::geometry::Rect;
use super::surface::Surface;
use crate::budget::{pixel_bytes, Budget, Charge, Use};
use crate::error::WireError;
use alloc::collections::BTreeMap;

/// All surfaces of one display channel, which one is the primary, and the
/// primary's dirty region since it was last taken.
#[derive(Debug, Default)]
pub struct Canvas {
    surfaces: BTreeMap<u32, Surface>,
    /// What each surface costs the session's budget.
    charges: BTreeMap<u32, Charge>,
    budget: Budget,
    primary: Option<u32>,
    dirty: Option<Rect>,
}

/// Most surfaces one channel may hold at once (the server's limit is 10000
/// ids, but each needs memory; this keeps a hostile server bounded).
pub const MAX_SURFACES: usize = 1024;

impl Canvas {
    /// No surfaces; they will be charged to the default budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// No surfaces; each one created is charged to `budget`.
    pub fn with_budget(budget: Budget) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    /// Create (or re-create) surface `id`; `primary` makes it the screen.
    pub fn create_surface(
        &mut self,
        id: u32,
        width: u32,
        height: u32,
        format: u32,
        primary: bool,
    ) -> Result<(), WireError> {
        if !self.surfaces.contains_key(&id) && self.surfaces.len() >= MAX_SURFACES {
            return Err(WireError::new(0, "too many surfaces"));
        }
        // A re-created surface gives its old pixels back first.
        self.charges.remove(&id);
        self.surfaces.remove(&id);
        let charge = self
            .budget
            .charge(pixel_bytes(width, height), Use::Surface)?;
        let s = Surface::new(width, height, format)?;
        self.surfaces.insert(id, s);
        self.charges.insert(id, charge);
        if primary {
            self.primary = Some(id);
            self.dirty = Some(Rect::of_size(width, height));
        }
        Ok(())
    }

    /// Destroy surface `id` (forgetting the primary if it was).
    pub fn destroy_surface(&mut self, id: u32) {
        self.surfaces.remove(&id);
        self.charges.remove(&id);
        if self.primary == Some(id) {
            self.primary = None;
            self.dirty = None;
        }
    }

    /// Drop every surface.
    pub fn clear(&mut self) {
        self.surfaces.clear();
        self.charges.clear();
        self.primary = None;
        self.dirty = None;
    }

    /// Surface `id`, if it exists.
    pub fn surface(&self, id: u32) -> Option<&Surface> {
        self.surfaces.get(&id)
    }

    /// Surface `id` for drawing, if it exists.
    pub fn surface_mut(&mut self, id: u32) -> Option<&mut Surface> {
        self.surfaces.get_mut(&id)
    }

    /// The primary surface's id.
    pub fn primary_id(&self) -> Option<u32> {
        self.primary
    }

    /// The primary surface.
    pub fn primary(&self) -> Option<&Surface> {
        self.primary.and_then(|id| self.surfaces.get(&id))
    }

    /// Record that `r` changed on surface `id` (ignored unless it is the primary).
    pub fn mark_dirty(&mut self, id: u32, r: Rect) {
        if self.primary != Some(id) {
            return;
        }
        let Some(s) = self.surfaces.get(&id) else {
            return;
        };
        let r = r.intersect(&s.bounds());
        if r.is_empty() {
            return;
        }
        self.dirty = Some(self.dirty.map_or(r, |d| d.union(&r)));
    }

    /// The union of changed primary rectangles since the last call.
    pub fn take_dirty(&mut self) -> Option<Rect> {
        self.dirty.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::SPICE_SURFACE_FMT_32_xRGB;

    #[test]
    fn canvas_dirty_tracking() {
        let mut c = Canvas::new();
        c.create_surface(0, 10, 10, SPICE_SURFACE_FMT_32_xRGB, true)
            .unwrap();
        assert_eq!(c.take_dirty(), Some(Rect::new(0, 0, 10, 10)));
        assert_eq!(c.take_dirty(), None);
        c.mark_dirty(0, Rect::new(1, 1, 2, 2));
        c.mark_dirty(0, Rect::new(5, 5, 20, 6));
        c.mark_dirty(3, Rect::new(0, 0, 10, 10));
        assert_eq!(c.take_dirty(), Some(Rect::new(1, 1, 10, 6)));
        c.destroy_surface(0);
        assert!(c.primary().is_none());
        assert!(c.create_surface(1, 0, 10, 32, false).is_err());
    }
}
