//! Windows Credential Manager: stored through `warmline-secrets`, read back
//! through the platform store by the credential's target name
//! (`<kind>:<account>.warmline`, what `cmdkey /list` shows an admin), then
//! deleted; and a secret the Credential Manager cannot hold is refused with
//! nothing written anywhere else. `make test-windows` runs these under Wine
//! (docs/windows.md); Linux runs `secret_tool` and `fail_closed` instead.

use std::collections::HashMap;

use keyring_core::api::CredentialStoreApi as _;
use warmline_secrets::{Error, Keyring, Secret, SecretKind, SecretName};

/// The credential named `target`, read without our crate's naming.
fn by_target(target: &str) -> keyring_core::Entry {
    let store = windows_native_keyring_store::store::Store::new().expect("the Credential Manager store");
    let modifiers = HashMap::from([("target", target)]);
    store.build("unused", "unused", Some(&modifiers)).expect("an entry by target name")
}

#[test]
fn a_stored_secret_is_in_the_credential_manager_under_its_target_name() {
    let keyring = Keyring::open().expect("the Windows Credential Manager");
    assert_eq!(warmline_secrets::platform_backend_name(), "Windows Credential Manager");
    let name = SecretName::new(SecretKind::SipPassword, crate::unique_account("agent1001@contoso.example"));
    let target = format!("{}.{}", name.user(), warmline_secrets::SERVICE);
    keyring.set(&name, &Secret::from("hunter2-on-windows")).expect("store");

    let outside = by_target(&target);
    assert_eq!(outside.get_secret().expect("read back by target name"), b"hunter2-on-windows");
    let attributes = outside.get_attributes().expect("attributes");
    assert_eq!(attributes.get("username").map(String::as_str), Some(name.user().as_str()), "{attributes:?}");

    // Replacing keeps one credential, not two.
    keyring.set(&name, &Secret::from("rotated")).expect("replace");
    assert_eq!(by_target(&target).get_secret().expect("read back"), b"rotated");

    keyring.delete(&name).expect("delete");
    assert!(
        matches!(by_target(&target).get_secret(), Err(keyring_core::Error::NoEntry)),
        "the credential is gone after delete"
    );
    assert!(keyring.get(&name).expect("get after delete").is_none());
}

#[test]
fn binary_keys_survive_the_credential_manager() {
    let keyring = Keyring::open().expect("keyring");
    let name = SecretName::new(SecretKind::DatabaseKey, crate::unique_account("db"));
    let key = Secret::random(32);
    keyring.set(&name, &key).expect("store");
    let back = keyring.get(&name).expect("get").expect("present");
    assert_eq!(back.expose_bytes(), key.expose_bytes(), "a raw random key must come back byte for byte");
    keyring.delete(&name).expect("delete");
}

#[test]
fn a_secret_the_credential_manager_cannot_hold_is_refused_and_kept_nowhere() {
    let keyring = Keyring::open().expect("keyring");
    let name = SecretName::new(SecretKind::RefreshToken, crate::unique_account("too-long"));
    // The Credential Manager holds at most 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE).
    // A marker made now, so only a leak of this very secret can match it.
    let marker = crate::unique_account("fail-closed");
    let big = format!("{marker}{}", "x".repeat(4096));
    let err = keyring.set(&name, &Secret::from(big.as_str())).expect_err("too long for the Credential Manager");
    assert!(matches!(err, Error::Invalid { .. }), "a clear refusal: {err:?}");
    assert!(err.to_string().contains("limit"), "the error names the limit: {err}");
    assert!(keyring.get(&name).expect("get").is_none(), "nothing was stored");
    // Fail closed: no fallback file under the user's profile or the working directory.
    let mut places: Vec<std::path::PathBuf> = vec![std::env::current_dir().expect("cwd")];
    places.extend(["APPDATA", "LOCALAPPDATA", "TEMP"].iter().filter_map(std::env::var_os).map(Into::into));
    for place in places {
        for file in walk(&place, 4) {
            let leaked = std::fs::read(&file).map(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()));
            assert!(!leaked.unwrap_or(false), "the secret was written to {}", file.display());
        }
    }
    assert!(warmline_secrets::health().usable, "the keyring stays usable: {}", warmline_secrets::health().detail);
}

fn walk(dir: &std::path::Path, depth: usize) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if depth == 0 {
        return out;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p, depth - 1));
            } else if e.metadata().is_ok_and(|m| m.len() < 1 << 20) {
                out.push(p);
            }
        }
    }
    out
}
