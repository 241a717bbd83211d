//! Must show: a damaged file is moved aside, the user is told, and what can
//! be read is recovered.

use std::io::{Seek, SeekFrom, Write};

use warmline_store::{
    Encryption, IntegrityCheck, NewNote, Options, Outbox, RetryPolicy, SEARCH_WINDOW, Store, SyncPoll, SyncState,
    Timestamp,
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

const CUSTOMER: &str = "+442079460018";

fn by_uid(store: &Store) -> std::collections::BTreeMap<String, warmline_store::Note> {
    store.notes_for_customer(CUSTOMER).expect("notes").into_iter().map(|n| (n.uid.clone(), n)).collect()
}

/// The pages of the `notes` table's b-tree leaves, read through SQLite's
/// `dbstat` (the file is encrypted, so its bytes cannot be inspected).
fn notes_leaf_pages(path: &std::path::Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(path).expect("open raw");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", test_key().expose_hex().as_str())).expect("key");
    let mut stmt = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = 'notes' AND pagetype = 'leaf' ORDER BY pageno")
        .expect("dbstat");
    stmt.query_map([], |r| r.get(0)).expect("pages").collect::<rusqlite::Result<Vec<i64>>>().expect("pages")
}

fn damage_page(path: &std::path::Path, pageno: i64) {
    let offset = u64::try_from(pageno - 1).expect("page number") * 4096 + 100;
    let mut f = std::fs::OpenOptions::new().write(true).open(path).expect("open for damage");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(&[0xA5; 512]).expect("damage one page");
}

#[tokio::test]
async fn every_note_that_reached_the_crm_is_restored_after_damage() {
    use warmline_store::sync::{SystemClock, restore_from_server, sync_until_idle};

    use crate::conformance::connector;
    use crate::crm::{Crm, CrmServer, TOKEN};

    let server = CrmServer::start(Crm::default());
    let crm = connector(&server, TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    let t = Timestamp::from_millis;
    let store = open(&path).store;
    let mut outbox = Outbox::new(RetryPolicy::default(), 9);
    for i in 0..300 {
        let new =
            NewNote { call_uid: Some(format!("call-{i}")), customer_ref: Some(CUSTOMER.into()), ..NewNote::default() };
        let id = store.create_note(&new, t(1)).expect("create");
        store.save_note(id, &format!("note {i}: {}", "detail ".repeat(60)), t(2)).expect("save");
    }
    let round = sync_until_idle(&store, &mut outbox, &crm, &SystemClock).await.expect("sync");
    assert_eq!(round.delivered, 300, "{round:?}");
    // Every tenth note gets a second revision that never reaches the CRM.
    let revised = |i: usize| format!("note {i}: revised locally");
    let notes: Vec<_> = by_uid(&store).into_values().collect();
    let index_of = |body: &str| -> usize { body[5..].split(':').next().and_then(|n| n.parse().ok()).expect("index") };
    for note in notes.iter().filter(|n| index_of(&n.body) % 10 == 0) {
        store.save_note(note.id, &revised(index_of(&note.body)), t(3)).expect("save r2");
    }
    server.crm().note_made_in_crm("typed straight into the CRM");
    drop(store);

    let leaves = notes_leaf_pages(&path);
    assert!(leaves.len() > 10, "the notes span many pages: {leaves:?}");
    damage_page(&path, leaves[leaves.len() / 2]);

    let opened = open(&path);
    let mut report = opened.recovery.expect("the damage is found at open");
    let store = opened.store;
    let salvaged = report.salvaged_notes();
    assert!((1..300).contains(&salvaged), "some notes, not all, are unreadable: {salvaged} salvaged");
    let restored = restore_from_server(&store, &crm, None, t(10)).await.expect("restore");
    report.record_server_restore(restored);
    assert_eq!(restored.restored, 300 - salvaged, "{restored:?}");
    assert_eq!(restored.already_local, salvaged, "{restored:?}");
    assert_eq!(restored.not_from_warmline, 1, "a note made in the CRM is not ours to copy: {restored:?}");
    assert!(report.message().contains(&format!("{} more notes were restored from the CRM", 300 - salvaged)));

    let on_server = server.crm().notes_by_client();
    assert_eq!(on_server.len(), 300);
    let local = by_uid(&store);
    assert_eq!(local.len(), 300, "every note that reached the CRM is back");
    let mut kept_local = 0;
    for (uid, (server_id, version, body)) in &on_server {
        let note = &local[uid];
        let i = index_of(body);
        assert_eq!(note.server_id.as_deref(), Some(server_id.as_str()), "note {i}");
        assert_eq!(note.call_uid.as_deref(), Some(format!("call-{i}").as_str()), "note {i}");
        if note.revision == 2 {
            // The local revision is newer than the CRM's: never overwritten.
            assert_eq!(note.body, revised(i), "note {i}");
            assert_eq!(note.synced_revision, 1, "note {i}");
            assert_eq!(store.sync_state(note.id).expect("state"), SyncState::SavedLocally, "note {i}");
            kept_local += 1;
        } else {
            assert_eq!(&note.body, body, "note {i}");
            assert_eq!(note.server_version.as_deref(), Some(version.as_str()), "note {i}");
            assert_eq!(store.sync_state(note.id).expect("state"), SyncState::Synced, "note {i}");
        }
    }
    assert!(kept_local >= 25, "revised notes whose row or outbox entry survived keep their text: {kept_local}");

    // Running it again changes nothing; then the newer revisions go out as
    // updates of the CRM's notes, and nothing is created twice.
    let again = restore_from_server(&store, &crm, None, t(11)).await.expect("restore again");
    assert_eq!((again.restored, again.already_local), (0, 300), "{again:?}");
    let round = sync_until_idle(&store, &mut outbox, &crm, &SystemClock).await.expect("sync");
    assert_eq!((round.delivered, round.conflicts, round.failed), (kept_local, 0, 0), "{round:?}");
    let crm_state = server.crm();
    assert_eq!(crm_state.notes_by_client().len(), 300, "no note was created twice");
    let mut arrivals = crm_state.arrivals.clone();
    arrivals.sort();
    arrivals.dedup();
    assert_eq!(arrivals.len(), crm_state.arrivals.len(), "every write took effect once");
}

#[test]
fn a_restore_never_replaces_a_newer_local_revision() {
    use warmline_store::NoteId;
    use warmline_store::sync::{DeliveryTarget, RemoteNote, ServerNote};

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    let t = Timestamp::from_millis;
    let store = open(&path).store;
    let new = NewNote { customer_ref: Some(CUSTOMER.into()), ..NewNote::default() };
    let (lost, kept) = (store.create_note(&new, t(1)).expect("a"), store.create_note(&new, t(1)).expect("b"));
    for id in [lost, kept] {
        store.save_note(id, "r1 as the CRM has it", t(2)).expect("r1");
        store.save_note(id, "r2 typed offline", t(3)).expect("r2");
    }
    let (lost_uid, kept_uid) = (store.note(lost).expect("a").uid, store.note(kept).expect("b").uid);
    drop(store);
    // The row of `lost` is unreadable; its outbox entries survived.
    let conn = rusqlite::Connection::open(&path).expect("open raw");
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", test_key().expose_hex().as_str())).expect("key");
    conn.execute_batch("PRAGMA foreign_keys = OFF").expect("fk");
    conn.execute("DELETE FROM notes WHERE id = ?1", [lost.0]).expect("lose the row");
    drop(conn);

    let store = open(&path).store;
    let server_note = |uid: &str, server_id: &str| ServerNote {
        remote: RemoteNote { server_id: server_id.into(), version: "7".into(), body: "r1 as the CRM has it".into() },
        client_uid: Some(uid.into()),
        revision: 1,
        call_uid: None,
        customer_ref: Some(CUSTOMER.into()),
    };
    let foreign = ServerNote { client_uid: None, ..server_note("", "s3") };
    let counts = store
        .restore_server_notes(&[server_note(&lost_uid, "s1"), server_note(&kept_uid, "s2"), foreign], t(4))
        .expect("restore");
    assert_eq!(
        (counts.restored, counts.kept_local_revision, counts.already_local, counts.not_from_warmline),
        (1, 1, 1, 1)
    );

    let restored = store.note(lost).expect("the note is back under its old id");
    assert_eq!((restored.uid.as_str(), restored.body.as_str()), (lost_uid.as_str(), "r2 typed offline"));
    assert_eq!((restored.revision, restored.synced_revision), (2, 1));
    assert_eq!(store.note_history(lost).expect("history").len(), 2);
    let untouched = store.note(kept).expect("kept");
    assert_eq!((untouched.body.as_str(), untouched.server_id), ("r2 typed offline", None), "left as it was");

    // Only r2 of the restored note still has to go, as an update of the CRM's copy.
    let mut outbox = Outbox::new(RetryPolicy::default(), 2);
    let SyncPoll::Send(due) = outbox.poll(&store, t(5)).expect("poll") else { panic!("r2 waits to be sent") };
    let restored_due: Vec<_> = due.iter().filter(|d| d.note_id == NoteId(lost.0)).collect();
    assert_eq!(restored_due.len(), 1, "{due:?}");
    assert_eq!(restored_due[0].write.revision, 2);
    assert_eq!(restored_due[0].target, DeliveryTarget::Update { server_id: "s1".into(), base_version: "7".into() });
}
