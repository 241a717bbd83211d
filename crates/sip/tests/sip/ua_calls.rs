//! Calls between two user agents through the SBC: answered, hung up both
//! ways, busy, declined, cancelled (also when the CANCEL races the 200),
//! and the contact-center data on an incoming call.

use std::time::Duration;

use warmline_sip::ua::{CallState, EndReason, Event};
use warmline_sip::{HeaderName, Method};

use crate::harness::{End, Net, Verdict, answer_to, call, config, is_request, sdp};

fn bob() -> warmline_sip::Uri {
    "sip:bob@example.com".parse().expect("uri")
}

#[test]
fn call_answered_then_caller_hangs_up() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    assert!(net.saw(0, |e| matches!(e, Event::Ringing { call } if *call == a)), "180 Ringing reached the caller");
    assert!(net.saw(0, |e| matches!(e, Event::AnswerReceived { call, .. } if *call == a)));
    let (ca, cb) = (net.ua(0).call(a).expect("a"), net.ua(1).call(b).expect("b"));
    assert_eq!((ca.state, cb.state), (CallState::Connected, CallState::Connected));
    let (da, db) = (ca.dialog.expect("dialog"), cb.dialog.expect("dialog"));
    assert_eq!(da.call_id, db.call_id);
    assert_eq!((da.local_tag.as_str(), da.remote_tag.as_str()), (db.remote_tag.as_str(), db.local_tag.as_str()));
    let acks = net.sent_requests(0, &Method::Ack);
    assert_eq!(acks.len(), 1, "one ACK for the 2xx, from the caller's core");
    assert_eq!(
        acks[0].headers.get_all(&HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:sbc.example.com;transport=ws;lr>"]
    );

    net.act(0, |ua, now| ua.hangup(now, a)).expect("hangup");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::LocalHangup, status: None });
    let e = net.wait_for(1, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: b, reason: EndReason::RemoteHangup, status: None });
    net.settle();
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty());
}

#[test]
fn callee_hangs_up() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.act(1, |ua, now| ua.hangup(now, b)).expect("hangup");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::RemoteHangup, status: None });
    net.settle();
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty());
    assert_eq!(net.sent_requests(1, &Method::Bye).len(), 1);
}

fn rejected_with(status: u16, reason: EndReason) {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let a = net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))).expect("dial");
    let Event::IncomingCall { call: b, .. } =
        net.wait_for(1, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    net.act(1, |ua, now| ua.reject(now, b, status)).expect("reject");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason, status: Some(status) });
    let e = net.wait_for(1, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: b, reason: EndReason::Rejected, status: Some(status) });
    net.settle();
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty());
    let acks = net.sent_requests(0, &Method::Ack);
    assert_eq!(acks.len(), 1, "the transaction layer ACKs a failure");
    assert!(acks[0].headers.to().is_ok_and(|t| t.tag().is_some()));
}

#[test]
fn busy_486() {
    rejected_with(486, EndReason::Busy);
}

#[test]
fn declined_603() {
    rejected_with(603, EndReason::Declined);
}

#[test]
fn caller_cancels_before_answer() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let a = net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))).expect("dial");
    // Hang up at once: no provisional has come, so the CANCEL must wait.
    net.act(0, |ua, now| ua.hangup(now, a)).expect("hangup");
    assert!(net.sent_requests(0, &Method::Cancel).is_empty(), "RFC 3261 9.1: no CANCEL before a 1xx");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::Cancelled, status: Some(487) });
    assert!(net.saw(1, |e| matches!(e, Event::Ended { reason: EndReason::RemoteCancelled, status: Some(487), .. })));
    net.settle();
    assert_eq!(net.sent_requests(0, &Method::Cancel).len(), 1);
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty());
}

#[test]
fn cancel_racing_a_200_ends_with_ack_and_bye() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let a = net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))).expect("dial");
    let Event::OfferReceived { call: b, sdp: offer } =
        net.wait_for(1, "OfferReceived", |e| matches!(e, Event::OfferReceived { .. }))
    else {
        unreachable!()
    };
    net.wait_for(0, "Ringing", |e| matches!(e, Event::Ringing { .. }));
    // Both act at the same instant: the 200 and the CANCEL cross.
    net.act(1, |ua, now| ua.answer(now, b, answer_to("bob", &offer))).expect("answer");
    net.act(0, |ua, now| ua.hangup(now, a)).expect("hangup");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert!(matches!(e, Event::Ended { call, reason: EndReason::Cancelled, .. } if call == a), "{e:?}");
    let e = net.wait_for(1, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: b, reason: EndReason::RemoteHangup, status: None });
    net.settle();
    assert_eq!(net.sent_requests(0, &Method::Ack).len(), 1, "the 2xx is ACKed");
    assert_eq!(net.sent_requests(0, &Method::Bye).len(), 1, "then ended with BYE");
    assert_eq!(
        net.sent_responses(1, 200)
            .iter()
            .filter(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Cancel))
            .count(),
        1,
        "the CANCEL got 200 with no effect"
    );
    assert!(!net.saw(0, |e| matches!(e, Event::Connected { .. })), "the owner never sees it connected");
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty(), "{}", net.dump());
}

#[test]
fn incoming_call_carries_contact_center_data() {
    let mut net = Net::new(&["customer", "agent"]);
    net.nodes[1].ua = warmline_sip::UserAgent::new({
        let mut c = crate::harness::config("agent", 1);
        c.auto_answer = true;
        c
    });
    net.register_all();
    // The SBC adds what the contact center knows about the caller.
    net.rule(|_from, to, m| {
        if let (End::Ua(1), warmline_sip::Message::Request(r)) = (to, m)
            && r.method == Method::Invite
        {
            let h = &mut r.headers;
            h.push(HeaderName::PAssertedIdentity, "\"Jane Customer\" <sip:+15551234567@sbc.example.com>");
            h.push(HeaderName::Other("X-Queue".into()), "billing");
            h.push(HeaderName::Other("X-Case-Id".into()), "00012345");
            h.push(HeaderName::UserToUser, "00C8AF7E;encoding=hex");
            h.push(HeaderName::CallInfo, "<sip:sbc.example.com>;answer-after=2");
        }
        Verdict::Pass
    });
    let to: warmline_sip::Uri = "sip:agent@example.com".parse().expect("uri");
    let c = net.act(0, |ua, now| ua.dial(now, to, sdp("customer", 1, "sendrecv"))).expect("dial");
    let Event::IncomingCall { info, .. } = net.wait_for(1, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert_eq!(info.data.caller.display_name.as_deref(), Some("Jane Customer"));
    assert!(info.data.asserted, "P-Asserted-Identity from the trusted SBC");
    assert_eq!(info.data.fields, [("X-Queue".into(), "billing".into()), ("X-Case-Id".into(), "00012345".into())]);
    assert_eq!(info.data.user_to_user.as_ref().map(|u| u.data.as_str()), Some("00C8AF7E"));
    assert_eq!(info.data.answer_after, Some(Duration::from_secs(2)));
    assert!(info.auto_answer, "policy allows honouring answer-after");
    assert!(info.has_offer && info.replaces.is_none());
    net.act(0, |ua, now| ua.hangup(now, c)).expect("hangup");
    net.settle();
    assert!(net.ua(1).calls().is_empty());
}

#[test]
fn auto_answer_is_not_offered_when_policy_forbids_it() {
    let mut net = Net::new(&["customer", "agent"]);
    net.register_all();
    net.rule(|_from, to, m| {
        if let (End::Ua(1), warmline_sip::Message::Request(r)) = (to, m)
            && r.method == Method::Invite
        {
            r.headers.push(HeaderName::CallInfo, "<sip:sbc.example.com>;answer-after=0");
        }
        Verdict::Pass
    });
    let to: warmline_sip::Uri = "sip:agent@example.com".parse().expect("uri");
    net.act(0, |ua, now| ua.dial(now, to, sdp("customer", 1, "sendrecv"))).expect("dial");
    let Event::IncomingCall { info, .. } = net.wait_for(1, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert_eq!(info.data.answer_after, Some(Duration::ZERO), "the hint is reported");
    assert!(!info.auto_answer, "but the default configuration does not honour it");
}

#[test]
fn timer_b_ends_an_unanswered_invite_at_32_s() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    // Bob's link swallows the INVITE; nothing comes back, not even 100.
    net.rule(
        |_from, to, m| if to == End::Ua(1) && is_request(m, &Method::Invite) { Verdict::Drop } else { Verdict::Pass },
    );
    let start = net.elapsed();
    let a = net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))).expect("dial");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::Timeout, status: Some(408) });
    let at = net.when(0, |e| matches!(e, Event::Ended { .. })).expect("ended");
    assert_eq!(at - start, Duration::from_secs(32), "Timer B = 64*T1, exactly");
}

#[test]
fn a_late_ack_still_confirms_and_a_missing_one_ends_the_call_after_64_t1() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.rule(|from, _to, m| {
        if from == End::Ua(0) && is_request(m, &Method::Ack) {
            Verdict::Delay(Duration::from_secs(5))
        } else {
            Verdict::Pass
        }
    });
    let (a, b) = call(&mut net, 0, 1);
    net.run_for(Duration::from_secs(60));
    assert!(net.ua(0).call(a).is_some() && net.ua(1).call(b).is_some(), "a slow ACK is still an ACK");

    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.rule(
        |from, _to, m| if from == End::Ua(0) && is_request(m, &Method::Ack) { Verdict::Drop } else { Verdict::Pass },
    );
    let (a, b) = call(&mut net, 0, 1);
    let answered = net.when(1, |e| matches!(e, Event::Connected { .. })).expect("answered");
    let invite_2xx = |net: &Net| {
        net.sent_responses(1, 200).iter().filter(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Invite)).count()
    };
    let e = net.wait_for(1, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: b, reason: EndReason::Timeout, status: None });
    let ended = net.when(1, |e| matches!(e, Event::Ended { .. })).expect("ended");
    assert_eq!(ended - answered, Duration::from_secs(32), "RFC 3261 13.3.1.4: 64*T1 without ACK, then BYE");
    assert_eq!(invite_2xx(&net), 1, "no 2xx retransmission over WebSocket, a reliable transport");
    net.wait_for(0, "Ended", |e| *e == Event::Ended { call: a, reason: EndReason::RemoteHangup, status: None });
}

#[test]
fn commands_on_unknown_calls_or_in_the_wrong_state_are_typed_errors() {
    use warmline_sip::ua::Error;
    let mut net = Net::new(&["alice", "bob"]);
    assert_eq!(net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))), Err(Error::NotConnected));
    net.register_all();
    let (ended, _) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.hangup(now, ended)).expect("hangup");
    net.settle();
    assert_eq!(net.act(0, |ua, now| ua.hangup(now, ended)), Err(Error::UnknownCall(ended)));
    assert_eq!(net.act(0, |ua, now| ua.answer(now, ended, Vec::new())), Err(Error::UnknownCall(ended)));
    let (c, _) = call(&mut net, 0, 1);
    assert!(matches!(
        net.act(0, |ua, now| ua.answer(now, c, sdp("alice", 1, "sendrecv"))),
        Err(Error::WrongState { .. })
    ));
    assert!(matches!(net.act(0, |ua, now| ua.reject(now, c, 486)), Err(Error::WrongState { .. })));
    assert_eq!(net.act(0, |ua, now| ua.reject(now, c, 200)), Err(Error::Status(200)));
    assert_eq!(net.act(0, |ua, now| ua.accept_answer(now, c, Vec::new())), Err(Error::NoOfferPending(c)));
    assert_eq!(net.act(0, |ua, now| ua.provide_offer(now, c, Vec::new())), Err(Error::NoOfferPending(c)));
}

#[test]
fn over_udp_the_2xx_is_retransmitted_until_acked_and_each_copy_re_acked() {
    let mut net = Net::new(&["alice", "bob"]);
    for i in 0..2 {
        net.connect_over(i, 0, warmline_sip::Transport::Udp);
        net.wait_for(i, "Registered", |e| matches!(e, Event::Registered { .. }));
    }
    // The first two ACKs are lost.
    let mut lost = 0;
    net.rule(move |from, _to, m| {
        if from == End::Ua(0) && is_request(m, &Method::Ack) && lost < 2 {
            lost += 1;
            return Verdict::Drop;
        }
        Verdict::Pass
    });
    let (a, b) = call(&mut net, 0, 1);
    net.run_for(Duration::from_secs(40));
    let invite_2xx = net
        .sent_responses(1, 200)
        .iter()
        .filter(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Invite))
        .count();
    assert_eq!(invite_2xx, 3, "sent, resent after T1, resent after 2*T1, then the ACK came: {}", net.dump());
    assert_eq!(net.sent_requests(0, &Method::Ack).len(), 3, "every copy of the 2xx is ACKed by the caller's core");
    assert!(net.ua(0).call(a).is_some() && net.ua(1).call(b).is_some(), "and the call stays up");
}

#[test]
fn an_invite_challenged_by_the_proxy_is_sent_again_with_credentials() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.registrar.challenge_invites = true;
    let (a, _) = call(&mut net, 0, 1);
    let invites = net.sent_requests(0, &Method::Invite);
    assert_eq!(invites.len(), 2);
    assert!(invites[0].headers.get(&HeaderName::ProxyAuthorization).is_none());
    assert!(
        invites[1]
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .is_some_and(|v| v.contains("uri=\"sip:bob@example.com\""))
    );
    assert_eq!(invites[1].headers.cseq().map(|c| c.seq), Ok(2));
    assert_eq!(invites[0].headers.call_id(), invites[1].headers.call_id());
    assert_eq!(net.sent_requests(0, &Method::Ack).len(), 2, "the 407 and the 2xx are both ACKed");
    assert!(net.ua(0).call(a).is_some());
}

#[test]
fn a_redirect_is_reported_with_its_contacts() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    net.rule(|from, _to, m| {
        if let (End::Ua(1), warmline_sip::Message::Response(r)) = (from, m)
            && r.status == 302
        {
            r.headers.push(HeaderName::Contact, "<sip:carol@example.com>");
        }
        Verdict::Pass
    });
    let a = net.act(0, |ua, now| ua.dial(now, bob(), sdp("alice", 1, "sendrecv"))).expect("dial");
    let Event::IncomingCall { call: b, .. } =
        net.wait_for(1, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    net.act(1, |ua, now| ua.reject(now, b, 302)).expect("redirect");
    let e = net.wait_for(0, "Redirected", |e| matches!(e, Event::Redirected { .. }));
    assert_eq!(e, Event::Redirected { call: a, contacts: vec!["sip:carol@example.com".parse().expect("uri")] });
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::Redirected, status: Some(302) });
}

#[test]
fn an_owner_that_decides_first_refuses_without_ringing_and_rings_when_it_chooses() {
    let mut b = config("agent", 1);
    b.ring_at_once = false;
    let mut net = Net::with(vec![("customer".into(), config("customer", 0)), ("agent".into(), b)]);
    net.register_all();
    for refuse in [true, false] {
        let to: warmline_sip::Uri = "sip:agent@example.com".parse().expect("uri");
        let offer = sdp("customer", 1, "sendrecv");
        net.act(0, |ua, now| ua.dial(now, to, offer)).expect("dial");
        let Event::IncomingCall { call, .. } =
            net.wait_for(1, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
        else {
            unreachable!()
        };
        net.settle();
        assert!(net.sent_responses(1, 180).is_empty(), "no 180 before the owner decides");
        if refuse {
            net.act(1, |ua, now| ua.reject(now, call, 486)).expect("reject");
            net.settle();
            assert!(net.sent_responses(1, 180).is_empty(), "a refused call never rang");
            assert_eq!(net.sent_responses(1, 486).len(), 1);
        } else {
            net.act(1, |ua, now| ua.ring(now, call)).expect("ring");
            net.settle();
            assert_eq!(net.sent_responses(1, 180).len(), 1);
            net.act(1, |ua, now| ua.hangup(now, call)).expect("end it");
            net.settle();
        }
    }
}
