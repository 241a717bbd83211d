//! Basic calls both ways: each end hears the other from the first second.

use std::time::Instant;

use warmline_agent::AgentCommand;

use super::{AGENT_HZ, BROWSER_HZ, Caller, Verdicts, World, both_hear, connect, listen};

async fn call_both_hear_and_hang_up(test: &'static str, caller: Caller) {
    let world = World::new(test);
    let mut agent = world.agent("agent", AGENT_HZ).await;
    let mut browser = world.browser("browser").await;
    let mut v = Verdicts::default();

    let started = Instant::now();
    let (call, session) = connect(&mut agent, &mut browser, caller).await;
    println!("{caller:?} called; connected at both ends after {:?}", started.elapsed());
    agent.media_flows(&call).await;
    let heard = listen(&mut agent, &call, BROWSER_HZ, &mut browser, AGENT_HZ, Instant::now()).await;
    println!("talk: {heard:?}");
    both_hear(&mut v, "talk", &heard, ("the agent", "the browser"), "the agent");

    match caller {
        // Whoever did not call hangs up.
        Caller::Browser => {
            agent.command(AgentCommand::Hangup { call: Some(call.clone()) }).await;
            let cause = browser.ended(session).await;
            v.check(cause == "Terminated", format!("the browser's call ends with cause {cause:?} (Terminated)"));
            let reason = agent.ended(&call).await;
            v.check(reason == "local hangup", format!("the agent's call ends: {reason}"));
        }
        Caller::Agent => {
            browser.call("hangup", serde_json::json!([session])).await;
            let reason = agent.ended(&call).await;
            v.check(reason == "remote hangup", format!("the agent's call ends: {reason}"));
        }
    }
    agent.quit().await;
    v.finish(&browser);
}

/// The browser calls the agent, the agent answers; both hear each other;
/// the agent hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_calls_the_agent_and_both_hear_each_other() {
    call_both_hear_and_hang_up("browser_calls_agent", Caller::Browser).await;
}

/// The agent calls the browser, the browser answers; both hear each other;
/// the browser hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_calls_the_browser_and_both_hear_each_other() {
    call_both_hear_and_hang_up("agent_calls_browser", Caller::Agent).await;
}
