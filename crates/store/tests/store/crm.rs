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

#[derive(Debug, Default)]
pub struct Crm {
    pub customers: Vec<Value>,
    notes: BTreeMap<String, (u64, String)>,
    replies: HashMap<String, Value>,
    /// Every write that took effect, in order: (client id, revision).
    pub arrivals: Vec<(String, i64)>,
    /// Commit the next N writes but answer 503, as if the response was lost.
    pub lose_responses: usize,
    /// Misbehave: apply a repeated idempotency key again.
    pub forget_idempotency: bool,
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
        if let Some((version, text)) = self.notes.get_mut(id) {
            *version += 1;
            *text = body.to_string();
        }
    }

    fn note_json(&self, id: &str) -> Value {
        let (version, body) = &self.notes[id];
        json!({"id": id, "version": version.to_string(), "body": body})
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
            .route("/notes", post(create))
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
        crm.notes.insert(id.clone(), (1, body["body"].as_str().unwrap_or_default().to_string()));
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
        let Some((version, _)) = crm.notes.get(&id) else {
            return (StatusCode::NOT_FOUND, json!({"error": "no such note"}));
        };
        if version.to_string() != base {
            return (StatusCode::CONFLICT, crm.note_json(&id));
        }
        let next = version + 1;
        crm.notes.insert(id.clone(), (next, body["body"].as_str().unwrap_or_default().to_string()));
        arrival(crm, &body);
        (StatusCode::OK, crm.note_json(&id))
    })
}
