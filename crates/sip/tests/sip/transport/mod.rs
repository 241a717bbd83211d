//! The tokio WebSocket transport against real WebSocket servers on
//! 127.0.0.1 (ephemeral ports), driving a small probe engine. Nothing here
//! sleeps to synchronise: every wait is on a channel or a socket, with a
//! generous timeout that only turns a hang into a failure.

mod failover;
mod frames;
mod shutdown;
mod tls;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use warmline_sip::transport::{Backoff, Events, Handle, TransportConfig, TransportEvent};
use warmline_sip::{Engine, Flow, Input, Output};

/// The failure guard for every wait: far longer than anything takes.
pub const GUARD: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`GUARD`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// What the probe engine saw, reported as its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Connected(Flow),
    Received(Vec<u8>),
    Disconnected,
    Timer,
}

/// An engine that reports every input as an event and sends what the test
/// queues; `timer` arms one timeout.
#[derive(Debug, Default)]
pub struct Probe {
    pub outbox: VecDeque<Output<Seen>>,
    pub timer: Option<Instant>,
    pub finished: bool,
}

impl Engine for Probe {
    type Event = Seen;

    fn handle_input(&mut self, _now: Instant, input: Input<'_>) {
        let seen = match input {
            Input::Connected(flow) => Seen::Connected(flow),
            Input::Received(bytes) => Seen::Received(bytes.to_vec()),
            Input::Disconnected => Seen::Disconnected,
            _ => return,
        };
        // The shutdown test's far end answers "done" to the last frame.
        if seen == Seen::Received(b"done".to_vec()) {
            self.finished = true;
        }
        self.outbox.push_back(Output::Event(seen));
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            self.outbox.push_back(Output::Event(Seen::Timer));
        }
    }

    fn poll_output(&mut self) -> Option<Output<Seen>> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }
}

/// A quick backoff without jitter, so reconnect tests do not wait.
pub fn config(servers: &[String]) -> TransportConfig {
    let mut c = TransportConfig::new(servers.iter().cloned());
    c.connect_timeout = Duration::from_secs(5);
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        jitter: false,
        reset_after: Duration::from_secs(30),
    };
    c.seed = Some(42);
    c
}

/// Waits for the next event that `pick` accepts, skipping others; fails if
/// the events end or nothing matches within [`GUARD`].
pub async fn expect<T>(
    events: &mut Events<Seen>,
    what: &str,
    mut pick: impl FnMut(&TransportEvent<Seen>) -> Option<T>,
) -> T {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(GUARD, async {
        while let Some(event) = events.recv().await {
            if let Some(v) = pick(&event) {
                return Some(v);
            }
            skipped.push(event.to_string());
        }
        None
    })
    .await;
    match found {
        Ok(Some(v)) => v,
        Ok(None) => panic!("events ended while waiting for {what}; before that: {skipped:?}"),
        Err(_) => panic!("no {what} within {GUARD:?}; saw: {skipped:?}"),
    }
}

/// Waits for the engine to see a connection, and returns its flow.
pub async fn engine_connected(events: &mut Events<Seen>) -> Flow {
    expect(events, "the engine's Connected input", |e| match e {
        TransportEvent::Engine(Seen::Connected(flow)) => Some(flow.clone()),
        _ => None,
    })
    .await
}

/// Queues frames for the probe to send.
pub async fn send(handle: &Handle<Probe>, frames: Vec<Vec<u8>>) {
    handle
        .with(move |p, _| p.outbox.extend(frames.into_iter().map(Output::Transmit)))
        .await
        .expect("transport running");
}

/// Anything a test server's WebSocket runs over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One accepted WebSocket, with what the client asked for.
pub struct Accepted {
    pub ws: WebSocketStream<Box<dyn Io>>,
    pub protocols: Option<String>,
}

/// A WebSocket server on 127.0.0.1 that hands each accepted connection to
/// the test.
pub struct TestServer {
    pub port: u16,
    pub accepted: mpsc::UnboundedReceiver<Accepted>,
}

impl TestServer {
    /// Plain ws://; echoes the `sip` subprotocol when `echo_sip`.
    pub async fn start(echo_sip: bool) -> Self {
        Self::start_with(echo_sip, None).await
    }

    /// With `tls`, a wss:// server.
    pub async fn start_with(echo_sip: bool, tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, accepted) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let io: Box<dyn Io> = match &tls {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(stream) => Box::new(stream),
                        // A client that refused our certificate.
                        Err(_) => continue,
                    },
                    None => Box::new(tcp),
                };
                let protocols = Arc::new(Mutex::new(None));
                let seen = protocols.clone();
                // tungstenite's callback signature, not ours to shrink.
                #[allow(clippy::result_large_err)]
                let callback = move |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
                    let asked = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
                    if let Ok(mut p) = seen.lock() {
                        *p = asked.map(str::to_owned);
                    }
                    if echo_sip && asked.is_some_and(|a| a.split(',').any(|p| p.trim() == "sip")) {
                        response.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
                    }
                    Ok(response)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(io, callback).await else { continue };
                let protocols = protocols.lock().ok().and_then(|p| p.clone());
                if tx.send(Accepted { ws, protocols }).is_err() {
                    break;
                }
            }
        });
        Self { port, accepted }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/sip", self.port)
    }

    pub async fn accept(&mut self) -> Accepted {
        within("the server to accept a WebSocket", self.accepted.recv()).await.expect("server running")
    }
}

/// A loopback port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}
