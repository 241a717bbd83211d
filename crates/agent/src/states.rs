//! The states every front end shows, shared by the CLI and the desktop.

use serde::{Deserialize, Serialize};

/// The agent's own state, as the contact center sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    /// Not taking calls.
    Offline,
    /// Ready for the next call.
    Available,
    /// Not taking calls for a reason (break, lunch, training).
    Away {
        /// Why, as the agent chose it.
        reason: String,
    },
    /// On one or more calls.
    OnCall,
    /// After a call, finishing notes and disposition.
    WrapUp {
        /// Seconds left before the agent is available again.
        seconds_left: u32,
    },
}

/// The SIP registration with the contact center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RegistrationState {
    /// Sending REGISTER.
    Registering,
    /// Registered and reachable.
    Registered,
    /// The connection dropped; trying again.
    Reconnecting {
        /// Which attempt this is.
        attempt: u32,
    },
    /// Registration failed; the reason says why.
    Failed {
        /// Why, in words.
        reason: String,
    },
}

/// One call's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CallState {
    /// Outgoing, nothing heard back yet.
    Dialing,
    /// Incoming and ringing here, or outgoing and ringing there.
    Ringing,
    /// Early media (183) is flowing.
    Early,
    /// Talking.
    Connected,
    /// Held by the agent.
    Held,
    /// Held by the far end.
    RemoteHeld,
    /// Signalling or media is recovering.
    Reconnecting,
    /// Over.
    Ended {
        /// Why, in words.
        reason: String,
    },
}
