//! Must show: a database written by schema v1 migrates; one from a newer
//! release is refused and left exactly as it was.

use rusqlite::{Connection, params};
use warmline_store::{
    CustomerKey, Encryption, Error, NewNote, Options, Outbox, PhoneNormaliser, RetryPolicy, SearchTarget, Store,
    SyncPoll, Timestamp, schema,
};

use crate::test_key;

/// A database as the first release wrote it: encrypted, WAL, v1 tables.
fn write_v1(path: &std::path::Path) {
    let conn = Connection::open(path).expect("create");
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA journal_mode = WAL;",
        test_key().expose_hex().as_str()
    ))
    .expect("key");
    conn.execute_batch(&schema::sql_up_to(1).expect("v1 sql")).expect("v1 schema");
    conn.execute_batch(
        "INSERT INTO notes (id, uid, call_uid, customer_ref, body, is_draft, created_at, updated_at)
             VALUES (1, 'u1', 'call-7', '+442079460018', 'router replaced, customer happy', 0, 10, 20),
                    (2, 'u2', 'call-7', '+442079460018', 'half-typed draft', 1, 30, 30);
         INSERT INTO note_revisions (note_id, revision, body, saved_at)
             VALUES (1, 1, 'router replaced', 10), (1, 2, 'router replaced, customer happy', 20);
         INSERT INTO customers (phone, display_name, fields, fetched_at)
             VALUES ('+442079460018', 'Ada Lovelace', '{\"tier\":\"gold\"}', 5);
         INSERT INTO calls (call_uid, direction, local_party, remote_party, started_at, answered_at, ended_at)
             VALUES ('call-7', 'inbound', 'sip:alice@sbc', '+442079460018', 1, 2, 30);
         PRAGMA user_version = 1;",
    )
    .expect("v1 rows");
}

#[test]
fn a_v1_database_migrates_with_its_notes_customers_and_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    write_v1(&path);
    let opened = Store::open_with(&path, Encryption::Key(test_key()), &Options::default(), Timestamp::from_millis(100))
        .expect("open v1");
    assert_eq!(opened.migrated_from, Some(1));
    assert!(opened.recovery.is_none());
    let store = opened.store;

    let notes = store.notes_for_call("call-7").expect("notes");
    assert_eq!(notes.iter().map(|n| (n.revision, n.is_draft)).collect::<Vec<_>>(), [(2, false), (0, true)]);
    assert_eq!(store.note_history(notes[0].id).expect("history").len(), 2);
    let hits = store.search("router", 5).expect("search");
    assert_eq!(hits.first().map(|h| h.target), Some(SearchTarget::Note(notes[0].id)), "v1 notes are indexed");

    let ada = PhoneNormaliser::new(44).normalise("020 7946 0018").expect("valid");
    let customer = store.customer(&CustomerKey::Phone(ada)).expect("lookup").expect("v1 customer by phone");
    assert_eq!(customer.record.display_name, "Ada Lovelace");
    assert_eq!(customer.record.fields["tier"], "gold");
    let call = store.call("call-7").expect("v1 call");
    assert_eq!((call.ended_at, call.quality), (Some(Timestamp::from_millis(30)), None));

    // v1 had no sync: its committed note is queued, with the deterministic key.
    let mut outbox = Outbox::new(RetryPolicy::default(), 1);
    let SyncPoll::Send(deliveries) = outbox.poll(&store, Timestamp::from_millis(100)).expect("poll") else {
        panic!("the v1 note should be waiting to sync");
    };
    assert_eq!(deliveries.iter().map(|d| d.write.idempotency_key.as_str()).collect::<Vec<_>>(), ["u1/r2"]);

    // And the migrated store works as a new one does.
    let id = store.create_note(&NewNote::default(), Timestamp::from_millis(200)).expect("create");
    assert_eq!(store.save_note(id, "after the upgrade", Timestamp::from_millis(201)).expect("save"), 1);
}

#[test]
fn a_database_from_a_newer_release_is_refused_and_not_modified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    {
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", test_key().expose_hex().as_str())).expect("key");
        conn.execute_batch("CREATE TABLE future (x); INSERT INTO future VALUES (1);").expect("table");
        conn.pragma_update(None, "user_version", schema::CURRENT_VERSION + 1).expect("version");
        conn.execute("INSERT INTO future VALUES (?1)", params![2]).expect("row");
    }
    let before = std::fs::read(&path).expect("read");
    let err = Store::open_with(&path, Encryption::Key(test_key()), &Options::default(), Timestamp::from_millis(0))
        .expect_err("a newer schema must be refused");
    assert!(
        matches!(err, Error::NewerSchema { found, supported, .. } if found == schema::CURRENT_VERSION + 1 && supported == schema::CURRENT_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("newer version of Warmline"), "the message says what to do: {err}");
    assert_eq!(std::fs::read(&path).expect("read"), before, "the newer file must be left byte for byte");
    let siblings: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert!(!siblings.iter().any(|n| n.to_string_lossy().contains("corrupt")), "not mistaken for damage: {siblings:?}");
}
