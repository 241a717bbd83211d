//! The embedded contact center.
//!
//! With nothing configured, Warmline runs this lab on loopback: a SIP over
//! WebSocket registrar and ACD acting as a B2BUA (as SBCs in front of Teams
//! Direct Routing do), simulated customers and Teams experts with real
//! WebRTC audio, stand-ins for Entra ID and Microsoft Graph, and a CRM
//! endpoint. It speaks the same protocols as the real servers, which makes it
//! both the newcomer's first back end and the end-to-end test harness.
#![deny(missing_docs)]

use serde::Serialize;

/// Errors from the lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lab is not built yet.
    #[error("the embedded lab is not available yet in this build")]
    NotAvailable,
}

/// Where the lab listens, printed as one JSON line by `warmline-cli lab`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// SIP over WebSocket URL (`ws://127.0.0.1:PORT`).
    pub sip_ws: String,
    /// Entra ID authority base URL.
    pub entra_authority: String,
    /// Microsoft Graph base URL.
    pub graph_base: String,
    /// CRM base URL.
    pub crm_base: String,
}

/// Starts the lab. Not built yet: returns [`Error::NotAvailable`].
pub fn start() -> Result<Endpoints, Error> {
    Err(Error::NotAvailable)
}
