//! The one source of randomness of every generator: a seeded [`StdRng`] behind the few
//! questions generators ask (a number below n, a weighted choice, a "huge" count).
//!
//! Everything is seeded, so an input is a function of its seed: a crash that kills the
//! process is replayed by regenerating the input from the seed it was running.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// Seeded random choices.
pub struct Dice {
    rng: StdRng,
}

impl Dice {
    /// Dice that always roll the same way for the same seed.
    pub fn new(seed: u64) -> Dice {
        Dice { rng: StdRng::seed_from_u64(seed) }
    }

    /// A fresh seed for a sub-generator, so that adding a roll in one place does not shift
    /// what another part of the input becomes.
    pub fn seed(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Any `u64`.
    pub fn u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.rng.random_range(0..n) }
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { self.rng.random_range(lo..=hi) }
    }

    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    /// One of `items` (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    /// One of `items`, each as likely as its weight.
    pub fn weighted<T: Copy>(&mut self, items: &[(u32, T)]) -> Option<T> {
        let total: u32 = items.iter().map(|(w, _)| *w).sum();
        let mut roll = self.below(total as usize) as u32;
        for (w, item) in items {
            if roll < *w {
                return Some(*item);
            }
            roll -= w;
        }
        None
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.rng.fill_bytes(&mut out);
        out
    }

    /// Random bytes, `min..=max` of them.
    pub fn junk(&mut self, min: usize, max: usize) -> Vec<u8> {
        let len = self.between(min as u64, max as u64) as usize;
        self.bytes(len)
    }

    /// A fixed-size array of random bytes.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        self.rng.fill_bytes(&mut out);
        out
    }

    /// A count of the size hostile inputs claim: log-uniform over 2^20..2^62, so that
    /// "just over a budget" and "would never end" are both common.
    pub fn huge(&mut self) -> u64 {
        let bits = self.between(20, 62);
        (1u64 << bits) + self.between(0, 1 << (bits - 1))
    }

    /// A count near a limit: `limit` itself, just under or just over it.
    pub fn near(&mut self, limit: u64) -> u64 {
        let delta = self.between(0, 2);
        if self.percent(50) { limit.saturating_sub(delta) } else { limit.saturating_add(delta) }
    }

    /// An integer of the kind that breaks arithmetic: 0, ±1, the edges of 32 and 64 bits,
    /// powers of two and their neighbours, or anything.
    pub fn edgy_i64(&mut self) -> i64 {
        let bits = self.between(1, 62) as u32;
        match self.below(8) {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => *self.pick(&[i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1]).unwrap_or(&0),
            4 => *self.pick(&[i64::from(u32::MAX), i64::from(u32::MAX) + 1, i64::from(i32::MIN)]).unwrap_or(&0),
            5 => (1i64 << bits) - 1,
            6 => -(1i64 << bits),
            _ => self.u64() as i64,
        }
    }

    /// An unsigned integer of the same kinds as [`Dice::edgy_i64`].
    pub fn edgy_u64(&mut self) -> u64 {
        match self.below(4) {
            0 => u64::MAX,
            1 => u64::from(u32::MAX) + self.between(0, 2),
            _ => self.edgy_i64().unsigned_abs(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_same_seed_rolls_the_same() {
        let (mut a, mut b) = (Dice::new(7), Dice::new(7));
        let roll = |d: &mut Dice| (d.below(1000), d.huge(), d.bytes(8), d.edgy_i64());
        assert_eq!(roll(&mut a), roll(&mut b));
    }

    #[test]
    fn huge_counts_span_their_range() {
        let mut d = Dice::new(1);
        let counts: Vec<u64> = (0..1000).map(|_| d.huge()).collect();
        assert!(counts.iter().all(|c| *c >= 1 << 20));
        assert!(counts.iter().any(|c| *c < 1 << 30) && counts.iter().any(|c| *c > 1 << 50));
    }

    #[test]
    fn weighted_choices_follow_their_weights() {
        let mut d = Dice::new(3);
        let picks: Vec<char> = (0..1000).map(|_| d.weighted(&[(9, 'a'), (1, 'b'), (0, 'c')]).unwrap()).collect();
        let bs = picks.iter().filter(|c| **c == 'b').count();
        assert!((50..200).contains(&bs), "{bs}");
        assert!(!picks.contains(&'c'));
    }
}
