//! The Microsoft Entra ID stand-in: the v2.0 endpoints a public client
//! uses (authorize, token, devicecode), a consent page, a device login page
//! and OpenID discovery, on `http://127.0.0.1:PORT/{tenant}/...`.
//!
//! It is strict where Entra is and the client must be right: the tenant,
//! the client id, a loopback `redirect_uri`, PKCE, single-use codes,
//! rotated refresh tokens, device codes that stay `authorization_pending`
//! until approved. Errors have Entra's JSON shape (see [`error`]).

pub(crate) mod error;
pub(crate) mod grants;
mod jwt;
mod pages;
pub(crate) mod scopes;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use url::Url;

use self::error::AadError;
use self::grants::{Grant, PendingAuthorize, PkceMethod};
use crate::control::{LabEvent, SignInFlow};
use crate::faults::{self, TokenFault};
use crate::scenario::ConsentMode;
use crate::tenant::{Shared, TenantState};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/consent", post(consent))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery))
        .route("/devicelogin", get(device_page).post(device_decide))
        .with_state(shared)
}

type Params = Vec<(String, String)>;

fn parse(text: &[u8]) -> Params {
    url::form_urlencoded::parse(text).into_owned().collect()
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// Entra accepts the tenant's id, its domain and the multi-tenant aliases.
fn tenant_ok(s: &TenantState, tenant: &str) -> bool {
    let t = tenant.to_ascii_lowercase();
    t == s.tenant.id || t == s.tenant.domain || t == "organizations" || t == "common"
}

/// A public client's loopback redirect: `http`, a loopback host, any port.
fn loopback_redirect(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    let loopback = match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (url.scheme() == "http" && loopback && url.fragment().is_none()).then_some(url)
}

// ------------------------------------------------------------------ authorize

/// Sends the browser back to the app, as the request's `response_mode` says.
fn back_to_app(redirect_uri: &str, mode: &str, fields: Vec<(&str, String)>) -> Response {
    if mode == "form_post" {
        return pages::form_post(redirect_uri, &fields);
    }
    let mut url = match Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
    if mode == "fragment" {
        url.set_fragment(Some(&encoded));
    } else {
        let query = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&{encoded}"),
            _ => encoded,
        };
        url.set_query(Some(&query));
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    error::no_store(&mut response);
    response
}

fn error_to_app(redirect_uri: &str, mode: &str, state: Option<&str>, e: &AadError, now: u64) -> Response {
    let mut fields = vec![
        ("error", e.error.to_string()),
        ("error_description", e.description(now, &crate::ids::guid(), &crate::ids::guid())),
    ];
    if let Some(s) = state {
        fields.push(("state", s.to_string()));
    }
    back_to_app(redirect_uri, mode, fields)
}

fn code_to_app(request: &PendingAuthorize, code: String) -> Response {
    let mut fields = vec![("code", code)];
    if let Some(s) = &request.state {
        fields.push(("state", s.clone()));
    }
    back_to_app(&request.redirect_uri, &request.response_mode, fields)
}

async fn authorize(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>, RawQuery(q): RawQuery) -> Response {
    let now = shared.now();
    let params = parse(q.unwrap_or_default().as_bytes());
    let mut s = shared.lock();
    // Until the client and its redirect are known good, errors are shown, not redirected.
    if !tenant_ok(&s, &tenant) {
        return pages::error(&AadError::unknown_tenant(&tenant), now);
    }
    let Some(client_id) = param(&params, "client_id") else {
        return pages::error(&AadError::missing("client_id"), now);
    };
    if client_id != s.tenant.client_id {
        return pages::error(&AadError::unknown_client(client_id, &s.tenant.domain), now);
    }
    let Some(redirect_uri) = param(&params, "redirect_uri") else {
        return pages::error(&AadError::missing("redirect_uri"), now);
    };
    if loopback_redirect(redirect_uri).is_none() {
        return pages::error(&AadError::redirect_mismatch(redirect_uri, client_id), now);
    }
    let state = param(&params, "state");
    let requested_mode = param(&params, "response_mode").unwrap_or("query");
    let mode = if matches!(requested_mode, "query" | "fragment" | "form_post") { requested_mode } else { "query" };
    let fail = |e: AadError| error_to_app(redirect_uri, mode, state, &e, now);
    if mode != requested_mode {
        return fail(AadError::new(
            "invalid_request",
            9_002_313,
            format!("Invalid request. response_mode '{requested_mode}' is not query, fragment or form_post."),
        ));
    }
    match param(&params, "response_type") {
        Some("code") => {}
        Some(other) => {
            return fail(AadError::new(
                "unsupported_response_type",
                700_054,
                format!("response_type '{other}' is not enabled for the application."),
            ));
        }
        None => return fail(AadError::missing("response_type")),
    }
    let requested = match param(&params, "scope").map(|sc| scopes::parse(sc, &s.consented)) {
        None => return fail(AadError::missing("scope")),
        Some(Err(e)) => return fail(e),
        Some(Ok(v)) => v,
    };
    let Some(challenge) = param(&params, "code_challenge") else {
        return fail(AadError::new(
            "invalid_request",
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        ));
    };
    let method = match param(&params, "code_challenge_method") {
        None | Some("plain") => PkceMethod::Plain,
        Some("S256") => PkceMethod::S256,
        Some(other) => {
            return fail(AadError::new(
                "invalid_request",
                9_002_313,
                format!("Invalid request. code_challenge_method '{other}' is not S256 or plain."),
            ));
        }
    };
    if !(43..=128).contains(&challenge.len()) {
        return fail(AadError::new("invalid_request", 501_491, "Invalid size of Code_Challenge parameter."));
    }
    let request = PendingAuthorize {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        response_mode: mode.to_string(),
        state: state.map(str::to_string),
        scopes: scopes::grant(&requested, &s.consented),
        challenge: challenge.to_string(),
        method,
        nonce: param(&params, "nonce").map(str::to_string),
        login_hint: param(&params, "login_hint").map(str::to_string),
        expires_at: now + grants::CODE_LIFETIME_MS,
    };
    match s.consent {
        ConsentMode::Auto => {
            // The login hint's user, else the first agent (the directory lists agents first).
            let user = request.login_hint.as_deref().and_then(|h| s.directory.find(h)).unwrap_or(0);
            let code = s.grants.issue_code(&request, user, now);
            code_to_app(&request, code)
        }
        ConsentMode::Page if param(&params, "prompt") == Some("none") => fail(AadError::new(
            "interaction_required",
            50_058,
            "A silent sign-in request was sent but no user is signed in.",
        )),
        ConsentMode::Page => {
            let (scopes, hint) = (request.scopes.clone(), request.login_hint.clone());
            let id = s.grants.hold_authorize(request, now);
            let people: Vec<_> = s.directory.users.iter().collect();
            let action = format!("/{tenant}/oauth2/v2.0/consent");
            pages::consent(&action, &id, &s.tenant.display_name, client_id, &scopes, &people, hint.as_deref())
        }
    }
}

/// The consent page's form: a user picked, or cancel.
async fn consent(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let now = shared.now();
    let form = parse(&body);
    let mut s = shared.lock();
    if !tenant_ok(&s, &tenant) {
        return pages::error(&AadError::unknown_tenant(&tenant), now);
    }
    let Some(request) = param(&form, "request").and_then(|id| s.grants.take_authorize(id, now)) else {
        return pages::error(
            &AadError::new(
                "invalid_request",
                9_002_313,
                "Invalid request. This sign-in page expired or was already used; start the sign-in again from the app.",
            ),
            now,
        );
    };
    let state = request.state.as_deref();
    if param(&form, "cancel").is_some() {
        let e = AadError::new("access_denied", 65_004, "User declined to consent to access the app.");
        return error_to_app(&request.redirect_uri, &request.response_mode, state, &e, now);
    }
    let Some(user) = param(&form, "user").and_then(|u| s.directory.find(u)) else {
        let e = AadError::new("invalid_request", 50_034, "The user account does not exist in the directory.");
        return error_to_app(&request.redirect_uri, &request.response_mode, state, &e, now);
    };
    let code = s.grants.issue_code(&request, user, now);
    code_to_app(&request, code)
}

// ------------------------------------------------------------------ token

fn token_fault(s: &mut TenantState) -> Option<AadError> {
    let rule = faults::take(&mut s.token_faults, |r| &mut r.times, |_| true)?;
    Some(match rule.fault {
        TokenFault::Unavailable => {
            let mut e =
                AadError::new("temporarily_unavailable", 90_033, "A transient error has occurred. Please try again.");
            e.status = StatusCode::SERVICE_UNAVAILABLE;
            e
        }
        TokenFault::InteractionRequired => {
            let mut e = AadError::new(
                "interaction_required",
                50_076,
                "Due to a configuration change made by your administrator, or because you moved to a new location, \
                 you must use multi-factor authentication to access the app.",
            );
            e.suberror = Some("basic_action");
            e
        }
    })
}

/// Checks what every token request shares: tenant, client, no secret.
fn client(s: &TenantState, tenant: &str, headers: &HeaderMap, form: &Params) -> Result<String, AadError> {
    if !tenant_ok(s, tenant) {
        return Err(AadError::unknown_tenant(tenant));
    }
    if headers.contains_key(header::AUTHORIZATION)
        || param(form, "client_secret").is_some()
        || param(form, "client_assertion").is_some()
    {
        let mut e = AadError::new(
            "invalid_client",
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        );
        e.status = StatusCode::UNAUTHORIZED;
        return Err(e);
    }
    let client_id = param(form, "client_id").ok_or_else(|| AadError::missing("client_id"))?;
    if client_id != s.tenant.client_id {
        return Err(AadError::unknown_client(client_id, &s.tenant.domain));
    }
    Ok(client_id.to_string())
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.now();
    let form = parse(&body);
    let (result, event) = {
        let mut s = shared.lock();
        match token_grant(&mut s, &shared, &tenant, &headers, &form, now) {
            Ok((body, event)) => (Ok(body), event),
            Err(e) => (Err(e), None),
        }
    };
    if let Some(event) = event {
        shared.emit(event);
    }
    match result {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            error::no_store(&mut response);
            response
        }
        Err(e) => {
            let mut response = e.to_response(now);
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            }
            response
        }
    }
}

fn token_grant(
    s: &mut TenantState,
    shared: &Shared,
    tenant: &str,
    headers: &HeaderMap,
    form: &Params,
    now: u64,
) -> Result<(serde_json::Value, Option<LabEvent>), AadError> {
    if let Some(e) = token_fault(s) {
        return Err(e);
    }
    let client_id = client(s, tenant, headers, form)?;
    let grant_type = param(form, "grant_type").ok_or_else(|| AadError::missing("grant_type"))?;
    let (grant, nonce, flow) = match grant_type {
        "authorization_code" => {
            let code = param(form, "code").ok_or_else(|| AadError::missing("code"))?;
            let redirect = param(form, "redirect_uri");
            let (grant, nonce) = s.grants.redeem_code(code, &client_id, redirect, param(form, "code_verifier"), now)?;
            (grant, nonce, Some(SignInFlow::AuthorizationCode))
        }
        "refresh_token" => {
            let refresh = param(form, "refresh_token").ok_or_else(|| AadError::missing("refresh_token"))?;
            let asked = match param(form, "scope") {
                Some(sc) => Some(scopes::parse(sc, &s.consented)?),
                None => None,
            };
            let inactive_ms = s.entra.refresh_token_inactive_days.saturating_mul(86_400_000);
            let mut grant = s.grants.use_refresh(refresh, &client_id, asked.as_deref(), now, inactive_ms)?;
            // Consent withdrawn since sign-in is not in the new tokens.
            grant.scopes = scopes::grant(&grant.scopes, &s.consented);
            (grant, None, None)
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let device_code = param(form, "device_code").ok_or_else(|| AadError::missing("device_code"))?;
            (s.grants.poll_device(device_code, &client_id, now)?, None, Some(SignInFlow::DeviceCode))
        }
        other => {
            return Err(AadError::new(
                "unsupported_grant_type",
                70_003,
                format!("The app requested an unsupported grant type '{other}'."),
            ));
        }
    };
    let body = issue(s, shared, grant.clone(), nonce.as_deref(), now);
    let event = flow.map(|flow| LabEvent::SignedIn { upn: s.directory.users[grant.user].upn.clone(), flow });
    Ok((body, event))
}

/// A token response shaped like the documented one.
fn issue(s: &mut TenantState, shared: &Shared, grant: Grant, nonce: Option<&str>, now: u64) -> serde_json::Value {
    let lifetime = s.entra.access_token_lifetime_secs;
    let user = s.directory.users[grant.user].clone();
    let access = jwt::access_token(&s.tenant, &user, &grant, now, lifetime);
    let openid = grant.scopes.iter().any(|sc| sc == "openid");
    let scope = scopes::response_scope(&grant.scopes);
    let client_id = grant.client_id.clone();
    let issued = s.grants.issue(grant, access, now, lifetime);
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    if openid {
        let issuer = format!("{}{}/v2.0", shared.urls.entra, s.tenant.id);
        body["id_token"] = json!(jwt::id_token(&issuer, &s.tenant, &user, &client_id, nonce, now));
    }
    body
}

// ------------------------------------------------------------------ device code

async fn devicecode(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.now();
    let form = parse(&body);
    let result = {
        let mut s = shared.lock();
        client(&s, &tenant, &headers, &form).and_then(|_| {
            let scope = param(&form, "scope").ok_or_else(|| AadError::missing("scope"))?;
            let requested = scopes::parse(scope, &s.consented)?;
            let granted = scopes::grant(&requested, &s.consented);
            let lifetime_ms = s.entra.device_code_lifetime_secs * 1000;
            let interval = s.entra.device_code_interval_secs;
            let client_id = s.tenant.client_id.clone();
            Ok((
                s.grants.add_device(&client_id, granted, now, lifetime_ms),
                interval,
                s.entra.device_code_lifetime_secs,
            ))
        })
    };
    match result {
        Err(e) => e.to_response(now),
        Ok((device, interval, expires_in)) => {
            let verification_uri = format!("{}devicelogin", shared.urls.entra);
            shared.emit(LabEvent::DeviceCode {
                user_code: device.user_code.clone(),
                verification_uri: verification_uri.clone(),
                expires_in,
            });
            let message = format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to \
                 authenticate.",
                device.user_code
            );
            let mut response = axum::Json(json!({
                "user_code": device.user_code,
                "device_code": device.device_code,
                "verification_uri": verification_uri,
                "expires_in": expires_in,
                "interval": interval,
                "message": message,
            }))
            .into_response();
            error::no_store(&mut response);
            response
        }
    }
}

async fn device_page(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.now();
    let s = shared.lock();
    let people: Vec<_> = s.directory.users.iter().collect();
    pages::device(&people, s.grants.pending_devices(now).len())
}

async fn device_decide(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let now = shared.now();
    let form = parse(&body);
    let approve = param(&form, "decision") != Some("deny");
    let code = param(&form, "user_code").unwrap_or_default();
    let mut s = shared.lock();
    let user = if approve { param(&form, "user").and_then(|u| s.directory.find(u)).or(Some(0)) } else { None };
    let ok = s.grants.decide_device(code, user, now);
    pages::device_done(ok, approve)
}

// ------------------------------------------------------------------ discovery

async fn discovery(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    let now = shared.now();
    let s = shared.lock();
    if !tenant_ok(&s, &tenant) {
        return AadError::unknown_tenant(&tenant).to_response(now);
    }
    let base = format!("{}{}", shared.urls.entra, tenant);
    axum::Json(json!({
        "issuer": format!("{}{}/v2.0", shared.urls.entra, s.tenant.id),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
    .into_response()
}
