//! A secret value that never prints and is wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// A credential held in memory. `Debug` and `Display` print `[redacted]`;
/// the bytes are zeroed when the value is dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps raw bytes (a database key, a token).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    /// `len` bytes from the operating system's random source, for keys.
    ///
    /// # Panics
    /// Only if the OS has no random source at all, where nothing secure is possible.
    pub fn random(len: usize) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system random source failed");
        Secret(bytes)
    }

    /// The raw bytes. Call sites are easy to audit with a search for `expose_`.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as UTF-8 text, if it is text.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Lower-case hex of the bytes (for SQLCipher's raw key syntax).
    pub fn expose_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(self.0.len() * 2));
        for b in self.0.iter() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::from_bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::from_bytes(s.into_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::from("correct horse battery staple");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{s:?}").contains("horse"), "Debug must not leak the value");
    }

    #[test]
    fn random_keys_differ_and_hex_encode() {
        let a = Secret::random(32);
        let b = Secret::random(32);
        assert_ne!(a.expose_bytes(), b.expose_bytes());
        assert_eq!(a.expose_hex().len(), 64);
        assert_eq!(Secret::from_bytes(vec![0x00, 0xab, 0xff]).expose_hex().as_str(), "00abff");
    }
}
