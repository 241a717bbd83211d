//! Re-INVITE and UPDATE, both ways: hold and resume, other media changes,
//! an empty re-INVITE that asks for an offer (offer in the 2xx, answer in
//! the ACK), target refresh after a reconnect, and glare (RFC 3261 14.1:
//! 491, then a retry after a random delay that depends on who owns the
//! Call-ID).

use std::time::{Duration, Instant};

use super::call::{AwaitAck, Glare, IncomingReoffer, Purpose, Reoffer, Resend};
use super::event::{CallId, CallState, Direction, EndReason, Event};
use super::offer_answer::{Carrier, direction};
use super::transactions::{Op, Owner, TxId};
use super::{ALLOW, Error, SUPPORTED, UserAgent, is_sdp};
use crate::message::{HeaderName, Method, Request, Response};

/// Which request carries a re-offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReofferMethod {
    /// A re-INVITE (RFC 3261 14): works with every peer.
    Invite,
    /// UPDATE (RFC 3311): lighter, no ACK; needs a peer that allows it.
    Update,
}

impl UserAgent {
    /// Puts the far end on hold with `offer` (sendonly or inactive) in a
    /// re-INVITE; [`Event::Held`] follows the answer.
    pub fn hold(&mut self, now: Instant, call: CallId, offer: Vec<u8>) -> Result<(), Error> {
        self.reoffer(now, call, offer, ReofferMethod::Invite)
    }

    /// Takes the far end off hold with `offer` (sendrecv) in a re-INVITE;
    /// [`Event::Resumed`] follows the answer.
    pub fn resume(&mut self, now: Instant, call: CallId, offer: Vec<u8>) -> Result<(), Error> {
        self.reoffer(now, call, offer, ReofferMethod::Invite)
    }

    /// Sends a new offer in a re-INVITE or UPDATE (hold, resume, codec or
    /// address change). Refused with [`Error::OfferPending`] while another
    /// exchange is in progress.
    pub fn reoffer(&mut self, now: Instant, call: CallId, offer: Vec<u8>, method: ReofferMethod) -> Result<(), Error> {
        let method = match method {
            ReofferMethod::Invite => Method::Invite,
            ReofferMethod::Update => Method::Update,
        };
        self.send_reoffer(now, call, method, Purpose::Offer, Some(offer))?;
        self.flush(now);
        Ok(())
    }

    /// Sends a re-INVITE without SDP, asking the far end for an offer
    /// ([`Event::OfferReceived`] follows; answer it with
    /// [`UserAgent::accept_answer`], which goes in the ACK).
    pub fn request_offer(&mut self, now: Instant, call: CallId) -> Result<(), Error> {
        self.send_reoffer(now, call, Method::Invite, Purpose::AskOffer, None)?;
        self.flush(now);
        Ok(())
    }

    pub(super) fn send_reoffer(
        &mut self,
        now: Instant,
        id: CallId,
        method: Method,
        purpose: Purpose,
        offer: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let call = self.calls.get(&id).ok_or(Error::UnknownCall(id))?;
        if call.state != CallState::Connected {
            return Err(self.wrong_state(id, "re-offer"));
        }
        // 14.1: no re-INVITE while another INVITE transaction is in
        // progress in either direction; and one exchange at a time.
        let busy = call.reoffer.is_some()
            || call.incoming_reoffer.is_some()
            || call.ack_waits_for_answer.is_some()
            || call.await_ack.is_some()
            || (offer.is_some() || method == Method::Invite) && call.oa.can_offer().is_err();
        if busy {
            return Err(Error::OfferPending(id));
        }
        let mut request = self.in_dialog(id, method.clone())?;
        request.headers.push(HeaderName::Allow, ALLOW);
        if method == Method::Invite {
            request.headers.push(HeaderName::Supported, SUPPORTED);
        }
        self.session_request_headers(id, &mut request);
        if let Some(sdp) = &offer {
            request.headers.push(HeaderName::ContentType, "application/sdp");
            request.body = sdp.clone();
        }
        let tx = self.send_request(now, request, Owner::Call(id, Op::Reoffer));
        let Some(call) = self.calls.get_mut(&id) else { return Ok(()) };
        if offer.is_some() {
            let carrier = if method == Method::Invite { Carrier::Invite } else { Carrier::Update };
            let _ = call.oa.local_offer(carrier);
        }
        call.glare = None;
        call.reoffer = Some(Reoffer { tx, method, purpose, offer });
        Ok(())
    }

    pub(super) fn on_reoffer_response(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let status = response.status;
        let Some(call) = self.calls.get_mut(&id) else { return };
        let cseq = response.headers.cseq().map_or(0, |c| c.seq);
        let Some(sent) = call.reoffer.clone().filter(|r| r.tx == tx) else {
            // A retransmitted 2xx to a re-INVITE already answered: re-ACK.
            if let Some((seq, wire)) = call.ack.clone()
                && (200..300).contains(&status)
                && seq == cseq
            {
                self.transmit(wire);
            }
            return;
        };
        if status < 200 {
            return;
        }
        call.reoffer = None;
        match status {
            200..=299 => self.reoffer_accepted(now, id, sent, response),
            491 => {
                call.oa.withdraw_local();
                // 14.1: the owner of the Call-ID (who sent the first INVITE)
                // waits 2.1-4 s, the other side 0-2 s, in 10 ms steps.
                let delay = match call.direction {
                    Direction::Outgoing => self.rng.between(Duration::from_millis(2100), Duration::from_secs(4)),
                    Direction::Incoming => self.rng.between(Duration::ZERO, Duration::from_secs(2)),
                };
                call.glare =
                    Some(Glare { at: now + delay, method: sent.method, purpose: sent.purpose, offer: sent.offer });
            }
            401 | 407 => match self.retry_with_credentials(now, tx, &response) {
                Some(retry) => {
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.reoffer = Some(Reoffer { tx: retry, ..sent });
                    }
                }
                None => self.reoffer_refused(id, &sent, status),
            },
            // 14.1: the dialog is gone, or the far end is.
            408 | 481 => {
                let reason = if status == 408 { EndReason::Timeout } else { EndReason::Failed };
                self.bye_call(now, id, reason, Some(status));
            }
            _ => self.reoffer_refused(id, &sent, status),
        }
    }

    fn reoffer_refused(&mut self, id: CallId, sent: &Reoffer, status: u16) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.oa.withdraw_local();
        match sent.purpose {
            Purpose::Offer | Purpose::AskOffer => self.emit(Event::OfferRejected { call: id, status }),
            // A refresh the far end refuses leaves the session timer to run
            // out; a target refresh refused leaves the old target.
            Purpose::Refresh | Purpose::Reconnect => {}
        }
    }

    fn reoffer_accepted(&mut self, now: Instant, id: CallId, sent: Reoffer, response: Response) {
        let cseq = response.headers.cseq().map_or(0, |c| c.seq);
        let Some(call) = self.calls.get_mut(&id) else { return };
        if let Some(d) = call.dialog.as_mut() {
            let _ = d.handle_response(&sent.method, &response);
        }
        call.peer.learn(&response.headers);
        self.session_from_response(now, id, &response);
        let body = if is_sdp(&response.headers) { response.body } else { Vec::new() };
        let invite = sent.method == Method::Invite;
        if sent.offer.is_some() {
            self.take_answer(id, body, true);
            if invite {
                self.send_ack(id, cseq, None);
            }
        } else if invite && !body.is_empty() {
            // An offer in the 2xx to our empty re-INVITE: the ACK carries
            // the owner's answer.
            let Some(call) = self.calls.get_mut(&id) else { return };
            let _ = call.oa.remote_offer(Carrier::Success);
            call.ack_waits_for_answer = Some(cseq);
            call.pending_offer = Some(body.clone());
            self.emit(Event::OfferReceived { call: id, sdp: body });
        } else if invite {
            self.send_ack(id, cseq, None);
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        match sent.purpose {
            Purpose::Offer => {
                let hold = sent.offer.as_deref().is_some_and(|o| direction(o).is_hold());
                if let Some(o) = sent.offer {
                    call.local_sdp = Some(o);
                }
                if hold != call.local_hold {
                    call.local_hold = hold;
                    let event = if hold { Event::Held { call: id } } else { Event::Resumed { call: id } };
                    self.emit(event);
                }
            }
            Purpose::Reconnect => {
                call.needs_refresh = false;
                self.emit(Event::CallReconnected { call: id });
            }
            Purpose::Refresh | Purpose::AskOffer => {}
        }
    }

    /// A 491 back-off ran out: send the re-offer again if the dialog is
    /// free, else wait a little more.
    pub(super) fn glare_timeout(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(glare) = call.glare.take_if(|g| g.at <= now) else { return };
        let (method, purpose, offer) = (glare.method.clone(), glare.purpose, glare.offer.clone());
        if self.send_reoffer(now, id, method, purpose, offer).is_err() {
            let delay = self.rng.between(Duration::from_millis(500), Duration::from_secs(2));
            if let Some(call) = self.calls.get_mut(&id) {
                call.glare = Some(Glare { at: now + delay, ..glare });
            }
        }
    }

    /// A target refresh after a reconnect: UPDATE when the peer allows it,
    /// else a re-INVITE with our current SDP (an unchanged offer).
    pub(super) fn target_refresh(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        let offer = call.local_sdp.clone();
        let sent = if call.peer.update {
            self.send_reoffer(now, id, Method::Update, Purpose::Reconnect, None)
        } else {
            self.send_reoffer(now, id, Method::Invite, Purpose::Reconnect, offer)
        };
        if sent.is_err() {
            // Something else is in flight; its 2xx carries our new
            // Contact just as well.
            if let Some(call) = self.calls.get_mut(&id) {
                call.needs_refresh = false;
            }
            self.emit(Event::CallReconnected { call: id });
        }
    }

    /// A re-INVITE from the far end (14.2).
    pub(super) fn on_reinvite(&mut self, now: Instant, tx: TxId, id: CallId, request: Request) {
        self.on_incoming_reoffer(now, tx, id, request, true);
    }

    /// An UPDATE from the far end (RFC 3311 5.2).
    pub(super) fn on_update(&mut self, now: Instant, tx: TxId, id: CallId, request: Request) {
        self.on_incoming_reoffer(now, tx, id, request, false);
    }

    fn on_incoming_reoffer(&mut self, now: Instant, tx: TxId, id: CallId, request: Request, invite: bool) {
        let Some(call) = self.calls.get(&id) else { return self.reply(now, tx, 481) };
        if call.state == CallState::Terminating {
            return self.reply(now, tx, 481);
        }
        let has_offer = !request.body.is_empty();
        if has_offer && !is_sdp(&request.headers) {
            return self.reply(now, tx, 415);
        }
        // Our re-INVITE crossed theirs: glare, 491 (14.2). An INVITE of
        // theirs still unanswered, or our 2xx not yet ACKed: 500. Offers
        // crossing in UPDATEs are caught by the offer/answer state below.
        let our_invite_pending =
            call.reoffer.as_ref().is_some_and(|r| r.method == Method::Invite && self.txs.client_pending(r.tx));
        if invite && our_invite_pending {
            return self.reply(now, tx, 491);
        }
        let theirs_pending = call.incoming_reoffer.is_some() || (invite && call.await_ack.is_some());
        let early_invite = invite && call.state != CallState::Connected;
        if theirs_pending || early_invite {
            return self.reply(now, tx, 500);
        }
        if has_offer || invite {
            let refusal = call.oa.can_offer().err();
            if let Some(refusal) = refusal {
                return self.reply(now, tx, refusal.status());
            }
        }
        self.session_from_request(now, id, &request);
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.peer.learn(&request.headers);
        if !has_offer && !invite {
            // An UPDATE without SDP: a session or target refresh.
            return self.reoffer_2xx(now, id, tx, None, false);
        }
        let unchanged = has_offer && call.remote_sdp.as_deref() == Some(request.body.as_slice());
        if unchanged && let Some(ours) = call.local_sdp.clone() {
            // The same offer again (a refresh, or a target refresh after
            // the far end reconnected): answer with the current session,
            // no need to bother the owner.
            let carrier = if invite { Carrier::Invite } else { Carrier::Update };
            let _ = call.oa.remote_offer(carrier);
            call.oa.local_answer();
            return self.reoffer_2xx(now, id, tx, Some(ours), false);
        }
        let hold = has_offer && direction(&request.body).is_hold();
        if has_offer {
            let carrier = if invite { Carrier::Invite } else { Carrier::Update };
            let _ = call.oa.remote_offer(carrier);
            call.pending_offer = Some(request.body.clone());
        }
        call.incoming_reoffer = Some(IncomingReoffer { tx, invite, has_offer, hold });
        if has_offer {
            self.emit(Event::OfferReceived { call: id, sdp: request.body });
        } else {
            self.emit(Event::OfferNeeded { call: id });
        }
    }

    /// Our 2xx to the far end's re-INVITE or UPDATE, with `sdp` if any.
    fn reoffer_2xx(&mut self, now: Instant, id: CallId, tx: TxId, sdp: Option<Vec<u8>>, answer_expected: bool) {
        let contact = self.contact();
        let invite = self.txs.server_request(tx).is_some_and(|r| r.method == Method::Invite);
        let cseq = self.txs.server_request(tx).and_then(|r| r.headers.cseq().ok()).map_or(0, |c| c.seq);
        let Some(mut response) = self.response_to(tx, 200) else { return };
        response.headers.push(HeaderName::Contact, contact);
        response.headers.push(HeaderName::Allow, ALLOW);
        response.headers.push(HeaderName::Supported, SUPPORTED);
        self.session_response_headers(id, &mut response);
        if let Some(sdp) = sdp {
            response.headers.push(HeaderName::ContentType, "application/sdp");
            response.body = sdp;
        }
        let wire = response.to_bytes();
        if self.txs.respond(now, tx, response, &mut self.outputs).is_err() || !invite {
            return;
        }
        let reliable = self.reliable();
        let t1 = self.config.timers.t1;
        let deadline = now + self.config.timers.transaction_timeout();
        if let Some(call) = self.calls.get_mut(&id) {
            call.await_ack = Some(AwaitAck {
                cseq,
                wire,
                resend: (!reliable).then_some(Resend { at: now + t1, interval: t1 }),
                deadline,
                answer_expected,
            });
        }
    }

    /// Gives the answer to the far end's offer ([`Event::OfferReceived`]
    /// in a re-INVITE, an UPDATE, or the 2xx to our
    /// [`UserAgent::request_offer`]).
    pub fn accept_answer(&mut self, now: Instant, call: CallId, answer: Vec<u8>) -> Result<(), Error> {
        let c = self.call_mut(call)?;
        if let Some(pending) = c.incoming_reoffer.filter(|r| r.has_offer) {
            c.incoming_reoffer = None;
            c.oa.local_answer();
            c.local_sdp = Some(answer.clone());
            c.remote_sdp = c.pending_offer.take();
            let changed = pending.hold != c.remote_hold;
            c.remote_hold = pending.hold;
            self.reoffer_2xx(now, call, pending.tx, Some(answer), false);
            if changed {
                let e = if pending.hold { Event::RemoteHeld { call } } else { Event::RemoteResumed { call } };
                self.emit(e);
            }
            self.flush(now);
            return Ok(());
        }
        if let Some(cseq) = c.ack_waits_for_answer.take() {
            c.oa.local_answer();
            c.local_sdp = Some(answer.clone());
            c.remote_sdp = c.pending_offer.take();
            let hold = c.remote_sdp.as_deref().is_some_and(|o| direction(o).is_hold());
            let changed = hold != c.remote_hold;
            c.remote_hold = hold;
            self.send_ack(call, cseq, Some(answer));
            if changed {
                let e = if hold { Event::RemoteHeld { call } } else { Event::RemoteResumed { call } };
                self.emit(e);
            }
            return Ok(());
        }
        Err(Error::NoOfferPending(call))
    }

    /// Refuses the far end's pending offer (488 Not Acceptable Here by
    /// default); the session stays as it was.
    pub fn reject_offer(&mut self, now: Instant, call: CallId, status: u16) -> Result<(), Error> {
        if !(400..700).contains(&status) {
            return Err(Error::Status(status));
        }
        let c = self.call_mut(call)?;
        let Some(pending) = c.incoming_reoffer.take() else { return Err(Error::NoOfferPending(call)) };
        c.oa.reject_remote();
        c.pending_offer = None;
        self.reply(now, pending.tx, status);
        self.flush(now);
        Ok(())
    }

    /// Gives an offer the far end asked for ([`Event::OfferNeeded`] after
    /// an empty re-INVITE: it goes in our 2xx and the answer comes in the
    /// ACK), or the offer for a call a transfer created
    /// ([`Event::TransferRequested`]: the INVITE goes out now).
    pub fn provide_offer(&mut self, now: Instant, call: CallId, offer: Vec<u8>) -> Result<(), Error> {
        let c = self.call_mut(call)?;
        if c.state == CallState::AwaitingOffer {
            c.local_sdp = Some(offer);
            c.state = CallState::Dialing;
            self.send_invite(now, call);
            self.emit(Event::Dialing { call });
            self.flush(now);
            return Ok(());
        }
        if let Some(pending) = c.incoming_reoffer.filter(|r| !r.has_offer && r.invite) {
            c.incoming_reoffer = None;
            let _ = c.oa.local_offer(Carrier::Success);
            c.local_sdp = Some(offer.clone());
            let hold = direction(&offer).is_hold();
            if hold != c.local_hold {
                c.local_hold = hold;
            }
            self.reoffer_2xx(now, call, pending.tx, Some(offer), true);
            self.flush(now);
            return Ok(());
        }
        Err(Error::NoOfferPending(call))
    }
}
