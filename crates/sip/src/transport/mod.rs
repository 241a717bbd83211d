//! The tokio shell around a sans-IO [`Engine`]: one task owns the engine,
//! the WebSocket (RFC 7118) and the timers, and does nothing the engine could
//! decide itself.
//!
//! ```no_run
//! # async fn demo<E: warmline_sip::Engine + Send + 'static>(engine: E) -> Result<(), Box<dyn std::error::Error>>
//! # where E::Event: Send + std::fmt::Debug + 'static {
//! use std::time::Duration;
//! use warmline_sip::transport::{self, TransportConfig, TransportEvent};
//!
//! let config = TransportConfig::new(["wss://sbc1.example.com/ws", "wss://sbc2.example.com/ws"]);
//! let (handle, mut events) = transport::spawn(engine, config)?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         TransportEvent::Engine(e) => println!("{e:?}"),
//!         other => println!("connection: {other}"),
//!     }
//! #   break;
//! }
//! // Commands run on the engine inside the task, at the task's `now`:
//! handle.with(|_engine, _now| { /* engine.dial(now, ...) */ }).await?;
//! // Let the engine finish (un-REGISTER), at most two seconds.
//! handle.shutdown(|_engine, _now| { /* engine.shutdown(now) */ }, |_engine| true, Duration::from_secs(2)).await?;
//! # Ok(()) }
//! ```
//!
//! What the task does, and why:
//! * It feeds [`Input::Connected`](crate::Input::Connected) with a [`Flow`] whose `local_host` is a
//!   random `.invalid` name (RFC 7118 5.2), the same for the whole life of
//!   the transport so that re-REGISTER after a reconnect refreshes the same
//!   binding; [`Input::Received`](crate::Input::Received) for each text or binary message; and
//!   [`Input::Disconnected`](crate::Input::Disconnected) when the connection drops.
//! * It sends each [`Output::Transmit`](crate::Output::Transmit) as one WebSocket message (text when
//!   it is UTF-8, binary otherwise); frames produced while no connection is
//!   up are dropped, since the engine re-sends what matters after
//!   `Connected`. [`Output::Reconnect`](crate::Output::Reconnect) closes the flow and moves to the next
//!   server.
//! * It sleeps until [`Engine::poll_timeout`] on tokio's clock (so paused
//!   time in a test drives the engine too).
//! * It answers WebSocket pings; SIP keep-alive (CRLF) is the engine's.
//! * Security: the `sip` subprotocol must be echoed by the server; `ws://` is
//!   only accepted for loopback hosts (and only if the name resolves to
//!   loopback); `wss://` always verifies the certificate, against the Mozilla
//!   roots, the platform store and [`TransportConfig::extra_ca_pem`]. There
//!   is deliberately no switch to turn verification off.
//! * Reconnects follow [`Backoff`]: failover through the servers, full
//!   jitter, never giving up (see the `failover` module for the policy).

mod connect;
mod failover;
mod task;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

pub use failover::Backoff;

use crate::engine::{Engine, Flow};

/// Where and how to connect.
#[derive(Clone)]
pub struct TransportConfig {
    /// `wss://` URLs (or `ws://` on loopback), tried in this order.
    pub servers: Vec<String>,
    /// A CA certificate (or several) in PEM, trusted in addition to the
    /// built-in and platform roots: for SBCs behind a company's private CA.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Log every SIP message sent and received (target `sip_trace`, level
    /// info) for support cases. The log writer redacts credentials.
    pub trace: bool,
    /// The most one attempt may take, name lookup to WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Reconnect timing.
    pub backoff: Backoff,
    /// Seed for the jitter and the `.invalid` host name; `None` takes one
    /// from the operating system.
    pub seed: Option<u64>,
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("servers", &self.servers)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|p| format!("{} bytes", p.len())))
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &self.backoff)
            .field("seed", &self.seed)
            .finish()
    }
}

impl TransportConfig {
    /// These servers with the default timeout (10 s) and backoff.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Self {
        Self {
            servers: servers.into_iter().map(Into::into).collect(),
            extra_ca_pem: None,
            trace: false,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            seed: None,
        }
    }
}

/// A configuration the transport cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No server configured.
    #[error("no SIP server configured")]
    NoServers,
    /// A server URL is malformed.
    #[error("server {server:?}: {reason}")]
    BadUrl {
        /// The URL as configured.
        server: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `ws://` (unencrypted) to a host that is not loopback.
    #[error(
        "server {server:?}: unencrypted ws:// is only allowed to this computer (127.0.0.1, ::1, localhost); use wss://"
    )]
    InsecureServer {
        /// The URL as configured.
        server: String,
    },
    /// The extra CA is not usable.
    #[error("the extra CA certificate: {reason}")]
    ExtraCa {
        /// Why.
        reason: String,
    },
}

/// Why one connection attempt failed. Every variant names the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("{server}: cannot resolve the host: {reason}")]
    Resolve {
        /// The server URL.
        server: String,
        /// The resolver's error.
        reason: String,
    },
    /// A `ws://` loopback name resolved to an address off this computer.
    #[error("{server}: resolves to {address}, which is not loopback; unencrypted ws:// is refused")]
    InsecureAddress {
        /// The server URL.
        server: String,
        /// The address it resolved to.
        address: IpAddr,
    },
    /// TCP failed (refused, reset, unreachable).
    #[error("{server}: {reason}")]
    Io {
        /// The server URL.
        server: String,
        /// The system's error.
        reason: String,
    },
    /// The server's certificate was not accepted.
    #[error("{server}: certificate not trusted ({reason}); if the SBC uses a private CA, configure it as the extra CA")]
    Certificate {
        /// The server URL.
        server: String,
        /// What rustls objected to.
        reason: String,
    },
    /// TLS failed for another reason.
    #[error("{server}: TLS failed: {reason}")]
    Tls {
        /// The server URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The HTTP upgrade to WebSocket failed.
    #[error("{server}: WebSocket upgrade failed: {reason}")]
    Handshake {
        /// The server URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server did not agree to the `sip` subprotocol (RFC 7118), so it
    /// is not a SIP WebSocket server (or is misconfigured).
    #[error("{server}: the server did not accept the WebSocket subprotocol \"sip\" (RFC 7118)")]
    NoSipSubprotocol {
        /// The server URL.
        server: String,
    },
    /// The attempt took longer than [`TransportConfig::connect_timeout`].
    #[error("{server}: no connection within {after:?}")]
    Timeout {
        /// The server URL.
        server: String,
        /// The timeout in force.
        after: Duration,
    },
}

/// What the transport reports: the engine's events and the connection's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TransportEvent<E> {
    /// An event from the engine.
    Engine(E),
    /// Connecting to this server.
    Connecting {
        /// The server URL.
        server: String,
        /// Its index in [`TransportConfig::servers`].
        server_index: usize,
    },
    /// A connection is up; the engine got [`Input::Connected`](crate::Input::Connected) with this flow.
    Connected(Flow),
    /// A connection attempt failed.
    ConnectFailed(ConnectError),
    /// A connection that was up went down; the engine got
    /// [`Input::Disconnected`](crate::Input::Disconnected).
    Disconnected {
        /// The server URL.
        server: String,
        /// Why (closed by the server, a read error, the engine's request).
        reason: String,
    },
    /// The next attempt is planned.
    Reconnecting {
        /// The server it will go to.
        server: String,
        /// Its index.
        server_index: usize,
        /// After this pause.
        delay: Duration,
        /// Whether it is another server than the last one.
        failover: bool,
    },
    /// The transport stopped (shutdown, or every [`Handle`] dropped); no
    /// event follows.
    Closed,
}

impl<E: fmt::Debug> fmt::Display for TransportEvent<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportEvent::Engine(e) => write!(f, "engine: {e:?}"),
            TransportEvent::Connecting { server, .. } => write!(f, "connecting to {server}"),
            TransportEvent::Connected(flow) => write!(f, "connected to {}", flow.server),
            TransportEvent::ConnectFailed(e) => write!(f, "connection failed: {e}"),
            TransportEvent::Disconnected { server, reason } => write!(f, "disconnected from {server}: {reason}"),
            TransportEvent::Reconnecting { server, delay, failover, .. } => {
                let what = if *failover { "failing over to" } else { "reconnecting to" };
                write!(f, "{what} {server} in {} ms", delay.as_millis())
            }
            TransportEvent::Closed => f.write_str("closed"),
        }
    }
}

/// The transport task is gone (shut down, or it panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the SIP transport has stopped")]
pub struct Closed;

type Job<E> = Box<dyn FnOnce(&mut E, Instant) + Send>;

enum Command<E> {
    Run(Job<E>),
    Shutdown { begin: Job<E>, done: Box<dyn Fn(&E) -> bool + Send>, within: Duration, stopped: oneshot::Sender<()> },
}

/// Commands for the transport task. Cheap to clone; the task stops (closing
/// the connection at once) when the last one is dropped without
/// [`Handle::shutdown`].
pub struct Handle<E> {
    commands: mpsc::Sender<Command<E>>,
}

impl<E> Clone for Handle<E> {
    fn clone(&self) -> Self {
        Self { commands: self.commands.clone() }
    }
}

impl<E> fmt::Debug for Handle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("closed", &self.commands.is_closed()).finish()
    }
}

impl<E: Engine + Send + 'static> Handle<E> {
    /// Runs `f` on the engine inside the task, with the task's clock, then
    /// carries out what the engine asks (frames, events). Returns what `f`
    /// returned.
    pub async fn with<R, F>(&self, f: F) -> Result<R, Closed>
    where
        F: FnOnce(&mut E, Instant) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job<E> = Box::new(move |engine, now| {
            let _ = tx.send(f(engine, now));
        });
        self.commands.send(Command::Run(job)).await.map_err(|_| Closed)?;
        rx.await.map_err(|_| Closed)
    }

    /// Lets the engine finish, then stops: runs `begin` (for example the
    /// un-REGISTER), keeps the connection, timers and inputs going until
    /// `done` says the engine is finished or `within` has passed, closes the
    /// WebSocket and returns. With no connection up it stops at once.
    pub async fn shutdown<B, D>(&self, begin: B, done: D, within: Duration) -> Result<(), Closed>
    where
        B: FnOnce(&mut E, Instant) + Send + 'static,
        D: Fn(&E) -> bool + Send + 'static,
    {
        let (stopped, rx) = oneshot::channel();
        let command = Command::Shutdown { begin: Box::new(begin), done: Box::new(done), within, stopped };
        self.commands.send(command).await.map_err(|_| Closed)?;
        // The sender is dropped when the task ends, whichever way.
        let _ = rx.await;
        Ok(())
    }
}

/// The events a transport reports, in order. Unbounded on purpose: the task
/// must never wait for its owner (an owner awaiting [`Handle::with`] while
/// not reading events would deadlock a bounded channel), and SIP events come
/// a few per call.
pub type Events<E> = mpsc::UnboundedReceiver<TransportEvent<E>>;

/// Starts the transport task on the current tokio runtime. It connects to
/// the first server at once and keeps a connection up until shut down.
pub fn spawn<E>(engine: E, config: TransportConfig) -> Result<(Handle<E>, Events<E::Event>), ConfigError>
where
    E: Engine + Send + 'static,
    E::Event: Send + 'static,
{
    if config.servers.is_empty() {
        return Err(ConfigError::NoServers);
    }
    let servers = config.servers.iter().map(|s| connect::Server::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let tls = if servers.iter().any(|s| s.secure) || config.extra_ca_pem.is_some() {
        Some(connect::tls_config(config.extra_ca_pem.as_deref())?)
    } else {
        None
    };
    let seed = config.seed.unwrap_or_else(random_seed);
    let (commands, command_rx) = mpsc::channel(64);
    let (event_tx, events) = mpsc::unbounded_channel();
    let task = task::Task::new(engine, servers, tls, &config, seed, event_tx);
    tokio::spawn(task.run(command_rx));
    Ok((Handle { commands }, events))
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    // Without OS randomness the jitter is merely less spread; the host name
    // still differs by the clock.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return nanos.as_nanos() as u64 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}

/// A random `.invalid` host name (RFC 7118 5.2) from `seed`: 12 characters
/// of `[a-z0-9]`, as browsers' SIP stacks use.
fn invalid_host(seed: u64) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed ^ 0x6a09_e667_f3bc_c909;
    let mut name = String::with_capacity(20);
    for _ in 0..12 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        name.push(char::from(ALPHABET[((x >> 33) % 36) as usize]));
    }
    name.push_str(".invalid");
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_host_is_a_random_invalid_name() {
        let a = invalid_host(1);
        assert!(a.ends_with(".invalid") && a.len() == 20, "{a}");
        assert!(a[..12].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{a}");
        assert_eq!(a, invalid_host(1));
        assert_ne!(a, invalid_host(2));
    }

    #[test]
    fn the_config_debug_output_does_not_dump_the_ca() {
        let mut c = TransportConfig::new(["wss://sbc.example.com"]);
        c.extra_ca_pem = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
        let text = format!("{c:?}");
        assert!(text.contains("27 bytes") && !text.contains("BEGIN"), "{text}");
    }
}
