//! A routed call from start to history: the ACD offers it, the CRM's screen
//! pop arrives, the note syncs to the CRM, wrap-up takes a disposition, and
//! the store holds the call with its disposition and notes.

use warmline_agent::{AgentCommand, AgentEvent, AgentState, CallState, ContextSource, NoteSync};
use warmline_e2e::agent::{assert_hears, play};

use super::{AGENT_HZ, CUSTOMER, CUSTOMER_HZ, MEASURED, SETTLE, SPAN, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_routed_call_with_screen_pop_synced_note_and_wrap_up_lands_in_the_store() {
    let mut w = World::start("routed", None).await;
    let (customer, record) = w.call(CUSTOMER, "billing", Some("customer-heard.wav"));

    let (call, from, queue, case) = w
        .agent
        .wait("the routed call", |e| match e {
            AgentEvent::Incoming { call, from, queue, case, .. } => {
                Some((call.clone(), from.clone(), queue.clone(), case.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(from, CUSTOMER);
    assert_eq!(queue.as_deref(), Some("billing"));
    assert!(case.as_deref().is_some_and(|c| c.starts_with("CASE-")), "the ACD's case id: {case:?}");
    let pop = w
        .agent
        .wait("the CRM's screen pop", |e| match e {
            AgentEvent::Context { call: c, customer }
                if *c == call && customer.source == ContextSource::Crm && !customer.loading =>
            {
                Some(customer.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(pop.name.as_deref(), Some("Ada Lovelace"), "the CRM names the caller: {pop:?}");
    assert_eq!(pop.crm_id.as_deref(), Some("NW-100231"));
    assert_eq!(pop.phone, CUSTOMER);
    assert_eq!(pop.queue.as_deref(), Some("billing"));
    assert!(!pop.fields.is_empty() && !pop.interactions.is_empty(), "the CRM's fields and history: {pop:?}");

    w.agent.command(AgentCommand::Answer { call: None }).await;
    w.agent.call_state(Some(&call), CallState::Connected).await;
    w.agent.media_flows(&call).await;
    let talk = play(&[&w.agent], SPAN).await;
    assert_hears(&w.agent, talk[0], CUSTOMER_HZ, "talk");

    let text = "Customer asks for a payment plan";
    w.agent.command(AgentCommand::Note { text: text.into(), note: None, call: None }).await;
    let note = w
        .agent
        .wait("the note saved", |e| match e {
            AgentEvent::NoteSaved { note, call: c, sync: NoteSync::SavedLocally, .. } => {
                assert_eq!(c.as_deref(), Some(call.as_str()), "the note belongs to the call");
                Some(note.clone())
            }
            _ => None,
        })
        .await;
    w.agent
        .wait("the note synced to the CRM", |e| match e {
            AgentEvent::NoteSaved { note: n, sync: NoteSync::Synced, .. } if *n == note => Some(()),
            AgentEvent::NoteSaved { note: n, sync: s @ (NoteSync::Failed | NoteSync::Conflict), reason, .. }
                if *n == note =>
            {
                panic!("the note did not sync: {s:?} {reason:?}")
            }
            _ => None,
        })
        .await;
    let crm = w.control.crm_notes().expect("the CRM's notes");
    assert!(
        crm.iter().any(|n| n.body == text && n.client_id.is_some()),
        "the lab's CRM holds the note, with Warmline's client id: {crm:#?}"
    );

    w.agent.command(AgentCommand::Hangup { call: None }).await;
    assert_eq!(w.agent.ended(&call).await, "local hangup");
    let heard = w.customer_hangs_up(&customer, record.as_deref().expect("recorded")).await;
    let first = heard.first(AGENT_HZ, 0, 5).expect("the customer heard the agent at all");
    heard.assert_hears(first + SETTLE, heard.windows().saturating_sub(10), AGENT_HZ, MEASURED, "talk");

    w.agent
        .wait("wrap-up", |e| matches!(e, AgentEvent::State { agent: AgentState::WrapUp { .. } }).then_some(()))
        .await;
    w.agent.command(AgentCommand::Wrapup { disposition: "resolved".into() }).await;
    w.agent.shows_available().await;
    let calls = w.agent.history("payment plan").await;
    assert_eq!(calls.len(), 1, "one call matches the note's text: {calls:#?}");
    let row = &calls[0];
    assert_eq!(row.party, CUSTOMER);
    assert_eq!(row.direction, "inbound");
    assert_eq!(row.queue.as_deref(), Some("billing"), "the queue it was routed from: {row:?}");
    assert_eq!(row.case, case, "the contact center's case id: {row:?}");
    assert_eq!(row.consult_for, None);
    assert_eq!(row.disposition.as_deref(), Some("resolved"));
    assert!(row.notes.contains("payment plan"), "{row:?}");
    assert!(row.duration_s >= 3, "the call lasted the measured span at least: {row:?}");
    let uid = row.call.clone();
    w.agent.quit().await;

    // The rows themselves, read back with the store crate.
    let store = warmline_store::Store::open_with(
        &w.store,
        warmline_store::Encryption::Plaintext,
        &warmline_store::Options::default(),
        warmline_store::Timestamp::now(),
    )
    .expect("the agent's store opens")
    .store;
    let record = store.call(&uid).expect("the call's row");
    assert_eq!(record.start.remote_party, CUSTOMER);
    assert_eq!(record.disposition.as_deref(), Some("resolved"));
    assert!(record.answered_at.is_some() && record.ended_at.is_some(), "answered and ended: {record:?}");
    let notes = store.notes_for_call(&uid).expect("the call's notes");
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0].body, text);
    assert!(notes[0].server_id.is_some() && notes[0].synced_revision >= 1, "synced to the CRM: {:?}", notes[0]);
}

/// A network change mid-call (Wi-Fi to Ethernet, say): the call shows
/// `reconnecting`, restarts ICE with new credentials in a re-INVITE, and
/// comes back `connected` with audio both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_a_network_change_restarts_ice_and_the_call_goes_on() {
    let mut w = World::start("network_change", None).await;
    let (customer, record) = w.call(CUSTOMER, "billing", Some("customer-heard.wav"));
    let call = w.agent.incoming().await;
    w.agent.command(AgentCommand::Answer { call: None }).await;
    w.agent.call_state(Some(&call), CallState::Connected).await;
    w.agent.media_flows(&call).await;
    let before = play(&[&w.agent], SPAN).await;
    assert_hears(&w.agent, before[0], CUSTOMER_HZ, "before the network change");

    w.agent.session.network_changed("test: wlan0 gone, eth0 new").await.expect("the session takes it");
    w.agent.call_state(Some(&call), CallState::Reconnecting).await;
    w.agent.call_state(Some(&call), CallState::Connected).await;
    w.agent.media_flows(&call).await;
    let after = play(&[&w.agent], SPAN).await;
    assert_hears(&w.agent, after[0], CUSTOMER_HZ, "after the ICE restart");

    w.agent.command(AgentCommand::Hangup { call: None }).await;
    assert_eq!(w.agent.ended(&call).await, "local hangup");
    // The customer heard the agent to the end: the restart lost no more
    // than the settling windows.
    let heard = w.customer_hangs_up(&customer, record.as_deref().expect("recorded")).await;
    let first = heard.first(AGENT_HZ, 0, 5).expect("the customer heard the agent at all");
    heard.assert_hears(first + SETTLE, heard.windows().saturating_sub(10), AGENT_HZ, MEASURED, "the whole call");
    w.agent.quit().await;
}

/// DTMF: the agent keys digits (an IVR or a card number on the customer's
/// side); the agent hears each key's two tones as a desk phone plays them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_the_agent_hears_its_own_dtmf_keys() {
    let mut w = World::start("dtmf_feedback", None).await;
    // A silent customer, so that what the agent hears is the keys alone.
    let (customer, record) =
        w.call_saying(CUSTOMER, "billing", warmline_lab::scenario::Audio::Silence, Some("customer-heard.wav"));
    let call = w.agent.incoming().await;
    w.agent.command(AgentCommand::Answer { call: None }).await;
    w.agent.call_state(Some(&call), CallState::Connected).await;
    w.agent.media_flows(&call).await;
    let before = w.agent.mark();
    w.agent.command(AgentCommand::Dtmf { digits: "55".into(), call: None }).await;
    let span = play(&[&w.agent], std::time::Duration::from_secs(1)).await[0];
    // Two keys of 100 ms: 10 windows of 20 ms with both tones of a 5.
    let both = |hz: f32| w.agent.heard((before, span.1), hz);
    let (low, high) = (both(770.0), both(1336.0));
    let windows = (span.1 - before) / 960;
    assert!(
        low * windows as f32 >= 8.0 && high * windows as f32 >= 8.0,
        "the agent hears its keys: 770 Hz in {low:.2} and 1336 Hz in {high:.2} of {windows} windows"
    );
    w.agent.command(AgentCommand::Hangup { call: None }).await;
    w.agent.ended(&call).await;
    let _ = w.customer_hangs_up(&customer, record.as_deref().expect("recorded")).await;
    w.agent.quit().await;
}
