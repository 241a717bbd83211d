//! Must show: a full disk gives a clear error and leaves earlier data intact.

use warmline_store::{Encryption, Error, NewNote, Options, Store, Timestamp};

use crate::{open, test_key};

#[test]
fn a_full_disk_refuses_the_save_clearly_and_keeps_what_was_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.db");
    // The size limit makes SQLite fail exactly as on a full disk (SQLITE_FULL).
    let limits = Options { max_size_bytes: Some(256 * 1024), ..Options::default() };
    let store =
        Store::open_with(&path, Encryption::Key(test_key()), &limits, Timestamp::from_millis(0)).expect("open").store;
    let mut saved = Vec::new();
    let err = loop {
        let body = format!("note {} {}", saved.len(), "words ".repeat(200));
        let result = store
            .create_note(&NewNote::default(), Timestamp::from_millis(1))
            .and_then(|id| store.save_note(id, &body, Timestamp::from_millis(2)).map(|_| (id, body)));
        match result {
            Ok(note) => saved.push(note),
            Err(e) => break e,
        }
        assert!(saved.len() < 10_000, "the limit was never reached");
    };
    assert!(matches!(err, Error::DiskFull), "{err:?}");
    assert!(err.to_string().contains("NOT saved") && err.to_string().contains("intact"), "{err}");
    assert!(saved.len() > 10, "only {} notes fitted", saved.len());
    for (id, body) in &saved {
        assert_eq!(&store.note(*id).expect("still readable while full").body, body);
    }
    drop(store);

    // With space again, everything saved before is there and saving works.
    let store = open(&path).store;
    for (id, body) in &saved {
        assert_eq!(&store.note(*id).expect("intact after reopening").body, body);
    }
    let id = store.create_note(&NewNote::default(), Timestamp::from_millis(3)).expect("space again");
    store.save_note(id, "after freeing space", Timestamp::from_millis(4)).expect("save");
}
