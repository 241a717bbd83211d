//! Must show: a damaged file is moved aside, the user is told, and what can
//! be read is recovered.

use std::io::{Seek, SeekFrom, Write};

use warmline_store::{
    Encryption, IntegrityCheck, NewNote, Options, Outbox, RetryPolicy, SEARCH_WINDOW, Store, SyncPoll, Timestamp,
};

use crate::{open, test_key};

fn write_notes(path: &std::path::Path, count: usize) {
    let store = open(path).store;
    for i in 0..count {
        let id = store.create_note(&NewNote::default(), Timestamp::from_millis(1)).expect("create");
        store.save_note(id, &format!("note {i}: {}", "detail ".repeat(60)), Timestamp::from_millis(2)).expect("save");
    }
    // Dropping the last connection checkpoints the WAL into the main file.
}

/// 300 notes, then 512 bytes of one page in the middle overwritten.
fn damaged_database() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    write_notes(&path, 300);
    damage_middle_page(&path);
    (dir, path)
}

fn damage_middle_page(path: &std::path::Path) {
    let len = std::fs::metadata(path).expect("stat").len();
    assert!(len > 100 * 4096, "the notes span many pages ({len} bytes)");
    let mut f = std::fs::OpenOptions::new().write(true).open(path).expect("open for damage");
    f.seek(SeekFrom::Start(len / 2 / 4096 * 4096 + 100)).expect("seek");
    f.write_all(&[0xA5; 512]).expect("damage one page");
}

#[test]
fn a_deferred_check_finds_the_damage_and_recover_moves_the_file_aside() {
    let (_dir, path) = damaged_database();
    let options = Options { integrity: IntegrityCheck::Deferred, ..Options::default() };
    let opened =
        Store::open_with(&path, Encryption::Key(test_key()), &options, Timestamp::from_millis(0)).expect("open");
    assert!(opened.recovery.is_none(), "a deferred open reads only the header and schema");
    let problems = opened.store.check_integrity().expect("check");
    assert!(!problems.is_empty(), "the background check finds the damaged page");
    let recovered = opened.store.recover(&problems.join("; "), Timestamp::from_millis(1)).expect("recover");
    let report = recovered.recovery.expect("report");
    assert!(report.moved_to.exists());
    assert!(report.salvaged_notes() >= 250, "{}", report.message());
    assert!(recovered.store.check_integrity().expect("check").is_empty(), "the new file is sound");
}

#[test]
fn a_damaged_page_moves_the_file_aside_and_salvages_the_rest() {
    let (_dir, path) = damaged_database();
    let opened = open(&path);
    let report = opened.recovery.expect("the damage must be reported");
    assert!(report.moved_to.exists(), "the damaged file is kept at {}", report.moved_to.display());
    assert!(report.moved_to.to_string_lossy().contains("warmline.db.corrupt-1970"), "{}", report.moved_to.display());
    let salvaged = report.salvaged_notes();
    assert!((250..=300).contains(&salvaged), "one bad page loses only its own rows: {salvaged} of 300 recovered");
    assert!(report.message().contains(&report.moved_to.display().to_string()), "{}", report.message());

    let store = opened.store;
    let mut outbox = Outbox::new(RetryPolicy::default(), 1);
    let SyncPoll::Send(queued) = outbox.poll(&store, Timestamp::from_millis(5)).expect("poll") else {
        panic!("recovered notes whose outbox entries were lost are queued again");
    };
    assert!(queued.iter().all(|d| d.write.idempotency_key.ends_with("/r1")), "same keys as before: {queued:?}");
    let hits = store.search("detail", 1000).expect("search");
    assert_eq!(hits.len(), usize::try_from(SEARCH_WINDOW).expect("small"), "recovered notes are searchable");
    let id = store.create_note(&NewNote::default(), Timestamp::from_millis(3)).expect("the new database works");
    store.save_note(id, "after recovery", Timestamp::from_millis(4)).expect("save");
    drop(store);
    assert!(open(&path).recovery.is_none(), "the rebuilt database is healthy");
}

#[test]
fn an_unreadable_header_still_gives_a_working_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    std::fs::write(&path, vec![0x42u8; 64 * 1024]).expect("garbage");
    let opened = open(&path);
    let report = opened.recovery.expect("reported");
    assert_eq!(report.salvaged_notes(), 0);
    assert_eq!(
        std::fs::read(&report.moved_to).expect("kept"),
        vec![0x42u8; 64 * 1024],
        "the original is kept as it was"
    );
    let id = opened.store.create_note(&NewNote::default(), Timestamp::from_millis(1)).expect("works");
    opened.store.save_note(id, "fresh start", Timestamp::from_millis(2)).expect("save");
}
