//! The CRM stand-in: a small JSON REST API in the shape Warmline's generic
//! REST connector expects by default (`crates/store`, `RestMapping`), over
//! its own SQLite file.
//!
//! | request | answer |
//! |---|---|
//! | `GET /customers?phone=+44...` (or `email`, `crm`, `account`) | 200 customer, 404 unknown |
//! | `POST /notes` + `Idempotency-Key` | 201 `{id, version, body}` |
//! | `PUT /notes/{id}` + `Idempotency-Key` + `If-Match: version` | 200, 409 with the CRM's copy, 404 |
//! | `GET /notes?since=ms&cursor=id[&customer=]` | `{notes: [...], next}`, 25 a page |
//!
//! Every request needs `Authorization: Bearer <token>`; every response
//! closes its connection, so an injected outage applies to the very next
//! request.

pub(crate) mod db;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use self::db::{CrmDb, Outcome, Write};
use crate::Clock;
use crate::faults::CrmOutage;

#[derive(Debug)]
pub(crate) struct Crm {
    db: Mutex<CrmDb>,
    outage: Mutex<CrmOutage>,
    token: String,
    clock: Clock,
}

type Shared = Arc<Crm>;

impl Crm {
    pub(crate) fn new(db: CrmDb, token: String, clock: Clock) -> Crm {
        Crm { db: Mutex::new(db), outage: Mutex::new(CrmOutage::None), token, clock }
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, CrmDb> {
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn outage(&self) -> CrmOutage {
        *self.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_outage(&self, outage: CrmOutage) {
        *self.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = outage;
    }

    /// Whether this write's answer is to be lost (and counts it).
    fn lose_response(&self) -> bool {
        let mut outage = self.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *outage {
            CrmOutage::LoseResponses { count } if count > 0 => {
                *outage = if count == 1 { CrmOutage::None } else { CrmOutage::LoseResponses { count: count - 1 } };
                true
            }
            _ => false,
        }
    }
}

pub(crate) fn router(crm: Shared) -> Router {
    Router::new()
        .route("/customers", get(lookup))
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", put(update))
        .layer(middleware::from_fn_with_state(crm.clone(), gate))
        .with_state(crm)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Outages first (a CRM that is down does not check tokens), then the
/// bearer token; every response closes its connection.
async fn gate(State(crm): State<Shared>, request: Request, next: Next) -> Response {
    let outage = crm.outage();
    if let Some(delay) = outage.delay() {
        tokio::time::sleep(delay).await;
    }
    let mut response = if outage == CrmOutage::Unavailable {
        let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "the CRM is down for maintenance (lab outage)");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        r
    } else {
        let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if presented == Some(format!("Bearer {}", crm.token).as_str()) {
            next.run(request).await
        } else {
            let mut r = error(StatusCode::UNAUTHORIZED, "invalid or missing bearer token");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"crm\""));
            r
        }
    };
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Runs blocking SQLite work off the async threads.
async fn blocking<T: Send + 'static>(
    crm: &Shared,
    work: impl FnOnce(&mut CrmDb, u64) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let crm = crm.clone();
    let result = tokio::task::spawn_blocking(move || {
        let now = crm.clock.now_ms();
        work(&mut crm.db(), now)
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!(target: "warmline_lab::crm", "database error: {e}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "the CRM's database failed"))
        }
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "the CRM's worker failed")),
    }
}

async fn lookup(State(crm): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some((kind, value)) =
        ["phone", "email", "crm", "account"].iter().find_map(|k| q.get(*k).map(|v| (k.to_string(), v.clone())))
    else {
        return error(StatusCode::BAD_REQUEST, "look customers up by phone, email, crm or account");
    };
    match blocking(&crm, move |db, _| db.lookup(&kind, &value)).await {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such customer"),
        Err(r) => r,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string).filter(|k| !k.is_empty())
}

fn write_reply(crm: &Crm, outcome: Outcome) -> Response {
    let applied = (200..300).contains(&outcome.status) && !outcome.replayed;
    if applied && crm.lose_response() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the answer was lost on the way back (lab outage)");
    }
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(outcome.body)).into_response();
    if outcome.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn parse_write(body: &[u8]) -> Result<(Write, Value), Box<Response>> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &format!("not JSON: {e}"))))?;
    let write = Write::from_json(&raw).map_err(|e| Box::new(error(StatusCode::UNPROCESSABLE_ENTITY, &e)))?;
    Ok((write, raw))
}

async fn create(State(crm): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(key) = idempotency_key(&headers) else {
        return error(StatusCode::BAD_REQUEST, "Idempotency-Key is required");
    };
    let (write, raw) = match parse_write(&body) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    match blocking(&crm, move |db, now| db.create_note(&key, &write, &raw, now)).await {
        Ok(outcome) => write_reply(&crm, outcome),
        Err(r) => r,
    }
}

async fn update(
    State(crm): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(key) = idempotency_key(&headers) else {
        return error(StatusCode::BAD_REQUEST, "Idempotency-Key is required");
    };
    let (write, raw) = match parse_write(&body) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let base = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_string())
        .or_else(|| raw.get("base_version").and_then(Value::as_str).map(str::to_string));
    let Some(base) = base else {
        return error(StatusCode::PRECONDITION_REQUIRED, "If-Match (the version the change is based on) is required");
    };
    match blocking(&crm, move |db, now| db.update_note(&key, &id, &base, &write, &raw, now)).await {
        Ok(outcome) => write_reply(&crm, outcome),
        Err(r) => r,
    }
}

async fn list(State(crm): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let since: i64 = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let cursor = q.get("cursor").filter(|c| !c.is_empty()).cloned();
    let customer = q.get("customer").filter(|c| !c.is_empty()).cloned();
    match blocking(&crm, move |db, _| db.list_notes(since, cursor.as_deref(), customer.as_deref())).await {
        Ok(page) => Json(page).into_response(),
        Err(r) => r,
    }
}

/// Accepts connections, and during a [`CrmOutage::Drop`] closes each one
/// at once without a byte of answer.
pub(crate) struct CrmListener {
    pub tcp: TcpListener,
    pub crm: Shared,
}

impl axum::serve::Listener for CrmListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.tcp.accept().await {
                Ok((stream, _)) if self.crm.outage() == CrmOutage::Drop => drop(stream),
                Ok((stream, addr)) => return (stream, addr),
                // Out of file descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
