//! The property every input must satisfy. Shared with the fuzz target
//! (`fuzz/fuzz_targets/parse.rs` includes this file), so the checked-in
//! corpus replayed by `corpus.rs` is held to exactly what the fuzzer checks.

use warmline_sip::auth::Challenge;
use warmline_sip::call_data::CallData;
use warmline_sip::message::error_response;
use warmline_sip::{Frame, HeaderName, Limits, Message, Uri, parse, parse_stream};

/// Never panics on any input; whatever parses serializes to bytes that parse
/// back to an equal message, on a datagram and on a stream; URIs round-trip.
pub fn check(data: &[u8]) {
    match parse(data) {
        Ok(message) => {
            let wire = message.to_bytes();
            let again = parse(&wire).expect("a serialized message parses");
            assert_eq!(message, again, "round trip changed the message");
            let h = message.headers();
            let _ = (h.contacts(), h.routes(), h.record_routes(), h.expires(), h.top_via());
            if let Message::Request(r) = &message {
                let uri = r.uri.to_string();
                assert_eq!(uri.parse::<Uri>().as_ref(), Ok(&r.uri), "Request-URI round trip");
                let _ = CallData::from_request(r, &["X-Queue"]);
            }
            for value in h.get_all(&HeaderName::WwwAuthenticate) {
                let _ = Challenge::parse(value);
            }
            match parse_stream(&wire, &Limits::default()) {
                Ok(Some((Frame::Message(m), used))) => {
                    assert_eq!(used, wire.len(), "stream framing used the whole message");
                    assert_eq!(m, message, "stream parse equals datagram parse");
                }
                other => panic!("serialized message did not frame on a stream: {other:?}"),
            }
        }
        Err(e) => {
            let _ = error_response(data, &e, "fuzz");
        }
    }
    let _ = parse_stream(data, &Limits::default());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(uri) = text.parse::<Uri>() {
            assert_eq!(uri.to_string().parse::<Uri>().ok(), Some(uri), "URI round trip");
        }
        let _ = Challenge::parse(text);
    }
}
