//! The Microsoft Graph stand-in, on `http://127.0.0.1:PORT/v1.0`: `/me`,
//! `/users` (list, `$search`, by id), presence (one, or up to 650 with
//! `getPresencesByUserId`), with Graph's error bodies and headers.
//!
//! Every call needs a live access token from the Entra stand-in and the
//! delegated permission Graph requires for it; injected faults answer
//! before the real reply (see [`crate::faults`]).

mod query;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use url::Url;

use crate::clock::iso_seconds;
use crate::entra::grants::AccessRefused;
use crate::entra::scopes::Need;
use crate::faults::{self, GraphApi, GraphFault};
use crate::presence::Presence;
use crate::tenant::{Shared, TenantState};

/// The most ids one `getPresencesByUserId` request may carry.
pub const MAX_PRESENCE_IDS: usize = 650;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1.0/me", get(me))
        .route("/v1.0/me/presence", get(me_presence))
        .route("/v1.0/users", get(users))
        .route("/v1.0/users/{id}", get(user))
        .route("/v1.0/users/{id}/presence", get(user_presence))
        .route("/v1.0/communications/presences/{id}", get(user_presence))
        .route("/v1.0/communications/getPresencesByUserId", post(presences))
        .fallback(unknown_segment)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// One Graph request's bookkeeping: its ids and time.
struct Call {
    now: u64,
    request_id: String,
    client_request_id: String,
}

impl Call {
    fn new(shared: &Shared, headers: &HeaderMap) -> Call {
        let request_id = crate::ids::guid();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.clone(), str::to_string);
        Call { now: shared.now(), request_id, client_request_id }
    }

    fn respond(&self, status: StatusCode, body: &Value) -> Response {
        let mut response = (status, body.to_string()).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
            ),
        );
        for (name, value) in [("request-id", &self.request_id), ("client-request-id", &self.client_request_id)] {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }

    fn ok(&self, body: Value) -> Response {
        self.respond(StatusCode::OK, &body)
    }

    /// Graph's error body: `{"error":{"code","message","innerError":{...}}}`.
    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let body = json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": iso_seconds(self.now),
                "request-id": self.request_id,
                "client-request-id": self.client_request_id,
            },
        }});
        self.respond(status, &body)
    }

    fn unauthorized(&self, message: &str, authority: &str) -> Response {
        let mut r = self.error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message);
        let challenge = format!(
            "Bearer realm=\"\", authorization_uri=\"{authority}common/oauth2/authorize\", \
             client_id=\"00000003-0000-0000-c000-000000000000\""
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }

    fn fault(&self, fault: &GraphFault, authority: &str, api: GraphApi) -> Response {
        match fault {
            GraphFault::Throttle { retry_after } => {
                // The documented 429: its own innerError shape and a Retry-After in (fractional) seconds.
                let body = json!({"error": {
                    "code": "TooManyRequests",
                    "innerError": {
                        "code": "429",
                        "date": iso_seconds(self.now),
                        "message": "Please retry after",
                        "request-id": self.request_id,
                        "status": "429",
                    },
                    "message": "Please retry again later.",
                }});
                with_retry_after(self.respond(StatusCode::TOO_MANY_REQUESTS, &body), *retry_after)
            }
            GraphFault::ExpiredToken => {
                self.unauthorized("Lifetime validation failed, the token is expired.", authority)
            }
            GraphFault::MissingConsent => self.forbidden(api),
            GraphFault::Unavailable { retry_after } => with_retry_after(
                self.error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable. Please retry later.",
                ),
                *retry_after,
            ),
        }
    }

    fn forbidden(&self, api: GraphApi) -> Response {
        let code = if api == GraphApi::Presence { "Forbidden" } else { "Authorization_RequestDenied" };
        self.error(StatusCode::FORBIDDEN, code, "Insufficient privileges to complete the operation.")
    }

    /// Authenticates the bearer token, applies a matching injected fault,
    /// checks the permission. The signed-in user's directory index, or the
    /// error response.
    fn authorize(
        &self,
        s: &mut TenantState,
        headers: &HeaderMap,
        authority: &str,
        api: GraphApi,
        need: Need,
    ) -> Result<usize, Box<Response>> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, token)| token.trim());
        let (user, scopes) = match s.grants.access(bearer, self.now) {
            Ok(access) => (access.grant.user, access.grant.scopes.clone()),
            Err(AccessRefused::Missing) => {
                return Err(Box::new(self.unauthorized("Access token is empty.", authority)));
            }
            Err(AccessRefused::Expired) => {
                return Err(Box::new(
                    self.unauthorized("Lifetime validation failed, the token is expired.", authority),
                ));
            }
            Err(AccessRefused::Unknown) if !bearer.unwrap_or_default().contains('.') => {
                return Err(Box::new(
                    self.unauthorized("IDX14100: JWT is not well formed, there are no dots (.).", authority),
                ));
            }
            Err(AccessRefused::Unknown) => {
                return Err(Box::new(
                    self.unauthorized("Access token validation failure. Invalid audience.", authority),
                ));
            }
        };
        if let Some(rule) = faults::take(&mut s.graph_faults, |r| &mut r.times, |r| r.api.is_none_or(|a| a == api)) {
            return Err(Box::new(self.fault(&rule.fault, authority, api)));
        }
        if !need.met_by(&scopes, &s.consented) {
            return Err(Box::new(self.forbidden(api)));
        }
        Ok(user)
    }
}

fn with_retry_after(mut response: Response, seconds: f64) -> Response {
    // `{}` prints 2.128 as "2.128" and 10.0 as "10", as Graph writes them.
    if let Ok(v) = HeaderValue::from_str(&format!("{}", seconds.max(0.0))) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

type Params = Vec<(String, String)>;

fn params(q: Option<String>) -> Params {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn context(graph: &str, what: &str) -> Value {
    json!(format!("{graph}/$metadata#{what}"))
}

fn presence_json(id: &str, p: Presence) -> Value {
    json!({"id": id, "availability": p.availability.as_str(), "activity": p.activity.as_str()})
}

// ------------------------------------------------------------------ handlers

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let call = Call::new(&shared, &headers);
    let params = params(q);
    let mut s = shared.lock();
    let u = match call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Me, Need::SignedInUser) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let select = match param(&params, "$select").map(query::select).transpose() {
        Ok(sel) => sel,
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), context(&shared.urls.graph, "users/$entity"));
    body.extend(s.directory.users[u].project(select.as_deref()));
    call.ok(Value::Object(body))
}

async fn me_presence(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let call = Call::new(&shared, &headers);
    let mut s = shared.lock();
    match call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Me, Need::OwnPresence) {
        Ok(u) => {
            let user = &s.directory.users[u];
            call.ok(presence_json(&user.id, user.presence))
        }
        Err(r) => *r,
    }
}

async fn user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let call = Call::new(&shared, &headers);
    let params = params(q);
    let mut s = shared.lock();
    if let Err(r) = call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Users, Need::ReadUsers) {
        return *r;
    }
    let select = match param(&params, "$select").map(query::select).transpose() {
        Ok(sel) => sel,
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    match s.directory.find(&id) {
        Some(u) => {
            let mut body = Map::new();
            body.insert("@odata.context".into(), context(&shared.urls.graph, "users/$entity"));
            body.extend(s.directory.users[u].project(select.as_deref()));
            call.ok(Value::Object(body))
        }
        None => not_found(&call, &id),
    }
}

fn not_found(call: &Call, id: &str) -> Response {
    call.error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

async fn user_presence(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let call = Call::new(&shared, &headers);
    let mut s = shared.lock();
    if let Err(r) = call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Presence, Need::AllPresence) {
        return *r;
    }
    match s.directory.find(&id) {
        Some(u) => {
            let user = &s.directory.users[u];
            call.ok(presence_json(&user.id, user.presence))
        }
        None => not_found(&call, &id),
    }
}

async fn users(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let call = Call::new(&shared, &headers);
    let params = params(q);
    let mut s = shared.lock();
    if let Err(r) = call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Users, Need::ReadUsers) {
        return *r;
    }
    match list_users(&s, &shared.urls.graph, &headers, &params) {
        Ok(body) => call.ok(body),
        Err(e) => call.error(StatusCode::BAD_REQUEST, e.code, &e.message),
    }
}

fn list_users(s: &TenantState, graph: &str, headers: &HeaderMap, params: &Params) -> Result<Value, query::Refused> {
    let refused = |code, message: &str| query::Refused { code, message: message.into() };
    for unsupported in ["$filter", "$expand"] {
        if param(params, unsupported).is_some() {
            return Err(refused(
                "Request_UnsupportedQuery",
                &format!("The lab's /users does not implement {unsupported}; use $search."),
            ));
        }
    }
    let search = param(params, "$search");
    let count = param(params, "$count").is_some_and(|c| c.eq_ignore_ascii_case("true"));
    let eventual = headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
    if (search.is_some() || count) && !eventual {
        let option = if search.is_some() { "$search" } else { "$count" };
        return Err(refused(
            "Request_UnsupportedQuery",
            &format!(
                "Request with {option} query parameter only works through MSGraph with a special request header: \
                 'ConsistencyLevel: eventual'"
            ),
        ));
    }
    let search = search.map(query::Search::parse).transpose()?;
    let select = param(params, "$select").map(query::select).transpose()?;
    let top = param(params, "$top").map(query::top).transpose()?.unwrap_or(query::DEFAULT_TOP);
    let skip = param(params, "$skiptoken").map(query::offset).transpose()?.unwrap_or(0);
    let mut matched: Vec<_> =
        s.directory.users.iter().filter(|u| search.as_ref().is_none_or(|q| q.matches(u))).collect();
    if let Some(order) = param(params, "$orderby") {
        let cmp = query::order_by(order)?;
        matched.sort_by(|a, b| cmp(a, b));
    }
    let page: Vec<Value> =
        matched.iter().skip(skip).take(top).map(|u| Value::Object(u.project(select.as_deref()))).collect();
    let what = match &select {
        Some(fields) => format!("users({})", fields.join(",")),
        None => "users".into(),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), context(graph, &what));
    if count {
        body.insert("@odata.count".into(), json!(matched.len()));
    }
    if skip + top < matched.len() {
        body.insert("@odata.nextLink".into(), json!(next_link(graph, params, skip + top)));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(Value::Object(body))
}

/// The same request with the next page's `$skiptoken`.
fn next_link(graph: &str, params: &Params, offset: usize) -> String {
    let mut url = match Url::parse(&format!("{graph}/users")) {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken")) {
            q.append_pair(k, v);
        }
        q.append_pair("$skiptoken", &query::skiptoken(offset));
    }
    url.to_string()
}

async fn presences(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = Call::new(&shared, &headers);
    let mut s = shared.lock();
    if let Err(r) = call.authorize(&mut s, &headers, &shared.urls.entra, GraphApi::Presence, Need::AllPresence) {
        return *r;
    }
    let bad = |message: &str| call.error(StatusCode::BAD_REQUEST, "BadRequest", message);
    let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
        return bad(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid \
             JSON format.",
        );
    };
    let Some(ids) = parsed.get("ids").and_then(Value::as_array) else {
        return bad("The request body must contain an 'ids' array of user object ids.");
    };
    if ids.is_empty() || ids.len() > MAX_PRESENCE_IDS {
        return bad(&format!(
            "The number of ids must be between 1 and {MAX_PRESENCE_IDS}; the request has {}.",
            ids.len()
        ));
    }
    let mut value = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(id) = id.as_str().filter(|i| crate::scenario::is_guid(i)) else {
            return bad(&format!("Invalid user id {id}: ids are Entra object ids (GUIDs)."));
        };
        // Graph answers PresenceUnknown for ids it has no presence for.
        let presence = s.directory.find(id).map_or(Presence::UNKNOWN, |u| s.directory.users[u].presence);
        value.push(presence_json(id, presence));
    }
    call.ok(json!({ "value": value }))
}

async fn unknown_segment(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let call = Call::new(&shared, &headers);
    let segment = uri.path().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
    call.error(StatusCode::BAD_REQUEST, "BadRequest", &format!("Resource not found for the segment '{segment}'."))
}

async fn method_not_allowed(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let call = Call::new(&shared, &headers);
    call.error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request uri.",
    )
}
