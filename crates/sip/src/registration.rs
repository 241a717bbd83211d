//! Registration (RFC 3261 section 10) with digest authentication, refresh
//! before expiry, un-REGISTER, and the RFC 5626 instance id and reg-id.
//!
//! Sans-IO like the rest: the owner feeds responses and time, and sends the
//! bytes it is given. Randomness comes in through [`RegistrationConfig::seed`]
//! so that tests are reproducible.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Error;
use crate::auth::Challenge;
use crate::message::{Contact, HeaderName, Method, Request, Response, Transport, Uri, default_reason};
use crate::transaction::{ClientTransaction, Output as TxOutput, Timers};

/// Who registers where.
#[derive(Clone)]
pub struct RegistrationConfig {
    /// The registrar's URI (the Request-URI), e.g. `sip:example.com`.
    pub registrar: Uri,
    /// The address of record (To and From).
    pub aor: Uri,
    /// Where calls reach us (the Contact URI).
    pub contact: Uri,
    /// RFC 5626 `+sip.instance`, e.g. `<urn:uuid:...>`, if outbound is used.
    pub instance_id: Option<String>,
    /// RFC 5626 `reg-id`, with `instance_id`.
    pub reg_id: Option<u32>,
    /// The binding lifetime to ask for, in seconds.
    pub expires: u32,
    /// Digest user name.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// The Via sent-by host (for WebSocket, a random `.invalid` name).
    pub via_host: String,
    /// The transport named in Via.
    pub transport: Transport,
    /// Whether the transport is reliable (WebSocket, TCP, TLS).
    pub reliable: bool,
    /// Call-ID for this registration (kept across refreshes, RFC 3261 10.2.4).
    pub call_id: String,
    /// From tag.
    pub from_tag: String,
    /// Random seed for branches and client nonces.
    pub seed: u64,
}

/// Everything but the password, which never reaches a log.
impl std::fmt::Debug for RegistrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("registrar", &self.registrar)
            .field("aor", &self.aor)
            .field("contact", &self.contact)
            .field("instance_id", &self.instance_id)
            .field("reg_id", &self.reg_id)
            .field("expires", &self.expires)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("via_host", &self.via_host)
            .field("transport", &self.transport)
            .field("reliable", &self.reliable)
            .field("call_id", &self.call_id)
            .field("from_tag", &self.from_tag)
            .field("seed", &self.seed)
            .finish()
    }
}

/// What registration tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The binding is in place for this long.
    Registered {
        /// The lifetime the registrar granted.
        expires: Duration,
    },
    /// The registrar refused (or did not answer: 408).
    Failed {
        /// The final status, 408 for a timeout.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The binding was removed.
    Unregistered,
}

/// What registration asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these bytes.
    Transmit(Vec<u8>),
    /// Something happened.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Registering,
    Registered,
    Unregistering,
    Unregistered,
    Failed,
}

/// The registration of one contact with one registrar.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    state: State,
    cseq: u32,
    counter: u64,
    expires: u32,
    tx: Option<ClientTransaction>,
    /// The challenge in use, whether it came in a 407, and the last nc.
    challenge: Option<(Challenge, bool, u32)>,
    /// Whether the request in flight already answered the current nonce.
    answered_nonce: bool,
    refresh_at: Option<Instant>,
    /// A pre-loaded Route (an outbound proxy, RFC 3261 8.1.2).
    route: Option<String>,
    outputs: VecDeque<Output>,
}

impl Registration {
    /// A registration that has sent nothing yet.
    pub fn new(config: RegistrationConfig) -> Self {
        let expires = config.expires;
        Self {
            config,
            state: State::Idle,
            cseq: 0,
            counter: 0,
            expires,
            tx: None,
            challenge: None,
            answered_nonce: false,
            refresh_at: None,
            route: None,
            outputs: VecDeque::new(),
        }
    }

    /// Sends every REGISTER through this proxy (a Route value such as
    /// `<sip:sbc.example.com;lr>`), or straight to the registrar with `None`.
    pub fn set_route(&mut self, route: Option<String>) {
        self.route = route;
    }

    /// Moves the binding to a new connection (a reconnect or a failover):
    /// the next REGISTER carries this Via host and Contact. The Call-ID and
    /// the CSeq count go on (RFC 3261 10.2.4), and so does the RFC 5626
    /// instance and reg-id, so the registrar replaces the old flow's binding.
    pub fn rebind(&mut self, via_host: String, contact: Uri, transport: Transport, reliable: bool) {
        self.config.via_host = via_host;
        self.config.contact = contact;
        self.config.transport = transport;
        self.config.reliable = reliable;
        self.tx = None;
        self.refresh_at = None;
    }

    /// Whether the binding is in place.
    pub fn is_registered(&self) -> bool {
        self.state == State::Registered
    }

    /// The state, for logs.
    pub fn state(&self) -> &'static str {
        match self.state {
            State::Idle => "Idle",
            State::Registering => "Registering",
            State::Registered => "Registered",
            State::Unregistering => "Unregistering",
            State::Unregistered => "Unregistered",
            State::Failed => "Failed",
        }
    }

    /// Sends a REGISTER now (first registration, or again after a reconnect).
    pub fn register(&mut self, now: Instant) {
        self.state = State::Registering;
        self.send(now, self.expires);
    }

    /// Removes the binding (Expires: 0), as on shutdown.
    pub fn unregister(&mut self, now: Instant) {
        self.state = State::Unregistering;
        self.refresh_at = None;
        self.send(now, 0);
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.config.seed, self.counter)
    }

    fn request(&mut self, expires: u32) -> Request {
        let c = &self.config;
        let mut r = Request::new(Method::Register, c.registrar.clone());
        let branch = format!("z9hG4bK{}", self.unique());
        let c = &self.config;
        r.headers.push(HeaderName::Via, format!("SIP/2.0/{} {};branch={branch};rport", c.transport, c.via_host));
        r.headers.push(HeaderName::MaxForwards, "70");
        if let Some(route) = &self.route {
            r.headers.push(HeaderName::Route, route.clone());
        }
        r.headers.push(HeaderName::From, format!("<{}>;tag={}", c.aor, c.from_tag));
        r.headers.push(HeaderName::To, format!("<{}>", c.aor));
        r.headers.push(HeaderName::CallId, c.call_id.clone());
        r.headers.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        let mut contact = format!("<{}>", c.contact);
        if let Some(instance) = &c.instance_id {
            contact.push_str(&format!(";+sip.instance=\"{instance}\""));
            if let Some(reg_id) = c.reg_id {
                contact.push_str(&format!(";reg-id={reg_id}"));
            }
        }
        contact.push_str(&format!(";expires={expires}"));
        r.headers.push(HeaderName::Contact, contact);
        r.headers.push(HeaderName::Expires, expires.to_string());
        if c.instance_id.is_some() {
            r.headers.push(HeaderName::Supported, "path, outbound");
        }
        r
    }

    fn send(&mut self, now: Instant, expires: u32) {
        self.cseq += 1;
        let mut request = self.request(expires);
        // Reuse the last nonce with the next nc (RFC 7616 3.4.5), which
        // spares the registrar a challenge round trip on every refresh.
        self.answered_nonce = false;
        if let Some((challenge, proxy, nc)) = self.challenge.as_mut() {
            *nc += 1;
            let (challenge, proxy, nc) = (challenge.clone(), *proxy, *nc);
            let cnonce = self.unique();
            let c = &self.config;
            let value = challenge.authorization(
                &c.username,
                &c.password,
                &Method::Register,
                &c.registrar.to_string(),
                &cnonce,
                nc,
            );
            let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
            request.headers.push(name, value);
            self.answered_nonce = nc == 1;
        }
        self.tx = Some(ClientTransaction::new(now, request, self.config.reliable, Timers::default()));
        self.drain_tx(now);
    }

    /// Feeds a response whose CSeq names REGISTER.
    pub fn handle_input(&mut self, now: Instant, response: Response) {
        if let Some(tx) = self.tx.as_mut() {
            tx.handle_input(now, response);
        }
        self.drain_tx(now);
    }

    fn drain_tx(&mut self, now: Instant) {
        while let Some(out) = self.tx.as_mut().and_then(ClientTransaction::poll_output) {
            match out {
                TxOutput::Transmit(bytes) => self.outputs.push_back(Output::Transmit(bytes)),
                TxOutput::Response(r) if r.status >= 200 => self.final_response(now, r),
                TxOutput::TimedOut => self.fail(408, default_reason(408).to_owned()),
                _ => {}
            }
        }
        if self.tx.as_ref().is_some_and(ClientTransaction::is_terminated) {
            self.tx = None;
        }
    }

    fn final_response(&mut self, now: Instant, r: Response) {
        match r.status {
            200..=299 => self.accepted(now, &r),
            401 | 407 => match Challenge::best(&r.headers, r.status == 407) {
                // The same nonce refused again, and not merely stale: the
                // credentials are wrong, and asking again would loop.
                Ok(c) if self.answered_nonce && !c.stale => self.fail(r.status, r.reason),
                Ok(c) => {
                    self.challenge = Some((c, r.status == 407, 0));
                    let expires = if self.state == State::Unregistering { 0 } else { self.expires };
                    self.send(now, expires);
                }
                Err(_) => self.fail(r.status, r.reason),
            },
            423 => match r.headers.get(&HeaderName::MinExpires).and_then(|v| v.trim().parse().ok()) {
                Some(min) if min > self.expires && self.state == State::Registering => {
                    self.expires = min;
                    self.send(now, min);
                }
                _ => self.fail(r.status, r.reason),
            },
            _ => self.fail(r.status, r.reason),
        }
    }

    fn accepted(&mut self, now: Instant, r: &Response) {
        if self.state == State::Unregistering {
            self.state = State::Unregistered;
            self.outputs.push_back(Output::Event(Event::Unregistered));
            return;
        }
        let granted = self.granted_expires(r).unwrap_or(self.expires);
        self.state = State::Registered;
        // Refresh with a tenth of the lifetime to spare (at least 5 s), so a
        // slow network or one challenge round trip cannot let it lapse.
        let margin = (granted / 10).max(5).min(granted / 2);
        self.refresh_at = Some(now + Duration::from_secs(u64::from(granted - margin)));
        self.outputs.push_back(Output::Event(Event::Registered { expires: Duration::from_secs(granted.into()) }));
    }

    /// The lifetime of our binding: its Contact's `expires`, else Expires.
    fn granted_expires(&self, r: &Response) -> Option<u32> {
        let ours = r.headers.contacts().ok()?.into_iter().find_map(|c| match c {
            Contact::Address(a) if a.uri == self.config.contact => {
                a.params.get("expires").flatten().and_then(|v| v.parse().ok())
            }
            _ => None,
        });
        ours.or_else(|| r.headers.expires().ok().flatten())
    }

    fn fail(&mut self, status: u16, reason: String) {
        self.state = State::Failed;
        self.refresh_at = None;
        self.outputs.push_back(Output::Event(Event::Failed { status, reason }));
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.tx.as_ref().and_then(ClientTransaction::poll_timeout)].into_iter().flatten().min()
    }

    /// Fires the refresh and transaction timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(tx) = self.tx.as_mut() {
            tx.handle_timeout(now);
            self.drain_tx(now);
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            self.register(now);
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Whether a response belongs to this registration (by Call-ID), for an
    /// owner with several; an error only when the Call-ID is malformed.
    pub fn owns(&self, response: &Response) -> Result<bool, Error> {
        Ok(response.headers.call_id()? == self.config.call_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    const CONTACT: &str = "sip:agent42@df7jal23ls0d.invalid;transport=ws";

    fn config() -> RegistrationConfig {
        RegistrationConfig {
            registrar: "sip:example.com".parse().expect("uri"),
            aor: "sip:agent42@example.com".parse().expect("uri"),
            contact: CONTACT.parse().expect("uri"),
            instance_id: Some("<urn:uuid:00000000-0000-1000-8000-aabbccddeeff>".into()),
            reg_id: Some(1),
            expires: 600,
            username: "agent42".into(),
            password: "s3cret".into(),
            via_host: "df7jal23ls0d.invalid".into(),
            transport: Transport::Wss,
            reliable: true,
            call_id: "reg-1@df7jal23ls0d.invalid".into(),
            from_tag: "f1".into(),
            seed: 0x5eed,
        }
    }

    /// Drains the registration: the requests it sent and the events it told.
    fn drain(reg: &mut Registration) -> (Vec<Request>, Vec<Event>) {
        let (mut requests, mut events) = (Vec::new(), Vec::new());
        while let Some(o) = reg.poll_output() {
            match o {
                Output::Transmit(b) => match parse(&b) {
                    Ok(Message::Request(r)) => requests.push(r),
                    other => panic!("not a request: {other:?}"),
                },
                Output::Event(e) => events.push(e),
            }
        }
        (requests, events)
    }

    fn reply(request: &Request, status: u16, extra: &[(HeaderName, &str)]) -> Response {
        let mut r = Response::to_request(request, status);
        r.headers.set(HeaderName::To, "<sip:agent42@example.com>;tag=reg");
        for (name, value) in extra {
            r.headers.push(name.clone(), *value);
        }
        r
    }

    fn challenge(nonce: &str, stale: bool) -> String {
        format!("Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5, stale={stale}")
    }

    fn only(requests: Vec<Request>) -> Request {
        let mut it = requests.into_iter();
        let r = it.next().expect("one request");
        assert!(it.next().is_none(), "exactly one request");
        r
    }

    fn auth(r: &Request) -> &str {
        r.headers.get(&HeaderName::Authorization).unwrap_or("")
    }

    /// Registers through one MD5 challenge; returns the registration and the
    /// authorized REGISTER.
    fn registered(t0: Instant, granted: &str) -> (Registration, Request) {
        let mut reg = Registration::new(config());
        reg.register(t0);
        let first = only(drain(&mut reg).0);
        assert!(first.headers.get(&HeaderName::Authorization).is_none());
        reg.handle_input(t0, reply(&first, 401, &[(HeaderName::WwwAuthenticate, &challenge("n1", false))]));
        let second = only(drain(&mut reg).0);
        let ok = reply(&second, 200, &[(HeaderName::Contact, granted)]);
        reg.handle_input(t0, ok);
        (reg, second)
    }

    #[test]
    fn challenge_answered_then_registered_and_refreshed_with_the_same_nonce() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config());
        reg.register(t0);
        let first = only(drain(&mut reg).0);
        let contact = first.headers.get(&HeaderName::Contact).expect("Contact");
        assert!(
            contact.contains("+sip.instance=\"<urn:uuid:") && contact.contains(";reg-id=1;expires=600"),
            "{contact}"
        );
        assert_eq!(first.headers.cseq().map(|c| c.seq), Ok(1));
        reg.handle_input(t0, reply(&first, 401, &[(HeaderName::WwwAuthenticate, &challenge("n1", false))]));
        let second = only(drain(&mut reg).0);
        assert_eq!(second.headers.cseq().map(|c| c.seq), Ok(2), "CSeq goes up, Call-ID stays");
        assert_eq!(second.headers.call_id(), first.headers.call_id());
        let a = auth(&second);
        assert!(a.contains("username=\"agent42\"") && a.contains("nonce=\"n1\"") && a.contains("nc=00000001"), "{a}");
        reg.handle_input(t0, reply(&second, 200, &[(HeaderName::Contact, &format!("<{CONTACT}>;expires=300"))]));
        let (_, events) = drain(&mut reg);
        assert_eq!(events, [Event::Registered { expires: Duration::from_secs(300) }]);
        assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(270)), "refresh with a tenth to spare");
        reg.handle_timeout(t0 + Duration::from_secs(270));
        let refresh = only(drain(&mut reg).0);
        assert!(auth(&refresh).contains("nonce=\"n1\"") && auth(&refresh).contains("nc=00000002"), "nonce reuse");
        assert_eq!(refresh.headers.cseq().map(|c| c.seq), Ok(3));
    }

    #[test]
    fn wrong_password_fails_instead_of_looping() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config());
        reg.register(t0);
        let first = only(drain(&mut reg).0);
        reg.handle_input(t0, reply(&first, 401, &[(HeaderName::WwwAuthenticate, &challenge("n1", false))]));
        let second = only(drain(&mut reg).0);
        reg.handle_input(t0, reply(&second, 401, &[(HeaderName::WwwAuthenticate, &challenge("n2", false))]));
        let (requests, events) = drain(&mut reg);
        assert!(requests.is_empty());
        assert!(matches!(events.as_slice(), [Event::Failed { status: 401, .. }]), "{events:?}");
        assert_eq!(reg.state(), "Failed");
    }

    #[test]
    fn stale_nonce_on_refresh_is_answered_without_failing() {
        let t0 = Instant::now();
        let (mut reg, _) = registered(t0, &format!("<{CONTACT}>;expires=600"));
        drain(&mut reg);
        let at = reg.poll_timeout().expect("refresh timer");
        assert_eq!(at, t0 + Duration::from_secs(540));
        reg.handle_timeout(at);
        let refresh = only(drain(&mut reg).0);
        reg.handle_input(at, reply(&refresh, 401, &[(HeaderName::WwwAuthenticate, &challenge("n2", true))]));
        let retry = only(drain(&mut reg).0);
        assert!(auth(&retry).contains("nonce=\"n2\"") && auth(&retry).contains("nc=00000001"), "{}", auth(&retry));
        reg.handle_input(at, reply(&retry, 200, &[(HeaderName::Expires, "600")]));
        assert_eq!(drain(&mut reg).1, [Event::Registered { expires: Duration::from_secs(600) }], "Expires header used");
    }

    #[test]
    fn interval_too_brief_retries_with_min_expires() {
        let t0 = Instant::now();
        let mut reg = Registration::new(RegistrationConfig { expires: 30, ..config() });
        reg.register(t0);
        let first = only(drain(&mut reg).0);
        reg.handle_input(t0, reply(&first, 423, &[(HeaderName::MinExpires, "120")]));
        let retry = only(drain(&mut reg).0);
        assert_eq!(retry.headers.expires(), Ok(Some(120)));
    }

    #[test]
    fn unregister_sends_expires_zero_with_credentials() {
        let t0 = Instant::now();
        let (mut reg, _) = registered(t0, &format!("<{CONTACT}>;expires=600"));
        drain(&mut reg);
        reg.unregister(t0 + Duration::from_secs(10));
        let bye = only(drain(&mut reg).0);
        assert_eq!(bye.headers.expires(), Ok(Some(0)));
        assert!(bye.headers.get(&HeaderName::Contact).is_some_and(|c| c.ends_with(";expires=0")));
        assert!(auth(&bye).contains("nc=00000002"));
        reg.handle_input(t0, reply(&bye, 200, &[]));
        assert_eq!(drain(&mut reg).1, [Event::Unregistered]);
        assert_eq!(reg.poll_timeout(), None, "no refresh after un-REGISTER");
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let shown = format!("{:?}", Registration::new(config()));
        assert!(!shown.contains("s3cret") && shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn rebind_keeps_call_id_and_cseq_and_moves_via_and_contact() {
        let t0 = Instant::now();
        let (mut reg, second) = registered(t0, &format!("<{CONTACT}>;expires=600"));
        drain(&mut reg);
        reg.set_route(Some("<sip:sbc2.example.com;lr>".into()));
        let moved: Uri = "sip:agent42@zz9.invalid;transport=ws".parse().expect("uri");
        reg.rebind("zz9.invalid".into(), moved, Transport::Wss, true);
        reg.register(t0);
        let again = only(drain(&mut reg).0);
        assert_eq!(again.headers.call_id(), second.headers.call_id());
        assert_eq!(again.headers.cseq().map(|c| c.seq), Ok(3));
        assert!(again.headers.get(&HeaderName::Contact).is_some_and(|c| c.contains("zz9.invalid")));
        assert_eq!(again.headers.top_via().map(|v| v.host.to_string()), Ok("zz9.invalid".into()));
        assert_eq!(again.headers.get(&HeaderName::Route), Some("<sip:sbc2.example.com;lr>"));
    }

    #[test]
    fn no_answer_fails_with_408_when_timer_f_fires() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config());
        reg.register(t0);
        drain(&mut reg);
        let at = reg.poll_timeout().expect("Timer F");
        assert_eq!(at, t0 + Duration::from_secs(32));
        reg.handle_timeout(at);
        assert!(matches!(drain(&mut reg).1.as_slice(), [Event::Failed { status: 408, .. }]));
    }
}
