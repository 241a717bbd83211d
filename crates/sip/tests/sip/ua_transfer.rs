//! Transfer (RFC 3515, 3891, 3892, 5589) with three user agents: the
//! customer (transferee), the agent (transferor) and the expert (transfer
//! target). Blind and attended transfer end with the NOTIFY sipfrag 200 and
//! the BYEs RFC 5589 asks for; each test says which dialogs remain.

use warmline_sip::ua::{CallId, CallState, Config, EndReason, Event, ReferPolicy, TransferProgress};
use warmline_sip::{HeaderName, Message, Method};

use crate::harness::{End, Net, Verdict, answer_to, call, config, sdp};

const CUSTOMER: usize = 0;
const AGENT: usize = 1;
const EXPERT: usize = 2;

fn net_with(customer: impl FnOnce(&mut Config)) -> Net {
    let mut c = config("customer", 0);
    customer(&mut c);
    Net::with(vec![
        ("customer".into(), c),
        ("agent".into(), config("agent", 1)),
        ("expert".into(), config("expert", 2)),
    ])
}

/// Waits for the expert's incoming call and answers it.
fn expert_answers(net: &mut Net) -> (CallId, Box<warmline_sip::ua::IncomingCall>) {
    let Event::IncomingCall { call, info } =
        net.wait_for(EXPERT, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let Event::OfferReceived { sdp: offer, .. } =
        net.wait_for(EXPERT, "OfferReceived", |e| matches!(e, Event::OfferReceived { call: c, .. } if *c == call))
    else {
        unreachable!()
    };
    net.act(EXPERT, |ua, now| ua.answer(now, call, answer_to("expert", &offer))).expect("answer");
    (call, info)
}

/// The one call left in user agent `i`, connected, and its dialog.
fn only_call(net: &mut Net, i: usize) -> warmline_sip::ua::CallInfo {
    let calls = net.ua(i).calls();
    assert_eq!(calls.len(), 1, "{} should have one call left: {calls:?}", net.nodes[i].name);
    assert_eq!(calls[0].state, CallState::Connected);
    calls[0].clone()
}

fn assert_same_dialog(a: &warmline_sip::ua::CallInfo, b: &warmline_sip::ua::CallInfo) {
    let (da, db) = (a.dialog.as_ref().expect("dialog"), b.dialog.as_ref().expect("dialog"));
    assert_eq!(da.call_id, db.call_id, "one dialog seen from both ends");
    assert_eq!((&da.local_tag, &da.remote_tag), (&db.remote_tag, &db.local_tag));
}

fn sipfrags(net: &Net, i: usize) -> Vec<String> {
    net.sent_requests(i, &Method::Notify).iter().map(|n| String::from_utf8_lossy(&n.body).trim().to_owned()).collect()
}

#[test]
fn blind_transfer_hands_the_customer_to_the_expert() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let expert: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, expert)).expect("REFER");

    let e = net.wait_for(CUSTOMER, "TransferRequested", |e| matches!(e, Event::TransferRequested { .. }));
    let Event::TransferRequested { call, new_call, target, attended } = e else { unreachable!() };
    assert_eq!((call, target.to_string(), attended), (customer_call, "sip:expert@example.com".into(), false));
    let (expert_call, info) = expert_answers(&mut net);
    assert_eq!(info.referred_by.as_deref(), Some("<sip:agent@example.com>"), "RFC 3892 Referred-By");

    net.wait_for(AGENT, "Accepted", |e| matches!(e, Event::Transfer { progress: TransferProgress::Accepted, .. }));
    net.wait_for(AGENT, "Succeeded", |e| matches!(e, Event::Transfer { progress: TransferProgress::Succeeded, .. }));
    let e = net.wait_for(AGENT, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: agent_call, reason: EndReason::Transferred, status: None });
    let e = net.wait_for(CUSTOMER, "old call Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: customer_call, reason: EndReason::Transferred, status: None });
    net.settle();

    assert_eq!(sipfrags(&net, CUSTOMER), ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"]);
    let last = net.sent_requests(CUSTOMER, &Method::Notify).pop().expect("NOTIFY");
    assert_eq!(last.headers.get(&HeaderName::SubscriptionState), Some("terminated;reason=noresource"));
    assert_eq!(net.sent_requests(AGENT, &Method::Bye).len(), 1, "the transferor BYEs the customer (RFC 5589)");
    assert!(net.ua(AGENT).calls().is_empty(), "the agent is free");
    let (c, x) = (only_call(&mut net, CUSTOMER), only_call(&mut net, EXPERT));
    assert_eq!((c.id, x.id), (new_call, expert_call));
    assert_same_dialog(&c, &x);
}

#[test]
fn attended_transfer_replaces_the_consultation_call() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    net.act(AGENT, |ua, now| ua.hold(now, agent_call, sdp("agent", 2, "sendonly"))).expect("hold");
    net.wait_for(AGENT, "Held", |e| *e == Event::Held { call: agent_call });
    net.settle();
    let (consult, expert_consult) = call(&mut net, AGENT, EXPERT);

    net.act(AGENT, |ua, now| ua.transfer_attended(now, agent_call, consult)).expect("REFER");
    let refer = net.sent_requests(AGENT, &Method::Refer).pop().expect("REFER");
    let refer_to = refer.headers.get(&HeaderName::ReferTo).unwrap_or_default().to_owned();
    assert!(refer_to.starts_with("<sip:expert@example.com?Replaces="), "{refer_to}");
    assert!(
        refer.headers.to().is_ok_and(|t| t.uri.to_string() == "sip:customer@example.com"),
        "on the customer's dialog"
    );

    let e = net.wait_for(CUSTOMER, "TransferRequested", |e| matches!(e, Event::TransferRequested { .. }));
    let Event::TransferRequested { new_call, attended: true, .. } = e else { panic!("attended: {e:?}") };
    let (expert_call, info) = expert_answers(&mut net);
    assert_eq!(info.replaces, Some(expert_consult), "the INVITE names the consultation dialog");
    let invite = net.sent_requests(CUSTOMER, &Method::Invite).pop().expect("INVITE");
    let consult_dialog = net.ua(AGENT).call(consult).and_then(|c| c.dialog).expect("consult dialog");
    assert_eq!(
        invite.headers.get(&HeaderName::Replaces).map(str::to_owned),
        Some(format!(
            "{};to-tag={};from-tag={}",
            consult_dialog.call_id, consult_dialog.remote_tag, consult_dialog.local_tag
        ))
    );

    let e = net.wait_for(EXPERT, "consult Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: expert_consult, reason: EndReason::Replaced, status: None });
    net.wait_for(AGENT, "Succeeded", |e| matches!(e, Event::Transfer { progress: TransferProgress::Succeeded, .. }));
    net.wait_for(CUSTOMER, "old call Ended", |e| {
        *e == Event::Ended { call: customer_call, reason: EndReason::Transferred, status: None }
    });
    net.settle();
    let ended: Vec<_> = net.events(AGENT).into_iter().filter(|e| matches!(e, Event::Ended { .. })).collect();
    assert_eq!(
        ended,
        [
            Event::Ended { call: consult, reason: EndReason::Transferred, status: None },
            Event::Ended { call: agent_call, reason: EndReason::Transferred, status: None },
        ],
        "the expert BYEs the consultation, the agent BYEs the customer"
    );
    assert_eq!(sipfrags(&net, CUSTOMER).last().map(String::as_str), Some("SIP/2.0 200 OK"));
    assert_eq!(net.sent_requests(EXPERT, &Method::Bye).len(), 1);
    assert_eq!(net.sent_requests(AGENT, &Method::Bye).len(), 1);
    assert!(net.ua(AGENT).calls().is_empty(), "the agent is free: {}", net.dump());
    let (c, x) = (only_call(&mut net, CUSTOMER), only_call(&mut net, EXPERT));
    assert_eq!((c.id, x.id), (new_call, expert_call));
    assert_same_dialog(&c, &x);
}

fn refused(policy_status: u16) {
    let mut net = net_with(|c| c.refer_policy = ReferPolicy::Refuse { status: policy_status });
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let (consult, expert_consult) = call(&mut net, AGENT, EXPERT);
    net.act(AGENT, |ua, now| ua.transfer_attended(now, agent_call, consult)).expect("REFER");
    let e = net.wait_for(AGENT, "Refused", |e| matches!(e, Event::Transfer { .. }));
    assert_eq!(e, Event::Transfer { call: agent_call, progress: TransferProgress::Refused { status: policy_status } });
    net.settle();
    assert!(!net.saw(CUSTOMER, |e| matches!(e, Event::TransferRequested { .. })));
    let agent: Vec<CallId> = net.ua(AGENT).calls().iter().map(|c| c.id).collect();
    assert_eq!(agent, [agent_call, consult], "both of the agent's calls stay up");
    assert_eq!(net.ua(CUSTOMER).calls().len(), 1);
    assert!(net.ua(CUSTOMER).call(customer_call).is_some() && net.ua(EXPERT).call(expert_consult).is_some());
    assert!(net.ua(AGENT).calls().iter().all(|c| c.state == CallState::Connected));
    // And a second try is allowed once the first is settled.
    let target: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, target)).expect("may try again");
}

#[test]
fn refer_refused_by_policy_keeps_both_calls() {
    refused(603);
}

#[test]
fn refer_refused_by_a_far_end_without_refer_keeps_both_calls() {
    refused(405);
}

#[test]
fn transfer_to_a_busy_target_fails_and_keeps_the_call() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let expert: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, expert)).expect("REFER");
    let Event::IncomingCall { call, .. } =
        net.wait_for(EXPERT, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    net.act(EXPERT, |ua, now| ua.reject(now, call, 486)).expect("busy");
    let e = net
        .wait_for(AGENT, "Failed", |e| matches!(e, Event::Transfer { progress: TransferProgress::Failed { .. }, .. }));
    assert_eq!(e, Event::Transfer { call: agent_call, progress: TransferProgress::Failed { status: 486 } });
    net.settle();
    assert_eq!(net.ua(AGENT).calls().len(), 1, "the agent keeps the customer");
    assert_eq!(net.ua(CUSTOMER).calls().iter().map(|c| c.id).collect::<Vec<_>>(), [customer_call]);
    assert_eq!(sipfrags(&net, CUSTOMER).last().map(String::as_str), Some("SIP/2.0 486 Busy Here"));
}

/// An INVITE to the expert whose Replaces the SBC rewrites.
fn invite_with_replaces(net: &mut Net, replaces: String) -> CallId {
    net.rule(move |_from, to, m| {
        if let (End::Ua(EXPERT), Message::Request(r)) = (to, m)
            && r.method == Method::Invite
            && r.headers.to().is_ok_and(|t| t.tag().is_none())
        {
            r.headers.set(HeaderName::Replaces, replaces.clone());
        }
        Verdict::Pass
    });
    let expert: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(CUSTOMER, |ua, now| ua.dial(now, expert, sdp("customer", 1, "sendrecv"))).expect("dial")
}

#[test]
fn invite_with_replaces_for_an_unknown_dialog_gets_481() {
    let mut net = net_with(|_| {});
    net.register_all();
    let c = invite_with_replaces(&mut net, "no-such-call;to-tag=a;from-tag=b".into());
    let e = net.wait_for(CUSTOMER, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: c, reason: EndReason::Failed, status: Some(481) });
    assert!(!net.saw(EXPERT, |e| matches!(e, Event::IncomingCall { .. })), "the expert is not disturbed");
}

#[test]
fn invite_with_replaces_early_only_for_a_confirmed_dialog_gets_486() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (agent_call, _) = call(&mut net, AGENT, EXPERT);
    let d = net.ua(AGENT).call(agent_call).and_then(|c| c.dialog).expect("dialog");
    let replaces = format!("{};to-tag={};from-tag={};early-only", d.call_id, d.remote_tag, d.local_tag);
    let c = invite_with_replaces(&mut net, replaces);
    let e = net.wait_for(CUSTOMER, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(e, Event::Ended { call: c, reason: EndReason::Busy, status: Some(486) });
    net.settle();
    assert_eq!(net.ua(EXPERT).calls().len(), 1, "the matched dialog is left alone");
}

#[test]
fn invite_with_replaces_takes_over_a_confirmed_call_as_transfer_target() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (agent_call, expert_call) = call(&mut net, AGENT, EXPERT);
    let d = net.ua(AGENT).call(agent_call).and_then(|c| c.dialog).expect("dialog");
    let replaces = format!("{};to-tag={};from-tag={}", d.call_id, d.remote_tag, d.local_tag);
    let c = invite_with_replaces(&mut net, replaces);
    let (new_call, info) = expert_answers(&mut net);
    assert_eq!(info.replaces, Some(expert_call));
    assert!(
        !net.sent_responses(EXPERT, 180).iter().any(|r| r.headers.cseq().is_ok_and(|s| s.method == Method::Invite)
            && r.headers.get(&HeaderName::Replaces).is_some())
    );
    net.wait_for(EXPERT, "Ended", |e| {
        *e == Event::Ended { call: expert_call, reason: EndReason::Replaced, status: None }
    });
    net.wait_for(AGENT, "Ended", |e| {
        *e == Event::Ended { call: agent_call, reason: EndReason::RemoteHangup, status: None }
    });
    net.settle();
    assert!(net.ua(AGENT).calls().is_empty());
    let (x, cc) = (only_call(&mut net, EXPERT), only_call(&mut net, CUSTOMER));
    assert_eq!((x.id, cc.id), (new_call, c));
    assert_same_dialog(&x, &cc);
}

#[test]
fn a_second_transfer_waits_for_the_first() {
    let mut net = net_with(|_| {});
    net.register_all();
    let (_c, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let expert: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, expert.clone())).expect("REFER");
    assert_eq!(
        net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, expert)),
        Err(warmline_sip::ua::Error::TransferInProgress(agent_call))
    );
}

#[test]
fn replaces_for_an_early_dialog_follows_rfc_3891_section_3() {
    // Here the customer rings the agent, and the expert sends INVITEs with
    // Replaces naming that early dialog: at the agent (its UAS) 481, at the
    // customer (its UAC) accepted, the early call then cancelled.
    let mut net = net_with(|_| {});
    net.register_all();
    let agent: warmline_sip::Uri = "sip:agent@example.com".parse().expect("uri");
    let ringing = net.act(CUSTOMER, |ua, now| ua.dial(now, agent, sdp("customer", 1, "sendrecv"))).expect("dial");
    net.wait_for(CUSTOMER, "Ringing", |e| *e == Event::Ringing { call: ringing });
    let d = net.ua(CUSTOMER).call(ringing).and_then(|c| c.dialog).expect("an early dialog");
    let at_agent = format!("{};to-tag={};from-tag={}", d.call_id, d.remote_tag, d.local_tag);
    let at_customer = format!("{};to-tag={};from-tag={}", d.call_id, d.local_tag, d.remote_tag);
    net.rule(move |_from, to, m| {
        if let Message::Request(r) = m
            && r.method == Method::Invite
            && r.headers.from().is_ok_and(|f| f.uri.to_string() == "sip:expert@example.com")
        {
            let value = if to == End::Ua(AGENT) { &at_agent } else { &at_customer };
            r.headers.set(HeaderName::Replaces, value.clone());
        }
        Verdict::Pass
    });

    let agent: warmline_sip::Uri = "sip:agent@example.com".parse().expect("uri");
    let refused = net.act(EXPERT, |ua, now| ua.dial(now, agent, sdp("expert", 1, "sendrecv"))).expect("dial");
    let e = net.wait_for(EXPERT, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert_eq!(
        e,
        Event::Ended { call: refused, reason: EndReason::Failed, status: Some(481) },
        "not the agent's to give"
    );

    let customer: warmline_sip::Uri = "sip:customer@example.com".parse().expect("uri");
    let pickup = net.act(EXPERT, |ua, now| ua.dial(now, customer, sdp("expert", 1, "sendrecv"))).expect("dial");
    let Event::IncomingCall { call, info } =
        net.wait_for(CUSTOMER, "IncomingCall", |e| matches!(e, Event::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert_eq!(info.replaces, Some(ringing));
    let Event::OfferReceived { sdp: offer, .. } =
        net.wait_for(CUSTOMER, "OfferReceived", |e| matches!(e, Event::OfferReceived { call: c, .. } if *c == call))
    else {
        unreachable!()
    };
    net.act(CUSTOMER, |ua, now| ua.answer(now, call, answer_to("customer", &offer))).expect("answer");
    net.wait_for(CUSTOMER, "Ended", |e| {
        *e == Event::Ended { call: ringing, reason: EndReason::Replaced, status: None }
    });
    net.wait_for(AGENT, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteCancelled, .. }));
    net.wait_for(EXPERT, "Connected", |e| *e == Event::Connected { call: pickup });
    net.settle();
    assert_eq!(net.sent_requests(CUSTOMER, &Method::Cancel).len(), 1, "the early call is cancelled, not BYEd");
    assert!(net.ua(AGENT).calls().is_empty());
    let (c, x) = (only_call(&mut net, CUSTOMER), only_call(&mut net, EXPERT));
    assert_same_dialog(&c, &x);
}

#[test]
fn a_refer_the_application_refuses_is_answered_403_and_no_call_is_made() {
    let mut net = net_with(|c| c.refer_policy = ReferPolicy::Ask);
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let premium: warmline_sip::Uri = "sip:+19005550100@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, premium)).expect("REFER");
    let e = net.wait_for(CUSTOMER, "TransferAsked", |e| matches!(e, Event::TransferAsked { .. }));
    let Event::TransferAsked { call, target, attended } = e else { unreachable!() };
    assert_eq!((call, target.to_string(), attended), (customer_call, "sip:+19005550100@example.com".into(), false));
    assert!(net.ua(CUSTOMER).calls().len() == 1, "nothing is dialled before the application decides");
    net.act(CUSTOMER, |ua, now| ua.refuse_transfer(now, customer_call, 403)).expect("refuse");
    let e = net.wait_for(AGENT, "Refused", |e| matches!(e, Event::Transfer { .. }));
    assert_eq!(e, Event::Transfer { call: agent_call, progress: TransferProgress::Refused { status: 403 } });
    net.settle();
    assert!(!net.saw(CUSTOMER, |e| matches!(e, Event::TransferRequested { .. })));
    assert_eq!(net.ua(CUSTOMER).calls().len(), 1, "the customer still has its one call");
    assert!(net.act(CUSTOMER, |ua, now| ua.accept_transfer(now, customer_call)).is_err(), "answered once");
}

#[test]
fn a_refer_the_application_accepts_goes_on_as_with_the_accept_policy() {
    let mut net = net_with(|c| c.refer_policy = ReferPolicy::Ask);
    net.register_all();
    let (customer_call, agent_call) = call(&mut net, CUSTOMER, AGENT);
    let expert: warmline_sip::Uri = "sip:expert@example.com".parse().expect("uri");
    net.act(AGENT, |ua, now| ua.transfer_blind(now, agent_call, expert)).expect("REFER");
    net.wait_for(CUSTOMER, "TransferAsked", |e| matches!(e, Event::TransferAsked { .. }));
    net.act(CUSTOMER, |ua, now| ua.accept_transfer(now, customer_call)).expect("accept");
    let e = net.wait_for(CUSTOMER, "TransferRequested", |e| matches!(e, Event::TransferRequested { .. }));
    let Event::TransferRequested { new_call, .. } = e else { unreachable!() };
    let e = net.wait_for(CUSTOMER, "OfferNeeded", |e| matches!(e, Event::OfferNeeded { .. }));
    assert_eq!(e, Event::OfferNeeded { call: new_call });
    assert!(sipfrags(&net, CUSTOMER).first().is_some_and(|f| f.starts_with("SIP/2.0 100")), "NOTIFY 100 follows");
}
