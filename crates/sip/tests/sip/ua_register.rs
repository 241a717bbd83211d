//! Registration through the SBC cluster: digest challenges (401 and 407,
//! MD5 and SHA-256), a stale nonce on refresh, refresh before expiry, and
//! un-REGISTER on shutdown.

use std::time::Duration;

use warmline_sip::auth::Algorithm;
use warmline_sip::ua::Event;
use warmline_sip::{HeaderName, Method};

use crate::harness::Net;

#[test]
fn register_answers_a_401_and_sends_outbound_contact() {
    let mut net = Net::new(&["alice"]);
    net.connect(0, 0);
    net.wait_for(0, "Registering", |e| *e == Event::Registering);
    let Event::Registered { expires } = net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. })) else {
        unreachable!()
    };
    assert_eq!(expires, Duration::from_secs(600));
    assert!(net.ua(0).is_registered());
    let registers = net.sent_requests(0, &Method::Register);
    assert_eq!(registers.len(), 2, "one unauthenticated, one answering the challenge");
    assert!(registers[1].headers.get(&HeaderName::Authorization).is_some_and(|a| a.contains("qop=auth")));
    let contact = registers[0].headers.get(&HeaderName::Contact).unwrap_or_default();
    assert!(contact.contains(";transport=ws;ob>"), "RFC 7118 contact with ob: {contact}");
    assert!(contact.contains("+sip.instance=\"<urn:uuid:") && contact.contains("reg-id=1"), "{contact}");
    let via = registers[0].headers.top_via().expect("Via");
    assert_eq!(via.host.to_string(), "alice1.invalid", "Via uses the flow's local host");
    assert_eq!(via.transport.to_string(), "WSS");
}

#[test]
fn register_answers_a_407_with_sha256() {
    let mut net = Net::new(&["alice"]);
    net.registrar.proxy_challenge = true;
    net.registrar.algorithm = Algorithm::Sha256;
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    let registers = net.sent_requests(0, &Method::Register);
    let auth = registers[1].headers.get(&HeaderName::ProxyAuthorization).unwrap_or_default();
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
}

#[test]
fn a_stale_nonce_on_refresh_is_answered_without_failing() {
    let mut net = Net::new(&["alice"]);
    net.registrar.expires = 120;
    net.connect(0, 0);
    net.wait_for(0, "Registered", |e| matches!(e, Event::Registered { .. }));
    let first = net.elapsed();
    net.registrar.rotate_nonce();
    // The refresh reuses the old nonce (nc=2), is told it is stale, and
    // answers the new one without reporting a failure.
    let Event::Registered { .. } = net.wait_for(0, "Registered again", |e| matches!(e, Event::Registered { .. }))
    else {
        unreachable!()
    };
    let refreshed = net.elapsed();
    assert!(refreshed - first >= Duration::from_secs(100), "refreshed before expiry, not at once");
    assert!(refreshed - first < Duration::from_secs(120), "refreshed before the 120 s lifetime ran out");
    assert_eq!(net.registrar.stale_challenges, 1);
    assert!(!net.saw(0, |e| matches!(e, Event::RegistrationFailed { .. })), "{}", net.dump());
    let registers = net.sent_requests(0, &Method::Register);
    let auth = |i: usize| registers[i].headers.get(&HeaderName::Authorization).unwrap_or_default().to_owned();
    assert!(auth(2).contains("nc=00000002") && auth(2).contains("nonce=\"nonce-0\""), "{}", auth(2));
    assert!(auth(3).contains("nonce=\"nonce-1\""), "{}", auth(3));
}

#[test]
fn wrong_password_is_reported_once() {
    let mut net = Net::new(&["alice"]);
    net.nodes[0].ua = warmline_sip::UserAgent::new({
        let mut c = crate::harness::config("alice", 0);
        c.password = "wrong".into();
        c
    });
    net.connect(0, 0);
    let e = net.wait_for(0, "RegistrationFailed", |e| matches!(e, Event::RegistrationFailed { .. }));
    assert!(matches!(e, Event::RegistrationFailed { status: 401, .. }), "{e:?}");
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.sent_requests(0, &Method::Register).len(), 2, "no loop on wrong credentials");
    assert!(net.nodes[0].reconnects.is_empty(), "a new server would not fix a wrong password");
}

#[test]
fn shutdown_hangs_up_and_unregisters() {
    let mut net = Net::new(&["alice", "bob"]);
    net.register_all();
    let (a, _b) = crate::harness::call(&mut net, 0, 1);
    net.act(0, |ua, now| ua.shutdown(now));
    net.wait_for(0, "Ended", |e| matches!(e, Event::Ended { call, .. } if *call == a));
    net.wait_for(0, "Unregistered", |e| *e == Event::Unregistered);
    let last = net.sent_requests(0, &Method::Register).pop().expect("un-REGISTER");
    assert_eq!(last.headers.expires(), Ok(Some(0)));
    net.settle();
    assert!(net.ua(0).calls().is_empty() && net.ua(1).calls().is_empty(), "{}", net.dump());
}

#[test]
fn an_outbound_proxy_is_a_preloaded_loose_route() {
    let mut c = crate::harness::config("alice", 0);
    c.outbound_proxy = Some("sip:sbc.example.com".parse().expect("uri"));
    let mut net = Net::with(vec![("alice".into(), c), ("bob".into(), crate::harness::config("bob", 1))]);
    net.register_all();
    let (a, _) = crate::harness::call(&mut net, 0, 1);
    let register = net.sent_requests(0, &Method::Register).pop().expect("REGISTER");
    assert_eq!(register.headers.get(&HeaderName::Route), Some("<sip:sbc.example.com;lr>"));
    let invite = net.sent_requests(0, &Method::Invite).pop().expect("INVITE");
    assert_eq!(invite.headers.get(&HeaderName::Route), Some("<sip:sbc.example.com;lr>"));
    assert!(net.ua(0).call(a).is_some());
}
