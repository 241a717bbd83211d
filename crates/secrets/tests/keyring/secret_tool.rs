//! Store through `warmline-secrets`, read back with Debian's `secret-tool`.

use std::process::Command;

use warmline_secrets::{Keyring, Secret, SecretKind, SecretName};

fn secret_tool_lookup(user: &str) -> std::process::Output {
    Command::new("secret-tool")
        .args(["lookup", "service", warmline_secrets::SERVICE, "username", user])
        .output()
        .expect("secret-tool is installed by installer/setup.sh (libsecret-tools)")
}

#[test]
fn a_stored_secret_is_readable_by_secret_tool() {
    crate::require_session();
    let keyring = Keyring::open().expect("the test session provides an unlocked Secret Service");
    let name = SecretName::new(SecretKind::RefreshToken, crate::unique_account("alice@contoso.com"));
    let value = "0.AXoA-refresh-token-that-only-the-keyring-holds";
    keyring.set(&name, &Secret::from(value)).expect("store");

    let out = secret_tool_lookup(&name.user());
    assert!(out.status.success(), "secret-tool lookup failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), value, "secret-tool must see exactly what we stored");

    // Replacing keeps one item, not two.
    keyring.set(&name, &Secret::from("rotated")).expect("replace");
    assert_eq!(String::from_utf8_lossy(&secret_tool_lookup(&name.user()).stdout), "rotated");

    keyring.delete(&name).expect("delete");
    let out = secret_tool_lookup(&name.user());
    assert!(out.stdout.is_empty(), "the entry is gone after delete, secret-tool printed {:?}", out.stdout);
    assert!(keyring.get(&name).expect("get after delete").is_none());
}

#[test]
fn binary_keys_survive_the_keyring() {
    crate::require_session();
    let keyring = Keyring::open().expect("keyring");
    let name = SecretName::new(SecretKind::DatabaseKey, crate::unique_account("db"));
    let key = Secret::random(32);
    keyring.set(&name, &key).expect("store");
    let back = keyring.get(&name).expect("get").expect("present");
    assert_eq!(back.expose_bytes(), key.expose_bytes(), "a raw random key must come back byte for byte");
    keyring.delete(&name).expect("delete");
}

#[test]
fn health_check_is_usable_in_the_session() {
    crate::require_session();
    let health = warmline_secrets::health();
    assert!(health.usable, "keyring health: {}", health.detail);
}
