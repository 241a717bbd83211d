//! Microsoft 365 for Warmline: Entra ID sign-in, Teams presence, experts.
//!
//! Sign-in is the public-client authorization code flow with PKCE on a
//! loopback redirect (device code as fallback). The refresh token lives only
//! in the OS keyring through `warmline-secrets`; access tokens only in
//! memory. Presence comes from Graph's `getPresencesByUserId` in batches,
//! polled within a per-agent request budget; experts come from `/users`
//! search. Every base URL is configuration, so the lab plugs in the same way.
#![deny(missing_docs)]

/// Errors from Microsoft 365.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The keyring could not hold or give the refresh token.
    #[error(transparent)]
    Keyring(#[from] warmline_secrets::Error),
}

/// A Teams availability value, as Graph reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Availability {
    /// Free to take a call.
    Available,
    /// Available, idle.
    AvailableIdle,
    /// Away.
    Away,
    /// Be right back.
    BeRightBack,
    /// Busy.
    Busy,
    /// Busy, idle.
    BusyIdle,
    /// Do not disturb.
    DoNotDisturb,
    /// Offline.
    Offline,
    /// Unknown.
    PresenceUnknown,
}
