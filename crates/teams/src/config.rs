//! Configuration: every endpoint, the sign-in client, the presence budget and
//! how experts are dialled. Nothing in here is secret.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;

/// Microsoft 365 settings, the `[teams]` table of `warmline.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeamsConfig {
    /// The login authority, without the tenant: `https://login.microsoftonline.com`.
    pub authority: Url,
    /// The Entra tenant: a GUID, a domain, `organizations` or `common`.
    pub tenant: String,
    /// The application (client) id of the public-client app registration.
    pub client_id: String,
    /// Microsoft Graph including its version: `https://graph.microsoft.com/v1.0`.
    pub graph: Url,
    /// Delegated scopes asked for at sign-in.
    pub scopes: Vec<String>,
    /// The loopback host of the redirect URI. Entra accepts any port on a
    /// loopback redirect registered without one; `127.0.0.1` avoids a
    /// `localhost` that resolves to `::1` while we listen on IPv4.
    pub redirect_host: String,
    /// How long the browser sign-in waits for the redirect.
    pub sign_in_timeout_secs: u64,
    /// Refresh the access token this long before it expires.
    pub refresh_ahead_secs: u64,
    /// How presence is polled.
    pub presence: PresenceBudget,
    /// How experts become dial targets.
    pub dial: DialConfig,
    /// How many people a search returns.
    pub directory: DirectoryConfig,
    /// Proxy and trust settings for every HTTPS request.
    pub http: HttpConfig,
}

/// The scopes Warmline needs: who the agent is, everyone's presence, basic
/// profiles for search, and a refresh token.
pub const DEFAULT_SCOPES: [&str; 4] = ["User.Read", "Presence.Read.All", "User.ReadBasic.All", "offline_access"];

impl Default for TeamsConfig {
    fn default() -> Self {
        TeamsConfig {
            authority: fixed_url("https://login.microsoftonline.com"),
            tenant: "organizations".into(),
            client_id: String::new(),
            graph: fixed_url("https://graph.microsoft.com/v1.0"),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            redirect_host: "127.0.0.1".into(),
            sign_in_timeout_secs: 300,
            refresh_ahead_secs: 300,
            presence: PresenceBudget::default(),
            dial: DialConfig::default(),
            directory: DirectoryConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

#[allow(clippy::expect_used)]
fn fixed_url(s: &str) -> Url {
    Url::parse(s).expect("a constant URL parses")
}

impl TeamsConfig {
    /// Checks what serde cannot: URLs are HTTPS unless they point at this
    /// machine, the client id is set, the budget is sane.
    pub fn validate(&self) -> Result<(), Error> {
        check_endpoint(&self.authority, "authority")?;
        check_endpoint(&self.graph, "graph")?;
        if let Some(proxy) = self.http.proxy.as_ref().filter(|p| !matches!(p.scheme(), "http" | "https")) {
            return Err(Error::Config(format!("http.proxy {proxy} must be an http:// or https:// URL")));
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::Config(
                "client_id is not set: register a public-client app in Entra ID and put its application id here".into(),
            ));
        }
        if self.tenant.trim().is_empty() || self.tenant.contains('/') {
            return Err(Error::Config(format!("tenant {:?} is not a tenant id, domain or alias", self.tenant)));
        }
        self.directory.validate()?;
        self.presence.validate()
    }

    /// `{authority}/{tenant}/oauth2/v2.0/authorize`.
    pub fn authorize_url(&self) -> Url {
        join(&self.authority, &[&self.tenant, "oauth2", "v2.0", "authorize"])
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> Url {
        join(&self.authority, &[&self.tenant, "oauth2", "v2.0", "token"])
    }

    /// `{authority}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn device_code_url(&self) -> Url {
        join(&self.authority, &[&self.tenant, "oauth2", "v2.0", "devicecode"])
    }

    /// A Graph URL below the configured base.
    pub fn graph_url(&self, segments: &[&str]) -> Url {
        join(&self.graph, segments)
    }
}

/// Appends path segments to a base URL that may or may not end in `/`.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Whether the URL names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// TLS is never optional on the network; plain HTTP is only for the lab and
/// test servers on this machine.
pub(crate) fn check_endpoint(url: &Url, what: &str) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Error::Config(format!(
            "{what} {url} must be https:// (plain http:// is accepted only for loopback test servers)"
        ))),
    }
}

/// How often one agent may ask Graph for presence.
///
/// The defaults and their arithmetic are in the crate documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceBudget {
    /// Normal pace: seconds between two batch requests of one agent.
    pub interval_secs: f64,
    /// The pace taken after a 429, safe when many agents share the tenant.
    pub slow_interval_secs: f64,
    /// The slowest pace, reached when 429s keep coming at the slow pace.
    pub max_interval_secs: f64,
    /// Quiet seconds (no 429) before the pace speeds up by one step.
    pub recover_after_secs: f64,
    /// How many seconds one recovery step takes off the interval at or below
    /// the slow pace (above it, a step takes a quarter off).
    pub recover_step_secs: f64,
    /// Ids per `getPresencesByUserId` request (Graph allows at most 650).
    pub max_ids_per_request: usize,
    /// The tenant-wide limit for all agents together, for documentation and
    /// warnings: 1,500 requests per 30 seconds.
    pub tenant_requests_per_window: u32,
    /// The tenant limit's window in seconds.
    pub tenant_window_secs: f64,
}

/// Graph's hard limit on ids in one `getPresencesByUserId` request.
pub const MAX_IDS_PER_REQUEST: usize = 650;

impl Default for PresenceBudget {
    fn default() -> Self {
        PresenceBudget {
            interval_secs: 8.0,
            slow_interval_secs: 25.0,
            max_interval_secs: 120.0,
            recover_after_secs: 120.0,
            recover_step_secs: 1.0,
            max_ids_per_request: MAX_IDS_PER_REQUEST,
            tenant_requests_per_window: 1500,
            tenant_window_secs: 30.0,
        }
    }
}

impl PresenceBudget {
    /// Rejects values that would hammer Graph or never poll.
    pub fn validate(&self) -> Result<(), Error> {
        let secs = [
            ("interval_secs", self.interval_secs),
            ("slow_interval_secs", self.slow_interval_secs),
            ("max_interval_secs", self.max_interval_secs),
            ("recover_after_secs", self.recover_after_secs),
            ("recover_step_secs", self.recover_step_secs),
            ("tenant_window_secs", self.tenant_window_secs),
        ];
        for (name, v) in secs {
            if !v.is_finite() || v <= 0.0 || v > 86_400.0 {
                return Err(Error::Config(format!("presence.{name} = {v} must be between 0 and 86400 seconds")));
            }
        }
        if self.interval_secs < 1.0 {
            return Err(Error::Config("presence.interval_secs below 1 s would spend the tenant's budget alone".into()));
        }
        if !(self.interval_secs <= self.slow_interval_secs && self.slow_interval_secs <= self.max_interval_secs) {
            return Err(Error::Config(
                "presence intervals must satisfy interval_secs <= slow_interval_secs <= max_interval_secs".into(),
            ));
        }
        if self.max_ids_per_request == 0 || self.max_ids_per_request > MAX_IDS_PER_REQUEST {
            return Err(Error::Config(format!(
                "presence.max_ids_per_request must be 1..={MAX_IDS_PER_REQUEST} (Graph's limit)"
            )));
        }
        Ok(())
    }

    /// The normal pace.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_secs)
    }

    /// The pace after a 429.
    pub fn slow_interval(&self) -> Duration {
        Duration::from_secs_f64(self.slow_interval_secs)
    }

    /// The slowest pace.
    pub fn max_interval(&self) -> Duration {
        Duration::from_secs_f64(self.max_interval_secs)
    }

    /// Quiet time before each recovery step.
    pub fn recover_after(&self) -> Duration {
        Duration::from_secs_f64(self.recover_after_secs)
    }

    /// One recovery step.
    pub fn recover_step(&self) -> Duration {
        Duration::from_secs_f64(self.recover_step_secs)
    }

    /// The tenant limit's window.
    pub fn tenant_window(&self) -> Duration {
        Duration::from_secs_f64(self.tenant_window_secs)
    }

    /// How many agents fit in the tenant limit at a given interval.
    pub fn agents_within_tenant_limit(&self, interval: Duration) -> u32 {
        let per_agent = self.tenant_window_secs / interval.as_secs_f64();
        (f64::from(self.tenant_requests_per_window) / per_agent).floor() as u32
    }
}

/// How many people an expert search returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// People asked for per request (`$top`; Graph allows up to 999).
    pub page_size: u32,
    /// People returned per search at most. Graph pages its answer with
    /// `@odata.nextLink`; pages are followed until this many are found.
    pub max_results: usize,
}

/// Graph's largest `$top` for `/users`.
pub const MAX_PAGE_SIZE: u32 = 999;

/// The most people one search may return, so a broad term cannot page
/// through a whole tenant.
pub const MAX_SEARCH_RESULTS: usize = 1000;

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig { page_size: 25, max_results: 100 }
    }
}

impl DirectoryConfig {
    /// Rejects a page size Graph refuses or a limit of nothing.
    pub fn validate(&self) -> Result<(), Error> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::Config(format!("directory.page_size must be 1..={MAX_PAGE_SIZE} (Graph's limit)")));
        }
        if self.max_results == 0 || self.max_results > MAX_SEARCH_RESULTS {
            return Err(Error::Config(format!("directory.max_results must be 1..={MAX_SEARCH_RESULTS}")));
        }
        Ok(())
    }
}

/// How an expert becomes a SIP target for the consult call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialConfig {
    /// The SBC (Direct Routing) domain: `+14255550100` becomes
    /// `sip:+14255550100@{sbc_domain};user=phone`.
    pub sbc_domain: Option<String>,
    /// Country calling code for numbers Graph holds without `+` (`1` turns
    /// `425-555-0100` into `+14255550100`).
    pub default_country_code: Option<String>,
    /// Explicit targets by Graph user id or user principal name: a SIP URI,
    /// or a number or user part that is put in front of `@{sbc_domain}`.
    pub mapping: BTreeMap<String, String>,
}

/// Proxy and trust settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A proxy for every request (`http://` or `https://`).
    /// Without it, the `HTTPS_PROXY`/`NO_PROXY` environment is honoured.
    pub proxy: Option<Url>,
    /// A PEM file with extra CA certificates to trust (a TLS-inspecting
    /// proxy's CA), in addition to the OS store and Mozilla's roots.
    pub extra_ca_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { proxy: None, extra_ca_file: None, timeout_secs: 30 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> TeamsConfig {
        TeamsConfig { client_id: "00001111-aaaa-2222-bbbb-3333cccc4444".into(), ..TeamsConfig::default() }
    }

    #[test]
    fn endpoints_follow_the_v2_layout() {
        let mut c = valid();
        c.tenant = "contoso.onmicrosoft.com".into();
        assert_eq!(
            c.token_url().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        c.authority = Url::parse("http://127.0.0.1:9000/entra/").expect("url");
        assert_eq!(
            c.device_code_url().as_str(),
            "http://127.0.0.1:9000/entra/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
        );
        assert_eq!(
            c.graph_url(&["communications", "getPresencesByUserId"]).as_str(),
            "https://graph.microsoft.com/v1.0/communications/getPresencesByUserId"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let mut c = valid();
        c.validate().expect("defaults with a client id are valid");
        c.graph = Url::parse("http://graph.example.com/v1.0").expect("url");
        let e = c.validate().expect_err("http to a remote host must be refused");
        assert!(e.to_string().contains("https"), "{e}");
        for ok in ["http://127.0.0.1:1234/v1.0", "http://localhost/v1.0", "http://[::1]:80/"] {
            c.graph = Url::parse(ok).expect("url");
            c.validate().unwrap_or_else(|e| panic!("{ok} is loopback: {e}"));
        }
    }

    #[test]
    fn missing_client_id_says_what_to_do() {
        let e = TeamsConfig::default().validate().expect_err("no client id");
        assert!(e.to_string().contains("app in Entra ID"), "{e}");
    }

    #[test]
    fn toml_shaped_json_round_trips_with_defaults() {
        let c: TeamsConfig =
            serde_json::from_str(r#"{"client_id":"abc","presence":{"interval_secs":10}}"#).expect("parses");
        assert_eq!(c.presence.interval_secs, 10.0);
        assert_eq!(c.presence.slow_interval_secs, 25.0, "unset fields keep their defaults");
        let back: TeamsConfig = serde_json::from_str(&serde_json::to_string(&c).expect("ser")).expect("de");
        assert_eq!(back, c);
        assert!(serde_json::from_str::<TeamsConfig>(r#"{"graph_url":"x"}"#).is_err(), "typos are rejected");
    }

    #[test]
    fn directory_limits_stay_within_graphs() {
        let d = DirectoryConfig::default();
        assert_eq!((d.page_size, d.max_results), (25, 100));
        d.validate().expect("default directory limits are valid");
        assert!(DirectoryConfig { page_size: 1000, ..d.clone() }.validate().is_err());
        assert!(DirectoryConfig { page_size: 0, ..d.clone() }.validate().is_err());
        assert!(DirectoryConfig { max_results: 0, ..d.clone() }.validate().is_err());
        let c = TeamsConfig {
            client_id: "abc".into(),
            directory: DirectoryConfig { max_results: 5000, ..d },
            ..TeamsConfig::default()
        };
        assert!(c.validate().is_err(), "TeamsConfig::validate checks the directory too");
    }

    #[test]
    fn budget_arithmetic_matches_the_docs() {
        let b = PresenceBudget::default();
        b.validate().expect("default budget is valid");
        assert_eq!(b.agents_within_tenant_limit(b.interval()), 400);
        assert_eq!(b.agents_within_tenant_limit(b.slow_interval()), 1250);
        let fast = PresenceBudget { interval_secs: 0.5, ..PresenceBudget::default() };
        assert!(fast.validate().is_err());
        let too_many = PresenceBudget { max_ids_per_request: 651, ..PresenceBudget::default() };
        assert!(too_many.validate().is_err());
    }
}
