//! The CRM's own SQLite file: customers with their phone numbers, e-mail
//! addresses and past interactions; notes with versions; and the replies to
//! every idempotency key, stored in the same transaction as the write they
//! answer, so a repeated request never applies twice, even across a restart.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::scenario::Customer;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    account TEXT,
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS customer_keys (
    kind TEXT NOT NULL,          -- phone | email
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    client_id TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    call_id TEXT,
    customer TEXT,
    author TEXT,
    seed_key TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_modified ON notes(modified_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    reply TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// Notes per page of a listing: small enough that clients page.
pub(crate) const PAGE: usize = 25;

/// A note write as the REST API receives it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Write {
    pub body: String,
    pub client_id: Option<String>,
    pub revision: i64,
    pub call_id: Option<String>,
    pub customer: Option<String>,
}

impl Write {
    pub(crate) fn from_json(v: &Value) -> Result<Write, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let body = text("body").ok_or("the note has no \"body\" text")?;
        Ok(Write {
            body,
            client_id: text("client_id"),
            revision: v.get("revision").and_then(Value::as_i64).unwrap_or(0),
            call_id: text("call_id"),
            customer: text("customer"),
        })
    }
}

/// The reply to a write: an HTTP status and a JSON body, and whether it
/// was replayed from an earlier request with the same key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

/// A note, as the control API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmNote {
    /// The CRM's id (`N-12`).
    pub id: String,
    /// Its version, bumped by each update.
    pub version: u64,
    /// The text.
    pub body: String,
    /// The Warmline client id it was written with (none for notes made in the CRM).
    pub client_id: Option<String>,
    /// Who or what it is about.
    pub customer: Option<String>,
}

#[derive(Debug)]
pub(crate) struct CrmDb {
    conn: Connection,
}

fn note_id(n: i64) -> String {
    format!("N-{n}")
}

fn parse_note_id(id: &str) -> Option<i64> {
    id.strip_prefix("N-")?.parse().ok()
}

impl CrmDb {
    pub(crate) fn open(path: &Path) -> rusqlite::Result<CrmDb> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(CrmDb { conn })
    }

    /// Puts the scenario's customers in (replacing earlier copies of them)
    /// with their interactions and notes; notes already seeded stay as they
    /// are, so a restart on the same file keeps their edits.
    pub(crate) fn seed(&mut self, customers: &[Customer], now: u64) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let ago = |days: f64| i64::try_from(now).unwrap_or(i64::MAX) - (days * 86_400_000.0) as i64;
        for c in customers {
            let fields = Value::Object(c.fields.clone()).to_string();
            tx.execute(
                "INSERT INTO customers (id, name, account, fields) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, account = excluded.account, fields = excluded.fields",
                params![c.id, c.name, c.account, fields],
            )?;
            tx.execute("DELETE FROM customer_keys WHERE customer_id = ?1", params![c.id])?;
            for (kind, values) in [("phone", &c.phones), ("email", &c.emails)] {
                for v in values {
                    tx.execute(
                        "INSERT OR REPLACE INTO customer_keys (kind, value, customer_id) VALUES (?1, ?2, ?3)",
                        params![kind, v, c.id],
                    )?;
                }
            }
            for i in &c.interactions {
                tx.execute(
                    "INSERT OR REPLACE INTO interactions (id, customer_id, at, channel, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![i.id, c.id, ago(i.days_ago), i.channel, i.summary],
                )?;
            }
            for (j, n) in c.notes.iter().enumerate() {
                let at = ago(n.days_ago);
                tx.execute(
                    "INSERT OR IGNORE INTO notes (version, body, customer, author, seed_key, created_at, modified_at)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?5)",
                    params![n.body, c.id, n.author, format!("seed/{}/{j}", c.id), at],
                )?;
            }
        }
        tx.commit()
    }

    /// The customer with this phone (E.164), e-mail, CRM id or account.
    pub(crate) fn lookup(&self, kind: &str, value: &str) -> rusqlite::Result<Option<Value>> {
        let id: Option<String> = match kind {
            "phone" | "email" => {
                let value = if kind == "email" { value.trim().to_lowercase() } else { value.replace([' ', '-'], "") };
                self.conn
                    .query_row(
                        "SELECT customer_id FROM customer_keys WHERE kind = ?1 AND value = ?2",
                        params![kind, value],
                        |r| r.get(0),
                    )
                    .optional()?
            }
            "crm" => self.conn.query_row("SELECT id FROM customers WHERE id = ?1", [value], |r| r.get(0)).optional()?,
            "account" => {
                self.conn.query_row("SELECT id FROM customers WHERE account = ?1", [value], |r| r.get(0)).optional()?
            }
            _ => None,
        };
        id.map(|id| self.customer(&id)).transpose()
    }

    fn customer(&self, id: &str) -> rusqlite::Result<Value> {
        let (name, account, fields): (String, Option<String>, String) =
            self.conn.query_row("SELECT name, account, fields FROM customers WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let keys = |kind: &str| -> rusqlite::Result<Vec<String>> {
            let mut st = self
                .conn
                .prepare("SELECT value FROM customer_keys WHERE customer_id = ?1 AND kind = ?2 ORDER BY rowid")?;
            st.query_map(params![id, kind], |r| r.get(0))?.collect()
        };
        let (phones, emails) = (keys("phone")?, keys("email")?);
        let mut st = self
            .conn
            .prepare("SELECT id, at, channel, summary FROM interactions WHERE customer_id = ?1 ORDER BY at DESC")?;
        let interactions: Vec<Value> = st
            .query_map([id], |r| {
                Ok(json!({"id": r.get::<_, String>(0)?, "at": r.get::<_, i64>(1)?,
                          "channel": r.get::<_, String>(2)?, "summary": r.get::<_, String>(3)?}))
            })?
            .collect::<rusqlite::Result<_>>()?;
        // Recent notes about the customer, by id or by any of their numbers and addresses.
        let mut about: Vec<String> = vec![id.to_string()];
        about.extend(phones.iter().cloned());
        about.extend(emails.iter().cloned());
        let placeholders = vec!["?"; about.len()].join(",");
        let mut st = self.conn.prepare(&format!(
            "SELECT id, body, author, modified_at FROM notes WHERE customer IN ({placeholders})
             ORDER BY modified_at DESC LIMIT 5"
        ))?;
        let notes: Vec<Value> = st
            .query_map(rusqlite::params_from_iter(about.iter()), |r| {
                Ok(json!({"id": note_id(r.get(0)?), "body": r.get::<_, String>(1)?,
                          "author": r.get::<_, Option<String>>(2)?, "at": r.get::<_, i64>(3)?}))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(json!({
            "id": id,
            "name": name,
            "phones": phones,
            "emails": emails,
            "account": account,
            "fields": serde_json::from_str::<Value>(&fields).unwrap_or(Value::Null),
            "interactions": interactions,
            "notes": notes,
        }))
    }

    /// Runs `apply` once per idempotency key: a repeat with the same
    /// request gets the stored reply; the same key with another request is
    /// refused (422). Only successes are stored, so a failed or conflicting
    /// write can be retried with the same key.
    fn once(
        &mut self,
        key: &str,
        fingerprint: &str,
        now: u64,
        apply: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<(u16, Value)>,
    ) -> rusqlite::Result<Outcome> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<(String, u16, String)> = tx
            .query_row("SELECT fingerprint, status, reply FROM idempotency WHERE key = ?1", [key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        if let Some((print, status, reply)) = stored {
            if print != fingerprint {
                return Ok(Outcome {
                    status: 422,
                    body: json!({"error": "this Idempotency-Key was already used for a different request"}),
                    replayed: false,
                });
            }
            let body = serde_json::from_str(&reply).unwrap_or(Value::Null);
            return Ok(Outcome { status, body, replayed: true });
        }
        let (status, body) = apply(&tx)?;
        if (200..300).contains(&status) {
            tx.execute(
                "INSERT INTO idempotency (key, fingerprint, status, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, fingerprint, status, body.to_string(), i64::try_from(now).unwrap_or(i64::MAX)],
            )?;
        }
        tx.commit()?;
        Ok(Outcome { status, body, replayed: false })
    }

    pub(crate) fn create_note(&mut self, key: &str, write: &Write, raw: &Value, now: u64) -> rusqlite::Result<Outcome> {
        let fingerprint = format!("POST /notes {raw}");
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        self.once(key, &fingerprint, now, |tx| {
            tx.execute(
                "INSERT INTO notes (version, body, client_id, revision, call_id, customer, created_at, modified_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![write.body, write.client_id, write.revision, write.call_id, write.customer, at],
            )?;
            let id = tx.last_insert_rowid();
            Ok((201, json!({"id": note_id(id), "version": "1", "body": write.body})))
        })
    }

    /// Replaces a note's text if it is still at `base_version`; 409 with the
    /// CRM's copy if not, 404 if there is no such note.
    pub(crate) fn update_note(
        &mut self,
        key: &str,
        id: &str,
        base_version: &str,
        write: &Write,
        raw: &Value,
        now: u64,
    ) -> rusqlite::Result<Outcome> {
        let fingerprint = format!("PUT /notes/{id} {base_version} {raw}");
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        self.once(key, &fingerprint, now, |tx| {
            let Some(n) = parse_note_id(id) else { return Ok((404, json!({"error": "no such note"}))) };
            let current: Option<(i64, String)> = tx
                .query_row("SELECT version, body FROM notes WHERE id = ?1", [n], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((version, body)) = current else { return Ok((404, json!({"error": "no such note"}))) };
            if version.to_string() != base_version {
                return Ok((409, json!({"id": id, "version": version.to_string(), "body": body})));
            }
            tx.execute(
                "UPDATE notes SET version = version + 1, body = ?1, revision = ?2, modified_at = ?3 WHERE id = ?4",
                params![write.body, write.revision, at, n],
            )?;
            Ok((200, json!({"id": id, "version": (version + 1).to_string(), "body": write.body})))
        })
    }

    /// Notes changed at or after `since`, after the `cursor` note, optionally about one customer.
    pub(crate) fn list_notes(
        &self,
        since: i64,
        cursor: Option<&str>,
        customer: Option<&str>,
    ) -> rusqlite::Result<Value> {
        let after = cursor.and_then(parse_note_id).unwrap_or(0);
        let mut st = self.conn.prepare(
            "SELECT id, version, body, client_id, revision, call_id, customer, author, modified_at FROM notes
             WHERE id > ?1 AND modified_at >= ?2 AND (?3 IS NULL OR customer = ?3) ORDER BY id LIMIT ?4",
        )?;
        let limit = i64::try_from(PAGE + 1).unwrap_or(26);
        let mut rows: Vec<(i64, Value)> = st
            .query_map(params![after, since, customer, limit], |r| {
                let id: i64 = r.get(0)?;
                Ok((
                    id,
                    json!({
                        "id": note_id(id),
                        "version": r.get::<_, i64>(1)?.to_string(),
                        "body": r.get::<_, String>(2)?,
                        "client_id": r.get::<_, Option<String>>(3)?,
                        "revision": r.get::<_, i64>(4)?,
                        "call_id": r.get::<_, Option<String>>(5)?,
                        "customer": r.get::<_, Option<String>>(6)?,
                        "author": r.get::<_, Option<String>>(7)?,
                        "modified_at": r.get::<_, i64>(8)?,
                    }),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let more = rows.len() > PAGE;
        rows.truncate(PAGE);
        let next = match rows.last() {
            Some((id, _)) if more => Value::String(note_id(*id)),
            _ => Value::Null,
        };
        Ok(json!({"notes": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "next": next}))
    }

    /// Every note, oldest first (for the control API and tests).
    pub(crate) fn notes(&self) -> rusqlite::Result<Vec<CrmNote>> {
        let mut st = self.conn.prepare("SELECT id, version, body, client_id, customer FROM notes ORDER BY id")?;
        st.query_map([], |r| {
            Ok(CrmNote {
                id: note_id(r.get(0)?),
                version: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                body: r.get(2)?,
                client_id: r.get(3)?,
                customer: r.get(4)?,
            })
        })?
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    const NOW: u64 = 1_750_000_000_000;

    fn db() -> (tempfile::TempDir, CrmDb) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = CrmDb::open(&dir.path().join("crm.db")).expect("open");
        db.seed(&Scenario::default_scenario().customers, NOW).expect("seed");
        (dir, db)
    }

    fn write(body: &str) -> (Write, Value) {
        let raw = json!({"body": body, "client_id": "c1", "revision": 1});
        (Write::from_json(&raw).expect("valid"), raw)
    }

    #[test]
    fn customers_are_found_by_phone_email_id_and_account() {
        let (_dir, db) = db();
        let ada = db.lookup("phone", "+442079460018").expect("query").expect("Ada");
        assert_eq!(ada["name"], "Ada Lovelace");
        assert_eq!(ada["interactions"][0]["at"], json!(NOW as i64 - 2 * 86_400_000), "most recent first");
        assert_eq!(ada["notes"].as_array().map(Vec::len), Some(1), "her seeded note");
        assert_eq!(db.lookup("email", "ADA.Lovelace@example.org").expect("q").expect("by mail")["id"], "NW-100231");
        assert!(db.lookup("crm", "NW-100231").expect("q").is_some());
        assert!(db.lookup("account", "ACC-55120").expect("q").is_some());
        assert!(db.lookup("phone", "+442079460999").expect("q").is_none());
    }

    #[test]
    fn a_key_applies_once_and_refuses_a_different_request() {
        let (_dir, mut db) = db();
        let (w, raw) = write("first");
        let a = db.create_note("k1", &w, &raw, NOW).expect("create");
        let b = db.create_note("k1", &w, &raw, NOW).expect("again");
        assert_eq!((a.status, b.body.clone(), b.replayed), (201, a.body.clone(), true));
        let (other, other_raw) = write("other text");
        assert_eq!(db.create_note("k1", &other, &other_raw, NOW).expect("reuse").status, 422);
        assert_eq!(db.notes().expect("notes").iter().filter(|n| n.client_id.is_some()).count(), 1);
    }

    #[test]
    fn updates_check_the_version_and_a_conflict_is_not_remembered() {
        let (_dir, mut db) = db();
        let (w, raw) = write("v1");
        let id = db.create_note("k1", &w, &raw, NOW).expect("create").body["id"].as_str().expect("id").to_string();
        let (w2, raw2) = write("v2");
        assert_eq!(db.update_note("k2", &id, "1", &w2, &raw2, NOW).expect("update").status, 200);
        let stale = db.update_note("k3", &id, "1", &w2, &raw2, NOW).expect("stale");
        assert_eq!((stale.status, stale.body["version"].as_str()), (409, Some("2")));
        assert_eq!(db.update_note("k3", &id, "2", &w2, &raw2, NOW).expect("retry").status, 200, "key k3 still free");
        assert_eq!(db.update_note("k4", "N-999", "1", &w2, &raw2, NOW).expect("missing").status, 404);
    }

    #[test]
    fn listings_page_by_id_and_filter_by_time() {
        let (_dir, mut db) = db();
        for i in 0..30 {
            let (w, raw) = write(&format!("note {i}"));
            db.create_note(&format!("k{i}"), &w, &raw, NOW + 1).expect("create");
        }
        let first = db.list_notes(i64::try_from(NOW).expect("ms"), None, None).expect("page 1");
        assert_eq!(first["notes"].as_array().map(Vec::len), Some(PAGE));
        let next = first["next"].as_str().expect("more").to_string();
        let second = db.list_notes(i64::try_from(NOW).expect("ms"), Some(&next), None).expect("page 2");
        assert_eq!(second["notes"].as_array().map(Vec::len), Some(5));
        assert!(second["next"].is_null());
        let seeded = db.list_notes(0, None, Some("NW-100231")).expect("by customer");
        assert_eq!(seeded["notes"][0]["author"], "Sam Patel");
    }

    #[test]
    fn reseeding_the_same_file_keeps_notes_and_adds_no_duplicates() {
        let (_dir, mut db) = db();
        let before = db.notes().expect("notes").len();
        db.seed(&Scenario::default_scenario().customers, NOW + 5).expect("reseed");
        assert_eq!(db.notes().expect("notes").len(), before);
    }
}
