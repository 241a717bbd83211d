//! The ACD as a back-to-back user agent: a customer's INVITE to a queue is
//! held (180) while the call waits, offered to the longest-idle available
//! agent as a new INVITE with the contact-center headers, and bridged when
//! the agent answers. Everything after that in either dialog is relayed to
//! the other leg with its body untouched, so SDP (and with it the media)
//! goes end to end.

use std::time::Instant;

use warmline_sip::dialog::Dialog;
use warmline_sip::transaction::ServerTransaction;
use warmline_sip::{HeaderName, Method, NameAddr, Request, Response};

use super::{ConnId, Core, LAB_HOST, Purpose, Server, SipEvent};

/// Where a call is.
#[derive(Debug)]
pub(crate) enum State {
    /// Waiting for an agent.
    Queued,
    /// Ringing at an agent.
    Offering { ext: String, conn: ConnId, branch: String, call_id: String, deadline: Instant },
    /// Bridged.
    Connected { ext: String, conn: ConnId, dialog: Box<Dialog> },
}

/// One customer call through the ACD.
#[derive(Debug)]
pub(crate) struct Call {
    pub id: u64,
    pub queue: String,
    pub case_id: String,
    /// The caller, as From said, without its tag.
    pub caller: NameAddr,
    pub customer_conn: ConnId,
    pub invite: Request,
    /// The customer INVITE's branch (its server transaction).
    pub server_key: String,
    pub local_tag: String,
    pub customer_dialog: Option<Dialog>,
    pub state: State,
    /// Agents skipped for this call until the time given.
    pub excluded: Vec<(String, Instant)>,
    pub queued_at: Instant,
    /// Set for a call to an expert's number (Direct Routing), not a queue:
    /// the number. Such a call rings until the caller gives up and its
    /// failures go back to the caller.
    pub direct: Option<String>,
    /// A transfer the agent asked for, in progress.
    pub transfer: Option<super::transfer::Transfer>,
}

impl Call {
    pub fn name(&self) -> String {
        format!("C{}", self.id)
    }

    pub fn is_queued(&self) -> bool {
        matches!(self.state, State::Queued)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let transfer = self.transfer.as_ref().and_then(Core::transfer_deadline);
        let own = match &self.state {
            State::Offering { .. } if self.direct.is_some() => None,
            State::Offering { deadline, .. } => Some(*deadline),
            State::Queued => self.excluded.iter().map(|(_, t)| *t).min(),
            State::Connected { .. } => None,
        };
        [own, transfer].into_iter().flatten().min()
    }

    fn agent(&self) -> Option<&str> {
        match &self.state {
            State::Offering { ext, .. } | State::Connected { ext, .. } => Some(ext),
            State::Queued => None,
        }
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Core {
    pub(super) fn incoming_call(&mut self, now: Instant, conn: ConnId, request: Request) {
        let Some(queue) = self.queue_of(&request) else { return };
        let branch = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        let Ok(mut caller) = request.headers.from() else { return self.reply(conn, &request, 400, &[]) };
        caller.params.remove("tag");
        let call_id = request.headers.call_id().unwrap_or_default().to_owned();
        let tx = ServerTransaction::new(now, request.clone(), true, self.timers);
        self.servers.insert(branch.clone(), Server { tx, conn });
        if request.body.is_empty() {
            // The agent's user agent needs an offer to answer; the lab does not
            // invent one.
            return self.respond_customer(now, &branch, &request, 488, None, None);
        }
        self.next_call += 1;
        let id = self.next_call;
        let case_id = format!("CASE-{:06}", self.rng.next_u64() % 1_000_000);
        let local_tag = self.token();
        let call = Call {
            id,
            queue: queue.clone(),
            case_id: case_id.clone(),
            caller: caller.clone(),
            customer_conn: conn,
            invite: request.clone(),
            server_key: branch.clone(),
            local_tag: local_tag.clone(),
            customer_dialog: None,
            state: State::Queued,
            excluded: Vec::new(),
            queued_at: now,
            direct: None,
            transfer: None,
        };
        self.calls.insert(id, call);
        self.legs.insert(call_id, id);
        self.respond_customer(now, &branch, &request, 180, Some(&local_tag), None);
        let position = self.queued(&queue).len();
        let from = caller.uri.to_string();
        self.emit(SipEvent::Queued { call: format!("C{id}"), queue, from, case_id, position });
        self.route(now);
    }

    /// Answers the customer's INVITE through its server transaction.
    pub(super) fn respond_customer(
        &mut self,
        now: Instant,
        key: &str,
        invite: &Request,
        status: u16,
        tag: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) {
        let mut r = Response::to_request(invite, status);
        if let Ok(mut to) = r.headers.to() {
            let tag = tag.map_or_else(|| self.token(), str::to_owned);
            to.params.set("tag", Some(&tag));
            r.headers.set(HeaderName::To, to.to_string());
        }
        if status < 300 {
            r.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        }
        if let Some((ct, b)) = body {
            r.headers.push(HeaderName::ContentType, ct.to_owned());
            r.body = b.to_vec();
        }
        if let Some(s) = self.servers.get_mut(key) {
            let _ = s.tx.respond(now, r);
        }
    }

    /// Offers every queued call it can, oldest first.
    pub(super) fn route(&mut self, now: Instant) {
        let ids: Vec<u64> = self.calls.iter().filter(|(_, c)| c.is_queued()).map(|(id, _)| *id).collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else { continue };
            call.excluded.retain(|(_, t)| *t > now);
            let busy: Vec<String> = self.calls.values().filter_map(|c| c.agent().map(str::to_owned)).collect();
            let Some(call) = self.calls.get(&id) else { continue };
            let pick = self
                .agents
                .iter()
                .filter(|(ext, a)| {
                    a.available
                        && a.queues.contains(&call.queue)
                        && self.registrar.binding(ext).is_some()
                        && !busy.contains(ext)
                        && !call.excluded.iter().any(|(e, _)| e == *ext)
                })
                .min_by_key(|(ext, a)| (a.idle_since.unwrap_or(now), (*ext).clone()))
                .map(|(ext, _)| ext.clone());
            if let Some(ext) = pick {
                self.offer(now, id, &ext);
            }
        }
    }

    fn offer(&mut self, now: Instant, id: u64, ext: &str) {
        let Some(binding) = self.registrar.binding(ext).cloned() else { return };
        let Ok(target) = binding.contact.parse() else { return };
        let (via, branch) = self.our_via();
        let from_tag = self.token();
        let call_id = format!("{}@{LAB_HOST}", self.token());
        let Some(call) = self.calls.get(&id) else { return };
        let mut r = Request::new(Method::Invite, target);
        let h = &mut r.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        let mut from = call.caller.clone();
        from.params.set("tag", Some(&from_tag));
        h.push(HeaderName::From, from.to_string());
        h.push(HeaderName::To, format!("<sip:{ext}@{}>", self.config.domain));
        h.push(HeaderName::CallId, call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        h.push(HeaderName::PAssertedIdentity, call.caller.to_string());
        h.push(HeaderName::Other("X-Queue".into()), call.queue.clone());
        h.push(HeaderName::Other("X-Case-Id".into()), call.case_id.clone());
        let uui = hex(&format!("case={};queue={}", call.case_id, call.queue));
        h.push(HeaderName::UserToUser, format!("{uui};encoding=hex;purpose=call-center"));
        if let Some(secs) = self.config.answer_after {
            h.push(HeaderName::CallInfo, format!("<sip:acd@{LAB_HOST}>;answer-after={secs}"));
        }
        if let Some(ct) = call.invite.headers.get(&HeaderName::ContentType) {
            h.push(HeaderName::ContentType, ct.to_owned());
        }
        r.body = call.invite.body.clone();
        let (queue, name) = (call.queue.clone(), call.name());
        let deadline = now + self.config.ring_timeout;
        if let Some(call) = self.calls.get_mut(&id) {
            call.state = State::Offering {
                ext: ext.to_owned(),
                conn: binding.conn,
                branch: branch.clone(),
                call_id: call_id.clone(),
                deadline,
            };
        }
        self.legs.insert(call_id, id);
        self.start_client(now, binding.conn, branch, r, Purpose::Offer { call: id });
        self.emit(SipEvent::Routed { call: name, agent: ext.to_owned(), queue });
    }

    pub(super) fn client_response(&mut self, now: Instant, key: &str, response: Response) {
        let Some(client) = self.clients.get_mut(key) else { return };
        let status = response.status;
        if status < 200 {
            if let Purpose::Offer { call } = client.purpose
                && status > 100
            {
                self.direct_progress(now, call, status);
            }
            return;
        }
        let request = client.tx.request().clone();
        let conn = client.conn;
        let purpose = std::mem::replace(&mut client.purpose, Purpose::Plain);
        match purpose {
            Purpose::Offer { call } if status < 300 => self.agent_answered(now, call, conn, &request, &response),
            Purpose::Offer { call } if self.calls.get(&call).is_some_and(|c| c.direct.is_some()) => {
                self.direct_failed(now, call, status)
            }
            Purpose::Offer { call } => {
                let reason = if status == 408 { "no_answer".to_owned() } else { format!("rejected_{status}") };
                self.requeue(now, call, &reason);
            }
            Purpose::TransferExpert { call } => self.expert_offered(now, call, conn, &request, &response),
            Purpose::TransferCustomer { call } => self.customer_reoffered(now, call, &request, &response),
            Purpose::Relay { call, from_conn, incoming, server_key } => {
                self.relayed(now, call, conn, &request, &response, from_conn, &incoming, server_key)
            }
            Purpose::Orphan if status < 300 => {
                // The agent answered an offer already taken back: end it.
                if let Ok(mut dialog) = Dialog::from_uac(&request, &response) {
                    let seq = request.headers.cseq().map(|c| c.seq).unwrap_or(1);
                    self.ack(conn, &dialog, seq);
                    self.bye(now, conn, &mut dialog);
                }
            }
            Purpose::Orphan | Purpose::Plain => {}
        }
    }

    pub(super) fn ack(&mut self, conn: ConnId, dialog: &Dialog, seq: u32) {
        self.ack_with(conn, dialog, seq, None);
    }

    /// An ACK, carrying the SDP answer when the 2xx carried an offer.
    pub(super) fn ack_with(&mut self, conn: ConnId, dialog: &Dialog, seq: u32, body: Option<(&str, &[u8])>) {
        let mut ack = dialog.ack(seq);
        let (via, _) = self.our_via();
        ack.headers.push_front(HeaderName::Via, via);
        if let Some((ct, b)) = body {
            ack.headers.push(HeaderName::ContentType, ct.to_owned());
            ack.body = b.to_vec();
        }
        self.send(conn, ack.to_bytes());
    }

    pub(super) fn bye(&mut self, now: Instant, conn: ConnId, dialog: &mut Dialog) {
        let mut bye = dialog.new_request(Method::Bye);
        let (via, branch) = self.our_via();
        bye.headers.push_front(HeaderName::Via, via);
        self.start_client(now, conn, branch, bye, Purpose::Plain);
    }

    fn agent_answered(&mut self, now: Instant, id: u64, conn: ConnId, request: &Request, response: &Response) {
        let seq = request.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let Ok(dialog) = Dialog::from_uac(request, response) else {
            // A 2xx without a Contact cannot be bridged.
            return self.requeue(now, id, "bad_answer");
        };
        self.ack(conn, &dialog, seq);
        let Some(call) = self.calls.get_mut(&id) else { return };
        let State::Offering { ext, .. } = &call.state else { return };
        let ext = ext.clone();
        call.state = State::Connected { ext: ext.clone(), conn, dialog: Box::new(dialog) };
        call.customer_dialog = Dialog::from_uas(&call.invite, &call.local_tag, false).ok();
        let (key, invite, tag) = (call.server_key.clone(), call.invite.clone(), call.local_tag.clone());
        let waited_ms = u64::try_from(now.duration_since(call.queued_at).as_millis()).unwrap_or(u64::MAX);
        let name = call.name();
        let direct = call.direct.is_some();
        let ct = response.headers.get(&HeaderName::ContentType).unwrap_or("application/sdp").to_owned();
        self.respond_customer(now, &key, &invite, 200, Some(&tag), Some((&ct, &response.body)));
        if !direct {
            self.emit(SipEvent::Answered { call: name, agent: ext, waited_ms });
        }
    }

    fn requeue(&mut self, now: Instant, id: u64, reason: &str) {
        let retry = now + self.config.retry_after;
        let Some(call) = self.calls.get_mut(&id) else { return };
        let State::Offering { ext, call_id, .. } = std::mem::replace(&mut call.state, State::Queued) else { return };
        call.excluded.push((ext.clone(), retry));
        let name = call.name();
        self.legs.remove(&call_id);
        self.emit(SipEvent::Requeued { call: name, agent: ext, reason: reason.to_owned() });
        self.route(now);
    }

    /// Takes an offer back (ring timeout, caller gone): CANCEL, and a late
    /// 2xx is ended.
    pub(super) fn withdraw(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get(&id) else { return };
        let State::Offering { branch, conn, .. } = &call.state else { return };
        let (branch, conn) = (branch.clone(), *conn);
        let Some(client) = self.clients.get_mut(&branch) else { return };
        client.purpose = Purpose::Orphan;
        let cancel = client.tx.cancel();
        self.start_client(now, conn, format!("{branch}/CANCEL"), cancel, Purpose::Plain);
    }

    pub(super) fn ring_timeouts(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| c.direct.is_none())
            .filter(|(_, c)| matches!(c.state, State::Offering { deadline, .. } if deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.withdraw(now, id);
            self.requeue(now, id, "no_answer");
        }
        self.transfer_timeouts(now);
    }

    pub(super) fn cancel(&mut self, now: Instant, conn: ConnId, cancel: &Request, branch: &str) {
        self.reply(conn, cancel, 200, &[]);
        let Some(id) = self.calls.iter().find(|(_, c)| c.server_key == branch).map(|(id, _)| *id) else { return };
        let Some(call) = self.calls.get(&id) else { return };
        if matches!(call.state, State::Connected { .. }) {
            return;
        }
        let (invite, tag) = (call.invite.clone(), call.local_tag.clone());
        self.respond_customer(now, branch, &invite, 487, Some(&tag), None);
        self.withdraw(now, id);
        self.end(now, id, "abandoned");
    }

    pub(super) fn end(&mut self, now: Instant, id: u64, reason: &str) {
        let Some(call) = self.calls.remove(&id) else { return };
        self.legs.retain(|_, c| *c != id);
        if let State::Connected { ext, .. } = &call.state
            && let Some(agent) = self.agents.get_mut(ext)
        {
            agent.idle_since = Some(now);
        }
        if let Some(t) = &call.transfer {
            self.abandon_transfer(now, t);
        }
        if call.direct.is_none() {
            self.emit(SipEvent::Ended { call: call.name(), reason: reason.to_owned() });
        }
        self.route(now);
    }

    pub(super) fn in_dialog(&mut self, now: Instant, conn: ConnId, id: u64, request: Request) {
        if request.method == Method::Ack {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        let from_customer =
            conn == call.customer_conn && request.headers.call_id().ok() == call.invite.headers.call_id().ok();
        let connected = matches!(call.state, State::Connected { .. });
        let dialog = match (&mut call.state, from_customer) {
            (_, true) => call.customer_dialog.as_mut(),
            (State::Connected { dialog, .. }, false) => Some(dialog.as_mut()),
            _ => None,
        };
        let checked = dialog.filter(|d| d.matches_request(&request)).map(|d| d.handle_request(&request));
        match checked {
            Some(Ok(())) => {}
            Some(Err(e)) => return self.reply(conn, &request, e.status_code(), &[]),
            None if request.method == Method::Bye && from_customer && !connected => {
                // Hung up while queued (a BYE in the early dialog).
                self.reply(conn, &request, 200, &[]);
                let Some(call) = self.calls.get(&id) else { return };
                let (key, invite, tag) = (call.server_key.clone(), call.invite.clone(), call.local_tag.clone());
                self.respond_customer(now, &key, &invite, 487, Some(&tag), None);
                self.withdraw(now, id);
                return self.end(now, id, "abandoned");
            }
            None => return self.reply(conn, &request, 481, &[]),
        }
        match request.method {
            Method::Bye => {
                self.reply(conn, &request, 200, &[]);
                let other = self.other_leg(id, from_customer);
                if let Some((other_conn, mut dialog)) = other {
                    self.bye(now, other_conn, &mut dialog);
                    self.put_back(id, !from_customer, dialog);
                }
                self.end(now, id, if from_customer { "caller_hangup" } else { "agent_hangup" });
            }
            // The B2BUA acts on a transfer itself, as an SBC in front of
            // Direct Routing must; it never relays a REFER.
            Method::Refer if !from_customer => self.refer(now, conn, id, request),
            Method::Refer => self.reply(conn, &request, 501, &[]),
            _ => self.relay(now, conn, id, from_customer, request),
        }
    }

    /// The other leg's connection and a copy of its dialog.
    pub(super) fn other_leg(&self, id: u64, from_customer: bool) -> Option<(ConnId, Dialog)> {
        let call = self.calls.get(&id)?;
        if from_customer {
            match &call.state {
                State::Connected { conn, dialog, .. } => Some((*conn, (**dialog).clone())),
                _ => None,
            }
        } else {
            call.customer_dialog.clone().map(|d| (call.customer_conn, d))
        }
    }

    /// Stores a dialog back after building a request in it (its CSeq moved).
    pub(super) fn put_back(&mut self, id: u64, customer: bool, dialog: Dialog) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if customer {
            call.customer_dialog = Some(dialog);
        } else if let State::Connected { dialog: d, .. } = &mut call.state {
            **d = dialog;
        }
    }

    fn relay(&mut self, now: Instant, conn: ConnId, id: u64, from_customer: bool, request: Request) {
        let Some((other_conn, mut dialog)) = self.other_leg(id, from_customer) else {
            return self.reply(conn, &request, 491, &[]);
        };
        let mut out = dialog.new_request(request.method.clone());
        self.put_back(id, !from_customer, dialog);
        let (via, branch) = self.our_via();
        out.headers.push_front(HeaderName::Via, via);
        if matches!(request.method, Method::Invite | Method::Update | Method::Subscribe | Method::Notify) {
            out.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        }
        for name in [
            HeaderName::ContentType,
            HeaderName::Event,
            HeaderName::SubscriptionState,
            HeaderName::Other("Info-Package".into()),
        ] {
            for v in request.headers.get_all(&name) {
                out.headers.push(name.clone(), v.to_owned());
            }
        }
        out.body = request.body.clone();
        let server_key = if request.method == Method::Invite {
            let key = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
            let tx = ServerTransaction::new(now, request.clone(), true, self.timers);
            self.servers.insert(key.clone(), Server { tx, conn });
            Some(key)
        } else {
            None
        };
        let purpose = Purpose::Relay { call: id, from_conn: conn, incoming: Box::new(request), server_key };
        self.start_client(now, other_conn, branch, out, purpose);
    }

    #[allow(clippy::too_many_arguments)]
    fn relayed(
        &mut self,
        now: Instant,
        id: u64,
        out_conn: ConnId,
        out: &Request,
        response: &Response,
        from_conn: ConnId,
        incoming: &Request,
        server_key: Option<String>,
    ) {
        let status = response.status;
        let mut r = Response::to_request(incoming, status);
        r.reason = response.reason.clone();
        if status < 300 && matches!(incoming.method, Method::Invite | Method::Update) {
            r.headers.push(HeaderName::Contact, format!("<sip:acd@{LAB_HOST};transport=ws>"));
        }
        if let Some(ct) = response.headers.get(&HeaderName::ContentType) {
            r.headers.push(HeaderName::ContentType, ct.to_owned());
        }
        r.body = response.body.clone();
        if status < 300 && out.method == Method::Invite {
            // The re-INVITE's 2xx is acknowledged hop by hop.
            let from_customer = from_conn == self.calls.get(&id).map_or(from_conn, |c| c.customer_conn);
            if let Some((_, mut dialog)) = self.other_leg(id, from_customer) {
                let _ = dialog.handle_response(&out.method, response);
                let seq = out.headers.cseq().map(|c| c.seq).unwrap_or(1);
                self.ack(out_conn, &dialog, seq);
                self.put_back(id, !from_customer, dialog);
            }
        }
        match server_key.and_then(|k| self.servers.get_mut(&k)) {
            Some(s) => {
                let _ = s.tx.respond(now, r);
            }
            None => self.send(from_conn, r.to_bytes()),
        }
    }

    /// A connection closed: its calls end, or go back to their queue.
    pub(super) fn conn_gone(&mut self, now: Instant, conn: ConnId) {
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(call) = self.calls.get(&id) else { continue };
            let customer = call.customer_conn == conn;
            let agent = match &call.state {
                State::Offering { conn: c, .. } | State::Connected { conn: c, .. } => *c == conn,
                State::Queued => false,
            };
            let offering = matches!(call.state, State::Offering { .. });
            if customer {
                if offering {
                    self.withdraw(now, id);
                } else if let Some((c, mut d)) = self.other_leg(id, true) {
                    self.bye(now, c, &mut d);
                }
                self.end(now, id, "caller_gone");
            } else if agent && offering && call.direct.is_some() {
                self.direct_failed(now, id, 480);
            } else if agent && offering {
                self.requeue(now, id, "agent_lost");
            } else if agent {
                if let Some((c, mut d)) = self.other_leg(id, false) {
                    self.bye(now, c, &mut d);
                }
                self.end(now, id, "agent_lost");
            }
        }
        for c in self.clients.values_mut() {
            if c.conn == conn {
                c.purpose = Purpose::Plain;
            }
        }
        self.clients.retain(|_, c| c.conn != conn);
        self.servers.retain(|_, s| s.conn != conn);
    }
}
