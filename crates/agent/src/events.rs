//! Everything the agent session reports, as one typed stream. The desktop
//! receives it as the Tauri event `agent-event`; `warmline-cli agent` prints
//! it as JSON lines (`{"event": "call", ...}`). The JSON shape is a public,
//! versioned interface: fields are added, never renamed.

use serde::{Deserialize, Serialize};

use crate::ErrorPayload;
use crate::states::{AgentState, CallState, RegistrationState};
use crate::view::{AccountState, AudioDevices, CustomerContext, Expert, HistoryEntry, SessionInfo, SyncStatus};

/// Identifies one call for as long as the session lives.
pub type CallId = String;

/// The phase of a transfer, as the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TransferPhase {
    /// Dialling the expert; the customer is on hold.
    DiallingExpert,
    /// Talking to the expert; the customer is on hold.
    Consulting,
    /// The customer is now connected to the expert.
    Completed,
    /// Back with the customer (declined, busy, no answer, or cancelled).
    Returned,
    /// The transfer failed; both calls are still up.
    Failed,
    /// The customer, the expert and the agent talk together.
    Conference,
}

/// Who started a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// The other party called (a routed customer, a colleague).
    Inbound,
    /// The agent called (a dialled number, an expert, a transfer target).
    Outbound,
}

/// The other party of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Party {
    /// The number (E.164 where possible) or SIP address.
    pub number: String,
    /// The name the network gave, as text.
    pub name: Option<String>,
}

/// Where a note stands on its way to the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum NoteSync {
    /// Durable on this machine, not sent yet.
    SavedLocally,
    /// Being sent.
    Syncing,
    /// The CRM has it.
    Synced,
    /// The CRM cannot be reached; it will be sent later.
    Offline,
    /// Changed on the server meanwhile; both versions are kept.
    Conflict,
    /// The CRM refused it; the reason says why.
    Failed,
}

/// One thing that happened in the agent session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The first event: who the agent is and what the session offers.
    Ready {
        /// The summary.
        session: SessionInfo,
    },
    /// The SIP registration changed.
    Registration {
        /// The new state.
        registration: RegistrationState,
    },
    /// The agent's own state changed.
    State {
        /// The new state.
        agent: AgentState,
    },
    /// A call is ringing here.
    Incoming {
        /// The call.
        call: CallId,
        /// The caller, normalised (E.164 where possible).
        from: String,
        /// The caller's display name, as text.
        display_name: Option<String>,
        /// The contact-center queue the call came through.
        queue: Option<String>,
        /// The case id the contact center attached.
        case: Option<String>,
    },
    /// A call's state changed.
    Call {
        /// The call.
        call: CallId,
        /// The new state.
        state: CallState,
        /// Who started it.
        direction: CallDirection,
        /// The other party.
        remote: Party,
        /// For the call to an expert in a warm transfer: the customer's
        /// call it consults for.
        consult_for: Option<CallId>,
    },
    /// A transfer moved on.
    Transfer {
        /// The customer's call.
        call: CallId,
        /// Where it stands.
        phase: TransferPhase,
        /// Why (for returned and failed).
        reason: Option<String>,
    },
    /// Call quality, once a second while media flows.
    Quality {
        /// The call.
        call: CallId,
        /// Estimated MOS (1 to 4.5).
        mos: f32,
        /// Inter-arrival jitter, ms.
        jitter_ms: f32,
        /// Packet loss, percent.
        loss_pct: f32,
    },
    /// A note was saved or its sync state changed.
    NoteSaved {
        /// The note's id.
        note: String,
        /// The call it belongs to.
        call: Option<CallId>,
        /// Where it stands.
        sync: NoteSync,
        /// Why, when it failed.
        reason: Option<String>,
    },
    /// Who is calling (screen pop): sent on ringing, from the cache or
    /// marked loading, and again when the CRM answers.
    Context {
        /// The call.
        call: CallId,
        /// What is known.
        customer: CustomerContext,
    },
    /// The answer to `experts`: matching Teams users with their presence.
    Experts {
        /// The query it answers.
        query: String,
        /// Favourites first, then by name.
        experts: Vec<Expert>,
    },
    /// An expert's Teams presence changed.
    Presence {
        /// The expert, with the new presence.
        expert: Expert,
    },
    /// The Microsoft 365 account changed.
    Account {
        /// Where it stands.
        account: AccountState,
    },
    /// Note sync as a whole changed.
    Sync {
        /// Pending, conflicts, offline.
        sync: SyncStatus,
    },
    /// The answer to `history`: calls, newest first.
    History {
        /// The query it answers.
        query: String,
        /// Matching calls.
        calls: Vec<HistoryEntry>,
    },
    /// The answer to `devices`, and after any device change.
    Devices {
        /// Devices and choices.
        devices: AudioDevices,
    },
    /// The connection settings, after `connection` or a save.
    Connection {
        /// The settings, their file, and whether they are locked or saved.
        connection: crate::connection::ConnectionView,
    },
    /// The microphone was muted or unmuted (from the window, a global
    /// shortcut or the CLI); it stays so until changed.
    Mute {
        /// Muted.
        on: bool,
    },
    /// The microphone's level while settings shows the meter, 0 to 1.
    Level {
        /// Peak level over the last 50 ms.
        input: f32,
    },
    /// Something went wrong that the agent should know about.
    Error(ErrorPayload),
}

impl AgentEvent {
    /// A `call` event with made-up facts, for tests of what follows events.
    #[cfg(test)]
    pub(crate) fn call_state(call: &str, state: CallState) -> Self {
        AgentEvent::Call {
            call: call.into(),
            state,
            direction: CallDirection::Inbound,
            remote: Party { number: "+15550100".into(), name: None },
            consult_for: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_the_cli_protocol_documents() {
        let e = AgentEvent::call_state("c1", CallState::Ended { reason: "remote hangup".into() });
        assert_eq!(
            serde_json::to_string(&e).expect("json"),
            r#"{"event":"call","call":"c1","state":{"state":"ended","reason":"remote hangup"},"direction":"inbound","remote":{"number":"+15550100","name":null},"consult_for":null}"#
        );
        let e = AgentEvent::State { agent: AgentState::Away { reason: "lunch".into() } };
        assert_eq!(
            serde_json::to_string(&e).expect("json"),
            r#"{"event":"state","agent":{"state":"away","reason":"lunch"}}"#
        );
    }
}
