//! Schema versions, recorded in SQLite's `PRAGMA user_version`.
//!
//! Migration `n` takes a database from version `n - 1` to `n`. Each runs in
//! its own transaction together with the `user_version` bump, so a crash
//! mid-migration leaves the previous version intact. A database whose version
//! is above [`CURRENT_VERSION`] came from a newer release and is refused
//! before anything writes to it.

use rusqlite::Connection;

use crate::error::Result;

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = 3;

/// The SQL of each migration; index 0 creates version 1 from an empty file.
const MIGRATIONS: [&str; 3] = [V1, V2, V3];

/// The first released schema: notes with revisions, a customer cache by
/// phone number, and call history.
const V1: &str = "
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    call_uid TEXT,
    customer_ref TEXT,
    body TEXT NOT NULL,
    is_draft INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX notes_by_call ON notes(call_uid);
CREATE INDEX notes_by_customer ON notes(customer_ref);
CREATE TABLE note_revisions (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id),
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    saved_at INTEGER NOT NULL,
    UNIQUE (note_id, revision)
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    phone TEXT UNIQUE,
    display_name TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}',
    fetched_at INTEGER NOT NULL
);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    call_uid TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    local_party TEXT NOT NULL,
    remote_party TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER,
    disposition TEXT
);
";

/// Sync (outbox, server versions, conflicts), customers by any identifier
/// with past interactions, transfers and call quality, full-text search.
const V2: &str = "
ALTER TABLE notes ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notes ADD COLUMN server_id TEXT;
ALTER TABLE notes ADD COLUMN server_version TEXT;
ALTER TABLE notes ADD COLUMN synced_revision INTEGER NOT NULL DEFAULT 0;
UPDATE notes SET revision = (SELECT coalesce(max(r.revision), 0) FROM note_revisions r WHERE r.note_id = notes.id);

CREATE TABLE note_conflicts (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id),
    local_body TEXT NOT NULL,
    server_body TEXT NOT NULL,
    server_version TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX note_conflicts_open ON note_conflicts(note_id) WHERE resolved_at IS NULL;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id),
    revision INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'in_flight', 'done', 'conflict', 'failed', 'superseded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    last_error_transient INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    done_at INTEGER
);
CREATE INDEX outbox_open ON outbox(note_id, id) WHERE state <> 'done' AND state <> 'superseded';
CREATE INDEX outbox_due ON outbox(next_attempt_at, id) WHERE state = 'pending';
-- Committed revisions of v1 notes were never synced: queue them.
INSERT INTO outbox (note_id, revision, idempotency_key, body, next_attempt_at, created_at)
    SELECT id, revision, uid || '/r' || revision, body, updated_at, updated_at FROM notes WHERE revision > 0;

ALTER TABLE customers ADD COLUMN crm_id TEXT;
CREATE TABLE customer_identifiers (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX customer_identifiers_by_customer ON customer_identifiers(customer_id);
INSERT INTO customer_identifiers (kind, value, customer_id)
    SELECT 'phone', phone, id FROM customers WHERE phone IS NOT NULL;
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    source_ref TEXT NOT NULL,
    at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    summary TEXT NOT NULL,
    UNIQUE (customer_id, source_ref)
);

ALTER TABLE calls ADD COLUMN remote_display TEXT;
ALTER TABLE calls ADD COLUMN mos REAL;
ALTER TABLE calls ADD COLUMN loss_percent REAL;
ALTER TABLE calls ADD COLUMN jitter_ms REAL;
CREATE INDEX calls_by_start ON calls(started_at);
CREATE INDEX calls_by_remote ON calls(remote_party);
CREATE TABLE call_transfers (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    at INTEGER NOT NULL,
    target TEXT NOT NULL,
    target_display TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('warm', 'blind')),
    outcome TEXT NOT NULL DEFAULT 'pending',
    reason TEXT
);

CREATE VIRTUAL TABLE notes_fts USING fts5(
    body, content = 'notes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '3 4'
);
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER notes_fts_update AFTER UPDATE OF body ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.body);
END;
INSERT INTO notes_fts (notes_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE customers_fts USING fts5(
    display_name, fields, content = 'customers', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2',
    prefix = '3 4'
);
CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, display_name, fields) VALUES (new.id, new.display_name, new.fields);
END;
CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, display_name, fields)
        VALUES ('delete', old.id, old.display_name, old.fields);
END;
CREATE TRIGGER customers_fts_update AFTER UPDATE OF display_name, fields ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, display_name, fields)
        VALUES ('delete', old.id, old.display_name, old.fields);
    INSERT INTO customers_fts (rowid, display_name, fields) VALUES (new.id, new.display_name, new.fields);
END;
INSERT INTO customers_fts (customers_fts) VALUES ('rebuild');
";

/// Where a call came from and what it belonged to: the queue and case the
/// contact center routed it with, and for a warm transfer's consult call,
/// the customer call it was made for.
const V3: &str = "
ALTER TABLE calls ADD COLUMN queue TEXT;
ALTER TABLE calls ADD COLUMN case_id TEXT;
ALTER TABLE calls ADD COLUMN consult_for TEXT;
";

/// The SQL that takes an empty database to `version` (for building test
/// fixtures of older releases). `None` for versions this build does not know.
pub fn sql_up_to(version: i64) -> Option<String> {
    let n = usize::try_from(version).ok().filter(|n| (1..=MIGRATIONS.len()).contains(n))?;
    Some(MIGRATIONS[..n].concat())
}

/// The schema version recorded in the file.
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the database from its version to [`CURRENT_VERSION`], one
/// transaction per step. The caller has already refused newer files.
///
/// Each step takes the write lock first (`BEGIN IMMEDIATE`) and reads the
/// version again inside it: two processes opening a new file at once (two
/// headless agents, say) then migrate it once, not twice.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64> {
    let from = version(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = version(&tx)?;
        let Some(sql) = usize::try_from(now).ok().and_then(|i| MIGRATIONS.get(i)) else { break };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", now + 1)?;
        tx.commit()?;
    }
    Ok(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_database_migrates_to_current() {
        let mut conn = Connection::open_in_memory().expect("in-memory db");
        assert_eq!(migrate(&mut conn).expect("migrate"), 0);
        assert_eq!(version(&conn).expect("version"), CURRENT_VERSION);
        assert_eq!(migrate(&mut conn).expect("second migrate is a no-op"), CURRENT_VERSION);
    }

    #[test]
    fn sql_up_to_knows_only_real_versions() {
        assert!(sql_up_to(0).is_none());
        assert!(sql_up_to(CURRENT_VERSION + 1).is_none());
        assert!(sql_up_to(1).expect("v1").contains("CREATE TABLE notes"));
    }
}
