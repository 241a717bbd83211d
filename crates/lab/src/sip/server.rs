//! The tokio shell around [`Core`]: a WebSocket server on `127.0.0.1`
//! (RFC 7118, the `sip` subprotocol required) and one task that owns the
//! core, its timers and every connection's outgoing queue. It holds no SIP
//! state of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::{ConnId, Core, CoreConfig, Input, Output, SipEvent};
use crate::Error;

enum Msg {
    Accepted { conn: ConnId, trunk: bool, frames: mpsc::UnboundedSender<Vec<u8>> },
    Frame { conn: ConnId, bytes: Vec<u8> },
    Closed { conn: ConnId },
}

/// A running SIP front end. Dropping it stops the listener, the core and
/// every connection.
#[derive(Debug)]
pub struct SipServer {
    url: String,
    inbox: mpsc::UnboundedSender<Msg>,
    next_conn: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

/// A user agent attached to the core without a socket (the lab's own
/// customers): frames in and out as WebSocket messages would be.
#[derive(Debug)]
pub struct LocalFlow {
    /// Its connection id.
    pub conn: ConnId,
    inbox: mpsc::UnboundedSender<Msg>,
    /// Frames the core sends it.
    pub frames: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl LocalFlow {
    /// Sends one message to the core.
    pub fn send(&self, bytes: Vec<u8>) {
        let _ = self.inbox.send(Msg::Frame { conn: self.conn, bytes });
    }
}

impl Drop for LocalFlow {
    fn drop(&mut self) {
        let _ = self.inbox.send(Msg::Closed { conn: self.conn });
    }
}

impl SipServer {
    /// Binds `127.0.0.1:0` and starts the core; `events` gets every
    /// [`SipEvent`]. Must be called within a tokio runtime.
    pub async fn start(config: CoreConfig, events: impl Fn(SipEvent) + Send + 'static) -> Result<SipServer, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Io { what: "binding the SIP WebSocket on 127.0.0.1".into(), source })?;
        let port =
            listener.local_addr().map_err(|source| Error::Io { what: "reading the SIP port".into(), source })?.port();
        let (inbox, rx) = mpsc::unbounded_channel();
        let next_conn = Arc::new(AtomicU64::new(1));
        let core = tokio::spawn(run_core(Core::new(config), rx, events));
        let accept = tokio::spawn(accept_loop(listener, inbox.clone(), next_conn.clone()));
        Ok(SipServer { url: format!("ws://127.0.0.1:{port}"), inbox, next_conn, tasks: vec![core, accept] })
    }

    /// `ws://127.0.0.1:PORT`, for [`crate::Endpoints::sip_ws`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Attaches an in-process user agent as a trunk connection.
    pub fn attach(&self) -> LocalFlow {
        self.attacher().attach()
    }

    /// A cloneable handle that attaches in-process user agents.
    pub fn attacher(&self) -> Attacher {
        Attacher { inbox: self.inbox.clone(), next_conn: self.next_conn.clone() }
    }
}

/// Attaches in-process user agents (the lab's customers) to a running
/// core as trunk connections.
#[derive(Debug, Clone)]
pub struct Attacher {
    inbox: mpsc::UnboundedSender<Msg>,
    next_conn: Arc<AtomicU64>,
}

impl Attacher {
    /// A new trunk connection.
    pub fn attach(&self) -> LocalFlow {
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let (tx, frames) = mpsc::unbounded_channel();
        let _ = self.inbox.send(Msg::Accepted { conn, trunk: true, frames: tx });
        LocalFlow { conn, inbox: self.inbox.clone(), frames }
    }
}

impl Drop for SipServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn run_core(mut core: Core, mut rx: mpsc::UnboundedReceiver<Msg>, events: impl Fn(SipEvent)) {
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    loop {
        let deadline = core.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let now = Instant::now();
                match msg {
                    Msg::Accepted { conn, trunk, frames } => {
                        conns.insert(conn, frames);
                        core.handle_input(now, Input::Connected { conn, trunk });
                    }
                    Msg::Frame { conn, bytes } => core.handle_input(now, Input::Frame { conn, bytes: &bytes }),
                    Msg::Closed { conn } => {
                        conns.remove(&conn);
                        core.handle_input(now, Input::Closed { conn });
                    }
                }
            }
            () = sleep => core.handle_timeout(Instant::now()),
        }
        while let Some(out) = core.poll_output() {
            match out {
                Output::Transmit { conn, bytes } => {
                    if let Some(tx) = conns.get(&conn) {
                        let _ = tx.send(bytes);
                    }
                }
                Output::Event(e) => events(e),
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, inbox: mpsc::UnboundedSender<Msg>, next_conn: Arc<AtomicU64>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let conn = ConnId(next_conn.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(connection(tcp, conn, inbox.clone()));
    }
}

/// RFC 7118 section 4: the client must offer `sip`, and we answer with it.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn sip_subprotocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("sip")));
    if !offered {
        let mut refusal = ErrorResponse::new(Some("the sip WebSocket subprotocol is required (RFC 7118)".into()));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    Ok(response)
}

async fn connection(tcp: TcpStream, conn: ConnId, inbox: mpsc::UnboundedSender<Msg>) {
    let Ok(Ok(mut ws)) =
        tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::accept_hdr_async(tcp, sip_subprotocol)).await
    else {
        return;
    };
    let (tx, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    if inbox.send(Msg::Accepted { conn, trunk: false, frames: tx }).is_err() {
        return;
    }
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let _ = inbox.send(Msg::Frame { conn, bytes: text.as_bytes().to_vec() });
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let _ = inbox.send(Msg::Frame { conn, bytes: bytes.to_vec() });
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            out = frames.recv() => {
                let Some(bytes) = out else { break };
                let msg = match String::from_utf8(bytes) {
                    Ok(text) => Message::Text(Utf8Bytes::from(text)),
                    Err(e) => Message::binary(e.into_bytes()),
                };
                if ws.send(msg).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = inbox.send(Msg::Closed { conn });
    let _ = ws.close(None).await;
}
