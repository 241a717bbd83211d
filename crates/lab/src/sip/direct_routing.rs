//! Calls to experts, the Teams users behind Direct Routing: an INVITE to
//! `sip:<number>@<domain>` from a registered agent goes through the B2BUA
//! (not the proxy) to the simulated expert who registered that number from
//! a trunk connection. Keeping the agent's consultation call in the B2BUA
//! is what lets an attended transfer join the caller to the expert's leg
//! without ever sending the expert an INVITE with Replaces, which Direct
//! Routing refuses.

use std::time::Instant;

use warmline_sip::dialog::Dialog;
use warmline_sip::transaction::ServerTransaction;
use warmline_sip::{HeaderName, Method, NameAddr, Request};

use super::b2bua::{Call, State};
use super::{ConnId, Core, LAB_HOST, Purpose, Server};

/// What Direct Routing answers an INVITE carrying Replaces. Microsoft
/// documents only that such requests are rejected
/// (learn.microsoft.com/microsoftteams/direct-routing-protocols-sip), not
/// the status; 403 is the lab's choice.
pub const REPLACES_REFUSED: u16 = 403;

impl Core {
    /// The expert number an initial request is for, if the lab has one.
    pub(super) fn expert_of(&self, request: &Request) -> Option<String> {
        if !self.is_ours(request) {
            return None;
        }
        let user = request.uri.as_sip()?.user.clone()?;
        self.config.experts.iter().find(|n| **n == user).cloned()
    }

    /// An agent's INVITE to an expert: a B2BUA call with one leg to the
    /// expert, ringing for as long as the caller lets it.
    pub(super) fn expert_call(&mut self, now: Instant, conn: ConnId, request: Request, number: String) {
        let trunk = self.conns.get(&conn).is_some_and(|c| c.trunk);
        let registered = self.registrar.bindings.values().flatten().any(|b| b.conn == conn);
        if trunk || !registered {
            return self.reply(conn, &request, 403, &[]);
        }
        if request.headers.get(&HeaderName::Replaces).is_some() {
            let warning =
                (HeaderName::Other("Warning".into()), format!("399 {LAB_HOST} \"Replaces is not supported\""));
            return self.reply(conn, &request, REPLACES_REFUSED, &[warning]);
        }
        let branch = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        let Ok(mut caller) = request.headers.from() else { return self.reply(conn, &request, 400, &[]) };
        caller.params.remove("tag");
        if !self.expert_bindings.contains_key(&number) {
            return self.reply(conn, &request, 480, &[]);
        }
        if request.body.is_empty() {
            return self.reply(conn, &request, 488, &[]);
        }
        let call_id = request.headers.call_id().unwrap_or_default().to_owned();
        let tx = ServerTransaction::new(now, request.clone(), true, self.timers);
        self.servers.insert(branch.clone(), Server { tx, conn });
        self.next_call += 1;
        let id = self.next_call;
        let local_tag = self.token();
        let call = Call {
            id,
            queue: String::new(),
            case_id: String::new(),
            caller,
            customer_conn: conn,
            invite: request.clone(),
            server_key: branch,
            local_tag,
            customer_dialog: None,
            state: State::Queued,
            excluded: Vec::new(),
            queued_at: now,
            direct: Some(number.clone()),
            transfer: None,
        };
        self.calls.insert(id, call);
        self.legs.insert(call_id, id);
        let Some((request, branch, call_id, conn)) = self.expert_invite(id, &number, None) else {
            return self.direct_failed(now, id, 480);
        };
        if let Some(call) = self.calls.get_mut(&id) {
            call.state =
                State::Offering { ext: number, conn, branch: branch.clone(), call_id: call_id.clone(), deadline: now };
        }
        self.legs.insert(call_id, id);
        self.start_client(now, conn, branch, request, Purpose::Offer { call: id });
    }

    /// A new INVITE from the lab to the expert at `number`, as the call's
    /// caller, with the caller's offer (`body`), or none. Returns it with
    /// its branch, Call-ID and connection.
    pub(super) fn expert_invite(
        &mut self,
        id: u64,
        number: &str,
        extra: Option<(HeaderName, String)>,
    ) -> Option<(Request, String, String, ConnId)> {
        let binding = self.expert_bindings.get(number)?.clone();
        let target = binding.contact.parse().ok()?;
        let (via, branch) = self.our_via();
        let from_tag = self.token();
        let call_id = format!("{}@{LAB_HOST}", self.token());
        let call = self.calls.get(&id)?;
        let mut r = Request::new(Method::Invite, target);
        let h = &mut r.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        let mut from: NameAddr = call.caller.clone();
        from.params.set("tag", Some(&from_tag));
        h.push(HeaderName::From, from.to_string());
        h.push(HeaderName::To, format!("<sip:{number}@{}>", self.config.domain));
        h.push(HeaderName::CallId, call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        h.push(HeaderName::PAssertedIdentity, call.caller.to_string());
        if let Some((name, value)) = extra {
            h.push(name, value);
        }
        if call.direct.is_some() {
            // The agent's offer goes to the expert unchanged.
            if let Some(ct) = call.invite.headers.get(&HeaderName::ContentType) {
                h.push(HeaderName::ContentType, ct.to_owned());
            }
            r.body = call.invite.body.clone();
        }
        Some((r, branch, call_id, binding.conn))
    }

    /// The expert rings: the caller hears it.
    pub(super) fn direct_progress(&mut self, now: Instant, id: u64, status: u16) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.direct.is_none() || !matches!(call.state, State::Offering { .. }) {
            return;
        }
        let (key, invite, tag) = (call.server_key.clone(), call.invite.clone(), call.local_tag.clone());
        self.respond_customer(now, &key, &invite, if status == 183 { 180 } else { status }, Some(&tag), None);
    }

    /// The expert did not take the call: the caller gets its status.
    pub(super) fn direct_failed(&mut self, now: Instant, id: u64, status: u16) {
        let Some(call) = self.calls.get(&id) else { return };
        if !matches!(call.state, State::Offering { .. } | State::Queued) {
            return;
        }
        let (key, invite, tag) = (call.server_key.clone(), call.invite.clone(), call.local_tag.clone());
        let status = if status == 408 { 480 } else { status };
        self.respond_customer(now, &key, &invite, status, Some(&tag), None);
        self.end(now, id, "failed");
    }

    /// A request in an agent leg a transfer released: the agent's BYE gets
    /// 200 (RFC 5589), anything else 481.
    pub(super) fn released_leg(&mut self, conn: ConnId, call_id: &str, request: &Request) {
        match request.method {
            Method::Ack => {}
            Method::Bye => {
                self.released.remove(call_id);
                self.reply(conn, request, 200, &[]);
            }
            _ => self.reply(conn, request, 481, &[]),
        }
    }

    /// Ends an agent leg a transfer took the caller from (the consultation
    /// leg of an attended transfer): BYE, and a BYE crossing ours gets 200.
    pub(super) fn release(&mut self, now: Instant, conn: ConnId, mut dialog: Dialog, send_bye: bool) {
        self.released.insert(dialog.id().call_id.clone(), conn);
        if send_bye {
            self.bye(now, conn, &mut dialog);
        }
    }
}
