//! The real OS keyring, checked from outside our own code.
//!
//! These tests need the project's test session (`installer/test-session.sh`),
//! which provides a D-Bus session with an unlocked gnome-keyring; on Windows
//! (`make test-windows`, under Wine) the Credential Manager instead.

#[cfg(not(windows))]
mod fail_closed;
#[cfg(not(windows))]
mod secret_tool;
#[cfg(windows)]
mod windows;

/// A fresh account name so parallel or repeated runs never collide.
pub fn unique_account(prefix: &str) -> String {
    let nonce = warmline_secrets::Secret::random(6).expose_hex().to_string();
    format!("{prefix}-{}-{nonce}", std::process::id())
}

/// Fails with a clear message when the tests are run outside the test session.
#[cfg(not(windows))]
pub fn require_session() {
    assert!(
        std::env::var_os("WARMLINE_TEST_SESSION").is_some(),
        "this test talks to the real OS keyring: run it inside `installer/test-session.sh` (make test does)"
    );
}
