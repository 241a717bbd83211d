//! What the lab hands one of its agents, as an administrator would: the
//! Warmline configuration file for this run (its SIP WebSocket, the CRM,
//! Entra and Graph on loopback) and the two secrets that stay out of it.
//! The desktop shell and `warmline-cli agent --lab` compose the lab and
//! the agent session from it; neither crate depends on the other.

use crate::{Error, Lab};

/// One agent's way in to a running lab.
pub struct AgentSignIn {
    /// The agent's extension.
    pub extension: String,
    /// A complete `warmline.toml` for this lab, as an admin would write it.
    pub config: String,
    /// The SIP digest password (a secret: never logged).
    pub password: String,
    /// The CRM's bearer token for this run (a secret: never logged).
    pub crm_token: String,
}

impl std::fmt::Debug for AgentSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSignIn")
            .field("extension", &self.extension)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Lab {
    /// Starts the lab from the scenario file at `path`, or the default
    /// scenario (what the desktop and `warmline-cli agent --lab` run).
    pub async fn start_from(path: Option<&std::path::Path>) -> Result<Lab, Error> {
        let scenario = match path {
            Some(path) => crate::Scenario::load(path)?,
            None => crate::Scenario::default_scenario(),
        };
        Lab::start(scenario).await
    }

    /// The sign-in of agent `who` (extension or UPN; the scenario's first
    /// agent when `None`).
    pub fn agent_sign_in(&self, who: Option<&str>) -> Result<AgentSignIn, Error> {
        let first = self.scenario().agents.first().map(|a| a.extension.clone());
        let who = who
            .map(str::to_owned)
            .or(first)
            .ok_or_else(|| Error::UnknownUser("(the scenario has no agents)".into()))?;
        let account = self.control().sip_account(&who)?;
        let name = self
            .scenario()
            .agents
            .iter()
            .find(|a| a.extension == account.extension)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| account.extension.clone());
        let e = self.endpoints();
        let sip_ws = e.sip_ws.clone().ok_or(Error::NotAvailable)?;
        let config = format!(
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
        Ok(AgentSignIn {
            extension: account.extension,
            config,
            password: account.password,
            crm_token: self.crm_token().to_owned(),
        })
    }
}
