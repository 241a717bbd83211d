//! The scenario: who works in the lab's contact center, who calls, which
//! Teams experts can help and how they behave. A TOML file with a seed, so
//! the same file gives the same day every time.
//!
//! The default scenario ships in `assets/lab/default-scenario.toml` and is
//! compiled in ([`Scenario::default_scenario`]). A file with a mistake is
//! refused with the line, the column and the field:
//!
//! ```text
//! my-scenario.toml:57:12: customers[3].phones: "+1 425 555" is not an E.164 number (+ and 8 to 15 digits)
//! ```

mod locate;
mod raw;

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

pub(crate) use locate::locate;

use crate::presence::{ChurnConfig, Presence, WeightedPresence};

/// The default scenario's text (`assets/lab/default-scenario.toml`).
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../../../../assets/lab/default-scenario.toml");

/// A whole scenario, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// A name for logs.
    pub name: String,
    /// Seeds presence churn, arrivals and everything else random.
    pub seed: u64,
    /// The Entra tenant and the app registration the lab accepts.
    pub tenant: Tenant,
    /// How the Entra stand-in behaves.
    pub entra: EntraSettings,
    /// How the CRM stand-in behaves.
    pub crm: CrmSettings,
    /// The contact center's queues.
    pub queues: Vec<Queue>,
    /// The agents (Warmline users; also Teams users in the tenant).
    pub agents: Vec<Agent>,
    /// The customers the CRM knows.
    pub customers: Vec<Customer>,
    /// The Teams experts.
    pub experts: Vec<Expert>,
    /// How experts' presence changes on its own.
    pub presence_churn: ChurnConfig,
    /// How often customers call.
    pub arrivals: ArrivalSettings,
    /// The directory relative audio paths are resolved from (the file's own
    /// directory; `assets/lab` for the default scenario).
    pub base_dir: Option<PathBuf>,
}

/// The Entra tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant id (a GUID).
    pub id: String,
    /// Its primary domain; user principal names end in it.
    pub domain: String,
    /// The organisation's name.
    pub display_name: String,
    /// The application (client) id of the public-client app Warmline signs in with.
    pub client_id: String,
}

/// How `/authorize` gets the user's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// An HTML page (no script) where a person picks who signs in and
    /// accepts; the form redirects to the app's loopback `redirect_uri`.
    Page,
    /// `/authorize` redirects at once, signing in the `login_hint` user or
    /// the first agent (for tests and headless runs).
    Auto,
}

/// Entra stand-in settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntraSettings {
    /// How consent is given.
    pub consent: ConsentMode,
    /// `expires_in` of access tokens (Entra: 3599, about an hour).
    pub access_token_lifetime_secs: u64,
    /// A refresh token unused this long stops working (Entra: 90 days).
    pub refresh_token_inactive_days: u64,
    /// How long a device code can be approved (Entra: 900 s).
    pub device_code_lifetime_secs: u64,
    /// The polling interval the device code response asks for (RFC 8628: 5 s).
    pub device_code_interval_secs: u64,
}

/// CRM stand-in settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmSettings {
    /// The bearer token the CRM accepts; a random one per start when unset.
    pub token: Option<String>,
}

/// A queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queue {
    /// Its name, as routed calls carry it.
    pub name: String,
    /// Skills an agent needs for it.
    pub skills: Vec<String>,
    /// Relative share of simulated arrivals.
    pub arrival_weight: u32,
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    /// Entra object id (a GUID; derived from the UPN when not given).
    pub id: String,
    /// Display name.
    pub name: String,
    /// User principal name, the sign-in name.
    pub upn: String,
    /// SIP user / extension the agent registers as.
    pub extension: String,
    /// Queues the agent serves.
    pub queues: Vec<String>,
    /// Job title shown in the directory.
    pub job_title: Option<String>,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    /// The CRM's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Phone numbers, E.164.
    pub phones: Vec<String>,
    /// E-mail addresses, lower case.
    pub emails: Vec<String>,
    /// Account number.
    pub account: Option<String>,
    /// Free-form CRM fields, shown in the screen pop.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Past contacts.
    pub interactions: Vec<Interaction>,
    /// Notes already in the CRM.
    pub notes: Vec<SeedNote>,
}

/// A past contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interaction {
    /// The CRM's id for it.
    pub id: String,
    /// How long ago, in days, counted from the lab's start.
    pub days_ago: f64,
    /// `phone`, `email`, `chat`...
    pub channel: String,
    /// One line.
    pub summary: String,
}

/// A note already in the CRM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedNote {
    /// How long ago, in days.
    pub days_ago: f64,
    /// Who wrote it.
    pub author: Option<String>,
    /// The text.
    pub body: String,
}

/// A Teams expert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expert {
    /// Entra object id (a GUID; derived from the UPN when not given).
    pub id: String,
    /// Display name.
    pub name: String,
    /// First name (the display name's first word when not given).
    pub given_name: String,
    /// Last name (the rest of the display name).
    pub surname: String,
    /// User principal name.
    pub upn: String,
    /// Mail address (the UPN when not given).
    pub mail: String,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Office number, E.164 (the Direct Routing number a consult dials).
    pub phone: Option<String>,
    /// Skill tags.
    pub skills: Vec<String>,
    /// Presence at the start.
    pub presence: Presence,
    /// Whether presence changes on its own.
    pub churn: bool,
    /// What the expert does when called.
    pub answer: Answer,
    /// What the expert says on a call.
    pub audio: Audio,
}

/// How a simulated expert (or later a simulated party) handles a call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Answers after this many seconds of ringing (`answer = { after_secs = 3 }`).
    AfterSecs(f64),
    /// Declines at once (`answer = "decline"`: 603 Decline).
    Decline,
    /// Is busy (`answer = "busy"`: 486 Busy Here).
    Busy,
    /// Lets it ring (`answer = "never"`).
    Never,
}

/// What a simulated party sends as its voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audio {
    /// Nothing (`audio = "silence"`).
    Silence,
    /// A sine tone, Hz (`audio = { tone_hz = 440 }`); each party its own, so
    /// a test can tell who it hears.
    ToneHz(f64),
    /// A WAV file, relative to the scenario's directory (`audio = { wav = "audio/prompt.wav" }`).
    Wav(PathBuf),
}

/// Simulated arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArrivalSettings {
    /// Calls an hour on average (0: only on demand).
    pub per_hour: f64,
}

/// A scenario that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{}{line}:{column}: {}{message}", file.as_ref().map(|f| format!("{}:", f.display())).unwrap_or_default(), if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Invalid {
        /// The file, when the scenario came from one.
        file: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field, as a path (`experts[2].upn`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// This scenario with no scheduled callers: for a harness that places
    /// every call itself (a scheduled caller could take its call's place).
    pub fn without_arrivals(mut self) -> Scenario {
        self.arrivals.per_hour = 0.0;
        self
    }

    /// The scenario `make run` uses.
    pub fn default_scenario() -> Scenario {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/lab");
        match Scenario::from_toml(DEFAULT_SCENARIO_TOML, None) {
            Ok(mut s) => {
                s.base_dir = Some(base);
                s
            }
            // A test keeps the shipped file valid; this arm is unreachable in a tested build.
            Err(e) => panic!("the shipped default scenario is invalid: {e}"),
        }
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
        Scenario::from_toml(&text, Some(path))
    }

    /// Parses and validates scenario text; `file` is named in errors and
    /// gives the directory audio paths are relative to.
    pub fn from_toml(text: &str, file: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let located = |range: Range<usize>, field: Option<&str>, message: String| {
            let at = locate(text, range.start);
            ScenarioError::Invalid {
                file: file.map(Path::to_path_buf),
                line: at.line,
                column: at.column,
                field: field.map_or(at.path, str::to_string),
                message,
            }
        };
        let raw: raw::Scenario = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            located(e.span().unwrap_or(0..0), None, message)
        })?;
        let base_dir = file.and_then(Path::parent).map(Path::to_path_buf);
        let check_dir = base_dir.clone();
        Check { text, base_dir: check_dir.as_deref(), errors: Vec::new(), located: &located }.scenario(raw, base_dir)
    }
}

type Locator<'a> = dyn Fn(Range<usize>, Option<&str>, String) -> ScenarioError + 'a;

/// Semantic checks; the first failure is reported.
struct Check<'a> {
    text: &'a str,
    base_dir: Option<&'a Path>,
    errors: Vec<ScenarioError>,
    located: &'a Locator<'a>,
}

const DEFAULT_CLIENT_ID: &str = "a7f3c2e1-5b4d-4e8f-9c6a-0d1e2f3a4b5c";

impl Check<'_> {
    fn fail<T>(&mut self, span: Range<usize>, field: String, message: impl Into<String>) -> Option<T> {
        let e = (self.located)(span, Some(&field), message.into());
        self.errors.push(e);
        None
    }

    fn scenario(mut self, raw: raw::Scenario, base_dir: Option<PathBuf>) -> Result<Scenario, ScenarioError> {
        let built = self.build(raw, base_dir);
        match (built, self.errors.into_iter().next()) {
            (_, Some(e)) => Err(e),
            (Some(s), None) => Ok(s),
            (None, None) => Err((self.located)(0..0, Some(""), "invalid scenario".into())),
        }
    }

    fn build(&mut self, raw: raw::Scenario, base_dir: Option<PathBuf>) -> Option<Scenario> {
        let Some(tenant_raw) = raw.tenant else {
            return self.fail(0..0, "tenant".into(), "missing table [tenant] (at least `domain = \"...\"`)");
        };
        let tenant = self.tenant(tenant_raw)?;
        let entra = self.entra(raw.entra)?;
        let crm = CrmSettings { token: raw.crm.token.map(Spanned::into_inner) };
        let end = self.text.len()..self.text.len();
        if raw.queues.is_empty() {
            return self.fail(end, "queues".into(), "at least one [[queues]] is needed");
        }
        if raw.agents.is_empty() {
            return self.fail(end, "agents".into(), "at least one [[agents]] is needed (the agent who signs in)");
        }
        let queues = self.queues(raw.queues)?;
        let mut upns = HashSet::new();
        let agents = raw
            .agents
            .into_iter()
            .enumerate()
            .map(|(i, a)| self.agent(i, a, &tenant, &queues, &mut upns))
            .collect::<Option<Vec<_>>>()?;
        let mut phones = HashSet::new();
        let mut ids = HashSet::new();
        let customers = raw
            .customers
            .into_iter()
            .enumerate()
            .map(|(i, c)| self.customer(i, c, &mut phones, &mut ids))
            .collect::<Option<Vec<_>>>()?;
        let experts = raw
            .experts
            .into_iter()
            .enumerate()
            .map(|(i, e)| self.expert(i, e, &tenant, &mut upns))
            .collect::<Option<Vec<_>>>()?;
        let presence_churn = match raw.presence_churn {
            None => ChurnConfig::default(),
            Some(c) => self.churn(c)?,
        };
        let per_hour = match raw.arrivals.per_hour {
            None => 0.0,
            Some(p) if p.get_ref().is_finite() && *p.get_ref() >= 0.0 => *p.get_ref(),
            Some(p) => return self.fail(p.span(), "arrivals.per_hour".into(), "must be a number >= 0"),
        };
        Some(Scenario {
            name: raw.name.unwrap_or_else(|| tenant.display_name.clone()),
            seed: raw.seed,
            tenant,
            entra,
            crm,
            queues,
            agents,
            customers,
            experts,
            presence_churn,
            arrivals: ArrivalSettings { per_hour },
            base_dir,
        })
    }

    fn tenant(&mut self, t: raw::Tenant) -> Option<Tenant> {
        let domain = t.domain.get_ref().trim().to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') || domain.contains(['@', '/', ' ']) {
            return self.fail(t.domain.span(), "tenant.domain".into(), "must be a domain such as contoso.example.com");
        }
        let id = match t.id {
            Some(id) => self.guid(id, "tenant.id")?,
            None => derived_guid("tenant", &domain),
        };
        let client_id = match t.client_id {
            Some(c) => self.guid(c, "tenant.client_id")?,
            None => DEFAULT_CLIENT_ID.into(),
        };
        Some(Tenant { id, display_name: t.display_name.unwrap_or_else(|| domain.clone()), domain, client_id })
    }

    fn guid(&mut self, value: Spanned<String>, field: &str) -> Option<String> {
        if is_guid(value.get_ref()) {
            Some(value.get_ref().to_ascii_lowercase())
        } else {
            let message = format!("{:?} is not a GUID (8-4-4-4-12 hex digits)", value.get_ref());
            self.fail(value.span(), field.into(), message)
        }
    }

    fn entra(&mut self, e: raw::Entra) -> Option<EntraSettings> {
        let mut positive = |v: Option<Spanned<u64>>, field: &str, default: u64| match v {
            None => Some(default),
            Some(v) if *v.get_ref() > 0 => Some(*v.get_ref()),
            Some(v) => self.fail(v.span(), format!("entra.{field}"), "must be greater than 0"),
        };
        Some(EntraSettings {
            consent: e.consent.unwrap_or(ConsentMode::Page),
            access_token_lifetime_secs: positive(e.access_token_lifetime_secs, "access_token_lifetime_secs", 3599)?,
            refresh_token_inactive_days: positive(e.refresh_token_inactive_days, "refresh_token_inactive_days", 90)?,
            device_code_lifetime_secs: positive(e.device_code_lifetime_secs, "device_code_lifetime_secs", 900)?,
            device_code_interval_secs: positive(e.device_code_interval_secs, "device_code_interval_secs", 5)?,
        })
    }

    fn queues(&mut self, raw: Vec<raw::Queue>) -> Option<Vec<Queue>> {
        let mut seen = HashSet::new();
        let mut queues = Vec::new();
        for (i, q) in raw.into_iter().enumerate() {
            let name = q.name.get_ref().trim().to_string();
            if name.is_empty() || !seen.insert(name.to_ascii_lowercase()) {
                return self.fail(
                    q.name.span(),
                    format!("queues[{i}].name"),
                    format!("{name:?} is empty or used twice"),
                );
            }
            queues.push(Queue { name, skills: q.skills, arrival_weight: q.arrival_weight.unwrap_or(1) });
        }
        Some(queues)
    }

    fn upn(
        &mut self,
        upn: &Spanned<String>,
        field: String,
        tenant: &Tenant,
        seen: &mut HashSet<String>,
    ) -> Option<String> {
        let value = upn.get_ref().trim().to_ascii_lowercase();
        let Some((local, domain)) = value.split_once('@') else {
            return self.fail(
                upn.span(),
                field,
                format!("{value:?} is not a user principal name (name@{})", tenant.domain),
            );
        };
        if local.is_empty() || domain != tenant.domain {
            let message = format!("{value:?} must be a name in the tenant's domain (name@{})", tenant.domain);
            return self.fail(upn.span(), field, message);
        }
        if !seen.insert(value.clone()) {
            return self.fail(upn.span(), field, format!("{value:?} is used by another agent or expert"));
        }
        Some(value)
    }

    fn agent(
        &mut self,
        i: usize,
        a: raw::Agent,
        tenant: &Tenant,
        queues: &[Queue],
        upns: &mut HashSet<String>,
    ) -> Option<Agent> {
        let upn = self.upn(&a.upn, format!("agents[{i}].upn"), tenant, upns)?;
        let id = match a.id {
            Some(id) => self.guid(id, &format!("agents[{i}].id"))?,
            None => derived_guid("user", &upn),
        };
        let extension = a.extension.get_ref().trim().to_string();
        if extension.is_empty() || !extension.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return self.fail(
                a.extension.span(),
                format!("agents[{i}].extension"),
                "must be a SIP user part (letters, digits, . - _)",
            );
        }
        let mut served = Vec::new();
        for (j, q) in a.queues.iter().enumerate() {
            match queues.iter().find(|known| known.name.eq_ignore_ascii_case(q.get_ref())) {
                Some(known) => served.push(known.name.clone()),
                None => {
                    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
                    let message = format!("no queue named {:?} (queues: {})", q.get_ref(), names.join(", "));
                    return self.fail(q.span(), format!("agents[{i}].queues[{j}]"), message);
                }
            }
        }
        Some(Agent {
            id,
            name: self.non_empty(&a.name, format!("agents[{i}].name"))?,
            upn,
            extension,
            queues: served,
            job_title: a.job_title,
        })
    }

    fn non_empty(&mut self, value: &Spanned<String>, field: String) -> Option<String> {
        let v = value.get_ref().trim();
        if v.is_empty() { self.fail(value.span(), field, "must not be empty") } else { Some(v.to_string()) }
    }

    fn days_ago(&mut self, v: &Spanned<f64>, field: String) -> Option<f64> {
        let d = *v.get_ref();
        if d.is_finite() && d >= 0.0 { Some(d) } else { self.fail(v.span(), field, "must be a number of days >= 0") }
    }

    fn customer(
        &mut self,
        i: usize,
        c: raw::Customer,
        phones: &mut HashSet<String>,
        ids: &mut HashSet<String>,
    ) -> Option<Customer> {
        let id = self.non_empty(&c.id, format!("customers[{i}].id"))?;
        if !ids.insert(id.clone()) {
            return self.fail(c.id.span(), format!("customers[{i}].id"), format!("{id:?} is used by another customer"));
        }
        let mut numbers = Vec::new();
        for (j, p) in c.phones.iter().enumerate() {
            let field = format!("customers[{i}].phones[{j}]");
            let number = self.e164(p, field.clone())?;
            if !phones.insert(number.clone()) {
                return self.fail(p.span(), field, format!("{number} belongs to another customer"));
            }
            numbers.push(number);
        }
        let mut emails = Vec::new();
        for (j, e) in c.emails.iter().enumerate() {
            let mail = e.get_ref().trim().to_lowercase();
            if !mail.contains('@') || mail.contains(char::is_whitespace) {
                return self.fail(
                    e.span(),
                    format!("customers[{i}].emails[{j}]"),
                    format!("{mail:?} is not an e-mail address"),
                );
            }
            emails.push(mail);
        }
        let mut interactions = Vec::new();
        for (j, x) in c.interactions.into_iter().enumerate() {
            let days_ago = self.days_ago(&x.days_ago, format!("customers[{i}].interactions[{j}].days_ago"))?;
            let id = x.id.unwrap_or_else(|| format!("{id}-I{}", j + 1));
            interactions.push(Interaction { id, days_ago, channel: x.channel, summary: x.summary });
        }
        let mut notes = Vec::new();
        for (j, n) in c.notes.into_iter().enumerate() {
            let days_ago = self.days_ago(&n.days_ago, format!("customers[{i}].notes[{j}].days_ago"))?;
            let body = self.non_empty(&n.body, format!("customers[{i}].notes[{j}].body"))?;
            notes.push(SeedNote { days_ago, author: n.author, body });
        }
        let fields = c
            .fields
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
            .collect();
        Some(Customer {
            id,
            name: self.non_empty(&c.name, format!("customers[{i}].name"))?,
            phones: numbers,
            emails,
            account: c.account,
            fields,
            interactions,
            notes,
        })
    }

    fn e164(&mut self, p: &Spanned<String>, field: String) -> Option<String> {
        let number: String = p.get_ref().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        if is_e164(&number) {
            Some(number)
        } else {
            let message = format!("{:?} is not an E.164 number (+ and 8 to 15 digits)", p.get_ref());
            self.fail(p.span(), field, message)
        }
    }

    fn expert(&mut self, i: usize, e: raw::Expert, tenant: &Tenant, upns: &mut HashSet<String>) -> Option<Expert> {
        let upn = self.upn(&e.upn, format!("experts[{i}].upn"), tenant, upns)?;
        let id = match e.id {
            Some(id) => self.guid(id, &format!("experts[{i}].id"))?,
            None => derived_guid("user", &upn),
        };
        let name = self.non_empty(&e.name, format!("experts[{i}].name"))?;
        let (given_name, surname) = match name.split_once(' ') {
            Some((g, s)) => (g.to_string(), s.to_string()),
            None => (name.clone(), String::new()),
        };
        let mail = match e.mail {
            Some(m) if m.get_ref().contains('@') => m.get_ref().trim().to_lowercase(),
            Some(m) => return self.fail(m.span(), format!("experts[{i}].mail"), "is not an e-mail address"),
            None => upn.clone(),
        };
        let phone = match e.phone {
            Some(p) => Some(self.e164(&p, format!("experts[{i}].phone"))?),
            None => None,
        };
        let answer = match e.answer {
            None => Answer::AfterSecs(3.0),
            Some(a) => match *a.get_ref() {
                Answer::AfterSecs(s) if !(s.is_finite() && s >= 0.0) => {
                    return self.fail(a.span(), format!("experts[{i}].answer"), "after_secs must be a number >= 0");
                }
                other => other,
            },
        };
        let audio = match e.audio {
            None => Audio::ToneHz(tone_for(i)),
            Some(a) => self.audio(a, format!("experts[{i}].audio"))?,
        };
        Some(Expert {
            id,
            name,
            given_name,
            surname,
            upn,
            mail,
            job_title: e.job_title,
            department: e.department,
            phone,
            skills: e.skills,
            presence: e.presence.unwrap_or(Presence::AVAILABLE),
            churn: e.churn.unwrap_or(true),
            answer,
            audio,
        })
    }

    fn audio(&mut self, a: Spanned<Audio>, field: String) -> Option<Audio> {
        match a.get_ref() {
            Audio::ToneHz(hz) if !(hz.is_finite() && (20.0..=20_000.0).contains(hz)) => {
                self.fail(a.span(), field, "tone_hz must be between 20 and 20000")
            }
            Audio::Wav(path) => {
                let full = match self.base_dir {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.clone(),
                };
                // Only files named from a file on disk can be checked; the
                // compiled-in default scenario uses tones.
                if self.base_dir.is_some() && !full.is_file() {
                    return self.fail(a.span(), field, format!("no WAV file at {}", full.display()));
                }
                Some(a.into_inner())
            }
            _ => Some(a.into_inner()),
        }
    }

    fn churn(&mut self, c: raw::Churn) -> Option<ChurnConfig> {
        let mean = *c.mean_interval_secs.get_ref();
        if !(mean.is_finite() && mean >= 1.0) {
            return self.fail(
                c.mean_interval_secs.span(),
                "presence_churn.mean_interval_secs".into(),
                "must be at least 1 second",
            );
        }
        if c.states.is_empty() {
            return Some(ChurnConfig { mean_interval_secs: mean, ..ChurnConfig::default() });
        }
        let mut states = Vec::new();
        for (i, s) in c.states.into_iter().enumerate() {
            if *s.weight.get_ref() == 0 {
                return self.fail(
                    s.weight.span(),
                    format!("presence_churn.states[{i}].weight"),
                    "must be greater than 0",
                );
            }
            let presence = Presence { availability: s.availability, activity: s.activity };
            states.push(WeightedPresence { presence, weight: *s.weight.get_ref() });
        }
        Some(ChurnConfig { mean_interval_secs: mean, states })
    }
}

/// A distinct, pleasant tone per expert (A4 and up by fifths, folded into an octave).
fn tone_for(i: usize) -> f64 {
    const TONES: [f64; 8] = [440.0, 660.0, 495.0, 742.5, 556.9, 835.3, 626.5, 939.8];
    TONES[i % TONES.len()]
}

/// `+` and 8 to 15 digits, the first not 0.
pub(crate) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()) && !d.starts_with('0'))
}

/// 8-4-4-4-12 hex digits.
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A stable GUID (version 4 layout) for a name: the same UPN gets the same
/// object id in every run, so favourites saved against it survive restarts.
pub(crate) fn derived_guid(kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("warmline-lab/{kind}/{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::AfterSecs(s) => write!(f, "answers after {s} s"),
            Answer::Decline => f.write_str("declines"),
            Answer::Busy => f.write_str("is busy"),
            Answer::Never => f.write_str("never answers"),
        }
    }
}

#[cfg(test)]
mod tests;
