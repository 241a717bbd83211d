//! The flow under the calls: CRLF keep-alives and a pong timeout leading to
//! Reconnect, failover to a second SBC with re-registration and a target
//! refresh for the live call, malformed input, OPTIONS and INFO, and the
//! answers to requests we do not support.

use std::time::Duration;

use warmline_sip::ua::Event;
use warmline_sip::{HeaderName, Message, Method};

use crate::harness::{End, Net, Verdict, call};

#[test]
fn keepalive_pings_are_answered_and_a_missing_pong_asks_for_a_reconnect() {
    let mut net = Net::new(&["alice"]);
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    net.run_for(Duration::from_secs(300));
    assert!(net.nodes[0].reconnects.is_empty(), "pongs keep the flow alive");
    let pings = net.wire.iter().filter(|l| l.contains("alice -> sbc0 CRLF ping")).count();
    assert!((10..=13).contains(&pings), "a ping every 24-30 s: {pings}");

    net.pong[0] = false;
    let e = net.wait_for(0, "FlowFailed", |e| matches!(e, Event::FlowFailed { .. }));
    assert!(matches!(e, Event::FlowFailed { reason } if reason.contains("pong")));
    net.wait_for(0, "Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    let (at, _) = net.nodes[0].reconnects[0].clone();
    let last_ping = net.wire.iter().rev().find(|l| l.contains("CRLF ping")).expect("a ping");
    let ping_at: f64 = last_ping.split_whitespace().next().and_then(|t| t.parse().ok()).expect("time");
    assert_eq!((at.as_secs_f64() - ping_at).round(), 10.0, "the RFC 5626 pong timeout");
}

#[test]
fn the_registrar_s_flow_timer_sets_the_ping_interval() {
    let mut net = Net::new(&["alice"]);
    net.registrar.flow_timer = Some(15);
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    net.run_for(Duration::from_secs(150));
    let pings = net.wire.iter().filter(|l| l.contains("CRLF ping")).count();
    assert!((10..=12).contains(&pings), "every 12-15 s: {pings}");
}

#[test]
fn failover_to_the_second_sbc_keeps_registration_and_the_call() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    let first_register = net.sent_requests(0, &Method::Register).pop().expect("REGISTER");

    // Alice's path to sbc0 dies silently: pings go unanswered.
    net.nodes[0].link_down = true;
    net.wait_for(0, "FlowFailed", |e| matches!(e, Event::FlowFailed { .. }));
    net.wait_for(0, "CallReconnecting", |e| *e == Event::CallReconnecting { call: a });
    assert_eq!(net.nodes[0].reconnects.len(), 1);

    // The transport connects to the next SBC.
    net.nodes[0].link_down = false;
    net.connect(0, 1);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    net.wait_for(0, "CallReconnected", |e| *e == Event::CallReconnected { call: a });
    let register = net.sent_requests(0, &Method::Register).pop().expect("REGISTER");
    assert_eq!(register.headers.call_id(), first_register.headers.call_id(), "same registration");
    assert!(register.headers.cseq().map(|c| c.seq).ok() > first_register.headers.cseq().map(|c| c.seq).ok());
    assert_eq!(register.headers.top_via().map(|v| v.host.to_string()), Ok("alice3.invalid".into()));
    let update = net.sent_requests(0, &Method::Update).pop().expect("target refresh");
    assert!(update.headers.get(&HeaderName::Contact).is_some_and(|c| c.contains("alice3.invalid")));

    // Bob's in-dialog requests now reach Alice's new flow.
    net.act(1, |ua, now| ua.hangup(now, b)).expect("hangup");
    net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { call, .. } if *call == a));
    net.settle();
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty(), "{}", net.dump());
}

#[test]
fn malformed_input_gets_a_400_or_is_dropped_and_never_panics() {
    let mut net = Net::new(&["alice"]);
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    let bad_to = b"OPTIONS sip:alice@alice1.invalid SIP/2.0\r\nVia: SIP/2.0/WSS sbc0.example.com;branch=z9hG4bKbad\r\n\
        From: <sip:x@example.com>;tag=1\r\nTo: \"unterminated <sip:alice@example.com>\r\nCall-ID: bad1\r\n\
        CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    net.inject(0, bad_to);
    let e = net.wait_for(0, "Malformed", |e| matches!(e, Event::Malformed { .. }));
    assert!(matches!(e, Event::Malformed { answered: true, .. }));
    // The 400 copies the To as received, malformed as it is (RFC 3261 8.2).
    let (_, sent) = net.nodes[0].sent_raw.last().expect("a response");
    let sent = String::from_utf8_lossy(sent);
    assert!(sent.starts_with("SIP/2.0 400 Bad Request (malformed To header"), "{sent}");

    net.inject(0, b"\x00\xff garbage");
    let e = net.wait_for(0, "Malformed", |e| matches!(e, Event::Malformed { .. }));
    assert!(matches!(e, Event::Malformed { answered: false, .. }), "nothing to answer");

    // Seeded mutations of real traffic: no panic, whatever comes.
    let frames: Vec<Vec<u8>> = net.nodes[0].sent.iter().map(|(_, m)| m.to_string().into_bytes()).collect();
    let mut seed = 0x5eed_u64;
    for i in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut frame = frames[i % frames.len()].clone();
        let at = (seed as usize) % frame.len().max(1);
        match seed % 4 {
            0 => frame.truncate(at),
            1 => frame[at] = (seed >> 8) as u8,
            2 => frame.insert(at, b';'),
            _ => frame.drain(at..(at + 7).min(frame.len())).for_each(drop),
        }
        net.inject(0, &frame);
    }
    assert!(net.ua(0).is_registered());
}

#[test]
fn options_are_answered_in_and_out_of_dialog() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let options =
        b"OPTIONS sip:alice@alice1.invalid SIP/2.0\r\nVia: SIP/2.0/WSS sbc0.example.com;branch=z9hG4bKopt1\r\n\
        Max-Forwards: 70\r\nFrom: <sip:monitor@example.com>;tag=m1\r\nTo: <sip:alice@example.com>\r\nCall-ID: opt1\r\n\
        CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    net.inject(0, options);
    let ok =
        net.sent_responses(0, 200).into_iter().find(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Options));
    let ok = ok.expect("200 to OPTIONS");
    assert!(ok.headers.get(&HeaderName::Allow).is_some_and(|a| a.contains("REFER") && a.contains("UPDATE")));
    assert!(ok.headers.get(&HeaderName::Accept).is_some_and(|a| a.contains("application/sdp")));
    assert!(ok.headers.get(&HeaderName::Supported).is_some_and(|s| s.contains("100rel") && s.contains("replaces")));
    assert!(ok.headers.to().is_ok_and(|t| t.tag().is_some()), "a To tag is added");

    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.ping(now, a)).expect("in-dialog OPTIONS");
    net.settle();
    assert_eq!(
        net.sent_responses(1, 200)
            .iter()
            .filter(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Options))
            .count(),
        1
    );
    assert!(net.ua(0).call(a).is_some() && net.ua(1).call(b).is_some());
}

#[test]
fn info_dtmf_is_reported_both_formats() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.send_dtmf(now, a, '5', Duration::from_millis(160))).expect("INFO");
    let e = net.wait_for(1, "Dtmf", |e| matches!(e, Event::Dtmf { .. }));
    assert_eq!(e, Event::Dtmf { call: b, digit: '5', duration: Some(Duration::from_millis(160)) });
    // The same INFO rewritten to application/dtmf, as some gateways send.
    net.rule(|_from, to, m| {
        if let (End::Ua(1), Message::Request(r)) = (to, m)
            && r.method == Method::Info
        {
            r.headers.set(HeaderName::ContentType, "application/dtmf");
            r.body = b"#".to_vec();
        }
        Verdict::Pass
    });
    net.act(0, |ua, now| ua.send_dtmf(now, a, '1', Duration::from_millis(100))).expect("INFO");
    let e = net.wait_for(1, "Dtmf", |e| matches!(e, Event::Dtmf { .. }));
    assert_eq!(e, Event::Dtmf { call: b, digit: '#', duration: None });
    assert_eq!(
        net.sent_responses(1, 200).iter().filter(|r| r.headers.cseq().is_ok_and(|c| c.method == Method::Info)).count(),
        2
    );
}

#[test]
fn requests_we_do_not_support_get_405_501_420_and_481() {
    let mut net = Net::new(&["alice"]);
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    let request = |method: &str, extra: &str, n: u32| {
        format!(
            "{method} sip:alice@alice1.invalid SIP/2.0\r\nVia: SIP/2.0/WSS sbc0.example.com;branch=z9hG4bKu{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:x@example.com>;tag=x{n}\r\nTo: <sip:alice@example.com>{extra}\r\n\
             Call-ID: u{n}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let cases = [
        (request("MESSAGE", "", 1), 405),
        (request("SUBSCRIBE", "", 2), 405),
        (request("FOO", "", 3), 501),
        (request("BYE", "", 4), 481),
        (request("INFO", ";tag=nosuch", 5), 481),
        (request("REFER", "", 6), 403),
        (request("OPTIONS", "\r\nRequire: foo", 7), 420),
    ];
    for (i, (raw, status)) in cases.iter().enumerate() {
        net.inject(0, raw.as_bytes());
        let last = net.nodes[0].sent.last().map(|(_, m)| m.clone());
        let Some(Message::Response(r)) = last else { panic!("case {i}: no response") };
        assert_eq!(r.status, *status, "case {i}: {raw}");
        if *status == 405 || *status == 501 {
            assert!(r.headers.get(&HeaderName::Allow).is_some(), "405/501 carry Allow");
        }
        if *status == 420 {
            assert_eq!(r.headers.get(&HeaderName::Unsupported), Some("foo"));
        }
    }
    // A retransmitted request is absorbed by its transaction: the same
    // answer again, not a second decision.
    net.inject(0, cases[0].0.as_bytes());
    let last = net.nodes[0].sent.last().map(|(_, m)| m.clone());
    assert!(matches!(last, Some(Message::Response(r)) if r.status == 405));
    assert_eq!(net.sent_responses(0, 405).len(), 3, "resent from the transaction, not re-decided");
}

#[test]
fn a_dropped_connection_keeps_the_call_and_refreshes_its_target() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, b) = call(&mut net, 0, 1);
    net.disconnect(0);
    net.wait_for(0, "Reconnecting", |e| matches!(e, Event::Reconnecting { .. }));
    net.wait_for(0, "CallReconnecting", |e| *e == Event::CallReconnecting { call: a });
    assert!(net.nodes[0].reconnects.is_empty(), "the transport saw it; nothing to ask");
    net.run_for(Duration::from_secs(3));
    net.connect(0, 0);
    net.wait_for(0, "CallReconnected", |e| *e == Event::CallReconnected { call: a });
    net.act(1, |ua, now| ua.hangup(now, b)).expect("hangup");
    net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { call, .. } if *call == a));
}

/// A whole scenario, as the wire saw it.
fn blind_transfer_wire() -> Vec<String> {
    let mut net = Net::new(&["customer", "agent", "expert"]);
    net.register_all();
    let (_, agent_call) = call(&mut net, 0, 1);
    let target: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(1, |ua, now| ua.transfer_blind(now, agent_call, target)).expect("REFER");
    let Event::IncomingCall { call: x, .. } =
        net.wait_for(2, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    net.act(2, |ua, now| ua.answer(now, x, crate::harness::sdp("expert", 1, "sendrecv"))).expect("answer");
    net.run_for(Duration::from_secs(120));
    let frames =
        net.nodes.iter().flat_map(|n| n.sent_raw.iter().map(|(t, b)| format!("{t:?} {}", String::from_utf8_lossy(b))));
    net.wire.iter().cloned().chain(frames).collect()
}

#[test]
fn the_same_seeds_give_the_same_run_byte_for_byte() {
    let (first, second) = (blind_transfer_wire(), blind_transfer_wire());
    assert!(first.len() > 50);
    assert_eq!(first, second, "tags, branches, Call-IDs, nonces and timings all come from the seeds");
}
