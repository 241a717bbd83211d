//! Two headless agents on one lab: the ACD offers a call only to an agent
//! who is available, and among available agents to the one idle longest.

use warmline_agent::session::{AudioInput, AudioOutput, StoreSetup};
use warmline_agent::{AgentCommand, AgentEvent, CallState, ChosenState};
use warmline_e2e::agent::Agent;
use warmline_lab::LabEvent;
use warmline_lab::sip::SipEvent;

use super::{World, lab_agent};

/// Both lab agents 1001 and 1002 serve tech-support.
const QUEUE: &str = "tech-support";
const CALLER: &str = "+442079460019";

fn rang(events: &[&AgentEvent]) -> bool {
    events.iter().any(|e| matches!(e, AgentEvent::Incoming { .. }))
}

async fn routed_to(w: &mut World) -> String {
    w.lab_event("the call routed", |e| match e {
        LabEvent::Sip(SipEvent::Routed { agent, .. }) => Some(agent.clone()),
        _ => None,
    })
    .await
}

/// Answers the ringing call; returns it.
async fn answer(agent: &mut Agent) -> String {
    let call = agent.incoming().await;
    agent.command(AgentCommand::Answer { call: None }).await;
    agent.call_state(Some(&call), CallState::Connected).await;
    call
}

/// Hangs up and finishes wrap-up.
async fn hang_up(agent: &mut Agent, call: &str) {
    agent.command(AgentCommand::Hangup { call: None }).await;
    agent.ended(call).await;
    agent.command(AgentCommand::Wrapup { disposition: "resolved".into() }).await;
    agent.shows_available().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_an_away_agent_gets_no_call_and_the_longest_idle_agent_gets_the_next() {
    let mut w = World::start("routing", None).await;
    let mut config = lab_agent(&w.lab, "1002", AudioInput::Tone(700.0), AudioOutput::Discard);
    let dir = tempfile::tempdir().expect("temp dir");
    // Wrap-up takes a disposition only with a store to keep it in.
    config.store =
        Some(StoreSetup { path: dir.path().join("b.db"), encryption: warmline_store::Encryption::Plaintext });
    let mut b = Agent::start("agent 1002", config).await;
    b.choose(ChosenState::Away, Some("Lunch")).await;

    // B is away: the call goes to A, and B is not disturbed.
    w.call(CALLER, QUEUE, None);
    assert_eq!(routed_to(&mut w).await, "1001", "the only available agent");
    let call = answer(&mut w.agent).await;
    let b_saw: Vec<&AgentEvent> = b.unclaimed().collect();
    assert!(!rang(&b_saw), "the away agent was offered nothing: {b_saw:#?}");

    // B becomes available while A is on the call; A is available again
    // only after the call and its wrap-up, so B has been idle longest.
    b.choose(ChosenState::Available, None).await;
    w.available_at_the_acd("1002", true).await;
    hang_up(&mut w.agent, &call).await;
    w.available_at_the_acd("1001", true).await;
    w.call(CALLER, QUEUE, None);
    assert_eq!(routed_to(&mut w).await, "1002", "both available: the one idle longest");
    let call = answer(&mut b).await;
    hang_up(&mut b, &call).await;
    let a_saw: Vec<&AgentEvent> = w.agent.unclaimed().collect();
    assert!(!rang(&a_saw), "agent 1001 was not offered the second call: {a_saw:#?}");
    b.quit().await;
    w.agent.quit().await;
}
