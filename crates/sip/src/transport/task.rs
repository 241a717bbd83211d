//! The transport task: one loop over commands, the engine's timer and the
//! connection, in that order of priority.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant as TokioInstant, sleep_until};
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use super::connect::{self, Server, Ws};
use super::failover::{Ended, Failover};
use super::{Command, ConnectError, TransportConfig, TransportEvent, invalid_host};
use crate::engine::{Engine, Flow, Input, Output};

/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

type Attempt = Pin<Box<dyn Future<Output = Result<Box<Ws>, ConnectError>> + Send>>;

enum Link {
    /// Pausing before the next attempt.
    Waiting { until: TokioInstant },
    /// An attempt in progress.
    Connecting(Attempt),
    /// A connection is up.
    Up { ws: Box<Ws>, since: TokioInstant, closing: Option<String> },
}

/// What woke the loop.
enum Step<E> {
    Command(Option<Command<E>>),
    Timer,
    ShutdownOver,
    WaitOver,
    Attempted(Result<Box<Ws>, ConnectError>),
    Read(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

struct Shutdown<E> {
    done: Box<dyn Fn(&E) -> bool + Send>,
    deadline: TokioInstant,
    stopped: Vec<oneshot::Sender<()>>,
}

pub(super) struct Task<E: Engine> {
    engine: E,
    servers: Vec<Server>,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    /// Log each SIP message (the SIP trace).
    trace: bool,
    failover: Failover,
    local_host: String,
    link: Link,
    events: mpsc::UnboundedSender<TransportEvent<E::Event>>,
    shutdown: Option<Shutdown<E>>,
    /// Set when the loop must end (shutdown finished, or no handle left).
    finished: bool,
}

fn now() -> Instant {
    TokioInstant::now().into_std()
}

impl<E> Task<E>
where
    E: Engine + Send + 'static,
    E::Event: Send + 'static,
{
    pub(super) fn new(
        engine: E,
        servers: Vec<Server>,
        tls: Option<Arc<ClientConfig>>,
        config: &TransportConfig,
        seed: u64,
        events: mpsc::UnboundedSender<TransportEvent<E::Event>>,
    ) -> Self {
        let failover = Failover::new(servers.len(), config.backoff, seed);
        Self {
            engine,
            servers,
            tls,
            connect_timeout: config.connect_timeout,
            trace: config.trace,
            failover,
            local_host: invalid_host(seed),
            link: Link::Waiting { until: TokioInstant::now() },
            events,
            shutdown: None,
            finished: false,
        }
    }

    fn emit(&self, event: TransportEvent<E::Event>) {
        // Nobody listening is not our problem: the engine keeps running.
        let _ = self.events.send(event);
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command<E>>) {
        self.start_attempt();
        while !self.finished {
            let timer = self.engine.poll_timeout().map(TokioInstant::from_std);
            let shutdown_deadline = self.shutdown.as_ref().map(|s| s.deadline);
            let step = tokio::select! {
                biased;
                command = commands.recv() => Step::Command(command),
                () = sleep_until(timer.unwrap_or_else(TokioInstant::now)), if timer.is_some() => Step::Timer,
                () = sleep_until(shutdown_deadline.unwrap_or_else(TokioInstant::now)), if shutdown_deadline.is_some() => {
                    Step::ShutdownOver
                }
                step = next_on_link(&mut self.link) => step,
            };
            match step {
                Step::Command(None) => {
                    debug!("every transport handle dropped: stopping");
                    self.finished = true;
                }
                Step::Command(Some(Command::Run(job))) => job(&mut self.engine, now()),
                Step::Command(Some(Command::Shutdown { begin, done, within, stopped })) => {
                    match self.shutdown.as_mut() {
                        Some(s) => s.stopped.push(stopped),
                        None => {
                            info!("transport shutting down");
                            begin(&mut self.engine, now());
                            let deadline = TokioInstant::now() + within;
                            self.shutdown = Some(Shutdown { done, deadline, stopped: vec![stopped] });
                            if !matches!(self.link, Link::Up { .. }) {
                                self.finished = true;
                            }
                        }
                    }
                }
                Step::Timer => self.engine.handle_timeout(now()),
                Step::ShutdownOver => {
                    warn!("the engine did not finish within the shutdown time; closing anyway");
                    self.finished = true;
                }
                Step::WaitOver => self.start_attempt(),
                Step::Attempted(Ok(ws)) => self.connected(ws),
                Step::Attempted(Err(error)) => {
                    warn!(%error, "connection attempt failed");
                    self.emit(TransportEvent::ConnectFailed(error));
                    self.plan_next(Ended::ConnectFailed);
                }
                Step::Read(read) => self.read(read).await,
            }
            self.drain().await;
            if let Some(s) = &self.shutdown
                && (s.done)(&self.engine)
            {
                self.finished = true;
            }
        }
        self.close().await;
    }

    fn start_attempt(&mut self) {
        let index = self.failover.current();
        let Some(server) = self.servers.get(index).cloned() else { return };
        info!(server = %server.url, "connecting");
        self.emit(TransportEvent::Connecting { server: server.url.clone(), server_index: index });
        let tls = if server.secure { self.tls.clone() } else { None };
        let timeout = self.connect_timeout;
        self.link =
            Link::Connecting(Box::pin(async move { connect::connect(server, tls, timeout).await.map(Box::new) }));
    }

    fn server(&self) -> (usize, &Server) {
        let index = self.failover.current();
        (index, &self.servers[index.min(self.servers.len() - 1)])
    }

    fn connected(&mut self, ws: Box<Ws>) {
        let (index, server) = self.server();
        let flow = Flow {
            transport: server.transport(),
            local_host: self.local_host.clone(),
            server: server.url.clone(),
            server_index: index,
        };
        info!(server = %flow.server, "connected");
        self.link = Link::Up { ws, since: TokioInstant::now(), closing: None };
        self.emit(TransportEvent::Connected(flow.clone()));
        self.engine.handle_input(now(), Input::Connected(flow));
    }

    async fn read(&mut self, read: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        let Link::Up { ws, closing, .. } = &mut self.link else { return };
        match read {
            Some(Ok(Message::Text(text))) => {
                if self.trace {
                    info!(target: "sip_trace", "received {} bytes\n{}", text.len(), text.as_str());
                }
                self.engine.handle_input(now(), Input::Received(text.as_bytes()))
            }
            Some(Ok(Message::Binary(bytes))) => {
                if self.trace {
                    info!(target: "sip_trace", "received {} bytes\n{}", bytes.len(), String::from_utf8_lossy(&bytes));
                }
                self.engine.handle_input(now(), Input::Received(&bytes))
            }
            // tungstenite has queued the pong; send it now rather than with
            // the next frame.
            Some(Ok(Message::Ping(_))) => {
                if let Err(e) = ws.flush().await {
                    self.dropped(format!("sending a pong failed: {e}"), false);
                }
            }
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
            // tungstenite answers the close; the stream ends after that.
            Some(Ok(Message::Close(frame))) => {
                *closing = Some(match frame {
                    Some(f) if !f.reason.is_empty() => format!("closed by the server ({}: {})", f.code, f.reason),
                    Some(f) => format!("closed by the server ({})", f.code),
                    None => "closed by the server".to_owned(),
                });
            }
            Some(Err(e)) => self.dropped(e.to_string(), false),
            None => {
                let reason = closing.take().unwrap_or_else(|| "connection closed".to_owned());
                self.dropped(reason, false);
            }
        }
    }

    /// The connection that was up is gone (or is being given up on
    /// `requested` by the engine): tell the engine and plan the next attempt.
    fn dropped(&mut self, reason: String, requested: bool) {
        let link = std::mem::replace(&mut self.link, Link::Waiting { until: TokioInstant::now() });
        let Link::Up { ws, since, .. } = link else {
            self.link = link;
            return;
        };
        if requested {
            // Close politely without holding up the loop: the flow may be dead.
            tokio::spawn(async move {
                let mut ws = ws;
                let _ = tokio::time::timeout(CLOSE_WAIT, Ws::close(&mut *ws, None)).await;
            });
        }
        let up_for = since.elapsed();
        let server = self.server().1.url.clone();
        warn!(%server, %reason, "disconnected");
        self.emit(TransportEvent::Disconnected { server, reason });
        self.engine.handle_input(now(), Input::Disconnected);
        self.plan_next(if requested { Ended::Requested(up_for) } else { Ended::Dropped(up_for) });
    }

    fn plan_next(&mut self, ended: Ended) {
        if self.shutdown.is_some() {
            self.finished = true;
            return;
        }
        let before = self.failover.current();
        let next = self.failover.next(ended);
        let server = self.servers[next.server].url.clone();
        info!(%server, delay_ms = next.delay.as_millis() as u64, "reconnecting");
        self.emit(TransportEvent::Reconnecting {
            server,
            server_index: next.server,
            delay: next.delay,
            failover: next.server != before,
        });
        self.link = Link::Waiting { until: TokioInstant::now() + next.delay };
    }

    /// Carries out everything the engine asks until it has nothing more.
    async fn drain(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Transmit(bytes) => self.transmit(bytes).await,
                Output::Event(event) => self.emit(TransportEvent::Engine(event)),
                Output::Reconnect { reason } => {
                    if matches!(self.link, Link::Up { .. }) {
                        self.dropped(format!("the engine asked for a new flow: {reason}"), true);
                    } else {
                        debug!(%reason, "reconnect asked while not connected");
                    }
                }
            }
        }
    }

    async fn transmit(&mut self, bytes: Vec<u8>) {
        let Link::Up { ws, .. } = &mut self.link else {
            debug!(bytes = bytes.len(), "not connected: frame dropped");
            return;
        };
        if self.trace {
            info!(target: "sip_trace", "sent {} bytes\n{}", bytes.len(), String::from_utf8_lossy(&bytes));
        }
        let message = match String::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        };
        if let Err(e) = ws.send(message).await {
            self.dropped(format!("sending failed: {e}"), false);
        }
    }

    async fn close(mut self) {
        if let Link::Up { ws, .. } = &mut self.link {
            let _ = tokio::time::timeout(CLOSE_WAIT, Ws::close(&mut **ws, None)).await;
        }
        self.link = Link::Waiting { until: TokioInstant::now() };
        info!("transport closed");
        self.emit(TransportEvent::Closed);
        if let Some(s) = self.shutdown.take() {
            for stopped in s.stopped {
                let _ = stopped.send(());
            }
        }
    }
}

async fn next_on_link<E>(link: &mut Link) -> Step<E> {
    match link {
        Link::Waiting { until } => {
            sleep_until(*until).await;
            Step::WaitOver
        }
        Link::Connecting(attempt) => Step::Attempted(attempt.as_mut().await),
        Link::Up { ws, .. } => Step::Read(ws.next().await),
    }
}
