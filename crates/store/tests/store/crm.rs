//! A small CRM for the tests: customers, notes with versions, idempotency
//! keys, bearer auth, and switches to misbehave (go down, lose responses,
//! forget idempotency) so the sync engine's promises can be checked.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

pub const TOKEN: &str = "test-crm-token";

/// Notes per page of a listing: small, so paging is exercised.
const PAGE: usize = 25;

#[derive(Debug, Clone)]
struct StoredNote {
    version: u64,
    body: String,
    client_id: Option<String>,
    revision: i64,
    call: Option<String>,
    customer: Option<String>,
    /// The CRM's own clock, for `since`.
    modified_at: i64,
}

/// The CRM's clock, in Unix milliseconds (it filters listings, nothing waits on it).
fn crm_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

#[derive(Debug, Default)]
pub struct Crm {
    pub customers: Vec<Value>,
    notes: BTreeMap<String, StoredNote>,
    replies: HashMap<String, Value>,
    /// Every write that took effect, in order: (client id, revision).
    pub arrivals: Vec<(String, i64)>,
    /// Commit the next N writes but answer 503, as if the response was lost.
    pub lose_responses: usize,
    /// Misbehave: apply a repeated idempotency key again.
    pub forget_idempotency: bool,
    /// Misbehave: list notes without the client id they were written with.
    pub list_without_client_ids: bool,
    /// Notified after each write that took effect.
    pub arrived: Arc<tokio::sync::Notify>,
    next_id: u64,
}

impl Crm {
    pub fn with_customer(customer: Value) -> Self {
        Crm { customers: vec![customer], ..Crm::default() }
    }

    /// An edit made in the CRM by someone else.
    pub fn edit_on_server(&mut self, id: &str, body: &str) {
        if let Some(note) = self.notes.get_mut(id) {
            note.version += 1;
            body.clone_into(&mut note.body);
            note.modified_at = crm_now();
        }
    }

    /// A note someone made in the CRM itself (no Warmline client id).
    pub fn note_made_in_crm(&mut self, body: &str) -> String {
        self.next_id += 1;
        let id = format!("n{}", self.next_id);
        let note = StoredNote {
            version: 1,
            body: body.into(),
            client_id: None,
            revision: 0,
            call: None,
            customer: None,
            modified_at: crm_now(),
        };
        self.notes.insert(id.clone(), note);
        id
    }

    /// Every note written by Warmline: client id -> (server id, version, text).
    pub fn notes_by_client(&self) -> BTreeMap<String, (String, String, String)> {
        self.notes
            .iter()
            .filter_map(|(id, n)| Some((n.client_id.clone()?, (id.clone(), n.version.to_string(), n.body.clone()))))
            .collect()
    }

    fn note_json(&self, id: &str) -> Value {
        let n = &self.notes[id];
        json!({"id": id, "version": n.version.to_string(), "body": n.body})
    }

    fn listed_json(&self, id: &str) -> Value {
        let n = &self.notes[id];
        let client_id = n.client_id.as_ref().filter(|_| !self.list_without_client_ids);
        json!({
            "id": id, "version": n.version.to_string(), "body": n.body, "client_id": client_id,
            "revision": n.revision, "call_id": n.call, "customer": n.customer,
        })
    }
}

type Shared = Arc<Mutex<Crm>>;

fn lock(s: &Shared) -> MutexGuard<'_, Crm> {
    s.lock().expect("crm state")
}

pub struct CrmServer {
    pub state: Shared,
    pub addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    tls: Option<TlsAcceptor>,
}

impl CrmServer {
    pub fn start(crm: Crm) -> Self {
        CrmServer::start_with(crm, None)
    }

    /// The CRM over HTTPS with this server configuration.
    pub fn start_tls(crm: Crm, tls: Arc<ServerConfig>) -> Self {
        CrmServer::start_with(crm, Some(TlsAcceptor::from(tls)))
    }

    fn start_with(crm: Crm, tls: Option<TlsAcceptor>) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut server = CrmServer { state: Arc::new(Mutex::new(crm)), addr, task: None, tls };
        server.restart();
        server
    }

    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.tls.is_some() { "https" } else { "http" }, self.addr)
    }

    pub fn crm(&self) -> MutexGuard<'_, Crm> {
        lock(&self.state)
    }

    /// Closes the listening socket: connections are refused until `restart`.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same address (synchronous, so a simulated clock can call it).
    pub fn restart(&mut self) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("bind the CRM's address");
        let listener = socket.listen(64).expect("listen");
        self.addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/customers", get(lookup))
            .route("/notes", post(create).get(list))
            .route("/notes/{id}", put(update))
            .layer(middleware::from_fn(close_and_authenticate))
            .with_state(self.state.clone());
        self.task = Some(match self.tls.clone() {
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }),
            Some(acceptor) => tokio::spawn(async move {
                let _ = axum::serve(TlsListener { tcp: listener, acceptor }, app).await;
            }),
        });
    }
}

/// Accepts TCP connections and completes a TLS handshake on each; clients
/// that refuse the certificate are dropped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Every response closes its connection, so a stopped server is really gone.
async fn close_and_authenticate(request: Request, next: Next) -> Response {
    let authorised = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {TOKEN}").as_str());
    let mut response = if authorised {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad token"}))).into_response()
    };
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

async fn lookup(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let crm = lock(&s);
    let found = crm.customers.iter().find(|c| {
        q.get("phone").is_some_and(|p| c["phones"].as_array().is_some_and(|ps| ps.iter().any(|x| x == p)))
            || q.get("email").is_some_and(|e| c["emails"].as_array().is_some_and(|es| es.iter().any(|x| x == e)))
            || q.get("crm").is_some_and(|id| &c["id"] == id)
    });
    match found {
        Some(c) => Json(c.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "no such customer"}))).into_response(),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Applies a write once per key; `apply` returns the status and reply.
fn once(s: &Shared, headers: &HeaderMap, apply: impl FnOnce(&mut Crm) -> (StatusCode, Value)) -> Response {
    let Some(key) = idempotency_key(headers) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "Idempotency-Key is required"}))).into_response();
    };
    let mut crm = lock(s);
    if let Some(reply) = crm.replies.get(&key).filter(|_| !crm.forget_idempotency) {
        return (StatusCode::OK, Json(reply.clone())).into_response();
    }
    let (status, reply) = apply(&mut crm);
    if status.is_success() {
        crm.replies.insert(key, reply.clone());
        if crm.lose_responses > 0 {
            crm.lose_responses -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "response lost"}))).into_response();
        }
    }
    (status, Json(reply)).into_response()
}

fn arrival(crm: &mut Crm, body: &Value) {
    let client = body["client_id"].as_str().unwrap_or_default().to_string();
    crm.arrivals.push((client, body["revision"].as_i64().unwrap_or(-1)));
    crm.arrived.notify_one();
}

async fn create(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    once(&s, &headers, |crm| {
        crm.next_id += 1;
        let id = format!("n{}", crm.next_id);
        let note = StoredNote {
            version: 1,
            body: text(&body["body"]).unwrap_or_default(),
            client_id: text(&body["client_id"]),
            revision: body["revision"].as_i64().unwrap_or(0),
            call: text(&body["call_id"]),
            customer: text(&body["customer"]),
            modified_at: crm_now(),
        };
        crm.notes.insert(id.clone(), note);
        arrival(crm, &body);
        (StatusCode::CREATED, crm.note_json(&id))
    })
}

async fn update(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let base = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    once(&s, &headers, |crm| {
        let Some(note) = crm.notes.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, json!({"error": "no such note"}));
        };
        if note.version.to_string() != base {
            return (StatusCode::CONFLICT, crm.note_json(&id));
        }
        note.version += 1;
        note.body = text(&body["body"]).unwrap_or_default();
        note.revision = body["revision"].as_i64().unwrap_or(note.revision);
        note.modified_at = crm_now();
        arrival(crm, &body);
        (StatusCode::OK, crm.note_json(&id))
    })
}

/// `GET /notes?since=<ms>&cursor=<last id of the previous page>`, in pages of `PAGE`.
async fn list(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let since: i64 = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let crm = lock(&s);
    let after = q.get("cursor").filter(|c| !c.is_empty());
    let mut ids = crm
        .notes
        .iter()
        .filter(|(id, _)| after.is_none_or(|c| id.as_str() > c.as_str()))
        .filter(|(_, n)| n.modified_at >= since)
        .map(|(id, _)| id.clone());
    let page: Vec<String> = ids.by_ref().take(PAGE).collect();
    let next = match (ids.next(), page.last()) {
        (Some(_), Some(last)) => Value::String(last.clone()),
        _ => Value::Null,
    };
    let notes: Vec<Value> = page.iter().map(|id| crm.listed_json(id)).collect();
    Json(json!({"notes": notes, "next": next})).into_response()
}
