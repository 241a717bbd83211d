//! Blind and warm transfer by the agent (REFER through Kamailio), with the
//! browser as the customer (it receives the REFER and calls the expert, with
//! Replaces when warm) and as the expert (it is called by the customer, with
//! Replaces when warm). The other party is another Warmline agent session.
//! After each transfer the browser and the other party hear each other.

use std::time::Instant;

use warmline_agent::{AgentCommand, AgentEvent, CallState, TransferMode, TransferPhase};
use warmline_e2e::agent::Agent;

use super::{AGENT_HZ, BROWSER_HZ, Caller, OTHER_HZ, SILENT, Verdicts, World, both_hear, connect, listen, uri};

/// The agent's consult call (the one that is not the customer's).
async fn consult_call(agent: &mut Agent, customer: &str) -> String {
    agent
        .wait("the agent's consult call", |e| match e {
            AgentEvent::Call { call, state: CallState::Connected, .. } if call != customer => Some(call.clone()),
            _ => None,
        })
        .await
}

async fn browser_as_customer(test: &'static str, mode: TransferMode) {
    let world = World::new(test);
    let mut agent = world.agent("agent", AGENT_HZ).await;
    let mut expert = world.agent("expert", OTHER_HZ).await;
    let mut browser = world.browser("customer").await;
    let mut v = Verdicts::default();

    let (call, first) = connect(&mut agent, &mut browser, Caller::Browser).await;
    agent.media_flows(&call).await;
    agent.command(AgentCommand::Transfer { to: uri("expert"), mode, call: Some(call.clone()) }).await;
    let expert_call = match mode {
        TransferMode::Blind => {
            let c = expert.incoming().await;
            expert.command(AgentCommand::Answer { call: Some(c.clone()) }).await;
            c
        }
        _ => {
            agent.transfer(TransferPhase::DiallingExpert).await;
            let c = expert.incoming().await;
            expert.command(AgentCommand::Answer { call: Some(c.clone()) }).await;
            expert.call_state(Some(&c), CallState::Connected).await;
            agent.transfer(TransferPhase::Consulting).await;
            agent.call_state(Some(&call), CallState::Held).await;
            let consult = consult_call(&mut agent, &call).await;
            agent.media_flows(&consult).await;
            let heard = listen(&mut agent, &consult, OTHER_HZ, &mut browser, AGENT_HZ, Instant::now()).await;
            println!("consult: {heard:?}");
            v.check(
                heard.agent >= super::HEARD,
                format!("consult: the agent hears the expert in {:.1}% of windows", heard.agent * 100.0),
            );
            v.check(
                heard.browser <= SILENT,
                format!(
                    "consult: the held customer (browser) hears the agent in {:.1}% of windows (<= 2%)",
                    heard.browser * 100.0
                ),
            );
            let (other, _) = browser.heard((0, usize::MAX), OTHER_HZ).await;
            v.check(
                other <= SILENT,
                format!(
                    "consult: the customer (browser) hears the expert in {:.1}% of its windows so far (<= 2%)",
                    other * 100.0
                ),
            );
            agent.command(AgentCommand::CompleteTransfer).await;
            c
        }
    };
    let refer = browser.fact("the REFER", |f| (f["type"] == "refer").then(|| f["to"].clone())).await;
    println!("the browser was referred to {refer}");
    let second = browser
        .fact("the customer's new call", |f| {
            let s = f["session"].as_u64()?;
            (f["type"] == "confirmed" && s != first).then_some(s)
        })
        .await;
    agent.transfer(TransferPhase::Completed).await;
    let reason = agent.ended(&call).await;
    println!("the agent's call with the customer ended: {reason}");
    browser.ended(first).await;
    let expert_now = match mode {
        TransferMode::Blind => {
            expert.call_state(Some(&expert_call), CallState::Connected).await;
            expert_call
        }
        _ => {
            let new = expert.call_state(None, CallState::Connected).await;
            let replaced = expert.ended(&expert_call).await;
            v.check(replaced == "replaced", format!("the expert's consult call ends as {replaced:?} (replaced)"));
            new
        }
    };
    expert.media_flows(&expert_now).await;
    let phase = format!("after the {mode:?} transfer of the browser customer");
    let heard = listen(&mut expert, &expert_now, BROWSER_HZ, &mut browser, OTHER_HZ, Instant::now()).await;
    println!("{phase}: {heard:?}");
    both_hear(&mut v, &phase, &heard, ("the expert", "the customer (browser)"), "the expert");

    expert.command(AgentCommand::Hangup { call: Some(expert_now.clone()) }).await;
    browser.ended(second).await;
    agent.quit().await;
    expert.quit().await;
    v.finish(&browser);
}

async fn browser_as_expert(test: &'static str, mode: TransferMode) {
    let world = World::new(test);
    let mut agent = world.agent("agent", AGENT_HZ).await;
    let mut customer = world.agent("customer", OTHER_HZ).await;
    let mut browser = world.browser("expert").await;
    let mut v = Verdicts::default();

    customer.command(AgentCommand::Dial { to: uri("agent") }).await;
    let call = agent.incoming().await;
    agent.command(AgentCommand::Answer { call: Some(call.clone()) }).await;
    agent.call_state(Some(&call), CallState::Connected).await;
    let customer_call = customer.call_state(None, CallState::Connected).await;
    agent.command(AgentCommand::Transfer { to: uri("expert"), mode, call: Some(call.clone()) }).await;
    let expert_session = match mode {
        TransferMode::Blind => {
            let s = browser.incoming().await;
            browser.call("answer", serde_json::json!([s])).await;
            browser.confirmed(Some(s)).await
        }
        _ => {
            agent.transfer(TransferPhase::DiallingExpert).await;
            let consult_session = browser.incoming().await;
            browser.call("answer", serde_json::json!([consult_session])).await;
            browser.confirmed(Some(consult_session)).await;
            agent.transfer(TransferPhase::Consulting).await;
            let consult = consult_call(&mut agent, &call).await;
            agent.media_flows(&consult).await;
            let heard = listen(&mut agent, &consult, BROWSER_HZ, &mut browser, AGENT_HZ, Instant::now()).await;
            println!("consult: {heard:?}");
            both_hear(
                &mut v,
                "consult with the browser expert",
                &heard,
                ("the agent", "the expert (browser)"),
                "the agent",
            );
            agent.command(AgentCommand::CompleteTransfer).await;
            browser.fact("the INVITE with Replaces", |f| (f["type"] == "replaces").then_some(())).await;
            let s = browser
                .fact("the customer's call replacing the consult", |f| {
                    let s = f["session"].as_u64()?;
                    (f["type"] == "confirmed" && s != consult_session).then_some(s)
                })
                .await;
            let cause = browser.ended(consult_session).await;
            println!("the browser's consult session ended: {cause}");
            s
        }
    };
    agent.transfer(TransferPhase::Completed).await;
    let reason = agent.ended(&call).await;
    println!("the agent's call with the customer ended: {reason}");
    let customer_now = customer
        .wait("the customer's new call", |e| match e {
            AgentEvent::Call { call, state: CallState::Connected, .. } if *call != customer_call => Some(call.clone()),
            _ => None,
        })
        .await;
    customer.ended(&customer_call).await;
    customer.media_flows(&customer_now).await;
    let phase = format!("after the {mode:?} transfer to the browser expert");
    let heard = listen(&mut customer, &customer_now, BROWSER_HZ, &mut browser, OTHER_HZ, Instant::now()).await;
    println!("{phase}: {heard:?}");
    both_hear(&mut v, &phase, &heard, ("the customer", "the expert (browser)"), "the customer");

    customer.command(AgentCommand::Hangup { call: Some(customer_now.clone()) }).await;
    browser.ended(expert_session).await;
    agent.quit().await;
    customer.quit().await;
    v.finish(&browser);
}

/// The agent blind-transfers the browser (the customer) to an expert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_of_the_browser_customer_connects_it_to_the_expert() {
    browser_as_customer("blind_transfer_browser_customer", TransferMode::Blind).await;
}

/// The agent consults an expert while the browser (the customer) is held,
/// then completes: the browser calls the expert with Replaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_transfer_of_the_browser_customer_connects_it_to_the_expert() {
    browser_as_customer("warm_transfer_browser_customer", TransferMode::Warm).await;
}

/// The agent blind-transfers a customer to the browser (the expert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_to_the_browser_expert_connects_the_customer() {
    browser_as_expert("blind_transfer_browser_expert", TransferMode::Blind).await;
}

/// The agent consults the browser (the expert), then completes: the
/// customer calls the browser with Replaces and the consult ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_transfer_to_the_browser_expert_connects_the_customer() {
    browser_as_expert("warm_transfer_browser_expert", TransferMode::Warm).await;
}
