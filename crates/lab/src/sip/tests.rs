//! The core with real user agents attached, on simulated time: every frame
//! is delivered at once and time jumps to the next timer, so a 20-second
//! ring timeout takes microseconds and every run is the same.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use warmline_sip::pidf::{Pidf, Publication, publish_request};
use warmline_sip::ua::{CallId, Config, Event};
use warmline_sip::{Engine, Flow, HeaderName, Input as UaInput, Message, Output as UaOutput, Response, Transport};
use warmline_sip::{UserAgent, parse};

use super::*;
use crate::expert::{ExpertPhone, PhoneEvent};
use crate::scenario::Answer;

const DOMAIN: &str = "example.com";

pub(super) struct Node {
    pub ua: UserAgent,
    pub conn: ConnId,
    pub events: Vec<Event>,
    pub seen: usize,
    /// Frames the core sent this node.
    pub heard: Vec<Vec<u8>>,
    pub up: bool,
    /// A simulated expert's answering logic, and how it answers.
    pub phone: Option<(ExpertPhone, Answer)>,
    /// What the phone reported.
    pub phone_events: Vec<PhoneEvent>,
    /// Answers re-offers (and offers when asked) at once, as the lab's
    /// customers do with a fresh media session.
    pub renegotiates: bool,
}

pub(super) struct Sim {
    pub now: Instant,
    pub core: Core,
    pub nodes: Vec<Node>,
    pub events: Vec<SipEvent>,
    wire: VecDeque<(Option<usize>, ConnId, Vec<u8>)>,
    publishes: u32,
}

/// The expert's Direct Routing number in these tests.
pub(super) const EXPERT: &str = "+442079460101";

pub(super) fn offer(owner: &str) -> Vec<u8> {
    format!("v=0\r\no={owner} 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n")
        .into_bytes()
}

fn config() -> CoreConfig {
    let mut c = CoreConfig::new(DOMAIN);
    c.queues = vec!["billing".into(), "tech".into()];
    c.agents = vec![
        AgentAccount::new("1001", "pw-1001", ["billing"]),
        AgentAccount::new("1002", "pw-1002", ["billing", "tech"]),
        AgentAccount::new("1003", "pw-1003", ["tech"]),
    ];
    c.seed = 7;
    c.experts = vec![EXPERT.into(), "+442079460102".into()];
    c
}

pub(super) fn ua_config(user: &str, password: &str, seed: u64) -> Config {
    let mut c = Config::new(
        format!("sip:{user}@{DOMAIN}").parse().expect("aor"),
        user,
        password,
        format!("sip:{DOMAIN}").parse().expect("registrar"),
    );
    c.call_data_headers = vec!["X-Queue".into(), "X-Case-Id".into()];
    c.seed = seed;
    c
}

impl Sim {
    pub(super) fn new() -> Self {
        Self {
            now: Instant::now(),
            core: Core::new(config()),
            nodes: Vec::new(),
            events: Vec::new(),
            wire: VecDeque::new(),
            publishes: 0,
        }
    }

    /// Connects a user agent; returns its index.
    pub(super) fn connect(&mut self, config: Config, trunk: bool) -> usize {
        let i = self.nodes.len();
        let conn = ConnId(100 + i as u64);
        self.core.handle_input(self.now, Input::Connected { conn, trunk });
        let mut ua = UserAgent::new(config);
        let flow = Flow {
            transport: Transport::Ws,
            local_host: format!("node{i}.invalid"),
            server: "ws://127.0.0.1:5060".into(),
            server_index: 0,
        };
        ua.handle_input(self.now, UaInput::Connected(flow));
        self.nodes.push(Node {
            ua,
            conn,
            events: Vec::new(),
            seen: 0,
            heard: Vec::new(),
            up: true,
            phone: None,
            phone_events: Vec::new(),
            renegotiates: trunk,
        });
        self.pump();
        i
    }

    pub(super) fn agent(&mut self, ext: &str) -> usize {
        let i = self.connect(ua_config(ext, &format!("pw-{ext}"), 10 + self.nodes.len() as u64), false);
        self.wait(i, "Registered", |e| matches!(e, Event::Registered { .. }));
        i
    }

    /// A simulated expert registered from a trunk connection.
    pub(super) fn expert(&mut self, number: &str, answer: Answer) -> usize {
        let mut c = ua_config(number, "", 90 + self.nodes.len() as u64);
        c.display_name = Some("Priya Natarajan".into());
        let i = self.connect(c, true);
        self.nodes[i].phone = Some((ExpertPhone::new(), answer));
        self.nodes[i].renegotiates = false;
        self.wait(i, "Registered", |e| matches!(e, Event::Registered { .. }));
        assert!(self.core.is_expert_registered(number));
        i
    }

    pub(super) fn customer(&mut self, number: &str) -> usize {
        let mut c = ua_config(number, "unused", 50 + self.nodes.len() as u64);
        c.display_name = Some("Ada Lovelace".into());
        let i = self.connect(c, true);
        self.wait(i, "Registered", |e| matches!(e, Event::Registered { .. }));
        i
    }

    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(out) = self.nodes[i].ua.poll_output() {
                    any = true;
                    match out {
                        UaOutput::Transmit(bytes) if self.nodes[i].up => {
                            self.wire.push_back((None, self.nodes[i].conn, bytes))
                        }
                        UaOutput::Event(e) => {
                            self.react(i, &e);
                            self.nodes[i].events.push(e);
                        }
                        _ => {}
                    }
                }
            }
            while let Some(out) = self.core.poll_output() {
                any = true;
                match out {
                    Output::Transmit { conn, bytes } => {
                        let to = self.nodes.iter().position(|n| n.conn == conn && n.up);
                        self.wire.push_back((to, conn, bytes));
                    }
                    Output::Event(e) => self.events.push(e),
                }
            }
            while let Some((to, conn, bytes)) = self.wire.pop_front() {
                any = true;
                match to {
                    None => self.core.handle_input(self.now, Input::Frame { conn, bytes: &bytes }),
                    Some(i) => {
                        self.nodes[i].heard.push(bytes.clone());
                        self.nodes[i].ua.handle_input(self.now, UaInput::Received(&bytes));
                    }
                }
            }
            if !any {
                return;
            }
        }
    }

    /// What the lab's expert and customer tasks do with their user
    /// agents' events, with stand-in SDP.
    fn react(&mut self, i: usize, e: &Event) {
        let now = self.now;
        let node = &mut self.nodes[i];
        if let Some((phone, answer)) = node.phone.as_mut() {
            for action in phone.on_event(now, &mut node.ua, *answer, e) {
                match &action {
                    PhoneEvent::PrepareMedia { call, offer: o } => {
                        let sdp = if o.is_some() { offer("expert-answer") } else { offer("expert-offer") };
                        phone.media_ready(now, &mut node.ua, *call, sdp);
                    }
                    PhoneEvent::Renegotiate { call, offer: Some(_) } => {
                        node.ua.accept_answer(now, *call, offer("expert-answer-2")).expect("accept");
                    }
                    PhoneEvent::Renegotiate { call, offer: None } => {
                        node.ua.provide_offer(now, *call, offer("expert-offer-2")).expect("offer");
                    }
                    _ => {}
                }
                node.phone_events.push(action);
            }
        } else if node.renegotiates {
            match e {
                Event::OfferReceived { call, .. } => {
                    node.ua.accept_answer(now, *call, offer("customer-answer-2")).expect("accept");
                }
                Event::OfferNeeded { call } => {
                    node.ua.provide_offer(now, *call, offer("customer-offer-2")).expect("offer");
                }
                _ => {}
            }
        }
    }

    pub(super) fn step(&mut self, end: Instant) -> bool {
        self.pump();
        let core = self.core.poll_timeout();
        let uas = self.nodes.iter().filter(|n| n.up).filter_map(|n| n.ua.poll_timeout()).min();
        let phones = self.nodes.iter().filter_map(|n| n.phone.as_ref().and_then(|(p, _)| p.poll_timeout())).min();
        let Some(next) = [core, uas, phones].into_iter().flatten().min().filter(|t| *t <= end) else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        for n in &mut self.nodes {
            if n.up && n.ua.poll_timeout().is_some_and(|t| t <= now) {
                n.ua.handle_timeout(now);
            }
            if let Some((phone, _)) = n.phone.as_mut()
                && phone.poll_timeout().is_some_and(|t| t <= now)
            {
                phone.handle_timeout(now, &mut n.ua);
            }
        }
        self.pump();
        true
    }

    pub(super) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.step(end) {}
        self.now = end;
    }

    pub(super) fn wait(&mut self, i: usize, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let end = self.now + Duration::from_secs(120);
        loop {
            self.pump();
            let n = &mut self.nodes[i];
            if let Some(pos) = n.events[n.seen..].iter().position(&pred) {
                n.seen += pos + 1;
                return n.events[n.seen - 1].clone();
            }
            assert!(
                self.step(end),
                "node {i} never reported {what}: {:?}\ncore events: {:?}",
                self.nodes[i].events,
                self.events
            );
        }
    }

    pub(super) fn wait_core(&mut self, what: &str, pred: impl Fn(&SipEvent) -> bool) -> SipEvent {
        let end = self.now + Duration::from_secs(120);
        loop {
            self.pump();
            if let Some(e) = self.events.iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(self.step(end), "the core never reported {what}: {:?}", self.events);
        }
    }

    /// Sends a PUBLISH on node `i`'s connection; returns the response.
    pub(super) fn publish(&mut self, i: usize, doc: Option<&Pidf>, expires: u32, if_match: Option<&str>) -> Response {
        let ext = self.nodes[i].ua.config().auth_user.clone();
        self.publish_as(i, &ext, doc, expires, if_match)
    }

    /// A PUBLISH for `ext`'s AOR on node `i`'s connection.
    fn publish_as(
        &mut self,
        i: usize,
        ext: &str,
        doc: Option<&Pidf>,
        expires: u32,
        if_match: Option<&str>,
    ) -> Response {
        self.publishes += 1;
        let p = Publication {
            aor: format!("sip:{ext}@{DOMAIN}").parse().expect("aor"),
            call_id: format!("pub-{i}@node"),
            from_tag: "pt".into(),
            cseq: self.publishes,
            via_host: format!("node{i}.invalid"),
            branch: format!("z9hG4bKpub{}", self.publishes),
            expires,
            if_match: if_match.map(str::to_owned),
        };
        let frame = publish_request(&p, doc).to_bytes();
        let before = self.nodes[i].heard.len();
        self.core.handle_input(self.now, Input::Frame { conn: self.nodes[i].conn, bytes: &frame });
        self.pump();
        self.nodes[i].heard[before..]
            .iter()
            .filter_map(|b| parse(b).ok())
            .find_map(|m| match m {
                Message::Response(r) if r.headers.cseq().is_ok_and(|c| c.method == Method::Publish) => Some(r),
                _ => None,
            })
            .expect("a response to the PUBLISH")
    }

    pub(super) fn available(&mut self, i: usize) -> String {
        let ext = self.nodes[i].ua.config().auth_user.clone();
        let r = self.publish(i, Some(&Pidf::open(format!("sip:{ext}@{DOMAIN}"))), 3600, None);
        assert_eq!(r.status, 200);
        r.headers.get(&HeaderName::Other("SIP-ETag".into())).expect("SIP-ETag").to_owned()
    }

    pub(super) fn dial(&mut self, i: usize, queue: &str) -> CallId {
        let now = self.now;
        let call = self.nodes[i].ua.dial(now, format!("sip:{queue}@{DOMAIN}").parse().expect("uri"), offer("customer"));
        self.pump();
        call.expect("dial")
    }

    /// Waits for an incoming call at node `i`; returns it and the INVITE.
    pub(super) fn incoming(&mut self, i: usize) -> (CallId, Request) {
        let Event::IncomingCall { call, .. } =
            self.wait(i, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
        else {
            unreachable!()
        };
        let invite = self.nodes[i]
            .heard
            .iter()
            .rev()
            .filter_map(|b| parse(b).ok())
            .find_map(|m| match m {
                Message::Request(r) if r.method == Method::Invite => Some(r),
                _ => None,
            })
            .expect("the INVITE");
        (call, invite)
    }

    pub(super) fn answer(&mut self, i: usize, call: CallId) {
        let now = self.now;
        self.nodes[i].ua.answer(now, call, offer("agent")).expect("answer");
        self.pump();
    }

    pub(super) fn offers_to(&self, ext: &str) -> usize {
        self.events.iter().filter(|e| matches!(e, SipEvent::Routed { agent, .. } if agent == ext)).count()
    }
}

#[test]
fn register_is_challenged_and_the_binding_dies_with_the_connection() {
    let mut sim = Sim::new();
    let a = sim.agent("1001");
    let challenged = sim.nodes[a].heard.iter().filter_map(|b| parse(b).ok()).any(|m| {
        m.as_response().is_some_and(|r| {
            r.status == 401 && r.headers.get(&HeaderName::WwwAuthenticate).is_some_and(|v| v.contains("SHA-256"))
        })
    });
    assert!(challenged, "the first REGISTER gets a SHA-256 digest challenge");
    assert!(sim.core.is_registered("1001"));
    sim.nodes[a].up = false;
    sim.core.handle_input(sim.now, Input::Closed { conn: sim.nodes[a].conn });
    sim.pump();
    assert!(!sim.core.is_registered("1001"), "the binding goes with its WebSocket");
    assert!(sim.events.contains(&SipEvent::Unregistered { agent: "1001".into() }));
}

#[test]
fn a_wrong_password_never_registers() {
    let mut sim = Sim::new();
    let i = sim.connect(ua_config("1001", "not-the-password", 3), false);
    let e = sim.wait(i, "RegistrationFailed", |e| matches!(e, Event::RegistrationFailed { .. }));
    assert!(matches!(e, Event::RegistrationFailed { status: 401 | 403, .. }), "{e:?}");
    assert!(!sim.core.is_registered("1001"));
}

#[test]
fn crlf_keepalive_is_answered_and_garbage_gets_400_without_panic() {
    let mut sim = Sim::new();
    let conn = ConnId(9);
    sim.core.handle_input(sim.now, Input::Connected { conn, trunk: false });
    sim.core.handle_input(sim.now, Input::Frame { conn, bytes: b"\r\n\r\n" });
    assert_eq!(sim.core.poll_output(), Some(Output::Transmit { conn, bytes: b"\r\n".to_vec() }));
    let bad = b"INVITE sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: 1\r\nCSeq: one INVITE\r\n\r\n";
    sim.core.handle_input(sim.now, Input::Frame { conn, bytes: bad });
    let Some(Output::Transmit { bytes, .. }) = sim.core.poll_output() else {
        panic!("a reply to the malformed request")
    };
    assert!(bytes.starts_with(b"SIP/2.0 400"), "{}", String::from_utf8_lossy(&bytes));
    for junk in [&b""[..], b"\x00\xff", b"SIP/2.0 200 OK\r\n\r\n", b"REGISTER\r\n\r\n"] {
        sim.core.handle_input(sim.now, Input::Frame { conn, bytes: junk });
    }
    while sim.core.poll_output().is_some() {}
}

#[test]
fn publish_gives_an_etag_that_refreshes_and_removes() {
    let mut sim = Sim::new();
    let a = sim.agent("1001");
    let entity = format!("sip:1001@{DOMAIN}");
    let etag = sim.available(a);
    assert!(sim.core.is_available("1001"));
    let refresh = sim.publish(a, None, 3600, Some(&etag));
    assert_eq!(refresh.status, 200, "a refresh by SIP-If-Match with no body");
    let new_etag = refresh.headers.get(&HeaderName::Other("SIP-ETag".into())).expect("a new SIP-ETag").to_owned();
    assert_eq!(sim.publish(a, None, 3600, Some(&etag)).status, 412, "the old entity tag no longer matches");
    let away = sim.publish(a, Some(&Pidf::closed(&entity, "wrap-up")), 3600, Some(&new_etag));
    assert_eq!(away.status, 200);
    assert!(!sim.core.is_available("1001"));
    assert!(sim.events.contains(&SipEvent::Availability {
        agent: "1001".into(),
        available: false,
        note: Some("wrap-up".into())
    }));
    let etag = sim.available(a);
    let removed = sim.publish(a, None, 0, Some(&etag));
    assert_eq!(removed.status, 200);
    assert!(!sim.core.is_available("1001"), "Expires 0 removes the publication");
    // A publication that is not refreshed runs out.
    sim.available(a);
    sim.run_for(Duration::from_secs(3601));
    assert!(!sim.core.is_available("1001"), "an expired publication is not available");
}

#[test]
fn publish_is_refused_from_strangers_and_in_other_formats() {
    let mut sim = Sim::new();
    let a = sim.agent("1001");
    let b = sim.agent("1002");
    let forged = sim.publish_as(b, "1001", Some(&Pidf::open("sip:1001@example.com")), 60, None);
    assert_eq!(forged.status, 403, "only a flow the agent registered on may publish for it");
    assert!(!sim.core.is_available("1001"));
    assert_eq!(sim.publish_as(b, "9999", Some(&Pidf::open("sip:9999@example.com")), 60, None).status, 404);
    let mut wrong_type = sim.publish(a, Some(&Pidf::open("sip:1001@example.com")), 60, None);
    assert_eq!(wrong_type.status, 200);
    let etag = wrong_type.headers.get(&HeaderName::Other("SIP-ETag".into())).map(str::to_owned);
    wrong_type = sim.publish(a, None, 60, None);
    assert_eq!(wrong_type.status, 400, "a PUBLISH with neither body nor SIP-If-Match");
    let p = Publication {
        aor: format!("sip:1001@{DOMAIN}").parse().expect("aor"),
        call_id: "pub-x".into(),
        from_tag: "px".into(),
        cseq: 99,
        via_host: "node0.invalid".into(),
        branch: "z9hG4bKpubx".into(),
        expires: 60,
        if_match: None,
    };
    let mut xml = publish_request(&p, Some(&Pidf::open("sip:1001@example.com")));
    xml.headers.set(HeaderName::ContentType, "application/xml");
    let before = sim.nodes[a].heard.len();
    sim.core.handle_input(sim.now, Input::Frame { conn: sim.nodes[a].conn, bytes: &xml.to_bytes() });
    sim.pump();
    let answered = sim.nodes[a].heard[before..]
        .iter()
        .filter_map(|b| parse(b).ok())
        .any(|m| m.as_response().is_some_and(|r| r.status == 415));
    assert!(answered, "a body that is not PIDF gets 415");
    assert!(etag.is_some());
}

#[test]
fn a_routed_call_carries_the_caller_queue_and_case_and_bridges_sdp() {
    let mut sim = Sim::new();
    let agent = sim.agent("1001");
    sim.available(agent);
    let customer = sim.customer("+442079460018");
    let ours = sim.dial(customer, "billing");
    let (call, invite) = sim.incoming(agent);
    let h = &invite.headers;
    assert!(
        h.get(&HeaderName::PAssertedIdentity)
            .is_some_and(|v| v.contains("+442079460018") && v.contains("Ada Lovelace"))
    );
    assert_eq!(h.get(&HeaderName::Other("X-Queue".into())), Some("billing"));
    let case = h.get(&HeaderName::Other("X-Case-Id".into())).expect("X-Case-Id").to_owned();
    assert!(case.starts_with("CASE-"));
    assert!(h.get(&HeaderName::UserToUser).is_some_and(|v| v.contains("encoding=hex")));
    assert_eq!(invite.body, offer("customer"), "the customer's SDP passes through");
    let Some(Event::IncomingCall { call: _, .. }) =
        sim.nodes[agent].events.iter().find(|e| matches!(e, Event::IncomingCall { .. })).cloned()
    else {
        unreachable!()
    };
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, SipEvent::Queued { queue, case_id, .. } if queue == "billing" && *case_id == case))
    );
    sim.answer(agent, call);
    sim.wait(customer, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
    let got = sim.nodes[customer].events.iter().find_map(|e| match e {
        Event::AnswerReceived { sdp, .. } => Some(sdp.clone()),
        _ => None,
    });
    assert_eq!(got, Some(offer("agent")), "the agent's SDP reaches the customer unchanged");
    sim.wait_core("Answered", |e| matches!(e, SipEvent::Answered { agent, .. } if agent == "1001"));
    let now = sim.now;
    sim.nodes[customer].ua.hangup(now, ours).expect("hang up");
    sim.wait(agent, "Ended", |e| matches!(e, Event::Ended { .. }));
    sim.wait_core("Ended", |e| matches!(e, SipEvent::Ended { reason, .. } if reason == "caller_hangup"));
}

#[test]
fn an_away_agent_gets_nothing_until_it_publishes_open() {
    let mut sim = Sim::new();
    let agent = sim.agent("1001");
    let r = sim.publish(agent, Some(&Pidf::closed("sip:1001@example.com", "away")), 3600, None);
    assert_eq!(r.status, 200);
    let customer = sim.customer("+442079460018");
    sim.dial(customer, "billing");
    sim.run_for(Duration::from_secs(60));
    assert_eq!(sim.offers_to("1001"), 0, "an agent that published away is offered nothing");
    assert_eq!(sim.core.queued("billing").len(), 1, "the call stays queued");
    assert!(!sim.nodes[agent].events.iter().any(|e| matches!(e, Event::IncomingCall { .. })));
    sim.available(agent);
    let (call, _) = sim.incoming(agent);
    sim.answer(agent, call);
    sim.wait_core("Answered", |e| matches!(e, SipEvent::Answered { .. }));
}

#[test]
fn no_answer_requeues_to_another_agent() {
    let mut sim = Sim::new();
    let first = sim.agent("1001");
    sim.available(first);
    sim.run_for(Duration::from_secs(5));
    let second = sim.agent("1002");
    sim.available(second);
    let customer = sim.customer("+442079460018");
    let ours = sim.dial(customer, "billing");
    // 1001 has been idle longest: it rings first and nobody answers.
    sim.incoming(first);
    sim.wait_core(
        "Requeued",
        |e| matches!(e, SipEvent::Requeued { agent, reason, .. } if agent == "1001" && reason == "no_answer"),
    );
    sim.wait(first, "Ended at the first agent", |e| matches!(e, Event::Ended { .. }));
    let (call, _) = sim.incoming(second);
    sim.answer(second, call);
    sim.wait(customer, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
}

#[test]
fn a_rejected_offer_goes_to_the_next_agent() {
    let mut sim = Sim::new();
    let first = sim.agent("1001");
    sim.available(first);
    sim.run_for(Duration::from_secs(1));
    let second = sim.agent("1002");
    sim.available(second);
    let customer = sim.customer("+442079460018");
    sim.dial(customer, "billing");
    let (call, _) = sim.incoming(first);
    let now = sim.now;
    sim.nodes[first].ua.reject(now, call, 486).expect("reject");
    sim.pump();
    sim.wait_core("Requeued", |e| matches!(e, SipEvent::Requeued { reason, .. } if reason == "rejected_486"));
    sim.incoming(second);
}

#[test]
fn the_longest_idle_agent_serving_the_queue_gets_the_call() {
    let mut sim = Sim::new();
    let tech_only = sim.agent("1003");
    sim.available(tech_only);
    sim.run_for(Duration::from_secs(1));
    let a = sim.agent("1002");
    sim.available(a);
    sim.run_for(Duration::from_secs(1));
    let b = sim.agent("1001");
    sim.available(b);
    let customer = sim.customer("+442079460018");
    sim.dial(customer, "billing");
    sim.incoming(a);
    assert_eq!(sim.offers_to("1003"), 0, "1003 does not serve billing though idle longest");
    assert_eq!(sim.offers_to("1001"), 0);
}

#[test]
fn a_caller_who_gives_up_leaves_the_queue() {
    let mut sim = Sim::new();
    let customer = sim.customer("+442079460018");
    let ours = sim.dial(customer, "billing");
    sim.wait_core("Queued", |e| matches!(e, SipEvent::Queued { position: 1, .. }));
    let now = sim.now;
    sim.nodes[customer].ua.hangup(now, ours).expect("cancel");
    sim.wait(customer, "Ended", |e| matches!(e, Event::Ended { .. }));
    sim.wait_core("Ended", |e| matches!(e, SipEvent::Ended { reason, .. } if reason == "abandoned"));
    assert!(sim.core.queued("billing").is_empty());
}

#[test]
fn registered_agents_call_each_other_through_the_proxy() {
    let mut sim = Sim::new();
    let a = sim.agent("1001");
    let b = sim.agent("1002");
    let now = sim.now;
    let ours = sim.nodes[a].ua.dial(now, format!("sip:1002@{DOMAIN}").parse().expect("uri"), offer("a")).expect("dial");
    sim.pump();
    let (theirs, invite) = sim.incoming(b);
    assert!(invite.headers.get(&HeaderName::RecordRoute).is_some_and(|r| r.contains(LAB_HOST)));
    sim.answer(b, theirs);
    sim.wait(a, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
    let now = sim.now;
    sim.nodes[a].ua.hangup(now, ours).expect("hangup");
    sim.wait(b, "Ended", |e| matches!(e, Event::Ended { .. }));
}

#[test]
fn sip_events_print_flat_on_the_lab_event_stream() {
    let event =
        crate::LabEvent::Sip(SipEvent::Routed { call: "C1".into(), agent: "1001".into(), queue: "billing".into() });
    let line = serde_json::to_value(&event).expect("serializes");
    assert_eq!(line, serde_json::json!({"event": "routed", "call": "C1", "agent": "1001", "queue": "billing"}));
}
