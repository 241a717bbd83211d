//! The JSON-lines commands of `warmline-cli lab` (protocol version 1), for
//! the parts of the lab that do not need SIP. One JSON object a line on
//! stdin, `{"cmd": ..., "id"?: ...}`; every line on stdout is an event:
//! `{"event": "ok", "id", "result"}` or `{"event": "error", "id", "code",
//! "message"}` answer a command, [`LabEvent`](crate::LabEvent)s report what
//! happened. The protocol is documented in `docs/lab.md`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;
use crate::control::Control;
use crate::faults::{CrmOutage, GraphApi, GraphFault, GraphFaultRule, TokenFault, TokenFaultRule};
use crate::presence::{Activity, Availability, Presence};
use crate::scenario::{Answer, Audio, ConsentMode};

/// The protocol's version; it changes only for an incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// A command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LabCommand {
    /// Lists the experts with presence and behaviour.
    Experts,
    /// Sets an expert's presence and holds it until `resume_churn`.
    Presence {
        /// Object id, UPN or display name.
        expert: String,
        /// Graph availability.
        availability: Availability,
        /// Graph activity.
        activity: Activity,
    },
    /// Lets the seeded schedule change the expert's presence again.
    ResumeChurn {
        /// Object id, UPN or display name.
        expert: String,
    },
    /// Sets how an expert answers and what it sends as audio.
    Behaviour {
        /// Object id, UPN or display name.
        expert: String,
        /// `{"after_secs": 3}`, `"decline"`, `"busy"` or `"never"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<Answer>,
        /// `{"tone_hz": 440}`, `{"wav": "path"}` or `"silence"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio: Option<Audio>,
        /// A WAV file the expert writes what it hears to at the end of each
        /// call; `""` stops recording.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<std::path::PathBuf>,
    },
    /// Makes Graph fail.
    GraphFault {
        /// The failure.
        fault: GraphFault,
        /// How many requests (default 1; `null` or absent with `"until_cleared": true`: all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        times: Option<u32>,
        /// Fail every matching request until `clear_graph_faults`.
        #[serde(default)]
        until_cleared: bool,
        /// Only `me`, `users` or `presence` calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<GraphApi>,
    },
    /// Removes every Graph fault.
    ClearGraphFaults,
    /// Makes Entra's token endpoint fail.
    TokenFault {
        /// The failure.
        fault: TokenFault,
        /// How many requests (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        times: Option<u32>,
        /// Fail every token request until `clear_token_faults`.
        #[serde(default)]
        until_cleared: bool,
    },
    /// Removes every token endpoint fault.
    ClearTokenFaults,
    /// Expires every access token issued so far.
    ExpireTokens,
    /// Revokes refresh tokens (one user's, or everyone's).
    RevokeSignIns {
        /// UPN or object id; everyone when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upn: Option<String>,
    },
    /// Withdraws the tenant's consent to a permission (Graph answers 403).
    RevokePermission {
        /// Such as `Presence.Read.All`.
        permission: String,
    },
    /// Grants a permission again.
    GrantPermission {
        /// Such as `Presence.Read.All`.
        permission: String,
    },
    /// How `/authorize` asks for consent: `page` or `auto`.
    Consent {
        /// The mode.
        mode: ConsentMode,
    },
    /// Approves a device code.
    ApproveDevice {
        /// The code the device shows.
        user_code: String,
        /// Who signs in (default: the first agent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upn: Option<String>,
    },
    /// Declines a device code.
    DenyDevice {
        /// The code the device shows.
        user_code: String,
    },
    /// Makes the CRM misbehave: `{"cmd": "crm_outage", "outage": {"mode": "unavailable"}}`.
    CrmOutage {
        /// The outage (`{"mode": "none"}` ends it).
        outage: CrmOutage,
    },
    /// Lists the CRM's notes.
    CrmNotes,
    /// Moves a manual clock forward (tests).
    Advance {
        /// Seconds.
        secs: f64,
    },
    /// Places a simulated customer call to a queue (WebRTC audio).
    Call {
        /// The caller's number (E.164).
        from: String,
        /// The queue.
        queue: String,
        /// The customer's voice: `{"tone_hz": 440}` (default), `{"wav": "path"}` or `"silence"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio: Option<Audio>,
        /// A WAV file for what the customer hears, written when the call ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<std::path::PathBuf>,
    },
    /// Hangs up a simulated customer.
    Hangup {
        /// The customer id `call` returned (`K1`).
        customer: String,
    },
    /// Lists the agents' SIP accounts for this run (passwords included).
    SipAccounts,
    /// Ends the session ([`crate::Lab::serve_lines`] returns after replying).
    Quit,
}

/// A command line: the command and an optional id the reply echoes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandLine {
    /// Echoed in the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// The command.
    #[serde(flatten)]
    pub command: LabCommand,
}

fn times(times: Option<u32>, until_cleared: bool) -> Option<u32> {
    if until_cleared { None } else { Some(times.unwrap_or(1).max(1)) }
}

impl Control {
    /// Runs one command; the result is the `result` of the `ok` reply.
    pub fn execute(&self, command: LabCommand) -> Result<Value, Error> {
        let status = |s: crate::ExpertStatus| serde_json::to_value(s).unwrap_or(Value::Null);
        Ok(match command {
            LabCommand::Experts => serde_json::to_value(self.experts()).unwrap_or(Value::Null),
            LabCommand::Presence { expert, availability, activity } => {
                status(self.set_presence(&expert, Presence { availability, activity })?)
            }
            LabCommand::ResumeChurn { expert } => status(self.resume_churn(&expert)?),
            LabCommand::Behaviour { expert, answer, audio, record } => {
                let mut s = self.expert(&expert)?;
                if let Some(path) = record {
                    let path = (!path.as_os_str().is_empty()).then_some(path);
                    s = self.set_recording(&expert, path)?;
                }
                if let Some(a) = answer {
                    s = self.set_answer(&expert, a)?;
                }
                if let Some(a) = audio {
                    s = self.set_audio(&expert, a)?;
                }
                status(s)
            }
            LabCommand::GraphFault { fault, times: n, until_cleared, api } => {
                self.inject_graph_fault(GraphFaultRule { fault, times: times(n, until_cleared), api });
                Value::Null
            }
            LabCommand::ClearGraphFaults => {
                self.clear_graph_faults();
                Value::Null
            }
            LabCommand::TokenFault { fault, times: n, until_cleared } => {
                self.inject_token_fault(TokenFaultRule { fault, times: times(n, until_cleared) });
                Value::Null
            }
            LabCommand::ClearTokenFaults => {
                self.clear_token_faults();
                Value::Null
            }
            LabCommand::ExpireTokens => {
                self.expire_access_tokens();
                Value::Null
            }
            LabCommand::RevokeSignIns { upn } => json!({ "revoked": self.revoke_sign_ins(upn.as_deref())? }),
            LabCommand::RevokePermission { permission } => {
                self.revoke_permission(&permission)?;
                Value::Null
            }
            LabCommand::GrantPermission { permission } => {
                self.grant_permission(&permission)?;
                Value::Null
            }
            LabCommand::Consent { mode } => {
                self.set_consent_mode(mode);
                Value::Null
            }
            LabCommand::ApproveDevice { user_code, upn } => {
                self.approve_device_code(&user_code, upn.as_deref())?;
                Value::Null
            }
            LabCommand::DenyDevice { user_code } => {
                self.deny_device_code(&user_code)?;
                Value::Null
            }
            LabCommand::CrmOutage { outage } => {
                self.set_crm_outage(outage);
                Value::Null
            }
            LabCommand::CrmNotes => serde_json::to_value(self.crm_notes()?).unwrap_or(Value::Null),
            LabCommand::Advance { secs } => {
                if !(secs.is_finite() && secs >= 0.0) {
                    return Err(Error::BadCommand("advance: secs must be a number >= 0".into()));
                }
                self.advance(std::time::Duration::from_secs_f64(secs))?;
                json!({ "now_ms": self.now_ms() })
            }
            LabCommand::Call { from, queue, audio, record } => {
                let audio = audio.unwrap_or(Audio::ToneHz(440.0));
                let call = crate::customer::CustomerCall {
                    from,
                    name: None,
                    queue,
                    audio,
                    record,
                    reoffers: Default::default(),
                };
                json!({ "customer": self.place_call(call)?.id })
            }
            LabCommand::Hangup { customer } => {
                self.hang_up_customer(&customer)?;
                Value::Null
            }
            LabCommand::SipAccounts => serde_json::to_value(self.sip_accounts()).unwrap_or(Value::Null),
            LabCommand::Quit => Value::Null,
        })
    }

    /// Runs one JSON line and returns the reply line (without newline).
    /// Malformed lines get an `error` reply, never a panic.
    pub fn execute_line(&self, line: &str) -> String {
        self.execute_line_for_quit(line).0
    }

    /// [`Control::execute_line`], and whether the line was `quit`.
    pub(crate) fn execute_line_for_quit(&self, line: &str) -> (String, bool) {
        let parsed: Result<CommandLine, _> = serde_json::from_str(line);
        let quit = matches!(&parsed, Ok(CommandLine { command: LabCommand::Quit, .. }));
        let (id, result) = match parsed {
            Ok(c) => (c.id, self.execute(c.command)),
            Err(e) => {
                // Echo the id even when the rest does not parse.
                let id = serde_json::from_str::<Value>(line).ok().and_then(|v| v.get("id").cloned());
                (id, Err(Error::BadCommand(e.to_string())))
            }
        };
        let mut reply = match result {
            Ok(result) => json!({ "event": "ok", "result": result }),
            Err(e) => json!({ "event": "error", "code": e.code(), "message": e.to_string() }),
        };
        if let Some(id) = id {
            reply["id"] = id;
        }
        (reply.to_string(), quit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> CommandLine {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn the_documented_command_lines_parse() {
        let c = parse(
            r#"{"id":1,"cmd":"presence","expert":"priya.natarajan@northwind.example.com","availability":"Busy","activity":"InACall"}"#,
        );
        assert_eq!(c.id, Some(json!(1)));
        assert!(matches!(c.command, LabCommand::Presence { availability: Availability::Busy, .. }));
        assert_eq!(
            parse(r#"{"cmd":"graph_fault","fault":{"kind":"throttle","retry_after":10},"times":3,"api":"presence"}"#)
                .command,
            LabCommand::GraphFault {
                fault: GraphFault::Throttle { retry_after: 10.0 },
                times: Some(3),
                until_cleared: false,
                api: Some(GraphApi::Presence)
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"crm_outage","outage":{"mode":"slow","delay_ms":2000}}"#).command,
            LabCommand::CrmOutage { outage: CrmOutage::Slow { delay_ms: 2000 } }
        );
        assert_eq!(
            parse(r#"{"cmd":"behaviour","expert":"Emily Carter","answer":{"after_secs":1.5}}"#).command,
            LabCommand::Behaviour {
                expert: "Emily Carter".into(),
                answer: Some(Answer::AfterSecs(1.5)),
                audio: None,
                record: None
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"approve_device","user_code":"ABCDEFGHI"}"#).command,
            LabCommand::ApproveDevice { user_code: "ABCDEFGHI".into(), upn: None }
        );
    }

    #[test]
    fn counts_default_to_once_and_can_be_open_ended() {
        assert_eq!(times(None, false), Some(1));
        assert_eq!(times(Some(3), false), Some(3));
        assert_eq!(times(Some(3), true), None);
    }
}
