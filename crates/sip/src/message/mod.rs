//! SIP messages: types, parsing and serialization (RFC 3261 sections 7, 18.3,
//! 20 and 25).
//!
//! Header values are stored as text and read through typed accessors on
//! [`Headers`]; a message that [`parse`] accepted has already passed every
//! accessor, so signalling code can rely on From, To, Call-ID, CSeq and Via.

mod address;
mod fields;
mod header;
pub(crate) mod params;
mod parse;
mod reject;
pub(crate) mod scan;
mod serialize;
mod uri;
mod via;

pub use address::{Contact, NameAddr};
pub use fields::{CSeq, Method};
pub use header::{Header, HeaderName, Headers};
pub use params::{Param, Params};
pub use parse::{Frame, Limits, parse, parse_stream, parse_with};
pub use reject::error_response;
pub use uri::{Host, SipUri, TelUri, Uri};
pub use via::{MAGIC_COOKIE, Transport, Via};

/// Resolves `%HH` escapes once, as URI comparison does (RFC 3261 19.1.4);
/// the result may hold any byte.
pub fn unescape(s: &str) -> Vec<u8> {
    scan::unescape(s)
}

/// A SIP request. The version is always SIP/2.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The headers, in order, without Content-Length.
    pub headers: Headers,
    /// The body; its length is written as Content-Length.
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, 100 to 699.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// The headers, in order, without Content-Length.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Self { method, uri, headers: Headers::new(), body: Vec::new() }
    }
}

impl Response {
    /// A response with the standard reason phrase and no headers.
    pub fn new(status: u16) -> Self {
        Self { status, reason: default_reason(status).to_owned(), headers: Headers::new(), body: Vec::new() }
    }

    /// A response to `request` as RFC 3261 8.2.6.1 builds one: Via, From,
    /// To, Call-ID and CSeq copied, nothing else.
    pub fn to_request(request: &Request, status: u16) -> Self {
        let mut response = Self::new(status);
        for h in request.headers.iter() {
            if matches!(
                h.name,
                HeaderName::Via | HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq
            ) {
                response.headers.push(h.name.clone(), h.value.clone());
            }
        }
        response
    }
}

impl Message {
    /// The headers of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The body of either kind.
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
}

/// The reason phrase RFC 3261 (and its extensions) give a status code.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_get_standard_reasons() {
        assert_eq!(Response::new(486).reason, "Busy Here");
        assert_eq!(Response::new(299).reason, "", "unknown codes get an empty phrase, which is legal");
    }

    #[test]
    fn message_accessors_see_either_kind() {
        let req = Message::Request(Request::new(Method::Options, "sip:a@b".parse().expect("uri")));
        assert!(req.as_request().is_some() && req.as_response().is_none());
        let resp = Message::Response(Response::new(200));
        assert!(resp.as_response().is_some() && resp.headers().is_empty() && resp.body().is_empty());
        assert_eq!(unescape("%41%zz"), b"A%zz");
    }
}
