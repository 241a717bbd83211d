//! Timeouts on simulated time (Timer F at exactly 32 s), session timers
//! (RFC 4028: refresh by UPDATE or re-INVITE, BYE on expiry, 422), and
//! early media with reliable provisional responses (RFC 3262).

use std::time::Duration;

use warmline_sip::ua::{Config, EndReason, Event, SessionTimers};
use warmline_sip::{HeaderName, Method};

use crate::harness::{End, Net, Verdict, answer_to, call, config, is_request, sdp};

fn with_timers(alice: impl FnOnce(&mut Config), bob: impl FnOnce(&mut Config)) -> Net {
    let (mut a, mut b) = (config("alice", 0), config("bob", 1));
    alice(&mut a);
    bob(&mut b);
    Net::with(vec![("alice".into(), a), ("bob".into(), b)])
}

fn short_sessions(c: &mut Config) {
    c.session_timers = Some(SessionTimers { interval: 120, min_se: 90, prefer_update: true });
}

#[test]
fn timer_f_fails_a_register_nobody_answers_at_exactly_32_s() {
    let mut net = Net::new(&["alice"]);
    net.rule(
        |_from, to, m| {
            if to == End::Proxy(0) && is_request(m, &Method::Register) { Verdict::Drop } else { Verdict::Pass }
        },
    );
    net.connect(0, 0);
    let e = net.wait_for(0, "RegistrationFailed", |e| matches!(e, Event::RegistrationFailed { .. }));
    assert!(matches!(e, Event::RegistrationFailed { status: 408, .. }), "{e:?}");
    let at = net.when(0, |e| matches!(e, Event::RegistrationFailed { .. })).expect("failed");
    assert_eq!(at, Duration::from_secs(32), "Timer F = 64*T1, exactly");
    assert_eq!(net.nodes[0].reconnects.len(), 1, "a registrar that never answers: try the next server");
    assert!(net.saw(0, |e| matches!(e, Event::FlowFailed { .. })));
}

#[test]
fn session_is_refreshed_by_update_every_half_interval() {
    let mut net = with_timers(short_sessions, |_| {});
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    let invite = net.sent_requests(0, &Method::Invite).pop().expect("INVITE");
    assert_eq!(invite.headers.get(&HeaderName::SessionExpires), Some("120"));
    assert_eq!(invite.headers.get(&HeaderName::MinSe), Some("90"));
    let ok =
        net.sent_responses(1, 200).into_iter().find(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Invite));
    let ok = ok.expect("2xx");
    assert_eq!(ok.headers.get(&HeaderName::SessionExpires), Some("120;refresher=uac"), "the capable caller refreshes");
    assert!(ok.headers.tokens(&HeaderName::Require).any(|t| t == "timer"));

    net.run_for(Duration::from_secs(600));
    let updates = net.sent_requests(0, &Method::Update);
    assert_eq!(updates.len(), 10, "one refresh a minute for ten minutes");
    assert!(
        updates
            .iter()
            .all(|u| u.body.is_empty() && u.headers.get(&HeaderName::SessionExpires) == Some("120;refresher=uac"))
    );
    assert!(net.ua(0).call(a).is_some() && net.ua(1).call(b).is_some(), "{}", net.dump());
    let offers = net.events(1).iter().filter(|e| matches!(e, Event::OfferReceived { .. })).count();
    assert_eq!(offers, 1, "only the INVITE's offer reached the owner; refreshes are invisible");
    assert!(!net.saw(1, |e| matches!(e, Event::Ended { .. })));
}

#[test]
fn session_refresh_by_reinvite_is_answered_without_the_owner() {
    let mut net = with_timers(
        |c| c.session_timers = Some(SessionTimers { interval: 120, min_se: 90, prefer_update: false }),
        |_| {},
    );
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.run_for(Duration::from_secs(300));
    assert_eq!(net.sent_requests(0, &Method::Invite).len(), 6, "the INVITE and five refreshes");
    let offers = net.events(1).iter().filter(|e| matches!(e, Event::OfferReceived { .. })).count();
    assert_eq!(offers, 1, "an unchanged offer is answered with the current SDP, without the owner");
    assert!(net.ua(0).call(a).is_some() && net.ua(1).call(b).is_some());
}

#[test]
fn session_expires_without_refresh_and_the_other_side_sends_bye() {
    let mut net = with_timers(short_sessions, |_| {});
    net.register_all();
    net.rule(
        |from, _to, m| if from == End::Ua(0) && is_request(m, &Method::Update) { Verdict::Drop } else { Verdict::Pass },
    );
    let (a, b) = call(&mut net, 0, 1);
    let connected = net.when(1, |e| matches!(e, Event::Connected { .. })).expect("connected");
    let e = net.wait_for(1, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: b, reason: EndReason::SessionExpired, status: None });
    let ended = net.when(1, |e| matches!(e, Event::Ended { .. })).expect("ended");
    assert_eq!(ended - connected, Duration::from_secs(88), "120 s less min(32, 40)");
    let e = net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: a, reason: EndReason::RemoteHangup, status: None });
}

#[test]
fn a_422_is_answered_with_the_larger_min_se() {
    let mut net = with_timers(short_sessions, |c| {
        c.session_timers = Some(SessionTimers { interval: 1800, min_se: 300, prefer_update: true });
    });
    net.register_all();
    call(&mut net, 0, 1);
    let invites = net.sent_requests(0, &Method::Invite);
    assert_eq!(invites.len(), 2, "{}", net.dump());
    assert_eq!(net.sent_responses(1, 422).len(), 1);
    assert_eq!(net.sent_responses(1, 422)[0].headers.get(&HeaderName::MinSe), Some("300"));
    assert_eq!(invites[1].headers.get(&HeaderName::SessionExpires), Some("300"));
    assert_eq!(invites[1].headers.cseq().map(|c| c.seq), Ok(2), "same Call-ID, next CSeq");
    assert_eq!(invites[0].headers.call_id(), invites[1].headers.call_id());
}

#[test]
fn early_media_with_prack_then_answer() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let to = "sip:bob@example.com".parse().expect("uri");
    let a = net.act(0, |ua, now| ua.dial(now, to, sdp("alice", 1, "sendrecv"))).expect("dial");
    let Event::OfferReceived { call: b, sdp: offer } =
        net.wait_for(1, "OfferReceived", |e| matches!(e, Event::OfferReceived { .. }))
    else {
        unreachable!()
    };
    let answer = answer_to("bob", &offer);
    net.act(1, |ua, now| ua.early_media(now, b, answer.clone())).expect("183");
    // Answer at once: the 2xx must wait for the PRACK (RFC 3262 3).
    net.act(1, |ua, now| ua.answer(now, b, Vec::new())).expect("answer");
    let Event::AnswerReceived { sdp, .. } =
        net.wait_for(0, "AnswerReceived", |e| matches!(e, Event::AnswerReceived { .. }))
    else {
        unreachable!()
    };
    net.wait_for(0, "EarlyMedia", |e| *e == Event::EarlyMedia { call: a });
    assert_eq!(sdp, answer, "the early answer is the answer");
    net.wait_for(0, "Connected", |e| *e == Event::Connected { call: a });
    net.settle();
    let p183 = net.sent_responses(1, 183).pop().expect("183");
    assert!(p183.headers.tokens(&HeaderName::Require).any(|t| t == "100rel"));
    let rseq: u32 = p183.headers.get(&HeaderName::RSeq).and_then(|v| v.parse().ok()).expect("RSeq");
    assert!((1..1 << 31).contains(&rseq));
    let prack = net.sent_requests(0, &Method::Prack).pop().expect("PRACK");
    assert_eq!(prack.headers.get(&HeaderName::RAck), Some(format!("{rseq} 1 INVITE").as_str()));
    let order: Vec<String> = net.nodes[1]
        .sent
        .iter()
        .filter_map(|(_, m)| m.as_response())
        .map(|r| format!("{} {}", r.status, r.headers.cseq().map(|c| c.method.to_string()).unwrap_or_default()))
        .collect();
    let pos = |s: &str| order.iter().position(|o| o == s);
    assert!(pos("200 PRACK") < pos("200 INVITE"), "the 2xx waited for the PRACK: {order:?}");
    let ok =
        net.sent_responses(1, 200).into_iter().find(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Invite));
    assert!(ok.is_some_and(|r| r.body.is_empty()), "the answer was already given reliably");
    assert_eq!(net.events(0).iter().filter(|e| matches!(e, Event::AnswerReceived { .. })).count(), 1);
}
