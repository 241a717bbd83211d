//! A seeded network impairment shim: loss, jitter and reordering on
//! simulated time, so a lossy-network test gives the same answer every run.

/// A small deterministic PRNG (SplitMix64): good enough for impairment and
/// tests, and it keeps a random-number crate out of the dependency tree.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }
}

/// Loss and delay applied to packets as they are sent.
#[derive(Debug, Clone)]
pub struct Impairment {
    rng: Rng,
    /// Probability that a packet is dropped.
    pub loss: f64,
    /// Fixed one-way delay in microseconds.
    pub base_delay_us: u64,
    /// Extra delay uniform in `0..jitter_us` microseconds.
    pub jitter_us: u64,
}

impl Impairment {
    /// An impairment with its own seed.
    pub fn new(seed: u64, loss: f64, base_delay_us: u64, jitter_us: u64) -> Self {
        Self { rng: Rng::new(seed), loss, base_delay_us, jitter_us }
    }

    /// The arrival time (microseconds) of a packet sent at `sent_us`, or
    /// `None` if it is lost. Jitter larger than the packet spacing reorders.
    pub fn deliver_at(&mut self, sent_us: u64) -> Option<u64> {
        if self.rng.chance(self.loss) {
            return None;
        }
        Some(sent_us + self.base_delay_us + self.rng.below(self.jitter_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_network() {
        let mut a = Impairment::new(42, 0.05, 10_000, 30_000);
        let mut b = Impairment::new(42, 0.05, 10_000, 30_000);
        for t in 0..1000 {
            assert_eq!(a.deliver_at(t * 20_000), b.deliver_at(t * 20_000));
        }
    }

    #[test]
    fn loss_rate_is_close_to_requested() {
        let mut imp = Impairment::new(1, 0.05, 0, 30_000);
        let lost = (0..10_000).filter(|&t| imp.deliver_at(t).is_none()).count();
        assert!((400..600).contains(&lost), "{lost}");
    }
}
