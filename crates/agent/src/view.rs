//! What the front ends show besides calls: the session's summary, the
//! customer context (screen pop), the Teams experts with their presence,
//! the call history, the Microsoft 365 account and the audio devices.
//! Everything here is data from outside (CRM fields, display names): front
//! ends show it as text, never as markup.

use serde::{Deserialize, Serialize};

use crate::CallId;
use crate::config::Setting;

/// Sent once, first: who the agent is and what this session offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SessionInfo {
    /// The JSON-lines protocol version.
    pub protocol: u32,
    /// The build's version.
    pub version: String,
    /// The agent's name as callees see it.
    pub agent_name: String,
    /// The SIP address of record.
    pub sip_user: String,
    /// `lab` when the embedded contact center is the back end, else `configured`.
    pub backend: Backend,
    /// Reasons the agent can give for `away`.
    pub away_reasons: Vec<String>,
    /// Disposition codes for wrap-up.
    pub dispositions: Vec<Disposition>,
    /// How long wrap-up lasts before the agent is available again, seconds.
    pub wrap_up_seconds: u32,
    /// Settings the administrator locked (shown read-only).
    pub locked: Vec<Setting>,
}

/// Where the calls come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The embedded lab (no configuration file).
    Lab,
    /// A real SBC and tenant from the configuration file.
    Configured,
}

/// A wrap-up disposition code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Disposition {
    /// The code stored with the call (`resolved`, `callback` ...).
    pub code: String,
    /// What the agent reads.
    pub label: String,
}

/// Who is calling, for the screen pop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CustomerContext {
    /// The caller's number, E.164 where possible.
    pub phone: String,
    /// The customer's name, when known.
    pub name: Option<String>,
    /// The CRM's id for the customer.
    pub crm_id: Option<String>,
    /// Still loading from the CRM: what is here comes from the local cache.
    pub loading: bool,
    /// Where the data came from.
    pub source: ContextSource,
    /// The CRM's fields, in its order.
    pub fields: Vec<Field>,
    /// Past interactions, newest first.
    pub interactions: Vec<PastInteraction>,
    /// Notes taken on earlier calls with this customer, newest first.
    pub notes: Vec<PastNote>,
    /// The queue the call came through.
    pub queue: Option<String>,
    /// The case id the contact center attached.
    pub case: Option<String>,
}

/// Where customer context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ContextSource {
    /// Nothing is known about this number.
    Unknown,
    /// The local cache (the CRM was not asked yet or could not be reached).
    Cache,
    /// The CRM, just now.
    Crm,
}

/// One CRM field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Field {
    /// The field's name as the CRM sent it.
    pub label: String,
    /// Its value, as text.
    pub value: String,
}

/// An earlier contact with the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PastInteraction {
    /// When, Unix milliseconds.
    pub at_ms: f64,
    /// Phone, e-mail, chat...
    pub channel: String,
    /// What it was about.
    pub summary: String,
}

/// A note from an earlier call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PastNote {
    /// The note's id.
    pub note: String,
    /// When it was last changed, Unix milliseconds.
    pub at_ms: f64,
    /// Its text.
    pub text: String,
}

/// Teams availability, with Graph's values (unknown ones as `PresenceUnknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub enum Availability {
    /// Green.
    Available,
    /// Green, idle.
    AvailableIdle,
    /// Yellow.
    Away,
    /// Yellow.
    BeRightBack,
    /// Red.
    Busy,
    /// Red, idle.
    BusyIdle,
    /// Red with a bar.
    DoNotDisturb,
    /// Grey.
    Offline,
    /// Not known.
    PresenceUnknown,
}

impl Availability {
    /// Graph's spelling to ours.
    pub fn from_graph(value: &str) -> Self {
        match value {
            "Available" => Availability::Available,
            "AvailableIdle" => Availability::AvailableIdle,
            "Away" => Availability::Away,
            "BeRightBack" => Availability::BeRightBack,
            "Busy" => Availability::Busy,
            "BusyIdle" => Availability::BusyIdle,
            "DoNotDisturb" => Availability::DoNotDisturb,
            "Offline" => Availability::Offline,
            _ => Availability::PresenceUnknown,
        }
    }

    /// Whether a consult call is likely to be taken.
    pub fn takes_calls(self) -> bool {
        matches!(self, Availability::Available | Availability::AvailableIdle)
    }
}

/// A Teams user the agent can consult or transfer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Expert {
    /// The Entra object id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The job title.
    pub title: Option<String>,
    /// The department.
    pub department: Option<String>,
    /// Skill tags the agent (or the admin) gave them.
    pub skills: Vec<String>,
    /// On the agent's favourites list.
    pub favourite: bool,
    /// Teams availability.
    pub availability: Availability,
    /// Teams activity (`InACall`, `InAMeeting` ...), as Graph says it.
    pub activity: String,
    /// How old the presence is, seconds (0 when just fetched).
    pub presence_age_s: u32,
    /// What `transfer` dials to reach them; none when they have no number.
    pub dial: Option<String>,
}

/// The Microsoft 365 side, for the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountState {
    /// Not signed in (experts and presence are unavailable).
    SignedOut,
    /// The browser is open at the sign-in page.
    SigningIn,
    /// Signed in.
    SignedIn {
        /// The display name.
        name: String,
        /// The sign-in name.
        upn: String,
    },
    /// Graph is throttling presence; it resumes by itself.
    Throttled {
        /// Seconds until the next try.
        retry_after_s: u32,
    },
    /// Sign-in or Graph failed; the reason says why.
    Failed {
        /// Why, in words.
        reason: String,
    },
}

/// Where note sync stands overall, for the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SyncStatus {
    /// Notes waiting to reach the CRM.
    pub pending: u32,
    /// Notes in conflict.
    pub conflicts: u32,
    /// The CRM is unreachable right now.
    pub offline: bool,
    /// No CRM is configured: notes stay on this machine.
    pub local_only: bool,
}

/// One row of the call history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct HistoryEntry {
    /// The call's id in the store.
    pub call: CallId,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The other party (E.164 where possible).
    pub party: String,
    /// The customer's name, when known.
    pub name: Option<String>,
    /// The queue, for routed calls.
    pub queue: Option<String>,
    /// The contact center's case id, for routed calls.
    pub case: Option<String>,
    /// For a warm transfer's consult call: the customer call (its `call`)
    /// it was made for.
    pub consult_for: Option<CallId>,
    /// When it started, Unix milliseconds.
    pub started_ms: f64,
    /// Whether it was answered (a short consult can last under a second).
    pub answered: bool,
    /// How long it lasted, seconds (0 when unanswered).
    pub duration_s: u32,
    /// The disposition chosen at wrap-up.
    pub disposition: Option<String>,
    /// Where it was transferred, if it was.
    pub transferred_to: Option<String>,
    /// The call's notes, joined.
    pub notes: String,
}

/// The audio devices, for settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AudioDevices {
    /// Microphones.
    pub inputs: Vec<AudioDevice>,
    /// Headsets and speakers.
    pub outputs: Vec<AudioDevice>,
    /// The chosen microphone (`default` follows the system).
    pub input: String,
    /// The chosen output.
    pub output: String,
    /// The chosen ringer output.
    pub ringer: String,
}

/// One audio device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AudioDevice {
    /// Its id for `device`.
    pub id: String,
    /// Its name for people.
    pub name: String,
}

/// Which device a `device` command sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DeviceRole {
    /// The microphone.
    Input,
    /// The headset or speaker.
    Output,
    /// Where the ringtone plays.
    Ringer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_availability_values_map_and_unknown_ones_do_not_fail() {
        assert_eq!(Availability::from_graph("BeRightBack"), Availability::BeRightBack);
        assert_eq!(Availability::from_graph("SomethingNew"), Availability::PresenceUnknown);
        assert!(Availability::from_graph("AvailableIdle").takes_calls());
        assert!(!Availability::from_graph("Busy").takes_calls());
        assert_eq!(serde_json::to_string(&Availability::DoNotDisturb).expect("json"), r#""DoNotDisturb""#);
    }
}
