//! Seeded randomness. Every stage draws from its own ChaCha8 stream of the one seed, and
//! per-person attributes (name, address, phone…) come from a SplitMix64 keyed by the seed
//! and the person's index, so any file can recompute them without storing strings and the
//! output does not depend on the order threads finish in.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The streams of the seed: one per stage, so adding draws to one stage leaves the others'
/// output unchanged.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    People = 1,
    Registry = 2,
    Department = 16,
}

pub(crate) fn stream(seed: u64, stream: Stream, sub: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64 + sub);
    rng
}

/// What a per-person draw is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Name = 1,
    Address = 2,
    Phone = 3,
    Employer = 4,
    Service = 5,
    AltAddress = 6,
    Housing = 7,
}

pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: tiny and fast, for the per-person draws.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn for_person(seed: u64, person: u32, purpose: Purpose) -> SplitMix {
        SplitMix(mix(seed ^ mix(u64::from(person) ^ mix(purpose as u64 ^ 0x5EED))))
    }
}

/// Draw helpers over any 64-bit source. Written here rather than taken from `rand` so the
/// output of a seed stays the same whatever `rand`'s distribution code does next year.
pub(crate) trait Draw {
    fn next(&mut self) -> u64;

    /// Uniform in `0..n` (`n > 0`), by multiply-shift; the bias is below 2^-40 here.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

impl Draw for ChaCha8Rng {
    fn next(&mut self) -> u64 {
        self.next_u64()
    }
}

impl Draw for SplitMix {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }
}

/// SplitMix64's next output from `state`: a few nanoseconds a draw, for made-up data
/// (people here, tokens in `bidui bench ingest`). Not for anything secret.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many of `n` items a rate asks for: `round(rate × n)`, at least `min` (when `n`
/// allows), so small demo runs still show every kind of case.
pub(crate) fn quota(rate: f64, n: usize, min: usize) -> usize {
    if rate <= 0.0 {
        return 0;
    }
    ((rate * n as f64).round() as usize).max(min).min(n)
}
