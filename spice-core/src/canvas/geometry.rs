//! Rectangles and clipping: the one geometric type every canvas primitive
//! clips with. A leaf module (no other canvas module is used here).

/// An axis-aligned rectangle; `left`/`top` inclusive, `right`/`bottom` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge (inclusive).
    pub left: i32,
    /// Top edge (inclusive).
    pub top: i32,
    /// Right edge (exclusive).
    pub right: i32,
    /// Bottom edge (exclusive).
    pub bottom: i32,
}

impl Rect {
    /// A rectangle from its four edges.
    pub const fn new(left: i32, top: i32, right: i32, bottom: i32) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
        }
    }
    /// A rectangle at the origin of `width x height`.
    pub fn of_size(width: u32, height: u32) -> Self {
        Self::new(
            0,
            0,
            width.min(i32::MAX as u32) as i32,
            height.min(i32::MAX as u32) as i32,
        )
    }
    /// Width (0 when empty or inverted).
    pub fn width(&self) -> i32 {
        self.right.saturating_sub(self.left).max(0)
    }
    /// Height (0 when empty or inverted).
    pub fn height(&self) -> i32 {
        self.bottom.saturating_sub(self.top).max(0)
    }
    /// True when it covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.left >= self.right || self.top >= self.bottom
    }
    /// The overlap of two rectangles (possibly empty).
    pub fn intersect(&self, o: &Rect) -> Rect {
        Rect::new(
            self.left.max(o.left),
            self.top.max(o.top),
            self.right.min(o.right),
            self.bottom.min(o.bottom),
        )
    }
    /// The smallest rectangle holding both (an empty side is ignored).
    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        Rect::new(
            self.left.min(o.left),
            self.top.min(o.top),
            self.right.max(o.right),
            self.bottom.max(o.bottom),
        )
    }
    /// Moved by `(dx, dy)` (saturating).
    pub fn translate(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(
            self.left.saturating_add(dx),
            self.top.saturating_add(dy),
            self.right.saturating_add(dx),
            self.bottom.saturating_add(dy),
        )
    }
    /// Same width and height as `o`.
    pub fn same_size(&self, o: &Rect) -> bool {
        self.width() == o.width() && self.height() == o.height()
    }
}
