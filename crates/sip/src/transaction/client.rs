//! Client transactions: INVITE (17.1.1, with RFC 6026's Accepted state) and
//! non-INVITE (17.1.2).

use std::time::{Duration, Instant};

use super::{Backoff, Core, InvitePhase, NonInviteState, Output, Timers, due, is_provisional, is_success};
use crate::message::{HeaderName, Method, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

impl InvitePhase for InviteState {
    const TERMINATED: Self = InviteState::Terminated;

    fn name(self) -> &'static str {
        match self {
            InviteState::Calling => "Calling",
            InviteState::Proceeding => "Proceeding",
            InviteState::Completed => "Completed",
            InviteState::Accepted => "Accepted",
            InviteState::Terminated => "Terminated",
        }
    }
}

type State = super::State<InviteState>;

/// A client transaction: sends one request and retransmits it until a
/// response comes, then hands responses to its user.
#[derive(Debug)]
pub struct ClientTransaction {
    request: Request,
    wire: Vec<u8>,
    ack: Option<Vec<u8>>,
    core: Core<InviteState>,
}

impl ClientTransaction {
    /// Starts the transaction at `now`: the request is queued for sending at
    /// once. `reliable` is true for WebSocket, TCP and TLS. An ACK never
    /// gets a transaction (17.1): the caller sends it directly.
    pub fn new(now: Instant, request: Request, reliable: bool, timers: Timers) -> Self {
        let state = if request.method == Method::Invite {
            State::Invite(InviteState::Calling)
        } else {
            State::NonInvite(NonInviteState::Trying)
        };
        let wire = request.to_bytes();
        let mut core = Core::new(state, reliable, timers);
        core.retransmit = (!reliable).then_some(Backoff { at: now + timers.t1, interval: timers.t1 });
        core.timeout = Some(now + timers.transaction_timeout()); // Timer B or F
        core.outputs.push_back(Output::Transmit(wire.clone()));
        Self { request, wire, ack: None, core }
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The CANCEL for this INVITE (RFC 3261 9.1): same Request-URI, Via
    /// branch, Route set, From, To and Call-ID, CSeq number with CANCEL. It
    /// goes in its own client transaction, and only once a provisional
    /// response has come (9.1), which [`state`](Self::state) shows as
    /// Proceeding.
    pub fn cancel(&self) -> Request {
        derived(&self.request, Method::Cancel, &self.request.headers)
    }

    /// The state's RFC name, for logs.
    pub fn state(&self) -> &'static str {
        self.core.state.name()
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.core.state.is_terminated()
    }

    /// Feeds a response that matched this transaction (17.1.3).
    pub fn handle_input(&mut self, now: Instant, response: Response) {
        let status = response.status;
        match self.core.state {
            State::Invite(s) => self.invite_response(now, s, response),
            State::NonInvite(s) => self.non_invite_response(now, s, response),
        }
        if !is_provisional(status) {
            self.core.retransmit = None;
        }
    }

    fn invite_response(&mut self, now: Instant, state: InviteState, response: Response) {
        use InviteState::*;
        let status = response.status;
        match state {
            Calling | Proceeding if is_provisional(status) => {
                // The server has the request: Timer A stops, and Timer B only
                // guards Calling (figure 5); CANCEL or Expires end a long ring.
                self.core.retransmit = None;
                self.core.timeout = None;
                self.core.state = State::Invite(Proceeding);
                self.core.outputs.push_back(Output::Response(response));
            }
            Calling | Proceeding if is_success(status) => {
                // RFC 6026: stay to pass further 2xx up, which the user ACKs.
                self.core.timeout = None;
                self.core.linger = Some(now + self.core.timers.transaction_timeout()); // Timer M
                self.core.state = State::Invite(Accepted);
                self.core.outputs.push_back(Output::Response(response));
            }
            Calling | Proceeding => {
                let ack = ack_for(&self.request, &response).to_bytes();
                self.core.outputs.push_back(Output::Transmit(ack.clone()));
                self.ack = Some(ack);
                self.core.outputs.push_back(Output::Response(response));
                self.core.timeout = None;
                self.core.state = State::Invite(Completed);
                // Timer D: 32 s to absorb retransmitted finals, zero when reliable.
                self.core.linger_for(now, Duration::from_secs(32));
            }
            Completed if status >= 300 => {
                if let Some(ack) = &self.ack {
                    self.core.outputs.push_back(Output::Transmit(ack.clone()));
                }
            }
            Accepted if is_success(status) => self.core.outputs.push_back(Output::Response(response)),
            _ => {}
        }
    }

    fn non_invite_response(&mut self, now: Instant, state: NonInviteState, response: Response) {
        use NonInviteState::*;
        match state {
            Trying | Proceeding if is_provisional(response.status) => {
                self.core.state = State::NonInvite(Proceeding);
                self.core.outputs.push_back(Output::Response(response));
            }
            Trying | Proceeding => {
                self.core.timeout = None;
                self.core.state = State::NonInvite(Completed);
                self.core.outputs.push_back(Output::Response(response));
                self.core.linger_for(now, self.core.timers.t4); // Timer K
            }
            _ => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.core.timeout, now) {
            self.core.outputs.push_back(Output::TimedOut);
            self.core.terminate();
            return;
        }
        if due(self.core.linger, now) {
            self.core.terminate();
            return;
        }
        if let Some(b) = self.core.retransmit.filter(|b| b.at <= now) {
            self.core.outputs.push_back(Output::Transmit(self.wire.clone()));
            let interval = match self.core.state {
                // Timer A doubles without bound; B ends it first.
                State::Invite(_) => b.interval * 2,
                // Timer E doubles up to T2, and sits at T2 once a 1xx came.
                State::NonInvite(NonInviteState::Proceeding) => self.core.timers.t2,
                State::NonInvite(_) => (b.interval * 2).min(self.core.timers.t2),
            };
            self.core.retransmit = Some(Backoff { at: b.at + interval, interval });
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.outputs.pop_front()
    }
}

/// A request that shares the INVITE's transaction identity: same
/// Request-URI, top Via (so the same branch), Route set, From, Call-ID and
/// CSeq number, with `method`, and To taken from `to`.
fn derived(request: &Request, method: Method, to: &crate::message::Headers) -> Request {
    let mut out = Request::new(method.clone(), request.uri.clone());
    let h = &request.headers;
    if let Ok(via) = h.top_via() {
        out.headers.push(HeaderName::Via, via.to_string());
    }
    out.headers.push(HeaderName::MaxForwards, "70");
    for route in h.get_all(&HeaderName::Route) {
        out.headers.push(HeaderName::Route, route);
    }
    for (name, source) in [(HeaderName::From, h), (HeaderName::To, to), (HeaderName::CallId, h)] {
        if let Some(v) = source.get(&name) {
            out.headers.push(name, v);
        }
    }
    if let Ok(cseq) = h.cseq() {
        out.headers.push(HeaderName::CSeq, format!("{} {method}", cseq.seq));
    }
    out
}

/// The ACK for a non-2xx final response (17.1.1.3): To from the response.
fn ack_for(request: &Request, response: &Response) -> Request {
    derived(request, Method::Ack, &response.headers)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{at, request, response, secs};
    use super::*;
    use crate::message::parse;

    /// Runs the transaction on simulated time until it ends, returning each
    /// output with the simulated second it came out at.
    fn run(t0: Instant, tx: &mut ClientTransaction) -> Vec<(f64, Output)> {
        let mut log = Vec::new();
        let mut now = t0;
        loop {
            while let Some(o) = tx.poll_output() {
                log.push((secs(t0, now), o));
            }
            match tx.poll_timeout() {
                Some(next) => {
                    now = next;
                    tx.handle_timeout(now);
                }
                None => return log,
            }
        }
    }

    fn transmits(log: &[(f64, Output)]) -> Vec<f64> {
        log.iter().filter(|(_, o)| matches!(o, Output::Transmit(_))).map(|(t, _)| *t).collect()
    }

    #[test]
    fn timer_b_fires_at_32_s_with_timer_a_doubling_on_udp() {
        let t0 = Instant::now();
        let mut tx = ClientTransaction::new(t0, request(Method::Invite), false, Timers::default());
        let log = run(t0, &mut tx);
        assert_eq!(transmits(&log), [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
        let timed_out: Vec<_> = log.iter().filter(|(_, o)| *o == Output::TimedOut).map(|(t, _)| *t).collect();
        assert_eq!(timed_out, [32.0], "Timer B = 64*T1");
        assert_eq!(log.last(), Some(&(32.0, Output::Terminated)));
    }

    #[test]
    fn timer_f_fires_at_32_s_with_timer_e_capped_at_t2() {
        let t0 = Instant::now();
        let mut tx = ClientTransaction::new(t0, request(Method::Register), false, Timers::default());
        let log = run(t0, &mut tx);
        assert_eq!(transmits(&log), [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]);
        assert!(log.contains(&(32.0, Output::TimedOut)), "Timer F = 64*T1: {log:?}");
    }

    #[test]
    fn reliable_transport_never_retransmits_and_still_times_out() {
        let t0 = Instant::now();
        for method in [Method::Invite, Method::Options] {
            let mut tx = ClientTransaction::new(t0, request(method.clone()), true, Timers::default());
            let log = run(t0, &mut tx);
            assert_eq!(transmits(&log), [0.0], "{method}: no Timer A/E on WebSocket");
            assert!(log.contains(&(32.0, Output::TimedOut)), "{method}: {log:?}");
        }
    }

    #[test]
    fn invite_rejected_is_acked_and_retransmitted_finals_re_acked_until_timer_d() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let mut tx = ClientTransaction::new(t0, invite.clone(), false, Timers::default());
        tx.poll_output();
        tx.handle_input(at(t0, 0.2), response(&invite, 180));
        assert_eq!(tx.state(), "Proceeding");
        assert!(matches!(tx.poll_output(), Some(Output::Response(r)) if r.status == 180));
        tx.handle_input(at(t0, 1.0), response(&invite, 486));
        let Some(Output::Transmit(ack)) = tx.poll_output() else { panic!("ACK first") };
        let ack = parse(&ack).expect("ACK parses");
        let ack = ack.as_request().expect("request");
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.headers.cseq().map(|c| c.seq), Ok(7));
        assert_eq!(ack.headers.to().ok().and_then(|t| t.tag().map(str::to_owned)), Some("b2".into()));
        assert_eq!(ack.headers.routes().map(|r| r.len()), Ok(1), "ACK keeps the route set");
        assert!(matches!(tx.poll_output(), Some(Output::Response(r)) if r.status == 486));
        assert_eq!(tx.state(), "Completed");
        tx.handle_input(at(t0, 2.0), response(&invite, 486));
        assert!(matches!(tx.poll_output(), Some(Output::Transmit(_))), "retransmitted final is re-ACKed");
        assert_eq!(tx.poll_output(), None, "and not passed up again");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 33.0)), "Timer D = 32 s after the final");
    }

    #[test]
    fn cancel_matches_the_invite_transaction() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let tx = ClientTransaction::new(t0, invite.clone(), true, Timers::default());
        let cancel = tx.cancel();
        assert_eq!(cancel.method, Method::Cancel);
        assert_eq!(cancel.uri, invite.uri);
        assert_eq!(cancel.headers.top_via().map(|v| v.branch().map(str::to_owned)), Ok(Some("z9hG4bKtest".into())));
        assert_eq!(cancel.headers.cseq().map(|c| (c.seq, c.method)), Ok((7, Method::Cancel)));
        assert_eq!(cancel.headers.get(&HeaderName::To), invite.headers.get(&HeaderName::To), "no To tag added");
        assert_eq!(cancel.headers.routes().map(|r| r.len()), Ok(1));
    }

    #[test]
    fn invite_accepted_passes_2xx_retransmissions_up_until_timer_m() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let mut tx = ClientTransaction::new(t0, invite.clone(), true, Timers::default());
        tx.poll_output();
        tx.handle_input(at(t0, 1.0), response(&invite, 200));
        assert_eq!(tx.state(), "Accepted");
        tx.handle_input(at(t0, 1.5), response(&invite, 200));
        let ups = std::iter::from_fn(|| tx.poll_output()).filter(|o| matches!(o, Output::Response(_))).count();
        assert_eq!(ups, 2, "RFC 6026: each 2xx goes to the user, which ACKs it");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 33.0)), "Timer M = 64*T1");
        tx.handle_timeout(at(t0, 33.0));
        assert!(tx.is_terminated());
    }

    #[test]
    fn non_invite_final_on_reliable_transport_ends_at_once() {
        let t0 = Instant::now();
        let bye = request(Method::Bye);
        let mut tx = ClientTransaction::new(t0, bye.clone(), true, Timers::default());
        tx.poll_output();
        tx.handle_input(at(t0, 0.1), response(&bye, 200));
        assert_eq!(tx.poll_output().map(|o| matches!(o, Output::Response(_))), Some(true));
        assert_eq!(tx.poll_output(), Some(Output::Terminated), "Timer K is zero on WebSocket");
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn non_invite_proceeding_retransmits_every_t2_on_udp() {
        let t0 = Instant::now();
        let reg = request(Method::Register);
        let mut tx = ClientTransaction::new(t0, reg.clone(), false, Timers::default());
        tx.handle_input(at(t0, 0.1), response(&reg, 100));
        let log = run(t0, &mut tx);
        // The first retransmission was scheduled before the 100 arrived.
        assert_eq!(&transmits(&log)[..4], [0.0, 0.5, 4.5, 8.5]);
    }
}
