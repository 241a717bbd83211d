//! The embedded contact center.
//!
//! With nothing configured, Warmline runs this lab on loopback: a SIP over
//! WebSocket registrar and ACD acting as a B2BUA (as SBCs in front of Teams
//! Direct Routing do), simulated customers and Teams experts with real
//! WebRTC audio, stand-ins for Entra ID and Microsoft Graph, and a CRM
//! endpoint. It speaks the same protocols as the real servers, which makes it
//! both the newcomer's first back end and the end-to-end test harness.
//!
//! Built so far: the Entra, Graph and CRM stand-ins, the scenario,
//! presence churn and the arrival schedule (which places customer calls),
//! and the SIP side ([`sip`]): a WebSocket registrar, availability by
//! PUBLISH, the ACD as a B2BUA with blind and attended transfers acted on
//! as Direct Routing requires, simulated customers ([`customer`]) and
//! Teams experts ([`expert`]) with WebRTC audio.
//!
//! # Running it
//!
//! ```no_run
//! use warmline_lab::{Lab, Scenario, presence::Presence};
//!
//! # async fn demo() -> Result<(), warmline_lab::Error> {
//! let lab = Lab::start(Scenario::default_scenario()).await?;
//! let e = lab.endpoints();
//! println!("sign in at {}{}/oauth2/v2.0/authorize, Graph at {}, CRM at {}",
//!          e.entra_authority, e.entra_tenant, e.graph_base, e.crm_base);
//! let control = lab.control();
//! control.set_presence("Priya Natarajan", Presence::IN_A_CALL)?;
//! let mut events = control.subscribe();
//! while let Ok(event) = events.recv().await {
//!     println!("{}", serde_json::to_string(&event).unwrap_or_default());
//! }
//! # Ok(()) }
//! ```
//!
//! # Why it is built this way
//!
//! **Shaped like Microsoft, checked by the client's own contract.** The
//! Entra and Graph bodies follow Microsoft's documented examples
//! (`shared/fixtures/graph`), errors included (Entra's `AADSTS` JSON,
//! Graph's `{"error":{"code",...}}`), and the stand-ins pass the Teams
//! crate's conformance suite, the same checks a real tenant is held to. The
//! CRM passes the store crate's connector conformance suite. So what works
//! against the lab works against the real services, and a stand-in that
//! drifts fails a test.
//!
//! **Strict where the real service is.** PKCE is verified, codes work once,
//! refresh tokens rotate (the spent one is refused), device codes stay
//! `authorization_pending` until approved, `$search` needs
//! `ConsistencyLevel: eventual`, presence batches carry 1 to 650 ids, and
//! every Graph call needs a live token carrying the permission Graph
//! requires. A client that cuts a corner fails here first.
//!
//! **Time is passed in.** Token lifetimes, code expiry and the presence
//! schedule read the lab's [`Clock`]. Tests run on a manual clock and
//! [`Control::advance`] an hour in a millisecond; the presence schedule and
//! the arrival process are sans-IO ([`presence::Churn`],
//! [`arrivals::Arrivals`]) and seeded, so a scenario gives the same day
//! every run.
//!
//! **Loopback only, ephemeral ports.** Every listener binds `127.0.0.1:0`;
//! nothing is reachable from the network and two labs never collide.
#![deny(missing_docs)]

pub mod arrivals;
mod clock;
pub mod command;
mod control;
mod crm;
pub mod customer;
mod directory;
mod entra;
pub mod expert;
pub mod faults;
mod graph;
mod ids;
mod lab;
pub mod presence;
mod rng;
pub mod scenario;
mod sign_in;
pub mod sip;
mod tenant;

use serde::Serialize;

pub use clock::Clock;
pub use control::{Control, ExpertStatus, LabEvent, PresenceCause, SignInFlow, SipAccount};
pub use crm::db::CrmNote;
pub use graph::MAX_PRESENCE_IDS;
pub use lab::{Lab, LabOptions};
pub use scenario::{Scenario, ScenarioError};
pub use sign_in::AgentSignIn;

/// Errors from the lab. Each has a stable [`Error::code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The part asked for is not built yet (the SIP side of the lab).
    #[error("the embedded lab is not available yet in this build")]
    NotAvailable,
    /// The scenario cannot be used.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A socket or file could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What the lab was doing.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The CRM's database failed.
    #[error("the lab's CRM database: {0}")]
    Crm(String),
    /// No expert has this id, UPN or name.
    #[error("no expert is called {0:?} (use an object id, a user principal name or a display name)")]
    UnknownExpert(String),
    /// No user in the tenant has this UPN or id.
    #[error("no user {0:?} in the lab's tenant")]
    UnknownUser(String),
    /// No pending device code has this user code.
    #[error("no device code {0:?} is waiting for approval (it may have expired or been used)")]
    UnknownDeviceCode(String),
    /// Not a delegated permission the lab knows.
    #[error("{0:?} is not a permission the lab knows (User.Read, User.ReadBasic.All, Presence.Read.All, ...)")]
    UnknownPermission(String),
    /// Time can only be moved on a manual clock.
    #[error("the lab runs on the system clock; only a lab started with a manual clock can be moved forward")]
    ClockNotManual,
    /// A command line that cannot be run.
    #[error("bad command: {0}")]
    BadCommand(String),
}

impl Error {
    /// A stable code for scripts and the UI to switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotAvailable => "lab.not_available",
            Error::Scenario(_) => "lab.scenario",
            Error::Io { .. } => "lab.io",
            Error::Crm(_) => "lab.crm",
            Error::UnknownExpert(_) => "lab.unknown_expert",
            Error::UnknownUser(_) => "lab.unknown_user",
            Error::UnknownDeviceCode(_) => "lab.unknown_device_code",
            Error::UnknownPermission(_) => "lab.unknown_permission",
            Error::ClockNotManual => "lab.clock_not_manual",
            Error::BadCommand(_) => "lab.bad_command",
        }
    }
}

/// Where the lab listens, printed as one JSON line by `warmline-cli lab`.
/// Everything an agent needs to be configured against the lab, except the
/// CRM token ([`Lab::crm_token`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// SIP over WebSocket URL (`ws://127.0.0.1:PORT`, `sip` subprotocol);
    /// filled when the lab starts.
    pub sip_ws: Option<String>,
    /// Entra ID authority without the tenant, with a trailing slash
    /// (`http://127.0.0.1:PORT/`), as `TeamsConfig::authority` takes it.
    pub entra_authority: String,
    /// The tenant to sign in to (its domain).
    pub entra_tenant: String,
    /// The application (client) id the Entra stand-in accepts.
    pub entra_client_id: String,
    /// Microsoft Graph base URL including the version (`http://127.0.0.1:PORT/v1.0`).
    pub graph_base: String,
    /// CRM base URL (`http://127.0.0.1:PORT`).
    pub crm_base: String,
}

/// The standalone lab for `warmline-cli lab`: not wired up yet (the CLI
/// does not start it), so this returns [`Error::NotAvailable`]. Use
/// [`Lab::start`], which runs the stand-ins and the SIP front end.
pub fn start() -> Result<Endpoints, Error> {
    Err(Error::NotAvailable)
}
