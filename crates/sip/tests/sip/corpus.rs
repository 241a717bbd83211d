//! Replays the fuzz seed corpus (RFC 4475 messages, typical call messages and
//! every crash the fuzzer found) as a regular test.

use std::path::PathBuf;

#[test]
fn fuzz_corpus_replays_without_panic_and_round_trips() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/parse is checked in") {
        let path = entry.expect("directory entry").path();
        let data = std::fs::read(&path).expect("read corpus file");
        super::property::check(&data);
        count += 1;
    }
    assert!(count >= 54, "seed corpus holds the 49 RFC 4475 messages and 5 typical ones, found {count}");
}

#[test]
fn typical_call_messages_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messages");
    for name in ["invite-sdp.sip", "register-digest.sip", "200-ok-sdp.sip", "notify-sipfrag.sip", "refer-replaces.sip"]
    {
        let data = std::fs::read(dir.join(name)).expect("fixture");
        let m = warmline_sip::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.to_bytes(), data, "{name}: a canonical message serializes byte for byte");
    }
}

#[test]
fn user_agent_fuzz_corpus_replays_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ua");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/ua is checked in") {
        let data = std::fs::read(entry.expect("directory entry").path()).expect("read corpus file");
        super::ua_property::check(&data);
        count += 1;
    }
    assert!(count >= 5, "seed corpus holds call, cancel, options/notify, Replaces and stray-response sequences");
}
