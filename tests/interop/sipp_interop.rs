//! Calls between a Warmline agent (WebSocket) and sipp (UDP) through
//! Kamailio, with canned SDP on both sides: sipp calls the agent, and the
//! agent calls sipp. The scenarios are in `tests/interop/sipp/`.

use warmline_sip::ua::{EndReason, Event};

use crate::agent::uri;
use crate::kamailio::Kamailio;
use crate::party::Party;
use crate::sipp::Sipp;

#[tokio::test]
async fn sipp_over_udp_calls_a_websocket_agent_through_kamailio() {
    let kamailio = Kamailio::start("sipp_calls_agent");
    let mut alice = Party::registered(&kamailio, "alice", 0x5a).await;
    let sipp = Sipp::call_agent("sipp_calls_agent", &kamailio, "alice");

    let (call, info) = alice.incoming().await;
    assert!(info.has_offer, "sipp's INVITE carries SDP");
    assert!(
        info.data.fields.iter().any(|(name, value)| name.eq_ignore_ascii_case("X-Queue") && value == "billing"),
        "the queue from sipp's X-Queue header: {:?}",
        info.data.fields
    );
    let caller = info.data.caller.uri.to_string();
    assert!(caller.starts_with("sip:+15550100@"), "the caller from From: {caller}");
    alice.with(move |a, now| a.answer(now, call)).await;
    alice.connected(call).await;
    // sipp sends ACK, waits half a second and hangs up.
    assert_eq!(alice.ended(call).await, EndReason::RemoteHangup);
    sipp.expect_success().await;
    alice.shut_down().await;
}

#[tokio::test]
async fn a_websocket_agent_calls_sipp_over_udp_through_kamailio() {
    let kamailio = Kamailio::start("agent_calls_sipp");
    let mut alice = Party::registered(&kamailio, "alice", 0x5b).await;
    let sipp = Sipp::answer_one("agent_calls_sipp").await;

    // Not Kamailio's domain: it relays the INVITE to sipp as addressed.
    let target = uri(&format!("sip:expert@127.0.0.1:{}", sipp.port));
    let call = alice.with(move |a, now| a.dial(now, target)).await;
    alice.wait("ringing", |e| matches!(e, Event::Ringing { call: c } if *c == call).then_some(())).await;
    let answer = alice
        .wait("sipp's SDP answer", |e| match e {
            Event::AnswerReceived { call: c, sdp } if *c == call => Some(sdp.clone()),
            _ => None,
        })
        .await;
    assert!(String::from_utf8_lossy(&answer).contains("m=audio "), "an SDP answer");
    alice.connected(call).await;
    alice.with(move |a, now| a.hangup(now, call)).await;
    assert_eq!(alice.ended(call).await, EndReason::LocalHangup);
    sipp.expect_success().await;
    alice.shut_down().await;
}
