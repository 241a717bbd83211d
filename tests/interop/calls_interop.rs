//! Calls between three Warmline agents registered over WebSocket with
//! Kamailio: a call with hold and resume both ways, a blind transfer and an
//! attended transfer (REFER with Replaces), each hung up at the end, with
//! canned SDP. Kamailio record-routes and loose-routes everything in dialog,
//! so every re-INVITE, REFER, NOTIFY and BYE here crossed it.
//!
//! The cast: alice is the agent, bob the customer, carol the expert.

use warmline_sip::ua::{CallId, EndReason, Event, TransferProgress};

use crate::agent::aor;
use crate::kamailio::Kamailio;
use crate::party::Party;

/// bob calls alice and alice answers; returns (bob's call, alice's call).
async fn customer_calls_agent(bob: &mut Party, alice: &mut Party) -> (CallId, CallId) {
    let b_call = bob.with(|a, now| a.dial(now, aor("alice"))).await;
    let (a_call, info) = alice.incoming().await;
    assert!(info.has_offer, "bob's INVITE carried SDP");
    alice.with(move |a, now| a.answer(now, a_call)).await;
    alice.connected(a_call).await;
    bob.connected(b_call).await;
    (b_call, a_call)
}

/// `from` calls `to`'s address of record and `to` answers.
async fn call(from: &mut Party, to: &mut Party) -> (CallId, CallId) {
    let target = aor(to.user);
    let f_call = from.with(move |a, now| a.dial(now, target)).await;
    let (t_call, _) = to.incoming().await;
    to.with(move |a, now| a.answer(now, t_call)).await;
    to.connected(t_call).await;
    from.connected(f_call).await;
    (f_call, t_call)
}

/// Accepts the event of `kind` (see [`matches_call`]) for `call`.
fn on(kind: &'static str, call: CallId) -> impl FnMut(&Event) -> Option<()> {
    move |e| (matches_call(e, kind) == Some(call)).then_some(())
}

#[tokio::test]
async fn a_call_through_kamailio_holds_and_resumes_both_ways_then_hangs_up() {
    let kamailio = Kamailio::start("call_hold_resume");
    let mut alice = Party::registered(&kamailio, "alice", 0xa1).await;
    let mut bob = Party::registered(&kamailio, "bob", 0xb0).await;
    let (b_call, a_call) = customer_calls_agent(&mut bob, &mut alice).await;

    // alice holds bob (re-INVITE with sendonly), then resumes.
    alice.with(move |a, now| a.hold(now, a_call)).await;
    alice.wait("alice's hold accepted", on("Held", a_call)).await;
    bob.wait("bob held by alice", on("RemoteHeld", b_call)).await;
    assert!(alice.with(move |a, _| a.ua.call(a_call).is_some_and(|c| c.local_hold)).await);
    alice.with(move |a, now| a.resume(now, a_call)).await;
    alice.wait("alice's resume accepted", on("Resumed", a_call)).await;
    bob.wait("bob resumed by alice", on("RemoteResumed", b_call)).await;

    // And the other way: bob holds alice, then resumes.
    bob.with(move |a, now| a.hold(now, b_call)).await;
    bob.wait("bob's hold accepted", on("Held", b_call)).await;
    alice.wait("alice held by bob", on("RemoteHeld", a_call)).await;
    bob.with(move |a, now| a.resume(now, b_call)).await;
    bob.wait("bob's resume accepted", on("Resumed", b_call)).await;
    alice.wait("alice resumed by bob", on("RemoteResumed", a_call)).await;

    bob.with(move |a, now| a.hangup(now, b_call)).await;
    assert_eq!(bob.ended(b_call).await, EndReason::LocalHangup);
    assert_eq!(alice.ended(a_call).await, EndReason::RemoteHangup, "bob's BYE reached alice through Kamailio");
    assert!(alice.calls().await.is_empty() && bob.calls().await.is_empty(), "no dialog left");
    assert_routed(&kamailio, &["ACK", "INVITE", "BYE"]);
    alice.shut_down().await;
    bob.shut_down().await;
}

#[tokio::test]
async fn a_blind_transfer_through_kamailio_connects_the_customer_to_the_expert() {
    let kamailio = Kamailio::start("blind_transfer");
    let mut alice = Party::registered(&kamailio, "alice", 0xa2).await;
    let mut bob = Party::registered(&kamailio, "bob", 0xb2).await;
    let mut carol = Party::registered(&kamailio, "carol", 0xc2).await;
    let (b_call, a_call) = customer_calls_agent(&mut bob, &mut alice).await;

    alice.with(move |a, now| a.transfer_blind(now, a_call, aor("carol"))).await;
    let (new_call, attended) = bob
        .wait("bob asked to call carol", |e| match e {
            Event::TransferRequested { call, new_call, target, attended } if *call == b_call => {
                assert_eq!(*target, aor("carol"));
                Some((*new_call, *attended))
            }
            _ => None,
        })
        .await;
    assert!(!attended);
    let (c_call, info) = carol.incoming().await;
    assert!(
        info.referred_by.as_deref().is_some_and(|r| r.contains("sip:alice@warmline.test")),
        "Referred-By names alice: {:?}",
        info.referred_by
    );
    carol.with(move |a, now| a.answer(now, c_call)).await;
    carol.connected(c_call).await;
    bob.connected(new_call).await;

    alice
        .wait("the transfer to succeed", |e| match e {
            Event::Transfer { call, progress: TransferProgress::Succeeded } if *call == a_call => Some(()),
            Event::Transfer {
                progress: TransferProgress::Failed { status } | TransferProgress::Refused { status },
                ..
            } => {
                panic!("transfer failed with {status}")
            }
            _ => None,
        })
        .await;
    assert_eq!(alice.ended(a_call).await, EndReason::Transferred, "alice leaves with BYE after the NOTIFY 200");
    bob.ended(b_call).await;
    assert!(alice.calls().await.is_empty(), "alice has no call left");
    assert_eq!(bob.calls().await, [new_call], "bob keeps only the call to carol");
    assert_eq!(carol.calls().await, [c_call]);

    bob.with(move |a, now| a.hangup(now, new_call)).await;
    assert_eq!(carol.ended(c_call).await, EndReason::RemoteHangup);
    assert_eq!(bob.ended(new_call).await, EndReason::LocalHangup);
    assert_routed(&kamailio, &["REFER", "NOTIFY", "BYE"]);
    for p in [alice, bob, carol] {
        p.shut_down().await;
    }
}

#[tokio::test]
async fn an_attended_transfer_through_kamailio_replaces_the_consultation_call() {
    let kamailio = Kamailio::start("attended_transfer");
    let mut alice = Party::registered(&kamailio, "alice", 0xa3).await;
    let mut bob = Party::registered(&kamailio, "bob", 0xb3).await;
    let mut carol = Party::registered(&kamailio, "carol", 0xc3).await;
    let (b_call, a_call) = customer_calls_agent(&mut bob, &mut alice).await;

    // alice puts bob on hold and consults carol.
    alice.with(move |a, now| a.hold(now, a_call)).await;
    alice.wait("bob on hold", on("Held", a_call)).await;
    bob.wait("bob hears hold", on("RemoteHeld", b_call)).await;
    let (consult, carol_consult) = call(&mut alice, &mut carol).await;

    // REFER to bob with Refer-To: carol?Replaces=<alice-carol dialog>.
    alice.with(move |a, now| a.transfer_attended(now, a_call, consult)).await;
    let new_call = bob
        .wait("bob asked to replace the consultation", |e| match e {
            Event::TransferRequested { call, new_call, attended: true, .. } if *call == b_call => Some(*new_call),
            Event::TransferRequested { attended: false, .. } => panic!("the REFER lost its Replaces"),
            _ => None,
        })
        .await;
    let (replacing, info) = carol.incoming().await;
    assert_eq!(info.replaces, Some(carol_consult), "bob's INVITE names the alice-carol dialog in Replaces");
    carol.with(move |a, now| a.answer(now, replacing)).await;
    carol.connected(replacing).await;
    assert_eq!(carol.ended(carol_consult).await, EndReason::Replaced);
    alice.ended(consult).await;
    bob.connected(new_call).await;
    alice
        .wait("the transfer to succeed", |e| match e {
            Event::Transfer { call, progress: TransferProgress::Succeeded } if *call == a_call => Some(()),
            Event::Transfer {
                progress: TransferProgress::Failed { status } | TransferProgress::Refused { status },
                ..
            } => {
                panic!("transfer failed with {status}")
            }
            _ => None,
        })
        .await;
    assert_eq!(alice.ended(a_call).await, EndReason::Transferred);
    bob.ended(b_call).await;
    assert!(alice.calls().await.is_empty(), "alice is out of both calls");
    assert_eq!(bob.calls().await, [new_call]);
    assert_eq!(carol.calls().await, [replacing]);

    carol.with(move |a, now| a.hangup(now, replacing)).await;
    assert_eq!(bob.ended(new_call).await, EndReason::RemoteHangup);
    carol.ended(replacing).await;
    assert_routed(&kamailio, &["INVITE", "REFER", "NOTIFY", "BYE"]);
    for p in [alice, bob, carol] {
        p.shut_down().await;
    }
}

/// Every method in `methods` crossed Kamailio inside a dialog (its
/// Record-Route was honoured).
fn assert_routed(kamailio: &Kamailio, methods: &[&str]) {
    let routed = kamailio.loose_routed();
    for m in methods {
        assert!(routed.iter().any(|r| r == m), "no in-dialog {m} went through Kamailio: {routed:?}");
    }
}

/// The call an event of kind `kind` names (Held, Resumed, RemoteHeld,
/// RemoteResumed), if it is that kind.
fn matches_call(event: &Event, kind: &str) -> Option<CallId> {
    match (kind, event) {
        ("Held", Event::Held { call })
        | ("Resumed", Event::Resumed { call })
        | ("RemoteHeld", Event::RemoteHeld { call })
        | ("RemoteResumed", Event::RemoteResumed { call }) => Some(*call),
        _ => None,
    }
}
