//! Transactions (RFC 3261 section 17, with the Accepted states of RFC 6026).
//!
//! Each transaction is a plain state machine: create it with the request,
//! feed it messages with `handle_input(now, ..)`, call `handle_timeout(now)`
//! when [`poll_timeout`](ClientTransaction::poll_timeout) says, and drain
//! [`Output`]s with `poll_output()`. Time is always passed in, so a test can
//! jump 32 simulated seconds in one call.
//!
//! On a reliable transport (WebSocket, TCP, TLS) the retransmission timers A,
//! E and G never run, and the linger timers D, I, J and K are zero, so the
//! transaction ends as soon as its exchange does (17.1.1.2, 17.1.2.2,
//! 17.2.1, 17.2.2). Timers B, F, H, L and M (64*T1) run on every transport.

mod client;
mod key;
mod server;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use client::ClientTransaction;
pub use key::Key;
pub use server::ServerTransaction;

use crate::message::{Request, Response};

/// The RFC 3261 timer base values (section 17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE
    /// responses, 4 s by default.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s by default.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these bytes to the peer.
    Transmit(Vec<u8>),
    /// A response for the transaction user (client transactions).
    Response(Response),
    /// An ACK to a 2xx, for the transaction user (INVITE server transactions
    /// in the Accepted state).
    Ack(Request),
    /// Timer B, F or H fired: no final response or ACK arrived in time. A
    /// client's user treats this as a 408 (section 8.1.3.1).
    TimedOut,
    /// The transaction is over and can be dropped.
    Terminated,
}

/// The non-INVITE states, which client and server share by name (figures 6
/// and 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The INVITE states of one side (figures 5 and 7, with RFC 6026 Accepted).
trait InvitePhase: Copy + PartialEq {
    const TERMINATED: Self;
    fn name(self) -> &'static str;
}

/// A transaction's state: which kind it is, and where it is in the figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State<I> {
    Invite(I),
    NonInvite(NonInviteState),
}

impl<I: InvitePhase> State<I> {
    fn name(self) -> &'static str {
        match self {
            State::Invite(s) => s.name(),
            State::NonInvite(NonInviteState::Trying) => "Trying",
            State::NonInvite(NonInviteState::Proceeding) => "Proceeding",
            State::NonInvite(NonInviteState::Completed) => "Completed",
            State::NonInvite(NonInviteState::Terminated) => "Terminated",
        }
    }

    fn terminated(self) -> Self {
        match self {
            State::Invite(_) => State::Invite(I::TERMINATED),
            State::NonInvite(_) => State::NonInvite(NonInviteState::Terminated),
        }
    }

    fn is_terminated(self) -> bool {
        self == self.terminated()
    }
}

/// A retransmission timer (A, E or G): when it fires next and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    at: Instant,
    interval: Duration,
}

/// The state, timers and output queue every transaction has; each side
/// defines its INVITE states, named as in the RFC's figures.
#[derive(Debug)]
struct Core<I> {
    state: State<I>,
    reliable: bool,
    timers: Timers,
    /// Timer A, E or G.
    retransmit: Option<Backoff>,
    /// Timer B, F, H or L.
    timeout: Option<Instant>,
    /// Timer D, I, J, K or M.
    linger: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl<I: InvitePhase> Core<I> {
    fn new(state: State<I>, reliable: bool, timers: Timers) -> Self {
        Self { state, reliable, timers, retransmit: None, timeout: None, linger: None, outputs: VecDeque::new() }
    }

    /// Arms a linger timer (D, I, J or K), or ends the transaction now: on a
    /// reliable transport those timers are zero.
    fn linger_for(&mut self, now: Instant, unreliable: Duration) {
        if self.reliable {
            self.terminate();
        } else {
            self.linger = Some(now + unreliable);
        }
    }

    fn terminate(&mut self) {
        self.state = self.state.terminated();
        self.retransmit = None;
        self.timeout = None;
        self.linger = None;
        self.outputs.push_back(Output::Terminated);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|b| b.at), self.timeout, self.linger].into_iter().flatten().min()
    }
}

fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|at| at <= now)
}

fn is_provisional(status: u16) -> bool {
    (100..200).contains(&status)
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::time::{Duration, Instant};

    use crate::message::{HeaderName, Method, Request, Response, Uri};

    pub fn request(method: Method) -> Request {
        let uri: Uri = "sip:expert@example.com".parse().expect("uri");
        let mut r = Request::new(method.clone(), uri);
        r.headers.push(HeaderName::Via, "SIP/2.0/WSS a.invalid;branch=z9hG4bKtest");
        r.headers.push(HeaderName::Route, "<sip:sbc.example.com;lr>");
        r.headers.push(HeaderName::From, "<sip:agent@example.com>;tag=a1");
        r.headers.push(HeaderName::To, "<sip:expert@example.com>");
        r.headers.push(HeaderName::CallId, "call-1@a.invalid");
        r.headers.push(HeaderName::CSeq, format!("7 {method}"));
        r
    }

    pub fn response(request: &Request, status: u16) -> Response {
        let mut resp = Response::to_request(request, status);
        if status > 100 {
            resp.headers.set(HeaderName::To, "<sip:expert@example.com>;tag=b2");
        }
        resp
    }

    /// Simulated seconds since `t0`, for readable assertions.
    pub fn secs(t0: Instant, t: Instant) -> f64 {
        t.duration_since(t0).as_secs_f64()
    }

    pub fn at(t0: Instant, secs: f64) -> Instant {
        t0 + Duration::from_secs_f64(secs)
    }
}
