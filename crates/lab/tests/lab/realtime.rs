//! Real-time: a routed customer call with real WebRTC audio end to end
//! (ICE on loopback, DTLS-SRTP, Opus) through the lab's B2BUA. The lab's
//! simulated customer says 600 Hz and records what it hears; the test
//! agent, built from the SIP and media crates, says 1000 Hz. Each must
//! detect the other's tone in at least 98% of 20 ms windows. Audio plays
//! for a measured span; every wait is on an event, with a deadline.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use warmline_lab::LabEvent;
use warmline_lab::customer::{CustomerCall, CustomerState};
use warmline_lab::expert::ExpertCallState;
use warmline_lab::scenario::Audio;
use warmline_media::session::{MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::{ToneDetector, ToneGenerator};
use warmline_sip::pidf::Pidf;
use warmline_sip::ua::{Event, TransferProgress};

use super::sip::{Agent, AgentEvent};
use super::support::lab;

const SETTLE_FRAMES: usize = 25;

/// One real-time audio test at a time in this binary (plain `cargo test`
/// runs tests in parallel; nextest's `realtime` group does the same across
/// binaries): two cores playing several WebRTC calls at once would measure
/// the machine, not the lab.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const MEASURED_FRAMES: usize = 150;

fn play_tone(input: mpsc::Sender<Vec<i16>>, freq: f32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tone = ToneGenerator::new(48_000, freq, 0.3);
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        loop {
            ticker.tick().await;
            if input.send(tone.next_frame(960)).await.is_err() {
                return;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_routed_call_each_party_hears_the_others_tone() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let lab = lab().await;
    let control = lab.control();
    let mut lab_events = control.subscribe();
    let mut agent = Agent::connect(&lab, "1003").await;
    agent.publish(Pidf::open("sip:1003@northwind.example.com")).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let recording = dir.path().join("customer-heard.wav");
    let customer = control
        .place_call(CustomerCall {
            from: "+442079460018".into(),
            name: None,
            queue: "billing".into(),
            audio: Audio::ToneHz(600.0),
            record: Some(recording.clone()),
            reoffers: Default::default(),
        })
        .expect("the customer calls");

    let (call, data, offer) = agent.incoming().await;
    assert_eq!(data.caller.uri.to_string(), "sip:+442079460018@northwind.example.com");
    assert_eq!(data.caller.display_name.as_deref(), Some("Ada Lovelace"), "the CRM's name for the number");
    assert!(data.fields.iter().any(|(k, v)| k == "X-Queue" && v == "billing"));
    assert!(data.fields.iter().any(|(k, v)| k == "X-Case-Id" && v.starts_with("CASE-")));

    let (media, mut port) = MediaSession::new(MediaConfig::loopback()).await.expect("agent media");
    let answer = media.accept_offer(&String::from_utf8_lossy(&offer)).await.expect("an answer to the customer's offer");
    agent
        .handle
        .with(move |a, now| a.ua.answer(now, call, answer.into_bytes()))
        .await
        .expect("running")
        .expect("answer");
    let tone = play_tone(port.input.clone(), 1000.0);
    let connected = async {
        while let Some(e) = port.events.recv().await {
            if e == MediaEvent::Connected {
                return;
            }
        }
        panic!("the agent's media events ended before Connected");
    };
    timeout(Duration::from_secs(15), connected).await.expect("ICE and DTLS up within 15 s");

    let mut heard = Vec::new();
    let collect = async {
        let mut frames = 0;
        while let Some(frame) = port.output.recv().await {
            frames += 1;
            if frames > SETTLE_FRAMES {
                heard.extend_from_slice(&frame);
            }
            if frames >= SETTLE_FRAMES + MEASURED_FRAMES {
                return;
            }
        }
    };
    timeout(Duration::from_secs(20), collect).await.expect("the customer's audio keeps flowing");
    let agent_share = ToneDetector::new(48_000, 600.0).share_detected(&heard, 960);

    customer.hang_up();
    let ended = async {
        loop {
            match lab_events.recv().await {
                Ok(LabEvent::Customer { state: CustomerState::Ended, detail, .. }) => return detail,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("lab events closed: {e}"),
            }
        }
    };
    let detail = timeout(Duration::from_secs(20), ended).await.expect("the customer's call ends");
    tone.abort();
    let _ = media.close().await;

    let recorded = warmline_media::backend::read_wav(&recording).unwrap_or_else(|e| panic!("{detail:?}: {e}"));
    let detector = ToneDetector::new(48_000, 1000.0);
    // From the first window the agent is heard in, past the settling time,
    // to the end less the hang-up.
    let windows: Vec<&[i16]> = recorded.chunks_exact(960).collect();
    let first = windows.iter().position(|w| detector.detect(w)).expect("the customer heard the agent at all");
    let span = &windows[(first + SETTLE_FRAMES).min(windows.len())..windows.len().saturating_sub(10)];
    assert!(span.len() >= MEASURED_FRAMES / 2, "a measurable recording: {} windows ({detail:?})", span.len());
    let customer_share = span.iter().filter(|w| detector.detect(w)).count() as f32 / span.len() as f32;
    eprintln!("agent hears the customer in {agent_share:.3}, the customer hears the agent in {customer_share:.3}");
    assert!(agent_share >= 0.98, "the agent should hear the customer's 600 Hz: {agent_share}");
    assert!(customer_share >= 0.98, "the customer should hear the agent's 1000 Hz: {customer_share}");
}

/// The share of 20 ms windows with `hz` in a recording, from the first
/// window it is heard in (past the settling time) to the end less the
/// hang-up; panics when it is never heard or the span is too short.
fn share_heard(recording: &[i16], hz: f32, what: &str) -> f32 {
    let detector = ToneDetector::new(48_000, hz);
    let windows: Vec<&[i16]> = recording.chunks_exact(960).collect();
    let first = windows.iter().position(|w| detector.detect(w)).unwrap_or_else(|| panic!("{what}: never heard"));
    let span = &windows[(first + SETTLE_FRAMES).min(windows.len())..windows.len().saturating_sub(10)];
    assert!(span.len() >= MEASURED_FRAMES / 2, "{what}: a measurable recording, {} windows", span.len());
    span.iter().filter(|w| detector.detect(w)).count() as f32 / span.len() as f32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_blind_transfer_to_an_expert_each_hears_the_others_tone() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let lab = lab().await;
    let control = lab.control();
    let mut lab_events = control.subscribe();
    let dir = tempfile::tempdir().expect("temp dir");
    let expert_heard = dir.path().join("expert-heard.wav");
    let customer_heard = dir.path().join("customer-heard.wav");
    // Priya Natarajan: +442079460101, says 440 Hz.
    control.set_answer("Priya Natarajan", warmline_lab::scenario::Answer::AfterSecs(0.5)).expect("expert");
    control.set_recording("Priya Natarajan", Some(expert_heard.clone())).expect("expert");
    let mut agent = Agent::connect(&lab, "1003").await;
    agent.publish(Pidf::open("sip:1003@northwind.example.com")).await;
    let customer = control
        .place_call(CustomerCall {
            from: "+442079460018".into(),
            name: None,
            queue: "billing".into(),
            audio: Audio::ToneHz(600.0),
            record: Some(customer_heard.clone()),
            reoffers: Default::default(),
        })
        .expect("the customer calls");
    let (call, _, offer) = agent.incoming().await;
    let (media, mut port) = MediaSession::new(MediaConfig::loopback()).await.expect("agent media");
    let answer = media.accept_offer(&String::from_utf8_lossy(&offer)).await.expect("an answer");
    agent
        .handle
        .with(move |a, now| a.ua.answer(now, call, answer.into_bytes()))
        .await
        .expect("running")
        .expect("answer");
    let tone = play_tone(port.input.clone(), 1000.0);
    let connected = async {
        while let Some(e) = port.events.recv().await {
            if e == MediaEvent::Connected {
                return;
            }
        }
    };
    timeout(Duration::from_secs(15), connected).await.expect("the agent's media is up");

    let target: warmline_sip::Uri = "sip:+442079460101@northwind.example.com".parse().expect("uri");
    agent.handle.with(move |a, now| a.ua.transfer_blind(now, call, target)).await.expect("running").expect("REFER");
    agent
        .wait("the transfer's success", |e| {
            matches!(e, AgentEvent::Ua(Event::Transfer { progress: TransferProgress::Succeeded, .. }))
        })
        .await;
    agent.wait("the agent's leg ends", |e| matches!(e, AgentEvent::Ua(Event::Ended { .. }))).await;
    tone.abort();
    let _ = media.close().await;

    // Both parties are lab-internal: let them talk for the span measured,
    // then hang up; every other wait is on an event.
    tokio::time::sleep(Duration::from_millis(20 * (SETTLE_FRAMES + MEASURED_FRAMES) as u64 + 2_000)).await;
    customer.hang_up();
    let (mut customer_done, mut expert_done) = (None, None);
    let ended = async {
        while customer_done.is_none() || expert_done.is_none() {
            match lab_events.recv().await {
                Ok(LabEvent::Customer { state: CustomerState::Ended, detail, .. }) => customer_done = Some(detail),
                Ok(LabEvent::Expert { state: ExpertCallState::Ended, detail, .. }) => expert_done = Some(detail),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("lab events closed: {e}"),
            }
        }
    };
    timeout(Duration::from_secs(20), ended).await.expect("both ends of the transferred call end");
    let at_customer = warmline_media::backend::read_wav(&customer_heard).expect("the customer's recording");
    let at_expert = warmline_media::backend::read_wav(&expert_heard).expect("the expert's recording");
    let customer_share = share_heard(&at_customer, 440.0, "the expert at the customer");
    let expert_share = share_heard(&at_expert, 600.0, "the customer at the expert");
    eprintln!(
        "after the transfer the customer hears the expert in {customer_share:.3}, the expert the customer in {expert_share:.3}"
    );
    assert!(customer_share >= 0.98, "the customer should hear the expert's 440 Hz: {customer_share}");
    assert!(expert_share >= 0.98, "the expert should hear the customer's 600 Hz: {expert_share}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_attended_transfer_joins_the_customer_to_the_expert_with_audio() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let lab = lab().await;
    let control = lab.control();
    let mut lab_events = control.subscribe();
    let dir = tempfile::tempdir().expect("temp dir");
    let expert_heard = dir.path().join("expert-heard.wav");
    let customer_heard = dir.path().join("customer-heard.wav");
    // Grace Thompson: +442079460103, says 495 Hz.
    control.set_answer("Grace Thompson", warmline_lab::scenario::Answer::AfterSecs(0.2)).expect("expert");
    control.set_recording("Grace Thompson", Some(expert_heard.clone())).expect("expert");
    let mut agent = Agent::connect(&lab, "1003").await;
    agent.publish(Pidf::open("sip:1003@northwind.example.com")).await;
    let customer = control
        .place_call(CustomerCall {
            from: "+442079460018".into(),
            name: None,
            queue: "billing".into(),
            audio: Audio::ToneHz(600.0),
            record: Some(customer_heard.clone()),
            reoffers: Default::default(),
        })
        .expect("the customer calls");
    let (call, _, offer) = agent.incoming().await;
    let (media, port) = MediaSession::new(MediaConfig::loopback()).await.expect("agent media");
    let answer = media.accept_offer(&String::from_utf8_lossy(&offer)).await.expect("an answer");
    agent
        .handle
        .with(move |a, now| a.ua.answer(now, call, answer.into_bytes()))
        .await
        .expect("running")
        .expect("answer");
    let tone = play_tone(port.input.clone(), 1000.0);

    // The consultation call goes agent → lab → expert.
    let (consult_media, consult_port) = MediaSession::new(MediaConfig::loopback()).await.expect("consult media");
    let consult_offer = consult_media.create_offer().await.expect("an offer");
    let target: warmline_sip::Uri = "sip:+442079460103@northwind.example.com".parse().expect("uri");
    let consult = agent
        .handle
        .with(move |a, now| a.ua.dial(now, target, consult_offer.into_bytes()))
        .await
        .expect("running")
        .expect("dial the expert");
    let AgentEvent::Ua(Event::AnswerReceived { sdp, .. }) = agent
        .wait(
            "the expert's answer",
            |e| matches!(e, AgentEvent::Ua(Event::AnswerReceived { call: c, .. }) if *c == consult),
        )
        .await
    else {
        unreachable!()
    };
    consult_media.accept_answer(&String::from_utf8_lossy(&sdp)).await.expect("the expert's answer applies");
    let consult_tone = play_tone(consult_port.input.clone(), 1000.0);
    agent
        .wait("the consultation", |e| matches!(e, AgentEvent::Ua(Event::Connected { call: c }) if *c == consult))
        .await;

    agent.handle.with(move |a, now| a.ua.transfer_attended(now, call, consult)).await.expect("running").expect("REFER");
    // The NOTIFY 200 and the lab's BYE of the consultation leg may cross:
    // take the success and both ends in any order.
    let (mut succeeded, mut ended) = (false, Vec::new());
    while !succeeded || ended.len() < 2 {
        match agent
            .wait("the transfer's success and both agent legs' ends", |e| {
                matches!(
                    e,
                    AgentEvent::Ua(Event::Ended { .. } | Event::Transfer { progress: TransferProgress::Succeeded, .. })
                )
            })
            .await
        {
            AgentEvent::Ua(Event::Ended { call: c, .. }) => ended.push(c),
            _ => succeeded = true,
        }
    }
    assert!(ended.contains(&call) && ended.contains(&consult), "{ended:?}");
    assert_eq!(
        control.expert("Grace Thompson").expect("expert").presence,
        warmline_lab::presence::Presence::IN_A_CALL,
        "an expert on a call is Busy, InACall"
    );
    tone.abort();
    consult_tone.abort();
    let _ = media.close().await;
    let _ = consult_media.close().await;

    // Both parties are lab-internal: let them talk for the span measured,
    // then hang up; every other wait is on an event.
    tokio::time::sleep(Duration::from_millis(20 * (SETTLE_FRAMES + MEASURED_FRAMES) as u64 + 2_000)).await;
    customer.hang_up();
    let (mut customer_done, mut expert_done) = (false, false);
    let ended = async {
        while !customer_done || !expert_done {
            match lab_events.recv().await {
                Ok(LabEvent::Customer { state: CustomerState::Ended, .. }) => customer_done = true,
                Ok(LabEvent::Expert { state: ExpertCallState::Ended, .. }) => expert_done = true,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("lab events closed: {e}"),
            }
        }
    };
    timeout(Duration::from_secs(20), ended).await.expect("both ends of the joined call end");
    assert_eq!(
        control.expert("Grace Thompson").expect("expert").presence,
        warmline_lab::presence::Presence::AVAILABLE,
        "the expert's presence returns after the call"
    );
    let at_customer = warmline_media::backend::read_wav(&customer_heard).expect("the customer's recording");
    let at_expert = warmline_media::backend::read_wav(&expert_heard).expect("the expert's recording");
    let customer_share = share_heard(&at_customer, 495.0, "the expert at the customer");
    let expert_share = share_heard(&at_expert, 600.0, "the customer at the expert");
    eprintln!(
        "after the join the customer hears the expert in {customer_share:.3}, the expert the customer in {expert_share:.3}"
    );
    assert!(customer_share >= 0.98, "the customer should hear the expert's 495 Hz: {customer_share}");
    assert!(expert_share >= 0.98, "the expert should hear the customer's 600 Hz: {expert_share}");
}
