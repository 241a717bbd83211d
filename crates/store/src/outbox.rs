//! The sync outbox: every committed note revision waits here, durable,
//! until the CRM has it. A sans-IO scheduler: [`Outbox::poll`] says what to
//! send now or when to ask again, [`Outbox::handle`] takes the result.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use crate::clock::Timestamp;
use crate::db::Store;
use crate::error::Result;
use crate::notes::{self, NoteId};
use crate::sync::{ConnectorError, DeliveryTarget, NoteDelivery, NoteWrite, RemoteNote};

/// The sync state of one note, as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncState {
    /// Durable on this machine, not yet sent.
    SavedLocally,
    /// Being sent.
    Syncing,
    /// The CRM has it.
    Synced,
    /// The CRM cannot be reached; it will be sent later.
    Offline,
    /// The CRM's copy changed meanwhile; both versions are kept.
    Conflict,
    /// The CRM refused it.
    Failed(String),
}

/// Both sides of a conflict: nothing is overwritten until the agent chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteConflict {
    /// The text this machine tried to send.
    pub local_body: String,
    /// The CRM's text.
    pub server_body: String,
    /// The CRM's version.
    pub server_version: String,
    /// When it was found.
    pub detected_at: Timestamp,
}

/// How long to wait before retrying after transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure.
    pub first_delay: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(300) }
    }
}

/// What the sync runner should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPoll {
    /// Send these now (at most one per note, so each note's revisions stay in order).
    Send(Vec<NoteDelivery>),
    /// Nothing is due; poll again at this time, or when a note is saved.
    WaitUntil(Timestamp),
    /// Nothing is waiting.
    Idle,
}

/// The scheduler over the outbox table. Holds only the retry policy and a
/// seeded random generator for jitter; all state lives in the database.
#[derive(Debug, Clone)]
pub struct Outbox {
    policy: RetryPolicy,
    jitter: SplitMix64,
    batch: usize,
}

impl Outbox {
    /// A scheduler with this policy; `seed` makes the jitter reproducible.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Outbox { policy, jitter: SplitMix64(seed), batch: 8 }
    }

    /// The wait after `attempts` consecutive failures: exponential, capped,
    /// with "equal jitter" (half fixed, half random) so that many agents
    /// coming back online together do not hit the CRM in the same second.
    pub fn backoff(&mut self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let full = self.policy.first_delay.saturating_mul(1 << exponent).min(self.policy.max_delay);
        let half = u64::try_from(full.as_millis() / 2).unwrap_or(u64::MAX);
        Duration::from_millis(half + self.jitter.next() % (half + 1))
    }

    /// What to send at `now`. The deliveries returned are marked as being
    /// sent ([`SyncState::Syncing`]) until [`Outbox::handle`] is called.
    pub fn poll(&mut self, store: &Store, now: Timestamp) -> Result<SyncPoll> {
        store.write(|tx| {
            // Only the oldest open entry of each note may go: a revision is
            // never sent before the one it follows has been accepted.
            let mut stmt = tx.prepare_cached(
                "SELECT o.id, o.note_id, o.revision, o.idempotency_key, o.body, o.next_attempt_at,
                        n.uid, n.call_uid, n.customer_ref, n.server_id, n.server_version
                 FROM outbox o JOIN notes n ON n.id = o.note_id
                 WHERE o.state = 'pending' AND NOT EXISTS (
                     SELECT 1 FROM outbox p WHERE p.note_id = o.note_id AND p.id < o.id
                         AND p.state <> 'done' AND p.state <> 'superseded')
                 ORDER BY o.next_attempt_at, o.id",
            )?;
            let mut due = Vec::new();
            let mut next_wake: Option<Timestamp> = None;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let next_attempt_at: Timestamp = r.get(5)?;
                if next_attempt_at > now {
                    next_wake = Some(next_attempt_at);
                    break;
                }
                if due.len() == self.batch {
                    break;
                }
                let server: (Option<String>, Option<String>) = (r.get(9)?, r.get(10)?);
                let target = match server {
                    (Some(server_id), Some(base_version)) => DeliveryTarget::Update { server_id, base_version },
                    _ => DeliveryTarget::Create,
                };
                due.push(NoteDelivery {
                    op_id: r.get(0)?,
                    note_id: NoteId(r.get(1)?),
                    write: NoteWrite {
                        revision: r.get(2)?,
                        idempotency_key: r.get(3)?,
                        body: r.get(4)?,
                        client_uid: r.get(6)?,
                        call_uid: r.get(7)?,
                        customer_ref: r.get(8)?,
                    },
                    target,
                });
            }
            drop(rows);
            for d in &due {
                tx.execute("UPDATE outbox SET state = 'in_flight' WHERE id = ?1", [d.op_id])?;
            }
            Ok(match (due.is_empty(), next_wake) {
                (false, _) => SyncPoll::Send(due),
                (true, Some(at)) => SyncPoll::WaitUntil(at),
                (true, None) => SyncPoll::Idle,
            })
        })
    }

    /// Records the result of sending `delivery`; returns the note's new state.
    pub fn handle(
        &mut self,
        store: &Store,
        delivery: &NoteDelivery,
        outcome: &Result<RemoteNote, ConnectorError>,
        now: Timestamp,
    ) -> Result<SyncState> {
        let retry_at = match outcome {
            Err(e) if e.is_transient() => {
                let attempts: u32 =
                    store
                        .conn()
                        .query_row("SELECT attempts FROM outbox WHERE id = ?1", [delivery.op_id], |r| r.get(0))?;
                Some(now.plus(self.backoff(attempts + 1)))
            }
            _ => None,
        };
        store.write(|tx| {
            let op = delivery.op_id;
            match outcome {
                Ok(remote) => {
                    tx.execute(
                        "UPDATE outbox SET state = 'done', done_at = ?2, last_error = NULL WHERE id = ?1",
                        params![op, now],
                    )?;
                    tx.execute(
                        "UPDATE notes SET server_id = ?2, server_version = ?3, synced_revision = max(synced_revision, ?4)
                         WHERE id = ?1",
                        params![delivery.note_id.0, remote.server_id, remote.version, delivery.write.revision],
                    )?;
                }
                Err(ConnectorError::Conflict(server)) => {
                    tx.execute(
                        "UPDATE outbox SET state = 'conflict', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                        params![op, outcome.as_ref().err().map(ToString::to_string)],
                    )?;
                    tx.execute(
                        "INSERT INTO note_conflicts (note_id, local_body, server_body, server_version, detected_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![delivery.note_id.0, delivery.write.body, server.body, server.version, now],
                    )?;
                }
                Err(e) => {
                    let (state, next) = match retry_at {
                        Some(at) => ("pending", at),
                        None => ("failed", now),
                    };
                    tx.execute(
                        "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3,
                             last_error = ?4, last_error_transient = ?5 WHERE id = ?1",
                        params![op, state, next, e.to_string(), e.is_transient()],
                    )?;
                }
            }
            sync_state(tx, delivery.note_id)
        })
    }
}

impl Store {
    /// The note's sync state, for the badge next to it.
    pub fn sync_state(&self, note: NoteId) -> Result<SyncState> {
        sync_state(&self.conn(), note)
    }

    /// The note's unresolved conflicts, oldest first.
    pub fn conflicts(&self, note: NoteId) -> Result<Vec<NoteConflict>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT local_body, server_body, server_version, detected_at FROM note_conflicts
             WHERE note_id = ?1 AND resolved_at IS NULL ORDER BY id",
        )?;
        let conflicts = stmt
            .query_map([note.0], |r| {
                Ok(NoteConflict {
                    local_body: r.get(0)?,
                    server_body: r.get(1)?,
                    server_version: r.get(2)?,
                    detected_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(conflicts)
    }

    /// Settles a conflict with the text the agent chose (theirs, ours or a
    /// merge): it becomes a new revision based on the CRM's current version,
    /// queued for sync. Returns the new revision.
    pub fn resolve_conflict(&self, note: NoteId, body: &str, now: Timestamp) -> Result<i64> {
        self.write(|tx| {
            let server_version: Option<String> = tx
                .query_row(
                    "SELECT server_version FROM note_conflicts WHERE note_id = ?1 AND resolved_at IS NULL
                     ORDER BY id DESC LIMIT 1",
                    [note.0],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(server_version) = server_version else {
                return Err(crate::Error::NotFound { what: "conflict on note", id: note.0.to_string() });
            };
            tx.execute("UPDATE note_conflicts SET resolved_at = ?2 WHERE note_id = ?1 AND resolved_at IS NULL", params![
                note.0, now
            ])?;
            tx.execute("UPDATE notes SET server_version = ?2 WHERE id = ?1", params![note.0, server_version])?;
            // The chosen text replaces every revision that was waiting behind the conflict.
            tx.execute(
                "UPDATE outbox SET state = 'superseded' WHERE note_id = ?1 AND state IN ('conflict', 'pending', 'failed')",
                [note.0],
            )?;
            notes::commit_revision(tx, note, body, now, true)
        })
    }

    /// How many note writes wait for the CRM, and how many notes are in
    /// an unresolved conflict: the header's sync indicator.
    pub fn sync_summary(&self) -> Result<(u32, u32)> {
        let conn = self.conn();
        let pending: i64 = conn.query_row(
            "SELECT COUNT(DISTINCT note_id) FROM outbox WHERE state IN ('pending', 'in_flight')",
            [],
            |r| r.get(0),
        )?;
        let conflicts: i64 =
            conn.query_row("SELECT COUNT(DISTINCT note_id) FROM note_conflicts WHERE resolved_at IS NULL", [], |r| {
                r.get(0)
            })?;
        Ok((u32::try_from(pending).unwrap_or(u32::MAX), u32::try_from(conflicts).unwrap_or(u32::MAX)))
    }

    /// Forgets outbox entries settled before `before` (delivered, or replaced
    /// by a conflict resolution); returns how many. What the CRM has is kept
    /// on the notes themselves (server id, version, synced revision).
    pub fn prune_outbox(&self, before: Timestamp) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM outbox WHERE state IN ('done', 'superseded') AND coalesce(done_at, created_at) < ?1",
                [before],
            )?)
        })
    }

    /// Sends a note that failed again (after the agent fixed the cause, e.g. the token).
    pub fn retry_failed(&self, note: NoteId, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2 WHERE note_id = ?1 AND state = 'failed'",
                params![note.0, now],
            )?;
            Ok(())
        })
    }
}

/// Queues a committed revision. The idempotency key is derived from the
/// note's global id and revision, so the same revision always carries the
/// same key, even when it is queued again after a recovery.
pub(crate) fn enqueue(
    tx: &rusqlite::Connection,
    note: NoteId,
    uid: &str,
    revision: i64,
    body: &str,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox (note_id, revision, idempotency_key, body, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![note.0, revision, format!("{uid}/r{revision}"), body, now],
    )?;
    Ok(())
}

fn sync_state(conn: &rusqlite::Connection, note: NoteId) -> Result<SyncState> {
    let conflicted: bool = conn.query_row(
        "SELECT count(*) > 0 FROM note_conflicts WHERE note_id = ?1 AND resolved_at IS NULL",
        [note.0],
        |r| r.get(0),
    )?;
    if conflicted {
        return Ok(SyncState::Conflict);
    }
    let head: Option<(String, i64, Option<String>, bool)> = conn
        .query_row(
            "SELECT state, attempts, last_error, last_error_transient FROM outbox
             WHERE note_id = ?1 AND state <> 'done' AND state <> 'superseded' ORDER BY id LIMIT 1",
            [note.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (is_draft, server_id): (bool, Option<String>) =
        conn.query_row("SELECT is_draft, server_id FROM notes WHERE id = ?1", [note.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(match head {
        Some((state, _, reason, _)) if state == "failed" => SyncState::Failed(reason.unwrap_or_default()),
        Some((state, ..)) if state == "in_flight" => SyncState::Syncing,
        Some((_, attempts, _, true)) if attempts > 0 => SyncState::Offline,
        Some(_) => SyncState::SavedLocally,
        None if server_id.is_some() && !is_draft => SyncState::Synced,
        None => SyncState::SavedLocally,
    })
}

/// A small, fast, seedable generator (SplitMix64); jitter needs no more.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::NewNote;
    use crate::test_support::plaintext_store;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn remote(d: &NoteDelivery, version: &str) -> Result<RemoteNote, ConnectorError> {
        Ok(RemoteNote {
            server_id: format!("srv-{}", d.note_id.0),
            version: version.into(),
            body: d.write.body.clone(),
        })
    }

    fn sends(poll: SyncPoll) -> Vec<NoteDelivery> {
        match poll {
            SyncPoll::Send(d) => d,
            other => panic!("expected deliveries, got {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_reproducible_jitter() {
        let policy = RetryPolicy { first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(60) };
        let mut a = Outbox::new(policy, 7);
        let mut b = Outbox::new(policy, 7);
        for attempts in 1..=12u32 {
            let full = Duration::from_secs(1 << (attempts - 1).min(6)).min(policy.max_delay);
            let d = a.backoff(attempts);
            assert!(d >= full / 2 && d <= full, "attempt {attempts}: {d:?} not in [{:?}, {full:?}]", full / 2);
            assert_eq!(d, b.backoff(attempts), "the same seed gives the same jitter");
        }
        let mut c = Outbox::new(policy, 8);
        let spread: Vec<_> = (0..8).map(|_| c.backoff(10)).collect();
        assert!(spread.windows(2).any(|w| w[0] != w[1]), "jitter spreads retries: {spread:?}");
    }

    #[test]
    fn revisions_of_one_note_are_sent_in_order_one_at_a_time() {
        let (_dir, store) = plaintext_store();
        let id = store.create_note(&NewNote::default(), t(0)).expect("create");
        for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
            store.save_note(id, text, t(i64::try_from(i).expect("small"))).expect("save");
        }
        let mut outbox = Outbox::new(RetryPolicy::default(), 1);
        let mut seen = Vec::new();
        let mut version = 0;
        loop {
            let batch = match outbox.poll(&store, t(100)).expect("poll") {
                SyncPoll::Send(batch) => batch,
                SyncPoll::Idle => break,
                other => panic!("nothing waits in this test: {other:?}"),
            };
            assert_eq!(batch.len(), 1, "one note: one delivery at a time");
            let d = &batch[0];
            assert_eq!(store.sync_state(id).expect("state"), SyncState::Syncing);
            match (&d.target, version) {
                (DeliveryTarget::Create, 0) => {}
                (DeliveryTarget::Update { base_version, .. }, v) => assert_eq!(base_version, &format!("v{v}")),
                other => panic!("unexpected target {other:?}"),
            }
            version += 1;
            outbox.handle(&store, d, &remote(d, &format!("v{version}")), t(100)).expect("handle");
            seen.push((d.write.revision, d.write.idempotency_key.clone()));
        }
        let note = store.note(id).expect("note");
        assert_eq!(seen, (1..=3).map(|r| (r, format!("{}/r{r}", note.uid))).collect::<Vec<_>>());
        assert_eq!(note.synced_revision, 3);
        assert_eq!(store.sync_state(id).expect("state"), SyncState::Synced);
        assert_eq!(store.prune_outbox(t(50)).expect("prune"), 0, "entries settled at t=100 are younger");
        assert_eq!(store.prune_outbox(t(101)).expect("prune"), 3);
        assert_eq!(store.sync_state(id).expect("state"), SyncState::Synced, "pruning does not change the state");
    }

    #[test]
    fn transient_failures_wait_and_permanent_ones_fail_with_the_reason() {
        let (_dir, store) = plaintext_store();
        let a = store.create_note(&NewNote::default(), t(0)).expect("create");
        let b = store.create_note(&NewNote::default(), t(0)).expect("create");
        store.save_note(a, "a", t(0)).expect("save");
        store.save_note(b, "b", t(0)).expect("save");
        assert_eq!(store.sync_state(a).expect("state"), SyncState::SavedLocally);
        let mut outbox = Outbox::new(RetryPolicy::default(), 1);
        let batch = sends(outbox.poll(&store, t(0)).expect("poll"));
        assert_eq!(batch.len(), 2, "different notes go together");
        let offline = Err(ConnectorError::Unreachable("connection refused".into()));
        let refused = Err(ConnectorError::Rejected { status: 422, reason: "body too long".into() });
        assert_eq!(outbox.handle(&store, &batch[0], &offline, t(0)).expect("handle"), SyncState::Offline);
        let failed = outbox.handle(&store, &batch[1], &refused, t(0)).expect("handle");
        assert!(matches!(&failed, SyncState::Failed(reason) if reason.contains("body too long")), "{failed:?}");
        let SyncPoll::WaitUntil(at) = outbox.poll(&store, t(0)).expect("poll") else { panic!("a retry is due later") };
        assert!(at >= t(500) && at <= t(1_000), "first retry after 0.5 to 1 s: {at:?}");
        assert_eq!(sends(outbox.poll(&store, at).expect("poll")).len(), 1);
        store.retry_failed(b, at).expect("retry");
        assert_eq!(store.sync_state(b).expect("state"), SyncState::SavedLocally);
    }

    #[test]
    fn a_conflict_keeps_both_versions_and_holds_later_revisions() {
        let (_dir, store) = plaintext_store();
        let id = store.create_note(&NewNote::default(), t(0)).expect("create");
        store.save_note(id, "ours 1", t(0)).expect("save");
        let mut outbox = Outbox::new(RetryPolicy::default(), 1);
        let d = sends(outbox.poll(&store, t(1)).expect("poll")).remove(0);
        outbox.handle(&store, &d, &remote(&d, "v1"), t(1)).expect("handle");
        store.save_note(id, "ours 2", t(2)).expect("save");
        store.save_note(id, "ours 3", t(3)).expect("save");
        let d = sends(outbox.poll(&store, t(4)).expect("poll")).remove(0);
        let theirs = RemoteNote { server_id: "srv-1".into(), version: "v7".into(), body: "theirs".into() };
        let state = outbox.handle(&store, &d, &Err(ConnectorError::Conflict(theirs)), t(4)).expect("handle");
        assert_eq!(state, SyncState::Conflict);
        assert_eq!(outbox.poll(&store, t(5)).expect("poll"), SyncPoll::Idle, "nothing is sent over a conflict");
        let conflicts = store.conflicts(id).expect("conflicts");
        assert_eq!(
            (conflicts[0].local_body.as_str(), conflicts[0].server_body.as_str()),
            ("ours 2", "theirs"),
            "both versions are kept"
        );
        assert_eq!(store.note(id).expect("note").body, "ours 3", "the local text is never overwritten");
        let revision = store.resolve_conflict(id, "ours 3 + theirs", t(6)).expect("resolve");
        assert_eq!(revision, 4);
        let d = sends(outbox.poll(&store, t(7)).expect("poll")).remove(0);
        assert_eq!(d.write.body, "ours 3 + theirs");
        assert!(matches!(&d.target, DeliveryTarget::Update { base_version, .. } if base_version == "v7"));
        outbox.handle(&store, &d, &remote(&d, "v8"), t(7)).expect("handle");
        assert_eq!(store.sync_state(id).expect("state"), SyncState::Synced);
        assert!(store.conflicts(id).expect("conflicts").is_empty());
    }
}
