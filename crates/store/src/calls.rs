//! Call history: who called whom, when it was answered and ended, where it
//! was transferred, how it was closed, and how it sounded.

use rusqlite::{OptionalExtension, Row, params};

use crate::clock::Timestamp;
use crate::db::Store;
use crate::error::{Error, Result};

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// The customer called in.
    Inbound,
    /// The agent called out.
    Outbound,
}

/// How a transfer was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferKind {
    /// After a consult call with the target.
    Warm,
    /// Straight away.
    Blind,
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferOutcome {
    /// Still under way.
    Pending,
    /// The customer is with the target.
    Completed,
    /// The target did not take it; the customer came back.
    Failed,
    /// The agent gave up on it.
    Cancelled,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            fn as_text(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            fn from_text(text: &str) -> rusqlite::Result<Self> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        format!("unknown {} {other:?}", stringify!($ty)).into(),
                    )),
                }
            }
        }
    };
}

text_enum!(Direction { Inbound => "inbound", Outbound => "outbound" });
text_enum!(TransferKind { Warm => "warm", Blind => "blind" });
text_enum!(TransferOutcome { Pending => "pending", Completed => "completed", Failed => "failed", Cancelled => "cancelled" });

/// A call as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStart {
    /// The call's unique id (the SIP Call-ID or the agent's call id).
    pub call_uid: String,
    /// Which way it went.
    pub direction: Direction,
    /// The agent's side (AOR or extension).
    pub local_party: String,
    /// The other side (an E.164 number where known).
    pub remote_party: String,
    /// The other side's display name, if sent.
    pub remote_display: Option<String>,
    /// When it started ringing.
    pub started_at: Timestamp,
    /// The queue the contact center routed it from.
    pub queue: Option<String>,
    /// The case id the contact center gave it.
    pub case_id: Option<String>,
    /// For a warm transfer's consult call: the `call_uid` of the customer
    /// call it was made for.
    pub consult_for: Option<String>,
}

/// A transfer of a call to someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// When it was started.
    pub at: Timestamp,
    /// To whom (a SIP URI or number).
    pub target: String,
    /// Their name.
    pub target_display: Option<String>,
    /// Warm or blind.
    pub kind: TransferKind,
    /// How it ended.
    pub outcome: TransferOutcome,
    /// Why it failed, if it did.
    pub reason: Option<String>,
}

/// How the call sounded, summarised when it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualitySummary {
    /// Estimated mean opinion score (1 to 5).
    pub mos: f64,
    /// Packets lost, in percent.
    pub loss_percent: f64,
    /// Mean inter-arrival jitter in milliseconds.
    pub jitter_ms: f64,
}

/// A call from the history.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// How it started.
    pub start: CallStart,
    /// When it was answered, if it was.
    pub answered_at: Option<Timestamp>,
    /// When it ended, if it has.
    pub ended_at: Option<Timestamp>,
    /// The disposition code the agent chose.
    pub disposition: Option<String>,
    /// Transfers, in order.
    pub transfers: Vec<Transfer>,
    /// The quality summary, once known.
    pub quality: Option<QualitySummary>,
}

const CALL_COLUMNS: &str = "id, call_uid, direction, local_party, remote_party, remote_display, started_at, \
     answered_at, ended_at, disposition, mos, loss_percent, jitter_ms, queue, case_id, consult_for";

impl Store {
    /// Records a new call.
    pub fn record_call_started(&self, start: &CallStart) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO calls (call_uid, direction, local_party, remote_party, remote_display, started_at,
                                    queue, case_id, consult_for)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    start.call_uid,
                    start.direction.as_text(),
                    start.local_party,
                    start.remote_party,
                    start.remote_display,
                    start.started_at,
                    start.queue,
                    start.case_id,
                    start.consult_for
                ],
            )?;
            Ok(())
        })
    }

    /// Records that the call was answered.
    pub fn record_call_answered(&self, call_uid: &str, at: Timestamp) -> Result<()> {
        self.update_call(call_uid, "answered_at = ?2", params![call_uid, at])
    }

    /// Records that the call ended, with the agent's disposition code if given.
    pub fn record_call_ended(&self, call_uid: &str, at: Timestamp, disposition: Option<&str>) -> Result<()> {
        self.update_call(
            call_uid,
            "ended_at = ?2, disposition = coalesce(?3, disposition)",
            params![call_uid, at, disposition],
        )
    }

    /// Sets the disposition code (agents often pick it after hanging up).
    pub fn record_disposition(&self, call_uid: &str, disposition: &str) -> Result<()> {
        self.update_call(call_uid, "disposition = ?2", params![call_uid, disposition])
    }

    /// Records the call's quality summary.
    pub fn record_call_quality(&self, call_uid: &str, q: QualitySummary) -> Result<()> {
        self.update_call(
            call_uid,
            "mos = ?2, loss_percent = ?3, jitter_ms = ?4",
            params![call_uid, q.mos, q.loss_percent, q.jitter_ms],
        )
    }

    fn update_call(&self, call_uid: &str, set: &str, params: &[&dyn rusqlite::ToSql]) -> Result<()> {
        self.write(|tx| {
            if tx.execute(&format!("UPDATE calls SET {set} WHERE call_uid = ?1"), params)? == 0 {
                return Err(Error::NotFound { what: "call", id: call_uid.to_string() });
            }
            Ok(())
        })
    }

    /// Records a transfer; returns its index in the call's transfers.
    pub fn record_transfer(&self, call_uid: &str, transfer: &Transfer) -> Result<usize> {
        self.write(|tx| {
            let call_id = call_id(tx, call_uid)?;
            tx.execute(
                "INSERT INTO call_transfers (call_id, at, target, target_display, kind, outcome, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    call_id,
                    transfer.at,
                    transfer.target,
                    transfer.target_display,
                    transfer.kind.as_text(),
                    transfer.outcome.as_text(),
                    transfer.reason
                ],
            )?;
            let count: i64 =
                tx.query_row("SELECT count(*) FROM call_transfers WHERE call_id = ?1", [call_id], |r| r.get(0))?;
            Ok(usize::try_from(count - 1).unwrap_or(0))
        })
    }

    /// Sets the outcome of the call's latest transfer.
    pub fn record_transfer_outcome(
        &self,
        call_uid: &str,
        outcome: TransferOutcome,
        reason: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let call_id = call_id(tx, call_uid)?;
            let changed = tx.execute(
                "UPDATE call_transfers SET outcome = ?2, reason = ?3
                 WHERE id = (SELECT max(id) FROM call_transfers WHERE call_id = ?1)",
                params![call_id, outcome.as_text(), reason],
            )?;
            if changed == 0 {
                return Err(Error::NotFound { what: "transfer of call", id: call_uid.to_string() });
            }
            Ok(())
        })
    }

    /// One call.
    pub fn call(&self, call_uid: &str) -> Result<CallRecord> {
        let conn = self.conn();
        let (id, record) = conn
            .query_row(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_uid = ?1"), [call_uid], call_from_row)
            .optional()?
            .ok_or_else(|| Error::NotFound { what: "call", id: call_uid.to_string() })?;
        with_transfers(&conn, id, record)
    }

    /// The latest calls, newest first; with `remote_party`, only calls with that party.
    pub fn recent_calls(&self, remote_party: Option<&str>, limit: usize) -> Result<Vec<CallRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE ?1 IS NULL OR remote_party = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![remote_party, i64::try_from(limit).unwrap_or(i64::MAX)], call_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|(id, record)| with_transfers(&conn, id, record)).collect()
    }
}

fn call_id(conn: &rusqlite::Connection, call_uid: &str) -> Result<i64> {
    conn.query_row("SELECT id FROM calls WHERE call_uid = ?1", [call_uid], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NotFound { what: "call", id: call_uid.to_string() })
}

fn call_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, CallRecord)> {
    let mos: Option<f64> = r.get(10)?;
    let quality = mos.map(|mos| -> rusqlite::Result<QualitySummary> {
        Ok(QualitySummary {
            mos,
            loss_percent: r.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
            jitter_ms: r.get::<_, Option<f64>>(12)?.unwrap_or(0.0),
        })
    });
    Ok((
        r.get(0)?,
        CallRecord {
            start: CallStart {
                call_uid: r.get(1)?,
                direction: Direction::from_text(&r.get::<_, String>(2)?)?,
                local_party: r.get(3)?,
                remote_party: r.get(4)?,
                remote_display: r.get(5)?,
                started_at: r.get(6)?,
                queue: r.get(13)?,
                case_id: r.get(14)?,
                consult_for: r.get(15)?,
            },
            answered_at: r.get(7)?,
            ended_at: r.get(8)?,
            disposition: r.get(9)?,
            transfers: Vec::new(),
            quality: quality.transpose()?,
        },
    ))
}

fn with_transfers(conn: &rusqlite::Connection, id: i64, mut record: CallRecord) -> Result<CallRecord> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, target, target_display, kind, outcome, reason FROM call_transfers WHERE call_id = ?1 ORDER BY id",
    )?;
    record.transfers = stmt
        .query_map([id], |r| {
            Ok(Transfer {
                at: r.get(0)?,
                target: r.get(1)?,
                target_display: r.get(2)?,
                kind: TransferKind::from_text(&r.get::<_, String>(3)?)?,
                outcome: TransferOutcome::from_text(&r.get::<_, String>(4)?)?,
                reason: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::plaintext_store;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_warm_transfer_call_is_recorded_end_to_end() {
        let (_dir, store) = plaintext_store();
        let start = CallStart {
            call_uid: "a84b4c76e66710".into(),
            direction: Direction::Inbound,
            local_party: "sip:alice@sbc.example.com".into(),
            remote_party: "+442079460018".into(),
            remote_display: Some("Ada".into()),
            started_at: t(1_000),
            queue: Some("billing".into()),
            case_id: Some("CASE-1042".into()),
            consult_for: None,
        };
        store.record_call_started(&start).expect("start");
        store.record_call_answered(&start.call_uid, t(4_000)).expect("answer");
        let warm = Transfer {
            at: t(60_000),
            target: "sip:bob@contoso.com".into(),
            target_display: Some("Bob (billing)".into()),
            kind: TransferKind::Warm,
            outcome: TransferOutcome::Pending,
            reason: None,
        };
        assert_eq!(store.record_transfer(&start.call_uid, &warm).expect("transfer"), 0);
        store.record_transfer_outcome(&start.call_uid, TransferOutcome::Failed, Some("no answer")).expect("outcome");
        let blind = Transfer { kind: TransferKind::Blind, at: t(90_000), ..warm.clone() };
        assert_eq!(store.record_transfer(&start.call_uid, &blind).expect("transfer"), 1);
        store.record_transfer_outcome(&start.call_uid, TransferOutcome::Completed, None).expect("outcome");
        store.record_call_ended(&start.call_uid, t(95_000), None).expect("end");
        store.record_disposition(&start.call_uid, "billing-resolved").expect("disposition");
        let quality = QualitySummary { mos: 4.2, loss_percent: 0.3, jitter_ms: 12.0 };
        store.record_call_quality(&start.call_uid, quality).expect("quality");

        let call = store.call(&start.call_uid).expect("call");
        assert_eq!(call.start, start);
        assert_eq!((call.answered_at, call.ended_at), (Some(t(4_000)), Some(t(95_000))));
        assert_eq!(call.disposition.as_deref(), Some("billing-resolved"));
        assert_eq!(call.quality, Some(quality));
        let outcomes: Vec<_> = call.transfers.iter().map(|x| (x.kind, x.outcome, x.reason.as_deref())).collect();
        assert_eq!(
            outcomes,
            [
                (TransferKind::Warm, TransferOutcome::Failed, Some("no answer")),
                (TransferKind::Blind, TransferOutcome::Completed, None)
            ]
        );
        assert_eq!(store.recent_calls(Some("+442079460018"), 10).expect("recent").len(), 1);
        assert!(store.recent_calls(Some("+15550000000"), 10).expect("recent").is_empty());
    }

    #[test]
    fn a_consult_call_names_the_customer_call_it_was_made_for() {
        let (_dir, store) = plaintext_store();
        let consult = CallStart {
            call_uid: "consult-1".into(),
            direction: Direction::Outbound,
            local_party: "sip:alice@sbc.example.com".into(),
            remote_party: "sip:bob@contoso.com".into(),
            remote_display: None,
            started_at: t(2_000),
            queue: None,
            case_id: None,
            consult_for: Some("customer-1".into()),
        };
        store.record_call_started(&consult).expect("start");
        assert_eq!(store.call("consult-1").expect("call").start.consult_for.as_deref(), Some("customer-1"));
    }

    #[test]
    fn updating_an_unknown_call_is_not_found() {
        let (_dir, store) = plaintext_store();
        let err = store.record_call_answered("nope", t(0)).expect_err("unknown");
        assert!(matches!(err, Error::NotFound { what: "call", .. }), "{err}");
    }
}
