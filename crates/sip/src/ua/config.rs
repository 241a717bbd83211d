//! What the owner tells the user agent before it starts.

use std::fmt;
use std::time::Duration;

use crate::message::Uri;
use crate::transaction::Timers;

/// What to do with a REFER from the far end (we would be the transferee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferPolicy {
    /// Accept with 202 and call the Refer-To target.
    Accept,
    /// Ask the application: [`Event::TransferAsked`](super::Event::TransferAsked),
    /// answered by [`UserAgent::accept_transfer`](super::UserAgent::accept_transfer)
    /// or [`UserAgent::refuse_transfer`](super::UserAgent::refuse_transfer)
    /// (a dial policy decides whether the far end may make us call someone).
    Ask,
    /// Refuse with this status (603 Decline, 403 Forbidden, 405 ...).
    Refuse {
        /// The final status to answer the REFER with.
        status: u16,
    },
}

/// RFC 5626 outbound: one registration flow per connection, kept alive
/// with CRLF pings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// `+sip.instance`, a URN such as `urn:uuid:...` (stable per install).
    pub instance_id: String,
    /// `reg-id`, 1 for the first flow.
    pub reg_id: u32,
    /// How often to send a CRLF ping when the registrar gives no
    /// Flow-Timer. A ping goes out at a random 80-100% of this (RFC 5626
    /// 4.4.1).
    pub keepalive: Duration,
    /// How long to wait for the pong before the flow counts as dead.
    pub pong_timeout: Duration,
}

impl Outbound {
    /// Outbound with `instance_id`, reg-id 1, a 30 s keep-alive and the RFC's
    /// 10 s pong timeout.
    pub fn new(instance_id: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            reg_id: 1,
            keepalive: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
        }
    }
}

/// Session timers (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimers {
    /// The Session-Expires we ask for, in seconds.
    pub interval: u32,
    /// The smallest interval we accept (Min-SE, at least 90).
    pub min_se: u32,
    /// Refresh with UPDATE when the peer allows it (no SDP needed), else
    /// with a re-INVITE carrying the current SDP.
    pub prefer_update: bool,
}

impl Default for SessionTimers {
    fn default() -> Self {
        Self { interval: 1800, min_se: 90, prefer_update: true }
    }
}

/// The user agent's configuration. Build it with [`Config::new`] and set
/// the fields that differ from the defaults.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The address of record, `sip:agent42@example.com` (From, To of REGISTER).
    pub aor: Uri,
    /// The display name in From.
    pub display_name: Option<String>,
    /// Digest user name.
    pub auth_user: String,
    /// Digest password, handed over in memory by the owner (from the OS
    /// keyring). Never logged: `Debug` shows `<redacted>`.
    pub password: String,
    /// The registrar's URI (the REGISTER Request-URI), `sip:example.com`.
    pub registrar: Uri,
    /// The registration lifetime to ask for, in seconds.
    pub expires: u32,
    /// The lifetime to ask for when publishing availability, in seconds.
    pub publish_expires: u32,
    /// RFC 5626 outbound, with keep-alives; `None` for a plain registration.
    pub outbound: Option<Outbound>,
    /// An outbound proxy every request outside a dialog goes through (a
    /// pre-loaded Route with `;lr`).
    pub outbound_proxy: Option<Uri>,
    /// Headers that carry contact-center data on incoming calls
    /// (`X-Queue`, `X-Case-Id`), reported in [`crate::call_data::CallData`].
    pub call_data_headers: Vec<String>,
    /// Whether a Call-Info `answer-after` may auto-answer a call (the owner
    /// still answers; the event says it is allowed).
    pub auto_answer: bool,
    /// What to do with a REFER from the far end.
    pub refer_policy: ReferPolicy,
    /// Send 180 Ringing as soon as an INVITE arrives. Off, the owner
    /// decides first and calls [`UserAgent::ring`](super::UserAgent::ring)
    /// or rejects, so a call it refuses never rings first.
    pub ring_at_once: bool,
    /// Session timers, or `None` to neither ask for nor refresh them (a
    /// peer's request is still honoured with the RFC minimum).
    pub session_timers: Option<SessionTimers>,
    /// The User-Agent header on requests, if any.
    pub user_agent: Option<String>,
    /// T1, T2 and T4.
    pub timers: Timers,
    /// Seed for every random value (tags, branches, Call-IDs, client
    /// nonces, back-off), so that runs are reproducible. Give a random one
    /// in production.
    pub seed: u64,
}

impl Config {
    /// A configuration with defaults: 600 s registration, no outbound, no
    /// proxy, transfers accepted, no auto-answer, 1800 s session timers.
    pub fn new(aor: Uri, auth_user: impl Into<String>, password: impl Into<String>, registrar: Uri) -> Self {
        Self {
            aor,
            display_name: None,
            auth_user: auth_user.into(),
            password: password.into(),
            registrar,
            expires: 600,
            publish_expires: 3600,
            outbound: None,
            outbound_proxy: None,
            call_data_headers: Vec::new(),
            auto_answer: false,
            refer_policy: ReferPolicy::Accept,
            ring_at_once: true,
            session_timers: Some(SessionTimers::default()),
            user_agent: Some(concat!("Warmline/", env!("CARGO_PKG_VERSION")).to_owned()),
            timers: Timers::default(),
            seed: 0,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("aor", &self.aor)
            .field("display_name", &self.display_name)
            .field("auth_user", &self.auth_user)
            .field("password", &"<redacted>")
            .field("registrar", &self.registrar)
            .field("expires", &self.expires)
            .field("outbound", &self.outbound)
            .field("outbound_proxy", &self.outbound_proxy)
            .field("call_data_headers", &self.call_data_headers)
            .field("auto_answer", &self.auto_answer)
            .field("refer_policy", &self.refer_policy)
            .field("ring_at_once", &self.ring_at_once)
            .field("session_timers", &self.session_timers)
            .field("user_agent", &self.user_agent)
            .field("timers", &self.timers)
            .field("seed", &self.seed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let c = Config::new(
            "sip:a@example.com".parse().expect("uri"),
            "a",
            "hunter2",
            "sip:example.com".parse().expect("uri"),
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
    }
}
