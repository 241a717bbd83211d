//! The embedded contact center: with no configuration file, the desktop
//! app and `warmline-cli agent --lab` start the lab in-process (loopback,
//! ephemeral ports) and sign the agent in to it as its first agent, so
//! Warmline can be tried with nothing installed.
//!
//! The agent talks to the lab exactly as to real servers: SIP over
//! WebSocket with digest, PUBLISH for availability, the CRM over HTTP with
//! a bearer token, Entra and Graph over OAuth. Only the addresses and the
//! lab's own credentials come from here.

use std::path::Path;

use warmline_lab::{Lab, Scenario};
use warmline_secrets::Secret;

use crate::Error;
use crate::config::Config;
use crate::session::{AudioInput, AudioOutput, SessionConfig};

/// A running lab and the session configuration that uses it.
pub struct Embedded {
    /// The lab; dropping it stops it.
    pub lab: Lab,
    /// The configuration the session runs with (as if read from a file).
    pub config: Config,
    /// The session's configuration, with the lab's credentials.
    pub session: SessionConfig,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("endpoints", self.lab.endpoints()).finish_non_exhaustive()
    }
}

/// Starts the lab from `scenario` (the default scenario when `None`) and
/// builds the session for agent `who` (extension or UPN; the scenario's
/// first agent when `None`). No store is set: the caller chooses one.
pub async fn start(
    scenario: Option<&Path>,
    who: Option<&str>,
    audio_in: AudioInput,
    audio_out: AudioOutput,
) -> Result<Embedded, Error> {
    let scenario = match scenario {
        Some(path) => Scenario::load(path).map_err(|e| Error::Config(format!("lab scenario: {e}")))?,
        None => Scenario::default_scenario(),
    };
    start_scenario(scenario, who, audio_in, audio_out).await
}

/// [`start`] with a scenario already in hand, for callers that adjust one
/// before the lab starts (a benchmark that places every call itself turns
/// the scenario's scheduled arrivals off, so none of them reaches its agent).
pub async fn start_scenario(
    scenario: Scenario,
    who: Option<&str>,
    audio_in: AudioInput,
    audio_out: AudioOutput,
) -> Result<Embedded, Error> {
    let lab = Lab::start(scenario).await.map_err(|e| Error::Config(format!("the embedded lab did not start: {e}")))?;
    let first = lab.scenario().agents.first().map(|a| a.extension.clone());
    let who = who.map(str::to_owned).or(first).ok_or_else(|| Error::Config("the lab scenario has no agents".into()))?;
    let account = lab.control().sip_account(&who).map_err(|e| Error::Config(format!("lab agent {who}: {e}")))?;
    let name = lab
        .scenario()
        .agents
        .iter()
        .find(|a| a.extension == account.extension)
        .map(|a| a.name.clone())
        .unwrap_or_else(|| account.extension.clone());
    let e = lab.endpoints().clone();
    let sip_ws = e.sip_ws.clone().ok_or_else(|| Error::Config("the lab has no SIP endpoint".into()))?;
    let text = format!(
        "acd = \"pidf\"\n\
         [sip]\nservers = [{sip_ws:?}]\nuser = {aor:?}\nauth_user = {ext:?}\ndisplay_name = {name:?}\n\
         [crm]\nkind = \"rest\"\nurl = {crm:?}\n\
         [microsoft365]\ntenant = {tenant:?}\nclient_id = {client:?}\nauthority = {authority:?}\ngraph = {graph:?}\n",
        aor = account.aor,
        ext = account.extension,
        crm = e.crm_base,
        tenant = e.entra_tenant,
        client = e.entra_client_id,
        authority = e.entra_authority,
        graph = e.graph_base,
    );
    let config = Config::parse(Path::new("<embedded lab>"), &text).map_err(|e| Error::Config(e.to_string()))?;
    let mut session = SessionConfig::from_config(&config, account.password.clone(), audio_in, audio_out)?;
    let rest = warmline_store::rest::RestConfig {
        base_url: e.crm_base.clone(),
        country_code: config.agent.country_code,
        ..Default::default()
    };
    let token = Secret::from(lab.crm_token().to_owned());
    let crm = warmline_store::rest::RestConnector::new(rest, &token)
        .map_err(|e| Error::Store(format!("the lab's CRM connector: {e}")))?;
    session.crm = Some(crm);
    session.info.backend = crate::view::Backend::Lab;
    // Settings saved from the app go to the user's own file (then the
    // next start uses the real SBC instead of this lab).
    session.config_file = None;
    Ok(Embedded { lab, config, session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scenario_without_arrivals_sends_the_agent_no_calls_of_its_own() {
        // The default scenario places calls by itself, which a benchmark
        // placing its own could answer in their stead.
        let default = start(None, Some("1001"), AudioInput::Silence, AudioOutput::Discard).await.expect("the lab");
        assert!(default.lab.control().next_arrival_ms().is_some(), "the default scenario schedules callers");
        let quiet = start_scenario(
            Scenario::default_scenario().without_arrivals(),
            Some("1001"),
            AudioInput::Silence,
            AudioOutput::Discard,
        )
        .await
        .expect("the lab");
        assert_eq!(quiet.lab.control().next_arrival_ms(), None, "no scheduled caller");
        assert_eq!(quiet.session.info.backend, crate::view::Backend::Lab);
    }

    #[tokio::test]
    async fn a_microphone_that_does_not_open_is_reported_and_the_agent_still_registers() {
        let embedded =
            start(None, Some("1002"), AudioInput::Device(Some("no-such-device".into())), AudioOutput::Discard)
                .await
                .expect("the lab");
        let (session, mut events) = crate::Session::start(embedded.session).await.expect("the session starts");
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
