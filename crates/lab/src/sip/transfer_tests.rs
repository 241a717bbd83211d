//! Experts behind Direct Routing and transfers through the B2BUA, on
//! simulated time with real user agents (the Sim of `tests.rs`): the
//! expert's answering logic is the lab's own [`crate::expert::ExpertPhone`],
//! media descriptions are stand-ins.

use std::time::Duration;

use warmline_sip::ua::{EndReason, Event, TransferProgress};
use warmline_sip::{HeaderName, Message, Method, Request, parse};

use super::tests::{EXPERT, Sim, offer};
use super::{Input, SipEvent};
use crate::expert::{ExpertCallState, PhoneEvent};
use crate::scenario::Answer;

fn expert_uri() -> warmline_sip::Uri {
    format!("sip:{EXPERT}@example.com").parse().expect("uri")
}

/// Requests a node received, in order.
fn requests(sim: &Sim, i: usize) -> Vec<Request> {
    sim.nodes[i]
        .heard
        .iter()
        .filter_map(|b| parse(b).ok())
        .filter_map(|m| match m {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        })
        .collect()
}

/// The sipfrag status and Subscription-State of each NOTIFY node `i` got.
fn notifies(sim: &Sim, i: usize) -> Vec<(u16, String)> {
    requests(sim, i)
        .into_iter()
        .filter(|r| r.method == Method::Notify)
        .map(|r| {
            let line = String::from_utf8_lossy(&r.body).into_owned();
            let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            (status, r.headers.get(&HeaderName::SubscriptionState).unwrap_or_default().to_owned())
        })
        .collect()
}

fn states(sim: &Sim, i: usize) -> Vec<ExpertCallState> {
    sim.nodes[i]
        .phone_events
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

/// An agent (1001) talking to a customer routed to it; returns
/// (agent, customer, agent's call, customer's call).
fn bridged(sim: &mut Sim) -> (usize, usize, warmline_sip::ua::CallId, warmline_sip::ua::CallId) {
    let agent = sim.agent("1001");
    sim.available(agent);
    let customer = sim.customer("+442079460018");
    let theirs = sim.dial(customer, "billing");
    let (call, _) = sim.incoming(agent);
    sim.answer(agent, call);
    sim.wait(customer, "Connected", |e| matches!(e, Event::Connected { call } if *call == theirs));
    (agent, customer, call, theirs)
}

#[test]
fn an_expert_answers_after_its_delay_with_180_then_200() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(3.0));
    let agent = sim.agent("1001");
    let start = sim.now;
    let now = sim.now;
    let ours = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    sim.wait(agent, "Ringing", |e| matches!(e, Event::Ringing { call } if *call == ours));
    assert!(sim.now - start < Duration::from_secs(1), "180 comes at once");
    sim.wait(agent, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
    assert!(sim.now - start >= Duration::from_secs(3), "the 200 comes after the expert's 3 s");
    let answer = sim.nodes[agent].events.iter().find_map(|e| match e {
        Event::AnswerReceived { sdp, .. } => Some(sdp.clone()),
        _ => None,
    });
    assert_eq!(answer, Some(offer("expert-answer")), "the expert's SDP reaches the agent through the B2BUA");
    let invite = requests(&sim, expert).into_iter().find(|r| r.method == Method::Invite).expect("an INVITE");
    assert_eq!(invite.body, offer("agent"), "the agent's offer reaches the expert unchanged");
    assert!(invite.headers.call_id().is_ok_and(|c| c.ends_with("@lab.invalid")), "a B2BUA leg, not proxied");
    assert_eq!(states(&sim, expert), [ExpertCallState::Ringing, ExpertCallState::Answered]);
    let now = sim.now;
    sim.nodes[agent].ua.hangup(now, ours).expect("hang up");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteHangup, .. }));
    assert_eq!(states(&sim, expert).last(), Some(&ExpertCallState::Ended));
}

#[test]
fn a_declining_expert_answers_603() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::Decline);
    let agent = sim.agent("1001");
    let now = sim.now;
    sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    let e = sim.wait(agent, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert!(matches!(e, Event::Ended { reason: EndReason::Declined, status: Some(603), .. }), "{e:?}");
    assert_eq!(states(&sim, expert), [ExpertCallState::Declined]);
}

#[test]
fn a_busy_expert_and_an_expert_on_a_call_answer_486() {
    let mut sim = Sim::new();
    let busy = sim.expert("+442079460102", Answer::Busy);
    let agent = sim.agent("1001");
    let now = sim.now;
    let to_busy = "sip:+442079460102@example.com".parse().expect("uri");
    sim.nodes[agent].ua.dial(now, to_busy, offer("agent")).expect("dial");
    let e = sim.wait(agent, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert!(matches!(e, Event::Ended { status: Some(486), .. }), "set busy: {e:?}");
    assert_eq!(states(&sim, busy), [ExpertCallState::Busy]);

    let expert = sim.expert(EXPERT, Answer::AfterSecs(0.0));
    let now = sim.now;
    let first = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    sim.wait(agent, "Connected", |e| matches!(e, Event::Connected { call } if *call == first));
    let other = sim.agent("1002");
    let now = sim.now;
    sim.nodes[other].ua.dial(now, expert_uri(), offer("agent-2")).expect("dial");
    let e = sim.wait(other, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert!(matches!(e, Event::Ended { reason: EndReason::Busy, status: Some(486), .. }), "on a call: {e:?}");
    assert_eq!(states(&sim, expert), [ExpertCallState::Ringing, ExpertCallState::Answered, ExpertCallState::Busy]);
}

#[test]
fn an_expert_who_never_answers_rings_until_the_caller_cancels() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::Never);
    let agent = sim.agent("1001");
    let now = sim.now;
    let ours = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    sim.wait(agent, "Ringing", |e| matches!(e, Event::Ringing { call } if *call == ours));
    sim.run_for(Duration::from_secs(300));
    assert!(
        !sim.nodes[agent].events.iter().any(|e| matches!(e, Event::Ended { .. })),
        "no ring timeout for a Direct Routing call: {:?}",
        sim.nodes[agent].events
    );
    let now = sim.now;
    sim.nodes[agent].ua.hangup(now, ours).expect("cancel");
    let e = sim.wait(agent, "Ended", |e| matches!(e, Event::Ended { .. }));
    assert!(matches!(e, Event::Ended { reason: EndReason::Cancelled, .. }), "{e:?}");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteCancelled, .. }));
    assert_eq!(states(&sim, expert), [ExpertCallState::Ringing, ExpertCallState::Ended]);
}

#[test]
fn invite_with_replaces_to_an_expert_is_refused_as_direct_routing_does() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(0.0));
    let agent = sim.agent("1001");
    let sdp = String::from_utf8(offer("agent")).expect("utf-8");
    let invite = format!(
        "INVITE sip:{EXPERT}@example.com SIP/2.0\r\nVia: SIP/2.0/WSS node1.invalid;branch=z9hG4bKrepl1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@example.com>;tag=r1\r\nTo: <sip:{EXPERT}@example.com>\r\n\
         Call-ID: replaces-1\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@node1.invalid;transport=ws>\r\n\
         Replaces: consult-1;to-tag=a;from-tag=b\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let before = sim.nodes[agent].heard.len();
    let conn = sim.nodes[agent].conn;
    let now = sim.now;
    sim.core.handle_input(now, Input::Frame { conn, bytes: invite.as_bytes() });
    sim.run_for(Duration::from_secs(1));
    let status = sim.nodes[agent].heard[before..].iter().filter_map(|b| parse(b).ok()).find_map(|m| match m {
        Message::Response(r) if r.headers.call_id().is_ok_and(|c| c == "replaces-1") => Some(r.status),
        _ => None,
    });
    assert_eq!(status, Some(super::REPLACES_REFUSED), "Direct Routing rejects requests with Replaces");
    assert!(requests(&sim, expert).iter().all(|r| r.method != Method::Invite), "the expert never sees it");
}

#[test]
fn blind_transfer_notifies_100_then_200_and_the_caller_talks_to_the_expert() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(2.0));
    let (agent, customer, call, theirs) = bridged(&mut sim);
    let now = sim.now;
    sim.nodes[agent].ua.transfer_blind(now, call, expert_uri()).expect("REFER");
    sim.wait(agent, "Accepted", |e| matches!(e, Event::Transfer { progress: TransferProgress::Accepted, .. }));
    sim.wait(agent, "Succeeded", |e| matches!(e, Event::Transfer { progress: TransferProgress::Succeeded, .. }));
    sim.wait(
        agent,
        "Ended",
        |e| matches!(e, Event::Ended { call: c, reason: EndReason::Transferred, .. } if *c == call),
    );
    let n = notifies(&sim, agent);
    assert_eq!(n.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [100, 200], "{n:?}");
    assert!(n[0].1.starts_with("active") && n[1].1.starts_with("terminated"), "{n:?}");
    // The expert got an INVITE without SDP and offered; the customer was
    // re-INVITEd with that offer, and its answer went in the ACK.
    let invite = requests(&sim, expert).into_iter().find(|r| r.method == Method::Invite).expect("INVITE");
    assert!(invite.body.is_empty(), "an offer-less INVITE to the expert");
    assert!(invite.headers.get(&HeaderName::Replaces).is_none());
    assert!(invite.headers.get(&HeaderName::PAssertedIdentity).is_some_and(|v| v.contains("+442079460018")));
    let reoffer = sim.nodes[customer].events.iter().find_map(|e| match e {
        Event::OfferReceived { sdp, .. } => Some(sdp.clone()),
        _ => None,
    });
    assert_eq!(reoffer, Some(offer("expert-offer")), "the customer gets the expert's offer");
    let answer = sim.nodes[expert].events.iter().find_map(|e| match e {
        Event::AnswerReceived { sdp, .. } => Some(sdp.clone()),
        _ => None,
    });
    assert_eq!(answer, Some(offer("customer-answer-2")), "the expert gets the customer's answer in the ACK");
    sim.wait_core("Transferred", |e| matches!(e, SipEvent::Transferred { kind, .. } if kind == "blind"));
    // The agent's BYE was answered; the customer's call goes on.
    assert!(!sim.nodes[customer].events.iter().any(|e| matches!(e, Event::Ended { .. })));
    let now = sim.now;
    sim.nodes[customer].ua.hangup(now, theirs).expect("hang up");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteHangup, .. }));
    assert!(sim.core.is_available("1001"), "the agent takes calls again");
}

#[test]
fn a_declined_blind_transfer_notifies_603_and_the_caller_stays_with_the_agent() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::Decline);
    let (agent, customer, call, _) = bridged(&mut sim);
    assert!(states(&sim, expert).is_empty());
    let now = sim.now;
    sim.nodes[agent].ua.transfer_blind(now, call, expert_uri()).expect("REFER");
    let e =
        sim.wait(agent, "Failed", |e| matches!(e, Event::Transfer { progress: TransferProgress::Failed { .. }, .. }));
    assert!(matches!(e, Event::Transfer { progress: TransferProgress::Failed { status: 603 }, .. }), "{e:?}");
    let n = notifies(&sim, agent);
    assert_eq!(n.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [100, 603], "{n:?}");
    assert!(n[1].1.starts_with("terminated"));
    sim.wait_core("TransferFailed", |e| matches!(e, SipEvent::TransferFailed { status: 603, .. }));
    assert!(
        !sim.nodes[customer].events.iter().any(|e| matches!(e, Event::OfferReceived { .. })),
        "the customer is not touched before the expert answers"
    );
    // Still bridged: the agent hangs up and the customer's call ends.
    let now = sim.now;
    sim.nodes[agent].ua.hangup(now, call).expect("hang up");
    sim.wait(customer, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteHangup, .. }));
}

#[test]
fn attended_transfer_joins_the_caller_to_the_consulted_expert_without_replaces() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(1.0));
    let (agent, customer, call, theirs) = bridged(&mut sim);
    let now = sim.now;
    let consult = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent-consult")).expect("consult");
    sim.wait(agent, "consult Connected", |e| matches!(e, Event::Connected { call } if *call == consult));
    let now = sim.now;
    sim.nodes[agent].ua.transfer_attended(now, call, consult).expect("REFER with Replaces");
    sim.wait(agent, "Succeeded", |e| matches!(e, Event::Transfer { progress: TransferProgress::Succeeded, .. }));
    // Both agent legs end, in whichever order the BYEs cross.
    sim.run_for(Duration::from_secs(1));
    for (leg, what) in [(call, "the customer leg"), (consult, "the consultation leg")] {
        assert!(
            sim.nodes[agent].events.iter().any(|e| matches!(e, Event::Ended { call: c, .. } if *c == leg)),
            "{what} ends at the agent: {:?}",
            sim.nodes[agent].events
        );
    }
    let n = notifies(&sim, agent);
    assert_eq!(n.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [100, 200], "{n:?}");
    let byes = requests(&sim, agent).into_iter().filter(|r| r.method == Method::Bye).count();
    assert_eq!(byes, 1, "the lab ends the consultation leg with BYE (the agent BYEs the other)");
    let to_expert = requests(&sim, expert);
    assert!(
        to_expert.iter().all(|r| r.headers.get(&HeaderName::Replaces).is_none()),
        "no INVITE with Replaces ever reaches the expert"
    );
    assert_eq!(to_expert.iter().filter(|r| r.method == Method::Invite).count(), 2, "the consult and one re-INVITE");
    assert!(to_expert.iter().all(|r| r.method != Method::Bye), "the expert's leg is kept, not ended");
    let reoffer = sim.nodes[customer].events.iter().find_map(|e| match e {
        Event::OfferReceived { sdp, .. } => Some(sdp.clone()),
        _ => None,
    });
    assert_eq!(reoffer, Some(offer("expert-offer-2")), "the customer gets the expert's fresh offer");
    let answers: Vec<Vec<u8>> = sim.nodes[expert]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::AnswerReceived { sdp, .. } => Some(sdp.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(answers, [offer("customer-answer-2")], "the customer's answer reaches the expert in the ACK");
    sim.wait_core("Transferred", |e| matches!(e, SipEvent::Transferred { kind, .. } if kind == "attended"));
    let now = sim.now;
    sim.nodes[customer].ua.hangup(now, theirs).expect("hang up");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteHangup, .. }));
}

#[test]
fn a_transfer_to_no_expert_fails_with_a_single_final_notify() {
    let mut sim = Sim::new();
    let (agent, _, call, _) = bridged(&mut sim);
    let now = sim.now;
    let nobody = "sip:+449999999999@example.com".parse().expect("uri");
    sim.nodes[agent].ua.transfer_blind(now, call, nobody).expect("REFER");
    let e =
        sim.wait(agent, "Failed", |e| matches!(e, Event::Transfer { progress: TransferProgress::Failed { .. }, .. }));
    assert!(matches!(e, Event::Transfer { progress: TransferProgress::Failed { status: 404 }, .. }), "{e:?}");
    let n = notifies(&sim, agent);
    assert_eq!(n.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [404], "no 100 that could cross the final NOTIFY");
    assert!(!sim.nodes[agent].events.iter().any(|e| matches!(e, Event::Ended { .. })), "the call goes on");
}

#[test]
fn a_blind_transfer_nobody_answers_is_cancelled_at_the_ring_timeout_and_notified_487() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::Never);
    let (agent, customer, call, _) = bridged(&mut sim);
    let now = sim.now;
    let start = now;
    sim.nodes[agent].ua.transfer_blind(now, call, expert_uri()).expect("REFER");
    let e =
        sim.wait(agent, "Failed", |e| matches!(e, Event::Transfer { progress: TransferProgress::Failed { .. }, .. }));
    assert!(matches!(e, Event::Transfer { progress: TransferProgress::Failed { status: 487 }, .. }), "{e:?}");
    assert!(sim.now - start >= Duration::from_secs(20), "it rang for the ring timeout");
    let n = notifies(&sim, agent);
    assert_eq!(n.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [100, 487], "{n:?}");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteCancelled, .. }));
    assert!(!sim.nodes[customer].events.iter().any(|e| matches!(e, Event::Ended { .. } | Event::OfferReceived { .. })));
}

#[test]
fn an_answer_delay_that_is_not_a_number_answers_at_once_without_panic() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(f64::NAN));
    let agent = sim.agent("1001");
    let now = sim.now;
    let ours = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    sim.wait(agent, "Connected", |e| matches!(e, Event::Connected { call } if *call == ours));
    assert_eq!(states(&sim, expert), [ExpertCallState::Ringing, ExpertCallState::Answered]);
}

#[test]
fn an_expert_whose_call_ended_unseen_by_its_phone_takes_the_next_call() {
    let mut sim = Sim::new();
    let expert = sim.expert(EXPERT, Answer::AfterSecs(0.0));
    let agent = sim.agent("1001");
    let now = sim.now;
    let first = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent")).expect("dial");
    sim.wait(agent, "Connected", |e| matches!(e, Event::Connected { call } if *call == first));
    // The call ends without the phone hearing of it (an event it missed):
    // its user agent has no call left.
    let phone = sim.nodes[expert].phone.take();
    let now = sim.now;
    sim.nodes[agent].ua.hangup(now, first).expect("hang up");
    sim.wait(expert, "Ended", |e| matches!(e, Event::Ended { reason: EndReason::RemoteHangup, .. }));
    sim.nodes[expert].phone = phone;
    let now = sim.now;
    let second = sim.nodes[agent].ua.dial(now, expert_uri(), offer("agent-2")).expect("dial");
    let e = sim.wait(
        agent,
        "Connected or Ended",
        |e| matches!(e, Event::Connected { call } | Event::Ended { call, .. } if *call == second),
    );
    assert!(matches!(e, Event::Connected { .. }), "not busy with a call that is over: {e:?}");
    assert_eq!(
        states(&sim, expert),
        [ExpertCallState::Ringing, ExpertCallState::Answered, ExpertCallState::Ringing, ExpertCallState::Answered]
    );
}
