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
use warmline_lab::scenario::Audio;
use warmline_media::session::{MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::{ToneDetector, ToneGenerator};
use warmline_sip::pidf::Pidf;

use super::sip::Agent;
use super::support::lab;

const SETTLE_FRAMES: usize = 25;
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
