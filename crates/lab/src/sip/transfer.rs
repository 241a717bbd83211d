//! Transfers through the B2BUA, as Direct Routing forces them: the agent's
//! in-dialog REFER (RFC 3515) is acted on here, never relayed, and the
//! expert never sees an INVITE with Replaces.
//!
//! * **Blind**: 202 and NOTIFY `100 Trying`; an INVITE without SDP to the
//!   expert; its 200 carries the expert's offer, which goes to the caller in
//!   a re-INVITE; the caller's answer goes back in the ACK to the expert.
//!   Then NOTIFY `200 OK` (subscription terminated) and the agent BYEs its
//!   leg. A failure (603, 486, 487 ...) is reported in the final NOTIFY and
//!   the caller stays with the agent, untouched: it is re-INVITEd only once
//!   the expert has answered.
//! * **Attended**: the Refer-To carries Replaces naming the agent's
//!   consultation call, which went through the lab too (agent → lab →
//!   expert). The lab asks the expert for a fresh offer with an empty
//!   re-INVITE on that leg, re-INVITEs the caller with it, and joins the
//!   caller's leg to the expert's; NOTIFY `200 OK`; both agent legs end
//!   with BYE (the agent BYEs the customer leg, the lab the consultation
//!   leg, in either order, as RFC 5589 has it).
//!
//! Fresh offers both ways keep real WebRTC working end to end: each side
//! starts a new session (new ICE credentials and DTLS fingerprint) rather
//! than being handed a description made for someone else.

use std::time::Instant;

use warmline_sip::dialog::Dialog;
use warmline_sip::message::{default_reason, unescape};
use warmline_sip::{HeaderName, Method, Request, Response, Uri};

use super::b2bua::State;
use super::{ConnId, Core, LAB_HOST, Purpose, SipEvent};

/// A transfer in progress on a call.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// The transferring agent's extension.
    pub agent: String,
    /// The expert's number.
    pub to: String,
    /// The consultation call, for an attended transfer.
    pub consult: Option<u64>,
    pub step: Step,
}

#[derive(Debug)]
pub(crate) enum Step {
    /// Waiting for the expert's answer and offer (the INVITE's branch);
    /// a blind transfer's INVITE is cancelled at `deadline`.
    AskingExpert { branch: String, conn: ConnId, deadline: Option<Instant> },
    /// The caller is being re-INVITEd with the expert's offer.
    ReofferingCustomer { conn: ConnId, dialog: Box<Dialog>, seq: u32 },
}

/// A Replaces value (RFC 3891): Call-ID, to-tag, from-tag.
fn parse_replaces(value: &str) -> Option<(String, String, String)> {
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim().to_owned();
    let (mut to, mut from) = (None, None);
    for p in parts {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        match n.trim().to_ascii_lowercase().as_str() {
            "to-tag" => to = Some(v.trim().to_owned()),
            "from-tag" => from = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    (!call_id.is_empty()).then_some(())?;
    Some((call_id, to?, from?))
}

/// The URI of a Refer-To value (`<uri>` with parameters, or a bare URI).
fn refer_to_uri(value: &str) -> Option<Uri> {
    let value = value.trim();
    let inner = match value.find('<') {
        Some(start) => {
            let rest = &value[start + 1..];
            &rest[..rest.find('>')?]
        }
        None => value.split(';').next()?,
    };
    inner.trim().parse().ok()
}

impl Core {
    /// A REFER from the agent leg of a bridged call.
    pub(super) fn refer(&mut self, now: Instant, conn: ConnId, id: u64, request: Request) {
        let Some(call) = self.calls.get(&id) else { return };
        let State::Connected { ext, .. } = &call.state else { return self.reply(conn, &request, 403, &[]) };
        if call.direct.is_some() {
            return self.reply(conn, &request, 501, &[]);
        }
        if call.transfer.is_some() {
            return self.reply(conn, &request, 491, &[]);
        }
        let agent = ext.clone();
        let mut values = request.headers.get_all(&HeaderName::ReferTo);
        let (Some(value), None) = (values.next(), values.next()) else { return self.reply(conn, &request, 400, &[]) };
        let Some(target) = refer_to_uri(value) else { return self.reply(conn, &request, 400, &[]) };
        let Some(sip) = target.as_sip() else { return self.reply(conn, &request, 416, &[]) };
        let to = sip.user.clone().unwrap_or_default();
        let replaces = sip
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Replaces"))
            .map(|(_, v)| String::from_utf8_lossy(&unescape(v)).into_owned());
        let referred_by = request.headers.get(&HeaderName::ReferredBy).map(str::to_owned);
        self.reply(conn, &request, 202, &[(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"))]);
        // NOTIFY 100 goes only with a request under way: a failure found at
        // once is the first and final NOTIFY, so the two cannot cross.
        if !self.config.experts.contains(&to) {
            return self.transfer_failed(now, id, &agent, &to, 404);
        }
        match replaces {
            None => self.blind(now, id, agent, to, referred_by),
            Some(r) => self.attended(now, id, agent, to, &r),
        }
    }

    fn blind(&mut self, now: Instant, id: u64, agent: String, to: String, referred_by: Option<String>) {
        let extra = referred_by.map(|v| (HeaderName::ReferredBy, v));
        // No SDP: the expert's 200 carries a fresh offer for the caller.
        let Some((invite, branch, _, conn)) = self.expert_invite(id, &to, extra) else {
            return self.transfer_failed(now, id, &agent, &to, 480);
        };
        let deadline = Some(now + self.config.ring_timeout);
        let step = Step::AskingExpert { branch: branch.clone(), conn, deadline };
        if let Some(call) = self.calls.get_mut(&id) {
            call.transfer = Some(Transfer { agent, to, consult: None, step });
        }
        self.notify(now, id, 100);
        self.start_client(now, conn, branch, invite, Purpose::TransferExpert { call: id });
    }

    fn attended(&mut self, now: Instant, id: u64, agent: String, to: String, replaces: &str) {
        // The Replaces names the agent's consultation dialog with the lab,
        // as the agent sees it: to-tag is ours, from-tag the agent's.
        let consult = parse_replaces(replaces).and_then(|(call_id, to_tag, from_tag)| {
            let cid = *self.legs.get(&call_id)?;
            let c = self.calls.get(&cid)?;
            let d = c.customer_dialog.as_ref()?;
            let ok = cid != id
                && c.direct.as_deref() == Some(to.as_str())
                && matches!(c.state, State::Connected { .. })
                && d.id().call_id == call_id
                && d.id().local_tag == to_tag
                && d.id().remote_tag == from_tag;
            ok.then_some(cid)
        });
        let Some(consult) = consult else { return self.transfer_failed(now, id, &agent, &to, 481) };
        // An empty re-INVITE on the expert's leg asks it for a fresh offer.
        let Some(c) = self.calls.get_mut(&consult) else { return };
        let State::Connected { conn, dialog, .. } = &mut c.state else { return };
        let conn = *conn;
        let mut reinvite = dialog.new_request(Method::Invite);
        let (via, branch) = self.our_via();
        reinvite.headers.push_front(HeaderName::Via, via);
        reinvite.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        let step = Step::AskingExpert { branch: branch.clone(), conn, deadline: None };
        if let Some(call) = self.calls.get_mut(&id) {
            call.transfer = Some(Transfer { agent, to, consult: Some(consult), step });
        }
        self.notify(now, id, 100);
        self.start_client(now, conn, branch, reinvite, Purpose::TransferExpert { call: id });
    }

    /// The expert's final answer to the transfer's INVITE or re-INVITE.
    pub(super) fn expert_offered(
        &mut self,
        now: Instant,
        id: u64,
        conn: ConnId,
        request: &Request,
        response: &Response,
    ) {
        let Some(t) = self.calls.get(&id).and_then(|c| c.transfer.as_ref()) else {
            // The call is gone meanwhile: end a late answer.
            if response.status < 300
                && request.headers.to().is_ok_and(|t| t.tag().is_none())
                && let Ok(mut d) = Dialog::from_uac(request, response)
            {
                self.ack(conn, &d, 1);
                self.bye(now, conn, &mut d);
            }
            return;
        };
        let (agent, to, consult) = (t.agent.clone(), t.to.clone(), t.consult);
        let status = response.status;
        if status >= 300 {
            return self.transfer_failed(now, id, &agent, &to, status);
        }
        let seq = request.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let dialog = match consult {
            None => match Dialog::from_uac(request, response) {
                Ok(d) => d,
                Err(_) => return self.transfer_failed(now, id, &agent, &to, 500),
            },
            Some(cid) => {
                let Some(c) = self.calls.get_mut(&cid) else { return self.transfer_failed(now, id, &agent, &to, 481) };
                let State::Connected { dialog, .. } = &mut c.state else {
                    return self.transfer_failed(now, id, &agent, &to, 481);
                };
                let _ = dialog.handle_response(&Method::Invite, response);
                (**dialog).clone()
            }
        };
        if response.body.is_empty() {
            // No offer to give the caller: nothing can be joined.
            self.ack(conn, &dialog, seq);
            if consult.is_none() {
                let mut d = dialog;
                self.bye(now, conn, &mut d);
            }
            return self.transfer_failed(now, id, &agent, &to, 488);
        }
        let ct = response.headers.get(&HeaderName::ContentType).unwrap_or("application/sdp").to_owned();
        let Some((cconn, mut cdialog)) = self.other_leg(id, false) else { return };
        let mut reinvite = cdialog.new_request(Method::Invite);
        self.put_back(id, true, cdialog);
        let (via, branch) = self.our_via();
        reinvite.headers.push_front(HeaderName::Via, via);
        reinvite.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        reinvite.headers.push(HeaderName::ContentType, ct);
        reinvite.body = response.body.clone();
        if let Some(t) = self.calls.get_mut(&id).and_then(|c| c.transfer.as_mut()) {
            t.step = Step::ReofferingCustomer { conn, dialog: Box::new(dialog), seq };
        }
        self.start_client(now, cconn, branch, reinvite, Purpose::TransferCustomer { call: id });
    }

    /// The caller's answer to the expert's offer: join them.
    pub(super) fn customer_reoffered(&mut self, now: Instant, id: u64, request: &Request, response: &Response) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(t) = call.transfer.take() else { return };
        let Step::ReofferingCustomer { conn: econn, dialog: edialog, seq: eseq } = t.step else {
            call.transfer = Some(t);
            return;
        };
        let (agent, to, consult) = (t.agent, t.to, t.consult);
        let status = response.status;
        if status >= 300 || response.body.is_empty() {
            // The caller kept its session with the agent; the expert's
            // leg cannot be completed.
            self.ack(econn, &edialog, eseq);
            if consult.is_none() {
                let mut d = *edialog;
                self.bye(now, econn, &mut d);
            }
            return self.transfer_failed(now, id, &agent, &to, if status >= 300 { status } else { 488 });
        }
        let cseq = request.headers.cseq().map(|c| c.seq).unwrap_or(1);
        if let Some(call) = self.calls.get_mut(&id)
            && let Some(d) = call.customer_dialog.as_mut()
        {
            let _ = d.handle_response(&Method::Invite, response);
        }
        if let Some((cconn, cdialog)) = self.other_leg(id, false) {
            self.ack(cconn, &cdialog, cseq);
        }
        let ct = response.headers.get(&HeaderName::ContentType).unwrap_or("application/sdp").to_owned();
        self.ack_with(econn, &edialog, eseq, Some((&ct, &response.body)));
        // The final NOTIFY goes in the agent's leg before it is released.
        self.notify(now, id, 200);
        let Some(call) = self.calls.get_mut(&id) else { return };
        let old = std::mem::replace(
            &mut call.state,
            State::Connected { ext: to.clone(), conn: econn, dialog: edialog.clone() },
        );
        let name = call.name();
        if let State::Connected { conn, dialog, .. } = old {
            self.legs.remove(&dialog.id().call_id);
            // The agent BYEs this leg itself once it has the NOTIFY.
            self.release(now, conn, *dialog, false);
        }
        self.legs.insert(edialog.id().call_id.clone(), id);
        if let Some(cid) = consult
            && let Some(c) = self.calls.remove(&cid)
        {
            self.legs.retain(|_, v| *v != cid);
            self.legs.insert(edialog.id().call_id.clone(), id);
            if let Some(d) = c.customer_dialog {
                self.release(now, c.customer_conn, d, true);
            }
        }
        if let Some(a) = self.agents.get_mut(&agent) {
            a.idle_since = Some(now);
        }
        let kind = if consult.is_some() { "attended" } else { "blind" };
        self.emit(SipEvent::Transferred { call: name, agent, to, kind: kind.into() });
        self.route(now);
    }

    fn transfer_failed(&mut self, now: Instant, id: u64, agent: &str, to: &str, status: u16) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.transfer = None;
        }
        self.notify(now, id, status);
        let name = format!("C{id}");
        self.emit(SipEvent::TransferFailed { call: name, agent: agent.to_owned(), to: to.to_owned(), status });
    }

    /// The call went away mid-transfer: cancel the expert's INVITE.
    pub(super) fn abandon_transfer(&mut self, now: Instant, t: &Transfer) {
        match &t.step {
            Step::AskingExpert { branch, conn, .. } if t.consult.is_none() => {
                let Some(client) = self.clients.get_mut(branch) else { return };
                let cancel = client.tx.cancel();
                let (branch, conn) = (branch.clone(), *conn);
                self.start_client(now, conn, format!("{branch}/CANCEL"), cancel, Purpose::Plain);
            }
            Step::ReofferingCustomer { conn, dialog, seq } if t.consult.is_none() => {
                let (conn, seq, mut d) = (*conn, *seq, (**dialog).clone());
                self.ack(conn, &d, seq);
                self.bye(now, conn, &mut d);
            }
            _ => {}
        }
    }

    /// When a blind transfer's INVITE is due to be cancelled.
    pub(super) fn transfer_deadline(t: &Transfer) -> Option<Instant> {
        match t.step {
            Step::AskingExpert { deadline, .. } => deadline,
            Step::ReofferingCustomer { .. } => None,
        }
    }

    /// Cancels blind transfers' INVITEs that rang for the ring timeout:
    /// the expert's 487 becomes the final NOTIFY.
    pub(super) fn transfer_timeouts(&mut self, now: Instant) {
        let mut due = Vec::new();
        for call in self.calls.values_mut() {
            if let Some(Transfer { step: Step::AskingExpert { branch, conn, deadline }, .. }) = call.transfer.as_mut()
                && deadline.is_some_and(|d| d <= now)
            {
                *deadline = None;
                due.push((branch.clone(), *conn));
            }
        }
        for (branch, conn) in due {
            let Some(client) = self.clients.get_mut(&branch) else { continue };
            let cancel = client.tx.cancel();
            self.start_client(now, conn, format!("{branch}/CANCEL"), cancel, Purpose::Plain);
        }
    }

    /// A NOTIFY of the transfer's progress in the agent's leg (RFC 3515
    /// 2.4.4): sipfrag status line; a final status ends the subscription.
    fn notify(&mut self, now: Instant, id: u64, status: u16) {
        let Some((conn, mut dialog)) = self.other_leg(id, true) else { return };
        let mut n = dialog.new_request(Method::Notify);
        self.put_back(id, false, dialog);
        let (via, branch) = self.our_via();
        n.headers.push_front(HeaderName::Via, via);
        n.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        n.headers.push(HeaderName::Event, "refer");
        let state = if status >= 200 { "terminated;reason=noresource" } else { "active;expires=60" };
        n.headers.push(HeaderName::SubscriptionState, state);
        n.headers.push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        n.body = format!("SIP/2.0 {status} {}\r\n", default_reason(status)).into_bytes();
        self.start_client(now, conn, branch, n, Purpose::Plain);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_replaces;

    #[test]
    fn replaces_values_parse_and_junk_does_not() {
        assert_eq!(parse_replaces("abc@h;to-tag=1;from-tag=2"), Some(("abc@h".into(), "1".into(), "2".into())));
        assert_eq!(parse_replaces("abc@h;to-tag=1"), None);
        assert_eq!(parse_replaces(";to-tag=1;from-tag=2"), None);
        assert_eq!(parse_replaces(""), None);
    }

    #[test]
    fn refer_to_values_give_their_uri() {
        let uri = super::refer_to_uri("<sip:+1@example.com?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>").expect("uri");
        let sip = uri.as_sip().expect("sip");
        assert_eq!(sip.user.as_deref(), Some("+1"));
        assert_eq!(sip.headers.len(), 1);
        assert!(super::refer_to_uri("sip:+1@example.com;x=1").is_some());
        for junk in ["", "<", "<sip:a@b", "\u{0}"] {
            let _ = super::refer_to_uri(junk);
        }
    }
}
