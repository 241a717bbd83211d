//! Hot-plug: the PulseAudio sink or source in use is unloaded mid-call (as
//! a USB headset is pulled out); our own reopen event follows and audio
//! goes on through the system default. What we play is checked from
//! outside, on the sinks' monitors.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use warmline_media::backend::{AudioBackend, DeviceEvent, Sink, Source, write_wav};
use warmline_media::device::{DeviceChange, DeviceKind, FRAME, SystemInput};
use warmline_media::engine::AudioLoop;
use warmline_media::session::{MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::{ToneDetector, ToneGenerator};

use super::pulse::{NullSink, Player, Recorder, require_session};

/// Waits (bounded by `limit` frames of real audio) until `run` consecutive
/// recorded frames carry `freq`.
async fn heard_in_a_row(
    frames: &mut mpsc::UnboundedReceiver<Vec<i16>>,
    freq: f32,
    run: usize,
    limit: usize,
) -> Result<(), String> {
    let det = ToneDetector::new(48_000, freq);
    let mut streak = 0;
    for _ in 0..limit {
        let frame = timeout(Duration::from_secs(5), frames.recv())
            .await
            .map_err(|_| "the recorder stopped".to_owned())?
            .ok_or("the recorder ended")?;
        streak = if det.detect(&frame) { streak + 1 } else { 0 };
        if streak >= run {
            return Ok(());
        }
    }
    Err(format!("{freq} Hz never played for {run} frames in a row within {limit} frames"))
}

/// Once `freq` has played for 5 frames in a row (within `limit` frames:
/// the replacement stream is up), the share of the next `count` frames
/// that carry it; with the number of frames it took to get there.
async fn share_once_steady(
    frames: &mut mpsc::UnboundedReceiver<Vec<i16>>,
    freq: f32,
    count: usize,
    limit: usize,
) -> (f32, usize) {
    let det = ToneDetector::new(48_000, freq);
    let next = async |frames: &mut mpsc::UnboundedReceiver<Vec<i16>>| {
        timeout(Duration::from_secs(5), frames.recv()).await.ok().flatten().expect("the recorder keeps recording")
    };
    let (mut streak, mut waited) = (0, 0);
    while streak < 5 {
        assert!(waited < limit, "{freq} Hz never came back on the default sink");
        streak = if det.detect(&next(frames).await) { streak + 1 } else { 0 };
        waited += 1;
    }
    let mut hits = 0;
    for _ in 0..count {
        hits += usize::from(det.detect(&next(frames).await));
    }
    (hits as f32 / count as f32, waited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_unloading_the_sink_in_use_mid_call_reopens_the_default_and_audio_goes_on() {
    require_session();
    let mut headset = NullSink::load("warmline_hotplug_out");
    let headset_id = "pulseaudio:warmline_hotplug_out";
    let mut on_headset = Recorder::spawn("warmline_hotplug_out.monitor");
    let mut on_speaker = Recorder::spawn("warmline_speaker.monitor");

    // A loopback call: bob's 1 kHz tone reaches alice's audio loop, which
    // plays it on the headset the agent chose.
    let (alice, mut a) = MediaSession::new(MediaConfig::loopback()).await.expect("alice");
    let (bob, b) = MediaSession::new(MediaConfig::loopback()).await.expect("bob");
    let answer = bob.accept_offer(&alice.create_offer().await.expect("offer")).await.expect("answer");
    alice.accept_answer(&answer).await.expect("apply answer");
    let bob_tone = tokio::spawn({
        let input = b.input.clone();
        async move {
            let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            loop {
                ticker.tick().await;
                if input.send(tone.next_frame(FRAME)).await.is_err() {
                    return;
                }
            }
        }
    });

    // Alice's engine on a thread of its own, ticked by each decoded frame,
    // as the agent's audio thread is.
    let backend = AudioBackend::System { input: None, output: Some(headset_id.into()), ringer: None };
    let mut sink = Sink::open(&backend).expect("the headset opens");
    let (events_tx, mut device_events) = mpsc::unbounded_channel::<DeviceEvent>();
    let mut far = std::mem::replace(&mut a.output, mpsc::channel(1).1);
    let to_bob = a.input.clone();
    let engine = std::thread::spawn(move || {
        let mut source = Source::open(&AudioBackend::Null).expect("null mic");
        let mut audio = AudioLoop::new(None);
        let mut to = vec![Vec::new()];
        while let Some(frame) = far.blocking_recv() {
            if audio.step(&mut source, &mut sink, &[&frame], &mut to).is_err() {
                return;
            }
            let _ = to_bob.try_send(to[0].clone());
            for event in audio.take_device_events() {
                let _ = events_tx.send(event);
            }
        }
    });

    let connected = timeout(Duration::from_secs(15), async {
        while let Some(e) = a.events.recv().await {
            if e == MediaEvent::Connected {
                return true;
            }
        }
        false
    });
    assert!(connected.await.unwrap_or(false), "the call connects");
    heard_in_a_row(&mut on_headset, 1000.0, 25, 500).await.expect("the call plays on the chosen headset");

    headset.unload();
    let event = timeout(Duration::from_secs(10), device_events.recv())
        .await
        .expect("our reopen event within 10 s of the unplug")
        .expect("the engine is running");
    let DeviceEvent::Reopened { direction, from, to, cause } = event else { panic!("unexpected {event:?}") };
    assert_eq!((direction, from.as_str()), (DeviceKind::Output, headset_id));
    assert_eq!(to, "pulseaudio:warmline_speaker", "the system default took over");
    assert!(matches!(cause, DeviceChange::Gone | DeviceChange::Failed), "{cause:?}");

    // What the speaker played before our reopen (PulseAudio moves an
    // orphaned stream by itself) does not count: only what follows.
    while on_speaker.try_recv().is_ok() {}
    let (share, waited) = share_once_steady(&mut on_speaker, 1000.0, 100, 250).await;
    eprintln!(
        "after the reopen ({waited} frames to a steady tone), the far end's tone is in {share:.3} of the next 100 \
         20 ms windows on the default sink"
    );
    assert!(share >= 0.98, "audio goes on through the default after the reopen: {share}");
    assert!(device_events.try_recv().is_err(), "one reopen for one unplug");

    bob_tone.abort();
    alice.close().await.expect("close alice");
    bob.close().await.expect("close bob");
    engine.join().expect("the engine thread ends with the call");
}

#[test]
fn realtime_unloading_the_source_in_use_reopens_the_default_microphone() {
    require_session();
    let wav = std::env::temp_dir().join(format!("warmline-hotmic-{}.wav", std::process::id()));
    write_wav(&wav, &ToneGenerator::new(48_000, 600.0, 0.3).next_frame(48_000 * 30)).expect("fixture");
    let mut headset = NullSink::load("warmline_hotplug_in");
    let headset_mic = "pulseaudio:warmline_hotplug_in.monitor";
    // The same voice reaches the headset and the default microphone.
    let _into_headset = Player::start("warmline_hotplug_in", &wav);
    let _into_default = Player::start("warmline_mic", &wav);
    let mut source = Source::System(Box::new(SystemInput::open(Some(headset_mic)).expect("the headset mic opens")));
    let mut clock = Recorder::start("warmline_speaker.monitor");
    let det = ToneDetector::new(48_000, 600.0);
    let mut frame = [0i16; FRAME];

    let mut streak = 0;
    for _ in 0..500 {
        clock.frame();
        while source.read_frame(&mut frame) {
            streak = if det.detect(&frame) { streak + 1 } else { 0 };
        }
        if streak >= 25 {
            break;
        }
    }
    assert!(streak >= 25, "the headset microphone hears the voice before the unplug");

    headset.unload();
    let mut event = None;
    for _ in 0..500 {
        clock.frame();
        while source.read_frame(&mut frame) {}
        if let Some(e) = source.recover().expect("the default microphone opens") {
            event = Some(e);
            break;
        }
    }
    let Some(DeviceEvent::Reopened { direction, from, to, .. }) = event else {
        panic!("no reopen event within 10 s of the unplug: {event:?}")
    };
    assert_eq!((direction, from.as_str()), (DeviceKind::Input, headset_mic));
    assert_eq!(to, "pulseaudio:warmline_mic.monitor", "the system default microphone took over");

    let (mut hits, mut frames) = (0, 0);
    for _ in 0..500 {
        clock.frame();
        while source.read_frame(&mut frame) {
            let hit = det.detect(&frame);
            if frames > 0 || hit {
                frames += 1;
                hits += usize::from(hit);
            }
        }
        if frames >= 100 {
            break;
        }
    }
    let _ = std::fs::remove_file(&wav);
    assert!(frames >= 100, "the default microphone delivered the voice after the reopen ({frames} frames)");
    assert!(hits * 100 >= frames * 98, "voice in {hits}/{frames} frames after the reopen");
}
