//! From [`Message`] to bytes. Headers are written in order with their
//! canonical names, one per line (no folding), followed by a Content-Length
//! computed from the body.

use std::fmt::{self, Write as _};

use super::header::{HeaderName, Headers};
use super::{Message, Request, Response};

fn write_headers(out: &mut String, headers: &Headers, body_len: usize) {
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.push_str(h.name.as_str());
        out.push_str(": ");
        // A CR or LF in a value set by code would end the header and let
        // whatever follows pose as another header; flatten it instead.
        if h.value.bytes().any(|b| b == b'\r' || b == b'\n') {
            out.push_str(&h.value.replace(['\r', '\n'], " "));
        } else {
            out.push_str(&h.value);
        }
        out.push_str("\r\n");
    }
    let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
}

fn head_capacity(headers: &Headers) -> usize {
    128 + headers.iter().map(|h| h.name.as_str().len() + h.value.len() + 4).sum::<usize>()
}

fn write_message(out: &mut Vec<u8>, start_line: fmt::Arguments<'_>, headers: &Headers, body: &[u8]) {
    let mut head = String::with_capacity(head_capacity(headers));
    let _ = head.write_fmt(start_line);
    write_headers(&mut head, headers, body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
}

impl Request {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let start = format_args!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_message(out, start, &self.headers, &self.body);
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

impl Response {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let reason = self.reason.replace(['\r', '\n'], " ");
        write_message(out, format_args!("SIP/2.0 {} {reason}\r\n", self.status), &self.headers, &self.body);
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

impl Message {
    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// For logs and diagnostics: the wire form, with a binary body shown lossily.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HeaderName, Method, Uri, parse};
    use super::*;

    #[test]
    fn built_request_serializes_and_parses_back() {
        let uri: Uri = "sip:bob@example.com".parse().expect("uri");
        let mut r = Request::new(Method::Invite, uri);
        r.headers.push(HeaderName::Via, "SIP/2.0/WSS a.invalid;branch=z9hG4bKx");
        r.headers.push(HeaderName::From, "<sip:alice@example.com>;tag=1");
        r.headers.push(HeaderName::To, "<sip:bob@example.com>");
        r.headers.push(HeaderName::CallId, "c@h");
        r.headers.push(HeaderName::CSeq, "1 INVITE");
        r.headers.push(HeaderName::Other("X-Evil".into()), "a\r\nVia: injected");
        r.body = b"v=0\r\n".to_vec();
        let bytes = r.to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.starts_with("INVITE sip:bob@example.com SIP/2.0\r\n"));
        assert!(text.contains("X-Evil: a  Via: injected\r\n"), "CRLF in a value must not start a header: {text}");
        assert!(text.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"));
        let back = parse(&bytes).expect("parses");
        assert_eq!(back.as_request().map(|b| b.headers.vias().map(|v| v.len())), Some(Ok(1)));
    }

    #[test]
    fn response_to_request_copies_the_transaction_headers() {
        let uri: Uri = "sip:bob@example.com".parse().expect("uri");
        let mut r = Request::new(Method::Options, uri);
        r.headers.push(HeaderName::Via, "SIP/2.0/WSS a.invalid;branch=z9hG4bKx");
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers.push(HeaderName::CSeq, "1 OPTIONS");
        let resp = Response::to_request(&r, 200);
        let text = String::from_utf8(resp.to_bytes()).expect("utf8");
        assert_eq!(
            text,
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
