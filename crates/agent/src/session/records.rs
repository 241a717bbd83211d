//! The session's memory: call history, dispositions, notes and the customer
//! cache in the local store, the CRM lookups behind the screen pop, and the
//! background sync that takes notes to the CRM.
//!
//! The store is optional (a session without one keeps nothing, as the
//! interop tests run), and its failures never stop a call: they are
//! reported as events and the call goes on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use warmline_store::rest::RestConnector;
use warmline_store::sync::{Connector, deliver};
use warmline_store::{
    CachedCustomer, CallStart, CustomerKey, Direction, Encryption, IntegrityCheck, NewNote, NoteId, Options, Outbox,
    PhoneNormaliser, RetryPolicy, Store, SyncPoll, SyncState, Timestamp, Transfer, TransferKind, TransferOutcome,
};

use super::writer::Writer;
use crate::view::{ContextSource, CustomerContext, Field, HistoryEntry, PastInteraction, PastNote, SyncStatus};
use crate::{AgentEvent, CallId, Error, NoteSync};

/// Where the session keeps its records.
#[derive(Clone)]
pub struct StoreSetup {
    /// The SQLite file.
    pub path: PathBuf,
    /// Its key (from the keyring) or plaintext (tests and tools).
    pub encryption: Encryption,
}

impl std::fmt::Debug for StoreSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSetup").field("path", &self.path).finish_non_exhaustive()
    }
}

/// A CRM lookup's answer, back to the session task.
pub(super) struct Lookup {
    pub call: CallId,
    pub customer: Option<CachedCustomer>,
    pub failed: Option<String>,
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn store_err(e: warmline_store::Error) -> Error {
    match e {
        warmline_store::Error::DiskFull => Error::DiskFull,
        other => Error::Store(other.to_string()),
    }
}

/// The store and the CRM, as the session task uses them.
pub(super) struct Records {
    store: Option<Arc<Store>>,
    /// Every write, off the session task.
    writer: Option<Writer>,
    crm: Option<RestConnector>,
    phones: PhoneNormaliser,
    /// Wakes the sync worker after a save.
    saved: Arc<Notify>,
    /// Tells the sync worker the session is over.
    stop: Arc<std::sync::atomic::AtomicBool>,
    lookups: mpsc::UnboundedSender<Lookup>,
}

impl Records {
    /// Opens the store and starts the sync worker. Returns the lookups'
    /// receiver for the session loop.
    pub fn open(
        setup: Option<&StoreSetup>,
        crm: Option<RestConnector>,
        country_code: u16,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<(Records, mpsc::UnboundedReceiver<Lookup>), Error> {
        let (lookups, lookup_rx) = mpsc::unbounded_channel();
        let saved = Arc::new(Notify::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let store = match setup {
            Some(s) => Some(Arc::new(open_store(s)?)),
            None => None,
        };
        if let (Some(store), Some(crm)) = (&store, crm.clone()) {
            tokio::spawn(sync_loop(Arc::clone(store), crm, Arc::clone(&saved), Arc::clone(&stop), events.clone()));
        }
        let local_only = crm.is_none();
        let writer = match &store {
            Some(store) => Some(Writer::start(Arc::clone(store), events.clone())?),
            None => None,
        };
        let records = Records { store, writer, crm, phones: PhoneNormaliser::new(country_code), saved, stop, lookups };
        // With a CRM the sync worker reports; without one, say so here.
        if local_only && let Some(status) = records.sync_status(true) {
            let _ = events.send(AgentEvent::Sync { sync: status });
        }
        Ok((records, lookup_rx))
    }

    fn sync_status(&self, local_only: bool) -> Option<SyncStatus> {
        let store = self.store.as_ref()?;
        let (pending, conflicts) = outbox_counts(store);
        Some(SyncStatus { pending, conflicts, offline: false, local_only })
    }

    /// The caller's number as E.164, or as it came.
    pub fn normalise(&self, raw: &str) -> String {
        let user = raw.split('@').next().unwrap_or(raw);
        self.phones.normalise(user).map(|e| e.as_str().to_owned()).unwrap_or_else(|| raw.to_owned())
    }

    /// A new call into the history.
    pub fn call_started(&self, start: CallStart) {
        if let Some(w) = &self.writer {
            w.record("call started", move |s| s.record_call_started(&start));
        }
    }

    pub fn call_answered(&self, uid: &str) {
        let (uid, at) = (uid.to_owned(), now());
        if let Some(w) = &self.writer {
            w.record("call answered", move |s| s.record_call_answered(&uid, at));
        }
    }

    pub fn call_ended(&self, uid: &str) {
        let (uid, at) = (uid.to_owned(), now());
        if let Some(w) = &self.writer {
            w.record("call ended", move |s| s.record_call_ended(&uid, at, None));
        }
    }

    pub fn quality(&self, uid: &str, mos: f64, loss_percent: f64, jitter_ms: f64) {
        let uid = uid.to_owned();
        if let Some(w) = &self.writer {
            w.record("call quality", move |s| {
                s.record_call_quality(&uid, warmline_store::QualitySummary { mos, loss_percent, jitter_ms })
            });
        }
    }

    pub fn transfer(&self, uid: &str, target: &str, warm: bool, outcome: TransferOutcome, reason: Option<String>) {
        let t = Transfer {
            at: now(),
            target: target.to_owned(),
            target_display: None,
            kind: if warm { TransferKind::Warm } else { TransferKind::Blind },
            outcome,
            reason,
        };
        let uid = uid.to_owned();
        if let Some(w) = &self.writer {
            w.record("transfer", move |s| s.record_transfer(&uid, &t).map(|_| ()));
        }
    }

    /// Records a disposition; the answer says whether it was saved.
    pub fn disposition(&self, uid: &str, code: &str) -> Stored<()> {
        let (uid, code) = (uid.to_owned(), code.to_owned());
        self.stored("wrap-up records", move |store| store.record_disposition(&uid, &code).map_err(store_err))
    }

    /// Saves a note: a new one, or a new revision of `note`. The store
    /// commits and queues it for the CRM in one transaction; the answer is
    /// the note's id once it is durable.
    pub fn save_note(
        &self,
        note: Option<&str>,
        text: &str,
        call_uid: Option<&str>,
        customer: Option<&str>,
    ) -> Stored<String> {
        let note = match note.map(|n| n.parse::<i64>().map(NoteId)) {
            Some(Err(_)) => return Stored::failed(Error::Invalid(format!("no note {}", note.unwrap_or_default()))),
            Some(Ok(id)) => Some(id),
            None => None,
        };
        let new = NewNote {
            call_uid: call_uid.map(str::to_owned),
            customer_ref: customer.map(str::to_owned),
            body: String::new(),
        };
        let (text, saved) = (text.to_owned(), Arc::clone(&self.saved));
        self.stored("notes", move |store| {
            let id = match note {
                Some(id) => id,
                None => store.create_note(&new, now()).map_err(store_err)?,
            };
            store.save_note(id, &text, now()).map_err(store_err)?;
            saved.notify_one();
            Ok(id.0.to_string())
        })
    }

    /// `f` on the store's writer, or `what` is not available without a store.
    fn stored<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<T, Error> + Send + 'static,
    ) -> Stored<T> {
        match &self.writer {
            Some(w) => Stored(w.ask(f)),
            None => Stored::failed(Error::NotAvailable(match what {
                "notes" => "notes without a local store",
                "history" => "call history without a local store",
                _ => "wrap-up records without a local store",
            })),
        }
    }

    /// The screen pop from the cache, and a CRM lookup started in the
    /// background when a CRM is configured.
    pub fn context(&self, call: &CallId, phone: &str, queue: Option<String>, case: Option<String>) -> CustomerContext {
        let Some(key) = self.phones.normalise(phone).map(CustomerKey::Phone) else {
            // Not a phone number (a SIP address): nothing to look up.
            return self.build_context(phone, None, false, ContextSource::Unknown, queue, case);
        };
        let cached = self.store.as_ref().and_then(|s| s.customer(&key).ok().flatten());
        let loading = self.crm.is_some();
        if let Some(crm) = self.crm.clone() {
            let (tx, call, key) = (self.lookups.clone(), call.clone(), key.clone());
            tokio::spawn(async move {
                let answer = crm.lookup(&key).await;
                let lookup = match answer {
                    Ok(record) => Lookup {
                        call,
                        customer: record.map(|r| CachedCustomer {
                            id: warmline_store::CustomerId(0),
                            record: r,
                            fetched_at: now(),
                        }),
                        failed: None,
                    },
                    Err(e) => Lookup { call, customer: None, failed: Some(e.to_string()) },
                };
                let _ = tx.send(lookup);
            });
        }
        let source = if cached.is_some() { ContextSource::Cache } else { ContextSource::Unknown };
        self.build_context(phone, cached.as_ref(), loading, source, queue, case)
    }

    /// The CRM answered: cache it and build the full context.
    pub fn looked_up(
        &self,
        phone: &str,
        customer: Option<CachedCustomer>,
        queue: Option<String>,
        case: Option<String>,
    ) -> CustomerContext {
        let cached = match (customer, &self.store) {
            (Some(c), Some(store)) => {
                let mut record = c.record;
                if let Some(key) = self.phones.normalise(phone).map(CustomerKey::Phone)
                    && !record.keys.contains(&key)
                {
                    record.keys.push(key);
                }
                match store.cache_customer(&record, now()).and_then(|id| store.customer_by_id(id)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!("customer cache: {e}");
                        Some(CachedCustomer { id: warmline_store::CustomerId(0), record, fetched_at: now() })
                    }
                }
            }
            (c, _) => c,
        };
        let source = if cached.is_some() { ContextSource::Crm } else { ContextSource::Unknown };
        self.build_context(phone, cached.as_ref(), false, source, queue, case)
    }

    fn build_context(
        &self,
        phone: &str,
        cached: Option<&CachedCustomer>,
        loading: bool,
        source: ContextSource,
        queue: Option<String>,
        case: Option<String>,
    ) -> CustomerContext {
        let notes = self
            .store
            .as_ref()
            .and_then(|s| s.notes_for_customer(phone).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !n.body.is_empty())
            .map(|n| PastNote { note: n.id.0.to_string(), at_ms: n.updated_at.millis() as f64, text: n.body })
            .collect();
        let (name, crm_id, fields, interactions) = match cached {
            Some(c) => (
                Some(c.record.display_name.clone()).filter(|n| !n.is_empty()),
                c.record.crm_id.clone(),
                fields_of(&c.record.fields),
                c.record
                    .interactions
                    .iter()
                    .map(|i| PastInteraction {
                        at_ms: i.at.millis() as f64,
                        channel: i.channel.clone(),
                        summary: i.summary.clone(),
                    })
                    .collect(),
            ),
            None => (None, None, Vec::new(), Vec::new()),
        };
        CustomerContext {
            phone: phone.to_owned(),
            name,
            crm_id,
            loading,
            source,
            fields,
            interactions,
            notes,
            queue,
            case,
        }
    }

    /// Calls, newest first, whose number, name or notes match `query`
    /// (read after every write queued before it).
    pub fn history(&self, query: &str) -> Stored<Vec<HistoryEntry>> {
        let query = query.to_owned();
        self.stored("history", move |store| history(store, &query))
    }
}

/// The answer of a store operation that runs on the writer.
pub(super) struct Stored<T>(tokio::sync::oneshot::Receiver<Result<T, Error>>);

impl<T> Stored<T> {
    fn failed(e: Error) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(Err(e));
        Stored(rx)
    }

    /// Waits for the answer.
    pub async fn answer(self) -> Result<T, Error> {
        self.0.await.unwrap_or_else(|_| Err(Error::Store("the store's writer has stopped".into())))
    }
}

fn history(store: &Store, query: &str) -> Result<Vec<HistoryEntry>, Error> {
    {
        let calls = store.recent_calls(None, 200).map_err(store_err)?;
        let q = query.trim().to_lowercase();
        let mut out = Vec::new();
        for c in calls {
            let notes: Vec<String> = store
                .notes_for_call(&c.start.call_uid)
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.body)
                .filter(|b| !b.is_empty())
                .collect();
            let notes = notes.join("\n");
            let entry = HistoryEntry {
                call: c.start.call_uid.clone(),
                direction: match c.start.direction {
                    Direction::Inbound => "inbound".to_owned(),
                    _ => "outbound".to_owned(),
                },
                party: c.start.remote_party.clone(),
                name: c.start.remote_display.clone(),
                queue: c.start.queue.clone(),
                case: c.start.case_id.clone(),
                consult_for: c.start.consult_for.clone(),
                started_ms: c.start.started_at.millis() as f64,
                answered: c.answered_at.is_some(),
                duration_s: match (c.answered_at, c.ended_at) {
                    (Some(a), Some(e)) => e.since(a).as_secs() as u32,
                    _ => 0,
                },
                disposition: c.disposition.clone(),
                transferred_to: c
                    .transfers
                    .iter()
                    .rev()
                    .find(|t| t.outcome == TransferOutcome::Completed)
                    .map(|t| t.target.clone()),
                notes,
            };
            let hay = format!(
                "{} {} {} {}",
                entry.party,
                entry.name.as_deref().unwrap_or(""),
                entry.disposition.as_deref().unwrap_or(""),
                entry.notes
            )
            .to_lowercase();
            if q.is_empty() || hay.contains(&q) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

fn fields_of(fields: &serde_json::Value) -> Vec<Field> {
    let Some(map) = fields.as_object() else { return Vec::new() };
    map.iter()
        .map(|(k, v)| Field {
            label: k.clone(),
            value: match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            },
        })
        .collect()
}

fn open_store(setup: &StoreSetup) -> Result<Store, Error> {
    let options = Options { integrity: IntegrityCheck::Deferred, ..Options::default() };
    let opened = Store::open_with(&setup.path, setup.encryption.clone(), &options, now()).map_err(store_err)?;
    if let Some(report) = &opened.recovery {
        tracing::warn!("the local database was damaged and moved aside: {}", report.message());
    }
    Ok(opened.store)
}

fn outbox_counts(store: &Store) -> (u32, u32) {
    store.sync_summary().unwrap_or_else(|e| {
        tracing::warn!("note sync: {e}");
        (0, 0)
    })
}

fn note_sync(state: &SyncState) -> (NoteSync, Option<String>) {
    match state {
        SyncState::SavedLocally => (NoteSync::SavedLocally, None),
        SyncState::Syncing => (NoteSync::Syncing, None),
        SyncState::Synced => (NoteSync::Synced, None),
        SyncState::Offline => (NoteSync::Offline, None),
        SyncState::Conflict => (NoteSync::Conflict, None),
        SyncState::Failed(why) => (NoteSync::Failed, Some(why.clone())),
        _ => (NoteSync::SavedLocally, None),
    }
}

/// The sync worker: sends what the outbox hands out, waits out backoffs
/// or the next save, and reports each note's state as it moves.
async fn sync_loop(
    store: Arc<Store>,
    crm: RestConnector,
    saved: Arc<Notify>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    events: mpsc::UnboundedSender<AgentEvent>,
) {
    let mut outbox = Outbox::new(RetryPolicy::default(), u64::from(std::process::id()));
    let mut offline = false;
    let report = |store: &Store, offline: bool| {
        let (pending, conflicts) = outbox_counts(store);
        events.send(AgentEvent::Sync { sync: SyncStatus { pending, conflicts, offline, local_only: false } }).is_ok()
    };
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let poll = match outbox.poll(&store, now()) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("note sync: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        match poll {
            SyncPoll::Send(deliveries) => {
                for d in deliveries {
                    // The store's call id is `<session>-<call>`; the front
                    // ends know the call by its session name.
                    let call = d.write.call_uid.as_deref().and_then(|u| u.rsplit_once('-')).map(|(_, c)| c.to_owned());
                    let _ = events.send(AgentEvent::NoteSaved {
                        note: d.note_id.0.to_string(),
                        call: call.clone(),
                        sync: NoteSync::Syncing,
                        reason: None,
                    });
                    let outcome = deliver(&crm, &d).await;
                    offline = outcome.as_ref().is_err_and(|e| e.is_transient());
                    let state = match outbox.handle(&store, &d, &outcome, now()) {
                        Ok(s) => s,
                        Err(e) => SyncState::Failed(e.to_string()),
                    };
                    let (sync, reason) = note_sync(&state);
                    let reason = reason.or_else(|| outcome.as_ref().err().map(|e| e.to_string()));
                    let _ = events.send(AgentEvent::NoteSaved { note: d.note_id.0.to_string(), call, sync, reason });
                }
                if !report(&store, offline) {
                    return;
                }
            }
            SyncPoll::WaitUntil(at) => {
                let wait =
                    Duration::from_millis(u64::try_from(at.millis().saturating_sub(now().millis())).unwrap_or(0));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = saved.notified() => {}
                }
            }
            _ => {
                if !report(&store, false) {
                    return;
                }
                saved.notified().await;
            }
        }
        if events.is_closed() || stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.saved.notify_one();
    }
}
