//! Event state publication (RFC 3903): how an agent tells the contact
//! center's ACD whether it takes calls, with a PIDF document (RFC 3863).
//!
//! Sans-IO like [`registration`](crate::registration): the owner calls
//! [`Publisher::publish`] with a document, feeds responses and time, and
//! sends the bytes it is given. The machine keeps one publication alive:
//!
//! * the first PUBLISH carries the document; the 2xx gives a SIP-ETag;
//! * before it expires it is refreshed with `SIP-If-Match` and no body;
//! * a changed document is sent with `SIP-If-Match` (a modify);
//! * 401/407 are answered with digest credentials, 423 with the
//!   Min-Expires asked for, and 412 (the ETag is unknown, say after an ACD
//!   restart) with a fresh initial PUBLISH of the current document;
//! * a change made while a PUBLISH is in flight waits for its answer
//!   (RFC 3903 4.1: one transaction at a time), and only the latest
//!   document is sent;
//! * [`Publisher::remove`] sends `Expires: 0` with the ETag.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::auth::Challenge;
use crate::message::{HeaderName, Method, Response, Transport, Uri, default_reason};
use crate::pidf::{Pidf, Publication, publish_request};
use crate::transaction::{ClientTransaction, Output as TxOutput, Timers};

/// What a publisher needs to know.
#[derive(Clone)]
pub struct PublisherConfig {
    /// The agent's address of record.
    pub aor: Uri,
    /// The lifetime asked for, seconds.
    pub expires: u32,
    /// Digest user.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// Via sent-by host.
    pub via_host: String,
    /// Via transport.
    pub transport: Transport,
    /// Reliable transport (no retransmissions).
    pub reliable: bool,
    /// Call-ID for every PUBLISH of this publication.
    pub call_id: String,
    /// From tag.
    pub from_tag: String,
    /// Seed for branches and cnonces.
    pub seed: u64,
}

impl std::fmt::Debug for PublisherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublisherConfig")
            .field("aor", &self.aor)
            .field("expires", &self.expires)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

/// What the publisher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The ACD holds this document now.
    Published {
        /// Whether it says the agent takes calls.
        open: bool,
        /// The lifetime granted.
        expires: Duration,
    },
    /// The ACD refused the publication; nothing is published.
    Failed {
        /// The status (408 for no answer).
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The publication was removed.
    Removed,
}

/// What the owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these bytes on the flow.
    Transmit(Vec<u8>),
    /// Tell the application.
    Event(Event),
}

/// What the request in flight was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Initial,
    Refresh,
    Modify,
    Remove,
}

/// One publication, kept alive.
#[derive(Debug)]
pub struct Publisher {
    config: PublisherConfig,
    cseq: u32,
    counter: u64,
    expires: u32,
    /// The document the ACD should hold.
    wanted: Option<Pidf>,
    /// The document the ACD confirmed.
    confirmed: Option<Pidf>,
    etag: Option<String>,
    tx: Option<(ClientTransaction, Purpose, Option<Pidf>)>,
    challenge: Option<(Challenge, bool, u32)>,
    answered_nonce: bool,
    refresh_at: Option<Instant>,
    route: Option<String>,
    outputs: VecDeque<Output>,
}

impl Publisher {
    /// A publisher that has sent nothing yet.
    pub fn new(config: PublisherConfig) -> Self {
        let expires = config.expires;
        Self {
            config,
            cseq: 0,
            counter: 0,
            expires,
            wanted: None,
            confirmed: None,
            etag: None,
            tx: None,
            challenge: None,
            answered_nonce: false,
            refresh_at: None,
            route: None,
            outputs: VecDeque::new(),
        }
    }

    /// A pre-loaded Route (the outbound proxy).
    pub fn set_route(&mut self, route: Option<String>) {
        self.route = route;
    }

    /// The flow changed (a reconnect or failover).
    pub fn rebind(&mut self, via_host: String, transport: Transport, reliable: bool) {
        self.config.via_host = via_host;
        self.config.transport = transport;
        self.config.reliable = reliable;
    }

    /// The document the ACD confirmed, if any.
    pub fn published(&self) -> Option<&Pidf> {
        self.confirmed.as_ref()
    }

    /// Publishes `doc` (or changes the published one).
    pub fn publish(&mut self, now: Instant, doc: Pidf) {
        self.wanted = Some(doc);
        self.next(now);
    }

    /// Sends the current document again from scratch (after a reconnect:
    /// the ACD may have dropped the state with the connection).
    pub fn republish(&mut self, now: Instant) {
        if self.wanted.is_some() {
            self.etag = None;
            self.confirmed = None;
            self.next(now);
        }
    }

    /// Removes the publication (Expires: 0).
    pub fn remove(&mut self, now: Instant) {
        self.wanted = None;
        self.refresh_at = None;
        self.next(now);
    }

    /// Sends what is needed to bring the ACD to `wanted`, unless a
    /// transaction is in flight (its answer calls this again).
    fn next(&mut self, now: Instant) {
        if self.tx.is_some() {
            return;
        }
        match (&self.wanted, &self.etag) {
            (Some(doc), None) => self.send(now, Purpose::Initial, Some(doc.clone())),
            (Some(doc), Some(_)) if self.confirmed.as_ref() != Some(doc) => {
                self.send(now, Purpose::Modify, Some(doc.clone()))
            }
            (Some(_), Some(_)) => {}
            (None, Some(_)) => self.send(now, Purpose::Remove, None),
            (None, None) => {}
        }
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.config.seed, self.counter)
    }

    fn send(&mut self, now: Instant, purpose: Purpose, doc: Option<Pidf>) {
        self.cseq += 1;
        let branch = format!("z9hG4bK{}", self.unique());
        let c = &self.config;
        let p = Publication {
            aor: c.aor.clone(),
            call_id: c.call_id.clone(),
            from_tag: c.from_tag.clone(),
            cseq: self.cseq,
            via_host: c.via_host.clone(),
            branch,
            expires: if purpose == Purpose::Remove { 0 } else { self.expires },
            if_match: if purpose == Purpose::Initial { None } else { self.etag.clone() },
        };
        let via = format!("SIP/2.0/{} {};branch={};rport", c.transport, p.via_host, p.branch);
        let mut request = publish_request(&p, doc.as_ref());
        request.headers.set(HeaderName::Via, via);
        if let Some(route) = &self.route {
            request.headers.push(HeaderName::Route, route.clone());
        }
        self.answered_nonce = false;
        if let Some((challenge, proxy, nc)) = self.challenge.as_mut() {
            *nc += 1;
            let (challenge, proxy, nc) = (challenge.clone(), *proxy, *nc);
            let cnonce = self.unique();
            let c = &self.config;
            let value =
                challenge.authorization(&c.username, &c.password, &Method::Publish, &c.aor.to_string(), &cnonce, nc);
            let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
            request.headers.push(name, value);
            self.answered_nonce = nc == 1;
        }
        let tx = ClientTransaction::new(now, request, self.config.reliable, Timers::default());
        self.tx = Some((tx, purpose, doc));
        self.drain_tx(now);
    }

    /// Feeds a response whose CSeq names PUBLISH.
    pub fn handle_input(&mut self, now: Instant, response: Response) {
        if let Some((tx, _, _)) = self.tx.as_mut() {
            tx.handle_input(now, response);
        }
        self.drain_tx(now);
    }

    /// Whether a response belongs to this publication (by Call-ID).
    pub fn owns(&self, response: &Response) -> bool {
        response.headers.call_id().is_ok_and(|c| c == self.config.call_id)
    }

    fn drain_tx(&mut self, now: Instant) {
        let mut finals = Vec::new();
        while let Some(out) = self.tx.as_mut().and_then(|(tx, _, _)| tx.poll_output()) {
            match out {
                TxOutput::Transmit(bytes) => self.outputs.push_back(Output::Transmit(bytes)),
                TxOutput::Response(r) if r.status >= 200 => finals.push(Some(r)),
                TxOutput::TimedOut => finals.push(None),
                _ => {}
            }
        }
        for f in finals {
            let Some((_, purpose, doc)) = self.tx.take() else { break };
            match f {
                Some(r) => self.final_response(now, purpose, doc, r),
                None => self.fail(408, default_reason(408).to_owned()),
            }
        }
        if self.tx.as_ref().is_some_and(|(tx, _, _)| tx.is_terminated()) {
            self.tx = None;
        }
    }

    fn final_response(&mut self, now: Instant, purpose: Purpose, doc: Option<Pidf>, r: Response) {
        match r.status {
            200..=299 => {
                if purpose == Purpose::Remove {
                    self.etag = None;
                    self.confirmed = None;
                    self.outputs.push_back(Output::Event(Event::Removed));
                } else {
                    if let Some(etag) = r.headers.get(&HeaderName::Other("SIP-ETag".into())) {
                        self.etag = Some(etag.trim().to_owned());
                    }
                    let granted =
                        r.headers.expires().ok().flatten().unwrap_or(self.expires).clamp(1, self.expires.max(1));
                    let margin = (granted / 10).max(5).min(granted / 2);
                    self.refresh_at = Some(now + Duration::from_secs(u64::from(granted - margin)));
                    if purpose != Purpose::Refresh {
                        self.confirmed = doc;
                    }
                    if purpose != Purpose::Refresh || self.confirmed.is_none() {
                        let open = self.confirmed.as_ref().is_some_and(Pidf::is_open);
                        let expires = Duration::from_secs(granted.into());
                        self.outputs.push_back(Output::Event(Event::Published { open, expires }));
                    }
                }
                self.next(now);
            }
            401 | 407 => match Challenge::best(&r.headers, r.status == 407) {
                Ok(c) if self.answered_nonce && !c.stale => self.fail(r.status, r.reason),
                Ok(c) => {
                    self.challenge = Some((c, r.status == 407, 0));
                    self.send(now, purpose, doc);
                }
                Err(_) => self.fail(r.status, r.reason),
            },
            // RFC 3903 6: the ETag is not known (the ACD restarted or the
            // publication lapsed): start again with the whole document.
            412 => {
                self.etag = None;
                self.confirmed = None;
                if purpose == Purpose::Remove {
                    self.outputs.push_back(Output::Event(Event::Removed));
                }
                self.next(now);
            }
            423 => match r.headers.get(&HeaderName::MinExpires).and_then(|v| v.trim().parse().ok()) {
                Some(min) if min > self.expires => {
                    self.expires = min;
                    self.send(now, purpose, doc);
                }
                _ => self.fail(r.status, r.reason),
            },
            _ => self.fail(r.status, r.reason),
        }
    }

    fn fail(&mut self, status: u16, reason: String) {
        self.etag = None;
        self.confirmed = None;
        self.refresh_at = None;
        self.outputs.push_back(Output::Event(Event::Failed { status, reason }));
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.tx.as_ref().and_then(|(tx, _, _)| tx.poll_timeout())].into_iter().flatten().min()
    }

    /// Fires the refresh and transaction timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((tx, _, _)) = self.tx.as_mut() {
            tx.handle_timeout(now);
            self.drain_tx(now);
        }
        if self.refresh_at.is_some_and(|t| t <= now) && self.tx.is_none() {
            self.refresh_at = None;
            if self.etag.is_some() {
                self.send(now, Purpose::Refresh, None);
            } else {
                self.next(now);
            }
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, Request, parse};

    fn publisher() -> Publisher {
        Publisher::new(PublisherConfig {
            aor: "sip:1001@example.com".parse().expect("aor"),
            expires: 600,
            username: "1001".into(),
            password: "s3cret".into(),
            via_host: "abc.invalid".into(),
            transport: Transport::Wss,
            reliable: true,
            call_id: "pub-1".into(),
            from_tag: "t1".into(),
            seed: 7,
        })
    }

    fn sent(p: &mut Publisher) -> Vec<Request> {
        let mut out = Vec::new();
        while let Some(o) = p.poll_output() {
            if let Output::Transmit(bytes) = o
                && let Ok(Message::Request(r)) = parse(&bytes)
            {
                out.push(r);
            }
        }
        out
    }

    fn events(p: &mut Publisher) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(o) = p.poll_output() {
            if let Output::Event(e) = o {
                out.push(e);
            }
        }
        out
    }

    fn answer(p: &mut Publisher, now: Instant, req: &Request, status: u16, extra: &[(&str, &str)]) {
        let mut r = Response::to_request(req, status);
        for (name, value) in extra {
            r.headers.push(HeaderName::parse(name), *value);
        }
        p.handle_input(now, r);
    }

    fn if_match(r: &Request) -> Option<String> {
        r.headers.get(&HeaderName::Other("SIP-If-Match".into())).map(str::to_owned)
    }

    #[test]
    fn initial_then_modify_then_refresh_then_remove() {
        let mut p = publisher();
        let t0 = Instant::now();
        p.publish(t0, Pidf::open("sip:1001@example.com"));
        let r = sent(&mut p).pop().expect("PUBLISH");
        assert_eq!(r.method, Method::Publish);
        assert_eq!(if_match(&r), None);
        assert!(String::from_utf8_lossy(&r.body).contains("<basic>open</basic>"));
        answer(&mut p, t0, &r, 200, &[("SIP-ETag", "e1"), ("Expires", "600")]);
        assert_eq!(events(&mut p), vec![Event::Published { open: true, expires: Duration::from_secs(600) }]);

        p.publish(t0, Pidf::closed("sip:1001@example.com", "away"));
        let r = sent(&mut p).pop().expect("modify");
        assert_eq!(if_match(&r).as_deref(), Some("e1"));
        assert!(String::from_utf8_lossy(&r.body).contains("<basic>closed</basic>"));
        answer(&mut p, t0, &r, 200, &[("SIP-ETag", "e2"), ("Expires", "600")]);
        assert_eq!(events(&mut p), vec![Event::Published { open: false, expires: Duration::from_secs(600) }]);

        // The refresh is due 60 s before expiry: no body, the latest ETag.
        let due = p.poll_timeout().expect("refresh timer");
        assert_eq!(due - t0, Duration::from_secs(540));
        p.handle_timeout(due);
        let r = sent(&mut p).pop().expect("refresh");
        assert_eq!(if_match(&r).as_deref(), Some("e2"));
        assert!(r.body.is_empty());
        answer(&mut p, due, &r, 200, &[("SIP-ETag", "e3"), ("Expires", "600")]);
        assert!(events(&mut p).is_empty(), "a refresh changes nothing the agent sees");

        p.remove(due);
        let r = sent(&mut p).pop().expect("remove");
        assert_eq!(r.headers.expires().ok().flatten(), Some(0));
        assert_eq!(if_match(&r).as_deref(), Some("e3"));
        answer(&mut p, due, &r, 200, &[]);
        assert_eq!(events(&mut p), vec![Event::Removed]);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn a_change_while_one_is_in_flight_waits_and_only_the_latest_goes() {
        let mut p = publisher();
        let t0 = Instant::now();
        p.publish(t0, Pidf::open("sip:1001@example.com"));
        let first = sent(&mut p).pop().expect("PUBLISH");
        p.publish(t0, Pidf::closed("sip:1001@example.com", "away"));
        p.publish(t0, Pidf::closed("sip:1001@example.com", "wrap-up"));
        assert!(sent(&mut p).is_empty(), "one transaction at a time");
        answer(&mut p, t0, &first, 200, &[("SIP-ETag", "e1")]);
        let all: Vec<Request> = sent(&mut p);
        assert_eq!(all.len(), 1);
        assert!(String::from_utf8_lossy(&all[0].body).contains("wrap-up"));
    }

    #[test]
    fn digest_challenge_unknown_etag_and_min_expires_are_handled() {
        let mut p = publisher();
        let t0 = Instant::now();
        p.publish(t0, Pidf::open("sip:1001@example.com"));
        let r = sent(&mut p).pop().expect("PUBLISH");
        answer(
            &mut p,
            t0,
            &r,
            401,
            &[("WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256")],
        );
        let r = sent(&mut p).pop().expect("with credentials");
        assert!(r.headers.get(&HeaderName::Authorization).is_some_and(|a| a.contains("username=\"1001\"")));
        answer(&mut p, t0, &r, 423, &[("Min-Expires", "1200")]);
        let r = sent(&mut p).pop().expect("longer");
        assert_eq!(r.headers.expires().ok().flatten(), Some(1200));
        answer(&mut p, t0, &r, 200, &[("SIP-ETag", "e1"), ("Expires", "1200")]);
        events(&mut p);
        // The ACD restarted: it does not know e1. A fresh initial PUBLISH follows.
        p.publish(t0, Pidf::closed("sip:1001@example.com", "away"));
        let r = sent(&mut p).pop().expect("modify");
        answer(&mut p, t0, &r, 412, &[]);
        let r = sent(&mut p).pop().expect("initial again");
        assert_eq!(if_match(&r), None);
        assert!(String::from_utf8_lossy(&r.body).contains("away"));
    }

    #[test]
    fn wrong_credentials_fail_once_instead_of_looping() {
        let mut p = publisher();
        let t0 = Instant::now();
        p.publish(t0, Pidf::open("sip:1001@example.com"));
        let challenge = [("WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\"")];
        let r = sent(&mut p).pop().expect("PUBLISH");
        answer(&mut p, t0, &r, 401, &challenge);
        let r = sent(&mut p).pop().expect("with credentials");
        answer(&mut p, t0, &r, 401, &challenge);
        // Only the failure comes out: no third PUBLISH.
        assert!(matches!(events(&mut p).as_slice(), [Event::Failed { status: 401, .. }]));
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn no_answer_is_a_408_failure_on_simulated_time() {
        let mut p = publisher();
        let t0 = Instant::now();
        p.publish(t0, Pidf::open("sip:1001@example.com"));
        let _ = sent(&mut p);
        let due = p.poll_timeout().expect("Timer F");
        assert_eq!(due - t0, Duration::from_secs(32));
        p.handle_timeout(due);
        assert!(matches!(events(&mut p).as_slice(), [Event::Failed { status: 408, .. }]));
    }
}
