//! Server transactions: INVITE (17.2.1, with RFC 6026's Accepted state) and
//! non-INVITE (17.2.2).

use std::time::Instant;

use super::{Backoff, Core, InvitePhase, NonInviteState, Output, Timers, due, is_provisional, is_success};
use crate::Error;
use crate::message::{Method, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

impl InvitePhase for InviteState {
    const TERMINATED: Self = InviteState::Terminated;

    fn name(self) -> &'static str {
        match self {
            InviteState::Proceeding => "Proceeding",
            InviteState::Completed => "Completed",
            InviteState::Confirmed => "Confirmed",
            InviteState::Accepted => "Accepted",
            InviteState::Terminated => "Terminated",
        }
    }
}

type State = super::State<InviteState>;

/// A server transaction: absorbs retransmitted requests, sends its user's
/// responses and retransmits the final one as the RFC requires.
#[derive(Debug)]
pub struct ServerTransaction {
    request: Request,
    last_response: Option<Vec<u8>>,
    core: Core<InviteState>,
}

impl ServerTransaction {
    /// Starts the transaction for a new request. For an INVITE a 100 Trying
    /// is queued at once, which RFC 3261 17.2.1 allows and which stops the
    /// client's Timer A without waiting 200 ms to see what the user does.
    pub fn new(_now: Instant, request: Request, reliable: bool, timers: Timers) -> Self {
        let invite = request.method == Method::Invite;
        let state =
            if invite { State::Invite(InviteState::Proceeding) } else { State::NonInvite(NonInviteState::Trying) };
        let mut tx = Self { request, last_response: None, core: Core::new(state, reliable, timers) };
        if invite {
            tx.send(Response::to_request(&tx.request, 100));
        }
        tx
    }

    /// The request that created this transaction.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The state's RFC name, for logs.
    pub fn state(&self) -> &'static str {
        self.core.state.name()
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.core.state.is_terminated()
    }

    fn send(&mut self, response: Response) {
        let wire = response.to_bytes();
        self.core.outputs.push_back(Output::Transmit(wire.clone()));
        self.last_response = Some(wire);
    }

    fn resend(&mut self) {
        if let Some(wire) = &self.last_response {
            self.core.outputs.push_back(Output::Transmit(wire.clone()));
        }
    }

    /// Feeds a request that matched this transaction (17.2.3): a
    /// retransmission of the original, or the ACK for a final response.
    pub fn handle_input(&mut self, now: Instant, request: Request) {
        let ack = request.method == Method::Ack;
        match self.core.state {
            State::Invite(InviteState::Completed) if ack => {
                self.core.retransmit = None;
                self.core.timeout = None;
                self.core.state = State::Invite(InviteState::Confirmed);
                self.core.linger_for(now, self.core.timers.t4); // Timer I
            }
            // RFC 6026: the ACK to a 2xx belongs to the user (dialog layer).
            State::Invite(InviteState::Accepted) if ack => self.core.outputs.push_back(Output::Ack(request)),
            _ if ack => {}
            State::Invite(InviteState::Proceeding | InviteState::Completed)
            | State::NonInvite(NonInviteState::Proceeding | NonInviteState::Completed) => self.resend(),
            _ => {}
        }
    }

    /// Sends the user's response. Fails when the state allows none: after a
    /// final response, or a 2xx after anything but Proceeding (Accepted takes
    /// further 2xx, which the user retransmits itself for an INVITE).
    pub fn respond(&mut self, now: Instant, response: Response) -> Result<(), Error> {
        let status = response.status;
        match self.core.state {
            State::Invite(InviteState::Proceeding) => {
                self.send(response);
                if is_success(status) {
                    self.core.state = State::Invite(InviteState::Accepted);
                    self.core.timeout = Some(now + self.core.timers.transaction_timeout()); // Timer L
                } else if !is_provisional(status) {
                    self.core.state = State::Invite(InviteState::Completed);
                    if !self.core.reliable {
                        self.core.retransmit =
                            Some(Backoff { at: now + self.core.timers.t1, interval: self.core.timers.t1 });
                    }
                    self.core.timeout = Some(now + self.core.timers.transaction_timeout()); // Timer H
                }
            }
            State::Invite(InviteState::Accepted) if is_success(status) => self.send(response),
            State::NonInvite(NonInviteState::Trying | NonInviteState::Proceeding) => {
                self.send(response);
                if is_provisional(status) {
                    self.core.state = State::NonInvite(NonInviteState::Proceeding);
                } else {
                    self.core.state = State::NonInvite(NonInviteState::Completed);
                    self.core.linger_for(now, self.core.timers.transaction_timeout()); // Timer J
                }
            }
            _ => return Err(Error::TransactionState { state: self.state() }),
        }
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.core.timeout, now) {
            // Timer H means the ACK never came; Timer L ends Accepted quietly.
            if self.core.state == State::Invite(InviteState::Completed) {
                self.core.outputs.push_back(Output::TimedOut);
            }
            self.core.terminate();
            return;
        }
        if due(self.core.linger, now) {
            self.core.terminate();
            return;
        }
        if let Some(b) = self.core.retransmit.filter(|b| b.at <= now) {
            self.resend();
            let interval = (b.interval * 2).min(self.core.timers.t2);
            self.core.retransmit = Some(Backoff { at: b.at + interval, interval });
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{at, request, response, secs};
    use super::*;
    use crate::message::{Message, parse};

    fn sent_status(o: Option<Output>) -> Option<u16> {
        match o {
            Some(Output::Transmit(b)) => match parse(&b) {
                Ok(Message::Response(r)) => Some(r.status),
                _ => None,
            },
            _ => None,
        }
    }

    #[test]
    fn invite_gets_100_trying_at_once() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(t0, request(Method::Invite), true, Timers::default());
        assert_eq!(sent_status(tx.poll_output()), Some(100));
        tx.handle_input(at(t0, 0.5), request(Method::Invite));
        assert_eq!(sent_status(tx.poll_output()), Some(100), "a retransmitted INVITE gets the last provisional");
    }

    #[test]
    fn invite_rejected_over_udp_retransmits_with_timer_g_until_ack_then_timer_i() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let mut tx = ServerTransaction::new(t0, invite.clone(), false, Timers::default());
        tx.poll_output();
        tx.respond(t0, response(&invite, 486)).expect("final from Proceeding");
        assert_eq!(sent_status(tx.poll_output()), Some(486));
        let mut resent = Vec::new();
        while let Some(next) = tx.poll_timeout().filter(|t| secs(t0, *t) < 10.0) {
            tx.handle_timeout(next);
            while tx.poll_output().is_some() {
                resent.push(secs(t0, next));
            }
        }
        assert_eq!(resent, [0.5, 1.5, 3.5, 7.5], "Timer G doubles up to T2");
        let ack = request(Method::Ack);
        tx.handle_input(at(t0, 10.0), ack);
        assert_eq!(tx.state(), "Confirmed");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 15.0)), "Timer I = T4");
        tx.handle_timeout(at(t0, 15.0));
        assert_eq!(tx.poll_output(), Some(Output::Terminated));
    }

    #[test]
    fn timer_h_fires_when_no_ack_comes() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let mut tx = ServerTransaction::new(t0, invite.clone(), true, Timers::default());
        tx.respond(t0, response(&invite, 603)).expect("final");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32.0)), "Timer H = 64*T1, no Timer G on WebSocket");
        tx.handle_timeout(at(t0, 32.0));
        let outs: Vec<_> = std::iter::from_fn(|| tx.poll_output()).skip(2).collect();
        assert_eq!(outs, [Output::TimedOut, Output::Terminated]);
    }

    #[test]
    fn invite_accepted_hands_acks_up_and_ends_at_timer_l() {
        let t0 = Instant::now();
        let invite = request(Method::Invite);
        let mut tx = ServerTransaction::new(t0, invite.clone(), true, Timers::default());
        tx.respond(t0, response(&invite, 200)).expect("2xx");
        tx.respond(at(t0, 0.5), response(&invite, 200)).expect("the user retransmits its 2xx");
        assert!(tx.respond(at(t0, 0.6), response(&invite, 486)).is_err(), "no final after a 2xx");
        tx.handle_input(at(t0, 1.0), request(Method::Invite));
        tx.handle_input(at(t0, 1.0), request(Method::Ack));
        let outs: Vec<_> = std::iter::from_fn(|| tx.poll_output()).collect();
        assert_eq!(outs.len(), 4, "100, 200, 200, ACK; the INVITE retransmission is absorbed: {outs:?}");
        assert!(matches!(outs.last(), Some(Output::Ack(_))));
        tx.handle_timeout(at(t0, 32.0));
        assert!(tx.is_terminated());
    }

    #[test]
    fn non_invite_absorbs_then_resends_and_ends_by_timer_j() {
        let t0 = Instant::now();
        let opts = request(Method::Options);
        let mut tx = ServerTransaction::new(t0, opts.clone(), false, Timers::default());
        tx.handle_input(t0, opts.clone());
        assert_eq!(tx.poll_output(), None, "Trying absorbs retransmissions");
        tx.respond(t0, response(&opts, 200)).expect("final");
        assert_eq!(sent_status(tx.poll_output()), Some(200));
        tx.handle_input(at(t0, 1.0), opts.clone());
        assert_eq!(sent_status(tx.poll_output()), Some(200), "Completed resends the final");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32.0)), "Timer J = 64*T1 on UDP");
        let mut reliable = ServerTransaction::new(t0, opts.clone(), true, Timers::default());
        reliable.respond(t0, response(&opts, 200)).expect("final");
        assert!(reliable.is_terminated(), "Timer J is zero on WebSocket");
    }
}
