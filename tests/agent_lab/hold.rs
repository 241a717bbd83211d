//! Hold against a far end that refuses the first re-offer: the agent is
//! told, the call stays as it was (both still hear each other), and the
//! second try holds the customer, who then stops hearing the agent.

use std::time::{Duration, Instant};

use warmline_agent::{AgentCommand, AgentEvent, CallState, ErrorCode};
use warmline_e2e::agent::{assert_hears, assert_not_hears, play};
use warmline_lab::customer::Reoffers;
use warmline_lab::scenario::Audio;

use super::{AGENT_HZ, CUSTOMER, CUSTOMER_HZ, MEASURED, SETTLE, SPAN, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_a_hold_the_far_end_refuses_rolls_back_and_the_second_hold_holds() {
    let mut w = World::start("refused_hold", None).await;
    let (customer, record) = w.call_answering(
        CUSTOMER,
        "billing",
        Audio::ToneHz(f64::from(CUSTOMER_HZ)),
        Some("customer-heard.wav"),
        Reoffers::Refuse { status: 488, times: 1 },
    );
    let call = w.agent.incoming().await;
    let talk_started = Instant::now();
    w.agent.command(AgentCommand::Answer { call: None }).await;
    w.agent.call_state(Some(&call), CallState::Connected).await;
    w.agent.media_flows(&call).await;
    let talk = play(&[&w.agent], SPAN).await[0];
    assert_hears(&w.agent, talk, CUSTOMER_HZ, "talk");

    w.agent.command(AgentCommand::Hold { call: None }).await;
    let refusal = w
        .agent
        .wait("the refused hold reported", |e| match e {
            AgentEvent::Error(p) if p.code == ErrorCode::OfferRefused => Some(p.message.clone()),
            _ => None,
        })
        .await;
    assert!(refusal.contains("488") && refusal.contains("hold"), "the agent reads what happened: {refusal}");
    w.agent.call_state(Some(&call), CallState::Connected).await;
    let still = play(&[&w.agent], SPAN).await[0];
    assert_hears(&w.agent, still, CUSTOMER_HZ, "after the refused hold: still talking");

    let talk_took = talk_started.elapsed();
    w.agent.command(AgentCommand::Hold { call: None }).await;
    w.agent.call_state(Some(&call), CallState::Held).await;
    let held_from = Instant::now();
    let held = play(&[&w.agent], SPAN).await[0];
    assert_not_hears(&w.agent, held, CUSTOMER_HZ, "on hold");
    let held_for = held_from.elapsed();

    let heard = w.customer_hangs_up(&customer, record.as_deref().expect("recorded")).await;
    // The customer's recording holds the frames it decoded (the agent's
    // silence to a held call is DTX: no frames). It heard the agent all
    // through the talk, the refused hold included, and not on hold.
    let windows = |d: Duration| (d.as_millis() / 20) as usize;
    let from = heard.first(AGENT_HZ, 0, 5).expect("the customer heard the agent") + SETTLE;
    let talk_to = (from + windows(talk_took)).saturating_sub(SETTLE + 10);
    heard.assert_hears(from, talk_to, AGENT_HZ, MEASURED, "talk, through the refused hold");
    let (agent_heard, max) = (heard.count(AGENT_HZ), windows(talk_took) + 10);
    assert!(
        agent_heard <= max,
        "on hold the customer heard the agent: {agent_heard} windows, more than the {max} the talk lasted \
         (the hold lasted {} windows)",
        windows(held_for)
    );
    w.agent.quit().await;
}
