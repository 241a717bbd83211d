//! A small engine for the registration tests, built on the crate's
//! [`Registration`]: it registers on every new flow, answers requests that
//! reach it with 200 (so routing through Kamailio can be checked with
//! MESSAGE), sends CRLF keep-alives on command and reports the pong.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use warmline_sip::registration::{Event as RegEvent, Output as RegOutput, Registration, RegistrationConfig};
use warmline_sip::{Engine, Flow, HeaderName, Input, Message, Method, Output, Request, Response, Uri, parse};

use crate::kamailio::DOMAIN;

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Registered(Duration),
    Failed(u16),
    Unregistered,
    /// A CRLF pong to our double-CRLF ping (RFC 5626 4.4.1).
    Pong,
    /// A request reached us (and was answered 200).
    Request {
        method: String,
        from_user: Option<String>,
        body: Vec<u8>,
    },
    /// A final response to a request we sent (not REGISTER).
    Response {
        method: String,
        status: u16,
    },
}

/// One agent's registration over whatever flow the transport provides.
pub struct RegistrarAgent {
    user: String,
    auth_user: String,
    password: String,
    seed: u64,
    flow: Option<Flow>,
    registration: Option<Registration>,
    unregistering: bool,
    counter: u64,
    outputs: VecDeque<Output<Seen>>,
}

/// Never shows the password.
impl std::fmt::Debug for RegistrarAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrarAgent").field("user", &self.user).field("flow", &self.flow).finish()
    }
}

fn uri(s: &str) -> Uri {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

impl RegistrarAgent {
    pub fn new(user: &str, password: String, seed: u64) -> Self {
        Self {
            user: user.to_owned(),
            auth_user: user.to_owned(),
            password,
            seed,
            flow: None,
            registration: None,
            unregistering: false,
            counter: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Authenticates as `auth_user` (another user's credentials).
    pub fn with_auth_user(mut self, auth_user: &str) -> Self {
        self.auth_user = auth_user.to_owned();
        self
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{:x}x{}", self.seed, self.counter)
    }

    fn drain_registration(&mut self) {
        let Some(reg) = self.registration.as_mut() else { return };
        while let Some(out) = reg.poll_output() {
            match out {
                RegOutput::Transmit(bytes) => self.outputs.push_back(Output::Transmit(bytes)),
                RegOutput::Event(RegEvent::Registered { expires }) => {
                    self.outputs.push_back(Output::Event(Seen::Registered(expires)))
                }
                RegOutput::Event(RegEvent::Failed { status, .. }) => {
                    self.outputs.push_back(Output::Event(Seen::Failed(status)))
                }
                RegOutput::Event(RegEvent::Unregistered) => self.outputs.push_back(Output::Event(Seen::Unregistered)),
                _ => {}
            }
        }
    }

    /// Removes the binding (the transport's shutdown runs this).
    pub fn unregister(&mut self, now: Instant) {
        self.unregistering = true;
        if let Some(reg) = self.registration.as_mut() {
            reg.unregister(now);
        }
        self.drain_registration();
    }

    /// Whether shutdown may close the connection.
    pub fn finished(&self) -> bool {
        self.unregistering && self.registration.as_ref().is_none_or(|r| matches!(r.state(), "Unregistered" | "Failed"))
    }

    /// An RFC 5626 double-CRLF ping.
    pub fn ping(&mut self) {
        self.outputs.push_back(Output::Transmit(b"\r\n\r\n".to_vec()));
    }

    /// A MESSAGE to `user` in the test domain, through the registrar.
    pub fn message(&mut self, user: &str, text: &str) {
        let Some(flow) = self.flow.clone() else { return };
        let mut r = Request::new(Method::Message, uri(&format!("sip:{user}@{DOMAIN}")));
        let branch = format!("z9hG4bK{}", self.unique());
        let tag = self.unique();
        let call_id = format!("{}@{}", self.unique(), flow.local_host);
        r.headers.push(HeaderName::Via, format!("SIP/2.0/{} {};branch={branch}", flow.transport, flow.local_host));
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers.push(HeaderName::From, format!("<sip:{}@{DOMAIN}>;tag={tag}", self.user));
        r.headers.push(HeaderName::To, format!("<sip:{user}@{DOMAIN}>"));
        r.headers.push(HeaderName::CallId, call_id);
        r.headers.push(HeaderName::CSeq, "1 MESSAGE");
        r.headers.push(HeaderName::ContentType, "text/plain");
        r.body = text.as_bytes().to_vec();
        self.outputs.push_back(Output::Transmit(r.to_bytes()));
    }

    fn received(&mut self, now: Instant, bytes: &[u8]) {
        if bytes.iter().all(|b| *b == b'\r' || *b == b'\n') {
            if !bytes.is_empty() && bytes.len() <= 2 {
                self.outputs.push_back(Output::Event(Seen::Pong));
            }
            return;
        }
        match parse(bytes) {
            Ok(Message::Response(response)) => {
                let method = response.headers.cseq().map(|c| c.method).ok();
                if method == Some(Method::Register) {
                    if let Some(reg) = self.registration.as_mut()
                        && reg.owns(&response).unwrap_or(false)
                    {
                        reg.handle_input(now, response);
                    }
                    self.drain_registration();
                } else if response.status >= 200 {
                    let method = method.map(|m| m.as_str().to_owned()).unwrap_or_default();
                    self.outputs.push_back(Output::Event(Seen::Response { method, status: response.status }));
                }
            }
            Ok(Message::Request(request)) => {
                if request.method != Method::Ack {
                    let mut ok = Response::to_request(&request, 200);
                    if let Some(to) = request.headers.get(&HeaderName::To)
                        && !to.contains("tag=")
                    {
                        ok.headers.set(HeaderName::To, format!("{to};tag={}", self.unique()));
                    }
                    self.outputs.push_back(Output::Transmit(ok.to_bytes()));
                }
                let from_user = request.headers.from().ok().and_then(|f| f.uri.as_sip().and_then(|u| u.user.clone()));
                self.outputs.push_back(Output::Event(Seen::Request {
                    method: request.method.as_str().to_owned(),
                    from_user,
                    body: request.body,
                }));
            }
            // Nothing from the network makes an engine fail.
            Err(_) => {}
        }
    }
}

impl Engine for RegistrarAgent {
    type Event = Seen;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Connected(flow) => {
                let config = RegistrationConfig {
                    registrar: uri(&format!("sip:{DOMAIN}")),
                    aor: uri(&format!("sip:{}@{DOMAIN}", self.user)),
                    contact: uri(&format!("sip:{}@{};transport=ws", self.user, flow.local_host)),
                    instance_id: Some(format!(
                        "<urn:uuid:00000000-0000-4000-8000-{:012x}>",
                        self.seed & 0xffff_ffff_ffff
                    )),
                    reg_id: Some(1),
                    expires: 300,
                    username: self.auth_user.clone(),
                    password: self.password.clone(),
                    via_host: flow.local_host.clone(),
                    transport: flow.transport.clone(),
                    reliable: true,
                    call_id: format!("reg-{:x}@{}", self.seed, flow.local_host),
                    from_tag: format!("r{:x}", self.seed),
                    seed: self.seed,
                };
                let mut reg = Registration::new(config);
                reg.register(now);
                self.registration = Some(reg);
                self.flow = Some(flow);
                self.drain_registration();
            }
            Input::Received(bytes) => self.received(now, bytes),
            Input::Disconnected => self.flow = None,
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(reg) = self.registration.as_mut() {
            reg.handle_timeout(now);
        }
        self.drain_registration();
    }

    fn poll_output(&mut self) -> Option<Output<Seen>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.registration.as_ref().and_then(Registration::poll_timeout)
    }
}
