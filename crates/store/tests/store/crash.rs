//! Must show: a writer killed with SIGKILL at random points, 50 times, never
//! loses a note it acknowledged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use warmline_store::NoteId;

use crate::{Rng, open, test_key};

#[test]
fn every_acknowledged_note_survives_sigkill_50_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("data").join("warmline.db");
    let mut rng = Rng(0x5eed_cafe);
    let mut acked: BTreeMap<i64, (i64, String)> = BTreeMap::new();
    for round in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warmline-store-crashprobe"))
            .args(["save", db.to_str().expect("utf-8 path")])
            .env("WARMLINE_CRASHPROBE_KEY", test_key().expose_hex().as_str())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the crash probe");
        let stdout = child.stdout.take().expect("piped stdout");
        // Kill after a random number of acknowledgements: the child is then
        // somewhere in its next save (or between saves), wherever it happens to be.
        let wanted = 1 + rng.below(25);
        let mut lines = BufReader::new(stdout).lines();
        for _ in 0..wanted {
            let line = lines.next().expect("the probe exited early").expect("read");
            let mut parts = line.splitn(4, ' ');
            assert_eq!(parts.next(), Some("acked"), "{line}");
            let id: i64 = parts.next().and_then(|s| s.parse().ok()).expect("id");
            let revision: i64 = parts.next().and_then(|s| s.parse().ok()).expect("revision");
            acked.insert(id, (revision, parts.next().unwrap_or_default().to_string()));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let opened = open(&db);
        assert!(opened.recovery.is_none(), "round {round}: a crash must never look like corruption");
        let store = opened.store;
        for (id, (revision, body)) in &acked {
            let note =
                store.note(NoteId(*id)).unwrap_or_else(|e| panic!("round {round}: acknowledged note {id} lost: {e}"));
            assert_eq!((&note.revision, &note.body), (revision, body), "round {round}: note {id} changed");
        }
        let durability = store.durability().expect("durability");
        assert_eq!(durability.journal_mode, "wal", "round {round}");
        assert_eq!(durability.synchronous, 2, "round {round}: synchronous=FULL must be in force");
        assert!(durability.encrypted, "round {round}");
        // Windows has no mode bits: the files are private by the profile's ACL (docs/windows.md).
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            let file = db.with_file_name(format!("warmline.db{suffix}"));
            assert_eq!(crate::mode(&file), 0o600, "round {round}: {} must be private", file.display());
        }
    }
    assert!(acked.len() >= 50, "the probe acknowledged {} notes", acked.len());
}
