//! Size limits and framing, as a transport or `sip lint` meets them.

use warmline_sip::{Error, Frame, Limits, parse, parse_stream, parse_with};

const OPTIONS: &str = "OPTIONS sip:sbc.example.com SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bK1\r\n\
    From: <sip:agent@example.com>;tag=1\r\nTo: <sip:sbc.example.com>\r\nCall-ID: lim@a.invalid\r\nCSeq: 1 OPTIONS\r\n";

fn message(extra_headers: &str, body: &str) -> Vec<u8> {
    format!("{OPTIONS}{extra_headers}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[test]
fn oversize_message_is_refused_before_parsing_with_a_clear_error() {
    let big = message("", &"x".repeat(70 * 1024));
    let err = parse(&big).expect_err("over the default 64 KiB");
    assert_eq!(err, Error::TooLarge { limit: 64 * 1024 });
    assert_eq!(err.to_string(), "message larger than the 65536-byte limit");
    assert_eq!(err.status_code(), 513, "Message Too Large");
    let roomy = Limits { max_message_bytes: 128 * 1024, ..Limits::default() };
    assert!(parse_with(&big, &roomy).is_ok(), "limits are configurable");
}

#[test]
fn oversize_header_and_too_many_headers_are_refused() {
    let long = message(&format!("X-Long: {}\r\n", "y".repeat(9000)), "");
    assert_eq!(parse(&long), Err(Error::HeaderTooLong { limit: 8 * 1024 }));
    let many: String = (0..300).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(parse(&message(&many, "")), Err(Error::TooManyHeaders { limit: 256 }));
}

#[test]
fn a_trace_pasted_with_bare_lf_line_ends_parses() {
    let lf: Vec<u8> = message("", "").into_iter().filter(|&b| b != b'\r').collect();
    assert!(parse(&lf).is_ok());
}

#[test]
fn a_stream_holding_keepalives_and_two_messages_frames_them_one_by_one() {
    let limits = Limits::default();
    let one = message("", "hello");
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(&one);
    let mut frames = Vec::new();
    let mut rest = stream.as_slice();
    while let Some((frame, used)) = parse_stream(rest, &limits).expect("well-formed stream") {
        frames.push(frame);
        rest = rest.get(used..).expect("used is within the buffer");
    }
    assert!(rest.is_empty());
    assert!(matches!(frames.as_slice(), [Frame::KeepAlive, Frame::Message(a), Frame::Message(b)] if a == b));
    let endless = vec![b'a'; 70 * 1024];
    assert_eq!(parse_stream(&endless, &limits), Err(Error::TooLarge { limit: 64 * 1024 }), "no head end in sight");
}
