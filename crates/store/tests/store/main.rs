//! The store's promises, checked from outside: crashes, outages, migrations,
//! damaged files, a full disk, the connector contract and the real keyring.

mod conformance;
mod crash;
mod crm;
mod disk_full;
mod https;
mod keyring;
mod migration;
mod outage;
mod recovery;
mod runner;

use std::path::Path;

use warmline_secrets::Secret;
use warmline_store::{Encryption, Opened, Options, Store, Timestamp};

/// A test's database key (the keyring path is covered in `keyring`).
pub fn test_key() -> Secret {
    Secret::from_bytes((0u8..32).map(|b| b.wrapping_mul(37).wrapping_add(11)).collect())
}

pub fn open(path: &Path) -> Opened {
    Store::open_with(path, Encryption::Key(test_key()), &Options::default(), Timestamp::from_millis(0))
        .expect("open the store")
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// A seeded generator for test randomness (reproducible failures).
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
