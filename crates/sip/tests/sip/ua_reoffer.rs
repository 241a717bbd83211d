//! Re-INVITE and UPDATE: hold and resume both ways, an empty re-INVITE
//! (offer in the 2xx, answer in the ACK), a second offer refused while one
//! is pending, and glare resolved by 491 and the RFC 3261 14.1 back-off.

use std::time::Duration;

use warmline_sip::ua::{Error, Event, ReofferMethod};
use warmline_sip::{HeaderName, Message, Method};

use crate::harness::{End, Net, Verdict, call, is_request, sdp};

#[test]
fn hold_and_resume_by_reinvite_both_ways() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);

    net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 2, "sendonly"))).expect("hold");
    net.wait_for(0, "Held", |e| *e == Event::Held { call: a });
    net.wait_for(1, "RemoteHeld", |e| *e == Event::RemoteHeld { call: b });
    assert!(net.ua(0).call(a).is_some_and(|c| c.local_hold && !c.remote_hold));
    assert!(net.ua(1).call(b).is_some_and(|c| c.remote_hold && !c.local_hold));
    let answer = net.when(
        0,
        |e| matches!(e, Event::AnswerReceived { sdp, .. } if String::from_utf8_lossy(sdp).contains("a=recvonly")),
    );
    assert!(answer.is_some(), "the answer to a sendonly offer reached the owner");

    net.act(0, |ua, now| ua.resume(now, a, sdp("alice", 3, "sendrecv"))).expect("resume");
    net.wait_for(0, "Resumed", |e| *e == Event::Resumed { call: a });
    net.wait_for(1, "RemoteResumed", |e| *e == Event::RemoteResumed { call: b });

    // And the other way, once the ACK has landed (no re-INVITE while an
    // INVITE transaction is in progress, RFC 3261 14.1).
    assert_eq!(net.act(1, |ua, now| ua.hold(now, b, sdp("bob", 4, "inactive"))), Err(Error::OfferPending(b)));
    net.settle();
    net.act(1, |ua, now| ua.hold(now, b, sdp("bob", 4, "inactive"))).expect("hold");
    net.wait_for(1, "Held", |e| *e == Event::Held { call: b });
    net.wait_for(0, "RemoteHeld", |e| *e == Event::RemoteHeld { call: a });
    net.act(1, |ua, now| ua.resume(now, b, sdp("bob", 5, "sendrecv"))).expect("resume");
    net.wait_for(0, "RemoteResumed", |e| *e == Event::RemoteResumed { call: a });
    net.settle();
    assert_eq!(net.sent_requests(0, &Method::Invite).len(), 3, "INVITE, hold, resume");
    assert_eq!(net.sent_requests(0, &Method::Ack).len(), 3, "each 2xx ACKed once");
    let reinvite = &net.sent_requests(0, &Method::Invite)[1];
    assert_eq!(reinvite.headers.cseq().map(|c| c.seq), Ok(2), "the dialog's CSeq goes on");
    assert!(reinvite.headers.to().is_ok_and(|t| t.tag().is_some()), "in the dialog");
}

#[test]
fn hold_by_update() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.reoffer(now, a, sdp("alice", 2, "sendonly"), ReofferMethod::Update)).expect("UPDATE");
    net.wait_for(0, "Held", |e| *e == Event::Held { call: a });
    net.wait_for(1, "RemoteHeld", |e| *e == Event::RemoteHeld { call: b });
    net.act(0, |ua, now| ua.reoffer(now, a, sdp("alice", 3, "sendrecv"), ReofferMethod::Update)).expect("UPDATE");
    net.wait_for(1, "RemoteResumed", |e| *e == Event::RemoteResumed { call: b });
    net.settle();
    assert_eq!(net.sent_requests(0, &Method::Update).len(), 2);
    assert_eq!(net.sent_requests(0, &Method::Ack).len(), 1, "UPDATE needs no ACK");
}

#[test]
fn empty_reinvite_gets_the_offer_in_the_2xx_and_the_answer_in_the_ack() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.request_offer(now, a)).expect("empty re-INVITE");
    net.wait_for(1, "OfferNeeded", |e| *e == Event::OfferNeeded { call: b });
    net.wait_for(0, "OfferReceived", |e| matches!(e, Event::OfferReceived { call, .. } if *call == a));
    let Event::AnswerReceived { sdp, .. } =
        net.wait_for(1, "AnswerReceived", |e| matches!(e, Event::AnswerReceived { call, .. } if *call == b))
    else {
        unreachable!()
    };
    assert!(String::from_utf8_lossy(&sdp).contains("o=alice"), "alice's answer, from her ACK");
    let reinvite = net.sent_requests(0, &Method::Invite).pop().expect("re-INVITE");
    assert!(reinvite.body.is_empty(), "no offer in the re-INVITE");
    let ack = net.sent_requests(0, &Method::Ack).pop().expect("ACK");
    assert_eq!(ack.headers.get(&HeaderName::ContentType), Some("application/sdp"));
    assert!(!ack.body.is_empty(), "the answer rides in the ACK");
    let ok =
        net.sent_responses(1, 200).into_iter().rfind(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Invite));
    assert!(ok.is_some_and(|r| !r.body.is_empty()), "the offer rides in the 2xx");
}

#[test]
fn a_second_offer_while_one_is_pending_is_refused() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.nodes[1].auto_media = false;
    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 2, "sendonly"))).expect("hold");
    assert_eq!(
        net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 3, "sendonly"))),
        Err(Error::OfferPending(a)),
        "one re-offer at a time"
    );
    net.wait_for(1, "OfferReceived", |e| matches!(e, Event::OfferReceived { call, .. } if *call == b));
    // Bob sits on the offer; an UPDATE with another offer from Alice would
    // be refused with 500 (RFC 3311 5.2), and Bob may not offer either.
    assert_eq!(net.act(1, |ua, now| ua.hold(now, b, sdp("bob", 9, "sendonly"))), Err(Error::OfferPending(b)));
    net.act(1, |ua, now| ua.reject_offer(now, b, 488)).expect("refuse");
    let e = net.wait_for(0, "OfferRejected", |e| matches!(e, Event::OfferRejected { .. }));
    assert_eq!(e, Event::OfferRejected { call: a, status: 488 });
    assert!(net.ua(0).call(a).is_some_and(|c| !c.local_hold), "the session stays as it was");
    net.nodes[1].auto_media = true;
    net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 4, "sendonly"))).expect("a new offer once stable");
    net.wait_for(0, "Held", |e| *e == Event::Held { call: a });
}

#[test]
fn glare_is_resolved_with_491_and_a_retry_after_the_rfc_delay() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    let t = net.elapsed();
    // Both hold at the same instant: the re-INVITEs cross.
    net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 2, "sendonly"))).expect("hold");
    net.act(1, |ua, now| ua.hold(now, b, sdp("bob", 2, "sendonly"))).expect("hold");
    net.wait_for(0, "Held", |e| *e == Event::Held { call: a });
    net.wait_for(1, "Held", |e| *e == Event::Held { call: b });
    net.settle();
    assert_eq!(net.sent_responses(0, 491).len(), 1, "{}", net.dump());
    assert_eq!(net.sent_responses(1, 491).len(), 1);
    let invites = |i: usize| -> Vec<Duration> {
        let sent = net.nodes[i].sent.iter().filter(|(at, m)| *at >= t && is_request(m, &Method::Invite));
        sent.map(|(at, _)| *at - t).collect()
    };
    let (alice, bob) = (invites(0), invites(1));
    assert_eq!((alice.len(), bob.len()), (2, 2), "the crossing re-INVITE and its retry, on each side");
    // The 491 comes back after two hops (20 ms); the retry follows after
    // the back-off: 0-2 s for the callee, 2.1-4 s for the Call-ID's owner.
    let bob_wait = bob[1] - Duration::from_millis(20);
    let alice_wait = alice[1] - Duration::from_millis(20);
    assert!(bob_wait <= Duration::from_secs(2), "bob (not the owner) waited {bob_wait:?}");
    assert!(
        alice_wait >= Duration::from_millis(2100) && alice_wait <= Duration::from_secs(4),
        "alice waited {alice_wait:?}"
    );
    assert!(net.saw(0, |e| *e == Event::RemoteHeld { call: a }) && net.saw(1, |e| *e == Event::RemoteHeld { call: b }));
}

#[test]
fn unsupported_requests_and_unknown_dialogs_get_the_rfc_answers() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (_a, b) = call(&mut net, 0, 1);
    // A BYE for a dialog Bob does not have: 481.
    net.rule(|_from, to, m| {
        if let (End::Ua(1), Message::Request(r)) = (to, m)
            && r.method == Method::Bye
            && let Ok(mut to) = r.headers.to()
        {
            to.params.set("tag", Some("no-such-dialog"));
            r.headers.set(HeaderName::To, to.to_string());
        }
        Verdict::Pass
    });
    let a = net.ua(0).calls()[0].id;
    net.act(0, |ua, now| ua.hangup(now, a)).expect("hangup");
    net.settle();
    assert_eq!(net.sent_responses(1, 481).len(), 1, "{}", net.dump());
    assert!(net.ua(1).call(b).is_some(), "bob's call is untouched");
}

/// An in-dialog request from Alice to Bob, built by hand from Bob's view
/// of the dialog, as a misbehaving far end might send it.
fn from_alice(net: &mut Net, b: warmline_sip::ua::CallId, method: &str, cseq: u32, body: &[u8]) -> Vec<u8> {
    let d = net.ua(1).call(b).and_then(|c| c.dialog).expect("dialog");
    let head = format!(
        "{method} sip:bob@bob2.invalid;transport=ws;ob SIP/2.0\r\nVia: SIP/2.0/WSS sbc0.example.com;branch=z9hG4bKx{cseq}\r\n\
         Via: SIP/2.0/WSS alice1.invalid;branch=z9hG4bKy{cseq}\r\nMax-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag={}\r\nTo: <sip:bob@example.com>;tag={}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\nContact: <sip:alice@alice1.invalid;transport=ws;ob>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        d.remote_tag,
        d.local_tag,
        d.call_id,
        body.len()
    );
    [head.as_bytes(), body].concat()
}

#[test]
fn an_offer_while_the_far_end_s_offer_is_unanswered_gets_500_with_retry_after() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.nodes[1].auto_media = false;
    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.hold(now, a, sdp("alice", 2, "sendonly"))).expect("hold");
    net.wait_for(1, "OfferReceived", |e| matches!(e, Event::OfferReceived { call, .. } if *call == b));
    // While Bob sits on that offer, an UPDATE with another one arrives
    // (RFC 3311 5.2), then a second re-INVITE (RFC 3261 14.2).
    let update = from_alice(&mut net, b, "UPDATE", 50, &sdp("alice", 3, "inactive"));
    net.inject(1, &update);
    let reinvite = from_alice(&mut net, b, "INVITE", 51, &sdp("alice", 4, "inactive"));
    net.inject(1, &reinvite);
    let refusals = net.sent_responses(1, 500);
    assert_eq!(refusals.len(), 2, "{}", net.dump());
    for r in &refusals {
        let secs: u32 = r.headers.get(&HeaderName::RetryAfter).and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!(secs <= 10, "a random 0-10 s");
    }
    // The first offer is still answerable.
    net.act(1, |ua, now| ua.accept_answer(now, b, sdp("bob", 2, "recvonly"))).expect("answer");
    net.wait_for(0, "Held", |e| *e == Event::Held { call: a });
}
