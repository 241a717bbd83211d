//! Local storage for Warmline: notes, customer context, call history, sync.
//!
//! One SQLite file in the platform's data directory, encrypted at rest with
//! a key held in the OS keyring, written with WAL and `synchronous=FULL` so a
//! save is acknowledged only when it is durable. An outbox with idempotency
//! keys carries notes to the CRM exactly once when the network allows.
#![deny(missing_docs)]

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database key could not be read from or written to the keyring.
    #[error(transparent)]
    Keyring(#[from] warmline_secrets::Error),
}

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
