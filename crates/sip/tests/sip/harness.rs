//! A simulated contact-center network for user agents, on simulated time.
//!
//! Two SBC front ends (`sbc0`, `sbc1`) share one registrar and location
//! service, as a Kamailio cluster does: a REGISTER is challenged (401 or
//! 407, MD5 or SHA-256, stale nonces on demand) and binds the AOR to the
//! flow it came on; a request is routed by AOR, or by a Contact host to
//! the flow that registered it; initial INVITEs are record-routed through
//! the cluster name, and responses follow the Via back. Every hop has a
//! latency, and rules can drop or delay any message. Time jumps to the
//! earliest thing due (a packet or a user agent's timer), so a 32-second
//! timeout takes microseconds and every run is the same. Nothing sleeps.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use warmline_sip::auth::{Algorithm, Challenge};
use warmline_sip::ua::{CallId, CallState, Config, Event, Outbound};
use warmline_sip::{Engine, Flow, HeaderName, Headers, Input, Message, Method, Output, Request, Response, Transport};
use warmline_sip::{UserAgent, parse};

/// One end of a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A user agent, by index.
    Ua(usize),
    /// An SBC front end, by index.
    Proxy(usize),
}

/// What a rule does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
    Delay(Duration),
}

type Rule = Box<dyn FnMut(End, End, &mut Message) -> Verdict>;

#[derive(Debug, Clone)]
struct FlowState {
    id: u32,
    proxy: usize,
    host: String,
}

/// A user agent on the network, with everything it said and heard.
pub struct Node {
    pub name: String,
    pub ua: UserAgent,
    /// Events with the simulated time they came out at.
    pub events: Vec<(Duration, Event)>,
    seen: usize,
    /// Every message it sent, parsed, with the time.
    pub sent: Vec<(Duration, Message)>,
    /// Every frame it sent, as bytes (also those that do not parse).
    pub sent_raw: Vec<(Duration, Vec<u8>)>,
    /// Reconnect requests it made.
    pub reconnects: Vec<(Duration, String)>,
    flow: Option<FlowState>,
    /// Answer re-offers and give offers as a media layer would.
    pub auto_media: bool,
    /// The link to the SBC drops everything, both ways.
    pub link_down: bool,
}

enum Hop {
    ToProxy { proxy: usize, from: usize, flow: u32 },
    ToUa { ua: usize, flow: u32, from: usize },
}

struct Packet {
    at: Instant,
    seq: u64,
    hop: Hop,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Binding {
    ua: usize,
}

/// The registrar and location service both SBCs share.
pub struct Registrar {
    pub realm: String,
    /// 407 instead of 401.
    pub proxy_challenge: bool,
    pub algorithm: Algorithm,
    /// The lifetime granted.
    pub expires: u32,
    /// RFC 5626 Flow-Timer in the 200, when set.
    pub flow_timer: Option<u32>,
    /// Challenge initial INVITEs with 407 too.
    pub challenge_invites: bool,
    nonce: String,
    old_nonces: Vec<String>,
    nonce_count: u32,
    bindings: HashMap<String, Binding>,
    passwords: HashMap<String, String>,
    /// REGISTERs answered 200.
    pub registered: usize,
    /// Challenges sent, and how many said stale=true.
    pub challenges: usize,
    pub stale_challenges: usize,
}

impl Registrar {
    /// Issues a new nonce; the old one is now stale (as after its lifetime).
    pub fn rotate_nonce(&mut self) {
        self.nonce_count += 1;
        let old = std::mem::replace(&mut self.nonce, format!("nonce-{}", self.nonce_count));
        self.old_nonces.push(old);
    }

    fn challenge(&mut self, stale: bool) -> (u16, HeaderName, String) {
        self.challenges += 1;
        if stale {
            self.stale_challenges += 1;
        }
        let alg = match self.algorithm {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        };
        let value = format!(
            "Digest realm=\"{}\", nonce=\"{}\", qop=\"auth\", algorithm={alg}{}",
            self.realm,
            self.nonce,
            if stale { ", stale=true" } else { "" }
        );
        if self.proxy_challenge {
            (407, HeaderName::ProxyAuthenticate, value)
        } else {
            (401, HeaderName::WwwAuthenticate, value)
        }
    }

    /// Checks the request's credentials: Ok, stale (an old nonce with the
    /// right password), or wrong.
    fn check(&self, request: &Request) -> Result<(), bool> {
        let name = if self.proxy_challenge { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
        let Some(value) = request.headers.get(&name) else { return Err(false) };
        let params = digest_params(value);
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let user = get("username");
        let Some(password) = self.passwords.get(&user) else { return Err(false) };
        let nonce = get("nonce");
        let nc = u32::from_str_radix(&get("nc"), 16).unwrap_or(0);
        let challenge = Challenge {
            realm: self.realm.clone(),
            nonce: nonce.clone(),
            opaque: None,
            algorithm: self.algorithm,
            qop_auth: true,
            stale: false,
        };
        let expected =
            challenge.authorization(&user, password, &request.method, &get("uri"), &get("cnonce"), nc.max(1));
        let expected = digest_params(&expected).get("response").cloned().unwrap_or_default();
        if expected != get("response") {
            return Err(false);
        }
        if nonce == self.nonce { Ok(()) } else { Err(self.old_nonces.contains(&nonce)) }
    }
}

fn digest_params(value: &str) -> HashMap<String, String> {
    let rest = value.trim().strip_prefix("Digest").unwrap_or(value);
    rest.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// The simulated network.
pub struct Net {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    queue: Vec<Packet>,
    seq: u64,
    /// One hop's latency (UA to SBC, or SBC to UA).
    pub latency: Duration,
    pub registrar: Registrar,
    rules: Vec<Rule>,
    /// Answer CRLF pings with a pong, per SBC.
    pub pong: [bool; 2],
    /// A log of every hop, for failure messages.
    pub wire: Vec<String>,
    flows: u32,
    hosts: HashMap<String, usize>,
}

/// A canned SDP body with a direction attribute.
pub fn sdp(owner: &str, version: u32, direction: &str) -> Vec<u8> {
    format!(
        "v=0\r\no={owner} 1 {version} IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
    .into_bytes()
}

fn sdp_direction(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    for d in ["sendonly", "recvonly", "inactive", "sendrecv"] {
        if text.contains(&format!("a={d}")) {
            return match d {
                "sendonly" => "sendonly",
                "recvonly" => "recvonly",
                "inactive" => "inactive",
                _ => "sendrecv",
            };
        }
    }
    "sendrecv"
}

/// The answer a media layer would give to `offer`: the mirrored direction.
pub fn answer_to(owner: &str, offer: &[u8]) -> Vec<u8> {
    let dir = match sdp_direction(offer) {
        "sendonly" => "recvonly",
        "recvonly" => "sendonly",
        "inactive" => "inactive",
        _ => "sendrecv",
    };
    sdp(owner, 2, dir)
}

/// The default configuration of user agent `name` (index `i`).
pub fn config(name: &str, i: usize) -> Config {
    let aor = format!("sip:{name}@example.com").parse().expect("aor");
    let mut c = Config::new(aor, name, format!("pw-{name}"), "sip:example.com".parse().expect("registrar"));
    c.display_name = Some(name.to_owned());
    c.outbound = Some(Outbound::new(format!("urn:uuid:00000000-0000-4000-8000-00000000000{i}")));
    c.call_data_headers = vec!["X-Queue".into(), "X-Case-Id".into()];
    c.seed = 1000 + i as u64;
    c
}

impl Net {
    /// A network with one user agent per name, default configurations.
    pub fn new(names: &[&str]) -> Self {
        Self::with(names.iter().enumerate().map(|(i, n)| ((*n).to_owned(), config(n, i))).collect())
    }

    /// A network with these user agents.
    pub fn with(agents: Vec<(String, Config)>) -> Self {
        let t0 = Instant::now();
        let mut passwords = HashMap::new();
        let nodes = agents
            .into_iter()
            .map(|(name, config)| {
                passwords.insert(config.auth_user.clone(), config.password.clone());
                Node {
                    name,
                    ua: UserAgent::new(config),
                    events: Vec::new(),
                    seen: 0,
                    sent: Vec::new(),
                    sent_raw: Vec::new(),
                    reconnects: Vec::new(),
                    flow: None,
                    auto_media: true,
                    link_down: false,
                }
            })
            .collect();
        Self {
            t0,
            now: t0,
            nodes,
            queue: Vec::new(),
            seq: 0,
            latency: Duration::from_millis(10),
            registrar: Registrar {
                realm: "example.com".into(),
                proxy_challenge: false,
                algorithm: Algorithm::Md5,
                expires: 600,
                flow_timer: None,
                challenge_invites: false,
                nonce: "nonce-0".into(),
                old_nonces: Vec::new(),
                nonce_count: 0,
                bindings: HashMap::new(),
                passwords,
                registered: 0,
                challenges: 0,
                stale_challenges: 0,
            },
            rules: Vec::new(),
            pong: [true, true],
            wire: Vec::new(),
            flows: 0,
            hosts: HashMap::new(),
        }
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Adds a rule every message on every hop passes through.
    /// A rule may also rewrite the message (as an SBC adds headers).
    pub fn rule(&mut self, rule: impl FnMut(End, End, &mut Message) -> Verdict + 'static) {
        self.rules.push(Box::new(rule));
    }

    pub fn ua(&mut self, i: usize) -> &mut UserAgent {
        &mut self.nodes[i].ua
    }

    /// Opens a WebSocket flow from user agent `i` to SBC `proxy`.
    pub fn connect(&mut self, i: usize, proxy: usize) {
        self.connect_over(i, proxy, Transport::Wss);
    }

    /// Opens a flow over `transport` (UDP to see retransmissions; the
    /// simulated link never loses what the rules let through).
    pub fn connect_over(&mut self, i: usize, proxy: usize, transport: Transport) {
        self.flows += 1;
        let host = format!("{}{}.invalid", self.nodes[i].name, self.flows);
        self.hosts.insert(host.clone(), i);
        self.nodes[i].flow = Some(FlowState { id: self.flows, proxy, host: host.clone() });
        let flow =
            Flow { transport, local_host: host, server: format!("wss://sbc{proxy}.example.com"), server_index: proxy };
        let now = self.now;
        self.nodes[i].ua.handle_input(now, Input::Connected(flow));
        self.pump();
    }

    /// The transport saw the socket close.
    pub fn disconnect(&mut self, i: usize) {
        self.nodes[i].flow = None;
        let now = self.now;
        self.nodes[i].ua.handle_input(now, Input::Disconnected);
        self.pump();
    }

    /// Feeds raw bytes to user agent `i`, as if they came on its flow.
    pub fn inject(&mut self, i: usize, bytes: &[u8]) {
        let now = self.now;
        self.nodes[i].ua.handle_input(now, Input::Received(bytes));
        self.pump();
    }

    /// Connects every user agent to SBC 0 and waits until all are
    /// registered.
    pub fn register_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.connect(i, 0);
        }
        for i in 0..self.nodes.len() {
            self.wait_for(i, "Registered", |e| matches!(e, Event::Registered { .. }));
        }
    }

    /// Runs a command on user agent `i` at the current time, then lets its
    /// output onto the network.
    pub fn act<T>(&mut self, i: usize, f: impl FnOnce(&mut UserAgent, Instant) -> T) -> T {
        let now = self.now;
        let out = f(&mut self.nodes[i].ua, now);
        self.pump();
        out
    }

    /// Moves every user agent's output onto the network, playing the media
    /// layer where asked.
    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(out) = self.nodes[i].ua.poll_output() {
                    any = true;
                    self.output(i, out);
                }
            }
            if !any {
                break;
            }
        }
    }

    fn output(&mut self, i: usize, out: Output<Event>) {
        let elapsed = self.elapsed();
        match out {
            Output::Transmit(bytes) => {
                if let Ok(m) = parse(&bytes) {
                    self.nodes[i].sent.push((elapsed, m));
                }
                self.nodes[i].sent_raw.push((elapsed, bytes.clone()));
                let node = &self.nodes[i];
                match (&node.flow, node.link_down) {
                    (Some(flow), false) => {
                        let hop = Hop::ToProxy { proxy: flow.proxy, from: i, flow: flow.id };
                        self.send(End::Ua(i), End::Proxy(flow.proxy), hop, bytes);
                    }
                    _ => self.log(format!("{} -> (no link): {}", self.nodes[i].name, summary(&bytes))),
                }
            }
            Output::Event(event) => {
                self.react(i, &event);
                self.nodes[i].events.push((elapsed, event));
            }
            Output::Reconnect { reason } => {
                self.log(format!("{} asks to reconnect: {reason}", self.nodes[i].name));
                self.nodes[i].flow = None;
                self.nodes[i].reconnects.push((elapsed, reason));
            }
            _ => {}
        }
    }

    /// The media layer's part: answer re-offers, give offers when asked
    /// (but leave new incoming calls to the test).
    fn react(&mut self, i: usize, event: &Event) {
        if !self.nodes[i].auto_media {
            return;
        }
        let now = self.now;
        let name = self.nodes[i].name.clone();
        let ua = &mut self.nodes[i].ua;
        let incoming = |ua: &UserAgent, call: CallId| ua.call(call).is_some_and(|c| c.state == CallState::Incoming);
        match event {
            Event::OfferReceived { call, sdp } if !incoming(ua, *call) => {
                let answer = answer_to(&name, sdp);
                ua.accept_answer(now, *call, answer).expect("the media layer answers the offer");
            }
            Event::OfferNeeded { call } if !incoming(ua, *call) => {
                ua.provide_offer(now, *call, sdp(&name, 3, "sendrecv")).expect("the media layer gives an offer");
            }
            _ => {}
        }
    }

    fn log(&mut self, line: String) {
        let t = self.elapsed().as_secs_f64();
        self.wire.push(format!("{t:>9.3} {line}"));
    }

    fn end_name(&self, end: End) -> String {
        match end {
            End::Ua(i) => self.nodes[i].name.clone(),
            End::Proxy(p) => format!("sbc{p}"),
        }
    }

    fn send(&mut self, from: End, to: End, hop: Hop, mut bytes: Vec<u8>) {
        let mut at = self.now + self.latency;
        let keepalive = bytes.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if !keepalive
            && !self.rules.is_empty()
            && let Ok(mut m) = parse(&bytes)
        {
            let before = m.clone();
            for rule in &mut self.rules {
                match rule(from, to, &mut m) {
                    Verdict::Pass => {}
                    Verdict::Drop => {
                        let line =
                            format!("{} -> {} DROPPED {}", self.end_name(from), self.end_name(to), summary(&bytes));
                        self.log(line);
                        return;
                    }
                    Verdict::Delay(d) => at += d,
                }
            }
            if m != before {
                bytes = m.to_bytes();
            }
        }
        let line = format!("{} -> {} {}", self.end_name(from), self.end_name(to), summary(&bytes));
        self.log(line);
        self.seq += 1;
        let packet = Packet { at, seq: self.seq, hop, bytes };
        let pos = self.queue.partition_point(|p| (p.at, p.seq) <= (packet.at, packet.seq));
        self.queue.insert(pos, packet);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let packets = self.queue.first().map(|p| p.at);
        let timers = self.nodes.iter().filter_map(|n| n.ua.poll_timeout()).min();
        [packets, timers].into_iter().flatten().min()
    }

    /// Advances to the next deadline, if it is no later than `end`.
    fn step(&mut self, end: Instant) -> bool {
        self.pump();
        let Some(next) = self.next_deadline().filter(|t| *t <= end) else { return false };
        self.now = self.now.max(next);
        while self.queue.first().is_some_and(|p| p.at <= self.now) {
            let packet = self.queue.remove(0);
            self.deliver(packet);
            self.pump();
        }
        let now = self.now;
        for i in 0..self.nodes.len() {
            if self.nodes[i].ua.poll_timeout().is_some_and(|t| t <= now) {
                self.nodes[i].ua.handle_timeout(now);
                self.pump();
            }
        }
        true
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.step(end) {}
        self.now = self.now.max(end);
        self.pump();
    }

    /// Lets everything in flight land (a second of simulated time).
    pub fn settle(&mut self) {
        self.run_for(Duration::from_secs(1));
    }

    /// Runs until user agent `i` reports an event `pred` accepts (after the
    /// ones already looked at), within 120 simulated seconds; returns it.
    pub fn wait_for(&mut self, i: usize, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        self.wait_within(i, what, Duration::from_secs(120), pred)
    }

    pub fn wait_within(&mut self, i: usize, what: &str, limit: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let end = self.now + limit;
        loop {
            self.pump();
            let node = &mut self.nodes[i];
            if let Some(pos) = node.events[node.seen..].iter().position(|(_, e)| pred(e)) {
                let at = node.seen + pos;
                node.seen = at + 1;
                return node.events[at].1.clone();
            }
            if !self.step(end) {
                panic!("{} never reported {what}\n{}", self.nodes[i].name, self.dump());
            }
        }
    }

    /// When (simulated) user agent `i` reported the first event `pred`
    /// accepts, if it did.
    pub fn when(&self, i: usize, pred: impl Fn(&Event) -> bool) -> Option<Duration> {
        self.nodes[i].events.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
    }

    /// Every event user agent `i` reported.
    pub fn events(&self, i: usize) -> Vec<Event> {
        self.nodes[i].events.iter().map(|(_, e)| e.clone()).collect()
    }

    /// Whether user agent `i` reported an event `pred` accepts.
    pub fn saw(&self, i: usize, pred: impl Fn(&Event) -> bool) -> bool {
        self.nodes[i].events.iter().any(|(_, e)| pred(e))
    }

    /// Requests user agent `i` sent with this method.
    pub fn sent_requests(&self, i: usize, method: &Method) -> Vec<Request> {
        self.nodes[i].sent.iter().filter_map(|(_, m)| m.as_request()).filter(|r| r.method == *method).cloned().collect()
    }

    /// Responses user agent `i` sent with this status.
    pub fn sent_responses(&self, i: usize, status: u16) -> Vec<Response> {
        self.nodes[i].sent.iter().filter_map(|(_, m)| m.as_response()).filter(|r| r.status == status).cloned().collect()
    }

    /// The wire log and every user agent's events, for failure messages.
    pub fn dump(&self) -> String {
        let mut out = String::from("--- wire ---\n");
        for line in self.wire.iter().rev().take(80).rev() {
            let _ = writeln!(out, "{line}");
        }
        for n in &self.nodes {
            let _ = writeln!(out, "--- {} events ---", n.name);
            for (t, e) in &n.events {
                let _ = writeln!(out, "{:>9.3} {e:?}", t.as_secs_f64());
            }
            let _ = writeln!(out, "calls: {:?}", n.ua.calls());
        }
        out
    }

    // ----- the SBC cluster -----

    fn deliver(&mut self, packet: Packet) {
        match packet.hop {
            Hop::ToUa { ua, flow, from } => {
                let node = &self.nodes[ua];
                if node.link_down || node.flow.as_ref().is_none_or(|f| f.id != flow) {
                    let line = format!("sbc{from} -> {} LOST (flow gone) {}", node.name, summary(&packet.bytes));
                    return self.log(line);
                }
                let now = self.now;
                self.nodes[ua].ua.handle_input(now, Input::Received(&packet.bytes));
            }
            Hop::ToProxy { proxy, from, flow } => {
                // A frame still in flight on a socket that has since closed.
                if self.nodes[from].flow.as_ref().is_none_or(|f| f.id != flow) {
                    let line =
                        format!("{} -> sbc{proxy} LOST (flow gone) {}", self.nodes[from].name, summary(&packet.bytes));
                    return self.log(line);
                }
                self.at_proxy(proxy, from, &packet.bytes)
            }
        }
    }

    fn forward(&mut self, proxy: usize, ua: usize, bytes: Vec<u8>) {
        let Some(flow) = self.nodes[ua].flow.clone() else {
            let line = format!("sbc{proxy} -> {} LOST (no flow) {}", self.nodes[ua].name, summary(&bytes));
            return self.log(line);
        };
        if self.nodes[ua].link_down {
            let line = format!("sbc{proxy} -> {} LOST (link down) {}", self.nodes[ua].name, summary(&bytes));
            return self.log(line);
        }
        // The cluster reaches a flow through whichever SBC holds it.
        let via = flow.proxy;
        self.send(End::Proxy(via), End::Ua(ua), Hop::ToUa { ua, flow: flow.id, from: via }, bytes);
    }

    fn at_proxy(&mut self, proxy: usize, from: usize, bytes: &[u8]) {
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            if self.pong[proxy] && bytes.len() >= 4 {
                self.forward(proxy, from, b"\r\n".to_vec());
            }
            return;
        }
        match parse(bytes) {
            Ok(Message::Request(r)) => self.proxy_request(proxy, from, r),
            Ok(Message::Response(r)) => self.proxy_response(proxy, r),
            Err(e) => self.log(format!("sbc{proxy} drops a malformed message: {e}")),
        }
    }

    fn reply(&mut self, proxy: usize, ua: usize, request: &Request, status: u16, extra: &[(HeaderName, String)]) {
        if request.method == Method::Ack {
            return;
        }
        let mut r = Response::to_request(request, status);
        if let Ok(mut to) = r.headers.to()
            && to.tag().is_none()
        {
            to.params.set("tag", Some(&format!("sbc{proxy}")));
            r.headers.set(HeaderName::To, to.to_string());
        }
        for (n, v) in extra {
            r.headers.push(n.clone(), v.clone());
        }
        self.forward(proxy, ua, r.to_bytes());
    }

    fn proxy_request(&mut self, proxy: usize, from: usize, mut request: Request) {
        if request.method == Method::Register {
            return self.register(proxy, from, request);
        }
        // Our own Route (the cluster name, or this SBC) is consumed.
        let routes: Vec<String> = request.headers.get_all(&HeaderName::Route).map(str::to_owned).collect();
        if routes.first().is_some_and(|r| r.contains("sbc")) {
            request.headers.remove(&HeaderName::Route);
            for r in routes.iter().skip(1) {
                request.headers.push(HeaderName::Route, r.clone());
            }
        }
        let initial = request.headers.to().is_ok_and(|t| t.tag().is_none());
        if self.registrar.challenge_invites && initial && request.method == Method::Invite {
            let saved = self.registrar.proxy_challenge;
            self.registrar.proxy_challenge = true;
            let verdict = self.registrar.check(&request);
            if verdict.is_err() {
                let (status, name, value) = self.registrar.challenge(verdict == Err(true));
                self.registrar.proxy_challenge = saved;
                return self.reply(proxy, from, &request, status, &[(name, value)]);
            }
            self.registrar.proxy_challenge = saved;
            request.headers.remove(&HeaderName::ProxyAuthorization);
        }
        let Some(target) = self.resolve(&request) else {
            return self.reply(proxy, from, &request, 480, &[]);
        };
        let branch = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        request
            .headers
            .push_front(HeaderName::Via, format!("SIP/2.0/WSS sbc{proxy}.example.com;branch={branch}.p{proxy}"));
        if initial && matches!(request.method, Method::Invite) {
            request.headers.push_front(HeaderName::RecordRoute, "<sip:sbc.example.com;transport=ws;lr>");
        }
        self.forward(proxy, target, request.to_bytes());
    }

    /// The user agent a request goes to: by a Contact host it registered
    /// (its flow), else by AOR.
    fn resolve(&self, request: &Request) -> Option<usize> {
        let sip = request.uri.as_sip()?;
        let host = sip.host.to_string();
        if host.ends_with(".invalid") {
            return self.hosts.get(&host).copied();
        }
        let user = sip.user.clone().unwrap_or_default();
        self.registrar.bindings.get(&format!("{user}@{host}")).map(|b| b.ua)
    }

    fn proxy_response(&mut self, proxy: usize, response: Response) {
        let vias: Vec<String> = response.headers.get_all(&HeaderName::Via).map(str::to_owned).collect();
        if !vias.first().is_some_and(|v| v.contains("sbc")) {
            return self.log(format!("sbc{proxy} drops a response not via us"));
        }
        let mut response = response;
        response.headers.remove(&HeaderName::Via);
        let mut headers = Headers::new();
        for v in vias.iter().skip(1) {
            headers.push(HeaderName::Via, v.clone());
        }
        for h in response.headers.iter() {
            headers.push(h.name.clone(), h.value.clone());
        }
        response.headers = headers;
        let Some(host) = response.headers.top_via().ok().map(|v| v.host.to_string()) else { return };
        let Some(&ua) = self.hosts.get(&host) else { return };
        let current = self.nodes[ua].flow.as_ref().is_some_and(|f| f.host == host);
        if !current {
            return self.log(format!("sbc{proxy} -> {} LOST (old flow) {}", self.nodes[ua].name, response.status));
        }
        self.forward(proxy, ua, response.to_bytes());
    }

    fn register(&mut self, proxy: usize, from: usize, request: Request) {
        match self.registrar.check(&request) {
            Ok(()) => {}
            Err(stale) => {
                let (status, name, value) = self.registrar.challenge(stale);
                return self.reply(proxy, from, &request, status, &[(name, value)]);
            }
        }
        let aor = request
            .headers
            .to()
            .ok()
            .and_then(|t| t.uri.as_sip().map(|u| format!("{}@{}", u.user.clone().unwrap_or_default(), u.host)));
        let Some(aor) = aor else { return self.reply(proxy, from, &request, 400, &[]) };
        let contact = request.headers.get(&HeaderName::Contact).unwrap_or_default().to_owned();
        let removing = request.headers.expires().ok().flatten() == Some(0);
        if removing {
            self.registrar.bindings.remove(&aor);
        } else {
            self.registrar.bindings.insert(aor, Binding { ua: from });
        }
        self.registrar.registered += 1;
        let expires = if removing { 0 } else { self.registrar.expires };
        let contact_uri = contact.find('>').map_or(contact.clone(), |end| contact[..=end].to_owned());
        let mut extra = vec![(HeaderName::Contact, format!("{contact_uri};expires={expires}"))];
        if let Some(ft) = self.registrar.flow_timer {
            extra.push((HeaderName::Other("Flow-Timer".into()), ft.to_string()));
        }
        self.reply(proxy, from, &request, 200, &extra);
    }
}

/// A short description of a message for the wire log.
pub fn summary(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return if bytes.len() >= 4 { "CRLF ping".into() } else { "CRLF pong".into() };
    }
    match parse(bytes) {
        Ok(Message::Request(r)) => {
            format!("{} {} ({})", r.method, r.uri, r.headers.get(&HeaderName::CSeq).unwrap_or(""))
        }
        Ok(Message::Response(r)) => {
            format!("{} {} ({})", r.status, r.reason, r.headers.get(&HeaderName::CSeq).unwrap_or(""))
        }
        Err(e) => format!("malformed: {e}"),
    }
}

/// Whether `m` is a request with this method.
pub fn is_request(m: &Message, method: &Method) -> bool {
    m.as_request().is_some_and(|r| r.method == *method)
}

/// Dials `to` from user agent `a` and answers at `b`: the two call ids.
pub fn call(net: &mut Net, a: usize, b: usize) -> (CallId, CallId) {
    let to = format!("sip:{}@example.com", net.nodes[b].name).parse().expect("uri");
    let offer = sdp(&net.nodes[a].name.clone(), 1, "sendrecv");
    let ours = net.act(a, |ua, now| ua.dial(now, to, offer)).expect("dial");
    let Event::IncomingCall { call: theirs, .. } =
        net.wait_for(b, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let Event::OfferReceived { sdp: offer, .. } =
        net.wait_for(b, "OfferReceived", |e| matches!(e, Event::OfferReceived { call, .. } if *call == theirs))
    else {
        unreachable!()
    };
    let answer = answer_to(&net.nodes[b].name.clone(), &offer);
    net.act(b, |ua, now| ua.answer(now, theirs, answer)).expect("answer");
    net.wait_for(a, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
    net.wait_for(b, "Connected", |e| matches!(e, Event::Connected { call } if *call == theirs));
    net.settle();
    (ours, theirs)
}
