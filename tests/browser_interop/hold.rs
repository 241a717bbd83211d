//! Hold and resume, from the agent's side (held for 2, 6 and 15 s) and from
//! the browser's. While held neither end hears the other's tone; after the
//! resume, measured from [`SETTLE`](super::SETTLE) on, both hear each other
//! in >= 98% of windows and the agent's reported loss is under 1% from
//! [`LOSS_RECOVERY`](super::LOSS_RECOVERY) on.
//!
//! Held by the agent, Chromium answers `recvonly` and stops sending; when it
//! sends again its RTP timestamp has advanced less than the wall clock
//! (Chromium 156: 5.62 s of timestamp over a 6.12 s gap, same SSRC and
//! sequence numbers, no marker bit). A receiver that places packets by
//! timestamp against the wall clock finds them late; these tests show
//! whether the agent copes.

use std::time::{Duration, Instant};

use warmline_agent::{AgentCommand, CallState};

use super::{
    AGENT_HZ, BROWSER_HZ, Caller, RATE, SILENT, Verdicts, World, both_hear, connect, forget_quality, listen,
    loss_recovers, play_until,
};
use crate::browser::Source;

/// Who puts the call on hold.
#[derive(Debug, Clone, Copy)]
enum Holder {
    Agent,
    Browser,
}

async fn hold_and_resume(test: &'static str, holder: Holder, hold: Duration, source: Source) {
    let world = World::new(test);
    let mut agent = world.agent("agent", AGENT_HZ).await;
    let mut browser = world.browser_with("browser", source).await;
    let mut v = Verdicts::default();

    let (call, session) = connect(&mut agent, &mut browser, Caller::Browser).await;
    agent.media_flows(&call).await;
    let heard = listen(&mut agent, &call, BROWSER_HZ, &mut browser, AGENT_HZ, Instant::now()).await;
    println!("talk: {heard:?}");
    both_hear(&mut v, "talk", &heard, ("the agent", "the browser"), "the agent");

    match holder {
        Holder::Agent => {
            agent.command(AgentCommand::Hold { call: Some(call.clone()) }).await;
            agent.call_state(Some(&call), CallState::Held).await;
        }
        Holder::Browser => {
            browser.call("hold", serde_json::json!([session])).await;
            agent.call_state(Some(&call), CallState::RemoteHeld).await;
        }
    }
    let held = Instant::now();
    let (a0, b0) = (agent.mark(), browser.mark().await);
    let a1 = a0 + (hold.as_secs_f64() * RATE as f64) as usize;
    play_until(&mut agent, &call, Some(&mut browser), a1, 0, held).await;
    let b1 = browser.mark().await;
    // The first 200 ms of the hold may still hold audio in flight.
    let skip = 10;
    let (browser_on_hold, windows) = browser.heard((b0 + skip, b1), AGENT_HZ).await;
    let agent_on_hold = f64::from(agent.heard((a0 + skip * super::FRAME, a1), BROWSER_HZ));
    println!(
        "on hold for {hold:?}: the browser hears the agent in {:.1}% of {windows} windows, the agent hears the browser in {:.1}%",
        browser_on_hold * 100.0,
        agent_on_hold * 100.0
    );
    v.check(
        browser_on_hold <= SILENT,
        format!("on hold: the browser hears the agent in {:.1}% of windows (<= 2%)", browser_on_hold * 100.0),
    );
    v.check(
        agent_on_hold <= SILENT,
        format!("on hold: the agent hears the browser in {:.1}% of windows (<= 2%)", agent_on_hold * 100.0),
    );

    match holder {
        Holder::Agent => agent.command(AgentCommand::Resume { call: Some(call.clone()) }).await,
        Holder::Browser => {
            browser.call("unhold", serde_json::json!([session])).await;
        }
    }
    agent.call_state(Some(&call), CallState::Connected).await;
    let resumed = Instant::now();
    forget_quality(&mut agent).await;
    let phase = format!("after a {hold:?} hold by the {holder:?} side");
    let heard = listen(&mut agent, &call, BROWSER_HZ, &mut browser, AGENT_HZ, resumed).await;
    println!("{phase}: {heard:?}");
    both_hear(&mut v, &phase, &heard, ("the agent", "the browser"), "the agent");
    loss_recovers(&mut v, &phase, &heard);

    agent.command(AgentCommand::Hangup { call: Some(call.clone()) }).await;
    browser.ended(session).await;
    agent.ended(&call).await;
    agent.quit().await;
    v.finish(&browser);
}

/// The agent holds the browser for 2 s and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_2s_hold_by_the_agent_both_hear_each_other_again() {
    hold_and_resume("agent_hold_2s", Holder::Agent, Duration::from_secs(2), Source::Capture).await;
}

/// The agent holds the browser for 6 s and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_6s_hold_by_the_agent_both_hear_each_other_again() {
    hold_and_resume("agent_hold_6s", Holder::Agent, Duration::from_secs(6), Source::Capture).await;
}

/// The agent holds the browser for 15 s and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_15s_hold_by_the_agent_both_hear_each_other_again() {
    hold_and_resume("agent_hold_15s", Holder::Agent, Duration::from_secs(15), Source::Capture).await;
}

/// The browser holds the agent for 6 s and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_6s_hold_by_the_browser_both_hear_each_other_again() {
    hold_and_resume("browser_hold_6s", Holder::Browser, Duration::from_secs(6), Source::Capture).await;
}

/// The agent holds the browser for 6 s and resumes, the browser's audio
/// coming from a WebAudio oscillator rather than a capture device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_6s_hold_by_the_agent_a_webaudio_source_is_heard_again() {
    hold_and_resume("agent_hold_6s_webaudio", Holder::Agent, Duration::from_secs(6), Source::Oscillator).await;
}
