//! Microsoft 365 for Warmline: Entra ID sign-in, Teams presence, experts.
//!
//! # A run loop
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Instant;
//! use warmline_teams::presence::{PresenceApi, PresenceEvent, PresenceSource, PollingSource};
//! use warmline_teams::{Directory, Entra, Graph, Http, PresenceBoard, SystemBrowser, TeamsConfig};
//!
//! # async fn run(config: TeamsConfig, saved: Option<warmline_teams::Account>) -> Result<(), warmline_teams::Error> {
//! let http = Http::new(&config)?;
//! let entra = Entra::new(config.clone(), http.clone(), warmline_secrets::Keyring::open()?)?;
//! // Last time's account (not secret) finds the refresh token in the keyring;
//! // otherwise the system browser signs the agent in.
//! let session = match saved {
//!     Some(account) => entra.restore(account).await?,
//!     None => None,
//! };
//! let session = match session {
//!     Some(s) => s,
//!     None => entra.sign_in_browser(&SystemBrowser).await?,
//! };
//! let graph = Graph::new(http, config.graph.clone(), Arc::new(session.clone()));
//!
//! let experts = Directory::with_config(graph.clone(), &config.directory).search(Instant::now(), "billing").await?;
//! let favourites: Vec<String> = experts.iter().filter_map(|e| e.id.clone()).collect();
//! let mut source = PollingSource::new(PresenceApi::new(graph), config.presence.clone(), 42);
//! source.watch(&favourites, &[]);
//! let mut board = PresenceBoard::new();
//! loop {
//!     match source.next_event().await {
//!         PresenceEvent::Updated(list) => {
//!             for changed in board.apply(Instant::now(), list) {
//!                 println!("{} is {}", changed.id, changed.availability);
//!             }
//!         }
//!         PresenceEvent::Halted(e) => return Err(e), // 403 or sign-in needed: tell the agent
//!         _ => {} // throttled or offline: the board keeps last known presence and its age
//!     }
//! }
//! # }
//! ```
//!
//! # Why it is built this way
//!
//! **Sign-in.** Warmline is a public client: a desktop app cannot keep a
//! client secret. Authorization code with PKCE (S256) in the system browser
//! is what Entra's MFA, conditional access and single sign-on expect (RFC
//! 8252); the redirect comes back to a one-shot listener on a random
//! loopback port, which Entra allows for public clients. `state` is checked
//! before the code is used. The browser is reached through an [`Opener`]
//! (default: `BROWSER`, then `xdg-open`/`open`), so tests can consent
//! without one. Device code sign-in covers the headless agent.
//!
//! **Tokens.** The refresh token is the long-lived credential, so it lives
//! only in the OS keyring (`warmline-secrets`), under
//! `refresh-token:<user principal name>`. Entra rotates it: each one works
//! once, so the successor is stored before the new access token is used.
//! Access tokens live only in memory and are refreshed five minutes before
//! expiry; when a refresh fails while the old token is still valid, the old
//! one is used, so a refresh hiccup never interrupts a call or a presence
//! update. A 401 from Graph triggers exactly one refresh and one retry.
//! Logs pass through [`warmline_secrets::redact`].
//!
//! **Transport.** One `reqwest` 0.12 client (the version `oauth2` 5 uses),
//! rustls with Mozilla's and the OS's roots plus an optional extra CA file
//! and proxy, no redirects. Certificate checks cannot be turned off; plain
//! `http://` is accepted only for loopback URLs (the lab, test servers).
//! Every base URL is configuration, so the lab plugs in like Microsoft.
//!
//! **Presence budget.** Graph allows one app 1,500 presence requests per 30
//! seconds per tenant, for all agents together, and one request carries up
//! to 650 ids, so an agent's 50 favourites cost one request per poll. A
//! client cannot know how many agents share the tenant, so the pace adapts:
//!
//! | pace | requests / 30 s per agent | agents within 1,500 / 30 s |
//! |---|---|---|
//! | normal, one request every 8 s (`interval_secs`) | 3.75 | 400 |
//! | after a 429, every 25 s (`slow_interval_secs`) | 1.2 | 1,250 |
//! | slowest, every 120 s (`max_interval_secs`) | 0.25 | 6,000 |
//!
//! Up to 400 agents never see a 429 and a change shows within one interval
//! (8 s plus the request). Past that, Graph answers 429: the client waits the
//! `Retry-After` (fractional values like `2.128` included), spreads its retry
//! over half a period, and drops to the slow pace. Another 429 within two
//! minutes slows it by half again, up to the slowest. After two quiet
//! minutes it speeds up: by a quarter while slower than the slow pace, then
//! by one second, so a crowded tenant settles just under the limit instead
//! of oscillating across it. The simulation in `tests/teams/simulation.rs`
//! (favourites drawn from 500 experts who change every ten minutes on
//! average, agents signing in over two minutes, 20 minutes measured after 5)
//! gives:
//!
//! | agents x 50 favourites | requests / 30 s sent (peak) | throttled | change shows: mean / p95 / p99 |
//! |---|---|---|---|
//! | 100 | 375 (388) | 0 % | 4.2 s / 7.8 s / 8.5 s |
//! | 1,000 | 1,509 (1,580; at most 1,500 accepted) | 2 % | 11.4 s / 23.2 s / 30.5 s |
//! | 2,000 (beyond the default) | 1,804 (2,034; at most 1,500 accepted) | 17 % | 25.8 s / 70.6 s / 106 s |
//!
//! An admin who knows the head count can set the pace directly: for N agents,
//! `interval_secs >= 30 * N / 1500` (3,000 agents: 60 s; `slow_interval_secs`
//! and `max_interval_secs` at least as long). Polling cannot do
//! better than that; change notifications through a relay will, and will
//! replace [`PollingSource`] behind the [`PresenceSource`] trait.
//!
//! **Sans-IO.** [`presence::Poller`] decides what to ask and when from the
//! time it is given and the outcomes it is fed; it never reads the clock or
//! sends. That is how the simulation above runs 25 minutes of 1,000 agents in
//! a few seconds, the same way every time. [`PollingSource`] is the thin tokio
//! shell around it.
//!
//! **Experts.** `/users?$search=` needs `ConsistencyLevel: eventual` (Graph
//! answers 400 without it) and asks only for the fields shown or dialled.
//! Graph pages the answer: `@odata.nextLink` is followed, with the same
//! header, until `directory.max_results` people (default 100) are found. A
//! nextLink is only followed on the configured Graph origin, since the
//! bearer token goes with it.
//! Favourites and skill tags are the agent's own and stay on this machine
//! ([`ShortlistStore`]). A consult call dials an explicit mapping or the
//! first office number in E.164 at the Direct Routing SBC
//! ([`directory::resolve_dial_target`]).
//!
//! **Contract.** [`conformance`] checks any Entra/Graph base URL against what
//! this crate relies on; the tests run it against their stand-in, and the
//! lab's stand-in can run it too.
#![deny(missing_docs)]

mod auth;
pub mod config;
pub mod conformance;
pub mod directory;
mod graph;
mod http;
pub mod presence;

use std::time::Duration;

pub use auth::{DevicePrompt, Entra, Opener, Session, SystemBrowser};
pub use config::{DialConfig, DirectoryConfig, HttpConfig, PresenceBudget, TeamsConfig};
pub use directory::{Directory, Expert, Shortlist, ShortlistStore};
pub use graph::{AccessTokens, Account, BoxFuture, Graph};
pub use http::{Http, parse_retry_after};
pub use presence::{
    Activity, Availability, PollingSource, Presence, PresenceApi, PresenceBoard, PresenceEvent, PresenceSource,
};

/// Errors from Microsoft 365. Each says what went wrong in words an agent or
/// an IT admin can act on; none carries a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work.
    #[error("Microsoft 365 configuration: {0}")]
    Config(String),
    /// The keyring could not hold or give the refresh token.
    #[error(transparent)]
    Keyring(#[from] warmline_secrets::Error),
    /// Graph or Entra could not be reached.
    #[error("Microsoft 365 is unreachable: {0}")]
    Network(String),
    /// No browser could be opened for sign-in.
    #[error("{0}")]
    Opener(String),
    /// The user did not finish the sign-in in time.
    #[error("sign-in timed out after {} s", waited.as_secs())]
    SignInTimedOut {
        /// How long we waited.
        waited: Duration,
    },
    /// The sign-in redirect's `state` did not match ours (a stale tab or a forged redirect).
    #[error("the sign-in response did not match the request (state mismatch); sign in again")]
    StateMismatch,
    /// Entra returned an error to the redirect (the user cancelled, consent was refused).
    #[error("sign-in was refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    SignInRefused {
        /// The OAuth error code, such as `access_denied`.
        error: String,
        /// Entra's description.
        description: Option<String>,
    },
    /// The token endpoint refused a request for a reason other than an expired grant.
    #[error("Entra refused the token request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Token {
        /// The OAuth error code, such as `invalid_scope`.
        error: String,
        /// Entra's description.
        description: Option<String>,
    },
    /// The agent must sign in again (no refresh token, or it was refused).
    #[error("sign in to Microsoft 365 again: {reason}")]
    SignInRequired {
        /// Why.
        reason: String,
    },
    /// Graph throttled us (429). Presence keeps its last known values.
    #[error("Microsoft Graph is throttling requests; retrying after {}", retry_after.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "a pause".into()))]
    Throttled {
        /// How long Graph asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// Graph refused the call (403): the app lacks a permission.
    #[error(
        "Microsoft Graph refused access ({message}): the app registration needs the delegated permission \
         {permission}, with admin consent for the tenant; ask your Microsoft 365 admin to grant it"
    )]
    Forbidden {
        /// The Graph permission the call needs.
        permission: &'static str,
        /// Graph's message.
        message: String,
    },
    /// Graph answered with another error.
    #[error("Microsoft Graph answered {status} {code}: {message}")]
    Graph {
        /// HTTP status.
        status: u16,
        /// Graph's error code.
        code: String,
        /// Graph's message.
        message: String,
    },
    /// An expert cannot be dialled.
    #[error("cannot dial {expert}: {reason}")]
    NoDialTarget {
        /// Who.
        expert: String,
        /// Why not.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {reason}", path.display())]
    Storage {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A response did not have the documented shape.
    #[error("unexpected response from Microsoft 365: {0}")]
    Protocol(String),
}

impl Error {
    /// A stable code for the UI to switch on (the message is for people).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "teams.config",
            Error::Keyring(_) => "teams.keyring",
            Error::Network(_) => "teams.network",
            Error::Opener(_) => "teams.no_browser",
            Error::SignInTimedOut { .. } => "teams.sign_in_timed_out",
            Error::StateMismatch => "teams.state_mismatch",
            Error::SignInRefused { .. } => "teams.sign_in_refused",
            Error::Token { .. } => "teams.token_refused",
            Error::SignInRequired { .. } => "teams.sign_in_required",
            Error::Throttled { .. } => "teams.throttled",
            Error::Forbidden { .. } => "teams.permission_missing",
            Error::Graph { .. } => "teams.graph",
            Error::NoDialTarget { .. } => "teams.no_dial_target",
            Error::Storage { .. } => "teams.storage",
            Error::Protocol(_) => "teams.protocol",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_say_what_to_do() {
        let e = Error::Forbidden { permission: "Presence.Read.All", message: "Insufficient privileges".into() };
        assert_eq!(e.code(), "teams.permission_missing");
        let e = Error::Throttled { retry_after: Some(Duration::from_millis(2128)) };
        assert_eq!(e.to_string(), "Microsoft Graph is throttling requests; retrying after 2.1 s");
        assert_eq!(Error::StateMismatch.code(), "teams.state_mismatch");
    }
}
