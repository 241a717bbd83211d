//! Real-time tests: two media sessions in one process call each other over
//! 127.0.0.1 (ICE, DTLS-SRTP, Opus, jitter buffer, PLC) and each detects the
//! other's tone. Audio runs for a measured span; every wait is on an event
//! or channel, never a sleep.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use warmline_media::dtmf::DtmfEvent;
use warmline_media::impair::Impairment;
use warmline_media::sdp::{Anchor, Direction};
use warmline_media::session::{AudioCodec, AudioPort, IceServer, MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::{ToneDetector, ToneGenerator};

const SETTLE_FRAMES: usize = 25;
const MEASURED_FRAMES: usize = 150;

fn play_tone(input: mpsc::Sender<Vec<i16>>, freq: f32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tone = ToneGenerator::new(48_000, freq, 0.3);
        // The tone source stands in for a microphone: it is paced like one.
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        loop {
            ticker.tick().await;
            if input.send(tone.next_frame(960)).await.is_err() {
                return;
            }
        }
    })
}

async fn wait_for(port: &mut AudioPort, what: &str, want: impl Fn(&MediaEvent) -> bool) -> MediaEvent {
    let wait = async {
        loop {
            match port.events.recv().await {
                Some(e) if want(&e) => return e,
                Some(_) => {}
                None => panic!("event channel closed while waiting for {what}"),
            }
        }
    };
    timeout(Duration::from_secs(15), wait).await.unwrap_or_else(|_| panic!("no {what} within 15 s"))
}

/// Frames after the first decoded one, skipping the settling time.
async fn record(output: &mut mpsc::Receiver<Vec<i16>>) -> Vec<i16> {
    record_frames(output, MEASURED_FRAMES).await
}

async fn record_frames(output: &mut mpsc::Receiver<Vec<i16>>, measured: usize) -> Vec<i16> {
    let mut samples = Vec::new();
    let mut frames = 0;
    let collect = async {
        while let Some(frame) = output.recv().await {
            frames += 1;
            if frames > SETTLE_FRAMES {
                samples.extend_from_slice(&frame);
            }
            if frames >= SETTLE_FRAMES + measured {
                break;
            }
        }
    };
    timeout(Duration::from_secs(20), collect).await.expect("far-end audio should keep flowing");
    samples
}

struct Call {
    alice: MediaSession,
    bob: MediaSession,
    a: AudioPort,
    b: AudioPort,
    offer: String,
    answer: String,
    tones: [tokio::task::JoinHandle<()>; 2],
}

/// Alice (600 Hz) calls Bob (1000 Hz) over loopback; returns once both are connected.
async fn call(alice_config: MediaConfig, bob_config: MediaConfig) -> Call {
    let (alice, mut a) = MediaSession::new(alice_config).await.expect("alice session");
    let (bob, mut b) = MediaSession::new(bob_config).await.expect("bob session");
    let offer = alice.create_offer().await.expect("offer");
    assert!(offer.contains("a=rtpmap:111 opus/48000/2"), "Opus on PT 111:\n{offer}");
    assert_eq!(offer.matches("telephone-event/48000").count(), 1, "telephone-event/48000 beside Opus:\n{offer}");
    assert_eq!(offer.matches("telephone-event/8000").count(), 1, "and /8000 beside G.711:\n{offer}");
    assert!(offer.contains("a=fingerprint:") && offer.contains("127.0.0.1"), "DTLS and a loopback candidate");
    let answer = bob.accept_offer(&offer).await.expect("answer");
    alice.accept_answer(&answer).await.expect("apply answer");
    let tones = [play_tone(a.input.clone(), 600.0), play_tone(b.input.clone(), 1000.0)];
    wait_for(&mut a, "alice connected", |e| *e == MediaEvent::Connected).await;
    wait_for(&mut b, "bob connected", |e| *e == MediaEvent::Connected).await;
    Call { alice, bob, a, b, offer, answer, tones }
}

impl Call {
    /// Share of 20 ms windows in which each side detects the other's tone.
    async fn measure(&mut self) -> (f32, f32) {
        let (heard_by_alice, heard_by_bob) = tokio::join!(record(&mut self.a.output), record(&mut self.b.output));
        let alice_share = ToneDetector::new(48_000, 1000.0).share_detected(&heard_by_alice, 960);
        let bob_share = ToneDetector::new(48_000, 600.0).share_detected(&heard_by_bob, 960);
        eprintln!("alice hears bob in {alice_share:.3}, bob hears alice in {bob_share:.3} of 20 ms windows");
        (alice_share, bob_share)
    }

    async fn hang_up(self) {
        for t in &self.tones {
            t.abort();
        }
        self.alice.close().await.expect("close alice");
        self.bob.close().await.expect("close bob");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_call_each_side_detects_the_other_tone() {
    let mut c = call(MediaConfig::loopback(), MediaConfig::loopback()).await;
    let (alice_share, bob_share) = c.measure().await;
    assert!(alice_share >= 0.98, "alice should hear bob's 1 kHz tone: {alice_share}");
    assert!(bob_share >= 0.98, "bob should hear alice's 600 Hz tone: {bob_share}");

    let MediaEvent::Quality(q) = wait_for(&mut c.a, "a quality report", |e| matches!(e, MediaEvent::Quality(_))).await
    else {
        unreachable!()
    };
    eprintln!("quality at alice: {q:?}");
    assert!(q.mos > 4.0, "a loopback call should score above 4: {q:?}");

    c.alice.send_dtmf('7').expect("dtmf queued");
    let got = wait_for(&mut c.b, "a DTMF digit", |e| matches!(e, MediaEvent::Dtmf(_))).await;
    assert_eq!(got, MediaEvent::Dtmf(DtmfEvent::Began('7')));

    c.alice.set_muted(true);
    let heard = record_frames(&mut c.b.output, 50).await;
    let muted_share = ToneDetector::new(48_000, 600.0).share_detected(&heard, 960);
    assert!(muted_share < 0.05, "bob must not hear a muted alice: {muted_share}");
    c.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_call_with_5_percent_loss_and_30ms_jitter_keeps_95_percent() {
    let impaired = |seed| MediaConfig {
        receive_impairment: Some(Impairment::new(seed, 0.05, 0, 30_000)),
        ..MediaConfig::loopback()
    };
    let mut c = call(impaired(11), impaired(12)).await;
    let (alice_share, bob_share) = c.measure().await;
    assert!(alice_share >= 0.95, "concealment should keep alice hearing bob: {alice_share}");
    assert!(bob_share >= 0.95, "concealment should keep bob hearing alice: {bob_share}");
    let late_report = |e: &MediaEvent| matches!(e, MediaEvent::Quality(q) if q.buffer.received >= 150);
    let MediaEvent::Quality(q) = wait_for(&mut c.a, "a quality report", late_report).await else { unreachable!() };
    eprintln!("impaired quality at alice: {q:?}");
    assert!(q.buffer.lost + q.buffer.late > 0, "the shim must really drop packets: {q:?}");
    assert!(q.buffer.target_delay >= Duration::from_millis(25), "the buffer must grow with jitter: {q:?}");
    c.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_call_falls_back_to_pcmu_when_the_far_end_has_no_opus() {
    let sbc_like = MediaConfig { codecs: vec![AudioCodec::Pcmu], ..MediaConfig::loopback() };
    let mut c = call(MediaConfig::loopback(), sbc_like).await;
    let m_line = c.answer.lines().find(|l| l.starts_with("m=audio")).expect("an audio section");
    assert!(m_line.ends_with("SAVPF 0 126"), "PCMU and telephone-event/8000 only: {m_line}");
    assert!(c.answer.contains("a=rtpmap:126 telephone-event/8000"), "{}", c.answer);
    let (alice_share, bob_share) = c.measure().await;
    assert!(alice_share >= 0.98, "alice should hear bob over PCMU: {alice_share}");
    assert!(bob_share >= 0.98, "bob should hear alice over PCMU: {bob_share}");
    // RFC 4733 beside G.711 runs at 8 kHz, both ways.
    c.alice.send_dtmf('4').expect("dtmf queued");
    let got = wait_for(&mut c.b, "alice's digit at 8 kHz", |e| matches!(e, MediaEvent::Dtmf(_))).await;
    assert_eq!(got, MediaEvent::Dtmf(DtmfEvent::Began('4')));
    c.bob.send_dtmf('#').expect("dtmf queued");
    let got = wait_for(&mut c.a, "bob's digit at 8 kHz", |e| matches!(e, MediaEvent::Dtmf(_))).await;
    assert_eq!(got, MediaEvent::Dtmf(DtmfEvent::Began('#')));
    c.hang_up().await;
}

fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_restart_mid_call_keeps_audio_flowing() {
    let mut c = call(MediaConfig::loopback(), MediaConfig::loopback()).await;
    let offer = c.alice.restart_ice().await.expect("restart offer");
    assert!(ice_ufrag(&offer).is_some());
    assert_ne!(ice_ufrag(&offer), ice_ufrag(&c.offer), "a restart offer carries new ICE credentials");
    let answer = c.bob.accept_offer(&offer).await.expect("answer to the re-offer");
    c.alice.accept_answer(&answer).await.expect("apply answer");
    let (alice_share, bob_share) = c.measure().await;
    assert!(alice_share >= 0.98, "alice keeps hearing bob after the restart: {alice_share}");
    assert!(bob_share >= 0.98, "bob keeps hearing alice after the restart: {bob_share}");
    let (before, after) = (Anchor::of_sdp(&c.offer), Anchor::of_sdp(&offer));
    assert!(before.ice_restarted(&after) && !before.moved_to(&after), "same DTLS peer, new ICE credentials");
    assert_eq!(c.bob.transport_generation(), 0, "an ICE restart is applied in place, DTLS survives");
    c.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reoffer_from_a_new_media_server_rebuilds_the_transport_under_the_same_call() {
    let mut c = call(MediaConfig::loopback(), MediaConfig::loopback()).await;
    let (alice_share, _) = c.measure().await;
    assert!(alice_share >= 0.98, "alice hears bob before the re-anchor: {alice_share}");

    // The SBC moves the call to another media server: Carol stands in for
    // it, with her own ICE credentials and DTLS certificate, and re-offers.
    let (carol, mut k) = MediaSession::new(MediaConfig::loopback()).await.expect("carol");
    let reoffer = carol.create_offer().await.expect("carol's re-offer");
    let (old, new) = (Anchor::of_sdp(&c.answer), Anchor::of_sdp(&reoffer));
    assert!(old.moved_to(&new) && old.ice_restarted(&new), "new fingerprint and ICE credentials: {old:?} {new:?}");
    let answer = c.alice.accept_offer(&reoffer).await.expect("alice answers the re-offer");
    assert_eq!(
        Anchor::of_sdp(&answer).fingerprint,
        Anchor::of_sdp(&c.offer).fingerprint,
        "alice keeps her DTLS identity across the rebuild"
    );
    carol.accept_answer(&answer).await.expect("carol applies the answer");
    let carol_tone = play_tone(k.input.clone(), 1400.0);

    wait_for(&mut c.a, "the re-anchor", |e| *e == MediaEvent::Reanchored).await;
    wait_for(&mut c.a, "alice connected to carol", |e| *e == MediaEvent::Connected).await;
    wait_for(&mut k, "carol connected", |e| *e == MediaEvent::Connected).await;
    assert_eq!(c.alice.transport_generation(), 1, "one rebuild");
    // Frames queued before the rebuild are bob's; count only what follows.
    while c.a.output.try_recv().is_ok() {}
    let (heard_by_alice, heard_by_carol) = tokio::join!(record(&mut c.a.output), record(&mut k.output));
    let alice_hears_carol = ToneDetector::new(48_000, 1400.0).share_detected(&heard_by_alice, 960);
    let alice_hears_bob = ToneDetector::new(48_000, 1000.0).share_detected(&heard_by_alice, 960);
    let carol_hears_alice = ToneDetector::new(48_000, 600.0).share_detected(&heard_by_carol, 960);
    eprintln!(
        "after the re-anchor: alice hears carol {alice_hears_carol:.3} (bob {alice_hears_bob:.3}), carol hears alice {carol_hears_alice:.3}"
    );
    assert!(
        alice_hears_carol >= 0.98,
        "the same call (session and audio port) now hears the new server: {alice_hears_carol}"
    );
    assert!(alice_hears_bob < 0.02, "the old media server is no longer heard: {alice_hears_bob}");
    assert!(carol_hears_alice >= 0.98, "the new server hears alice: {carol_hears_alice}");
    carol_tone.abort();
    carol.close().await.expect("close carol");
    c.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_reoffer_says_sendonly_and_the_answer_recvonly() {
    let c = call(MediaConfig::loopback(), MediaConfig::loopback()).await;
    c.alice.set_direction(Direction::SendOnly).await.expect("hold");
    let offer = c.alice.create_offer().await.expect("hold offer");
    assert_eq!(Direction::of_sdp(&offer), Direction::SendOnly, "{offer}");
    let answer = c.bob.accept_offer(&offer).await.expect("answer");
    assert_eq!(Direction::of_sdp(&answer), Direction::RecvOnly, "{answer}");
    c.alice.accept_answer(&answer).await.expect("apply answer");
    c.alice.set_direction(Direction::SendRecv).await.expect("resume");
    let offer = c.alice.create_offer().await.expect("resume offer");
    assert_eq!(Direction::of_sdp(&offer), Direction::SendRecv);
    c.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswering_turn_server_does_not_hold_up_the_offer() {
    // A TURN server behind a firewall that drops everything: a socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    let addr = silent.local_addr().expect("address");
    let turn =
        IceServer { urls: vec![format!("turn:{addr}?transport=udp")], username: "u".into(), credential: "p".into() };
    let config =
        MediaConfig { ice_servers: vec![turn], gather_timeout: Duration::from_millis(300), ..MediaConfig::loopback() };
    let (session, _port) = MediaSession::new(config).await.expect("session");
    // Unbounded, the offer would wait out the TURN client's retransmissions (39.5 s).
    let offer = timeout(Duration::from_secs(20), session.create_offer())
        .await
        .expect("the offer goes out without waiting for TURN")
        .expect("offer");
    assert!(offer.contains("typ host"), "host candidates are in:\n{offer}");
    assert!(!offer.contains("typ relay"), "no relay from a silent server:\n{offer}");
    assert!(!offer.contains("a=end-of-candidates"), "gathering was still going on when the offer went out:\n{offer}");
    session.close().await.expect("close");
}
