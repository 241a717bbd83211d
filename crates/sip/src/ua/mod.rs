//! The user agent: registration, calls, offer/answer and transfer, as one
//! sans-IO [`Engine`].
//!
//! [`UserAgent`] is driven like every engine in this crate: feed it
//! [`Input`]s and time, drain [`Output`]s, sleep until
//! [`Engine::poll_timeout`]. Commands from the owner (dial, answer, hold,
//! transfer ...) are plain methods that take `now` and return a typed
//! [`Error`] when the call is unknown or in the wrong state; what they cause
//! on the wire comes out of [`Engine::poll_output`] like everything else.
//!
//! The media crate stays behind a narrow interface: SDP bodies go in and
//! come out as bytes ([`Event::OfferReceived`], [`Event::OfferNeeded`],
//! [`Event::AnswerReceived`]; [`UserAgent::answer`],
//! [`UserAgent::accept_answer`], [`UserAgent::provide_offer`]), and only the
//! direction attribute is read here, to tell hold from resume.
//!
//! Commands, all `(&mut self, now, ...)`:
//!
//! | command | what goes out | what comes back |
//! | --- | --- | --- |
//! | [`dial`](UserAgent::dial)`(to, offer)` | INVITE | `Dialing`, `Ringing`/`EarlyMedia`, `AnswerReceived`, `Connected` or `Ended` |
//! | [`answer`](UserAgent::answer)`(call, sdp)` | 2xx | `Connected` (`AnswerReceived` from the ACK if we offered) |
//! | [`reject`](UserAgent::reject)`(call, status)` | 3xx-6xx | `Ended { Rejected }` |
//! | [`early_media`](UserAgent::early_media)`(call, answer)` | reliable 183 | (PRACK handled inside) |
//! | [`hangup`](UserAgent::hangup)`(call)` | CANCEL, 603 or BYE | `Ended` |
//! | [`hold`](UserAgent::hold) / [`resume`](UserAgent::resume) / [`reoffer`](UserAgent::reoffer)`(call, offer, ..)` | re-INVITE or UPDATE | `AnswerReceived`, `Held`/`Resumed` or `OfferRejected` |
//! | [`request_offer`](UserAgent::request_offer)`(call)` | empty re-INVITE | `OfferReceived` (answer goes in the ACK) |
//! | [`accept_answer`](UserAgent::accept_answer) / [`reject_offer`](UserAgent::reject_offer) | 2xx / 488 to their offer, or the ACK | `RemoteHeld`/`RemoteResumed` |
//! | [`provide_offer`](UserAgent::provide_offer)`(call, offer)` | 2xx with offer, or the transferee's INVITE | `AnswerReceived` |
//! | [`transfer_blind`](UserAgent::transfer_blind)`(call, target)` / [`transfer_attended`](UserAgent::transfer_attended)`(call, consult)` | REFER | `Transfer { progress }`, then `Ended { Transferred }` |
//! | [`send_dtmf`](UserAgent::send_dtmf), [`ping`](UserAgent::ping) | INFO, OPTIONS | |
//! | [`shutdown`](UserAgent::shutdown) | BYEs, un-REGISTER | `Ended`, `Unregistered` |
//!
//! Registration, keep-alives, re-registration and target refresh after a
//! reconnect, session refreshes, PRACKs, NOTIFYs and the answers to
//! everything the far end sends happen inside, and show as events.
//!
//! The call session is split one file per operation: `invite` (dialing),
//! `answer`, `cancel`, `bye`, `hold` (re-INVITE and UPDATE, both
//! ways, glare), `prack`, `session_timer`, `refer` (transferor and
//! transferee), `replaces` (transfer target), `info` (INFO and
//! OPTIONS), over `offer_answer` and `call`.

mod answer;
mod bye;
mod call;
mod cancel;
mod config;
mod error;
mod event;
mod hold;
mod info;
mod invite;
mod keepalive;
mod offer_answer;
mod prack;
mod publish;
mod refer;
mod register;
mod replaces;
mod rng;
mod session_timer;
mod transactions;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

pub use config::{Config, Outbound, ReferPolicy, SessionTimers};
pub use error::Error;
pub use event::{CallId, CallInfo, CallState, Direction, EndReason, Event, IncomingCall, TransferProgress};
pub use hold::ReofferMethod;

use self::call::Call;
use self::keepalive::KeepAlive;
use self::rng::Rng;
use self::transactions::{Op, Owner, Transactions, TxId, Up};
use crate::auth::Challenge;
use crate::engine::{Engine, Flow, Input, Output};
use crate::message::{HeaderName, Message, Method, Request, Response, Transport, error_response, parse};
use crate::registration::Registration;

/// The methods we answer (Allow).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, UPDATE, PRACK, REFER, NOTIFY, INFO, OPTIONS";
/// The extensions we support (Supported); a Require naming anything else
/// gets 420.
const SUPPORTED: &str = "100rel, timer, replaces";
const SUPPORTED_TAGS: [&str; 3] = ["100rel", "timer", "replaces"];
/// The bodies we accept (Accept).
const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag";

/// A SIP user agent for one agent's address of record.
///
/// See the [crate documentation](crate) for the run loop, and the
/// [module documentation](self) for how the owner and the media layer talk
/// to it.
pub struct UserAgent {
    config: Config,
    rng: Rng,
    flow: Option<Flow>,
    connected: bool,
    registration: Option<Registration>,
    publisher: Option<crate::publication::Publisher>,
    /// A new flow: publish again once it is registered.
    republish_after_register: bool,
    reg_call_id: String,
    reg_tag: String,
    keepalive: KeepAlive,
    txs: Transactions,
    calls: BTreeMap<CallId, Call>,
    next_call: u32,
    outputs: VecDeque<Output<Event>>,
    shutting_down: bool,
}

/// Shows state, never the configuration's password.
impl std::fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgent")
            .field("aor", &self.config.aor)
            .field("flow", &self.flow)
            .field("connected", &self.connected)
            .field("registration", &self.registration.as_ref().map(Registration::state))
            .field("calls", &self.calls.values().map(Call::info).collect::<Vec<_>>())
            .field("transactions", &self.txs.len())
            .finish()
    }
}

impl UserAgent {
    /// A user agent that has sent nothing yet; it registers on the first
    /// [`Input::Connected`].
    pub fn new(config: Config) -> Self {
        let mut rng = Rng::new(config.seed);
        let reg_call_id = rng.call_id();
        let reg_tag = rng.tag();
        let timers = config.timers;
        Self {
            config,
            rng,
            flow: None,
            connected: false,
            registration: None,
            publisher: None,
            republish_after_register: false,
            reg_call_id,
            reg_tag,
            keepalive: KeepAlive::default(),
            txs: Transactions::new(timers),
            calls: BTreeMap::new(),
            next_call: 0,
            outputs: VecDeque::new(),
            shutting_down: false,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The flow in use, if connected.
    pub fn flow(&self) -> Option<&Flow> {
        self.flow.as_ref().filter(|_| self.connected)
    }

    /// Whether the registrar holds our binding.
    pub fn is_registered(&self) -> bool {
        self.registration.as_ref().is_some_and(Registration::is_registered)
    }

    /// Every call that has not ended, oldest first.
    pub fn calls(&self) -> Vec<CallInfo> {
        self.calls.values().map(Call::info).collect()
    }

    /// One call, if it has not ended.
    pub fn call(&self, call: CallId) -> Option<CallInfo> {
        self.calls.get(&call).map(Call::info)
    }

    // ----- helpers shared by the operation files -----

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn transmit(&mut self, bytes: Vec<u8>) {
        self.outputs.push_back(Output::Transmit(bytes));
    }

    fn reliable(&self) -> bool {
        self.flow.as_ref().is_none_or(|f| f.transport.is_reliable())
    }

    fn local_host(&self) -> &str {
        self.flow.as_ref().map_or("offline.invalid", |f| f.local_host.as_str())
    }

    fn transport(&self) -> Transport {
        self.flow.as_ref().map_or(Transport::Wss, |f| f.transport.clone())
    }

    /// A Via for a new client transaction on the current flow.
    fn via(&mut self) -> String {
        let branch = self.rng.branch();
        format!("SIP/2.0/{} {};branch={branch}", self.transport(), self.local_host())
    }

    /// Our Contact URI on the current flow (RFC 7118 5.2: `transport=ws`
    /// for WS and WSS alike; RFC 5626 `ob` when outbound is on).
    fn contact_uri(&self) -> String {
        let user = self.config.aor.as_sip().and_then(|u| u.user.clone()).unwrap_or_else(|| "warmline".into());
        let transport = match self.transport() {
            Transport::Ws | Transport::Wss => "ws".to_owned(),
            other => other.to_string().to_ascii_lowercase(),
        };
        let ob = if self.config.outbound.is_some() { ";ob" } else { "" };
        format!("sip:{user}@{};transport={transport}{ob}", self.local_host())
    }

    fn contact(&self) -> String {
        format!("<{}>", self.contact_uri())
    }

    /// The Route an outbound proxy adds to requests outside a dialog.
    fn proxy_route(&self) -> Option<String> {
        let proxy = self.config.outbound_proxy.as_ref()?;
        let mut uri = proxy.clone();
        if let crate::message::Uri::Sip(sip) = &mut uri
            && !sip.params.contains("lr")
        {
            sip.params.push("lr", None);
        }
        Some(format!("<{uri}>"))
    }

    fn new_call(&mut self, direction: Direction, state: CallState) -> CallId {
        self.next_call += 1;
        let id = CallId(self.next_call);
        let call_id = self.rng.call_id();
        let tag = self.rng.tag();
        self.calls.insert(id, Call::new(id, direction, state, call_id, tag));
        id
    }

    fn call_mut(&mut self, id: CallId) -> Result<&mut Call, Error> {
        self.calls.get_mut(&id).ok_or(Error::UnknownCall(id))
    }

    fn wrong_state(&self, id: CallId, command: &'static str) -> Error {
        match self.calls.get(&id) {
            Some(c) => Error::WrongState { call: id, command, state: c.state.name() },
            None => Error::UnknownCall(id),
        }
    }

    /// A request inside the call's dialog, with a fresh Via and, for
    /// target refresh and subscription methods, our Contact.
    fn in_dialog(&mut self, id: CallId, method: Method) -> Result<Request, Error> {
        let via = self.via();
        let contact = self.contact();
        let call = self.calls.get_mut(&id).ok_or(Error::UnknownCall(id))?;
        let state = call.state.name();
        let dialog =
            call.dialog.as_mut().ok_or(Error::WrongState { call: id, command: method_name(&method), state })?;
        let mut request = dialog.new_request(method.clone());
        request.headers.push_front(HeaderName::Via, via);
        if matches!(method, Method::Invite | Method::Update | Method::Refer | Method::Notify | Method::Subscribe) {
            request.headers.push(HeaderName::Contact, contact);
        }
        Ok(request)
    }

    fn send_request(&mut self, now: Instant, request: Request, owner: Owner) -> TxId {
        self.txs.start_client(now, request, owner, false, &mut self.outputs)
    }

    /// The response to the request of server transaction `tx`, with our tag
    /// in To when it has none (RFC 3261 8.2.6.2).
    fn response_to(&mut self, tx: TxId, status: u16) -> Option<Response> {
        let request = self.txs.server_request(tx)?;
        let mut response = Response::to_request(request, status);
        // 12.1.1: a response that can set up a dialog carries the route set.
        let dialog_forming = matches!(request.method, Method::Invite | Method::Refer | Method::Subscribe);
        if dialog_forming && (101..300).contains(&status) {
            for rr in request.headers.get_all(&HeaderName::RecordRoute) {
                response.headers.push(HeaderName::RecordRoute, rr);
            }
        }
        let has_tag = request.headers.to().is_ok_and(|t| t.tag().is_some());
        if status > 100 && !has_tag {
            let tag = match self.txs.server_call(tx).and_then(|c| self.calls.get(&c)) {
                Some(call) => call.local_tag.clone(),
                None => self.rng.tag(),
            };
            if let Ok(mut to) = response.headers.to() {
                to.params.set("tag", Some(&tag));
                response.headers.set(HeaderName::To, to.to_string());
            }
        }
        Some(response)
    }

    /// Answers server transaction `tx` with `status` and whatever `build`
    /// adds.
    fn reply_with(&mut self, now: Instant, tx: TxId, status: u16, build: impl FnOnce(&mut Response)) {
        let Some(mut response) = self.response_to(tx, status) else { return };
        match status {
            405 | 501 => response.headers.push(HeaderName::Allow, ALLOW),
            415 => response.headers.push(HeaderName::Accept, ACCEPT),
            // RFC 3261 14.2 and RFC 3311 5.2: a random 0-10 s.
            500 => {
                let secs = self.rng.below(11);
                response.headers.push(HeaderName::RetryAfter, secs.to_string());
            }
            _ => {}
        }
        build(&mut response);
        let _ = self.txs.respond(now, tx, response, &mut self.outputs);
    }

    fn reply(&mut self, now: Instant, tx: TxId, status: u16) {
        self.reply_with(now, tx, status, |_| {});
    }

    /// Re-sends client transaction `tx`'s request with credentials for the
    /// 401/407 in `response` (RFC 3261 22.2: same Call-ID, next CSeq, new
    /// branch). `None` when no supported challenge came, or when the same
    /// credentials were refused without `stale=true`.
    fn retry_with_credentials(&mut self, now: Instant, tx: TxId, response: &Response) -> Option<TxId> {
        let proxy = response.status == 407;
        let challenge = Challenge::best(&response.headers, proxy).ok()?;
        if self.txs.client_authorized(tx) && !challenge.stale {
            return None;
        }
        let mut request = self.txs.client_request(tx)?.clone();
        let Owner::Call(id, op) = self.owner_of(tx)? else { return None };
        let call = self.calls.get_mut(&id)?;
        let seq = match (op, call.dialog.as_mut()) {
            (Op::Invite, _) => {
                call.invite_cseq += 1;
                call.invite_cseq
            }
            (_, Some(dialog)) => dialog.next_local_seq(),
            (_, None) => return None,
        };
        request.headers.set(HeaderName::CSeq, format!("{seq} {}", request.method));
        let via = self.via();
        request.headers.set(HeaderName::Via, via);
        request.headers.remove(&HeaderName::Authorization);
        request.headers.remove(&HeaderName::ProxyAuthorization);
        let cnonce = self.rng.cnonce();
        let value = challenge.authorization(
            &self.config.auth_user,
            &self.config.password,
            &request.method,
            &request.uri.to_string(),
            &cnonce,
            1,
        );
        let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
        request.headers.push(name, value);
        Some(self.txs.start_client(now, request, Owner::Call(id, op), true, &mut self.outputs))
    }

    fn owner_of(&self, tx: TxId) -> Option<Owner> {
        self.txs.client_owner(tx)
    }

    /// The call whose dialog an in-dialog request names (12.2.2).
    fn call_for_request(&self, request: &Request) -> Option<CallId> {
        self.calls.values().find(|c| c.dialog.as_ref().is_some_and(|d| d.matches_request(request))).map(|c| c.id)
    }

    /// Emits Ended once and marks the call as ending; it is forgotten when
    /// `forget` is called (at once, or when its BYE completes).
    fn announce_end(&mut self, id: CallId, reason: EndReason, status: Option<u16>) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.state == CallState::Terminating {
            return;
        }
        call.state = CallState::Terminating;
        let reason = call.end_as.unwrap_or(reason);
        call.await_ack = None;
        call.session = None;
        call.glare = None;
        call.reliable.unacked = None;
        call.cancel = call::Cancel::None;
        self.emit(Event::Ended { call: id, reason, status });
    }

    /// Forgets a call: pending requests on it get 487, and a transfer it
    /// was made for hears how it ended.
    fn forget(&mut self, now: Instant, id: CallId) {
        for (tx, method) in self.txs.pending_servers_of(id) {
            let status = if method == Method::Invite { 487 } else { 481 };
            self.reply(now, tx, status);
        }
        if let Some(call) = self.calls.remove(&id)
            && let Some(sub) = call.refer_sub
            && let Some(new_call) = self.calls.get_mut(&sub.new_call)
        {
            // Nobody is left to hear how the transfer goes.
            new_call.referred_from = None;
        }
    }

    /// Ends a call now: Ended, then forgotten.
    fn end_call(&mut self, now: Instant, id: CallId, reason: EndReason, status: Option<u16>) {
        if let Some(call) = self.calls.get(&id)
            && let Some(old) = call.referred_from
            && call.state != CallState::Connected
            && call.state != CallState::Terminating
        {
            self.notify_progress(now, old, status.filter(|s| *s >= 300).unwrap_or(487));
        }
        self.announce_end(id, reason, status);
        self.forget(now, id);
    }

    // ----- the run loop -----

    fn on_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if bytes.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t')) {
            if bytes.windows(4).any(|w| w == b"\r\n\r\n") {
                // A ping from the server (RFC 5626 4.4.1): pong with one CRLF.
                self.transmit(b"\r\n".to_vec());
            }
            if !bytes.is_empty() {
                self.keepalive.pong();
            }
            return;
        }
        match parse(bytes) {
            Ok(Message::Request(request)) => self.on_request(now, request),
            Ok(Message::Response(response)) => self.on_response(now, response),
            Err(error) => {
                let tag = self.rng.tag();
                let answer = error_response(bytes, &error, &tag);
                let answered = answer.is_some();
                if let Some(response) = answer {
                    self.transmit(response.to_bytes());
                }
                self.emit(Event::Malformed { error, answered });
            }
        }
    }

    fn on_response(&mut self, now: Instant, response: Response) {
        if response.headers.cseq().is_ok_and(|c| c.method == Method::Publish) {
            self.on_publish_response(now, response);
            return;
        }
        let register = response.headers.cseq().is_ok_and(|c| c.method == Method::Register);
        if register {
            if self.registration.as_ref().is_some_and(|r| r.owns(&response).unwrap_or(false)) {
                self.on_register_response(now, response);
            }
            return;
        }
        let invite_2xx =
            (200..300).contains(&response.status) && response.headers.cseq().is_ok_and(|c| c.method == Method::Invite);
        if !self.txs.client_input(now, response.clone()) && invite_2xx {
            self.on_stray_2xx(response);
        }
    }

    fn on_request(&mut self, now: Instant, request: Request) {
        match request.method {
            Method::Ack => {
                if !self.txs.server_input(now, &request) {
                    self.on_ack(now, request);
                }
                return;
            }
            Method::Cancel => return self.on_cancel(now, request),
            _ => {}
        }
        if self.txs.server_input(now, &request) {
            return; // a retransmission, absorbed or answered again
        }
        let tx = self.txs.start_server(now, request.clone(), None, &mut self.outputs);
        let unsupported: Vec<&str> = request
            .headers
            .tokens(&HeaderName::Require)
            .filter(|t| !SUPPORTED_TAGS.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            return self.reply_with(now, tx, 420, |r| r.headers.push(HeaderName::Unsupported, list));
        }
        let in_dialog = request.headers.to().is_ok_and(|t| t.tag().is_some());
        if !in_dialog {
            return match request.method {
                Method::Invite => self.on_invite(now, tx, request),
                Method::Options => self.on_options(now, tx),
                Method::Bye | Method::Prack | Method::Update | Method::Info | Method::Notify => {
                    self.reply(now, tx, 481)
                }
                // A transfer outside any call is not something an agent does.
                Method::Refer => self.reply(now, tx, 403),
                Method::Extension(_) => self.reply(now, tx, 501),
                _ => self.reply(now, tx, 405),
            };
        }
        let Some(id) = self.call_for_request(&request) else { return self.reply(now, tx, 481) };
        self.txs.set_server_call(tx, id);
        let order = self.calls.get_mut(&id).and_then(|c| c.dialog.as_mut()).map(|d| d.handle_request(&request));
        if let Some(Err(e)) = order {
            return self.reply(now, tx, e.status_code());
        }
        match request.method {
            Method::Invite => self.on_reinvite(now, tx, id, request),
            Method::Update => self.on_update(now, tx, id, request),
            Method::Bye => self.on_bye(now, tx, id),
            Method::Prack => self.on_prack(now, tx, id, &request),
            Method::Refer => self.on_refer(now, tx, id, &request),
            Method::Notify => self.on_notify(now, tx, id, &request),
            Method::Info => self.on_info(now, tx, id, &request),
            Method::Options => self.on_options(now, tx),
            Method::Extension(_) => self.reply(now, tx, 501),
            _ => self.reply(now, tx, 405),
        }
    }

    /// Runs the transaction layer until it has nothing more to hand up.
    fn flush(&mut self, now: Instant) {
        // Each round can start transactions whose outputs need another
        // round; the bound only guards against a bug looping forever.
        for _ in 0..64 {
            let mut ups = Vec::new();
            self.txs.drain(&mut self.outputs, &mut ups);
            if ups.is_empty() {
                break;
            }
            for up in ups {
                self.dispatch(now, up);
            }
        }
        self.txs.reap();
    }

    fn dispatch(&mut self, now: Instant, up: Up) {
        match up {
            Up::Response { id, owner: Owner::Call(call, op), response, timed_out } => match op {
                Op::Invite => self.on_invite_response(now, call, id, response),
                Op::Reoffer => self.on_reoffer_response(now, call, id, response),
                Op::Bye => self.on_bye_response(now, call, id, response),
                Op::Cancel => {}
                Op::Prack => {}
                Op::Refer => self.on_refer_response(now, call, id, response),
                Op::Notify => self.on_notify_response(call, &response),
                Op::Info | Op::Options => self.on_in_dialog_response(now, call, &response, timed_out),
            },
            Up::Response { owner: Owner::Nobody, .. } | Up::AckTimeout => {}
            Up::Ack { request } => self.on_ack(now, request),
        }
    }

    fn call_timeouts(&mut self, now: Instant) {
        let due: Vec<CallId> =
            self.calls.values().filter(|c| c.poll_timeout().is_some_and(|t| t <= now)).map(|c| c.id).collect();
        for id in due {
            self.cancel_timeout(now, id);
            self.ack_timeout(now, id);
            self.reliable_timeout(now, id);
            self.glare_timeout(now, id);
            self.session_timeout(now, id);
        }
    }

    /// A 481 or a timeout to a request inside a dialog ends the dialog
    /// (RFC 3261 12.2.1.2).
    fn on_in_dialog_response(&mut self, now: Instant, id: CallId, response: &Response, timed_out: bool) {
        if response.status == 481 || timed_out {
            let reason = if timed_out { EndReason::Timeout } else { EndReason::Failed };
            self.bye_call(now, id, reason, Some(response.status));
        }
    }
}

impl Engine for UserAgent {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Connected(flow) => self.on_connected(now, flow),
            Input::Received(bytes) => self.on_bytes(now, bytes),
            Input::Disconnected => self.on_disconnected("the connection closed".into()),
        }
        self.flush(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.txs.handle_timeout(now);
        self.flush(now);
        self.registration_timeout(now);
        self.publish_timeout(now);
        self.keepalive_timeout(now);
        self.call_timeouts(now);
        self.flush(now);
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(Call::poll_timeout).min();
        let registration = self.registration.as_ref().and_then(Registration::poll_timeout);
        [self.txs.poll_timeout(), registration, self.publish_poll_timeout(), self.keepalive.poll_timeout(), calls]
            .into_iter()
            .flatten()
            .min()
    }
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Invite => "INVITE",
        Method::Bye => "BYE",
        Method::Update => "UPDATE",
        Method::Refer => "REFER",
        Method::Notify => "NOTIFY",
        Method::Info => "INFO",
        Method::Prack => "PRACK",
        Method::Options => "OPTIONS",
        _ => "request",
    }
}

/// Whether a body is SDP (a missing Content-Type with a body is read as
/// SDP, as old gateways send it).
fn is_sdp(headers: &crate::message::Headers) -> bool {
    headers
        .get(&HeaderName::ContentType)
        .is_none_or(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp")))
}
