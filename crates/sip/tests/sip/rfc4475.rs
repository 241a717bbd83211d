//! The 49 RFC 4475 torture messages (fixtures copied byte for byte from
//! ../shared/fixtures/rfc4475, with its INDEX.tsv and README.md).
//!
//! Valid ones must parse, serialize and parse again to an equal message, and
//! pass the per-message field checks in `rfc4475_checks.rs`. Invalid ones must
//! be rejected with the error named below, and a request that can be answered
//! maps to the status the RFC asks for, except where the RFC allows a liberal
//! reading and we take it (listed in `LIBERAL`, with the reason).

use std::path::PathBuf;

use warmline_sip::message::error_response;
use warmline_sip::{Error, parse};

pub(crate) struct Row {
    pub file: String,
    pub section: String,
    pub expected: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc4475")
}

pub(crate) fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(dir().join("INDEX.tsv")).expect("INDEX.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let mut col = || cols.next().expect("four columns").to_owned();
            Row { file: col(), section: col(), expected: col() }
        })
        .collect()
}

pub(crate) fn load(file: &str) -> Vec<u8> {
    std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Invalid messages we accept, each because RFC 4475 says a liberal element
/// may, and because refusing them would refuse real SBC traffic for nothing.
const LIBERAL: &[(&str, &str)] = &[(
    "invalid/baddate.dat",
    "3.1.2.12: a Date with a non-GMT zone may be ignored; Date is informational and we never read it",
)];

#[test]
fn index_names_every_fixture_once() {
    let rows = index();
    assert_eq!(rows.len(), 49, "RFC 4475 has 49 messages");
    assert_eq!(rows.iter().filter(|r| r.file.starts_with("valid/")).count(), 27);
    assert_eq!(rows.iter().filter(|r| r.file.starts_with("invalid/")).count(), 22);
    for r in &rows {
        assert!(!r.section.is_empty() && !r.expected.is_empty(), "{}", r.file);
        assert!(!load(&r.file).is_empty(), "{} is there", r.file);
    }
}

#[test]
fn every_valid_message_parses_round_trips_and_has_its_fields() {
    for row in index().iter().filter(|r| r.file.starts_with("valid/")) {
        let file = row.file.as_str();
        let message = parse(&load(file)).unwrap_or_else(|e| panic!("{file} ({}) must parse: {e}", row.section));
        let again = parse(&message.to_bytes()).unwrap_or_else(|e| panic!("{file}: serialized form must parse: {e}"));
        assert_eq!(message, again, "{file}: round trip must not change the message");
        super::rfc4475_checks::check(file, &message);
    }
}

/// What each invalid message must be refused with.
fn expected_error(file: &str, err: &Error) -> bool {
    let header = |want: &str| matches!(err, Error::Header { name, .. } if name == want);
    match file {
        "invalid/badinv01.dat" => header("Via"),
        "invalid/clerr.dat" => matches!(err, Error::BodyTooShort { declared: 9999, .. }),
        "invalid/ncl.dat" => header("Content-Length"),
        "invalid/scalar02.dat" | "invalid/scalarlg.dat" => header("CSeq"),
        "invalid/quotbal.dat" | "invalid/badaspec.dat" => header("To"),
        "invalid/ltgtruri.dat" | "invalid/escruri.dat" => matches!(err, Error::RequestUri(_)),
        "invalid/lwsruri.dat" | "invalid/lwsstart.dat" | "invalid/trws.dat" | "invalid/bigcode.dat" => {
            matches!(err, Error::StartLine(_))
        }
        "invalid/regbadct.dat" => header("Contact"),
        "invalid/baddn.dat" => header("From"),
        "invalid/badvers.dat" => matches!(err, Error::UnsupportedVersion(v) if v == "SIP/7.0"),
        "invalid/mismatch01.dat" | "invalid/mismatch02.dat" => matches!(err, Error::CSeqMismatch),
        "invalid/insuf.dat" => matches!(err, Error::MissingHeader(_)),
        "invalid/multi01.dat" => matches!(err, Error::DuplicateHeader(_)),
        "invalid/mcl01.dat" => matches!(err, Error::DuplicateHeader(h) if h == "Content-Length"),
        other => panic!("no expectation written for {other}"),
    }
}

#[test]
fn every_invalid_message_is_rejected_unless_read_liberally() {
    for row in index().iter().filter(|r| r.file.starts_with("invalid/")) {
        let file = row.file.as_str();
        let bytes = load(file);
        let result = parse(&bytes);
        if let Some((_, why)) = LIBERAL.iter().find(|(f, _)| *f == file) {
            let message = result.unwrap_or_else(|e| panic!("{file} is read liberally ({why}), got {e}"));
            assert_eq!(parse(&message.to_bytes()).as_ref(), Ok(&message), "{file}: round trip");
            continue;
        }
        let err = match result {
            Ok(m) => panic!("{file} ({}) must be rejected, parsed as {m:?}", row.section),
            Err(e) => e,
        };
        assert!(expected_error(file, &err), "{file}: wrong error {err:?}");
        let is_response = bytes.starts_with(b"SIP/");
        match error_response(&bytes, &err, "rejected") {
            Some(resp) => {
                assert!(!is_response, "{file}: a response is never answered");
                let want = if file == "invalid/badvers.dat" { 505 } else { 400 };
                assert_eq!(resp.status, want, "{file}");
                assert!(resp.reason.contains(&err.to_string()), "{file}: the reason says why: {}", resp.reason);
                assert!(resp.headers.get(&warmline_sip::HeaderName::Via).is_some(), "{file}: Via copied");
            }
            None => assert!(is_response, "{file}: a request with a Via can be answered"),
        }
    }
}
