//! What a front end asks of the agent session. `warmline-cli agent` reads
//! these as JSON lines on stdin (`{"cmd": "dial", "to": "+15551234567"}`),
//! with an optional `"id"` that the reply echoes, and `"call"` to pick one
//! call where several exist. Like the events, the JSON shape is a public,
//! versioned interface: fields are added, never renamed.

use serde::{Deserialize, Serialize};

use crate::CallId;
use crate::view::DeviceRole;

/// The version of the JSON-lines protocol (`warmline-cli agent`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The state an agent can choose; on a call and wrap-up follow from calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ChosenState {
    /// Ready for calls.
    Available,
    /// Not taking calls, with a reason.
    Away,
    /// Signed out of the contact center.
    Offline,
}

/// How a transfer hands the customer over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Consult first (the customer is held), then complete or cancel.
    Warm,
    /// Hand over at once.
    Blind,
    /// Call the expert (the customer is held) and join all three as soon
    /// as the expert answers; then complete or leave as in a warm transfer.
    Conference,
}

/// A password in a command: never shown by `Debug` (commands are logged
/// when refused).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// One command to the agent session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AgentCommand {
    /// Set the agent's own state.
    State {
        /// The new state.
        state: ChosenState,
        /// Why, for `away`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Answer the ringing call.
    Answer {
        /// Which call; the ringing one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Reject the ringing call.
    Reject {
        /// Which call; the ringing one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Call a number or SIP URI (subject to the dial policy).
    Dial {
        /// E.164 number, extension or SIP URI.
        to: String,
    },
    /// Put a call on hold.
    Hold {
        /// Which call; the active one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Take a call off hold.
    Resume {
        /// Which call; the held one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Mute or unmute the microphone.
    Mute {
        /// Muted or not.
        on: bool,
    },
    /// Send DTMF digits (never logged).
    Dtmf {
        /// 0-9, *, #, A-D.
        digits: String,
        /// Which call; the active one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Hang up.
    Hangup {
        /// Which call; the active one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Transfer the customer to an expert or number.
    Transfer {
        /// Dial target of the expert (or a number).
        to: String,
        /// Warm (consult first) or blind.
        mode: TransferMode,
        /// Which call; the active one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Hand the customer to the consulted expert.
    CompleteTransfer,
    /// Drop the consult and go back to the customer.
    CancelTransfer,
    /// Join the customer and the consulted expert in a three-way call.
    Conference,
    /// Save a note (autosave sends the whole text each time).
    Note {
        /// The note's text.
        text: String,
        /// The note to update; a new note when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The call it belongs to; the current (or wrap-up) call when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
    /// Finish wrap-up with a disposition code.
    Wrapup {
        /// The disposition code.
        disposition: String,
    },
    /// Record a disposition code for the call in wrap-up (or the last
    /// call) now, and stay in wrap-up; a later one replaces it.
    Disposition {
        /// The disposition code.
        disposition: String,
    },
    /// Search the Teams expert directory.
    Experts {
        /// Name, skill or department.
        query: String,
    },
    /// Add an expert to favourites or take them off.
    Favourite {
        /// The expert's id.
        expert: String,
        /// On the list or not.
        on: bool,
    },
    /// Search the call history (number, name, note text); all recent calls when empty.
    History {
        /// What to look for.
        #[serde(default)]
        query: String,
    },
    /// Sign in to Microsoft 365 in the system browser.
    SignIn,
    /// Sign out of Microsoft 365 (the refresh token leaves the keyring).
    SignOut,
    /// List the audio devices.
    Devices,
    /// The connection settings (SBC, SIP account, Microsoft 365 tenant) and
    /// the file they are in; a `connection` event answers.
    Connection,
    /// Save connection settings into the configuration file (and the SIP
    /// password, if given, into the keyring); they apply at the next start.
    Configure {
        /// The settings.
        settings: crate::connection::ConnectionSettings,
        /// The SIP password; none keeps the one in the keyring.
        password: Option<Password>,
    },
    /// Choose an audio device (`default` follows the system), mid-call too.
    Device {
        /// Which one.
        role: DeviceRole,
        /// The device id from `devices`.
        id: String,
    },
    /// Play a test tone on the output (or ringer) device.
    TestTone {
        /// Which output.
        role: DeviceRole,
    },
    /// Report the microphone level as `level` events, for the meter.
    Meter {
        /// Start or stop.
        on: bool,
    },
    /// Leave: un-REGISTER, stop media, flush notes.
    Quit,
}

/// A command line as the CLI reads it: the command, plus an optional id
/// that the reply echoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandLine {
    /// Echoed in the reply, so a script can match replies to commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// The command itself.
    #[serde(flatten)]
    pub command: AgentCommand,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> CommandLine {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn the_documented_command_lines_parse() {
        assert_eq!(
            parse(r#"{"cmd":"state","state":"away","reason":"lunch","id":7}"#),
            CommandLine {
                id: Some(serde_json::json!(7)),
                command: AgentCommand::State { state: ChosenState::Away, reason: Some("lunch".into()) }
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"transfer","to":"sip:+14255550100@sbc.example.com","mode":"warm"}"#).command,
            AgentCommand::Transfer {
                to: "sip:+14255550100@sbc.example.com".into(),
                mode: TransferMode::Warm,
                call: None
            }
        );
        assert_eq!(parse(r#"{"cmd":"mute","on":true}"#).command, AgentCommand::Mute { on: true });
        assert_eq!(parse(r#"{"cmd":"complete_transfer"}"#).command, AgentCommand::CompleteTransfer);
        assert_eq!(parse(r#"{"cmd":"quit"}"#).command, AgentCommand::Quit);
        assert_eq!(parse(r#"{"cmd":"hangup","call":"c2"}"#).command, AgentCommand::Hangup { call: Some("c2".into()) });
    }

    #[test]
    fn unknown_or_malformed_commands_are_errors_not_panics() {
        for line in [r#"{"cmd":"explode"}"#, r#"{"cmd":"dial"}"#, r#"{"cmd":"mute","on":"yes"}"#, "not json", "{}"] {
            assert!(serde_json::from_str::<CommandLine>(line).is_err(), "{line} must be rejected");
        }
    }

    #[test]
    fn commands_round_trip() {
        let c = CommandLine { id: None, command: AgentCommand::Dtmf { digits: "1234#".into(), call: None } };
        let text = serde_json::to_string(&c).expect("json");
        assert_eq!(text, r#"{"cmd":"dtmf","digits":"1234#"}"#);
        assert_eq!(serde_json::from_str::<CommandLine>(&text).expect("back"), c);
    }
}
