//! Reliable provisional responses (RFC 3262), both ways: as caller we
//! PRACK every 1xx that requires it, in RSeq order; as callee we send early
//! media reliably when the caller supports 100rel, hold the 2xx until the
//! PRACK comes, and give up with 504 after 64*T1 without one.

use std::time::Instant;

use super::call::{Resend, Unacked};
use super::event::{CallId, CallState, EndReason};
use super::offer_answer::Negotiation;
use super::transactions::{Op, Owner, TxId};
use super::{ALLOW, Error, SUPPORTED, UserAgent};
use crate::message::scan::{parse_digits, trim_wsp};
use crate::message::{HeaderName, Method, Request, Response};

impl UserAgent {
    /// A 1xx with `Require: 100rel` and RSeq came: PRACK it if it is the
    /// next in order. Returns false for a retransmission or a gap, which
    /// are discarded (RFC 3262 4).
    pub(super) fn on_reliable_provisional(&mut self, now: Instant, id: CallId, response: &Response) -> bool {
        let rseq = response.headers.get(&HeaderName::RSeq).and_then(|v| parse_digits(trim_wsp(v)).ok());
        let Some(rseq) = rseq.and_then(|r| u32::try_from(r).ok()) else { return false };
        let Some(call) = self.calls.get_mut(&id) else { return false };
        if let Some(last) = call.reliable.last_rseq
            && rseq != last.wrapping_add(1)
        {
            return false;
        }
        call.reliable.last_rseq = Some(rseq);
        let Ok(cseq) = response.headers.cseq() else { return false };
        let Ok(mut prack) = self.in_dialog(id, Method::Prack) else { return false };
        prack.headers.push(HeaderName::RAck, format!("{rseq} {} {}", cseq.seq, cseq.method));
        self.send_request(now, prack, Owner::Call(id, Op::Prack));
        true
    }

    /// Sends early media: a 183 Session Progress with `answer` to the
    /// caller's offer, reliably when the caller supports 100rel.
    pub fn early_media(&mut self, now: Instant, call: CallId, answer: Vec<u8>) -> Result<(), Error> {
        let c = self.call_mut(call)?;
        if c.state != CallState::Incoming || !matches!(c.oa.state(), Negotiation::RemoteOffer(_)) || answer.is_empty() {
            return Err(self.wrong_state(call, "early media"));
        }
        if c.reliable.unacked.is_some() {
            return Err(Error::OfferPending(call));
        }
        self.send_provisional(now, call, 183, Some(answer))?;
        self.flush(now);
        Ok(())
    }

    /// Sends a provisional response to the call's INVITE: reliably when the
    /// caller requires 100rel, or supports it and we send SDP.
    pub(super) fn send_provisional(
        &mut self,
        now: Instant,
        id: CallId,
        status: u16,
        sdp: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let contact = self.contact();
        let call = self.calls.get(&id).ok_or(Error::UnknownCall(id))?;
        let tx = call.invite.ok_or(Error::UnknownCall(id))?;
        let required = self
            .txs
            .server_request(tx)
            .is_some_and(|r| r.headers.tokens(&HeaderName::Require).any(|t| t.eq_ignore_ascii_case("100rel")));
        let reliable = call.peer.prack && (sdp.is_some() || required);
        if reliable && call.reliable.unacked.is_some() {
            return Ok(()); // one unacknowledged reliable provisional at a time
        }
        let Some(mut response) = self.response_to(tx, status) else { return Err(Error::UnknownCall(id)) };
        response.headers.push(HeaderName::Contact, contact);
        response.headers.push(HeaderName::Allow, ALLOW);
        response.headers.push(HeaderName::Supported, SUPPORTED);
        let reliable_transport = self.reliable();
        let t1 = self.config.timers.t1;
        let deadline = now + self.config.timers.transaction_timeout();
        let call = self.calls.get_mut(&id).ok_or(Error::UnknownCall(id))?;
        let mut rseq = None;
        if reliable {
            let n = call.reliable.next_rseq;
            call.reliable.next_rseq = n.wrapping_add(1);
            response.headers.push(HeaderName::Require, "100rel");
            response.headers.push(HeaderName::RSeq, n.to_string());
            rseq = Some(n);
        }
        if let Some(sdp) = sdp {
            if reliable {
                // The answer in a reliable 1xx completes the exchange.
                call.oa.local_answer();
            }
            call.local_sdp = Some(sdp.clone());
            response.headers.push(HeaderName::ContentType, "application/sdp");
            response.body = sdp;
        }
        if let Some(rseq) = rseq {
            call.reliable.unacked = Some(Unacked {
                rseq,
                wire: response.to_bytes(),
                resend: (!reliable_transport).then_some(Resend { at: now + t1, interval: t1 }),
                deadline,
            });
        }
        self.txs.respond(now, tx, response, &mut self.outputs)?;
        Ok(())
    }

    /// A PRACK from the caller: it must name our unacknowledged reliable
    /// provisional by RSeq and CSeq, else 481 (RFC 3262 3).
    pub(super) fn on_prack(&mut self, now: Instant, tx: TxId, id: CallId, request: &Request) {
        let rack = request.headers.get(&HeaderName::RAck).map(|v| trim_wsp(v).split_whitespace().collect::<Vec<_>>());
        let Some(call) = self.calls.get_mut(&id) else { return self.reply(now, tx, 481) };
        let matches = match (rack.as_deref(), call.reliable.unacked.as_ref()) {
            (Some([rseq, cseq, method]), Some(u)) => {
                rseq.parse::<u32>().ok() == Some(u.rseq)
                    && cseq.parse::<u32>().ok() == Some(call.invite_cseq)
                    && *method == "INVITE"
            }
            _ => false,
        };
        if !matches {
            return self.reply(now, tx, 481);
        }
        call.reliable.unacked = None;
        let held = call.reliable.held_answer.take();
        self.reply(now, tx, 200);
        if let Some(answer) = held {
            self.send_answer(now, id, answer);
        }
    }

    /// Resends the unacknowledged reliable provisional (unreliable
    /// transport), or rejects the INVITE with 504 when no PRACK came.
    pub(super) fn reliable_timeout(&mut self, now: Instant, id: CallId) {
        let t2 = self.config.timers.t2;
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(unacked) = call.reliable.unacked.as_mut() else { return };
        if unacked.deadline <= now {
            call.reliable.unacked = None;
            if let Some(tx) = call.invite {
                self.reply(now, tx, 504);
            }
            return self.end_call(now, id, EndReason::Timeout, Some(504));
        }
        if let Some(resend) = unacked.resend.filter(|r| r.at <= now) {
            let interval = (resend.interval * 2).min(t2);
            unacked.resend = Some(Resend { at: now + interval, interval });
            let wire = unacked.wire.clone();
            self.transmit(wire);
        }
    }
}
