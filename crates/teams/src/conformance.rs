//! The Entra and Graph contract Warmline relies on, as checks that run
//! against any base URL: our test server, the lab's stand-in, or a real
//! tenant's endpoints where the steps do not need a person.
//!
//! It is compiled unconditionally: it needs no dependency beyond the ones
//! the client uses, so a feature flag would only hide it from the lab.
//!
//! ```no_run
//! # async fn demo(target: warmline_teams::conformance::Target) -> Result<(), warmline_teams::Error> {
//! let report = warmline_teams::conformance::run(&target, None).await?;
//! assert!(report.passed(), "{report}");
//! # Ok(()) }
//! ```

use std::fmt;

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde_json::Value;
use url::Url;

use crate::config::join;
use crate::http::{Http, Reply, parse_retry_after};
use crate::{Error, TeamsConfig};

/// What to check.
#[derive(Debug, Clone)]
pub struct Target {
    /// Endpoints and client id, as the agent would be configured.
    pub config: TeamsConfig,
    /// User ids the target knows, for presence.
    pub user_ids: Vec<String>,
    /// A display name prefix that finds someone.
    pub search: String,
}

/// Faults a stand-in can be asked to produce for its next Graph request, so
/// the error shapes can be checked. Real endpoints do not implement this.
pub trait Faults: Send + Sync {
    /// Arms `fault` for the next Graph request; `false` when unsupported.
    fn arm(&self, fault: Fault) -> bool;
}

/// A fault to arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer 429 with a Retry-After.
    Throttle,
    /// Answer 403.
    Forbid,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target behaves as documented.
    Pass,
    /// It does not: what differs.
    Fail(String),
    /// Not checked: why.
    Skipped(String),
}

/// All checks, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Check name and verdict.
    pub checks: Vec<(&'static str, Verdict)>,
}

impl Report {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|(_, v)| matches!(v, Verdict::Fail(_)))
    }

    /// The verdict of one check.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.checks.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn record(&mut self, name: &'static str, result: Result<(), String>) -> bool {
        let ok = result.is_ok();
        self.checks.push((name, result.err().map_or(Verdict::Pass, Verdict::Fail)));
        ok
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, verdict) in &self.checks {
            match verdict {
                Verdict::Pass => writeln!(f, "pass  {name}")?,
                Verdict::Fail(why) => writeln!(f, "FAIL  {name}: {why}")?,
                Verdict::Skipped(why) => writeln!(f, "skip  {name}: {why}")?,
            }
        }
        Ok(())
    }
}

/// The loopback redirect the checks name; nothing listens there, the
/// checks read the `Location` header instead of following it.
const REDIRECT: &str = "http://127.0.0.1:1/";

struct Suite<'a> {
    http: Http,
    target: &'a Target,
}

/// Runs every check against `target`. `faults` lets a stand-in produce 429
/// and 403 on demand; without it those checks are skipped.
pub async fn run(target: &Target, faults: Option<&dyn Faults>) -> Result<Report, Error> {
    let http = Http::from_http_config(&target.config.http)?;
    let suite = Suite { http, target };
    let mut report = Report::default();

    let tokens = suite.auth_code(&mut report).await;
    let access = match tokens {
        Some((access, refresh)) => {
            let rotated = suite.refresh_rotation(&refresh).await;
            report.record("token.refresh_rotation", rotated);
            Some(access)
        }
        None => {
            report.checks.push(("token.refresh_rotation", Verdict::Skipped("no refresh token".into())));
            None
        }
    };
    let pending = suite.device_code_pending().await;
    report.record("token.device_code_pending", pending);

    let Some(access) = access else {
        report.checks.push(("graph.*", Verdict::Skipped("no access token".into())));
        return Ok(report);
    };
    let me = suite.get(&["me"], &[], Some(&access), false).await.and_then(|r| {
        expect_status(&r, 200)?;
        let v = body(&r)?;
        for field in ["id", "userPrincipalName"] {
            v.get(field).and_then(Value::as_str).ok_or(format!("/me has no {field}"))?;
        }
        Ok(())
    });
    report.record("graph.me", me);
    let unauthorized = suite.get(&["me"], &[], Some("not-a-token"), false).await.and_then(|r| {
        expect_status(&r, 401)?;
        graph_error_code(&r).map(|_| ())
    });
    report.record("graph.unauthorized_shape", unauthorized);

    let query =
        [("$search", format!("\"displayName:{}\"", suite.target.search)), ("$select", crate::directory::SELECT.into())];
    let search = suite.get(&["users"], &query, Some(&access), true).await.and_then(|r| {
        expect_status(&r, 200)?;
        body(&r)?.get("value").and_then(Value::as_array).map(|_| ()).ok_or("search result has no value array".into())
    });
    report.record("graph.users_search", search);
    let no_header = suite.get(&["users"], &query, Some(&access), false).await.and_then(|r| {
        expect_status(&r, 400)?;
        match graph_error_code(&r)?.as_str() {
            "Request_UnsupportedQuery" => Ok(()),
            other => Err(format!("error code {other}, Graph says Request_UnsupportedQuery")),
        }
    });
    report.record("graph.users_search_needs_consistency_level", no_header);

    for (name, count, status) in
        [("graph.presence_1", 1, 200), ("graph.presence_650", 650, 200), ("graph.presence_651_refused", 651, 400)]
    {
        let ids = suite.ids(count);
        let result = suite.presences(&access, &ids).await.and_then(|r| {
            expect_status(&r, status)?;
            if status == 200 { check_presences(&r, &ids) } else { graph_error_code(&r).map(|_| ()) }
        });
        report.record(name, result);
    }

    let ids = suite.ids(1);
    match faults {
        Some(f) if f.arm(Fault::Throttle) => {
            let result = suite.presences(&access, &ids).await.and_then(|r| {
                expect_status(&r, 429)?;
                let value =
                    r.headers.get("retry-after").and_then(|v| v.to_str().ok()).ok_or("429 without Retry-After")?;
                parse_retry_after(value).ok_or(format!("Retry-After {value:?} is not seconds"))?;
                match graph_error_code(&r)?.as_str() {
                    "TooManyRequests" => Ok(()),
                    other => Err(format!("429 error code {other}, Graph says TooManyRequests")),
                }
            });
            report.record("graph.throttled_shape", result);
        }
        _ => report
            .checks
            .push(("graph.throttled_shape", Verdict::Skipped("the target cannot be asked to throttle".into()))),
    }
    match faults {
        Some(f) if f.arm(Fault::Forbid) => {
            let result = suite.presences(&access, &ids).await.and_then(|r| {
                expect_status(&r, 403)?;
                graph_error_code(&r).map(|_| ())
            });
            report.record("graph.forbidden_shape", result);
        }
        _ => report
            .checks
            .push(("graph.forbidden_shape", Verdict::Skipped("the target cannot be asked to refuse".into()))),
    }
    Ok(report)
}

impl Suite<'_> {
    fn config(&self) -> &TeamsConfig {
        &self.target.config
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, String> {
        self.http.send(request).await.map_err(|e| e.to_string())
    }

    /// Authorize (302 with code and state), a wrong verifier (400
    /// invalid_grant), the right one (200 with both tokens).
    async fn auth_code(&self, report: &mut Report) -> Option<(String, String)> {
        let authorize = self.authorize().await;
        let (code, _) = report.record_value("authorize.redirects_with_code_and_state", authorize)?;
        let wrong = self.exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier").await.and_then(|r| {
            expect_status(&r, 400)?;
            oauth_error(&r, "invalid_grant")
        });
        report.record("token.auth_code_pkce_verifier_checked", wrong);
        let authorize = self.authorize().await;
        let (code, verifier) = authorize.ok()?;
        let tokens = self.exchange(&code, &verifier).await.and_then(|r| {
            expect_status(&r, 200)?;
            token_shape(&r)
        });
        report.record_value("token.auth_code_pkce", tokens)
    }

    async fn authorize(&self) -> Result<(String, String), String> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let scope = self.config().scopes.join(" ");
        let request = self.http.client().get(self.config().authorize_url()).query(&[
            ("client_id", self.config().client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", scope.as_str()),
            ("state", state.secret().as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let reply = self.send(request).await?;
        if !(300..400).contains(&reply.status) {
            return Err(format!("authorize answered {}, expected a redirect to the loopback URI", reply.status));
        }
        let location =
            reply.headers.get("location").and_then(|v| v.to_str().ok()).ok_or("redirect without Location")?;
        let location = Url::parse(location).map_err(|e| format!("Location is not a URL: {e}"))?;
        if !location.as_str().starts_with(REDIRECT) {
            return Err("the redirect does not go to the redirect_uri".into());
        }
        let param = |n: &str| location.query_pairs().find(|(k, _)| k == n).map(|(_, v)| v.into_owned());
        if param("state").as_deref() != Some(state.secret().as_str()) {
            return Err("the redirect does not carry our state".into());
        }
        let code = param("code").ok_or("the redirect carries no code")?;
        Ok((code, verifier.secret().clone()))
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<Reply, String> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Reply, String> {
        let mut form = form.to_vec();
        form.push(("client_id", &self.config().client_id));
        self.send(self.http.client().post(self.config().token_url()).form(&form)).await
    }

    /// A refresh token works once and yields a new one.
    async fn refresh_rotation(&self, refresh: &str) -> Result<(), String> {
        let scope = self.config().scopes.join(" ");
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("scope", scope.as_str())];
        let first = self.token(&form).await?;
        expect_status(&first, 200)?;
        let (_, next) = token_shape(&first)?;
        if next == refresh {
            return Err("the refresh token was not rotated".into());
        }
        let again = self.token(&form).await?;
        expect_status(&again, 400).map_err(|e| format!("reusing a spent refresh token: {e}"))?;
        oauth_error(&again, "invalid_grant")
    }

    /// The device authorization response, then `authorization_pending`.
    async fn device_code_pending(&self) -> Result<(), String> {
        let scope = self.config().scopes.join(" ");
        let form = [("client_id", self.config().client_id.as_str()), ("scope", scope.as_str())];
        let reply = self.send(self.http.client().post(self.config().device_code_url()).form(&form)).await?;
        expect_status(&reply, 200)?;
        let v = body(&reply)?;
        for field in ["device_code", "user_code", "verification_uri"] {
            v.get(field).and_then(Value::as_str).ok_or(format!("device code response has no {field}"))?;
        }
        v.get("expires_in").and_then(Value::as_u64).ok_or("device code response has no numeric expires_in")?;
        let device_code = v.get("device_code").and_then(Value::as_str).unwrap_or_default();
        let poll = self
            .token(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device_code)])
            .await?;
        expect_status(&poll, 400)?;
        oauth_error(&poll, "authorization_pending")
    }

    async fn get(
        &self,
        path: &[&str],
        query: &[(&str, String)],
        bearer: Option<&str>,
        eventual: bool,
    ) -> Result<Reply, String> {
        let mut request = self.http.client().get(join(&self.config().graph, path)).query(query);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if eventual {
            request = request.header("ConsistencyLevel", "eventual");
        }
        self.send(request).await
    }

    async fn presences(&self, bearer: &str, ids: &[String]) -> Result<Reply, String> {
        let url = join(&self.config().graph, &["communications", "getPresencesByUserId"]);
        self.send(self.http.client().post(url).bearer_auth(bearer).json(&serde_json::json!({ "ids": ids }))).await
    }

    /// `count` ids: the target's own, then made-up GUIDs.
    fn ids(&self, count: usize) -> Vec<String> {
        let known = self.target.user_ids.iter().cloned();
        let made_up = (0u64..).map(|i| format!("00000000-0000-4000-8000-{i:012x}"));
        known.chain(made_up).take(count).collect()
    }
}

impl Report {
    fn record_value<T>(&mut self, name: &'static str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => {
                self.checks.push((name, Verdict::Pass));
                Some(v)
            }
            Err(why) => {
                self.checks.push((name, Verdict::Fail(why)));
                None
            }
        }
    }
}

fn expect_status(reply: &Reply, status: u16) -> Result<(), String> {
    if reply.status == status { Ok(()) } else { Err(format!("status {}, expected {status}", reply.status)) }
}

fn body(reply: &Reply) -> Result<Value, String> {
    serde_json::from_slice(&reply.body).map_err(|e| format!("body is not JSON: {e}"))
}

fn graph_error_code(reply: &Reply) -> Result<String, String> {
    body(reply)?
        .pointer("/error/code")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(format!("{} without Graph's {{\"error\":{{\"code\":...}}}} body", reply.status))
}

fn oauth_error(reply: &Reply, expected: &str) -> Result<(), String> {
    let v = body(reply)?;
    match v.get("error").and_then(Value::as_str) {
        Some(e) if e == expected => Ok(()),
        other => Err(format!("OAuth error {other:?}, expected {expected}")),
    }
}

/// `token_type` Bearer, numeric `expires_in`, both tokens. Returns them.
fn token_shape(reply: &Reply) -> Result<(String, String), String> {
    let v = body(reply)?;
    if !v.get("token_type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err("token_type is not Bearer".into());
    }
    v.get("expires_in").and_then(Value::as_u64).ok_or("expires_in is not a number")?;
    let get = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_string).ok_or(format!("no {f}"));
    Ok((get("access_token")?, get("refresh_token")?))
}

fn check_presences(reply: &Reply, ids: &[String]) -> Result<(), String> {
    let v = body(reply)?;
    let value = v.get("value").and_then(Value::as_array).ok_or("no value array")?;
    if value.len() != ids.len() {
        return Err(format!("{} presences for {} ids", value.len(), ids.len()));
    }
    for p in value {
        for field in ["id", "availability", "activity"] {
            p.get(field).and_then(Value::as_str).ok_or(format!("a presence without {field}"))?;
        }
    }
    Ok(())
}
