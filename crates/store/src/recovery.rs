//! A database that cannot be read is moved aside, never deleted, and what
//! can still be read from it is copied into a fresh one.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::{Store, sidecar};
use crate::error::{Error, Result};
use crate::sync::ServerNote;

/// Tables copied from a damaged file, parents before children.
const SALVAGED_TABLES: [&str; 9] = [
    "notes",
    "note_revisions",
    "note_conflicts",
    "outbox",
    "customers",
    "customer_identifiers",
    "interactions",
    "calls",
    "call_transfers",
];

/// What happened to an unreadable database. Show [`RecoveryReport::message`]
/// to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Where the damaged file now is (its -wal and -shm sit beside it).
    pub moved_to: PathBuf,
    /// Why it could not be used.
    pub reason: String,
    /// Rows copied into the new database, per table.
    pub salvaged: Vec<(String, u64)>,
    /// Tables where a read failed part way, so some rows may be missing.
    pub damaged_tables: Vec<String>,
    /// What was fetched back from the CRM, once
    /// [`crate::sync::restore_from_server`] has run and its result been set here.
    pub from_server: Option<ServerRestore>,
}

/// What [`crate::sync::restore_from_server`] did with the CRM's notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerRestore {
    /// Notes the CRM had and the local database lacked, restored as synced.
    pub restored: u64,
    /// Of those, notes whose newer local revision (salvaged from the outbox)
    /// was kept over the CRM's text; it will be sent as usual.
    pub kept_local_revision: u64,
    /// Notes that were still in the local database, left as they were.
    pub already_local: u64,
    /// Notes made in the CRM itself (no Warmline client id), not copied.
    pub not_from_warmline: u64,
}

impl ServerRestore {
    pub(crate) fn add(&mut self, other: ServerRestore) {
        self.restored += other.restored;
        self.kept_local_revision += other.kept_local_revision;
        self.already_local += other.already_local;
        self.not_from_warmline += other.not_from_warmline;
    }
}

impl RecoveryReport {
    /// Notes recovered from the damaged file.
    pub fn salvaged_notes(&self) -> u64 {
        self.salvaged.iter().filter(|(t, _)| t == "notes").map(|(_, n)| n).sum()
    }

    /// Adds what [`crate::sync::restore_from_server`] did (it may run more
    /// than once, e.g. after the CRM was unreachable).
    pub fn record_server_restore(&mut self, counts: ServerRestore) {
        self.from_server.get_or_insert_with(ServerRestore::default).add(counts);
    }

    /// A sentence for the user.
    pub fn message(&self) -> String {
        let notes = self.salvaged_notes();
        let lost = if let Some(server) = &self.from_server {
            let mut text = format!("{} more notes were restored from the CRM.", server.restored);
            if !self.damaged_tables.is_empty() {
                text.push_str(&format!(
                    " Changes that had not reached the CRM may be missing from {}.",
                    self.damaged_tables.join(", ")
                ));
            }
            text
        } else if self.damaged_tables.is_empty() {
            String::from("Everything readable was recovered.")
        } else {
            format!(
                "Some records in {} could not be read; notes that had synced are still in the CRM.",
                self.damaged_tables.join(", ")
            )
        };
        format!(
            "Warmline's local database was damaged ({}). It was moved to {} and a new one was started; \
             {notes} notes were recovered. {lost}",
            self.reason,
            self.moved_to.display()
        )
    }
}

/// Renames the database and its -wal/-shm to `<name>.corrupt-<UTC time>`.
pub(crate) fn move_aside(path: &Path, now: Timestamp) -> Result<PathBuf> {
    let mut aside = sidecar(path, &format!(".corrupt-{}", utc_stamp(now)));
    let mut n = 1;
    while aside.exists() {
        aside = sidecar(path, &format!(".corrupt-{}-{n}", utc_stamp(now)));
        n += 1;
    }
    for suffix in ["-wal", "-shm"] {
        let from = sidecar(path, suffix);
        if from.exists() {
            std::fs::rename(&from, sidecar(&aside, suffix)).map_err(Error::io("move aside", from))?;
        }
    }
    std::fs::rename(path, &aside).map_err(Error::io("move aside", path))?;
    Ok(aside)
}

/// Copies every row that can be read from the damaged file into `conn` (a
/// fresh, migrated database). `open_damaged` opens the damaged file with its
/// key: SQLCipher poisons a connection after one page fails to decrypt, so
/// each read pass gets a fresh connection.
pub(crate) fn salvage(
    conn: &mut Connection,
    aside: &Path,
    reason: String,
    open_damaged: &dyn Fn() -> rusqlite::Result<Connection>,
) -> Result<RecoveryReport> {
    let mut report = RecoveryReport {
        moved_to: aside.to_path_buf(),
        reason,
        salvaged: Vec::new(),
        damaged_tables: Vec::new(),
        from_server: None,
    };
    // Rows whose parent was lost are still worth keeping.
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    for table in SALVAGED_TABLES {
        let (rows, complete) = copy_table(conn, table, open_damaged)?;
        if rows > 0 {
            report.salvaged.push((table.to_string(), rows));
        }
        if !complete {
            report.damaged_tables.push(table.to_string());
        }
    }
    // A latest revision the CRM had not confirmed, whose outbox entry was
    // lost, is queued again under the same idempotency key.
    conn.execute(
        "INSERT INTO outbox (note_id, revision, idempotency_key, body, next_attempt_at, created_at)
         SELECT n.id, n.revision, n.uid || '/r' || n.revision, n.body, n.updated_at, n.updated_at FROM notes n
         WHERE n.revision > n.synced_revision
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id AND o.revision = n.revision)
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = n.uid || '/r' || n.revision)",
        [],
    )?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    Ok(report)
}

impl Store {
    /// Restores notes the CRM holds that this database lacks (one page of
    /// [`crate::sync::Connector::list_notes`]), in one transaction. A
    /// restored note is marked synced at the CRM's version; a note still
    /// here is never touched, so no local revision is overwritten. When the
    /// note's row was lost but outbox entries of it were salvaged, the note
    /// gets its old local id back, and a revision newer than the CRM's
    /// stays the current text and is sent as usual.
    pub fn restore_server_notes(&self, notes: &[ServerNote], now: Timestamp) -> Result<ServerRestore> {
        let mut counts = ServerRestore::default();
        self.write(|tx| {
            for note in notes {
                counts.add(restore_one(tx, note, now)?);
            }
            Ok(())
        })?;
        Ok(counts)
    }
}

fn restore_one(tx: &Connection, note: &ServerNote, now: Timestamp) -> Result<ServerRestore> {
    let Some(uid) = note.client_uid.as_deref() else {
        return Ok(ServerRestore { not_from_warmline: 1, ..ServerRestore::default() });
    };
    let present: bool = tx.query_row("SELECT count(*) > 0 FROM notes WHERE uid = ?1", [uid], |r| r.get(0))?;
    if present {
        return Ok(ServerRestore { already_local: 1, ..ServerRestore::default() });
    }
    // Outbox entries whose note row was lost carry its uid in their key.
    let orphan: Option<i64> = tx
        .query_row(
            "SELECT note_id FROM outbox WHERE substr(idempotency_key, 1, length(?1) + 2) = ?1 || '/r'
               AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.id = outbox.note_id)
             ORDER BY revision DESC LIMIT 1",
            [uid],
            |r| r.get(0),
        )
        .optional()?;
    // A fresh id must not adopt rows salvaged for another lost note.
    let id = match orphan {
        Some(id) => id,
        None => crate::notes::fresh_note_id(tx)?,
    };
    let server_revision = note.revision.max(1);
    let newer: Option<(i64, String, Timestamp)> = tx
        .query_row(
            "SELECT revision, body, created_at FROM outbox
             WHERE note_id = ?1 AND revision > ?2 AND state NOT IN ('done', 'superseded')
             ORDER BY revision DESC LIMIT 1",
            params![id, server_revision],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (revision, body, updated_at) = match &newer {
        Some((revision, body, at)) => (*revision, body.as_str(), *at),
        None => (server_revision, note.remote.body.as_str(), now),
    };
    tx.execute(
        "INSERT INTO notes (id, uid, call_uid, customer_ref, body, is_draft, revision, created_at, updated_at,
                            server_id, server_version, synced_revision)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            uid,
            note.call_uid,
            note.customer_ref,
            body,
            revision,
            now,
            updated_at,
            note.remote.server_id,
            note.remote.version,
            server_revision
        ],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO note_revisions (note_id, revision, body, saved_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, server_revision, note.remote.body, now],
    )?;
    if let Some((revision, body, at)) = &newer {
        tx.execute(
            "INSERT OR IGNORE INTO note_revisions (note_id, revision, body, saved_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, revision, body, at],
        )?;
    }
    // What the CRM already has need not be sent again.
    tx.execute(
        "UPDATE outbox SET state = 'done', done_at = ?3, last_error = NULL
         WHERE note_id = ?1 AND revision <= ?2 AND state NOT IN ('done', 'superseded')",
        params![id, server_revision, now],
    )?;
    Ok(ServerRestore { restored: 1, kept_local_revision: u64::from(newer.is_some()), ..ServerRestore::default() })
}

/// Copies readable rows of one table; returns the count and whether every
/// read succeeded. Reads forwards by rowid until an error, then backwards
/// from the end, so one bad page in the middle loses only its own rows.
fn copy_table(
    conn: &Connection,
    table: &str,
    open_damaged: &dyn Fn() -> rusqlite::Result<Connection>,
) -> Result<(u64, bool)> {
    let Ok(damaged) = open_damaged() else { return Ok((0, false)) };
    let columns = common_columns(conn, &damaged, table)?;
    drop(damaged);
    if columns.is_empty() {
        return Ok((0, false));
    }
    let list = columns.join(", ");
    let without_rowid = table == "customer_identifiers";
    let (select, backwards) = if without_rowid {
        (format!("SELECT NULL, {list} FROM {table}"), None)
    } else {
        (
            format!("SELECT rowid, {list} FROM {table} ORDER BY rowid"),
            Some(format!("SELECT rowid, {list} FROM {table} ORDER BY rowid DESC")),
        )
    };
    let (mut rows, mut complete) = read_rows(open_damaged, &select, None);
    if let (false, Some(backwards)) = (complete, backwards) {
        let last_forward = rows.last().and_then(|(rowid, _)| *rowid);
        let (tail, _) = read_rows(open_damaged, &backwards, last_forward);
        rows.extend(tail);
        complete = false;
    }
    let placeholders = vec!["?"; columns.len()].join(", ");
    let tx = conn.unchecked_transaction()?;
    let mut copied = 0;
    {
        let mut insert = tx.prepare(&format!("INSERT OR IGNORE INTO main.{table} ({list}) VALUES ({placeholders})"))?;
        for (_, row) in rows {
            copied += u64::try_from(insert.execute(rusqlite::params_from_iter(row))?).unwrap_or(0);
        }
    }
    tx.commit()?;
    Ok((copied, complete))
}

fn common_columns(conn: &Connection, damaged: &Connection, table: &str) -> Result<Vec<String>> {
    let names = |c: &Connection| -> rusqlite::Result<Vec<String>> {
        let mut stmt = c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        stmt.query_map([], |r| r.get::<_, String>(0))?.collect()
    };
    let Ok(old) = names(damaged) else { return Ok(Vec::new()) };
    Ok(names(conn)?.into_iter().filter(|c| old.contains(c)).collect())
}

type Salvaged = (Option<i64>, Vec<Value>);

/// Reads rows (first column: rowid) on a fresh connection until the end, an
/// error, or a rowid at or below `stop_at`; the flag says whether it reached the end.
fn read_rows(
    open_damaged: &dyn Fn() -> rusqlite::Result<Connection>,
    sql: &str,
    stop_at: Option<i64>,
) -> (Vec<Salvaged>, bool) {
    let mut out = Vec::new();
    let Ok(damaged) = open_damaged() else { return (out, false) };
    let Ok(mut stmt) = damaged.prepare(sql) else { return (out, false) };
    let width = stmt.column_count();
    let Ok(mut rows) = stmt.query([]) else { return (out, false) };
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => return (out, true),
            Err(_) => return (out, false),
        };
        let rowid: Option<i64> = row.get(0).unwrap_or(None);
        if let (Some(rowid), Some(stop)) = (rowid, stop_at)
            && rowid <= stop
        {
            return (out, true);
        }
        match (1..width).map(|i| row.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>() {
            Ok(values) => out.push((rowid, values)),
            Err(_) => return (out, false),
        }
    }
}

/// `YYYYMMDDTHHMMSSZ` for a file name, without a date library.
fn utc_stamp(t: Timestamp) -> String {
    let secs = t.millis().div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(Timestamp::from_millis(0)), "19700101T000000Z");
        assert_eq!(utc_stamp(Timestamp::from_millis(1_709_210_096_000)), "20240229T123456Z");
    }

    #[test]
    fn move_aside_never_overwrites_an_earlier_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let now = Timestamp::from_millis(0);
        std::fs::write(&path, b"one").expect("write");
        std::fs::write(sidecar(&path, "-wal"), b"wal").expect("write");
        let first = move_aside(&path, now).expect("move");
        std::fs::write(&path, b"two").expect("write");
        let second = move_aside(&path, now).expect("move");
        assert_ne!(first, second);
        assert_eq!(std::fs::read(&first).expect("read"), b"one");
        assert_eq!(std::fs::read(sidecar(&first, "-wal")).expect("read"), b"wal");
        assert_eq!(std::fs::read(&second).expect("read"), b"two");
    }
}
