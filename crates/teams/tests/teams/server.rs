//! A local stand-in for Entra ID and Graph that replays bodies shaped
//! exactly like Microsoft's documented examples (tests/fixtures) and records
//! every request so tests can check what the client sent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sha2::Digest;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use url::Url;

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
pub const ME_ID: &str = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3";

const FIXTURE_ACCESS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik5HVEZ2ZEstZnl0aEV1Q...";
const FIXTURE_REFRESH: &str = "AwABAAAAvPM1KaPlrEqdFSBzjqfTGAMxZGUTdM0t4B4...";
const FIXTURE_DEVICE_CODE: &str = "GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8...";

pub const TOKEN_BODY: &str = include_str!("../fixtures/entra/token.authcode.response.json");
pub const REFRESH_BODY: &str = include_str!("../fixtures/entra/token.refresh.response.json");
pub const DEVICE_BODY: &str = include_str!("../fixtures/entra/devicecode.response.RECONSTRUCTED.json");
pub const DEVICE_TOKEN_BODY: &str = include_str!("../fixtures/entra/devicecode.token.response.json");
pub const PENDING_BODY: &str =
    include_str!("../fixtures/entra/devicecode.error.authorization_pending.RECONSTRUCTED.json");
pub const PRESENCE_REQUEST: &str = include_str!("../fixtures/getPresencesByUserId.request.json");
pub const PRESENCE_BODY: &str = include_str!("../fixtures/getPresencesByUserId.response.json");
pub const THROTTLED_RAW: &str = include_str!("../fixtures/throttled-429.txt");
pub const THROTTLED_10_RAW: &str = include_str!("../fixtures/throttled-429.retry-after-10.txt");
pub const SEARCH_BODY: &str = include_str!("../fixtures/users-search.response.json");
pub const USERS_BODY: &str = include_str!("../fixtures/users-list.response.json");
pub const SEARCH_OR_BODY: &str = include_str!("../fixtures/users-search-or.response.json");

/// Graph's 401 and 403 bodies follow its documented error format
/// (`{"error":{"code","message","innerError"}}`); no example of these two
/// exact bodies is in the fixtures, so the code and message are Graph's usual ones.
pub const UNAUTHORIZED_BODY: &str = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{"date":"2020-08-18T12:51:51","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2"}}}"#;
pub const FORBIDDEN_BODY: &str = r#"{"error":{"code":"Forbidden","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2020-08-18T12:51:51","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2"}}}"#;
pub const NO_CONSISTENCY_BODY: &str = r#"{"error":{"code":"Request_UnsupportedQuery","message":"Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'","innerError":{"date":"2020-08-18T12:51:51","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2"}}}"#;

/// A fault the next Graph request (not /me) answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 exactly as throttled-429.txt (Retry-After: 2.128).
    Throttled,
    /// 429 exactly as throttled-429.retry-after-10.txt.
    Throttled10,
    /// 401 as if the access token had expired.
    Unauthorized,
    /// 403 for a missing permission.
    Forbidden,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug, Default)]
pub struct State {
    /// Planted in every token the server mints, for the leak test.
    pub marker: String,
    pub requests: Vec<Recorded>,
    pub faults: VecDeque<Fault>,
    /// Device code polls answered `authorization_pending` before success.
    pub device_pending: u32,
    /// Answer one device poll with `slow_down` (after the pending ones).
    pub device_slow_down: bool,
    /// Presence per user id: (availability, activity).
    pub presence: HashMap<String, (String, String)>,
    /// Who `/me` says is signed in.
    pub upn: String,
    /// The token endpoint answers 503 (an Entra outage).
    pub token_unavailable: bool,
    /// Answer `$search` without `ConsistencyLevel` (a stand-in bug the suite must catch).
    pub lenient_search: bool,
    /// When set, a `$search` answers with users-list.response.json plus this
    /// `@odata.nextLink`; a request with `$skiptoken` then gets
    /// users-search-or.response.json as the last page.
    pub next_link: Option<String>,
    codes: HashMap<String, (String, String)>,
    refresh_tokens: HashMap<String, bool>,
    access_tokens: HashSet<String>,
    counter: u64,
}

impl State {
    fn mint(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}-{}-{}", self.marker, self.counter)
    }

    /// Every access token minted so far stops working (they "expired").
    pub fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    pub fn refresh_token_count(&self) -> usize {
        self.refresh_tokens.len()
    }

    pub fn graph_requests(&self, path_end: &str) -> Vec<Recorded> {
        self.requests.iter().filter(|r| r.path.ends_with(path_end)).cloned().collect()
    }
}

#[derive(Debug, Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    /// `https` when the server speaks TLS, else `http`.
    scheme: &'static str,
}

impl TestServer {
    pub async fn start(marker: &str) -> TestServer {
        TestServer::start_with(marker, None).await
    }

    /// The same server behind TLS with `tls`'s certificate (see `tls.rs`).
    /// A client that refuses the certificate is dropped after the handshake.
    pub async fn start_tls(marker: &str, tls: Arc<ServerConfig>) -> TestServer {
        TestServer::start_with(marker, Some(TlsAcceptor::from(tls))).await
    }

    async fn start_with(marker: &str, tls: Option<TlsAcceptor>) -> TestServer {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the test server");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            marker: marker.to_string(),
            device_pending: 1,
            upn: "AdeleV@contoso.com".into(),
            ..State::default()
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = match tls {
                        None => http.serve_connection(TokioIo::new(stream), service).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            http.serve_connection(TokioIo::new(stream), service).await
                        }
                    };
                });
            }
        });
        TestServer { addr, state, scheme }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("test server state")
    }

    pub fn authority(&self) -> Url {
        Url::parse(&format!("{}://{}/", self.scheme, self.addr)).expect("url")
    }

    pub fn graph(&self) -> Url {
        Url::parse(&format!("{}://{}/v1.0", self.scheme, self.addr)).expect("url")
    }

    pub fn config(&self) -> warmline_teams::TeamsConfig {
        warmline_teams::TeamsConfig {
            authority: self.authority(),
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
            graph: self.graph(),
            sign_in_timeout_secs: 20,
            ..warmline_teams::TeamsConfig::default()
        }
    }
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Full::new(body.into())).expect("response")
}

fn json(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    respond(status, &[("content-type", "application/json")], body)
}

/// Replays a raw HTTP response file (status line, headers, body).
fn raw(text: &str) -> Response<Full<Bytes>> {
    let (head, body) = text.split_once("\r\n\r\n").expect("raw response has a head and a body");
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(&str, &str)> =
        lines.filter_map(|l| l.split_once(": ")).filter(|(k, _)| !k.eq_ignore_ascii_case("content-length")).collect();
    respond(status, &headers, body.to_string())
}

fn oauth_error(error: &str) -> Response<Full<Bytes>> {
    json(400, PENDING_BODY.replace("authorization_pending", error))
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut s = state.lock().expect("state");
    s.requests.push(recorded.clone());
    let oauth = format!("/{TENANT}/oauth2/v2.0/");
    let response = match (recorded.method.as_str(), recorded.path.as_str()) {
        ("GET", p) if p == format!("{oauth}authorize") => authorize(&mut s, &recorded),
        ("POST", p) if p == format!("{oauth}token") => token(&mut s, &recorded),
        ("POST", p) if p == format!("{oauth}devicecode") => {
            if recorded.form("client_id").as_deref() != Some(CLIENT_ID) {
                oauth_error("invalid_client")
            } else {
                s.refresh_tokens.entry("device-issued".into()).or_insert(true);
                json(200, DEVICE_BODY)
            }
        }
        (_, p) if p.starts_with("/v1.0/") => graph(&mut s, &recorded),
        _ => respond(404, &[], ""),
    };
    Ok(response)
}

fn authorize(s: &mut State, r: &Recorded) -> Response<Full<Bytes>> {
    let ok = r.param("client_id") == Some(CLIENT_ID)
        && r.param("response_type") == Some("code")
        && r.param("code_challenge_method") == Some("S256")
        && r.param("code_challenge").is_some_and(|c| c.len() == 43);
    let Some(redirect) = r.param("redirect_uri").and_then(|u| Url::parse(u).ok()) else {
        return respond(400, &[], "redirect_uri missing");
    };
    if !ok || redirect.scheme() != "http" || redirect.host_str() != Some("127.0.0.1") {
        return respond(400, &[], "bad authorize request");
    }
    let code = s.mint("code");
    s.codes.insert(code.clone(), (r.param("code_challenge").unwrap_or_default().into(), redirect.to_string()));
    let mut location = redirect.clone();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", r.param("state").unwrap_or_default());
    respond(302, &[("location", location.as_str())], "")
}

fn issue(s: &mut State, template: &str) -> Response<Full<Bytes>> {
    let access = s.mint("access");
    let refresh = s.mint("refresh");
    s.access_tokens.insert(access.clone());
    s.refresh_tokens.insert(refresh.clone(), false);
    json(200, template.replace(FIXTURE_ACCESS, &access).replace(FIXTURE_REFRESH, &refresh))
}

fn token(s: &mut State, r: &Recorded) -> Response<Full<Bytes>> {
    if s.token_unavailable {
        return respond(503, &[("retry-after", "30")], "Service Unavailable");
    }
    if r.form("client_id").as_deref() != Some(CLIENT_ID) || r.headers.contains_key("authorization") {
        return oauth_error("invalid_client");
    }
    match r.form("grant_type").as_deref() {
        Some("authorization_code") => {
            let code = r.form("code").unwrap_or_default();
            let Some((challenge, redirect)) = s.codes.remove(&code) else { return oauth_error("invalid_grant") };
            let verifier = r.form("code_verifier").unwrap_or_default();
            let computed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge || r.form("redirect_uri").as_deref() != Some(redirect.as_str()) {
                return oauth_error("invalid_grant");
            }
            issue(s, TOKEN_BODY)
        }
        Some("refresh_token") => {
            let presented = r.form("refresh_token").unwrap_or_default();
            match s.refresh_tokens.get_mut(&presented) {
                // A refresh token works once: Entra rotates it.
                Some(used @ false) => {
                    *used = true;
                    issue(s, REFRESH_BODY)
                }
                _ => oauth_error("invalid_grant"),
            }
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            if r.form("device_code").as_deref() != Some(FIXTURE_DEVICE_CODE) {
                return oauth_error("invalid_grant");
            }
            if s.device_pending > 0 {
                s.device_pending -= 1;
                return json(400, PENDING_BODY);
            }
            if std::mem::take(&mut s.device_slow_down) {
                return oauth_error("slow_down");
            }
            issue(s, DEVICE_TOKEN_BODY)
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

fn graph(s: &mut State, r: &Recorded) -> Response<Full<Bytes>> {
    let bearer = r.headers.get("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if !s.access_tokens.contains(bearer) {
        return json(401, UNAUTHORIZED_BODY);
    }
    if r.path != "/v1.0/me" {
        match s.faults.pop_front() {
            Some(Fault::Throttled) => return raw(THROTTLED_RAW),
            Some(Fault::Throttled10) => return raw(THROTTLED_10_RAW),
            Some(Fault::Unauthorized) => return json(401, UNAUTHORIZED_BODY),
            Some(Fault::Forbidden) => return json(403, FORBIDDEN_BODY),
            None => {}
        }
    }
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1.0/me") => {
            json(200, format!(r#"{{"id":"{ME_ID}","displayName":"Adele Vance","userPrincipalName":"{}"}}"#, s.upn))
        }
        ("GET", "/v1.0/users") => {
            if r.param("$search").is_none() {
                return json(200, USERS_BODY);
            }
            let eventual = r.headers.get("consistencylevel").is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
            if !eventual && !s.lenient_search {
                return json(400, NO_CONSISTENCY_BODY);
            }
            if r.param("$skiptoken").is_some() {
                return json(200, SEARCH_OR_BODY);
            }
            if let Some(next) = &s.next_link {
                let mut page: serde_json::Value = serde_json::from_str(USERS_BODY).expect("fixture");
                page["@odata.nextLink"] = serde_json::Value::String(next.clone());
                return json(200, serde_json::to_string_pretty(&page).expect("json"));
            }
            if r.param("$search").is_some_and(|q| q.contains("displayName:wa")) {
                json(200, SEARCH_BODY)
            } else {
                json(200, USERS_BODY)
            }
        }
        ("POST", "/v1.0/communications/getPresencesByUserId") => presences(s, r),
        _ => json(404, r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource not found."}}"#),
    }
}

fn presences(s: &State, r: &Recorded) -> Response<Full<Bytes>> {
    let ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("ids").cloned())
        .and_then(|ids| serde_json::from_value(ids).ok())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 650 {
        return json(
            400,
            r#"{"error":{"code":"BadRequest","message":"The number of ids must be between 1 and 650."}}"#,
        );
    }
    let documented: serde_json::Value = serde_json::from_str(PRESENCE_REQUEST).expect("fixture");
    if documented["ids"] == serde_json::json!(ids) && s.presence.is_empty() {
        return json(200, PRESENCE_BODY);
    }
    let value: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            let (a, b) = s.presence.get(id).cloned().unwrap_or(("PresenceUnknown".into(), "PresenceUnknown".into()));
            serde_json::json!({ "id": id, "availability": a, "activity": b })
        })
        .collect();
    json(200, serde_json::to_string_pretty(&serde_json::json!({ "value": value })).expect("json"))
}

/// Opens the authorize URL like a browser whose user has already consented:
/// follows the server's redirect to our loopback listener.
#[derive(Debug, Default)]
pub struct ConsentingBrowser {
    pub opened: Mutex<Vec<Url>>,
}

impl warmline_teams::Opener for ConsentingBrowser {
    fn open(&self, url: &Url) -> Result<(), warmline_teams::Error> {
        self.opened.lock().expect("opened").push(url.clone());
        let url = url.clone();
        tokio::spawn(async move {
            let browser = reqwest::Client::new();
            let _ = browser.get(url).send().await.and_then(|r| r.error_for_status());
        });
        Ok(())
    }
}

impl warmline_teams::conformance::Faults for TestServer {
    fn arm(&self, fault: warmline_teams::conformance::Fault) -> bool {
        let fault = match fault {
            warmline_teams::conformance::Fault::Throttle => Fault::Throttled,
            warmline_teams::conformance::Fault::Forbid => Fault::Forbidden,
            _ => return false,
        };
        self.state().faults.push_back(fault);
        true
    }
}
