//! The agent session: the one API that the desktop shell, `warmline-cli`
//! and the end-to-end tests all call the same way.
//!
//! It wires the SIP user agent, the media engine, Microsoft 365 and the local
//! store into calls, agent state, warm transfer, screen pop and note sync,
//! and reports every change as a typed [`Event`]. The shell is a thin layer
//! over it: Tauri commands and events, or JSON lines on stdin and stdout.
//!
//! Types here derive [`specta::Type`] so the desktop UI's TypeScript
//! bindings are generated from them and cannot drift.
#![deny(missing_docs)]

pub mod alerting;
pub mod allocator;
mod commands;
pub mod config;
pub mod connection;
pub mod control;
pub mod dial_policy;
pub mod embedded;
mod events;
pub mod logging;
pub mod session;
pub mod snapshot;
mod states;
pub mod view;

use serde::{Deserialize, Serialize};

pub use commands::{AgentCommand, ChosenState, CommandLine, PROTOCOL_VERSION, TransferMode};
pub use config::{Config, ConfigError};
pub use dial_policy::{DialPolicy, DialRefused};
pub use events::{AgentEvent, CallDirection, CallId, NoteSync, Party, TransferPhase};
pub use session::{Session, SessionConfig};
pub use snapshot::Snapshot;
pub use states::{AgentState, CallState, RegistrationState};
pub use view::{
    AccountState, AudioDevice, AudioDevices, Availability, Backend, ContextSource, CustomerContext, DeviceRole,
    Disposition, Expert, Field, HistoryEntry, PastInteraction, PastNote, SessionInfo, SyncStatus,
};

/// The version of this build, as the UI and `doctor` show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors from the agent session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OS keyring failed.
    #[error(transparent)]
    Keyring(#[from] warmline_secrets::Error),
    /// The feature is not built yet.
    #[error("{0} is not available yet in this build")]
    NotAvailable(&'static str),
    /// A secret the configuration needs is not in the keyring (its entry name).
    #[error("the keyring has no entry {0}")]
    MissingSecret(String),
    /// The configuration cannot be used as it is.
    #[error("configuration: {0}")]
    Config(String),
    /// The SIP transport cannot start with these servers.
    #[error(transparent)]
    Transport(warmline_sip::transport::ConfigError),
    /// The SIP user agent refused the command.
    #[error(transparent)]
    Sip(warmline_sip::ua::Error),
    /// Media or audio failed.
    #[error(transparent)]
    Media(warmline_media::Error),
    /// The dial policy refused the number.
    #[error(transparent)]
    Dial(DialRefused),
    /// No call fits the command (or several do and none was named).
    #[error("{0}")]
    NoCall(String),
    /// The command does not fit what is going on.
    #[error("{0}")]
    Invalid(String),
    /// The local store (history, notes) failed.
    #[error("the local store: {0}")]
    Store(String),
    /// Microsoft 365 sign-in or Graph failed.
    #[error("Microsoft 365: {0}")]
    Teams(String),
    /// The far end refused a hold, resume or reconnect; nothing changed.
    #[error("the far end refused to {what} {call} ({status}); the call is as it was, try again")]
    OfferRefused {
        /// The call.
        call: String,
        /// What was asked: hold, resume, reconnect.
        what: &'static str,
        /// The SIP status of the refusal.
        status: u16,
    },
    /// A call's media could not connect (ICE or DTLS failed).
    #[error("{0}: the audio connection failed (no network path to the other side)")]
    MediaFailed(String),
    /// The far end asked us to call a target the dial policy forbids.
    #[error("{0}")]
    TransferBlocked(String),
    /// The disk is full: the last change was not saved.
    #[error(
        "the disk is full: the last change was NOT saved (everything saved before it is intact); free some space and try again"
    )]
    DiskFull,
    /// Wrap-up needs a disposition before the agent becomes available.
    #[error("choose a disposition for the last call first")]
    DispositionRequired,
    /// The session has ended.
    #[error("the agent session has ended")]
    Closed,
}

impl Error {
    /// The stable code the UI switches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Keyring(warmline_secrets::Error::Locked { .. }) => ErrorCode::KeyringLocked,
            Error::Keyring(_) => ErrorCode::KeyringUnavailable,
            Error::NotAvailable(_) => ErrorCode::NotAvailable,
            Error::MissingSecret(_) => ErrorCode::MissingSecret,
            Error::Config(_) | Error::Transport(_) => ErrorCode::Config,
            Error::Sip(_) => ErrorCode::Signalling,
            Error::Media(_) => ErrorCode::Media,
            Error::Dial(_) => ErrorCode::DialRefused,
            Error::NoCall(_) => ErrorCode::NoCall,
            Error::Invalid(_) => ErrorCode::InvalidCommand,
            Error::Store(_) => ErrorCode::Store,
            Error::Teams(_) => ErrorCode::Microsoft365,
            Error::OfferRefused { .. } => ErrorCode::OfferRefused,
            Error::MediaFailed(_) => ErrorCode::MediaConnectivity,
            Error::TransferBlocked(_) => ErrorCode::DialRefused,
            Error::DispositionRequired => ErrorCode::DispositionRequired,
            Error::DiskFull => ErrorCode::DiskFull,
            Error::Closed => ErrorCode::SessionClosed,
        }
    }
}

/// Stable error codes across IPC and the CLI protocol. Never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// No OS keyring is reachable.
    KeyringUnavailable,
    /// The OS keyring is locked.
    KeyringLocked,
    /// The feature is not built yet.
    NotAvailable,
    /// A keyring entry the configuration needs is missing.
    MissingSecret,
    /// The configuration cannot be used.
    Config,
    /// The SIP user agent refused (wrong call state, not connected ...).
    Signalling,
    /// Media or audio failed.
    Media,
    /// The dial policy refused the number.
    DialRefused,
    /// No call fits the command, or several do and none was named.
    NoCall,
    /// A command line that is not valid JSON or not a known command, or
    /// a command that does not fit what is going on.
    InvalidCommand,
    /// The session has ended.
    SessionClosed,
    /// The local store (history, notes) failed.
    Store,
    /// Microsoft 365 sign-in or Graph failed.
    Microsoft365,
    /// The far end refused a hold, resume or reconnect; the call is as it was.
    OfferRefused,
    /// A call's audio connection failed.
    MediaConnectivity,
    /// Wrap-up needs a disposition first.
    DispositionRequired,
    /// The disk is full: the last change was not saved.
    DiskFull,
    /// Anything else; the message says what.
    Internal,
}

/// An error as it crosses IPC: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ErrorPayload {
    /// What went wrong, for code.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl From<Error> for ErrorPayload {
    fn from(e: Error) -> Self {
        ErrorPayload { code: e.code(), message: e.to_string() }
    }
}

/// The state of the OS keyring, for the header and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct KeyringHealth {
    /// Which keyring is in use.
    pub backend: String,
    /// Whether a probe entry could be written, read and deleted.
    pub usable: bool,
    /// A sentence for the user.
    pub detail: String,
}

/// What the about box shows: the version and whether the keyring works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AppInfo {
    /// The application version.
    pub version: String,
    /// The OS keyring's state.
    pub keyring: KeyringHealth,
}

/// Reports the version and checks the OS keyring with a probe entry.
pub fn app_info() -> AppInfo {
    let h = warmline_secrets::health();
    AppInfo {
        version: VERSION.to_string(),
        keyring: KeyringHealth { backend: h.backend, usable: h.usable, detail: h.detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_payload_carries_a_stable_code() {
        let p: ErrorPayload = Error::NotAvailable("warm transfer").into();
        assert_eq!(p.code, ErrorCode::NotAvailable);
        assert_eq!(p.message, "warm transfer is not available yet in this build");
    }
}
