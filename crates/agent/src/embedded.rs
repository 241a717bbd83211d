//! The session for an agent of the embedded contact center. With no
//! configuration file, the desktop app and `warmline-cli agent --lab` start
//! the lab in-process (loopback, ephemeral ports) and compose it with the
//! agent: the lab hands over a configuration file's text and two secrets
//! (`warmline_lab::Lab::agent_sign_in`), and this builds the session from
//! them. The agent crate does not depend on the lab (only its tests do).
//!
//! The agent talks to the lab exactly as to real servers: SIP over
//! WebSocket with digest, PUBLISH for availability, the CRM over HTTP with
//! a bearer token, Entra and Graph over OAuth. Only the addresses and the
//! lab's own credentials come from here.

use std::path::Path;

use warmline_secrets::Secret;

use crate::Error;
use crate::config::Config;
use crate::session::{AudioInput, AudioOutput, SessionConfig};

/// The session for a lab agent: `config` is the configuration file's text
/// the lab wrote, `password` the SIP password, `crm_token` the CRM's bearer
/// token. No store is set: the caller chooses one.
pub fn lab_session(
    config: &str,
    password: String,
    crm_token: &str,
    audio_in: AudioInput,
    audio_out: AudioOutput,
) -> Result<(Config, SessionConfig), Error> {
    let config = Config::parse(Path::new("<embedded lab>"), config).map_err(|e| Error::Config(e.to_string()))?;
    let mut session = SessionConfig::from_config(&config, password, audio_in, audio_out)?;
    if let crate::config::CrmConfig::Rest { url } = &config.crm {
        let rest = warmline_store::rest::RestConfig {
            base_url: url.clone(),
            country_code: config.agent.country_code,
            ..Default::default()
        };
        let token = Secret::from(crm_token.to_owned());
        let crm = warmline_store::rest::RestConnector::new(rest, &token)
            .map_err(|e| Error::Store(format!("the lab's CRM connector: {e}")))?;
        session.crm = Some(crm);
    }
    session.info.backend = crate::view::Backend::Lab;
    // Settings saved from the app go to the user's own file (then the
    // next start uses the real SBC instead of this lab).
    session.config_file = None;
    Ok((config, session))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use warmline_lab::{Lab, Scenario};

    /// A lab and the session of its agent `who`, composed as the shells do.
    pub(crate) async fn lab_and_session(
        scenario: Scenario,
        who: Option<&str>,
        audio_in: AudioInput,
        audio_out: AudioOutput,
    ) -> (Lab, SessionConfig) {
        let lab = Lab::start(scenario).await.expect("the lab starts");
        let sign_in = lab.agent_sign_in(who).expect("a lab agent");
        let (_, session) =
            lab_session(&sign_in.config, sign_in.password, &sign_in.crm_token, audio_in, audio_out).expect("session");
        (lab, session)
    }

    #[tokio::test]
    async fn a_scenario_without_arrivals_sends_the_agent_no_calls_of_its_own() {
        // The default scenario places calls by itself, which a benchmark
        // placing its own could answer in their stead.
        let (default, _) =
            lab_and_session(Scenario::default_scenario(), Some("1001"), AudioInput::Silence, AudioOutput::Discard)
                .await;
        assert!(default.control().next_arrival_ms().is_some(), "the default scenario schedules callers");
        let (quiet, session) = lab_and_session(
            Scenario::default_scenario().without_arrivals(),
            Some("1001"),
            AudioInput::Silence,
            AudioOutput::Discard,
        )
        .await;
        assert_eq!(quiet.control().next_arrival_ms(), None, "no scheduled caller");
        assert_eq!(session.info.backend, crate::view::Backend::Lab);
        assert!(session.crm.is_some(), "the lab's CRM is configured");
    }

    #[tokio::test]
    async fn a_microphone_that_does_not_open_is_reported_and_the_agent_still_registers() {
        let (_lab, session) = lab_and_session(
            Scenario::default_scenario(),
            Some("1002"),
            AudioInput::Device(Some("no-such-device".into())),
            AudioOutput::Discard,
        )
        .await;
        let (session, mut events) = crate::Session::start(session).await.expect("the session starts");
        let (mut told, mut registered) = (None, false);
        while told.is_none() || !registered {
            match tokio::time::timeout(std::time::Duration::from_secs(20), events.recv()).await {
                Ok(Some(crate::AgentEvent::Error(e))) => told = Some(e),
                Ok(Some(crate::AgentEvent::Registration { registration: crate::RegistrationState::Registered })) => {
                    registered = true
                }
                Ok(Some(_)) => {}
                other => panic!("the session stopped short ({other:?}); told {told:?}, registered {registered}"),
            }
        }
        let told = told.expect("an error event");
        assert_eq!(told.code, crate::ErrorCode::Media);
        assert!(told.message.contains("microphone") && told.message.contains("Settings"), "{}", told.message);
        session.command(crate::AgentCommand::Quit).await.expect("quit");
    }
}
