//! Dialing: the INVITE with the owner's offer, its provisional responses
//! (ringing, early media, reliable ones PRACKed), the 2xx and our ACK (the
//! UA core's job for a 2xx, RFC 3261 13.2.2.4, re-sent for every
//! retransmitted 2xx), and the failures: busy, decline, redirect,
//! challenge (401/407), 422, Timer B.

use std::time::Instant;

use super::call::Cancel;
use super::event::{CallId, CallState, Direction, EndReason, Event};
use super::offer_answer::Carrier;
use super::transactions::{Op, Owner, TxId};
use super::{ALLOW, Error, SUPPORTED, UserAgent, is_sdp};
use crate::dialog::Dialog;
use crate::message::{Contact, HeaderName, Method, NameAddr, Request, Response, Uri};

impl UserAgent {
    /// Calls `to` with the SDP `offer` from the media layer. The call is
    /// reported as [`Event::Dialing`], then [`Event::Ringing`] /
    /// [`Event::EarlyMedia`], [`Event::AnswerReceived`] and
    /// [`Event::Connected`], or [`Event::Ended`].
    pub fn dial(&mut self, now: Instant, to: Uri, offer: Vec<u8>) -> Result<CallId, Error> {
        if !self.connected {
            return Err(Error::NotConnected);
        }
        let id = self.new_call(Direction::Outgoing, CallState::Dialing);
        if let Some(call) = self.calls.get_mut(&id) {
            call.remote = NameAddr::new(to.clone());
            call.target = to;
            call.local_sdp = Some(offer);
        }
        self.send_invite(now, id);
        self.emit(Event::Dialing { call: id });
        self.flush(now);
        Ok(id)
    }

    /// Sends (or, after a 401/407/422, re-sends) the call's initial INVITE.
    pub(super) fn send_invite(&mut self, now: Instant, id: CallId) {
        let via = self.via();
        let contact = self.contact();
        let route = self.proxy_route();
        let from = {
            let mut from = NameAddr::new(self.config.aor.clone());
            from.display_name = self.config.display_name.clone();
            from
        };
        let user_agent = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&id) else { return };
        let mut r = Request::new(Method::Invite, call.target.clone());
        r.headers.push(HeaderName::Via, via);
        r.headers.push(HeaderName::MaxForwards, "70");
        if let Some(route) = route {
            r.headers.push(HeaderName::Route, route);
        }
        let mut from = from;
        from.params.set("tag", Some(&call.local_tag));
        r.headers.push(HeaderName::From, from.to_string());
        r.headers.push(HeaderName::To, call.remote.to_string());
        r.headers.push(HeaderName::CallId, call.call_id.clone());
        r.headers.push(HeaderName::CSeq, format!("{} INVITE", call.invite_cseq));
        r.headers.push(HeaderName::Contact, contact);
        r.headers.push(HeaderName::Allow, ALLOW);
        r.headers.push(HeaderName::Supported, SUPPORTED);
        for (name, value) in &call.extra {
            r.headers.push(name.clone(), value.clone());
        }
        if let Some(ua) = user_agent {
            r.headers.push(HeaderName::UserAgent, ua);
        }
        if let Some(offer) = call.local_sdp.clone().filter(|o| !o.is_empty()) {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = offer;
            call.oa = Default::default();
            let _ = call.oa.local_offer(Carrier::Invite);
        }
        self.session_headers(id, &mut r);
        let tx = self.send_request(now, r, Owner::Call(id, Op::Invite));
        if let Some(call) = self.calls.get_mut(&id) {
            call.invite = Some(tx);
        }
    }

    pub(super) fn on_invite_response(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let Some(call) = self.calls.get(&id) else {
            if (200..300).contains(&response.status) {
                self.ack_and_bye_stray(now, tx, &response);
            }
            return;
        };
        if call.invite != Some(tx) {
            return; // a transaction replaced by a retry with credentials
        }
        match response.status {
            100 => {}
            101..=199 => self.on_invite_provisional(now, id, tx, response),
            200..=299 => self.on_invite_success(now, id, tx, response),
            _ => self.on_invite_failure(now, id, tx, response),
        }
    }

    fn on_invite_provisional(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let request = self.txs.client_request(tx).cloned();
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.peer.learn(&response.headers);
        let tagged = response.headers.to().is_ok_and(|t| t.tag().is_some());
        if tagged
            && call.dialog.is_none()
            && let Some(request) = &request
        {
            call.dialog = Dialog::from_uac(request, &response).ok();
        }
        let reliable = response.headers.tokens(&HeaderName::Require).any(|t| t.eq_ignore_ascii_case("100rel"))
            && response.headers.get(&HeaderName::RSeq).is_some();
        if reliable && !self.on_reliable_provisional(now, id, &response) {
            return; // a retransmission or out of order: already handled
        }
        if !response.body.is_empty() && is_sdp(&response.headers) {
            self.take_answer(id, response.body.clone(), reliable);
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        let early = !response.body.is_empty() || response.status == 183;
        let event = match (call.state, early) {
            (CallState::Dialing | CallState::Ringing, true) => {
                call.state = CallState::Early;
                Some(Event::EarlyMedia { call: id })
            }
            (CallState::Dialing, false) => {
                call.state = CallState::Ringing;
                Some(Event::Ringing { call: id })
            }
            _ => None,
        };
        let cancel_now = call.cancel == Cancel::Pending;
        let referred = call.referred_from;
        if let Some(e) = event {
            self.emit(e);
        }
        if cancel_now {
            self.send_cancel(now, id);
        }
        if let Some(old) = referred
            && matches!(response.status, 180 | 183)
        {
            self.notify_progress(now, old, response.status);
        }
    }

    /// An answer to our offer arrived (in a 1xx or 2xx). Reported when new;
    /// it completes the exchange when `final_answer` (a 2xx or a reliable
    /// 1xx; an unreliable 1xx only previews it, RFC 3261 13.2.1).
    pub(super) fn take_answer(&mut self, id: CallId, sdp: Vec<u8>, final_answer: bool) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if sdp.is_empty() {
            return;
        }
        if final_answer {
            call.oa.remote_answer();
        }
        let changed = call.remote_sdp.as_deref() != Some(sdp.as_slice());
        if changed {
            call.remote_sdp = Some(sdp.clone());
            self.emit(Event::AnswerReceived { call: id, sdp });
        }
    }

    fn on_invite_success(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let Some(request) = self.txs.client_request(tx).cloned() else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        let cseq = response.headers.cseq().map_or(call.invite_cseq, |c| c.seq);
        let same_dialog = call.dialog.as_ref().is_some_and(|d| d.matches_response(&response));
        if same_dialog && call.dialog.as_ref().is_some_and(|d| !d.is_early()) {
            // A retransmitted 2xx: our ACK was lost (or is in flight).
            if let Some((seq, ack)) = call.ack.clone()
                && seq == cseq
            {
                self.transmit(ack);
            }
            return;
        }
        if matches!(call.state, CallState::Connected | CallState::Terminating) {
            // Another fork answered too: a second dialog nobody wants.
            return self.ack_and_bye_stray(now, tx, &response);
        }
        if same_dialog {
            if let Some(d) = call.dialog.as_mut() {
                let _ = d.handle_response(&Method::Invite, &response);
            }
        } else {
            call.dialog = Dialog::from_uac(&request, &response).ok();
        }
        if call.dialog.is_none() {
            // A 2xx we cannot build a dialog from (no Contact or To tag):
            // nothing to ACK it with, so give up on the call.
            return self.end_call(now, id, EndReason::Failed, Some(response.status));
        }
        call.peer.learn(&response.headers);
        let cancelled = call.cancel != Cancel::None;
        let referred = call.referred_from;
        if is_sdp(&response.headers) {
            self.take_answer(id, response.body.clone(), true);
        }
        self.session_from_response(now, id, &response);
        self.send_ack(id, cseq, None);
        if cancelled {
            // The 2xx crossed our CANCEL: the call is up, so end it (9.1).
            return self.bye_call(now, id, EndReason::Cancelled, Some(response.status));
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.state = CallState::Connected;
        }
        self.emit(Event::Connected { call: id });
        if let Some(old) = referred {
            self.notify_progress(now, old, response.status);
        }
    }

    /// Sends the ACK for the 2xx to the INVITE with CSeq `cseq`, with the
    /// answer when the 2xx carried an offer.
    pub(super) fn send_ack(&mut self, id: CallId, cseq: u32, answer: Option<Vec<u8>>) {
        let via = self.via();
        let Some(dialog) = self.calls.get(&id).and_then(|c| c.dialog.as_ref()) else { return };
        let mut ack = dialog.ack(cseq);
        ack.headers.push_front(HeaderName::Via, via);
        if let Some(sdp) = answer {
            ack.headers.push(HeaderName::ContentType, "application/sdp");
            ack.body = sdp;
        }
        let wire = ack.to_bytes();
        self.transmit(wire.clone());
        if let Some(call) = self.calls.get_mut(&id) {
            call.ack = Some((cseq, wire));
        }
    }

    fn on_invite_failure(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let status = response.status;
        if matches!(status, 401 | 407)
            && self.calls.get(&id).is_some_and(|c| c.cancel == Cancel::None)
            && let Some(retry) = self.retry_with_credentials(now, tx, &response)
        {
            if let Some(call) = self.calls.get_mut(&id) {
                call.invite = Some(retry);
                call.dialog = None;
            }
            return;
        }
        if status == 422 && self.raise_session_interval(id, &response) {
            if let Some(call) = self.calls.get_mut(&id) {
                call.invite_cseq += 1;
                call.dialog = None;
            }
            return self.send_invite(now, id);
        }
        let cancelled = self.calls.get(&id).is_some_and(|c| c.cancel != Cancel::None);
        if (300..400).contains(&status) {
            let contacts = response
                .headers
                .contacts()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| match c {
                    Contact::Address(a) => Some(a.uri),
                    Contact::Wildcard => None,
                })
                .collect();
            self.emit(Event::Redirected { call: id, contacts });
        }
        let reason = match status {
            300..=399 => EndReason::Redirected,
            486 | 600 => EndReason::Busy,
            603 => EndReason::Declined,
            487 if cancelled => EndReason::Cancelled,
            408 => EndReason::Timeout,
            _ => EndReason::Failed,
        };
        self.end_call(now, id, reason, Some(status));
    }

    /// ACKs a 2xx nobody wants (a second fork, or a call that is gone) and
    /// ends its dialog with BYE.
    fn ack_and_bye_stray(&mut self, now: Instant, tx: TxId, response: &Response) {
        let Some(request) = self.txs.client_request(tx).cloned() else { return };
        let Ok(mut dialog) = Dialog::from_uac(&request, response) else { return };
        let seq = response.headers.cseq().map_or(1, |c| c.seq);
        let mut ack = dialog.ack(seq);
        let via = self.via();
        ack.headers.push_front(HeaderName::Via, via);
        self.transmit(ack.to_bytes());
        let mut bye = dialog.new_request(Method::Bye);
        let via = self.via();
        bye.headers.push_front(HeaderName::Via, via);
        self.send_request(now, bye, Owner::Nobody);
    }

    /// A 2xx to an INVITE whose transaction is gone (after Timer M): if it
    /// is one of our dialogs, the ACK is re-sent.
    pub(super) fn on_stray_2xx(&mut self, response: Response) {
        let Ok(cseq) = response.headers.cseq() else { return };
        let ack = self.calls.values().find_map(|c| {
            let ours = c.dialog.as_ref().is_some_and(|d| d.matches_response(&response));
            c.ack.as_ref().filter(|(seq, _)| ours && *seq == cseq.seq).map(|(_, wire)| wire.clone())
        });
        if let Some(wire) = ack {
            self.transmit(wire);
        }
    }
}
