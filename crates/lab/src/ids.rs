//! Random identifiers: tokens, codes, request ids. Unpredictable (from the
//! OS), unlike the scenario's seeded streams, because a token is a
//! credential even in the lab.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;

fn fill(bytes: &mut [u8]) {
    if getrandom::fill(bytes).is_err() {
        // No OS randomness (it does not happen on supported systems): still
        // distinct values, from the time and a counter.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = crate::Clock::system().now_ms() ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        let mut rng = crate::rng::Rng::new(seed, 99);
        for b in bytes.iter_mut() {
            *b = rng.next_u64() as u8;
        }
    }
}

/// `n` random bytes, base64url without padding.
pub(crate) fn token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random GUID (version 4).
pub(crate) fn guid() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A device code's user code: nine capital letters, as Entra shows them.
pub(crate) fn user_code() -> String {
    let mut b = [0u8; 9];
    fill(&mut b);
    // 26 does not divide 256; the bias is irrelevant for a lab code.
    b.iter().map(|x| char::from(b'A' + x % 26)).collect()
}

/// base64url without padding of `bytes` (JWT segments).
pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_their_documented_shapes() {
        assert!(crate::scenario::is_guid(&guid()));
        assert_ne!(token(32), token(32));
        assert_eq!(token(32).len(), 43);
        let code = user_code();
        assert!(code.len() == 9 && code.chars().all(|c| c.is_ascii_uppercase()), "{code}");
    }
}
