//! Local storage for Warmline: notes, customer context, call history, sync.
//!
//! Agents type notes while they talk, and those notes must survive a crash,
//! a closed laptop, a dead Wi-Fi or a CRM outage, then reach the CRM exactly
//! once. This crate is where that promise is kept.
//!
//! # A tour
//!
//! ```
//! use std::time::Duration;
//! use warmline_store::{
//!     DraftDebouncer, IntegrityCheck, NewNote, Options, Outbox, RetryPolicy, Store, SyncPoll, SyncState, Timestamp,
//! };
//! # let keyring = warmline_secrets::Keyring::with_store(keyring_core::mock::Store::new()?, "mock");
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("warmline.db");
//! let t = Timestamp::from_millis;
//!
//! // Open (or create) the encrypted database; its key lives in the OS keyring.
//! // The full integrity check runs after start-up, off the critical path.
//! let options = Options { integrity: IntegrityCheck::Deferred, ..Options::default() };
//! let opened = Store::open(&path, &keyring, &options, t(0))?;
//! if let Some(report) = &opened.recovery {
//!     eprintln!("{}", report.message()); // a damaged file was moved aside
//! }
//! let mut store = opened.store;
//! let problems = store.check_integrity()?; // in a background task in the app
//! if !problems.is_empty() {
//!     store = store.recover(&problems.join("; "), t(0))?.store;
//! }
//!
//! // While the agent types, a debouncer decides when to write the draft.
//! let note = store.create_note(&NewNote { call_uid: Some("call-1".into()), ..NewNote::default() }, t(0))?;
//! let mut debouncer = DraftDebouncer::new(Duration::from_millis(500), Duration::from_secs(5));
//! debouncer.edited(t(100));
//! if debouncer.poll(t(600)) {
//!     store.save_draft(note, "Customer reports no dial tone", t(600))?;
//! }
//!
//! // Saving commits a revision and queues it for the CRM in one durable transaction.
//! store.save_note(note, "Customer reports no dial tone; line test booked", t(900))?;
//! assert_eq!(store.sync_state(note)?, SyncState::SavedLocally);
//!
//! // The outbox says what to send and when; a runner (`sync_forever`) does the HTTP.
//! let mut outbox = Outbox::new(RetryPolicy::default(), 42);
//! assert!(matches!(outbox.poll(&store, t(1_000))?, SyncPoll::Send(ref d) if d.len() == 1));
//! assert_eq!(store.sync_state(note)?, SyncState::Syncing);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why it is built this way
//!
//! * **Durable before acknowledged.** SQLite in WAL mode with
//!   `synchronous=FULL`: every save is one transaction that returns only after
//!   the write-ahead log is on disk, so a power cut or `SIGKILL` after the
//!   call returns cannot lose it (the crash test kills a writer 50 times).
//! * **Encrypted at rest, key in the keyring.** SQLCipher with a raw random
//!   32-byte key from `warmline-secrets`, so opening needs no slow key
//!   derivation. No keyring, no database: the store fails closed rather than
//!   writing customer data in the clear. The file, its -wal and -shm are 0600.
//! * **Never modify what we do not understand.** Schema versions live in
//!   `PRAGMA user_version`; older files are migrated step by step, a file
//!   from a newer release is refused before anything writes to it.
//! * **Damage is survivable.** SQLCipher authenticates every page it reads,
//!   and a full integrity check runs at open or, to open 100,000 notes in
//!   milliseconds, right after it on a second connection. An unreadable file
//!   is moved aside (never deleted), a fresh one started, readable rows copied
//!   over (revisions whose outbox entry was lost are queued again under the
//!   same idempotency key), and the caller gets a [`RecoveryReport`] to show.
//!   Then [`sync::restore_from_server`] fetches back from the CRM
//!   ([`sync::Connector::list_notes`]) every note the salvage could not
//!   read, marked synced, never replacing a newer local revision.
//! * **Sans-IO sync.** The [`Outbox`] is a scheduler over a table: it never
//!   reads the clock or opens a socket. Retries use exponential backoff with
//!   seeded jitter computed from the `now` it is given, so an hour-long outage
//!   is tested in milliseconds. Each revision carries an idempotency key
//!   derived from the note and revision, so a retry after a lost response
//!   never creates a second copy, and a note's revisions go in order.
//! * **Never overwrite silently.** An update carries the CRM version it was
//!   based on; if the CRM's copy moved on, both texts are kept as a
//!   [`NoteConflict`] for the agent to settle.
//! * **One connector trait.** [`sync::Connector`] has a generic REST
//!   implementation ([`rest::RestConnector`]); the `conformance` feature
//!   exposes the contract as a suite any CRM endpoint can be run against.
#![deny(missing_docs)]

mod calls;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod customers;
mod db;
mod draft;
mod error;
mod notes;
mod outbox;
mod phone;
mod recovery;
pub mod schema;
pub mod sync;

pub use calls::{CallRecord, CallStart, Direction, QualitySummary, Transfer, TransferKind, TransferOutcome};
pub use clock::Timestamp;
pub use customers::{CachedCustomer, CustomerId, CustomerKey, CustomerRecord, Freshness, Interaction};
pub use db::{
    Durability, Encryption, IntegrityCheck, Opened, Options, Store, database_key, database_key_name, default_path,
};
pub use draft::DraftDebouncer;
pub use error::{Error, Result};
pub use notes::{NewNote, Note, NoteId, NoteRevision, SEARCH_WINDOW, SearchHit, SearchTarget};
pub use outbox::{NoteConflict, Outbox, RetryPolicy, SyncPoll, SyncState};
pub use phone::{E164, PhoneNormaliser};
pub use recovery::{RecoveryReport, ServerRestore};
pub use sync::rest;

#[cfg(test)]
mod test_support {
    use warmline_secrets::Keyring;

    use crate::{Encryption, Options, Store, Timestamp};

    /// keyring-core's in-memory store.
    pub fn mock_keyring() -> Keyring {
        Keyring::with_store(keyring_core::mock::Store::new().expect("mock store"), "mock")
    }

    /// A fresh plaintext store in a temporary directory (unit tests; the
    /// encrypted path is tested in `db` and the integration tests).
    pub fn plaintext_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let opened = Store::open_with(
            &dir.path().join("t.db"),
            Encryption::Plaintext,
            &Options::default(),
            Timestamp::from_millis(0),
        )
        .expect("open");
        (dir, opened.store)
    }
}
