//! The one configuration file of a real deployment (`warmline.toml`).
//!
//! No file means the embedded lab. A file names the SBC, the SIP account,
//! STUN/TURN, the Microsoft 365 tenant, the CRM, the dial policy and the
//! audio devices; secrets are never in it (they live in the OS keyring under
//! the names [`Config::secret_names`] lists). An administrator can lock
//! settings: the UI shows them read-only and the agent refuses to change them.
//!
//! A bad file is refused as a whole with an error that names the line, the
//! column and the field, so an IT admin can fix it without reading code.
//! `docs/configuration.md` and `assets/warmline.example.toml` document every
//! field; a test checks that the example parses.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use warmline_secrets::{SecretKind, SecretName};

use crate::dial_policy::{DialPattern, DialPolicy};

/// Where a problem is in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The file is not valid TOML, or a field has the wrong type or name.
    #[error("{path}:{}:{}: {message}", at.line, at.column)]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
        /// What the TOML reader said.
        message: String,
    },
    /// A field's value is not acceptable.
    #[error("{path}:{}:{}: `{field}`: {message}", at.line, at.column)]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
        /// The dotted field name, e.g. `sip.servers`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line, when the error has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { at, .. } | ConfigError::Invalid { at, .. } => Some(at.line),
            ConfigError::Unreadable { .. } => None,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Signalling.
    pub sip: SipConfig,
    /// Media transport.
    pub media: MediaConfig,
    /// Audio devices and processing.
    pub audio: AudioConfig,
    /// Microsoft 365 sign-in and Graph.
    pub microsoft365: Option<Microsoft365Config>,
    /// The CRM connector.
    pub crm: CrmConfig,
    /// How availability reaches the contact center.
    pub acd: AcdKind,
    /// Which numbers may be dialled.
    pub dial_policy: DialPolicy,
    /// Settings the UI shows read-only.
    pub locked: Vec<Setting>,
    /// Logs and SIP trace.
    pub logging: LoggingConfig,
    /// Away reasons, wrap-up and dispositions.
    pub agent: AgentConfig,
}

/// How the agent works between calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Reasons offered for `away`.
    pub away_reasons: Vec<String>,
    /// Wrap-up after a call, seconds (0: none).
    pub wrap_up_seconds: u32,
    /// Disposition codes and their labels.
    pub dispositions: Vec<(String, String)>,
    /// The country code for numbers written in national form.
    pub country_code: u16,
    /// When wrap-up's time runs out: available, or stay in wrap-up.
    pub after_wrap_up: crate::control::desk::AfterWrapUp,
    /// A disposition must be chosen before leaving wrap-up for available.
    pub disposition_required: bool,
    /// Offers in a row the agent lets ring out before it is set away
    /// ("missed call") so the ACD stops offering; 0: never.
    pub missed_offers_before_away: u32,
    /// A second call while the agent is on one.
    pub call_waiting: CallWaiting,
}

/// A second incoming call while the agent is on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallWaiting {
    /// Ring quietly (a beep) beside the call; answering it holds the first.
    Ring,
    /// Refuse it with 486 Busy Here.
    Refuse,
    /// Ring when an ACD sent it (it means to), refuse from a plain PBX.
    #[default]
    Auto,
}

impl AgentConfig {
    /// The desk's rules from this configuration.
    pub fn desk_policy(&self) -> crate::control::desk::DeskPolicy {
        crate::control::desk::DeskPolicy {
            wrap_up: std::time::Duration::from_secs(self.wrap_up_seconds.into()),
            after_wrap_up: self.after_wrap_up,
            disposition_required: self.disposition_required,
            missed_offers_before_away: self.missed_offers_before_away,
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            away_reasons: ["Break", "Lunch", "Meeting", "Training"].map(str::to_owned).to_vec(),
            wrap_up_seconds: 30,
            dispositions: [
                ("resolved", "Resolved"),
                ("follow_up", "Follow-up needed"),
                ("escalated", "Escalated"),
                ("callback", "Callback scheduled"),
                ("wrong_number", "Wrong number"),
            ]
            .map(|(c, l)| (c.to_owned(), l.to_owned()))
            .to_vec(),
            country_code: 1,
            after_wrap_up: crate::control::desk::AfterWrapUp::Available,
            disposition_required: false,
            missed_offers_before_away: 2,
            call_waiting: CallWaiting::Auto,
        }
    }
}

/// SIP account and servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    /// SBC WebSocket URLs in failover order (`wss://`, or `ws://` on loopback).
    pub servers: Vec<String>,
    /// The address of record, `sip:user@domain`.
    pub user: String,
    /// The digest authorization user (often the same user part).
    pub auth_user: String,
    /// The name callees see.
    pub display_name: Option<String>,
    /// An outbound proxy URI, put in a pre-loaded Route.
    pub outbound_proxy: Option<String>,
    /// An extra CA certificate (PEM) for a private SBC certificate.
    pub extra_ca: Option<PathBuf>,
    /// REGISTER lifetime in seconds.
    pub register_expires: u32,
    /// Headers that carry the queue and case ids, in that order.
    pub queue_header: String,
    /// Header carrying the case id.
    pub case_header: String,
    /// Honour Call-Info `answer-after` from the SBC.
    pub auto_answer: bool,
    /// Accept REFER from the far end (the SBC moving the customer).
    pub accept_transfers: bool,
    /// RFC 4028 session interval in seconds.
    pub session_expires: u32,
}

/// STUN and TURN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaConfig {
    /// `stun:host:port` URLs.
    pub stun: Vec<String>,
    /// TURN servers (credentials in the keyring).
    pub turn: Vec<TurnServer>,
    /// Relay-only ICE (locked-down networks).
    pub relay_only: bool,
    /// The longest ICE gathering may delay call setup, in milliseconds.
    pub ice_gathering_ms: u32,
}

/// One TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// `turn:host:port?transport=udp|tcp` or `turns:host:443?transport=tcp`.
    pub url: String,
    /// The TURN user name; the credential is in the keyring.
    pub username: String,
}

/// Audio devices by id (`default` follows the system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// Microphone.
    pub input: String,
    /// Headset or speaker.
    pub output: String,
    /// Where the ringtone plays.
    pub ringer: String,
    /// Acoustic echo cancellation.
    pub echo_cancellation: bool,
    /// Noise suppression.
    pub noise_suppression: bool,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            input: "default".into(),
            output: "default".into(),
            ringer: "default".into(),
            echo_cancellation: true,
            noise_suppression: true,
        }
    }
}

/// Microsoft Entra ID and Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Microsoft365Config {
    /// Tenant id (GUID) or domain.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The authority base URL.
    pub authority: String,
    /// The Graph base URL.
    pub graph: String,
}

/// Which CRM connector.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrmConfig {
    /// Notes stay local; no customer data beyond call history.
    None,
    /// The REST connector (token in the keyring).
    Rest {
        /// Base URL.
        url: String,
    },
}

/// How availability reaches the contact center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcdKind {
    /// SIP PUBLISH with a PIDF body (RFC 3903), as the lab's ACD takes it.
    Pidf,
    /// A plain PBX: the agent answers 486 Busy Here when not available.
    None,
}

/// Log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// Write a redacted SIP trace to the log directory.
    pub sip_trace: bool,
}

/// A setting an administrator can lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The SIP account and servers.
    Sip,
    /// STUN/TURN.
    Media,
    /// Audio devices.
    Audio,
    /// Microsoft 365 tenant.
    Microsoft365,
    /// The CRM connector.
    Crm,
    /// The dial policy.
    DialPolicy,
    /// Log level and SIP trace.
    Logging,
}

impl Setting {
    const ALL: [(&'static str, Setting); 7] = [
        ("sip", Setting::Sip),
        ("media", Setting::Media),
        ("audio", Setting::Audio),
        ("microsoft365", Setting::Microsoft365),
        ("crm", Setting::Crm),
        ("dial_policy", Setting::DialPolicy),
        ("logging", Setting::Logging),
    ];
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Setting::ALL.iter().find(|(_, s)| s == self).map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sip: FileSip,
    #[serde(default)]
    media: FileMedia,
    #[serde(default)]
    audio: FileAudio,
    microsoft365: Option<FileM365>,
    crm: Option<FileCrm>,
    acd: Option<Spanned<String>>,
    #[serde(default)]
    dial_policy: FileDialPolicy,
    #[serde(default)]
    admin: FileAdmin,
    #[serde(default)]
    logging: FileLogging,
    #[serde(default)]
    agent: FileAgent,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAgent {
    away_reasons: Option<Vec<String>>,
    wrap_up_seconds: Option<Spanned<i64>>,
    dispositions: Option<Vec<FileDisposition>>,
    country_code: Option<Spanned<i64>>,
    after_wrap_up: Option<Spanned<String>>,
    disposition_required: Option<bool>,
    missed_offers_before_away: Option<Spanned<i64>>,
    call_waiting: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDisposition {
    code: Spanned<String>,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSip {
    servers: Spanned<Vec<Spanned<String>>>,
    user: Spanned<String>,
    auth_user: Option<Spanned<String>>,
    display_name: Option<String>,
    outbound_proxy: Option<Spanned<String>>,
    extra_ca: Option<Spanned<String>>,
    register_expires: Option<Spanned<i64>>,
    queue_header: Option<String>,
    case_header: Option<String>,
    #[serde(default)]
    auto_answer: bool,
    #[serde(default = "yes")]
    accept_transfers: bool,
    session_expires: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileMedia {
    #[serde(default)]
    stun: Vec<Spanned<String>>,
    #[serde(default)]
    turn: Vec<FileTurn>,
    #[serde(default)]
    relay_only: bool,
    ice_gathering_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTurn {
    url: Spanned<String>,
    username: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAudio {
    input: Option<String>,
    output: Option<String>,
    ringer: Option<String>,
    echo_cancellation: Option<bool>,
    noise_suppression: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileM365 {
    tenant: Spanned<String>,
    client_id: Spanned<String>,
    authority: Option<Spanned<String>>,
    graph: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCrm {
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileDialPolicy {
    #[serde(default)]
    allowed: Vec<Spanned<String>>,
    #[serde(default)]
    emergency: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAdmin {
    #[serde(default)]
    locked: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileLogging {
    level: Option<Spanned<String>>,
    #[serde(default)]
    sip_trace: bool,
}

fn yes() -> bool {
    true
}

/// The numbers dialled without any policy: emergency services in the
/// regions Warmline ships to.
pub const DEFAULT_EMERGENCY: [&str; 4] = ["911", "112", "999", "000"];

/// The default Entra authority.
pub const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The default Graph base URL.
pub const GRAPH_BASE: &str = "https://graph.microsoft.com";

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable { path: path.to_owned(), reason: e.to_string() })?;
        Config::parse(path, &text)
    }

    /// Validates configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let cx = Cx { path, text };
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(Position { line: 1, column: 1 }, |s| position(text, s.start));
            ConfigError::Syntax { path: path.to_owned(), at, message: e.message().trim().to_owned() }
        })?;

        let s = file.sip;
        if s.servers.get_ref().is_empty() {
            return Err(cx.invalid(&s.servers, "sip.servers", "list at least one SBC WebSocket URL (wss://...)"));
        }
        let mut servers = Vec::new();
        for server in s.servers.get_ref() {
            cx.websocket_url(server, "sip.servers")?;
            servers.push(server.get_ref().clone());
        }
        let (user_part, _domain) = cx.sip_aor(&s.user, "sip.user")?;
        let auth_user = match &s.auth_user {
            Some(a) if a.get_ref().trim().is_empty() => {
                return Err(cx.invalid(a, "sip.auth_user", "must not be empty (leave it out to use the user part)"));
            }
            Some(a) => a.get_ref().clone(),
            None => user_part,
        };
        let outbound_proxy = match &s.outbound_proxy {
            Some(p) => {
                let v = p.get_ref();
                if !(v.starts_with("sip:") || v.starts_with("sips:")) || v.len() < 5 {
                    return Err(cx.invalid(p, "sip.outbound_proxy", "must be a SIP URI, e.g. sip:sbc.example.com;lr"));
                }
                Some(v.clone())
            }
            None => None,
        };
        let extra_ca = match &s.extra_ca {
            Some(p) if !Path::new(p.get_ref()).is_absolute() => {
                return Err(cx.invalid(p, "sip.extra_ca", "must be an absolute path to a PEM file"));
            }
            Some(p) => Some(PathBuf::from(p.get_ref())),
            None => None,
        };
        let register_expires = cx.range(s.register_expires.as_ref(), "sip.register_expires", 60, 86_400, 600)?;
        let session_expires = cx.range(s.session_expires.as_ref(), "sip.session_expires", 90, 86_400, 1800)?;
        let sip = SipConfig {
            servers,
            user: s.user.get_ref().clone(),
            auth_user,
            display_name: s.display_name,
            outbound_proxy,
            extra_ca,
            register_expires,
            queue_header: s.queue_header.unwrap_or_else(|| "X-Queue".into()),
            case_header: s.case_header.unwrap_or_else(|| "X-Case-Id".into()),
            auto_answer: s.auto_answer,
            accept_transfers: s.accept_transfers,
            session_expires,
        };

        let m = file.media;
        let mut stun = Vec::new();
        for url in &m.stun {
            cx.scheme(url, "media.stun", &["stun:", "stuns:"])?;
            stun.push(url.get_ref().clone());
        }
        let mut turn = Vec::new();
        for t in m.turn {
            cx.scheme(&t.url, "media.turn.url", &["turn:", "turns:"])?;
            turn.push(TurnServer { url: t.url.get_ref().clone(), username: t.username });
        }
        if m.relay_only && turn.is_empty() {
            let at = Position { line: 1, column: 1 };
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                at: find_key(text, "relay_only").unwrap_or(at),
                field: "media.relay_only".into(),
                message: "relay-only ICE needs at least one [[media.turn]] server".into(),
            });
        }
        let ice_gathering_ms = cx.range(m.ice_gathering_ms.as_ref(), "media.ice_gathering_ms", 100, 10_000, 1000)?;
        let media = MediaConfig { stun, turn, relay_only: m.relay_only, ice_gathering_ms };

        let a = file.audio;
        let defaults = AudioConfig::default();
        let audio = AudioConfig {
            input: a.input.unwrap_or(defaults.input),
            output: a.output.unwrap_or(defaults.output),
            ringer: a.ringer.unwrap_or(defaults.ringer),
            echo_cancellation: a.echo_cancellation.unwrap_or(true),
            noise_suppression: a.noise_suppression.unwrap_or(true),
        };

        let microsoft365 = match file.microsoft365 {
            Some(m) => {
                if m.tenant.get_ref().trim().is_empty() {
                    return Err(cx.invalid(&m.tenant, "microsoft365.tenant", "the tenant id or domain is empty"));
                }
                if !is_guid(m.client_id.get_ref()) {
                    return Err(cx.invalid(
                        &m.client_id,
                        "microsoft365.client_id",
                        "must be the app registration's client id, a GUID like 00000000-0000-0000-0000-000000000000",
                    ));
                }
                let authority = match &m.authority {
                    Some(u) => cx.https_url(u, "microsoft365.authority")?,
                    None => ENTRA_AUTHORITY.to_owned(),
                };
                let graph = match &m.graph {
                    Some(u) => cx.https_url(u, "microsoft365.graph")?,
                    None => GRAPH_BASE.to_owned(),
                };
                Some(Microsoft365Config {
                    tenant: m.tenant.get_ref().clone(),
                    client_id: m.client_id.get_ref().clone(),
                    authority,
                    graph,
                })
            }
            None => None,
        };

        let crm = match file.crm {
            None => CrmConfig::None,
            Some(c) => match c.kind.get_ref().as_str() {
                "none" => CrmConfig::None,
                "rest" => match &c.url {
                    Some(u) => CrmConfig::Rest { url: cx.https_url(u, "crm.url")? },
                    None => return Err(cx.invalid(&c.kind, "crm.url", "a REST CRM needs `url`")),
                },
                _ => return Err(cx.invalid(&c.kind, "crm.kind", "must be \"rest\" or \"none\"")),
            },
        };

        let acd = match &file.acd {
            None => AcdKind::None,
            Some(k) => match k.get_ref().as_str() {
                "pidf" => AcdKind::Pidf,
                "none" => AcdKind::None,
                _ => return Err(cx.invalid(k, "acd", "must be \"pidf\" (SIP PUBLISH presence) or \"none\"")),
            },
        };

        let mut allowed = Vec::new();
        for p in &file.dial_policy.allowed {
            allowed.push(
                DialPattern::parse(p.get_ref())
                    .map_err(|why| cx.invalid(p, "dial_policy.allowed", &why.to_string()))?,
            );
        }
        let mut emergency = Vec::new();
        for e in &file.dial_policy.emergency {
            if e.get_ref().is_empty() || !e.get_ref().chars().all(|c| c.is_ascii_digit()) {
                return Err(cx.invalid(e, "dial_policy.emergency", "emergency numbers are digits only, e.g. \"911\""));
            }
            emergency.push(e.get_ref().clone());
        }
        if emergency.is_empty() {
            emergency = DEFAULT_EMERGENCY.iter().map(|s| (*s).to_owned()).collect();
        }
        let dial_policy = DialPolicy::new(allowed, emergency);

        let mut locked = Vec::new();
        for l in &file.admin.locked {
            let Some((_, s)) = Setting::ALL.iter().find(|(n, _)| n == l.get_ref()) else {
                let names: Vec<_> = Setting::ALL.iter().map(|(n, _)| *n).collect();
                return Err(cx.invalid(
                    l,
                    "admin.locked",
                    &format!("unknown setting; use one of {}", names.join(", ")),
                ));
            };
            if !locked.contains(s) {
                locked.push(*s);
            }
        }

        let level = match &file.logging.level {
            Some(l) if ["error", "warn", "info", "debug", "trace"].contains(&l.get_ref().as_str()) => {
                l.get_ref().clone()
            }
            Some(l) => return Err(cx.invalid(l, "logging.level", "must be error, warn, info, debug or trace")),
            None => "info".into(),
        };

        let mut agent = AgentConfig::default();
        if let Some(r) = &file.agent.away_reasons {
            agent.away_reasons = r.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        if let Some(w) = &file.agent.wrap_up_seconds {
            agent.wrap_up_seconds = u32::try_from(*w.get_ref())
                .ok()
                .filter(|s| *s <= 3600)
                .ok_or_else(|| cx.invalid(w, "agent.wrap_up_seconds", "must be 0 to 3600 seconds"))?;
        }
        if let Some(d) = &file.agent.dispositions {
            let mut list = Vec::new();
            for item in d {
                let code = item.code.get_ref();
                if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(cx.invalid(&item.code, "agent.dispositions.code", "use letters, digits, _ and - only"));
                }
                list.push((code.clone(), item.label.clone()));
            }
            agent.dispositions = list;
        }
        if let Some(c) = &file.agent.country_code {
            agent.country_code = u16::try_from(*c.get_ref())
                .ok()
                .filter(|c| (1..=999).contains(c))
                .ok_or_else(|| cx.invalid(c, "agent.country_code", "a country calling code, 1 to 999"))?;
        }
        if let Some(a) = &file.agent.after_wrap_up {
            agent.after_wrap_up = match a.get_ref().as_str() {
                "available" => crate::control::desk::AfterWrapUp::Available,
                "wrap_up" => crate::control::desk::AfterWrapUp::StayInWrapUp,
                _ => return Err(cx.invalid(a, "agent.after_wrap_up", "must be available or wrap_up")),
            };
        }
        if let Some(r) = file.agent.disposition_required {
            agent.disposition_required = r;
        }
        if let Some(m) = &file.agent.missed_offers_before_away {
            agent.missed_offers_before_away = u32::try_from(*m.get_ref())
                .ok()
                .filter(|m| *m <= 100)
                .ok_or_else(|| cx.invalid(m, "agent.missed_offers_before_away", "must be 0 (never) to 100"))?;
        }
        if let Some(w) = &file.agent.call_waiting {
            agent.call_waiting = match w.get_ref().as_str() {
                "ring" => CallWaiting::Ring,
                "refuse" => CallWaiting::Refuse,
                "auto" => CallWaiting::Auto,
                _ => return Err(cx.invalid(w, "agent.call_waiting", "must be ring, refuse or auto")),
            };
        }

        Ok(Config {
            agent,
            path: path.to_owned(),
            sip,
            media,
            audio,
            microsoft365,
            crm,
            acd,
            dial_policy,
            locked,
            logging: LoggingConfig { level, sip_trace: file.logging.sip_trace },
        })
    }

    /// Where the configuration is: `explicit` if given, else the user's
    /// file (`~/.config/warmline/warmline.toml` on Linux,
    /// `%APPDATA%\warmline\warmline.toml` on Windows), else the
    /// machine-wide file ([`Config::system_path`]). `None` means the
    /// embedded lab.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_owned());
        }
        let user = dirs::config_dir().map(|d| d.join("warmline").join("warmline.toml"));
        [user, Self::system_path()].into_iter().flatten().find(|p| p.is_file())
    }

    /// The machine-wide file an administrator deploys:
    /// `/etc/warmline/warmline.toml` on Unix,
    /// `%ProgramData%\Warmline\warmline.toml` on Windows (docs/windows.md).
    pub fn system_path() -> Option<PathBuf> {
        if cfg!(windows) {
            std::env::var_os("ProgramData").map(|d| PathBuf::from(d).join("Warmline").join("warmline.toml"))
        } else {
            cfg!(unix).then(|| PathBuf::from("/etc/warmline/warmline.toml"))
        }
    }

    /// Whether the administrator locked this setting.
    pub fn is_locked(&self, setting: Setting) -> bool {
        self.locked.contains(&setting)
    }

    /// The keyring entries this configuration needs.
    pub fn secret_names(&self) -> Vec<SecretName> {
        let mut names = vec![self.sip_password_name()];
        for t in &self.media.turn {
            names.push(SecretName::new(SecretKind::TurnCredential, format!("{}@{}", t.username, t.url)));
        }
        if let CrmConfig::Rest { url } = &self.crm {
            names.push(SecretName::new(SecretKind::CrmToken, url.clone()));
        }
        names
    }

    /// The keyring entry of the SIP digest password.
    pub fn sip_password_name(&self) -> SecretName {
        SecretName::new(SecretKind::SipPassword, format!("{}@{}", self.sip.auth_user, self.sip_domain()))
    }

    /// The domain of the address of record.
    pub fn sip_domain(&self) -> &str {
        self.sip.user.split_once('@').map_or("", |(_, d)| d.split([';', '>']).next().unwrap_or(d))
    }
}

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Cx<'_> {
    fn invalid<T>(&self, value: &Spanned<T>, field: &str, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            at: position(self.text, value.span().start),
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    fn websocket_url(&self, value: &Spanned<String>, field: &str) -> Result<(), ConfigError> {
        let url = url::Url::parse(value.get_ref())
            .map_err(|e| self.invalid(value, field, &format!("not a URL ({e}); write wss://sbc.example.com")))?;
        match url.scheme() {
            "wss" => Ok(()),
            "ws" if is_loopback(&url) => Ok(()),
            "ws" => Err(self.invalid(
                value,
                field,
                "plain ws:// is only allowed on loopback; use wss:// so signalling is encrypted",
            )),
            other => Err(self.invalid(value, field, &format!("scheme `{other}` is not a WebSocket; use wss://"))),
        }
    }

    fn https_url(&self, value: &Spanned<String>, field: &str) -> Result<String, ConfigError> {
        let url =
            url::Url::parse(value.get_ref()).map_err(|e| self.invalid(value, field, &format!("not a URL ({e})")))?;
        match url.scheme() {
            "https" => Ok(value.get_ref().trim_end_matches('/').to_owned()),
            "http" if is_loopback(&url) => Ok(value.get_ref().trim_end_matches('/').to_owned()),
            _ => Err(self.invalid(value, field, "must be an https:// URL (http:// only on loopback)")),
        }
    }

    fn scheme(&self, value: &Spanned<String>, field: &str, schemes: &[&str]) -> Result<(), ConfigError> {
        let v = value.get_ref();
        let rest = schemes.iter().find_map(|s| v.strip_prefix(s));
        match rest {
            Some(host) if !host.is_empty() => Ok(()),
            _ => Err(self.invalid(value, field, &format!("must start with {}", schemes.join(" or ")))),
        }
    }

    fn sip_aor(&self, value: &Spanned<String>, field: &str) -> Result<(String, String), ConfigError> {
        let v = value.get_ref();
        let rest = v.strip_prefix("sip:").or_else(|| v.strip_prefix("sips:"));
        match rest.and_then(|r| r.split_once('@')) {
            Some((user, domain)) if !user.is_empty() && !domain.is_empty() => Ok((user.to_owned(), domain.to_owned())),
            _ => Err(self.invalid(value, field, "must be a SIP address of record like sip:agent1001@pbx.example.com")),
        }
    }

    fn range(
        &self,
        value: Option<&Spanned<i64>>,
        field: &str,
        min: i64,
        max: i64,
        default: u32,
    ) -> Result<u32, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if (min..=max).contains(v.get_ref()) => Ok(u32::try_from(*v.get_ref()).unwrap_or(default)),
            Some(v) => Err(self.invalid(v, field, &format!("must be between {min} and {max}"))),
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<_> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn position(text: &str, offset: usize) -> Position {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Position { line, column }
}

fn find_key(text: &str, key: &str) -> Option<Position> {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        if l.trim_start().starts_with(key) {
            return Some(position(text, offset + (l.len() - l.trim_start().len())));
        }
        offset += l.len();
    }
    None
}

#[cfg(test)]
mod tests;
