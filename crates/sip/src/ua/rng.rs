//! The one source of randomness in the user agent: tags, branches,
//! Call-IDs, client nonces and the glare back-off all come from the seed in
//! [`Config::seed`](super::Config::seed), so a test run is the same every
//! time. Not cryptographic: these values must be unique, not secret (RFC
//! 3261 19.3 asks for 32 bits of randomness in a tag, and we give 40).

use std::time::Duration;

use crate::message::MAGIC_COOKIE;

/// splitmix64: tiny, fast, and every seed gives a good stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let word = format!("{:016x}", self.next_u64());
            s.push_str(word.get(..(digits - s.len()).min(16)).unwrap_or_default());
        }
        s
    }

    /// A From or To tag.
    pub(crate) fn tag(&mut self) -> String {
        self.hex(10)
    }

    /// A Via branch with the RFC 3261 magic cookie.
    pub(crate) fn branch(&mut self) -> String {
        format!("{MAGIC_COOKIE}{}", self.hex(16))
    }

    /// A Call-ID, unique in space and time without naming a host.
    pub(crate) fn call_id(&mut self) -> String {
        self.hex(24)
    }

    /// A digest client nonce.
    pub(crate) fn cnonce(&mut self) -> String {
        self.hex(16)
    }

    /// A seed for a component that keeps its own counter (registration).
    pub(crate) fn seed(&mut self) -> u64 {
        self.next_u64()
    }

    /// A random duration from `min` to `max` in units of 10 ms, as RFC 3261
    /// 14.1 words the glare back-off.
    pub(crate) fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let steps = u64::try_from((max.saturating_sub(min)).as_millis() / 10).unwrap_or(0);
        min + Duration::from_millis(10 * self.below(steps + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_values_and_they_look_right() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.tag(), b.tag());
        let branch = a.branch();
        assert!(branch.starts_with("z9hG4bK") && branch.len() == 23, "{branch}");
        assert_eq!(a.call_id().len(), 24);
        assert_ne!(Rng::new(8).tag(), Rng::new(7).tag());
    }

    #[test]
    fn between_stays_in_range_on_a_10_ms_grid() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let d = r.between(Duration::from_millis(2100), Duration::from_secs(4));
            assert!(d >= Duration::from_millis(2100) && d <= Duration::from_secs(4), "{d:?}");
            assert_eq!(d.as_millis() % 10, 0);
        }
    }
}
