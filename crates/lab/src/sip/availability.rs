//! REGISTER and PUBLISH: who is reachable, and who takes calls.

use std::time::{Duration, Instant};

use warmline_sip::pidf::{self, Pidf};
use warmline_sip::{Contact, HeaderName, Request};

use super::registrar::{Binding, Registrar, Verdict, lifetime};
use super::{ConnId, Core, SipEvent};

/// The longest publication the lab grants, and the default.
const MAX_PUBLISH_SECS: u32 = 3600;

/// An agent's routing state.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub queues: Vec<String>,
    /// The published state says open.
    pub available: bool,
    pub note: Option<String>,
    pub etag: Option<String>,
    pub expires_at: Option<Instant>,
    /// Since when it has had no call while available: longest idle first.
    pub idle_since: Option<Instant>,
}

impl Agent {
    pub fn new(queues: Vec<String>) -> Self {
        Self { queues, available: false, note: None, etag: None, expires_at: None, idle_since: None }
    }
}

fn sip_header(name: &str) -> HeaderName {
    HeaderName::Other(name.into())
}

impl Core {
    pub(super) fn register(&mut self, now: Instant, conn: ConnId, request: &Request) {
        let trunk = self.conns.get(&conn).is_some_and(|c| c.trunk);
        let Ok(to) = request.headers.to() else { return self.reply(conn, request, 400, &[]) };
        let Some(user) = to.uri.as_sip().and_then(|u| u.user.clone()) else {
            return self.reply(conn, request, 400, &[]);
        };
        let contacts = request.headers.contacts().unwrap_or_default();
        let contact = contacts.iter().find_map(|c| match c {
            Contact::Address(a) => Some(a.clone()),
            Contact::Wildcard => None,
        });
        if trunk {
            // The lab's own customers and experts: trusted. Customers are
            // never routed to; an expert's number is (Direct Routing).
            if self.config.experts.contains(&user)
                && let Some(c) = &contact
            {
                let asked = request.headers.expires().ok().flatten();
                let asked = c.params.get("expires").flatten().and_then(|v| v.parse::<u32>().ok()).or(asked);
                if asked == Some(0) {
                    self.expert_bindings.remove(&user);
                } else {
                    let binding =
                        Binding { conn, contact: c.uri.to_string(), expires_at: now + Duration::from_secs(3600) };
                    self.expert_bindings.insert(user.clone(), binding);
                }
            }
            let value = contact.map(|c| format!("<{}>;expires={}", c.uri, Registrar::grant(None))).unwrap_or_default();
            let extra: Vec<_> = if value.is_empty() { Vec::new() } else { vec![(HeaderName::Contact, value)] };
            if let Some(c) = contacts.first().and_then(|c| match c {
                Contact::Address(a) => a.uri.as_sip().map(|u| u.host.to_string()),
                Contact::Wildcard => None,
            }) {
                self.hosts.insert(c, conn);
            }
            return self.reply(conn, request, 200, &extra);
        }
        match self.registrar.check(request) {
            (Verdict::Ok, Some(auth_user)) if auth_user == user && self.agents.contains_key(&user) => {}
            (Verdict::Ok, _) => return self.reply(conn, request, 403, &[]),
            (Verdict::Challenge { stale }, _) => {
                let nonce = self.token();
                let value = self.registrar.challenge(nonce, stale);
                return self.reply(conn, request, 401, &[(HeaderName::WwwAuthenticate, value)]);
            }
        }
        let asked = match contact.as_ref().and_then(|c| c.params.get("expires").flatten()) {
            Some(v) => v.parse::<u32>().ok(),
            None => request.headers.expires().ok().flatten(),
        };
        let Some(contact) = contact else {
            // A fetch of the bindings: none to show beyond ours.
            return self.reply(conn, request, 200, &[]);
        };
        if asked == Some(0) {
            self.registrar.unbind(&user, conn);
            self.reply(conn, request, 200, &[]);
            self.lost_binding(now, &user);
            return;
        }
        let granted = Registrar::grant(asked);
        if let Some(sip) = contact.uri.as_sip() {
            self.hosts.insert(sip.host.to_string(), conn);
        }
        let binding = Binding { conn, contact: contact.uri.to_string(), expires_at: now + lifetime(granted) };
        self.registrar.bind(&user, binding);
        let mut echoed = contact.clone();
        echoed.params.set("expires", Some(&granted.to_string()));
        self.reply(conn, request, 200, &[(HeaderName::Contact, echoed.to_string())]);
        self.emit(SipEvent::Registered { agent: user });
        self.route(now);
    }

    pub(super) fn publish(&mut self, now: Instant, conn: ConnId, request: &Request) {
        let user = request.headers.to().ok().and_then(|t| t.uri.as_sip().and_then(|u| u.user.clone()));
        let Some(user) = user.filter(|u| self.agents.contains_key(u)) else {
            return self.reply(conn, request, 404, &[]);
        };
        // The flow vouches for the publisher, as an SBC trusts its
        // authenticated flows: only a connection the agent registered on.
        let bound = self.registrar.bindings.get(&user).is_some_and(|l| l.iter().any(|b| b.conn == conn));
        if !bound {
            return self.reply(conn, request, 403, &[]);
        }
        if request.headers.get(&HeaderName::Event).map(|e| e.split(';').next().unwrap_or("").trim())
            != Some(pidf::EVENT)
        {
            return self.reply(conn, request, 489, &[(HeaderName::AllowEvents, pidf::EVENT.into())]);
        }
        let if_match = request.headers.get(&sip_header("SIP-If-Match")).map(str::trim).map(str::to_owned);
        let expires = request.headers.expires().ok().flatten().unwrap_or(MAX_PUBLISH_SECS).min(MAX_PUBLISH_SECS);
        let Some(agent) = self.agents.get(&user) else { return };
        if let Some(etag) = &if_match
            && agent.etag.as_deref() != Some(etag.as_str())
        {
            return self.reply(conn, request, 412, &[]);
        }
        let doc = if request.body.is_empty() {
            if if_match.is_none() {
                return self.reply(conn, request, 400, &[]);
            }
            None
        } else {
            let media = request.headers.content_type().ok().flatten().map(|c| c.split(';').next().unwrap_or("").trim());
            if !media.is_some_and(|m| m.eq_ignore_ascii_case(pidf::CONTENT_TYPE)) {
                return self.reply(conn, request, 415, &[(HeaderName::Accept, pidf::CONTENT_TYPE.into())]);
            }
            match Pidf::parse(&String::from_utf8_lossy(&request.body)) {
                Ok(doc) => Some(doc),
                Err(_) => return self.reply(conn, request, 400, &[]),
            }
        };
        if expires == 0 {
            self.reply(conn, request, 200, &[(HeaderName::Expires, "0".into())]);
            self.set_availability(now, &user, false, Some("offline".into()), None, None);
            return;
        }
        let etag = self.token();
        self.reply(
            conn,
            request,
            200,
            &[(sip_header("SIP-ETag"), etag.clone()), (HeaderName::Expires, expires.to_string())],
        );
        let until = Some(now + Duration::from_secs(u64::from(expires)));
        match doc {
            Some(doc) => self.set_availability(now, &user, doc.is_open(), doc.note, Some(etag), until),
            None => {
                if let Some(agent) = self.agents.get_mut(&user) {
                    agent.etag = Some(etag);
                    agent.expires_at = until;
                }
            }
        }
    }

    fn set_availability(
        &mut self,
        now: Instant,
        ext: &str,
        available: bool,
        note: Option<String>,
        etag: Option<String>,
        expires_at: Option<Instant>,
    ) {
        let Some(agent) = self.agents.get_mut(ext) else { return };
        let changed = agent.available != available || agent.note != note;
        if available && !agent.available {
            agent.idle_since = Some(now);
        }
        agent.available = available;
        agent.note = note.clone();
        agent.etag = etag;
        agent.expires_at = expires_at;
        if changed {
            self.emit(SipEvent::Availability { agent: ext.to_owned(), available, note });
        }
        self.route(now);
    }

    pub(super) fn expire_publications(&mut self, now: Instant) {
        let due: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| a.expires_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for ext in due {
            self.set_availability(now, &ext, false, Some("expired".into()), None, None);
        }
    }
}
