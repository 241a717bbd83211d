//! SIP user agent for Warmline, spoken over WebSocket (RFC 7118).
//!
//! The core is sans-IO: a [`UserAgent`] is fed `(now, input)` and drained of
//! outputs (bytes to transmit, timers to arm, events for the agent). It never
//! reads the clock, opens a socket or spawns a task, so tests drive it on
//! simulated time and a 32-second transaction timeout runs in microseconds.
//! A thin tokio transport beside it owns the WebSocket and the timers.
//!
//! Layers, bottom up: messages (parse and serialize), transactions (RFC 3261
//! section 17), dialogs (section 12), registration, and the call session
//! with offer/answer and transfer (REFER, Replaces).
#![deny(missing_docs)]

use std::time::Instant;

/// Errors from the SIP layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message could not be parsed.
    #[error("malformed SIP message: {0}")]
    Malformed(String),
}

/// What the engine is fed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// Bytes received from the transport (one WebSocket message).
    Received(&'a [u8]),
    /// The transport connected or reconnected.
    Connected,
    /// The transport dropped.
    Disconnected,
}

/// What the engine asks for.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these bytes as one WebSocket message.
    Transmit(Vec<u8>),
    /// Call [`UserAgent::handle_timeout`] at this instant.
    Timeout(Instant),
}

/// The sans-IO SIP user agent.
#[derive(Debug, Default)]
pub struct UserAgent {
    outputs: std::collections::VecDeque<Output>,
}

impl UserAgent {
    /// A user agent with nothing to do yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one input at time `now`.
    pub fn handle_input(&mut self, _now: Instant, _input: Input<'_>) -> Result<(), Error> {
        Ok(())
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}
