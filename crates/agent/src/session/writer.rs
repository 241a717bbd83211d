//! The store's writer: one thread that runs every write (and the reads
//! that must see them) in order, so that a slow or full disk under
//! `synchronous=FULL` never delays the call-control task, SIP or audio.
//! Writes whose outcome the agent must know (a note, a disposition) hand
//! back a receiver; history writes report failures in the log, and a full
//! disk as an error event.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::{mpsc, oneshot};
use warmline_store::Store;

use crate::{AgentEvent, Error, ErrorPayload};

type Job = Box<dyn FnOnce(&Store) + Send>;

/// The handle of the writer thread; dropping the last one ends it.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: std_mpsc::Sender<Job>,
    events: mpsc::UnboundedSender<AgentEvent>,
}

impl Writer {
    /// Starts the thread that owns the writes to `store`.
    pub fn start(store: Arc<Store>, events: mpsc::UnboundedSender<AgentEvent>) -> Result<Self, Error> {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("warmline-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&store);
                }
            })
            .map_err(|e| Error::Store(format!("could not start the store's writer: {e}")))?;
        Ok(Writer { jobs, events })
    }

    /// A history write: its failure is logged, a full disk told to the agent.
    pub fn record(
        &self,
        what: &'static str,
        write: impl FnOnce(&Store) -> Result<(), warmline_store::Error> + Send + 'static,
    ) {
        let events = self.events.clone();
        let job: Job = Box::new(move |store| {
            if let Err(e) = write(store) {
                tracing::warn!("history ({what}): {e}");
                if matches!(e, warmline_store::Error::DiskFull) {
                    let error = Error::DiskFull;
                    let _ =
                        events.send(AgentEvent::Error(ErrorPayload { code: error.code(), message: error.to_string() }));
                }
            }
        });
        if self.jobs.send(job).is_err() {
            tracing::warn!("history ({what}): the store's writer has stopped");
        }
    }

    /// Runs `f` on the writer, after every write queued before it; its
    /// answer comes back on the receiver.
    pub fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, Error> + Send + 'static,
    ) -> oneshot::Receiver<Result<T, Error>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = tx.send(f(store));
        });
        if let Err(std_mpsc::SendError(job)) = self.jobs.send(job) {
            drop(job); // its sender goes with it: the receiver sees the writer gone
        }
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_run_in_order_off_the_caller_and_answers_come_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_with(
            &dir.path().join("w.db"),
            warmline_store::Encryption::Plaintext,
            &warmline_store::Options::default(),
            warmline_store::Timestamp::now(),
        )
        .expect("store")
        .store;
        let (events, _rx) = mpsc::unbounded_channel();
        let writer = Writer::start(Arc::new(store), events).expect("writer");
        let caller = std::thread::current().id();
        let on = writer.ask(move |_| Ok(std::thread::current().id()));
        assert_ne!(on.await.expect("answered").expect("ok"), caller, "the store is written on its own thread");
        let start = warmline_store::CallStart {
            call_uid: "u1".into(),
            direction: warmline_store::Direction::Inbound,
            local_party: "sip:a@x".into(),
            remote_party: "+15550100".into(),
            remote_display: None,
            started_at: warmline_store::Timestamp::now(),
            queue: None,
            case_id: None,
            consult_for: None,
        };
        writer.record("started", move |s| s.record_call_started(&start));
        let seen = writer.ask(|s| s.recent_calls(None, 10).map_err(|e| Error::Store(e.to_string())));
        let calls = seen.await.expect("answered").expect("read");
        assert_eq!(calls.len(), 1, "a read after a write sees it");
    }
}
