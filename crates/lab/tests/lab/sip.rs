//! The SIP front end over real WebSockets: a test agent built from the SIP
//! crate (its tokio transport) registers with the lab's generated
//! credentials, publishes its availability as PIDF, and is offered a
//! customer call from a user agent attached inside the lab.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::timeout;
use warmline_lab::sip::server::LocalFlow;
use warmline_lab::{Lab, LabEvent, sip::SipEvent};
use warmline_sip::pidf::{Pidf, Publication, publish_request};
use warmline_sip::transport::{self, Handle, TransportConfig, TransportEvent};
use warmline_sip::ua::{CallId, Config, Event};
use warmline_sip::{Engine, Flow, HeaderName, Input, Message, Method, Output, Transport, UserAgent, parse};

use super::support::lab;

/// What the test agent reports: its user agent's events, and the answers
/// to its PUBLISHes (the user agent has no PUBLISH of its own yet).
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    Ua(Event),
    Published { status: u16, etag: Option<String> },
}

/// A user agent that can also PUBLISH its availability.
pub struct TestAgent {
    pub ua: UserAgent,
    flow: Option<Flow>,
    extra: VecDeque<Vec<u8>>,
    answers: VecDeque<AgentEvent>,
    cseq: u32,
}

impl TestAgent {
    pub fn new(config: Config) -> Self {
        Self { ua: UserAgent::new(config), flow: None, extra: VecDeque::new(), answers: VecDeque::new(), cseq: 0 }
    }

    /// Queues a PUBLISH of `doc` (or a refresh by `if_match`).
    pub fn publish(&mut self, doc: Option<&Pidf>, if_match: Option<String>) {
        self.cseq += 1;
        let host = self.flow.as_ref().map_or("offline.invalid".to_owned(), |f| f.local_host.clone());
        let p = Publication {
            aor: self.ua.config().aor.clone(),
            call_id: format!("publish-{host}"),
            from_tag: "pub".into(),
            cseq: self.cseq,
            via_host: host,
            branch: format!("z9hG4bKpublish{}", self.cseq),
            expires: 600,
            if_match,
        };
        self.extra.push_back(publish_request(&p, doc).to_bytes());
    }
}

impl Engine for TestAgent {
    type Event = AgentEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match &input {
            Input::Connected(flow) => self.flow = Some(flow.clone()),
            Input::Received(bytes) => {
                if let Ok(Message::Response(r)) = parse(bytes)
                    && r.headers.cseq().is_ok_and(|c| c.method == Method::Publish)
                {
                    let etag = r.headers.get(&HeaderName::Other("SIP-ETag".into())).map(str::to_owned);
                    self.answers.push_back(AgentEvent::Published { status: r.status, etag });
                    return;
                }
            }
            _ => {}
        }
        self.ua.handle_input(now, input);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<AgentEvent>> {
        if let Some(frame) = self.extra.pop_front() {
            return Some(Output::Transmit(frame));
        }
        if let Some(e) = self.answers.pop_front() {
            return Some(Output::Event(e));
        }
        loop {
            match self.ua.poll_output()? {
                Output::Transmit(b) => return Some(Output::Transmit(b)),
                Output::Event(e) => return Some(Output::Event(AgentEvent::Ua(e))),
                Output::Reconnect { reason } => return Some(Output::Reconnect { reason }),
                _ => {}
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ua.poll_timeout()
    }
}

/// A test agent connected to the lab over its WebSocket.
pub struct Agent {
    pub handle: Handle<TestAgent>,
    pub events: transport::Events<AgentEvent>,
}

impl Agent {
    /// Connects extension `ext` with the lab's credentials and waits until
    /// it is registered.
    pub async fn connect(lab: &Lab, ext: &str) -> Agent {
        let account = lab.control().sip_account(ext).expect("a scenario agent");
        let registrar = format!("sip:{}", lab.scenario().tenant.domain).parse().expect("registrar");
        let mut config = Config::new(account.aor.parse().expect("aor"), ext, account.password, registrar);
        config.call_data_headers = vec!["X-Queue".into(), "X-Case-Id".into()];
        config.seed = ext.parse().unwrap_or(1);
        let url = lab.endpoints().sip_ws.clone().expect("the lab's SIP WebSocket");
        let mut transport_config = TransportConfig::new([url]);
        transport_config.seed = Some(config.seed);
        let (handle, events) = transport::spawn(TestAgent::new(config), transport_config).expect("transport");
        let mut agent = Agent { handle, events };
        agent.wait("Registered", |e| matches!(e, AgentEvent::Ua(Event::Registered { .. }))).await;
        agent
    }

    pub async fn wait(&mut self, what: &str, pred: impl Fn(&AgentEvent) -> bool) -> AgentEvent {
        let wait = async {
            loop {
                match self.events.recv().await {
                    Some(TransportEvent::Engine(e)) if pred(&e) => return e,
                    Some(_) => {}
                    None => panic!("the agent's transport stopped while waiting for {what}"),
                }
            }
        };
        timeout(Duration::from_secs(20), wait).await.unwrap_or_else(|_| panic!("no {what} within 20 s"))
    }

    /// Publishes `open` or `closed` with a note; returns the SIP-ETag.
    pub async fn publish(&mut self, doc: Pidf) -> String {
        self.handle.with(move |a, _| a.publish(Some(&doc), None)).await.expect("transport running");
        let e = self.wait("the PUBLISH answer", |e| matches!(e, AgentEvent::Published { .. })).await;
        let AgentEvent::Published { status: 200, etag: Some(etag) } = e else { panic!("PUBLISH refused: {e:?}") };
        etag
    }

    pub async fn incoming(&mut self) -> (CallId, warmline_sip::call_data::CallData, Vec<u8>) {
        let AgentEvent::Ua(Event::IncomingCall { call, info }) =
            self.wait("an incoming call", |e| matches!(e, AgentEvent::Ua(Event::IncomingCall { .. }))).await
        else {
            unreachable!()
        };
        let AgentEvent::Ua(Event::OfferReceived { sdp, .. }) = self
            .wait("its offer", |e| matches!(e, AgentEvent::Ua(Event::OfferReceived { call: c, .. }) if *c == call))
            .await
        else {
            unreachable!()
        };
        (call, info.data, sdp)
    }
}

/// A customer: a user agent attached inside the lab, driven by a task.
pub struct Customer {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::UnboundedReceiver<Event>,
}

impl Customer {
    pub fn attach(lab: &Lab, number: &str) -> Customer {
        let flow = lab.attach_sip();
        let aor = format!("sip:{number}@{}", lab.scenario().tenant.domain);
        let registrar = format!("sip:{}", lab.scenario().tenant.domain).parse().expect("registrar");
        let mut config = Config::new(aor.parse().expect("aor"), number, "", registrar);
        config.display_name = Some("Ada Lovelace".into());
        config.seed = 77;
        let (commands, rx) = mpsc::unbounded_channel();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(drive(UserAgent::new(config), flow, rx, tx));
        Customer { commands, events }
    }

    pub async fn wait(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let wait = async {
            loop {
                match self.events.recv().await {
                    Some(e) if pred(&e) => return e,
                    Some(_) => {}
                    None => panic!("the customer stopped while waiting for {what}"),
                }
            }
        };
        timeout(Duration::from_secs(20), wait).await.unwrap_or_else(|_| panic!("customer: no {what} within 20 s"))
    }
}

pub type Command = Box<dyn FnOnce(&mut UserAgent, Instant) + Send>;

async fn drive(
    mut ua: UserAgent,
    mut flow: LocalFlow,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let local =
        Flow { transport: Transport::Ws, local_host: "customer.invalid".into(), server: "lab".into(), server_index: 0 };
    ua.handle_input(Instant::now(), Input::Connected(local));
    loop {
        while let Some(out) = ua.poll_output() {
            match out {
                Output::Transmit(b) => flow.send(b),
                Output::Event(e) => {
                    let _ = events.send(e);
                }
                _ => {}
            }
        }
        let deadline = ua.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = flow.frames.recv() => match frame {
                Some(b) => ua.handle_input(Instant::now(), Input::Received(&b)),
                None => return,
            },
            command = commands.recv() => match command {
                Some(f) => f(&mut ua, Instant::now()),
                None => return,
            },
            () = sleep => ua.handle_timeout(Instant::now()),
        }
    }
}

pub fn sdp(owner: &str) -> Vec<u8> {
    format!("v=0\r\no={owner} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n")
        .into_bytes()
}

async fn next_sip_event(
    events: &mut tokio::sync::broadcast::Receiver<LabEvent>,
    pred: impl Fn(&SipEvent) -> bool,
) -> SipEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(LabEvent::Sip(e)) if pred(&e) => return e,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("lab events closed: {e}"),
            }
        }
    };
    timeout(Duration::from_secs(20), wait).await.expect("the lab event within 20 s")
}

#[tokio::test]
async fn an_agent_registers_over_websocket_publishes_and_receives_a_routed_call() {
    let lab = lab().await;
    let url = lab.endpoints().sip_ws.clone().expect("sip_ws is filled when the lab starts");
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let mut lab_events = lab.control().subscribe();
    // 1003 serves billing; 1001 too, but it never connects.
    let mut agent = Agent::connect(&lab, "1003").await;
    agent.publish(Pidf::open("sip:1003@northwind.example.com")).await;
    next_sip_event(&mut lab_events, |e| matches!(e, SipEvent::Availability { available: true, .. })).await;

    let mut customer = Customer::attach(&lab, "+442079460018");
    customer.wait("Registered", |e| matches!(e, Event::Registered { .. })).await;
    let to = format!("sip:billing@{}", lab.scenario().tenant.domain).parse().expect("uri");
    customer.commands.send(Box::new(move |ua, now| drop(ua.dial(now, to, sdp("customer"))))).expect("customer");

    let (call, data, offer) = agent.incoming().await;
    assert!(data.asserted, "the caller comes in P-Asserted-Identity");
    assert_eq!(data.caller.uri.to_string(), "sip:+442079460018@northwind.example.com");
    let field = |n: &str| data.fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(field("X-Queue").as_deref(), Some("billing"));
    let case = field("X-Case-Id").expect("a case id");
    assert!(data.user_to_user.is_some(), "User-to-User is present");
    assert_eq!(offer, sdp("customer"), "the customer's SDP passes through");

    agent.handle.with(move |a, now| a.ua.answer(now, call, sdp("agent"))).await.expect("running").expect("answer");
    let answered = next_sip_event(&mut lab_events, |e| matches!(e, SipEvent::Answered { .. })).await;
    assert!(matches!(answered, SipEvent::Answered { ref agent, .. } if agent == "1003"), "{answered:?}");
    let Event::AnswerReceived { sdp: answer, .. } =
        customer.wait("the answer", |e| matches!(e, Event::AnswerReceived { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(answer, sdp("agent"));
    customer.wait("Connected", |e| matches!(e, Event::Connected { .. })).await;

    agent.handle.with(move |a, now| a.ua.hangup(now, call)).await.expect("running").expect("hang up");
    customer.wait("Ended", |e| matches!(e, Event::Ended { .. })).await;
    let ended = next_sip_event(&mut lab_events, |e| matches!(e, SipEvent::Ended { .. })).await;
    assert!(matches!(ended, SipEvent::Ended { ref reason, .. } if reason == "agent_hangup"), "{ended:?} for {case}");
}

#[tokio::test]
async fn a_websocket_without_the_sip_subprotocol_is_refused() {
    let lab = lab().await;
    let url = lab.endpoints().sip_ws.clone().expect("sip_ws");
    let tcp = tokio::net::TcpStream::connect(url.trim_start_matches("ws://")).await.expect("the port is open");
    let refused = tokio_tungstenite::client_async(url.as_str(), tcp).await;
    assert!(refused.is_err(), "RFC 7118: the sip subprotocol is required");
}

/// Every SIP event up to and including the first `pred` accepts.
async fn sip_events_until(
    events: &mut tokio::sync::broadcast::Receiver<LabEvent>,
    pred: impl Fn(&SipEvent) -> bool,
) -> Vec<SipEvent> {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            match events.recv().await {
                Ok(LabEvent::Sip(e)) => {
                    let done = pred(&e);
                    seen.push(e);
                    if done {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("lab events closed: {e}"),
            }
        }
    };
    timeout(Duration::from_secs(20), wait).await.unwrap_or_else(|_| panic!("no such lab event within 20 s: {seen:?}"));
    seen
}

#[tokio::test]
async fn an_agent_that_published_away_gets_nothing_until_it_publishes_available() {
    let lab = lab().await;
    let mut lab_events = lab.control().subscribe();
    let mut agent = Agent::connect(&lab, "1003").await;
    agent.publish(Pidf::closed("sip:1003@northwind.example.com", "away")).await;
    let mut customer = Customer::attach(&lab, "+442079460018");
    customer.wait("Registered", |e| matches!(e, Event::Registered { .. })).await;
    let to = format!("sip:billing@{}", lab.scenario().tenant.domain).parse().expect("uri");
    customer.commands.send(Box::new(move |ua, now| drop(ua.dial(now, to, sdp("customer"))))).expect("customer");
    let queued = sip_events_until(&mut lab_events, |e| matches!(e, SipEvent::Queued { .. })).await;
    assert!(!queued.iter().any(|e| matches!(e, SipEvent::Routed { .. })), "{queued:?}");

    agent.publish(Pidf::open("sip:1003@northwind.example.com")).await;
    let after = sip_events_until(&mut lab_events, |e| matches!(e, SipEvent::Routed { .. })).await;
    let open = after.iter().position(|e| matches!(e, SipEvent::Availability { available: true, .. }));
    let routed = after.iter().position(|e| matches!(e, SipEvent::Routed { agent, .. } if agent == "1003"));
    assert!(
        matches!((open, routed), (Some(o), Some(r)) if o < r),
        "the queued call is offered only once the agent is available: {after:?}"
    );
    let (call, _, _) = agent.incoming().await;
    agent.handle.with(move |a, now| a.ua.answer(now, call, sdp("agent"))).await.expect("running").expect("answer");
    customer.wait("Connected", |e| matches!(e, Event::Connected { .. })).await;
}

#[tokio::test]
async fn an_unanswered_offer_is_requeued_to_another_agent() {
    let options = warmline_lab::LabOptions {
        consent: Some(warmline_lab::scenario::ConsentMode::Auto),
        ring_timeout: Duration::from_secs(1),
        ..warmline_lab::LabOptions::default()
    };
    let lab = Lab::start_with(warmline_lab::Scenario::default_scenario(), options).await.expect("lab");
    let mut lab_events = lab.control().subscribe();
    // Both serve billing; 1001 became available first, so it is idle longest.
    let mut first = Agent::connect(&lab, "1001").await;
    first.publish(Pidf::open("sip:1001@northwind.example.com")).await;
    let mut second = Agent::connect(&lab, "1003").await;
    second.publish(Pidf::open("sip:1003@northwind.example.com")).await;
    let mut customer = Customer::attach(&lab, "+442079460018");
    customer.wait("Registered", |e| matches!(e, Event::Registered { .. })).await;
    let to = format!("sip:billing@{}", lab.scenario().tenant.domain).parse().expect("uri");
    customer.commands.send(Box::new(move |ua, now| drop(ua.dial(now, to, sdp("customer"))))).expect("customer");

    first.incoming().await;
    let seen =
        sip_events_until(&mut lab_events, |e| matches!(e, SipEvent::Routed { agent, .. } if agent == "1003")).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, SipEvent::Requeued { agent, reason, .. } if agent == "1001" && reason == "no_answer")),
        "{seen:?}"
    );
    first.wait("the offer withdrawn", |e| matches!(e, AgentEvent::Ua(Event::Ended { .. }))).await;
    let (call, _, _) = second.incoming().await;
    second.handle.with(move |a, now| a.ua.answer(now, call, sdp("agent"))).await.expect("running").expect("answer");
    customer.wait("Connected", |e| matches!(e, Event::Connected { .. })).await;
}
