//! The agent session: one task that owns the SIP user agent (inside its
//! WebSocket transport), one [`MediaSession`](warmline_media::session::MediaSession)
//! per call and the agent's audio, joins the user agent's offer/answer
//! events to the media's SDP, and reports everything as [`AgentEvent`]s.
//!
//! ```no_run
//! # async fn demo(config: warmline_agent::Config) -> Result<(), warmline_agent::Error> {
//! use warmline_agent::session::{AudioInput, AudioOutput, Session, SessionConfig};
//! use warmline_agent::{AgentCommand, ChosenState};
//!
//! let config = SessionConfig::from_config_with_keyring(&config, AudioInput::Tone(440.0), AudioOutput::Discard)?;
//! let (session, mut events) = Session::start(config).await?;
//! session.command(AgentCommand::State { state: ChosenState::Available, reason: None }).await?;
//! while let Some(event) = events.recv().await {
//!     println!("{}", serde_json::to_string(&event).unwrap_or_default());
//! }
//! # Ok(()) }
//! ```
//!
//! Why one task: every decision (which call a command means, whether a
//! consult that ended returns the agent to the customer) reads and changes
//! the same call table, so it is made in one place, in event order. Media
//! calls are awaited inside it; audio runs in its own task so that a slow
//! ICE gathering never stalls what the agent hears.

mod audio;
mod records;
mod runner;
mod teams;
mod writer;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use warmline_media::session::{IceServer, MediaConfig};
use warmline_sip::Uri;
use warmline_sip::transport::TransportConfig;
use warmline_sip::ua;

pub use audio::{AudioInput, AudioOutput};
pub use records::StoreSetup;
pub use teams::Microsoft365;

use crate::config::{AcdKind, AgentConfig, Config, CrmConfig};
use crate::dial_policy::DialPolicy;
use crate::view::{Backend, Disposition, SessionInfo};
use crate::{AgentCommand, AgentEvent, Error};

/// Everything a session needs, built from the configuration file
/// ([`SessionConfig::from_config`]) and adjusted by tests where needed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// The user agent's configuration (address of record, password, outbound ...).
    pub sip: ua::Config,
    /// The SBC WebSocket URLs and reconnect policy.
    pub transport: TransportConfig,
    /// ICE servers and sockets for each call's media.
    pub media: MediaConfig,
    /// What the agent says.
    pub audio_in: AudioInput,
    /// Where what the agent hears goes.
    pub audio_out: AudioOutput,
    /// How availability reaches the contact center.
    pub acd: AcdKind,
    /// What the agent may dial.
    pub dial_policy: DialPolicy,
    /// The SIP domain numbers are dialled in (`sip:<number>@<domain>`).
    pub domain: String,
    /// How long the expert may ring in a warm transfer before the agent is
    /// put back with the customer.
    pub transfer_ring_timeout: Duration,
    /// Where history and notes are kept; `None` keeps nothing.
    pub store: Option<StoreSetup>,
    /// The CRM behind the screen pop and note sync; `None`: local only.
    pub crm: Option<warmline_store::rest::RestConnector>,
    /// Away reasons, wrap-up, dispositions, country code.
    pub agent: AgentConfig,
    /// What the front ends show about this session.
    pub info: SessionInfo,
    /// The audio devices chosen in the configuration (`default` follows the system).
    pub audio_devices: crate::config::AudioConfig,
    /// Microsoft 365 (sign-in, experts, presence); `None`: not configured.
    pub microsoft365: Option<Microsoft365>,
    /// The configuration file the settings screen saves to; `None` (the
    /// embedded lab) saves to the user's file.
    pub config_file: Option<std::path::PathBuf>,
}

impl SessionConfig {
    /// A session configuration from the deployment file and the SIP
    /// password (from the keyring, or given directly in tests and the lab).
    /// TURN servers are used only with a credential from the keyring.
    pub fn from_config(
        config: &Config,
        sip_password: String,
        audio_in: AudioInput,
        audio_out: AudioOutput,
    ) -> Result<Self, Error> {
        Self::build(config, sip_password, Vec::new(), audio_in, audio_out)
    }

    /// As [`SessionConfig::from_config`], reading the SIP password and the
    /// TURN credentials from the OS keyring.
    pub fn from_config_with_keyring(
        config: &Config,
        audio_in: AudioInput,
        audio_out: AudioOutput,
    ) -> Result<Self, Error> {
        let keyring = warmline_secrets::Keyring::open()?;
        let name = config.sip_password_name();
        let password = keyring
            .get(&name)?
            .and_then(|s| s.expose_str().map(str::to_owned))
            .ok_or_else(|| Error::MissingSecret(name.user()))?;
        let mut turn = Vec::new();
        for t in &config.media.turn {
            let name = warmline_secrets::SecretName::new(
                warmline_secrets::SecretKind::TurnCredential,
                format!("{}@{}", t.username, t.url),
            );
            let credential = keyring
                .get(&name)?
                .and_then(|s| s.expose_str().map(str::to_owned))
                .ok_or_else(|| Error::MissingSecret(name.user()))?;
            turn.push(IceServer { urls: vec![t.url.clone()], username: t.username.clone(), credential });
        }
        let mut session = Self::build(config, password, turn, audio_in, audio_out)?;
        let path = warmline_store::default_path().map_err(|e| Error::Store(e.to_string()))?;
        let key = warmline_store::database_key(&keyring, &path).map_err(|e| Error::Store(e.to_string()))?;
        session.store = Some(StoreSetup { path, encryption: warmline_store::Encryption::Key(key) });
        if let CrmConfig::Rest { url } = &config.crm {
            let rest = warmline_store::rest::RestConfig {
                base_url: url.clone(),
                country_code: config.agent.country_code,
                ..Default::default()
            };
            let crm = warmline_store::rest::RestConnector::from_keyring(rest, &keyring)
                .map_err(|e| Error::Store(format!("the CRM connector: {e}")))?;
            session.crm = Some(crm);
        }
        Ok(session)
    }

    fn build(
        config: &Config,
        password: String,
        turn: Vec<IceServer>,
        audio_in: AudioInput,
        audio_out: AudioOutput,
    ) -> Result<Self, Error> {
        let domain = config.sip_domain().to_owned();
        let aor: Uri = parse_uri(&config.sip.user, "sip.user")?;
        let registrar: Uri = parse_uri(&format!("sip:{domain}"), "sip.user")?;
        let seed = random_seed();
        let mut sip = ua::Config::new(aor, config.sip.auth_user.clone(), password, registrar);
        sip.display_name = config.sip.display_name.clone();
        sip.expires = config.sip.register_expires;
        sip.outbound = Some(ua::Outbound::new(instance_id(seed)));
        sip.outbound_proxy = match &config.sip.outbound_proxy {
            Some(p) => Some(parse_uri(p, "sip.outbound_proxy")?),
            None => None,
        };
        sip.call_data_headers = vec![config.sip.queue_header.clone(), config.sip.case_header.clone()];
        sip.auto_answer = config.sip.auto_answer;
        // Accepted transfers are still checked against the dial policy
        // (control::transferee) before the phone dials their target.
        sip.refer_policy =
            if config.sip.accept_transfers { ua::ReferPolicy::Ask } else { ua::ReferPolicy::Refuse { status: 603 } };
        sip.session_timers =
            Some(ua::SessionTimers { interval: config.sip.session_expires, ..ua::SessionTimers::default() });
        sip.seed = seed;

        let mut transport = TransportConfig::new(config.sip.servers.clone());
        transport.trace = config.logging.sip_trace;
        if let Some(ca) = &config.sip.extra_ca {
            let pem = std::fs::read(ca).map_err(|e| Error::Config(format!("sip.extra_ca {}: {e}", ca.display())))?;
            transport.extra_ca_pem = Some(pem);
        }

        let lab = config.sip.servers.iter().all(|s| is_loopback_url(s));
        let mut media = if lab { MediaConfig::loopback() } else { MediaConfig::default() };
        if !config.media.stun.is_empty() {
            media.ice_servers.push(IceServer { urls: config.media.stun.clone(), ..IceServer::default() });
        }
        media.ice_servers.extend(turn);
        media.relay_only = config.media.relay_only;
        media.gather_timeout = Duration::from_millis(u64::from(config.media.ice_gathering_ms));

        let microsoft365 = match &config.microsoft365 {
            Some(m) => Some(Microsoft365::from_config(m, &domain, config.agent.country_code)?),
            None => None,
        };

        Ok(SessionConfig {
            config_file: Some(config.path.clone()),
            microsoft365,
            sip,
            transport,
            media,
            audio_in,
            audio_out,
            acd: config.acd,
            dial_policy: config.dial_policy.clone(),
            domain,
            transfer_ring_timeout: Duration::from_secs(30),
            store: None,
            crm: None,
            info: SessionInfo {
                protocol: crate::PROTOCOL_VERSION,
                version: crate::VERSION.to_owned(),
                agent_name: config
                    .sip
                    .display_name
                    .clone()
                    .unwrap_or_else(|| config.sip.user.trim_start_matches("sip:").to_owned()),
                sip_user: config.sip.user.clone(),
                // The embedded lab says so itself (`embedded.rs`).
                backend: Backend::Configured,
                away_reasons: config.agent.away_reasons.clone(),
                dispositions: config
                    .agent
                    .dispositions
                    .iter()
                    .map(|(code, label)| Disposition { code: code.clone(), label: label.clone() })
                    .collect(),
                wrap_up_seconds: config.agent.wrap_up_seconds,
                locked: config.locked.clone(),
            },
            agent: config.agent.clone(),
            audio_devices: config.audio.clone(),
        })
    }
}

fn parse_uri(text: &str, field: &str) -> Result<Uri, Error> {
    text.parse().map_err(|e| Error::Config(format!("`{field}`: {text}: {e}")))
}

fn is_loopback_url(server: &str) -> bool {
    url::Url::parse(server).ok().and_then(|u| u.host_str().map(str::to_owned)).is_some_and(|h| {
        h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    })
}

/// A seed from the standard library's per-process random hash keys and
/// the clock: tags, branches and Call-IDs must differ between runs.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    h.finish()
}

/// `+sip.instance` (RFC 5626): a URN, per session.
fn instance_id(seed: u64) -> String {
    let a = seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        seed >> 32,
        (seed >> 16) & 0xffff,
        seed & 0xfff,
        a & 0xfff,
        a >> 16 & 0xffff_ffff_ffff
    )
}

/// A request to the session task.
enum Request {
    /// A command, answered on `reply`.
    Command { command: AgentCommand, reply: oneshot::Sender<Result<(), Error>> },
    /// The host's network changed (why, for the log).
    NetworkChanged(String),
}

/// A running agent session. Cheap to clone; every clone drives the same
/// session.
#[derive(Debug, Clone)]
pub struct Session {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").finish_non_exhaustive()
    }
}

impl Session {
    /// Opens the audio, connects to the SBC and starts registering. Events
    /// (registration first) come on the returned receiver, which closes
    /// after [`AgentCommand::Quit`].
    pub async fn start(config: SessionConfig) -> Result<(Session, mpsc::UnboundedReceiver<AgentEvent>), Error> {
        let (requests, request_rx) = mpsc::channel(16);
        let (events, event_rx) = mpsc::unbounded_channel();
        runner::Runner::start(config, request_rx, events)?;
        Ok((Session { requests }, event_rx))
    }

    /// Carries out one command; returns once it is done or refused. What
    /// follows from it (a call connecting, a transfer completing) comes as
    /// events.
    pub async fn command(&self, command: AgentCommand) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.requests.send(Request::Command { command, reply }).await.map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Tells the session that the host's network changed (the session
    /// watches the OS itself; a shell that learns it another way, a resume
    /// from sleep say, calls this too). Every call restarts ICE with a
    /// re-INVITE and shows `reconnecting` until its media is back.
    pub async fn network_changed(&self, why: &str) -> Result<(), Error> {
        self.requests.send(Request::NetworkChanged(why.to_owned())).await.map_err(|_| Error::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(acd: &str) -> Config {
        let text = format!(
            "acd = \"{acd}\"\n[sip]\nservers = [\"ws://127.0.0.1:5066\"]\nuser = \"sip:alice@warmline.test\"\n\
             auth_user = \"alice\"\n"
        );
        Config::parse(std::path::Path::new("warmline.toml"), &text).expect("config")
    }

    #[test]
    fn session_config_follows_the_file() {
        let c = SessionConfig::from_config(&config("none"), "pw".into(), AudioInput::Silence, AudioOutput::Discard)
            .expect("session config");
        assert_eq!(c.domain, "warmline.test");
        assert_eq!(c.sip.auth_user, "alice");
        assert!(c.sip.outbound.as_ref().is_some_and(|o| o.instance_id.starts_with("urn:uuid:")));
        assert_eq!(c.media.udp_addrs, vec!["127.0.0.1:0".to_owned()], "a loopback SBC means loopback media");
        assert!(!format!("{c:?}").contains("\"pw\""), "the password never shows in Debug");
    }

    #[test]
    fn microsoft365_settings_follow_the_file_and_dial_at_the_sbc() {
        assert!(
            SessionConfig::from_config(&config("none"), "pw".into(), AudioInput::Silence, AudioOutput::Discard)
                .expect("session config")
                .microsoft365
                .is_none(),
            "no [microsoft365], no Teams actor"
        );
        let text = "acd = \"none\"\n[sip]\nservers = [\"ws://127.0.0.1:5066\"]\nuser = \"sip:alice@warmline.test\"\n\
                    auth_user = \"alice\"\n[microsoft365]\ntenant = \"contoso.onmicrosoft.com\"\n\
                    client_id = \"00001111-aaaa-2222-bbbb-3333cccc4444\"\n";
        let file = Config::parse(std::path::Path::new("warmline.toml"), text).expect("config");
        let c = SessionConfig::from_config(&file, "pw".into(), AudioInput::Silence, AudioOutput::Discard)
            .expect("session config");
        let m = c.microsoft365.expect("[microsoft365] configures the Teams actor");
        assert_eq!(m.teams.tenant, "contoso.onmicrosoft.com");
        assert_eq!(m.teams.graph.as_str(), "https://graph.microsoft.com/v1.0");
        assert_eq!(m.teams.dial.sbc_domain.as_deref(), Some("warmline.test"), "experts are dialled at the SBC");
    }
}
