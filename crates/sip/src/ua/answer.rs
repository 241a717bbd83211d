//! Being called: the incoming INVITE (contact-center data, the offer or
//! the request for one, 180 Ringing), answering with a 2xx that we
//! retransmit until the ACK on an unreliable transport (RFC 3261 13.3.1.4),
//! rejecting with a chosen status, and the ACK that may carry the answer.

use std::time::Instant;

use super::call::{AwaitAck, Resend};
use super::event::{CallId, CallState, Direction, EndReason, Event, IncomingCall};
use super::offer_answer::{Carrier, Negotiation, direction};
use super::session_timer::{SessionExpires, SessionTimer, UasChoice, choose_as_uas};
use super::transactions::TxId;
use super::{ALLOW, Error, SUPPORTED, UserAgent, is_sdp};
use crate::call_data::CallData;
use crate::dialog::Dialog;
use crate::message::{HeaderName, Request};

impl UserAgent {
    pub(super) fn on_invite(&mut self, now: Instant, tx: TxId, request: Request) {
        let replaces = match self.check_replaces(&request) {
            Ok(r) => r,
            Err(status) => return self.reply(now, tx, status),
        };
        let has_offer = !request.body.is_empty();
        if has_offer && !is_sdp(&request.headers) {
            return self.reply(now, tx, 415);
        }
        let peer_timer = request.headers.tokens(&HeaderName::Supported).any(|t| t.eq_ignore_ascii_case("timer"));
        let session =
            match choose_as_uas(SessionExpires::read(&request.headers), peer_timer, self.config.session_timers) {
                UasChoice::TooSmall(min) => {
                    return self.reply_with(now, tx, 422, |r| r.headers.push(HeaderName::MinSe, min.to_string()));
                }
                UasChoice::On(se) => Some(se),
                UasChoice::Off => None,
            };
        let id = self.new_call(Direction::Incoming, CallState::Incoming);
        let Some(call) = self.calls.get_mut(&id) else { return };
        let dialog = match Dialog::from_uas(&request, &call.local_tag, true) {
            Ok(d) => d,
            Err(_) => {
                self.calls.remove(&id);
                return self.reply(now, tx, 400);
            }
        };
        call.call_id = dialog.id().call_id.clone();
        call.remote = dialog.remote().clone();
        call.target = dialog.remote_target().clone();
        call.dialog = Some(dialog);
        call.invite = Some(tx);
        call.invite_cseq = request.headers.cseq().map_or(1, |c| c.seq);
        call.peer.learn(&request.headers);
        // RFC 3262 3: the first RSeq is best chosen uniformly in 1..2^31-1.
        call.reliable.next_rseq = u32::try_from(self.rng.below(0x7FFF_FFFE)).unwrap_or(0) + 1;
        call.replaces = replaces;
        call.pending_session = session;
        if has_offer {
            let _ = call.oa.remote_offer(Carrier::Invite);
            call.remote_sdp = Some(request.body.clone());
            call.remote_hold = direction(&request.body).is_hold();
        }
        self.txs.set_server_call(tx, id);
        let names: Vec<&str> = self.config.call_data_headers.iter().map(String::as_str).collect();
        let data = CallData::from_request(&request, &names).unwrap_or_else(|_| fallback_call_data(&request, &names));
        let auto_answer = self.config.auto_answer && data.answer_after.is_some();
        let referred_by = request.headers.get(&HeaderName::ReferredBy).map(str::to_owned);
        let info = IncomingCall { data, auto_answer, replaces, referred_by, has_offer };
        self.emit(Event::IncomingCall { call: id, info: Box::new(info) });
        if has_offer {
            self.emit(Event::OfferReceived { call: id, sdp: request.body });
        } else {
            self.emit(Event::OfferNeeded { call: id });
        }
        // A replacing call is accepted without alerting anyone (RFC 3891 3).
        if replaces.is_none() && self.config.ring_at_once {
            let _ = self.send_provisional(now, id, 180, None);
        }
    }

    /// Sends 180 Ringing for an incoming call the owner decided to ring
    /// (with [`Config::ring_at_once`](super::Config::ring_at_once) off).
    pub fn ring(&mut self, now: Instant, call: CallId) -> Result<(), Error> {
        if self.call_mut(call)?.state != CallState::Incoming {
            return Err(self.wrong_state(call, "ring"));
        }
        let sent = self.send_provisional(now, call, 180, None);
        self.flush(now);
        sent
    }

    /// Answers an incoming call with a 2xx. `sdp` is the answer to the
    /// caller's offer, or, when the INVITE had none
    /// ([`Event::OfferNeeded`]), our offer (its answer comes in the ACK as
    /// [`Event::AnswerReceived`]). After early media sent reliably, the
    /// answer is already given and `sdp` may be empty.
    pub fn answer(&mut self, now: Instant, call: CallId, sdp: Vec<u8>) -> Result<(), Error> {
        let c = self.call_mut(call)?;
        if c.state != CallState::Incoming {
            return Err(self.wrong_state(call, "answer"));
        }
        let needs_body = !matches!(c.oa.state(), Negotiation::Stable) || !c.oa.is_established();
        if needs_body && sdp.is_empty() {
            return Err(Error::NoOfferPending(call));
        }
        if c.reliable.unacked.is_some() {
            // RFC 3262 3: no 2xx before the PRACK of a provisional with SDP.
            c.reliable.held_answer = Some(sdp);
            return Ok(());
        }
        self.send_answer(now, call, sdp);
        self.flush(now);
        Ok(())
    }

    /// Sends the 2xx to the initial INVITE.
    pub(super) fn send_answer(&mut self, now: Instant, id: CallId, sdp: Vec<u8>) {
        let contact = self.contact();
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(tx) = call.invite else { return };
        let (body, answer_expected) = match call.oa.state() {
            Negotiation::RemoteOffer(_) => {
                call.oa.local_answer();
                (Some(sdp), false)
            }
            Negotiation::Stable if !call.oa.is_established() => {
                let _ = call.oa.local_offer(Carrier::Success);
                (Some(sdp), true)
            }
            _ => (None, false),
        };
        if let Some(b) = &body {
            call.local_sdp = Some(b.clone());
        }
        call.session = call.pending_session.take().map(|se| {
            let we_refresh = se.refresher == Some(super::session_timer::Refresher::Uas);
            SessionTimer::start(now, se.interval, we_refresh)
        });
        let cseq = call.invite_cseq;
        let Some(mut response) = self.response_to(tx, 200) else { return };
        response.headers.push(HeaderName::Contact, contact);
        response.headers.push(HeaderName::Allow, ALLOW);
        response.headers.push(HeaderName::Supported, SUPPORTED);
        self.session_response_headers(id, &mut response);
        if let Some(b) = body {
            response.headers.push(HeaderName::ContentType, "application/sdp");
            response.body = b;
        }
        let wire = response.to_bytes();
        if self.txs.respond(now, tx, response, &mut self.outputs).is_err() {
            return;
        }
        let reliable = self.reliable();
        let t1 = self.config.timers.t1;
        let deadline = now + self.config.timers.transaction_timeout();
        let Some(call) = self.calls.get_mut(&id) else { return };
        if let Some(d) = call.dialog.as_mut() {
            d.confirm();
        }
        call.state = CallState::Connected;
        call.await_ack = Some(AwaitAck {
            cseq,
            wire,
            resend: (!reliable).then_some(Resend { at: now + t1, interval: t1 }),
            deadline,
            answer_expected,
        });
        let replaces = call.replaces;
        self.emit(Event::Connected { call: id });
        if let Some(old) = replaces {
            self.replace_call(now, old);
        }
    }

    /// Rejects an incoming call (486 Busy Here, 603 Decline, 480 ...).
    pub fn reject(&mut self, now: Instant, call: CallId, status: u16) -> Result<(), Error> {
        if !(300..700).contains(&status) {
            return Err(Error::Status(status));
        }
        let c = self.call_mut(call)?;
        if c.state != CallState::Incoming {
            return Err(self.wrong_state(call, "reject"));
        }
        if let Some(tx) = c.invite {
            self.reply(now, tx, status);
        }
        self.end_call(now, call, EndReason::Rejected, Some(status));
        self.flush(now);
        Ok(())
    }

    /// An ACK for a 2xx: the INVITE exchange is complete, and an answer to
    /// an offer we put in the 2xx arrives here.
    pub(super) fn on_ack(&mut self, now: Instant, request: Request) {
        let Some(id) = self.call_for_request(&request) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        let cseq = request.headers.cseq().map_or(0, |c| c.seq);
        let Some(waiting) = call.await_ack.take_if(|a| a.cseq == cseq) else { return };
        if !waiting.answer_expected {
            return;
        }
        if request.body.is_empty() {
            // 13.3.1.4: an offer in our 2xx must be answered in the ACK.
            return self.bye_call(now, id, EndReason::Failed, None);
        }
        call.oa.remote_answer();
        call.remote_sdp = Some(request.body.clone());
        self.emit(Event::AnswerReceived { call: id, sdp: request.body });
    }

    /// Our 2xx waits for its ACK: resend it (unreliable transport), or give
    /// up after 64*T1 and end the session with BYE (13.3.1.4).
    pub(super) fn ack_timeout(&mut self, now: Instant, id: CallId) {
        let t2 = self.config.timers.t2;
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(waiting) = call.await_ack.as_mut() else { return };
        if waiting.deadline <= now {
            call.await_ack = None;
            return self.bye_call(now, id, EndReason::Timeout, None);
        }
        if let Some(resend) = waiting.resend.filter(|r| r.at <= now) {
            let interval = (resend.interval * 2).min(t2);
            waiting.resend = Some(Resend { at: now + interval, interval });
            let wire = waiting.wire.clone();
            self.transmit(wire);
        }
    }
}

/// Call data read leniently when a header in it is malformed: the caller
/// from From, the configured fields, and nothing else.
fn fallback_call_data(request: &Request, names: &[&str]) -> CallData {
    let caller = request.headers.from().unwrap_or_else(|_| crate::message::NameAddr::new(request.uri.clone()));
    let fields = names
        .iter()
        .filter_map(|n| request.headers.get(&HeaderName::parse(n)).map(|v| ((*n).to_owned(), v.to_owned())))
        .collect();
    CallData { caller, asserted: false, fields, user_to_user: None, answer_after: None }
}
