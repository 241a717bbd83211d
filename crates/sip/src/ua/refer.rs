//! Transfer with REFER (RFC 3515), Referred-By (RFC 3892) and Replaces
//! (RFC 3891), following RFC 5589.
//!
//! As transferor we send REFER in the customer's dialog (blind: Refer-To
//! the target; attended: Refer-To the target with `?Replaces=` naming our
//! consultation dialog with it), follow the implicit subscription's NOTIFYs
//! (message/sipfrag: 100, 180, 200, failures), answer each 200, and end the
//! customer's dialog with BYE once the transfer succeeded. As transferee we
//! accept (202, then a new call to the Refer-To target carrying Referred-By
//! and Replaces, its progress sent back in NOTIFYs) or refuse by policy,
//! or ask the application, which checks the target against its dial policy.

use std::time::Instant;

use super::call::{AskedRefer, ReferSubscription, Transfer};
use super::config::ReferPolicy;
use super::event::{CallId, CallState, Direction, EndReason, Event, TransferProgress};
use super::replaces::{Replaces, escape_hvalue};
use super::transactions::{Op, Owner, TxId};
use super::{Error, UserAgent};
use crate::message::scan::trim_wsp;
use crate::message::{HeaderName, Method, NameAddr, Request, Response, Uri, default_reason, unescape};

impl UserAgent {
    /// Blind transfer: asks the far end of `call` to call `target`.
    /// Progress comes as [`Event::Transfer`]; on success our call ends.
    pub fn transfer_blind(&mut self, now: Instant, call: CallId, target: Uri) -> Result<(), Error> {
        self.send_refer(now, call, format!("<{target}>"), None)
    }

    /// Attended (warm) transfer: asks the far end of `call` (the customer)
    /// to call the far end of `consult` (the expert) in place of us: the
    /// Refer-To carries a Replaces naming our consultation dialog, so the
    /// expert's phone swaps our call for the customer's without ringing.
    pub fn transfer_attended(&mut self, now: Instant, call: CallId, consult: CallId) -> Result<(), Error> {
        let c = self.calls.get(&consult).ok_or(Error::UnknownCall(consult))?;
        let dialog = match (&c.dialog, c.state) {
            (Some(d), CallState::Connected) => d,
            _ => return Err(self.wrong_state(consult, "attended transfer")),
        };
        let replaces = Replaces::for_peer_of(dialog.id()).value();
        let mut target = dialog.remote().uri.clone();
        if target.as_sip().is_none() {
            target = dialog.remote_target().clone();
        }
        let Uri::Sip(mut sip) = target else { return Err(self.wrong_state(consult, "attended transfer")) };
        sip.params.remove("tag");
        sip.headers = vec![("Replaces".to_owned(), escape_hvalue(&replaces))];
        self.send_refer(now, call, format!("<{sip}>"), Some(consult))
    }

    fn send_refer(&mut self, now: Instant, id: CallId, refer_to: String, consult: Option<CallId>) -> Result<(), Error> {
        let call = self.calls.get(&id).ok_or(Error::UnknownCall(id))?;
        if call.state != CallState::Connected {
            return Err(self.wrong_state(id, "transfer"));
        }
        if call.transfer.is_some_and(|t| !t.done) {
            return Err(Error::TransferInProgress(id));
        }
        let mut refer = self.in_dialog(id, Method::Refer)?;
        refer.headers.push(HeaderName::ReferTo, refer_to);
        refer.headers.push(HeaderName::ReferredBy, format!("<{}>", self.config.aor));
        let tx = self.send_request(now, refer, Owner::Call(id, Op::Refer));
        if let Some(call) = self.calls.get_mut(&id) {
            call.transfer = Some(Transfer { refer: tx, consult, accepted: false, done: false });
        }
        self.flush(now);
        Ok(())
    }

    pub(super) fn on_refer_response(&mut self, now: Instant, id: CallId, tx: TxId, response: Response) {
        let status = response.status;
        if status < 200 {
            return;
        }
        if matches!(status, 401 | 407)
            && let Some(retry) = self.retry_with_credentials(now, tx, &response)
        {
            if let Some(t) = self.calls.get_mut(&id).and_then(|c| c.transfer.as_mut()) {
                t.refer = retry;
            }
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(transfer) = call.transfer.as_mut().filter(|t| t.refer == tx) else { return };
        if (200..300).contains(&status) {
            transfer.accepted = true;
            self.emit(Event::Transfer { call: id, progress: TransferProgress::Accepted });
        } else {
            // Refused (405, 501, 403, 603 ...): both calls stay as they are.
            call.transfer = None;
            self.emit(Event::Transfer { call: id, progress: TransferProgress::Refused { status } });
        }
    }

    /// A NOTIFY in a call's dialog: the progress of the transfer we asked
    /// for (RFC 3515 2.4.5).
    pub(super) fn on_notify(&mut self, now: Instant, tx: TxId, id: CallId, request: &Request) {
        let event = request.headers.get(&HeaderName::Event).map(|e| trim_wsp(e.split(';').next().unwrap_or("")));
        if !event.is_some_and(|e| e.eq_ignore_ascii_case("refer")) {
            return self.reply(now, tx, 489); // Bad Event
        }
        let Some(call) = self.calls.get_mut(&id) else { return self.reply(now, tx, 481) };
        let Some(transfer) = call.transfer.as_mut().filter(|t| !t.done) else { return self.reply(now, tx, 481) };
        let status = sipfrag_status(&request.body);
        let terminated = request
            .headers
            .get(&HeaderName::SubscriptionState)
            .is_some_and(|s| trim_wsp(s).to_ascii_lowercase().starts_with("terminated"));
        let progress = match status {
            Some(100..=179) => Some(TransferProgress::Trying),
            Some(180..=199) => Some(TransferProgress::Ringing),
            Some(200..=299) => Some(TransferProgress::Succeeded),
            Some(s) => Some(TransferProgress::Failed { status: s }),
            None if terminated => Some(TransferProgress::Failed { status: 487 }),
            None => None,
        };
        let done = matches!(progress, Some(TransferProgress::Succeeded | TransferProgress::Failed { .. }));
        transfer.done = done;
        let consult = transfer.consult;
        if done {
            call.transfer = None;
        }
        self.reply(now, tx, 200);
        let Some(progress) = progress else { return };
        self.emit(Event::Transfer { call: id, progress });
        if progress == TransferProgress::Succeeded {
            // RFC 5589: the transferor ends its dialog with the transferee;
            // the target ends the consultation dialog it replaced.
            if let Some(consult) = consult.and_then(|c| self.calls.get_mut(&c)) {
                consult.end_as = Some(EndReason::Transferred);
            }
            if let Some(call) = self.calls.get_mut(&id) {
                call.end_as = Some(EndReason::Transferred);
            }
            self.bye_call(now, id, EndReason::Transferred, None);
        }
    }

    pub(super) fn on_notify_response(&mut self, id: CallId, response: &Response) {
        if matches!(response.status, 408 | 481)
            && let Some(sub) = self.calls.get_mut(&id).and_then(|c| c.refer_sub.as_mut())
        {
            sub.terminated = true;
        }
    }

    /// A REFER from the far end: we are the transferee.
    pub(super) fn on_refer(&mut self, now: Instant, tx: TxId, id: CallId, request: &Request) {
        if let ReferPolicy::Refuse { status } = self.config.refer_policy {
            return self.reply(now, tx, if (300..700).contains(&status) { status } else { 603 });
        }
        let Some(call) = self.calls.get(&id) else { return self.reply(now, tx, 481) };
        if call.state != CallState::Connected {
            return self.reply(now, tx, 403);
        }
        if call.refer_sub.is_some_and(|s| !s.terminated) || call.asked_refer.is_some() {
            return self.reply(now, tx, 491);
        }
        let mut refer_to = request.headers.get_all(&HeaderName::ReferTo);
        let (Some(value), None) = (refer_to.next(), refer_to.next()) else { return self.reply(now, tx, 400) };
        let Ok(target) = NameAddr::parse_str(value) else { return self.reply(now, tx, 400) };
        let Uri::Sip(mut sip) = target.uri else { return self.reply(now, tx, 416) };
        let replaces = sip
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Replaces"))
            .map(|(_, v)| String::from_utf8_lossy(&unescape(v)).into_owned());
        sip.headers.clear();
        sip.params.remove("method");
        let target = Uri::Sip(sip);
        let referred_by = match request.headers.get(&HeaderName::ReferredBy) {
            Some(v) => v.to_owned(),
            None => request.headers.from().map(|f| format!("<{}>", f.uri)).unwrap_or_default(),
        };
        let asked = AskedRefer { tx, target, replaces, referred_by };
        if self.config.refer_policy == ReferPolicy::Ask {
            let (target, attended) = (asked.target.clone(), asked.replaces.is_some());
            if let Some(c) = self.calls.get_mut(&id) {
                c.asked_refer = Some(asked);
            }
            self.emit(Event::TransferAsked { call: id, target, attended });
            return;
        }
        self.start_transfer(now, id, asked);
    }

    /// Accepts the REFER that [`Event::TransferAsked`] reported: 202, then
    /// a new call to its target ([`Event::TransferRequested`]).
    pub fn accept_transfer(&mut self, now: Instant, call: CallId) -> Result<(), Error> {
        let Some(asked) = self.call_mut(call)?.asked_refer.take() else {
            return Err(self.wrong_state(call, "accept_transfer"));
        };
        self.start_transfer(now, call, asked);
        self.flush(now);
        Ok(())
    }

    /// Refuses the REFER that [`Event::TransferAsked`] reported with
    /// `status` (403 Forbidden where a policy forbids the target).
    pub fn refuse_transfer(&mut self, now: Instant, call: CallId, status: u16) -> Result<(), Error> {
        let Some(asked) = self.call_mut(call)?.asked_refer.take() else {
            return Err(self.wrong_state(call, "refuse_transfer"));
        };
        let status = if (300..700).contains(&status) { status } else { 403 };
        self.reply(now, asked.tx, status);
        self.flush(now);
        Ok(())
    }

    fn start_transfer(&mut self, now: Instant, id: CallId, asked: AskedRefer) {
        let AskedRefer { tx, target, replaces, referred_by } = asked;
        let contact = self.contact();
        self.reply_with(now, tx, 202, |r| r.headers.push(HeaderName::Contact, contact));
        let new_call = self.new_call(Direction::Outgoing, CallState::AwaitingOffer);
        if let Some(c) = self.calls.get_mut(&new_call) {
            c.remote = NameAddr::new(target.clone());
            c.target = target.clone();
            c.referred_from = Some(id);
            if !referred_by.is_empty() {
                c.extra.push((HeaderName::ReferredBy, referred_by));
            }
            if let Some(r) = &replaces {
                c.extra.push((HeaderName::Replaces, r.clone()));
            }
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.refer_sub = Some(ReferSubscription { new_call, terminated: false, succeeded: false });
        }
        self.notify_progress(now, id, 100);
        let attended = replaces.is_some();
        self.emit(Event::TransferRequested { call: id, new_call, target, attended });
        self.emit(Event::OfferNeeded { call: new_call });
    }

    /// Tells the transferor how our call to the target is going: a NOTIFY
    /// with a message/sipfrag status line; a final status ends the
    /// implicit subscription.
    pub(super) fn notify_progress(&mut self, now: Instant, id: CallId, status: u16) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(sub) = call.refer_sub.as_mut().filter(|s| !s.terminated) else { return };
        if call.state == CallState::Terminating {
            return;
        }
        let final_status = status >= 200;
        if final_status {
            sub.terminated = true;
            sub.succeeded = (200..300).contains(&status);
            if sub.succeeded {
                call.end_as = Some(EndReason::Transferred);
            }
        }
        let Ok(mut notify) = self.in_dialog(id, Method::Notify) else { return };
        notify.headers.push(HeaderName::Event, "refer");
        let state = if final_status { "terminated;reason=noresource" } else { "active;expires=60" };
        notify.headers.push(HeaderName::SubscriptionState, state);
        notify.headers.push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        notify.body = format!("SIP/2.0 {status} {}\r\n", default_reason(status)).into_bytes();
        self.send_request(now, notify, Owner::Call(id, Op::Notify));
    }
}

/// The status code of a message/sipfrag body's status line.
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?;
    let mut words = line.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    words.next()?.parse().ok().filter(|s| (100..700).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK\r\n"), Some(200));
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying"), Some(100));
        assert_eq!(sipfrag_status(b"SIP/2.0 99 Low\r\n"), None);
        assert_eq!(sipfrag_status(b"INVITE sip:a@b SIP/2.0\r\n"), None);
        assert_eq!(sipfrag_status(&[0xff]), None);
    }
}
