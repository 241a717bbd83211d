//! The contract between a sans-IO SIP engine and the transport that carries
//! it.
//!
//! An engine (the user agent, or a bare registration in a test) is
//! fed connection changes, received frames and time, and is drained of
//! frames to send and events for its owner. The transport (the tokio
//! WebSocket shell, or a test's simulated network) does nothing else: it
//! owns the socket, the clock and the reconnect policy, and holds no SIP
//! state of its own. Keep-alives (RFC 5626 CRLF ping/pong) are decided by the
//! engine, so they run on simulated time in tests like everything else.

use std::time::Instant;

use crate::message::Transport;

/// The connection a transport has just opened (one WebSocket, RFC 7118).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// `Ws` or `Wss`, for the Via and Contact transport parameter.
    pub transport: Transport,
    /// The host to put in Via sent-by and in the Contact: a WebSocket client
    /// has no reachable address of its own, so RFC 7118 section 5.2 uses a
    /// random `.invalid` domain name.
    pub local_host: String,
    /// The server this flow reaches, as configured (`wss://sbc.example.com`),
    /// for logs and failover events.
    pub server: String,
    /// Which of the configured servers it is (0 = the first).
    pub server_index: usize,
}

/// What a transport feeds an engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A connection is up (the first one, or a new one after a drop or a
    /// failover). Registration starts or is redone on it.
    Connected(Flow),
    /// One received WebSocket message: a SIP message, or a bare CRLF
    /// keep-alive (a pong to our ping, or a ping from the server).
    Received(&'a [u8]),
    /// The connection dropped. The transport reconnects by itself; the
    /// engine keeps its calls and waits for [`Input::Connected`].
    Disconnected,
}

/// What an engine asks of its transport.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<E> {
    /// Send these bytes as one WebSocket message.
    Transmit(Vec<u8>),
    /// Tell the engine's owner.
    Event(E),
    /// The flow is dead though the socket looks open (a keep-alive pong did
    /// not come back, or the registrar stopped answering): close it and
    /// connect again, to the next server if there is one.
    Reconnect {
        /// Why, for the log.
        reason: String,
    },
}

/// A sans-IO engine a transport can drive.
///
/// The run loop: feed inputs as they happen, then drain [`poll_output`]
/// until it returns `None`, then sleep until [`poll_timeout`] (or the next
/// input) and call [`handle_timeout`].
///
/// [`poll_output`]: Engine::poll_output
/// [`poll_timeout`]: Engine::poll_timeout
/// [`handle_timeout`]: Engine::handle_timeout
pub trait Engine {
    /// What the engine reports to its owner.
    type Event;

    /// Feeds one input at time `now`. Malformed frames are the engine's to
    /// answer or drop; nothing from the network makes this fail or panic.
    fn handle_input(&mut self, now: Instant, input: Input<'_>);

    /// Advances the engine's timers to `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// The next thing to do, if any.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;

    /// When [`Engine::handle_timeout`] must next be called, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
}
