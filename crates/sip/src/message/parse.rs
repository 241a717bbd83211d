//! From bytes to [`Message`]: framing (one message per datagram or WebSocket
//! frame, or Content-Length framing on a stream), the start line, header
//! lines with folding, and the checks that make a message safe to act on.

use super::fields::{CSeq, Method};
use super::header::{HeaderName, Headers};
use super::scan::{is_token, is_wsp, parse_digits, trim_wsp};
use super::uri::Uri;
use super::{Message, Request, Response};
use crate::Error;

/// Size limits, checked before anything is allocated for the offending part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message, head and body (default 64 KiB: a big INVITE with
    /// many ICE candidates is under 10 KiB).
    pub max_message_bytes: usize,
    /// The longest header value after unfolding (default 8 KiB).
    pub max_header_bytes: usize,
    /// The most header fields (default 256).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_message_bytes: 64 * 1024, max_header_bytes: 8 * 1024, max_headers: 256 }
    }
}

/// Parses one message from a datagram or a WebSocket frame, with the default
/// [`Limits`].
///
/// Content-Length is optional here (the frame ends the message); when
/// present the body must be at least that long, and octets past it are
/// ignored (RFC 3261 18.3, RFC 4475 3.1.1.8).
pub fn parse(bytes: &[u8]) -> Result<Message, Error> {
    parse_with(bytes, &Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Message, Error> {
    if bytes.len() > limits.max_message_bytes {
        return Err(Error::TooLarge { limit: limits.max_message_bytes });
    }
    // RFC 3261 7.5: CRLFs before the start line are ignored.
    let bytes = skip_crlf(bytes);
    let (head_len, body_start) = find_datagram_head_end(bytes).ok_or(Error::Incomplete)?;
    let head = parse_head(bytes.get(..head_len).unwrap_or_default(), limits)?;
    let rest = bytes.get(body_start..).unwrap_or_default();
    let body = match head.content_length {
        Some(n) => rest.get(..n).ok_or(Error::BodyTooShort { declared: n, actual: rest.len() })?,
        None => rest,
    };
    head.into_message(body.to_vec())
}

/// Like [`find_head_end`], but a frame that ends right after a header line
/// is read as having no body: the frame boundary is as good as an empty
/// line, and the RFC 4475 archive itself has such a message (baddn).
pub(super) fn find_datagram_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    find_head_end(bytes).or_else(|| bytes.ends_with(b"\n").then_some((bytes.len(), bytes.len())))
}

/// What [`parse_stream`] found at the front of a stream buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message.
    Message(Message),
    /// A CRLF keep-alive ping or pong (RFC 5626 section 4.4.1).
    KeepAlive,
}

/// Parses the first message from a stream buffer (TCP, TLS), framed by
/// Content-Length, which is mandatory there. Returns the frame and how many
/// bytes it used, or `None` when more bytes are needed.
pub fn parse_stream(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, Error> {
    let skipped = buf.len() - skip_crlf(buf).len();
    if skipped > 0 {
        return Ok(Some((Frame::KeepAlive, skipped)));
    }
    let window = buf.get(..limits.max_message_bytes).unwrap_or(buf);
    let Some((head_len, body_start)) = find_head_end(window) else {
        return if buf.len() > limits.max_message_bytes {
            Err(Error::TooLarge { limit: limits.max_message_bytes })
        } else {
            Ok(None)
        };
    };
    let head = parse_head(buf.get(..head_len).unwrap_or_default(), limits)?;
    let length = head.content_length.ok_or(Error::MissingContentLength)?;
    let end = body_start.checked_add(length).ok_or(Error::TooLarge { limit: limits.max_message_bytes })?;
    if end > limits.max_message_bytes {
        return Err(Error::TooLarge { limit: limits.max_message_bytes });
    }
    let Some(body) = buf.get(body_start..end) else { return Ok(None) };
    Ok(Some((Frame::Message(head.into_message(body.to_vec())?), end)))
}

fn skip_crlf(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    bytes.get(n..).unwrap_or_default()
}

/// Finds the empty line that ends the head. Returns the head length (up to
/// and including the last header line's LF) and where the body starts.
/// Bare LF line ends are accepted because traces pasted from logs have them.
fn find_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(off) = bytes.get(from..)?.iter().position(|&b| b == b'\n') {
        let nl = from + off;
        match (bytes.get(nl + 1), bytes.get(nl + 2)) {
            (Some(b'\n'), _) => return Some((nl + 1, nl + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((nl + 1, nl + 3)),
            _ => from = nl + 1,
        }
    }
    None
}

enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

struct Head {
    start: StartLine,
    headers: Headers,
    content_length: Option<usize>,
}

fn parse_head(head: &[u8], limits: &Limits) -> Result<Head, Error> {
    let (start, fields) = split_fields(head, limits)?;
    let start = parse_start_line(start)?;
    let mut headers = Headers::new();
    let mut content_length = None;
    for (name, value) in fields {
        finish_header(&mut headers, &mut content_length, name, value)?;
    }
    Ok(Head { start, headers, content_length })
}

/// The start line and the `(name, value)` header fields of a head.
pub(super) type Fields<'a> = (&'a str, Vec<(HeaderName, String)>);

/// Splits the head into the start line and unfolded `(name, value)` fields,
/// Content-Length included, checking only the line syntax and the limits.
pub(super) fn split_fields<'a>(head: &'a [u8], limits: &Limits) -> Result<Fields<'a>, Error> {
    let head = std::str::from_utf8(head).map_err(|_| Error::NotUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or("");
    let mut fields: Vec<(HeaderName, String)> = Vec::new();
    for line in lines {
        if line.contains('\r') {
            return Err(Error::HeaderLine("bare CR in the header section"));
        }
        if line.is_empty() {
            continue; // only the final split piece after the last LF
        }
        if line.bytes().next().is_some_and(is_wsp) {
            let (_, value) = fields.last_mut().ok_or(Error::HeaderLine("continuation line before any header"))?;
            // Unfolding turns the line break into one space, and none at the
            // edges, so a value reads the same once written on one line.
            let more = trim_wsp(line);
            if !value.is_empty() && !more.is_empty() {
                value.push(' ');
            }
            value.push_str(more);
            if value.len() > limits.max_header_bytes {
                return Err(Error::HeaderTooLong { limit: limits.max_header_bytes });
            }
            continue;
        }
        if fields.len() >= limits.max_headers {
            return Err(Error::TooManyHeaders { limit: limits.max_headers });
        }
        let (name, value) = line.split_once(':').ok_or(Error::HeaderLine("header line without ':'"))?;
        let name = trim_wsp(name);
        if !is_token(name) {
            return Err(Error::HeaderLine("header name is not a token"));
        }
        let value = trim_wsp(value);
        if value.len() > limits.max_header_bytes {
            return Err(Error::HeaderTooLong { limit: limits.max_header_bytes });
        }
        fields.push((HeaderName::parse(name), value.to_owned()));
    }
    Ok((start, fields))
}

fn finish_header(
    headers: &mut Headers,
    content_length: &mut Option<usize>,
    name: HeaderName,
    value: String,
) -> Result<(), Error> {
    if name == HeaderName::ContentLength {
        // Two Content-Lengths leave the framing unknowable (RFC 4475 3.3.9).
        if content_length.is_some() {
            return Err(Error::DuplicateHeader("Content-Length".into()));
        }
        let n = parse_digits(&value)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Error::Header { name: "Content-Length".into(), reason: "not a non-negative integer" })?;
        *content_length = Some(n);
    } else {
        headers.push(name, value);
    }
    Ok(())
}

fn check_version(v: &str) -> Result<(), Error> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else if v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")) {
        Err(Error::UnsupportedVersion(v.to_owned()))
    } else {
        Err(Error::StartLine("expected SIP/2.0"))
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, Error> {
    if line.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")) {
        let (version, rest) = line.split_once(' ').ok_or(Error::StartLine("expected a status code"))?;
        check_version(version)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        // A bare CR here would become a line break once written back.
        if reason.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(Error::StartLine("control character in the reason phrase"));
        }
        if code.len() != 3 {
            return Err(Error::StartLine("status code must be three digits"));
        }
        let status = parse_digits(code).map_err(Error::StartLine)?;
        let status = u16::try_from(status).ok().filter(|s| (100..=699).contains(s));
        let status = status.ok_or(Error::StartLine("status code outside 100-699"))?;
        return Ok(StartLine::Response(status, reason.to_owned()));
    }
    // Exactly one SP between the three parts (RFC 4475 3.1.2.8-10).
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::StartLine("expected METHOD SP Request-URI SP SIP/2.0"));
    };
    if method.is_empty() || uri.is_empty() {
        return Err(Error::StartLine("expected METHOD SP Request-URI SP SIP/2.0"));
    }
    check_version(version)?;
    let method = Method::parse(method)?;
    let uri = Uri::parse_str(uri).map_err(Error::RequestUri)?;
    // RFC 3261 19.1.5: headers in a Request-URI are never turned into
    // headers of the request (RFC 4475 3.1.2.11).
    if uri.as_sip().is_some_and(|u| !u.headers.is_empty()) {
        return Err(Error::RequestUri("headers are not allowed in a Request-URI"));
    }
    Ok(StartLine::Request(method, uri))
}

impl Head {
    fn into_message(self, body: Vec<u8>) -> Result<Message, Error> {
        let cseq = validate(&self.headers)?;
        match self.start {
            StartLine::Request(method, uri) => {
                if cseq.method != method {
                    return Err(Error::CSeqMismatch);
                }
                Ok(Message::Request(Request { method, uri, headers: self.headers, body }))
            }
            StartLine::Response(status, reason) => {
                Ok(Message::Response(Response { status, reason, headers: self.headers, body }))
            }
        }
    }
}

/// Everything the transaction and dialog layers read must parse, so that a
/// malformed message is refused here with a reason, not half-processed later.
fn validate(h: &Headers) -> Result<CSeq, Error> {
    if h.vias()?.is_empty() {
        return Err(Error::MissingHeader("Via".into()));
    }
    h.from()?;
    h.to()?;
    h.call_id()?;
    let cseq = h.cseq()?;
    h.max_forwards()?;
    h.contacts()?;
    h.routes()?;
    h.record_routes()?;
    h.content_type()?;
    Ok(cseq)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bK1\r\n\
        From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\n";

    /// The OPTIONS above plus one extra header line (if any) and a body.
    fn with(extra: &str, body: &str) -> Vec<u8> {
        let extra = if extra.is_empty() { String::new() } else { format!("{extra}\r\n") };
        format!("{OPTIONS}{extra}\r\n{body}").into_bytes()
    }

    #[test]
    fn bare_lf_line_ends_are_accepted() {
        let lf = with("Content-Length: 2", "hi").iter().filter(|&&b| b != b'\r').copied().collect::<Vec<_>>();
        let m = parse(&lf).expect("LF-only message parses");
        assert_eq!(m.body(), b"hi");
    }

    #[test]
    fn limits_are_enforced_with_clear_errors() {
        let small = Limits { max_message_bytes: 100, ..Limits::default() };
        assert_eq!(parse_with(&with("", ""), &small), Err(Error::TooLarge { limit: 100 }));
        let short = Limits { max_header_bytes: 10, ..Limits::default() };
        assert_eq!(parse_with(&with("", ""), &short), Err(Error::HeaderTooLong { limit: 10 }));
        let few = Limits { max_headers: 3, ..Limits::default() };
        assert_eq!(parse_with(&with("", ""), &few), Err(Error::TooManyHeaders { limit: 3 }));
    }

    #[test]
    fn stream_framing_needs_content_length_and_waits_for_the_body() {
        let limits = Limits::default();
        let full = with("Content-Length: 4", "abcd");
        let mut buf = b"\r\n\r\n".to_vec();
        buf.extend_from_slice(&full);
        assert_eq!(parse_stream(&buf, &limits).expect("ok"), Some((Frame::KeepAlive, 4)));
        let rest = buf.get(4..).expect("tail");
        for cut in 0..rest.len() {
            assert_eq!(parse_stream(rest.get(..cut).expect("prefix"), &limits).expect("partial is fine"), None);
        }
        let mut two = full.clone();
        two.extend_from_slice(&full);
        let (frame, used) = parse_stream(&two, &limits).expect("ok").expect("complete");
        assert_eq!(used, full.len());
        assert!(matches!(frame, Frame::Message(m) if m.body() == b"abcd"));
        assert_eq!(parse_stream(&with("", ""), &limits), Err(Error::MissingContentLength));
    }

    #[test]
    fn start_line_errors() {
        for (line, want) in [
            ("SIP/2.0 1000 Big", "status code must be three digits"),
            ("SIP/2.0 099 Low", "status code outside 100-699"),
            ("INVITE  sip:a@b SIP/2.0", "expected METHOD SP Request-URI SP SIP/2.0"),
            ("INVITE sip:a@b SIP/2.0 ", "expected METHOD SP Request-URI SP SIP/2.0"),
            ("INVITE sip:a@b HTTP/1.1", "expected SIP/2.0"),
            ("SIP/2.0 200 O\rK", "control character in the reason phrase"),
        ] {
            assert!(matches!(parse_start_line(line), Err(Error::StartLine(r)) if r == want), "{line}");
        }
        assert!(matches!(parse_start_line("SIP/7.0 200 OK"), Err(Error::UnsupportedVersion(_))));
        assert!(matches!(parse_start_line("SIP/2.0 100"), Ok(StartLine::Response(100, r)) if r.is_empty()));
    }

    #[test]
    fn folding_and_header_line_errors() {
        let folded = parse(&with("X-Folded:\r\n  a\r\n \r\n\tb  ", "")).expect("folded header parses");
        assert_eq!(folded.headers().get(&HeaderName::Other("x-folded".into())), Some("a b"));
        assert_eq!(parse(b" X: a\r\n\r\n"), Err(Error::StartLine("expected METHOD SP Request-URI SP SIP/2.0")));
        assert_eq!(parse(&with("No colon here", "")), Err(Error::HeaderLine("header line without ':'")));
        assert_eq!(parse(&with("Bad Name: x", "")), Err(Error::HeaderLine("header name is not a token")));
        assert_eq!(parse(&with("X: a\rb", "")), Err(Error::HeaderLine("bare CR in the header section")));
        assert_eq!(parse(b"OPTIONS sip:a@b SIP/2.0\r\nX: y"), Err(Error::Incomplete));
        assert_eq!(parse(b"OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n"), Err(Error::MissingHeader("Via".into())));
        assert_eq!(parse(&[0xff, b'\n', b'\n']), Err(Error::NotUtf8));
    }
}
