//! The lab's SIP side: a registrar, a proxy between registered WebSocket
//! clients, agent availability by PUBLISH, and the ACD acting as a B2BUA.
//!
//! [`Core`] is sans-IO, like the user agent it serves: feed it
//! [`Input`]s with the time, drain [`Output`]s, and call
//! [`Core::handle_timeout`] when [`Core::poll_timeout`] says. The tokio
//! WebSocket server ([`server`]) is a thin shell around it; tests attach
//! user agents to the core directly and run on simulated time.
//!
//! ```
//! use std::time::Instant;
//! use warmline_lab::sip::{AgentAccount, ConnId, Core, CoreConfig, Input, Output};
//!
//! let mut config = CoreConfig::new("example.com");
//! config.queues = vec!["billing".into()];
//! config.agents = vec![AgentAccount::new("1001", "s3cret", ["billing"])];
//! let mut core = Core::new(config);
//! let now = Instant::now();
//! core.handle_input(now, Input::Connected { conn: ConnId(1), trunk: false });
//! core.handle_input(now, Input::Frame { conn: ConnId(1), bytes: b"\r\n\r\n" });
//! // RFC 5626 keep-alive: a double CRLF gets a single CRLF back.
//! assert!(matches!(core.poll_output(), Some(Output::Transmit { bytes, .. }) if bytes == b"\r\n"));
//! ```
//!
//! Roles, all in one core because they share the location service:
//!
//! * **Registrar**: REGISTER is challenged with digest (SHA-256, `qop=auth`);
//!   a binding is tied to the connection it came on and removed when that
//!   WebSocket closes. Trunk connections (the lab's own simulated
//!   customers) register without credentials and may only call queues.
//! * **Availability**: an agent PUBLISHes a PIDF document (RFC 3903,
//!   [`warmline_sip::pidf`]): `open` is available, `closed` is not (the
//!   note says why). 200 carries SIP-ETag; SIP-If-Match refreshes,
//!   modifies or (with Expires 0) removes it.
//! * **ACD / B2BUA**: an INVITE to `sip:<queue>@<domain>` is queued (180
//!   to the caller) and offered to the available agent serving that queue
//!   who has been idle longest, as a new INVITE carrying P-Asserted-Identity,
//!   X-Queue, X-Case-Id and User-to-User. No answer within
//!   [`CoreConfig::ring_timeout`], or a rejection, re-queues the call. SDP
//!   passes through unchanged, so media flows end to end.
//! * **Direct Routing**: an INVITE to an expert's number
//!   (`sip:<phone>@<domain>`, [`CoreConfig::experts`]) is a B2BUA call to
//!   the simulated Teams user registered on a trunk connection; one with
//!   Replaces is refused ([`REPLACES_REFUSED`]), as Direct Routing does.
//! * **Transfers**: the B2BUA acts on the agent's REFER itself (blind, or
//!   attended with Replaces naming a consultation call through the lab),
//!   with NOTIFY sipfrag progress; see `transfer.rs`.
//! * **Proxy**: any other request between registered clients is forwarded
//!   by AOR with Via and Record-Route, as Kamailio does for WebSocket
//!   clients (`tests/interop/kamailio/kamailio.cfg`).

mod availability;
mod b2bua;
mod direct_routing;
mod proxy;
mod registrar;
#[cfg(test)]
mod tests;
mod transfer;
#[cfg(test)]
mod transfer_tests;

pub mod server;

pub use direct_routing::REPLACES_REFUSED;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use warmline_sip::transaction::{ClientTransaction, ServerTransaction, Timers};
use warmline_sip::{HeaderName, Message, Method, Request, Response, parse};

use crate::rng::Rng;
use availability::Agent;
use b2bua::Call;
use registrar::Registrar;

/// The host the lab uses in Via, Contact and Record-Route.
pub const LAB_HOST: &str = "lab.invalid";

/// One WebSocket (or directly attached user agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConnId(pub u64);

/// An agent account: the SIP user it registers as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAccount {
    /// The SIP user (extension).
    pub extension: String,
    /// The digest password. Never logged.
    pub password: String,
    /// The queues it serves.
    pub queues: Vec<String>,
}

impl AgentAccount {
    /// An account serving `queues`.
    pub fn new<Q: Into<String>>(extension: &str, password: &str, queues: impl IntoIterator<Item = Q>) -> Self {
        Self {
            extension: extension.into(),
            password: password.into(),
            queues: queues.into_iter().map(Into::into).collect(),
        }
    }
}

/// How the core behaves.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The SIP domain (AORs are `sip:<extension>@<domain>`) and digest realm.
    pub domain: String,
    /// The agents who may register.
    pub agents: Vec<AgentAccount>,
    /// Queue names (`sip:<queue>@<domain>` reaches them).
    pub queues: Vec<String>,
    /// How long an offered call rings before it is taken back and re-queued.
    pub ring_timeout: Duration,
    /// How long an agent who did not answer or rejected is skipped for
    /// that call.
    pub retry_after: Duration,
    /// Call-Info answer-after on routed calls, when set.
    pub answer_after: Option<u32>,
    /// Seeds tags, Call-IDs, branches, nonces and case ids.
    pub seed: u64,
    /// The experts' Direct Routing numbers (E.164): the lab's simulated
    /// Teams users register these from trunk connections, and an INVITE to
    /// `sip:<number>@<domain>` reaches them through the B2BUA.
    pub experts: Vec<String>,
}

impl CoreConfig {
    /// Defaults: 20 s ring timeout, 10 s retry, no auto-answer.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.into(),
            agents: Vec::new(),
            queues: Vec::new(),
            ring_timeout: Duration::from_secs(20),
            retry_after: Duration::from_secs(10),
            answer_after: None,
            seed: 1,
            experts: Vec::new(),
        }
    }
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// A WebSocket was accepted; `trunk` for the lab's own customers.
    Connected {
        /// The connection.
        conn: ConnId,
        /// Trusted without credentials, may only call queues.
        trunk: bool,
    },
    /// One WebSocket message.
    Frame {
        /// The connection.
        conn: ConnId,
        /// The message.
        bytes: &'a [u8],
    },
    /// The WebSocket closed.
    Closed {
        /// The connection.
        conn: ConnId,
    },
}

/// What the core asks of its shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send one WebSocket message.
    Transmit {
        /// Where.
        conn: ConnId,
        /// The message.
        bytes: Vec<u8>,
    },
    /// Something for the lab's event stream.
    Event(SipEvent),
}

/// What the SIP side reports (on the lab's event stream as JSON lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SipEvent {
    /// An agent registered (or refreshed) on a connection.
    Registered {
        /// The extension.
        agent: String,
    },
    /// An agent has no binding left.
    Unregistered {
        /// The extension.
        agent: String,
    },
    /// An agent's published availability changed.
    Availability {
        /// The extension.
        agent: String,
        /// Takes calls.
        available: bool,
        /// Why not (`away`, `wrap-up`), from the PIDF note.
        note: Option<String>,
    },
    /// A customer call entered a queue.
    Queued {
        /// The lab's call id.
        call: String,
        /// The queue.
        queue: String,
        /// The caller (From URI).
        from: String,
        /// The case id routed calls carry.
        case_id: String,
        /// Calls waiting in this queue, this one included.
        position: usize,
    },
    /// The call was offered to an agent.
    Routed {
        /// The call.
        call: String,
        /// The extension.
        agent: String,
        /// The queue.
        queue: String,
    },
    /// The offer failed and the call went back to its queue.
    Requeued {
        /// The call.
        call: String,
        /// The agent who did not take it.
        agent: String,
        /// `no_answer`, or the agent's status (`rejected_486`).
        reason: String,
    },
    /// The agent answered.
    Answered {
        /// The call.
        call: String,
        /// The extension.
        agent: String,
        /// Milliseconds the caller waited.
        waited_ms: u64,
    },
    /// The call is over.
    Ended {
        /// The call.
        call: String,
        /// `caller_hangup`, `agent_hangup`, `abandoned`, `agent_lost`.
        reason: String,
    },
    /// The agent's transfer succeeded: the caller now talks to the expert.
    Transferred {
        /// The call.
        call: String,
        /// The agent who transferred it.
        agent: String,
        /// The expert's number.
        to: String,
        /// `blind` or `attended`.
        kind: String,
    },
    /// The agent's transfer failed; the caller stays with the agent.
    TransferFailed {
        /// The call.
        call: String,
        /// The agent who asked for it.
        agent: String,
        /// The Refer-To target's user part.
        to: String,
        /// The final status reported in the NOTIFY (603, 486, 404 ...).
        status: u16,
    },
}

/// What a client transaction of ours is for.
#[derive(Debug)]
enum Purpose {
    /// The INVITE offering a call to an agent.
    Offer { call: u64 },
    /// A request relayed from the other leg; answer `incoming` with its result.
    Relay { call: u64, from_conn: ConnId, incoming: Box<Request>, server_key: Option<String> },
    /// A transfer's INVITE (blind) or re-INVITE (attended) asking the
    /// expert for an offer.
    TransferExpert { call: u64 },
    /// A transfer's re-INVITE carrying the expert's offer to the customer.
    TransferCustomer { call: u64 },
    /// An offer the call no longer wants: ACK and BYE a late 2xx.
    Orphan,
    /// Nothing to do with the response (BYE, CANCEL).
    Plain,
}

#[derive(Debug)]
struct Client {
    tx: ClientTransaction,
    conn: ConnId,
    purpose: Purpose,
}

#[derive(Debug)]
struct Server {
    tx: ServerTransaction,
    conn: ConnId,
}

#[derive(Debug, Default)]
struct Conn {
    trunk: bool,
}

/// The registrar, availability, proxy and ACD of the lab, sans-IO.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    rng: Rng,
    timers: Timers,
    conns: HashMap<ConnId, Conn>,
    /// Via/Contact hosts seen on each connection (`xyz.invalid`).
    hosts: HashMap<String, ConnId>,
    registrar: Registrar,
    agents: BTreeMap<String, Agent>,
    calls: BTreeMap<u64, Call>,
    /// Call-ID of either leg to the lab's call.
    legs: HashMap<String, u64>,
    /// Experts' numbers to their binding (trunk connections).
    expert_bindings: HashMap<String, registrar::Binding>,
    /// Agent legs a transfer took the caller away from, by Call-ID: kept
    /// only to answer the agent's BYE (RFC 5589).
    released: HashMap<String, ConnId>,
    clients: HashMap<String, Client>,
    servers: HashMap<String, Server>,
    outputs: VecDeque<Output>,
    next_call: u64,
    counter: u64,
}

impl Core {
    /// A core with no connections.
    pub fn new(config: CoreConfig) -> Self {
        let passwords = config.agents.iter().map(|a| (a.extension.clone(), a.password.clone())).collect();
        let registrar = Registrar::new(config.domain.clone(), passwords);
        let agents = config.agents.iter().map(|a| (a.extension.clone(), Agent::new(a.queues.clone()))).collect();
        Self {
            rng: Rng::new(config.seed, 0x51b),
            timers: Timers::default(),
            conns: HashMap::new(),
            hosts: HashMap::new(),
            registrar,
            agents,
            calls: BTreeMap::new(),
            legs: HashMap::new(),
            expert_bindings: HashMap::new(),
            released: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            outputs: VecDeque::new(),
            next_call: 0,
            counter: 0,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// Feeds what happened at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Connected { conn, trunk } => {
                self.conns.insert(conn, Conn { trunk });
            }
            Input::Frame { conn, bytes } => self.frame(now, conn, bytes),
            Input::Closed { conn } => self.closed(now, conn),
        }
        self.drain(now);
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Core::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let txs = self.clients.values().filter_map(|c| c.tx.poll_timeout());
        let stxs = self.servers.values().filter_map(|s| s.tx.poll_timeout());
        let calls = self.calls.values().filter_map(|c| c.next_deadline());
        let pubs = self.agents.values().filter_map(|a| a.expires_at);
        txs.chain(stxs).chain(calls).chain(pubs).chain(self.registrar.next_expiry()).min()
    }

    /// Fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<String> = self
            .clients
            .iter()
            .filter(|(_, c)| c.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(c) = self.clients.get_mut(&key) {
                c.tx.handle_timeout(now);
            }
        }
        for s in self.servers.values_mut() {
            if s.tx.poll_timeout().is_some_and(|t| t <= now) {
                s.tx.handle_timeout(now);
            }
        }
        for ext in self.registrar.expire(now) {
            self.lost_binding(now, &ext);
        }
        self.expire_publications(now);
        self.ring_timeouts(now);
        self.drain(now);
        self.route(now);
        self.drain(now);
    }

    /// Whether an extension has a live binding.
    pub fn is_registered(&self, extension: &str) -> bool {
        self.registrar.binding(extension).is_some()
    }

    /// Whether an extension's published state says it takes calls.
    pub fn is_available(&self, extension: &str) -> bool {
        self.agents.get(extension).is_some_and(|a| a.available)
    }

    /// Whether a simulated expert has registered its number.
    pub fn is_expert_registered(&self, number: &str) -> bool {
        self.expert_bindings.contains_key(number)
    }

    /// Calls waiting in `queue`, oldest first (the lab's call ids).
    pub fn queued(&self, queue: &str) -> Vec<String> {
        self.calls.values().filter(|c| c.queue == queue && c.is_queued()).map(|c| c.name()).collect()
    }

    // ----- plumbing -----

    fn emit(&mut self, event: SipEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn send(&mut self, conn: ConnId, bytes: Vec<u8>) {
        self.outputs.push_back(Output::Transmit { conn, bytes });
    }

    fn token(&mut self) -> String {
        self.counter += 1;
        format!("{:012x}{:x}", self.rng.next_u64() & 0xffff_ffff_ffff, self.counter)
    }

    fn branch(&mut self) -> String {
        format!("z9hG4bKlab{}", self.token())
    }

    fn our_via(&mut self) -> (String, String) {
        let branch = self.branch();
        (format!("SIP/2.0/WSS {LAB_HOST};branch={branch}"), branch)
    }

    fn reply(&mut self, conn: ConnId, request: &Request, status: u16, extra: &[(HeaderName, String)]) {
        if request.method == Method::Ack {
            return;
        }
        let mut r = Response::to_request(request, status);
        if let Ok(mut to) = r.headers.to()
            && to.tag().is_none()
            && status > 100
        {
            let tag = self.token();
            to.params.set("tag", Some(&tag));
            r.headers.set(HeaderName::To, to.to_string());
        }
        for (n, v) in extra {
            r.headers.push(n.clone(), v.clone());
        }
        self.send(conn, r.to_bytes());
    }

    /// Starts a client transaction on `conn`.
    fn start_client(&mut self, now: Instant, conn: ConnId, branch: String, request: Request, purpose: Purpose) {
        let tx = ClientTransaction::new(now, request, true, self.timers);
        self.clients.insert(branch, Client { tx, conn, purpose });
    }

    /// Moves transaction outputs out and acts on responses, until quiet.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut work = Vec::new();
            for (key, c) in &mut self.clients {
                while let Some(o) = c.tx.poll_output() {
                    work.push((key.clone(), c.conn, o));
                }
            }
            let mut sends = Vec::new();
            for s in self.servers.values_mut() {
                while let Some(o) = s.tx.poll_output() {
                    if let warmline_sip::transaction::Output::Transmit(b) = o {
                        sends.push((s.conn, b));
                    }
                }
            }
            self.servers.retain(|_, s| !s.tx.is_terminated());
            if work.is_empty() && sends.is_empty() {
                break;
            }
            for (conn, b) in sends {
                self.send(conn, b);
            }
            for (key, conn, o) in work {
                use warmline_sip::transaction::Output as T;
                match o {
                    T::Transmit(b) => self.send(conn, b),
                    T::Response(r) => self.client_response(now, &key, r),
                    T::TimedOut => {
                        let mut r = Response::new(408);
                        if let Some(c) = self.clients.get(&key) {
                            r = Response::to_request(c.tx.request(), 408);
                        }
                        self.client_response(now, &key, r);
                    }
                    _ => {}
                }
            }
            self.clients.retain(|_, c| !c.tx.is_terminated());
        }
    }

    fn frame(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        if !bytes.is_empty() && bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            // RFC 5626 4.4.1: a double CRLF ping gets a CRLF pong.
            if bytes.len() >= 4 {
                self.send(conn, b"\r\n".to_vec());
            }
            return;
        }
        match parse(bytes) {
            Ok(Message::Request(r)) => self.request(now, conn, r),
            Ok(Message::Response(r)) => self.response(now, r),
            Err(e) => {
                if let Some(r) = warmline_sip::message::error_response(bytes, &e, "lab") {
                    self.send(conn, r.to_bytes());
                }
            }
        }
    }

    fn request(&mut self, now: Instant, conn: ConnId, request: Request) {
        if let Ok(via) = request.headers.top_via() {
            self.hosts.insert(via.host.to_string(), conn);
        }
        let branch = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        // A retransmission or the ACK of a non-2xx final.
        if let Some(s) = self.servers.get_mut(&branch)
            && (request.method == Method::Ack || request.method == s.tx.request().method)
        {
            s.tx.handle_input(now, request);
            return;
        }
        match request.method {
            Method::Register => return self.register(now, conn, &request),
            Method::Publish => return self.publish(now, conn, &request),
            Method::Cancel if self.servers.contains_key(&branch) => return self.cancel(now, conn, &request, &branch),
            _ => {}
        }
        let call_id = request.headers.call_id().unwrap_or_default().to_owned();
        if self.released.contains_key(&call_id) {
            return self.released_leg(conn, &call_id, &request);
        }
        if let Some(&call) = self.legs.get(&call_id) {
            return self.in_dialog(now, conn, call, request);
        }
        let initial = request.headers.to().is_ok_and(|t| t.tag().is_none());
        if initial && request.method == Method::Invite && self.queue_of(&request).is_some() {
            return self.incoming_call(now, conn, request);
        }
        if initial
            && request.method == Method::Invite
            && let Some(number) = self.expert_of(&request)
        {
            return self.expert_call(now, conn, request, number);
        }
        if self.conns.get(&conn).is_some_and(|c| c.trunk) {
            return self.reply(conn, &request, 403, &[]);
        }
        if initial && request.method == Method::Options && self.is_ours(&request) {
            return self.reply(conn, &request, 200, &[]);
        }
        self.proxy_request(now, conn, request);
    }

    fn response(&mut self, now: Instant, response: Response) {
        let Ok(via) = response.headers.top_via() else { return };
        if via.host.to_string() != LAB_HOST {
            return;
        }
        let mut branch = via.branch().unwrap_or_default().to_owned();
        if response.headers.cseq().is_ok_and(|c| c.method == Method::Cancel) {
            branch.push_str("/CANCEL");
        }
        if let Some(c) = self.clients.get_mut(&branch) {
            c.tx.handle_input(now, response);
            return;
        }
        self.proxy_response(response);
    }

    fn is_ours(&self, request: &Request) -> bool {
        request.uri.as_sip().is_some_and(|u| {
            let host = u.host.to_string();
            host == self.config.domain || host == LAB_HOST || host.starts_with("127.")
        })
    }

    fn queue_of(&self, request: &Request) -> Option<String> {
        let user = request.uri.as_sip()?.user.clone()?;
        self.config.queues.iter().find(|q| q.eq_ignore_ascii_case(&user)).cloned()
    }

    fn closed(&mut self, now: Instant, conn: ConnId) {
        self.conns.remove(&conn);
        self.hosts.retain(|_, c| *c != conn);
        self.expert_bindings.retain(|_, b| b.conn != conn);
        self.released.retain(|_, c| *c != conn);
        for ext in self.registrar.drop_conn(conn) {
            self.lost_binding(now, &ext);
        }
        self.conn_gone(now, conn);
        self.route(now);
    }

    fn lost_binding(&mut self, now: Instant, ext: &str) {
        if self.registrar.binding(ext).is_none() {
            self.emit(SipEvent::Unregistered { agent: ext.to_owned() });
            let _ = now;
        }
    }
}
