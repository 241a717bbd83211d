//! Answering a request that failed to parse (RFC 3261 8.2 and 21.4.1: a UAS
//! answers a malformed request with 400 when it can tell where to send it).

use super::header::HeaderName;
use super::parse::{Limits, find_datagram_head_end, split_fields};
use super::{Response, default_reason};
use crate::Error;

/// Builds the response to a request that [`super::parse`] refused with
/// `error`: the status from [`Error::status_code`], the reason phrase saying
/// what was wrong, and Via, From, To, Call-ID and CSeq copied as received.
///
/// Returns `None` when no response is possible or allowed: the bytes are a
/// response or an ACK, or there is no Via to send the response along (then
/// the message is dropped). `to_tag` is
/// added to To when it has none, as RFC 3261 8.2.6.2 asks.
pub fn error_response(bytes: &[u8], error: &Error, to_tag: &str) -> Option<Response> {
    let skipped = bytes.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    let bytes = bytes.get(skipped..)?;
    let (head_len, _) = find_datagram_head_end(bytes)?;
    let (start, fields) = split_fields(bytes.get(..head_len)?, &Limits::default()).ok()?;
    if start.get(..4).is_none_or(|p| p.eq_ignore_ascii_case("SIP/")) || start.starts_with("ACK ") {
        return None;
    }
    let status = error.status_code();
    let mut response = Response::new(status);
    response.reason = format!("{} ({error})", default_reason(status));
    let vias = fields.iter().filter(|(n, _)| *n == HeaderName::Via);
    for (name, value) in vias {
        response.headers.push(name.clone(), value.clone());
    }
    if response.headers.is_empty() {
        return None;
    }
    // Copy whichever of these are there: a 400 to a request that lacks one
    // still tells the sender why (RFC 4475 3.3.1), and Via routes it.
    for wanted in [HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq] {
        let Some((name, value)) = fields.iter().find(|(n, _)| *n == wanted) else { continue };
        let value = if wanted == HeaderName::To && !value.to_ascii_lowercase().contains("tag=") {
            format!("{value};tag={to_tag}")
        } else {
            value.clone()
        };
        response.headers.push(name.clone(), value);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    const BAD_TO: &[u8] = b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/WSS h.invalid;branch=z9hG4bK1\r\n\
        From: <sip:a@example.com>;tag=1\r\nTo: \"unterminated <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n";

    #[test]
    fn malformed_request_gets_a_400_that_says_why() {
        let err = parse(BAD_TO).expect_err("To is malformed");
        let resp = error_response(BAD_TO, &err, "srv1").expect("a response is possible");
        assert_eq!(resp.status, 400);
        assert!(resp.reason.starts_with("Bad Request (malformed To header"), "{}", resp.reason);
        assert_eq!(resp.headers.get(&HeaderName::To), Some("\"unterminated <sip:b@example.com>;tag=srv1"));
        assert_eq!(resp.headers.get(&HeaderName::CallId), Some("c1"));
    }

    #[test]
    fn no_response_to_responses_acks_or_unroutable_requests() {
        let err = Error::CSeqMismatch;
        assert!(error_response(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", &err, "t").is_none());
        assert!(error_response(b"ACK sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", &err, "t").is_none());
        assert!(error_response(b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\n", &err, "t").is_none());
        assert!(error_response(b"", &err, "t").is_none());
    }
}
