//! Dialogs (RFC 3261 section 12): the peer-to-peer state an INVITE (or a
//! SUBSCRIBE/REFER) sets up, from which every later request in the call is
//! built.

use crate::Error;
use crate::message::{HeaderName, Method, NameAddr, Request, Response, Uri};

/// What identifies a dialog (12): Call-ID plus both tags, from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Created by a provisional response with a To tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// One dialog, either side.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    state: State,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    local: NameAddr,
    remote: NameAddr,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
}

fn contact_uri(headers: &crate::message::Headers) -> Result<Uri, Error> {
    match headers.contacts()?.into_iter().next() {
        Some(crate::message::Contact::Address(a)) => Ok(a.uri),
        _ => Err(Error::MissingHeader("Contact".into())),
    }
}

fn tag_of(addr: &NameAddr, header: &str) -> Result<String, Error> {
    addr.tag().map(str::to_owned).ok_or(Error::Header { name: header.into(), reason: "no tag" })
}

impl Dialog {
    /// The dialog a response to our request creates (12.1.2): a 1xx with a
    /// To tag makes an early dialog, a 2xx a confirmed one. The route set is
    /// the response's Record-Route in reverse.
    pub fn from_uac(request: &Request, response: &Response) -> Result<Self, Error> {
        let local = request.headers.from()?;
        let remote = response.headers.to()?;
        let mut route_set = response.headers.record_routes()?;
        route_set.reverse();
        Ok(Self {
            id: DialogId {
                call_id: request.headers.call_id()?.to_owned(),
                local_tag: tag_of(&local, "From")?,
                remote_tag: tag_of(&remote, "To")?,
            },
            state: if (200..300).contains(&response.status) { State::Confirmed } else { State::Early },
            local_seq: Some(request.headers.cseq()?.seq),
            remote_seq: None,
            local,
            remote,
            remote_target: contact_uri(&response.headers)?,
            route_set,
        })
    }

    /// The dialog we create by answering `request` with a response carrying
    /// `local_tag` (12.1.1); `early` for a 1xx. The route set is the
    /// request's Record-Route in order.
    pub fn from_uas(request: &Request, local_tag: &str, early: bool) -> Result<Self, Error> {
        let remote = request.headers.from()?;
        let mut local = request.headers.to()?;
        local.params.set("tag", Some(local_tag));
        Ok(Self {
            id: DialogId {
                call_id: request.headers.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: tag_of(&remote, "From")?,
            },
            state: if early { State::Early } else { State::Confirmed },
            local_seq: None,
            remote_seq: Some(request.headers.cseq()?.seq),
            local,
            remote,
            remote_target: contact_uri(&request.headers)?,
            route_set: request.headers.record_routes()?,
        })
    }

    /// The dialog's identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// `"Early"` or `"Confirmed"`, for logs.
    pub fn state(&self) -> &'static str {
        match self.state {
            State::Early => "Early",
            State::Confirmed => "Confirmed",
        }
    }

    /// Where in-dialog requests go (the peer's Contact).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// Our address (From in our requests), with our tag.
    pub fn local(&self) -> &NameAddr {
        &self.local
    }

    /// The peer's address (To in our requests), with its tag.
    pub fn remote(&self) -> &NameAddr {
        &self.remote
    }

    /// Whether the dialog is still early (no 2xx yet).
    pub fn is_early(&self) -> bool {
        self.state == State::Early
    }

    /// Takes the next local CSeq number without building a request, for a
    /// request rebuilt with new credentials (RFC 3261 22.2: a new CSeq).
    pub fn next_local_seq(&mut self) -> u32 {
        let seq = self.local_seq.map_or(1, |s| s.wrapping_add(1));
        self.local_seq = Some(seq);
        seq
    }

    /// The route set, in the order requests carry it.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// Whether an incoming request belongs to this dialog (12.2.2).
    pub fn matches_request(&self, request: &Request) -> bool {
        let h = &request.headers;
        h.call_id().is_ok_and(|c| c == self.id.call_id)
            && h.to().is_ok_and(|t| t.tag() == Some(&self.id.local_tag))
            && h.from().is_ok_and(|f| f.tag() == Some(&self.id.remote_tag))
    }

    /// Whether a response to our request belongs to this dialog.
    pub fn matches_response(&self, response: &Response) -> bool {
        let h = &response.headers;
        h.call_id().is_ok_and(|c| c == self.id.call_id)
            && h.from().is_ok_and(|f| f.tag() == Some(&self.id.local_tag))
            && h.to().is_ok_and(|t| t.tag() == Some(&self.id.remote_tag))
    }

    /// Builds the next request in this dialog (12.2.1.1): From, To, Call-ID,
    /// the next CSeq, and the Request-URI and Route by loose or strict
    /// routing. The caller adds Via (with a fresh branch), Contact and body.
    pub fn new_request(&mut self, method: Method) -> Request {
        let seq = self.local_seq.map_or(1, |s| s.wrapping_add(1));
        self.local_seq = Some(seq);
        self.request_with_seq(method, seq)
    }

    /// The ACK for a 2xx to our INVITE with CSeq number `invite_seq`
    /// (13.2.2.4): sent outside any transaction, with the INVITE's number.
    pub fn ack(&self, invite_seq: u32) -> Request {
        self.request_with_seq(Method::Ack, invite_seq)
    }

    fn request_with_seq(&self, method: Method, seq: u32) -> Request {
        let strict = self.route_set.first().is_some_and(|r| r.uri.as_sip().is_none_or(|u| !u.params.contains("lr")));
        let (uri, routes): (Uri, Vec<String>) = match self.route_set.split_first() {
            // Strict routing (RFC 2543 proxies): the first route becomes the
            // Request-URI, and the remote target goes last in Route.
            Some((first, rest)) if strict => {
                let mut routes: Vec<String> = rest.iter().map(NameAddr::to_string).collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), routes)
            }
            _ => (self.remote_target.clone(), self.route_set.iter().map(NameAddr::to_string).collect()),
        };
        let mut r = Request::new(method.clone(), uri);
        r.headers.push(HeaderName::MaxForwards, "70");
        for route in routes {
            r.headers.push(HeaderName::Route, route);
        }
        r.headers.push(HeaderName::From, self.local.to_string());
        r.headers.push(HeaderName::To, self.remote.to_string());
        r.headers.push(HeaderName::CallId, self.id.call_id.clone());
        r.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        r
    }

    /// Takes an incoming in-dialog request (12.2.2): its CSeq must be higher
    /// than the last one (else answer 500, [`Error::CSeqOutOfOrder`]), and an
    /// INVITE or UPDATE with a Contact refreshes the remote target. ACK and
    /// CANCEL reuse their INVITE's number and are not checked.
    pub fn handle_request(&mut self, request: &Request) -> Result<(), Error> {
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let seq = request.headers.cseq()?.seq;
        if let Some(last) = self.remote_seq
            && seq <= last
        {
            return Err(Error::CSeqOutOfOrder { got: seq, last });
        }
        self.remote_seq = Some(seq);
        if is_target_refresh(&request.method)
            && let Ok(target) = contact_uri(&request.headers)
        {
            self.remote_target = target;
        }
        Ok(())
    }

    /// Confirms an early dialog we created as UAS, once we send our 2xx
    /// (12.1.1: the route set and targets stay as the request set them).
    pub fn confirm(&mut self) {
        self.state = State::Confirmed;
    }

    /// Takes a response to a request we sent in this dialog: a 2xx confirms
    /// an early dialog (recomputing the route set, 13.2.2.4) and a 2xx to a
    /// target refresh updates the remote target (12.2.1.2).
    pub fn handle_response(&mut self, method: &Method, response: &Response) -> Result<(), Error> {
        if !(200..300).contains(&response.status) {
            return Ok(());
        }
        if self.state == State::Early && *method == Method::Invite {
            let mut route_set = response.headers.record_routes()?;
            route_set.reverse();
            self.route_set = route_set;
            self.state = State::Confirmed;
        }
        if is_target_refresh(method)
            && let Ok(target) = contact_uri(&response.headers)
        {
            self.remote_target = target;
        }
        Ok(())
    }
}

fn is_target_refresh(method: &Method) -> bool {
    matches!(method, Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    const INVITE: &str = "INVITE sip:expert@example.com SIP/2.0\r\n\
        Via: SIP/2.0/WSS agent.invalid;branch=z9hG4bKa\r\nMax-Forwards: 70\r\n\
        From: \"Agent\" <sip:agent@example.com>;tag=a1\r\nTo: <sip:expert@example.com>\r\n\
        Call-ID: c1@agent.invalid\r\nCSeq: 10 INVITE\r\nContact: <sip:agent@agent.invalid;transport=ws>\r\n\
        Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\nContent-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match parse(INVITE.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("fixture: {other:?}"),
        }
    }

    fn answer(request: &Request, status: u16, contact: &str) -> Response {
        let mut r = Response::to_request(request, status);
        r.headers.set(HeaderName::To, "<sip:expert@example.com>;tag=b2");
        r.headers.push(HeaderName::Contact, contact);
        for rr in request.headers.get_all(&HeaderName::RecordRoute) {
            r.headers.push(HeaderName::RecordRoute, rr);
        }
        r
    }

    #[test]
    fn uac_dialog_reverses_record_route_and_builds_loose_routed_requests() {
        let inv = invite();
        let mut d = Dialog::from_uac(&inv, &answer(&inv, 200, "<sip:expert@10.0.0.9>")).expect("dialog");
        assert_eq!(d.state(), "Confirmed");
        assert_eq!(d.id().remote_tag, "b2");
        let bye = d.new_request(Method::Bye);
        assert_eq!(bye.uri.to_string(), "sip:expert@10.0.0.9", "loose routing: Request-URI is the target");
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(routes, ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
        assert_eq!(bye.headers.cseq().map(|c| c.seq), Ok(11));
        assert_eq!(d.ack(10).headers.cseq().map(|c| (c.seq, c.method)), Ok((10, Method::Ack)));
        let reparsed = parse(&{
            let mut b = bye.clone();
            b.headers.push_front(HeaderName::Via, "SIP/2.0/WSS agent.invalid;branch=z9hG4bKb");
            b.to_bytes()
        });
        assert!(reparsed.is_ok(), "in-dialog request is well-formed: {reparsed:?}");
        assert!(d.matches_response(&answer(&inv, 200, "<sip:x@y>")));
    }

    #[test]
    fn strict_route_puts_the_target_last() {
        let inv = invite();
        let mut resp = answer(&inv, 200, "<sip:expert@10.0.0.9>");
        resp.headers.remove(&HeaderName::RecordRoute);
        resp.headers.push(HeaderName::RecordRoute, "<sip:old.example.com>");
        let mut d = Dialog::from_uac(&inv, &resp).expect("dialog");
        let info = d.new_request(Method::Info);
        assert_eq!(info.uri.to_string(), "sip:old.example.com");
        assert_eq!(info.headers.get_all(&HeaderName::Route).collect::<Vec<_>>(), ["<sip:expert@10.0.0.9>"]);
    }

    #[test]
    fn uas_dialog_orders_cseq_and_refreshes_target() {
        let inv = invite();
        let mut d = Dialog::from_uas(&inv, "b2", true).expect("dialog");
        assert_eq!(d.state(), "Early");
        assert_eq!(d.remote_target().to_string(), "sip:agent@agent.invalid;transport=ws");
        assert_eq!(d.route_set().len(), 2);
        let ours = d.new_request(Method::Invite);
        assert_eq!(ours.headers.to().ok().and_then(|t| t.tag().map(str::to_owned)), Some("a1".into()));
        assert_eq!(ours.headers.cseq().map(|c| c.seq), Ok(1), "our first request in the dialog");

        // A re-INVITE from the peer, as it would arrive.
        let mut peer = Dialog::from_uac(&inv, &answer(&inv, 200, "<sip:x@y>")).expect("peer view");
        let mut reinvite = peer.new_request(Method::Invite);
        reinvite.headers.push(HeaderName::Contact, "<sip:agent@moved.invalid>");
        assert!(d.matches_request(&reinvite));
        d.handle_request(&reinvite).expect("higher CSeq");
        assert_eq!(d.remote_target().to_string(), "sip:agent@moved.invalid", "target refresh");
        assert_eq!(d.handle_request(&reinvite), Err(Error::CSeqOutOfOrder { got: 11, last: 11 }));
        assert_eq!(Error::CSeqOutOfOrder { got: 1, last: 2 }.status_code(), 500);
    }

    #[test]
    fn early_dialog_is_confirmed_by_2xx_with_a_new_route_set() {
        let inv = invite();
        let mut d = Dialog::from_uac(&inv, &answer(&inv, 180, "<sip:expert@10.0.0.9>")).expect("early");
        assert_eq!(d.state(), "Early");
        let mut ok = answer(&inv, 200, "<sip:expert@10.0.0.10>");
        ok.headers.remove(&HeaderName::RecordRoute);
        d.handle_response(&Method::Invite, &ok).expect("2xx");
        assert_eq!(d.state(), "Confirmed");
        assert!(d.route_set().is_empty());
        assert_eq!(d.remote_target().to_string(), "sip:expert@10.0.0.10");
    }

    #[test]
    fn a_response_without_contact_or_tag_makes_no_dialog() {
        let inv = invite();
        let mut resp = Response::to_request(&inv, 200);
        assert!(Dialog::from_uac(&inv, &resp).is_err(), "no To tag");
        resp.headers.set(HeaderName::To, "<sip:expert@example.com>;tag=b2");
        assert_eq!(Dialog::from_uac(&inv, &resp).err(), Some(Error::MissingHeader("Contact".into())));
    }
}
