//! The proxy between registered clients (agent to agent, agent to expert):
//! forwarded by AOR or by the Contact host a flow registered, with our Via
//! on top and Record-Route on dialog-creating INVITEs, as Kamailio does for
//! WebSocket clients. It keeps no transaction state: WebSocket is reliable,
//! and the branch it adds derives from the client's, so a CANCEL follows
//! its INVITE.

use std::time::Instant;

use warmline_sip::{HeaderName, Headers, Method, Request, Response};

use super::{ConnId, Core, LAB_HOST};

impl Core {
    pub(super) fn proxy_request(&mut self, _now: Instant, conn: ConnId, mut request: Request) {
        let registered = self.registrar.bindings.values().flatten().any(|b| b.conn == conn);
        if !registered {
            return self.reply(conn, &request, 403, &[]);
        }
        match request.headers.max_forwards() {
            Ok(Some(0)) => return self.reply(conn, &request, 483, &[]),
            Ok(Some(n)) => request.headers.set(HeaderName::MaxForwards, (n - 1).to_string()),
            _ => request.headers.set(HeaderName::MaxForwards, "69"),
        }
        // Our own Route is consumed (loose routing).
        let routes: Vec<String> = request.headers.get_all(&HeaderName::Route).map(str::to_owned).collect();
        if routes.first().is_some_and(|r| r.contains(LAB_HOST)) {
            request.headers.remove(&HeaderName::Route);
            for r in routes.iter().skip(1) {
                request.headers.push(HeaderName::Route, r.clone());
            }
        }
        let Some(target) = self.resolve(&mut request) else {
            return self.reply(conn, &request, 480, &[]);
        };
        let branch = request.headers.top_via().ok().and_then(|v| v.branch().map(str::to_owned)).unwrap_or_default();
        request.headers.push_front(HeaderName::Via, format!("SIP/2.0/WSS {LAB_HOST};branch=z9hG4bKlabp{branch}"));
        let initial = request.headers.to().is_ok_and(|t| t.tag().is_none());
        if initial && matches!(request.method, Method::Invite | Method::Subscribe | Method::Refer) {
            request.headers.push_front(HeaderName::RecordRoute, format!("<sip:{LAB_HOST};transport=ws;lr>"));
        }
        self.send(target, request.to_bytes());
    }

    /// The connection a request goes to: a flow's own host, else the AOR's
    /// newest binding (whose Contact becomes the Request-URI).
    fn resolve(&self, request: &mut Request) -> Option<ConnId> {
        let sip = request.uri.as_sip()?;
        let host = sip.host.to_string();
        if host.ends_with(".invalid") && host != LAB_HOST {
            return self.hosts.get(&host).copied();
        }
        let user = sip.user.clone()?;
        let binding = self.registrar.binding(&user)?;
        let conn = binding.conn;
        if let Ok(uri) = binding.contact.parse() {
            request.uri = uri;
        }
        Some(conn)
    }

    pub(super) fn proxy_response(&mut self, response: Response) {
        let vias: Vec<String> = response.headers.get_all(&HeaderName::Via).map(str::to_owned).collect();
        let mut rest = Headers::new();
        let mut skipped = false;
        for h in response.headers.iter() {
            if h.name == HeaderName::Via && !skipped {
                skipped = true;
                continue;
            }
            rest.push(h.name.clone(), h.value.clone());
        }
        let mut response = response;
        response.headers = rest;
        if vias.len() < 2 {
            return;
        }
        let Ok(next) = response.headers.top_via() else { return };
        let Some(&conn) = self.hosts.get(&next.host.to_string()) else { return };
        self.send(conn, response.to_bytes());
    }
}
