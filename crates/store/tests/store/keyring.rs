//! The database key in the real OS keyring. Needs the project's test session
//! (`installer/test-session.sh`): a D-Bus session with an unlocked gnome-keyring.

#[cfg(not(windows))]
use std::process::Command;

use warmline_secrets::Keyring;
use warmline_store::{NewNote, Options, Store, Timestamp, database_key_name};

fn require_session() {
    assert!(
        std::env::var_os("WARMLINE_TEST_SESSION").is_some(),
        "this test talks to the real OS keyring: run it inside `installer/test-session.sh` (make test does)"
    );
}

#[test]
fn the_database_key_lives_in_the_real_keyring() {
    require_session();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    let keyring = Keyring::open().expect("the test session has a keyring");
    let note = {
        let store = Store::open(&path, &keyring, &Options::default(), Timestamp::from_millis(0)).expect("open").store;
        assert!(store.durability().expect("durability").encrypted);
        let id = store.create_note(&NewNote::default(), Timestamp::from_millis(1)).expect("create");
        store.save_note(id, "kept under a keyring key", Timestamp::from_millis(2)).expect("save");
        id
    };
    let key = keyring.get(&database_key_name(&path)).expect("read").expect("the key was stored");
    assert_eq!(key.len(), 32, "a raw 256-bit key");
    let store = Store::open(&path, &Keyring::open().expect("keyring"), &Options::default(), Timestamp::from_millis(3))
        .expect("reopen")
        .store;
    assert_eq!(store.note(note).expect("note").body, "kept under a keyring key");
    keyring.delete(&database_key_name(&path)).expect("clean up");
}

/// Linux only: the probe is cut off from the Secret Service. A Windows
/// process cannot be cut off from its logon session's Credential Manager, so
/// there is nothing to remove there (docs/windows.md); the code that refuses
/// to open the database without its key is the same on both.
#[cfg(not(windows))]
#[test]
fn no_keyring_means_no_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    let out = Command::new(env!("CARGO_BIN_EXE_warmline-store-crashprobe"))
        .args(["open-keyring", path.to_str().expect("utf-8")])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run the probe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "opening must fail without a keyring: {stderr}");
    assert!(stderr.contains("keyring is not available"), "the error says why: {stderr}");
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert_eq!(len, 0, "no database is written in the clear");
}
