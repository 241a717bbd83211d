//! The scenario file as serde reads it: the same shape as the public types,
//! with source spans on every value a semantic check may point at.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Answer, Audio, ConsentMode};
use crate::presence::Presence;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Scenario {
    pub name: Option<String>,
    pub seed: u64,
    pub tenant: Option<Tenant>,
    #[serde(default)]
    pub entra: Entra,
    #[serde(default)]
    pub crm: Crm,
    #[serde(default)]
    pub queues: Vec<Queue>,
    #[serde(default)]
    pub agents: Vec<Agent>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub experts: Vec<Expert>,
    pub presence_churn: Option<Churn>,
    #[serde(default)]
    pub arrivals: Arrivals,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Tenant {
    pub domain: Spanned<String>,
    pub display_name: Option<String>,
    pub id: Option<Spanned<String>>,
    pub client_id: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entra {
    pub consent: Option<ConsentMode>,
    pub access_token_lifetime_secs: Option<Spanned<u64>>,
    pub refresh_token_inactive_days: Option<Spanned<u64>>,
    pub device_code_lifetime_secs: Option<Spanned<u64>>,
    pub device_code_interval_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Crm {
    pub token: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Queue {
    pub name: Spanned<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    pub arrival_weight: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Agent {
    pub name: Spanned<String>,
    pub upn: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub extension: Spanned<String>,
    #[serde(default)]
    pub queues: Vec<Spanned<String>>,
    pub job_title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Customer {
    pub id: Spanned<String>,
    pub name: Spanned<String>,
    #[serde(default)]
    pub phones: Vec<Spanned<String>>,
    #[serde(default)]
    pub emails: Vec<Spanned<String>>,
    pub account: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub interactions: Vec<Interaction>,
    #[serde(default)]
    pub notes: Vec<Note>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Interaction {
    pub id: Option<String>,
    pub days_ago: Spanned<f64>,
    pub channel: String,
    pub summary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Note {
    pub days_ago: Spanned<f64>,
    pub author: Option<String>,
    pub body: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Expert {
    pub name: Spanned<String>,
    pub upn: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub mail: Option<Spanned<String>>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub phone: Option<Spanned<String>>,
    #[serde(default)]
    pub skills: Vec<String>,
    pub presence: Option<Presence>,
    pub churn: Option<bool>,
    pub answer: Option<Spanned<Answer>>,
    pub audio: Option<Spanned<Audio>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Churn {
    pub mean_interval_secs: Spanned<f64>,
    #[serde(default)]
    pub states: Vec<ChurnState>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChurnState {
    pub availability: crate::presence::Availability,
    pub activity: crate::presence::Activity,
    pub weight: Spanned<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Arrivals {
    pub per_hour: Option<Spanned<f64>>,
}
