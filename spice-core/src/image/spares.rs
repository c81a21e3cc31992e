//! Spare images: decoded images their holder (the GLZ window, the pixmap
//! cache) has released, kept so that a later image that fits one's pixel
//! buffer is decoded into it instead of a new allocation.
//!
//! Owns the spares and the count of pixels they hold (buffer capacities).
//! The holder decides how much room they may take (what it was charged for
//! and does not use) and how much larger than the image a reused buffer may
//! be (what it can account for); this must not decide what is released, nor
//! decode.

use super::Image;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Most spare images kept at once.
pub const MAX_SPARES: usize = 16;

/// Released images nobody else holds, at most [`MAX_SPARES`].
#[derive(Debug, Default)]
pub struct Spares {
    images: Vec<Arc<Image>>,
    pixels: u64,
}

impl Spares {
    /// Keep `image` if nobody else holds it and its buffer fits in `room`
    /// pixels beside the spares already kept; drop it otherwise. With
    /// [`MAX_SPARES`] kept, it takes the place of the smallest when larger
    /// (small buffers are cheap to allocate again, large ones are not).
    pub fn offer(&mut self, mut image: Arc<Image>, room: u64) {
        let Some(img) = Arc::get_mut(&mut image) else {
            return;
        };
        let cap = img.pixels.capacity() as u64;
        if self.images.len() >= MAX_SPARES {
            let smallest = self
                .images
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.pixels.capacity());
            match smallest {
                Some((i, s)) if (s.pixels.capacity() as u64) < cap => {
                    self.pixels -= s.pixels.capacity() as u64;
                    self.images.swap_remove(i);
                }
                _ => return,
            }
        }
        if self.pixels.saturating_add(cap) <= room {
            self.pixels += cap;
            self.images.push(image);
        }
    }

    /// The spare with the smallest pixel buffer that holds `n` pixels and at
    /// most `slack` more (best fit), emptied (its capacity kept), with the
    /// image it came in.
    pub fn take(&mut self, n: usize, slack: usize) -> Option<(Vec<u32>, Arc<Image>)> {
        let most = n.saturating_add(slack);
        let (i, cap) = self
            .images
            .iter()
            .map(|s| s.pixels.capacity())
            .enumerate()
            .filter(|&(_, cap)| (n..=most).contains(&cap))
            .min_by_key(|&(_, cap)| cap)?;
        let mut spare = self.images.swap_remove(i);
        self.pixels -= cap as u64;
        let img = Arc::get_mut(&mut spare)?;
        let mut pixels = core::mem::take(&mut img.pixels);
        pixels.clear();
        Some((pixels, spare))
    }

    /// Drop spares until they hold at most `room` pixels.
    pub fn trim(&mut self, room: u64) {
        while self.pixels > room {
            let Some(s) = self.images.pop() else { break };
            self.pixels -= s.pixels.capacity() as u64;
        }
    }

    /// Drop every spare.
    pub fn clear(&mut self) {
        self.images.clear();
        self.pixels = 0;
    }

    /// Pixels the spares hold.
    pub fn pixels(&self) -> u64 {
        self.pixels
    }

    /// Number of spares.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// True when no spare is kept.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// Put `pixels` (decoded as a `width x height` image) back into `spare`'s
/// image, or into a new one when there is no spare.
pub fn refill(spare: Option<Arc<Image>>, image: Image) -> Arc<Image> {
    match spare {
        Some(mut spare) => match Arc::get_mut(&mut spare) {
            Some(img) => {
                *img = image;
                spare
            }
            None => Arc::new(image),
        },
        None => Arc::new(image),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn img(n: usize) -> Arc<Image> {
        Arc::new(Image {
            width: n as u32,
            height: 1,
            pixels: vec![7; n],
            has_alpha: false,
        })
    }

    #[test]
    fn keeps_unshared_images_within_room_and_hands_out_exact_sizes() {
        let mut s = Spares::default();
        let shared = img(4);
        s.offer(shared.clone(), 100);
        assert!(s.is_empty(), "held elsewhere");
        s.offer(img(4), 100);
        s.offer(img(8), 10);
        assert_eq!((s.len(), s.pixels()), (1, 4), "8 more do not fit in 10");
        assert!(s.take(3, 0).is_none());
        let (pixels, spare) = s.take(4, 0).unwrap();
        assert_eq!((pixels.len(), pixels.capacity()), (0, 4));
        let back = refill(
            Some(spare),
            Image {
                width: 2,
                height: 2,
                pixels,
                has_alpha: true,
            },
        );
        assert_eq!((back.width, back.has_alpha, s.pixels()), (2, true, 0));
        for _ in 0..MAX_SPARES + 3 {
            s.offer(img(1), 1000);
        }
        assert_eq!((s.len(), s.pixels()), (MAX_SPARES, MAX_SPARES as u64));
        // Full: a larger one takes the smallest one's place, no smaller one.
        s.offer(img(9), 1000);
        s.offer(img(1), 1000);
        assert_eq!((s.len(), s.pixels()), (MAX_SPARES, MAX_SPARES as u64 + 8));
        s.trim(5);
        assert_eq!(s.pixels(), 5);
        assert!(s.take(9, 0).is_none(), "trimmed");
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn hands_out_the_smallest_buffer_within_the_slack() {
        let mut s = Spares::default();
        for n in [12, 10, 30, 11, 9] {
            s.offer(img(n), 1000);
        }
        // 9 is too small; 10, 11 and 12 fit 10 with 2 to spare: 10 first.
        let (pixels, _) = s.take(10, 2).unwrap();
        assert_eq!((pixels.len(), pixels.capacity()), (0, 10));
        let (pixels, _) = s.take(10, 2).unwrap();
        assert_eq!(pixels.capacity(), 11);
        assert_eq!(s.take(10, 2).unwrap().0.capacity(), 12);
        // 30 is more than 2 over; only an exact fit for 9.
        assert!(s.take(10, 2).is_none());
        assert!(s.take(8, 0).is_none());
        assert_eq!(s.take(9, 0).unwrap().0.capacity(), 9);
        assert_eq!((s.len(), s.pixels()), (1, 30));
        assert_eq!(s.take(20, usize::MAX).unwrap().0.capacity(), 30);
        assert_eq!(s.pixels(), 0);
    }
}
