//! With no keyring reachable, every call fails with a clear error and
//! nothing is written anywhere else.

use std::process::Command;

use warmline_secrets::{Error, Keyring, Secret, SecretKind, SecretName};

const CHILD: &str = "WARMLINE_SECRETS_FAIL_CLOSED_CHILD";

/// Runs twice: as the parent it re-executes this very test in a child
/// process whose environment points at a D-Bus socket that does not exist
/// (environment changes inside a multi-threaded test process are unsound);
/// as the child it tries to use the keyring and reports what happened.
#[test]
fn no_reachable_keyring_fails_closed_with_a_clear_error() {
    if std::env::var_os(CHILD).is_some() {
        let dir = std::env::var("WARMLINE_CHILD_HOME").expect("child home");
        let err = match Keyring::open() {
            Err(e) => e,
            Ok(k) => k
                .set(&SecretName::new(SecretKind::SipPassword, "alice"), &Secret::from("hunter2"))
                .expect_err("storing must fail without a keyring"),
        };
        assert!(matches!(err, Error::Unavailable { .. }), "expected Unavailable, got {err:?}");
        println!("CHILD-ERROR: {err}");
        // Fail closed: nothing may have been written as a fallback.
        let leaked = walk(std::path::Path::new(&dir))
            .into_iter()
            .any(|p| std::fs::read(&p).map(|b| b.windows(7).any(|w| w == b"hunter2")).unwrap_or(false));
        assert!(!leaked, "the secret must not be written to any file as a fallback");
        return;
    }

    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "fail_closed::no_reachable_keyring_fails_closed_with_a_clear_error", "--nocapture"])
        .env(CHILD, "1")
        .env("WARMLINE_CHILD_HOME", home.path())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_RUNTIME_DIR", home.path().join("run"))
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-such-bus", home.path().display()))
        .env_remove("DISPLAY")
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().find(|l| l.contains("CHILD-ERROR: ")).expect("the child printed its error");
    assert!(line.contains("not available"), "the error says the keyring is not available: {line}");
    assert!(line.contains("will not fall back to a file"), "the error says we fail closed: {line}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
