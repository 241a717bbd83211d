//! Sync with the CRM: what a connector must do, the REST connector, and
//! the thin async runner that drives the [`crate::Outbox`].

pub mod rest;
mod runner;

use std::future::Future;

use crate::clock::Timestamp;
use crate::customers::{CustomerKey, CustomerRecord};
use crate::notes::NoteId;

pub use runner::{Clock, SyncRound, SystemClock, refresh_customer, restore_from_server, sync_forever, sync_until_idle};

/// One note revision to write to the CRM, as the outbox hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteDelivery {
    /// The outbox entry.
    pub op_id: i64,
    /// The local note.
    pub note_id: NoteId,
    /// What to write.
    pub write: NoteWrite,
    /// Create it, or update the CRM's copy.
    pub target: DeliveryTarget,
}

/// Whether a delivery creates the CRM's note or updates it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryTarget {
    /// The CRM has no copy yet.
    Create,
    /// The CRM has `server_id`; this copy is based on its `base_version`.
    Update {
        /// The CRM's id of the note.
        server_id: String,
        /// The CRM version this edit was made on; the CRM must refuse the
        /// update (a conflict) if its copy is no longer at this version.
        base_version: String,
    },
}

/// The content of a note write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteWrite {
    /// Sent as the `Idempotency-Key`: the same key must never take effect twice.
    pub idempotency_key: String,
    /// The note's globally unique client id.
    pub client_uid: String,
    /// The local revision number.
    pub revision: i64,
    /// The text.
    pub body: String,
    /// The call it belongs to.
    pub call_uid: Option<String>,
    /// The customer it is about.
    pub customer_ref: Option<String>,
}

/// The CRM's copy of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNote {
    /// The CRM's id.
    pub server_id: String,
    /// The CRM's version (an ETag, a revision number, a modification time).
    pub version: String,
    /// The text as the CRM has it.
    pub body: String,
}

/// A note as the CRM holds it, with what ties it to the local note it
/// was written from ([`Connector::list_notes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNote {
    /// The CRM's id, version and current text.
    pub remote: RemoteNote,
    /// The client id ([`NoteWrite::client_uid`]) it was written with;
    /// `None` for a note made in the CRM itself.
    pub client_uid: Option<String>,
    /// The local revision of the last write the CRM accepted (0: unknown).
    /// With `client_uid` it gives the idempotency key of that write.
    pub revision: i64,
    /// The call it belongs to.
    pub call_uid: Option<String>,
    /// The customer it is about.
    pub customer_ref: Option<String>,
}

impl ServerNote {
    /// The idempotency key of the last write the CRM accepted, if it came from Warmline.
    pub fn idempotency_key(&self) -> Option<String> {
        let uid = self.client_uid.as_ref()?;
        (self.revision > 0).then(|| format!("{uid}/r{}", self.revision))
    }
}

/// One page of [`Connector::list_notes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotePage {
    /// The notes on this page.
    pub notes: Vec<ServerNote>,
    /// Pass this as the cursor to get the next page; `None` on the last one.
    pub next: Option<String>,
}

/// Why a connector call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The CRM could not be reached (no network, refused, timed out).
    #[error("the CRM cannot be reached: {0}")]
    Unreachable(String),
    /// The CRM answered that it is busy or failing (408, 429, 5xx): retry later.
    #[error("the CRM is unavailable (HTTP {status}): {reason}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// What it said.
        reason: String,
    },
    /// The credentials were refused; retrying will not help until they are fixed.
    #[error("the CRM refused the credentials (HTTP {status}): {reason}; check the CRM token in the settings")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// What it said.
        reason: String,
    },
    /// The CRM refused this request.
    #[error("the CRM refused the request (HTTP {status}): {reason}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// What it said.
        reason: String,
    },
    /// The CRM's copy changed since ours was based on it.
    #[error("the CRM's copy of the note changed meanwhile (version {})", .0.version)]
    Conflict(RemoteNote),
    /// The CRM's answer did not match the configured mapping.
    #[error("unexpected answer from the CRM: {0}")]
    Protocol(String),
}

impl ConnectorError {
    /// Whether sending the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Unreachable(_) | ConnectorError::Unavailable { .. })
    }
}

/// A CRM, as the sync engine needs it. Implementations: [`rest::RestConnector`]
/// (any JSON-over-HTTP CRM); Dynamics 365 or Salesforce can follow.
///
/// The contract, checked by the conformance suite (feature `conformance`):
/// * `create_note` and `update_note` take effect at most once per
///   [`NoteWrite::idempotency_key`]: a repeat returns the first result.
/// * `update_note` fails with [`ConnectorError::Conflict`], carrying the
///   CRM's current copy, when that copy is not at `base_version`.
/// * `list_notes` returns every note changed at or after `since` (all notes
///   with `None`), each with the client id and revision it was written
///   with, page by page; recovery uses it to fetch back what a damaged
///   database lost.
/// * Errors are classified: transient ones are retried, others are shown.
pub trait Connector: Send + Sync {
    /// A short name for logs and the settings screen.
    fn name(&self) -> &str;

    /// The customer with this identifier, or `None` if the CRM has none.
    fn lookup(&self, key: &CustomerKey) -> impl Future<Output = Result<Option<CustomerRecord>, ConnectorError>> + Send;

    /// Creates a note.
    fn create_note(&self, write: &NoteWrite) -> impl Future<Output = Result<RemoteNote, ConnectorError>> + Send;

    /// Replaces the text of the CRM's note `server_id`, if it is still at `base_version`.
    fn update_note(
        &self,
        server_id: &str,
        base_version: &str,
        write: &NoteWrite,
    ) -> impl Future<Output = Result<RemoteNote, ConnectorError>> + Send;

    /// The notes the CRM holds that changed at or after `since` (every note
    /// with `None`), one page at a time: start with `cursor` `None`, then
    /// pass [`NotePage::next`] until it is `None`.
    fn list_notes(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<NotePage, ConnectorError>> + Send;
}

/// Sends one delivery through a connector.
pub async fn deliver<C: Connector>(connector: &C, delivery: &NoteDelivery) -> Result<RemoteNote, ConnectorError> {
    match &delivery.target {
        DeliveryTarget::Create => connector.create_note(&delivery.write).await,
        DeliveryTarget::Update { server_id, base_version } => {
            connector.update_note(server_id, base_version, &delivery.write).await
        }
    }
}
