//! Notes: drafts saved as the agent types, committed revisions (the edit
//! history), and full-text search across notes and customers.

use rusqlite::{OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::customers::CustomerId;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::outbox;

/// A note's local id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteId(pub i64);

/// What a new note is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewNote {
    /// The call it was taken on, if any.
    pub call_uid: Option<String>,
    /// The customer it is about (normally an E.164 number), if known.
    pub customer_ref: Option<String>,
    /// The first text.
    pub body: String,
}

/// A note as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Local id.
    pub id: NoteId,
    /// A globally unique id, stable across sync; the CRM sees it as the client id.
    pub uid: String,
    /// The call it was taken on.
    pub call_uid: Option<String>,
    /// The customer it is about.
    pub customer_ref: Option<String>,
    /// The current text (the latest draft or revision).
    pub body: String,
    /// Whether the text has changes not yet committed as a revision.
    pub is_draft: bool,
    /// The latest committed revision (0: never committed).
    pub revision: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its text last changed.
    pub updated_at: Timestamp,
    /// The CRM's id for it, once synced.
    pub server_id: Option<String>,
    /// The CRM's version of it that this copy is based on.
    pub server_version: Option<String>,
    /// The latest revision the CRM confirmed (0: none).
    pub synced_revision: i64,
}

/// One committed version of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRevision {
    /// 1, 2, 3...
    pub revision: i64,
    /// The text as committed.
    pub body: String,
    /// When.
    pub saved_at: Timestamp,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The note or customer that matched.
    pub target: SearchTarget,
    /// The matching text with the hits in `[brackets]`.
    pub snippet: String,
    /// Relevance (bm25; lower is better).
    pub score: f64,
}

/// The kind of record a [`SearchHit`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchTarget {
    /// A note.
    Note(NoteId),
    /// A cached customer.
    Customer(CustomerId),
}

const NOTE_COLUMNS: &str = "id, uid, call_uid, customer_ref, body, is_draft, revision, created_at, updated_at, server_id, server_version, \
     synced_revision";

fn note_from_row(r: &Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: NoteId(r.get(0)?),
        uid: r.get(1)?,
        call_uid: r.get(2)?,
        customer_ref: r.get(3)?,
        body: r.get(4)?,
        is_draft: r.get(5)?,
        revision: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        server_id: r.get(9)?,
        server_version: r.get(10)?,
        synced_revision: r.get(11)?,
    })
}

fn new_uid() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Invalid { what: "random source", reason: e.to_string() })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Store {
    /// Creates a note as a draft. Returns once it is durable.
    pub fn create_note(&self, new: &NewNote, now: Timestamp) -> Result<NoteId> {
        let uid = new_uid()?;
        self.write(|tx| {
            let id = fresh_note_id(tx)?;
            tx.execute(
                "INSERT INTO notes (id, uid, call_uid, customer_ref, body, is_draft, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
                params![id, uid, new.call_uid, new.customer_ref, new.body, now],
            )?;
            Ok(NoteId(id))
        })
    }

    /// Saves the text the agent is typing (call it from a [`crate::DraftDebouncer`]).
    /// Durable when it returns; not a revision, not sent to the CRM.
    pub fn save_draft(&self, id: NoteId, body: &str, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE notes SET body = ?2, is_draft = 1, updated_at = ?3 WHERE id = ?1 AND body <> ?2",
                params![id.0, body, now],
            )?;
            if changed == 0 {
                ensure_exists(tx, id)?;
            }
            Ok(())
        })
    }

    /// Commits the text as a new revision and queues it for the CRM, in one
    /// transaction. Returns the revision number once it is durable; saving
    /// text identical to the latest revision returns that revision.
    pub fn save_note(&self, id: NoteId, body: &str, now: Timestamp) -> Result<i64> {
        self.write(|tx| commit_revision(tx, id, body, now, false))
    }

    /// One note.
    pub fn note(&self, id: NoteId) -> Result<Note> {
        self.conn()
            .query_row(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE id = ?1"), [id.0], note_from_row)
            .optional()?
            .ok_or_else(|| Error::NotFound { what: "note", id: id.0.to_string() })
    }

    /// The notes taken on a call, oldest first.
    pub fn notes_for_call(&self, call_uid: &str) -> Result<Vec<Note>> {
        self.notes_where("call_uid = ?1", call_uid)
    }

    /// The notes about a customer, oldest first.
    pub fn notes_for_customer(&self, customer_ref: &str) -> Result<Vec<Note>> {
        self.notes_where("customer_ref = ?1", customer_ref)
    }

    fn notes_where(&self, condition: &str, value: &str) -> Result<Vec<Note>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE {condition} ORDER BY id"))?;
        let notes = stmt.query_map([value], note_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(notes)
    }

    /// Every committed revision of a note, oldest first.
    pub fn note_history(&self, id: NoteId) -> Result<Vec<NoteRevision>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT revision, body, saved_at FROM note_revisions WHERE note_id = ?1 ORDER BY revision")?;
        let revisions = stmt
            .query_map([id.0], |r| Ok(NoteRevision { revision: r.get(0)?, body: r.get(1)?, saved_at: r.get(2)? }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(revisions)
    }

    /// Full-text search over notes and cached customers. Words are matched
    /// as typed and the last one also as a prefix, so it can run on every
    /// keystroke; FTS syntax in the input is not interpreted.
    ///
    /// The most recent [`SEARCH_WINDOW`] matches of each kind are ranked by
    /// relevance (bm25, lower is better) and the best `limit` returned: a
    /// common word matching most of 100,000 notes then costs no more than a
    /// rare one, and agents mostly look for recent notes anyway. The prefix
    /// is only expanded when the words as typed find fewer than `limit`
    /// matches: expanding a long, common prefix merges many large lists.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(query) = FtsQuery::parse(text) else { return Ok(Vec::new()) };
        let conn = self.conn();
        let mut hits = Vec::new();
        for (table, column) in [("notes_fts", 0), ("customers_fts", -1)] {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT rowid, bm25({table}) FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid DESC LIMIT ?2"
            ))?;
            let mut run = |q: &str| -> rusqlite::Result<Vec<(i64, f64)>> {
                stmt.query_map(params![q, SEARCH_WINDOW], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
            };
            let mut used = &query.exact;
            let mut found = run(used)?;
            if let Some(prefixed) = query.prefixed.as_ref().filter(|_| found.len() < limit) {
                used = prefixed;
                found = run(used)?;
            }
            hits.extend(found.into_iter().map(|(rowid, score)| {
                let target = if column == 0 {
                    SearchTarget::Note(NoteId(rowid))
                } else {
                    SearchTarget::Customer(CustomerId(rowid))
                };
                (table, column, rowid, used.clone(), SearchHit { target, snippet: String::new(), score })
            }));
        }
        hits.sort_by(|a, b| a.4.score.total_cmp(&b.4.score));
        hits.truncate(limit);
        // Snippets only for what is shown: each reads and tokenizes a document.
        for (table, column, rowid, used, hit) in &mut hits {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT snippet({table}, {column}, '[', ']', '…', 12) FROM {table} WHERE {table} MATCH ?1 AND rowid = ?2"
            ))?;
            hit.snippet = stmt.query_row(params![used.as_str(), *rowid], |r| r.get(0)).optional()?.unwrap_or_default();
        }
        Ok(hits.into_iter().map(|(.., hit)| hit).collect())
    }
}

/// How many of the most recent matches [`Store::search`] ranks.
pub const SEARCH_WINDOW: i64 = 200;

pub(crate) fn ensure_exists(tx: &rusqlite::Connection, id: NoteId) -> Result<()> {
    let exists: bool = tx.query_row("SELECT count(*) > 0 FROM notes WHERE id = ?1", [id.0], |r| r.get(0))?;
    if exists { Ok(()) } else { Err(Error::NotFound { what: "note", id: id.0.to_string() }) }
}

/// Records `body` as the next revision of the note and queues it for sync;
/// unless `always`, text equal to the latest revision is not a new one.
pub(crate) fn commit_revision(
    tx: &rusqlite::Connection,
    id: NoteId,
    body: &str,
    now: Timestamp,
    always: bool,
) -> Result<i64> {
    let (uid, revision): (String, i64) = tx
        .query_row("SELECT uid, revision FROM notes WHERE id = ?1", [id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| Error::NotFound { what: "note", id: id.0.to_string() })?;
    let latest: Option<String> = tx
        .query_row(
            "SELECT body FROM note_revisions WHERE note_id = ?1 AND revision = ?2",
            params![id.0, revision],
            |r| r.get(0),
        )
        .optional()?;
    if !always && latest.as_deref() == Some(body) {
        tx.execute("UPDATE notes SET body = ?2, is_draft = 0 WHERE id = ?1 AND body <> ?2", params![id.0, body])?;
        return Ok(revision);
    }
    let next = revision + 1;
    tx.execute(
        "INSERT INTO note_revisions (note_id, revision, body, saved_at) VALUES (?1, ?2, ?3, ?4)",
        params![id.0, next, body, now],
    )?;
    tx.execute(
        "UPDATE notes SET body = ?2, is_draft = 0, revision = ?3, updated_at = ?4 WHERE id = ?1",
        params![id.0, body, next, now],
    )?;
    outbox::enqueue(tx, id, &uid, next, body, now)?;
    Ok(next)
}

/// What the agent typed as FTS5 queries: each word quoted (so `AND`, `-`
/// or `"` are plain text), and the same with the last word as a prefix.
#[derive(Debug, PartialEq, Eq)]
struct FtsQuery {
    exact: String,
    prefixed: Option<String>,
}

impl FtsQuery {
    fn parse(text: &str) -> Option<Self> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '@' && c != '+')
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(|w| format!("\"{}\"", w.replace('"', "")))
            .collect();
        let last = words.last()?;
        // One- and two-letter prefixes match too much to be useful (and have no prefix index).
        let prefix = last.chars().filter(|c| c.is_alphanumeric()).count() >= 3;
        let exact = words.join(" ");
        let prefixed = prefix.then(|| format!("{exact}*"));
        Some(FtsQuery { exact, prefixed })
    }
}

/// An id no row anywhere refers to. SQLite would reuse the id of a note whose
/// row was lost in a salvage, and the new note would adopt the lost note's
/// revisions and outbox entries.
pub(crate) fn fresh_note_id(tx: &rusqlite::Connection) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT 1 + max(coalesce((SELECT max(id) FROM notes), 0), coalesce((SELECT max(note_id) FROM outbox), 0),
                        coalesce((SELECT max(note_id) FROM note_revisions), 0),
                        coalesce((SELECT max(note_id) FROM note_conflicts), 0))",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::plaintext_store;

    #[test]
    fn a_new_note_never_adopts_the_rows_of_a_lost_note() {
        let (_dir, store) = plaintext_store();
        let t = Timestamp::from_millis;
        let lost = store.create_note(&NewNote::default(), t(1)).expect("create");
        store.save_note(lost, "card declined twice", t(2)).expect("save");
        // A salvage that lost the note's own row but kept its revisions and outbox entry.
        store
            .conn()
            .execute_batch(&format!(
                "PRAGMA foreign_keys = OFF; DELETE FROM notes WHERE id = {}; PRAGMA foreign_keys = ON;",
                lost.0
            ))
            .expect("lose the row");
        let fresh = store.create_note(&NewNote::default(), t(3)).expect("create after salvage");
        assert_ne!(fresh, lost, "the new note must not take the lost note's id and inherit its history");
        assert!(store.note_history(fresh).expect("history").is_empty(), "a new note starts with no revisions");
    }

    #[test]
    fn drafts_do_not_make_revisions_and_saves_do() {
        let (_dir, store) = plaintext_store();
        let t = Timestamp::from_millis;
        let id =
            store.create_note(&NewNote { call_uid: Some("c1".into()), ..NewNote::default() }, t(1)).expect("create");
        store.save_draft(id, "Cust", t(2)).expect("draft");
        store.save_draft(id, "Customer wants a refund", t(3)).expect("draft");
        assert!(store.note_history(id).expect("history").is_empty());
        assert_eq!(store.save_note(id, "Customer wants a refund", t(4)).expect("save"), 1);
        assert_eq!(store.save_note(id, "Customer wants a refund", t(5)).expect("same text"), 1);
        assert_eq!(store.save_note(id, "Customer wants a refund of $20", t(6)).expect("save"), 2);
        let history = store.note_history(id).expect("history");
        assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2]);
        let note = store.note(id).expect("note");
        assert!(!note.is_draft);
        assert_eq!(note.body, "Customer wants a refund of $20");
        assert_eq!(store.notes_for_call("c1").expect("by call").len(), 1);
    }

    #[test]
    fn saving_a_missing_note_is_not_found() {
        let (_dir, store) = plaintext_store();
        let err = store.save_draft(NoteId(42), "x", Timestamp::from_millis(0)).expect_err("missing");
        assert!(matches!(err, Error::NotFound { what: "note", .. }), "{err}");
    }

    #[test]
    fn search_finds_current_text_by_prefix_and_ignores_fts_syntax() {
        let (_dir, store) = plaintext_store();
        let t = Timestamp::from_millis(0);
        let a =
            store.create_note(&NewNote { body: "router keeps rebooting".into(), ..NewNote::default() }, t).expect("a");
        store.create_note(&NewNote { body: "billing question".into(), ..NewNote::default() }, t).expect("b");
        let hits = store.search("rout", 10).expect("search");
        assert_eq!(hits.iter().map(|h| h.target).collect::<Vec<_>>(), [SearchTarget::Note(a)]);
        assert!(hits[0].snippet.contains("[router]"), "{}", hits[0].snippet);
        store.save_draft(a, "modem replaced", t).expect("edit");
        assert!(store.search("router", 10).expect("search").is_empty(), "the index follows edits");
        assert!(store.search("\"AND OR NOT(", 10).expect("syntax is text").is_empty());
        assert!(store.search("  ", 10).expect("empty").is_empty());
    }

    #[test]
    fn fts_query_quotes_words() {
        let q = FtsQuery::parse("refund AND -xyz").expect("words");
        assert_eq!(q.exact, "\"refund\" \"AND\" \"xyz\"");
        assert_eq!(q.prefixed.as_deref(), Some("\"refund\" \"AND\" \"xyz\"*"));
        assert_eq!(FtsQuery::parse("+44 20").expect("words").prefixed, None, "no prefix search on two characters");
        assert_eq!(FtsQuery::parse(" -- "), None);
    }
}
