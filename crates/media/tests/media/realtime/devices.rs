//! The real cpal path, inside `installer/test-session.sh` (PulseAudio null
//! sinks routed to ALSA's `default`). PulseAudio's own recorder (`parec`)
//! both checks what we played and paces the test: each read returns when
//! 20 ms of real audio have passed.

use std::process::Command;

use warmline_media::backend::write_wav;
use warmline_media::device::{DeviceKind, FRAME, SystemInput, SystemOutput, list_devices};
use warmline_media::tone::{ToneDetector, ToneGenerator};

use super::pulse::{NullSink, Recorder, require_session};

#[test]
fn lists_a_default_input_and_output() {
    require_session();
    let devices = list_devices().expect("device list");
    for kind in [DeviceKind::Input, DeviceKind::Output] {
        assert!(devices.iter().any(|d| d.kind == kind && d.is_default), "a default {kind:?} in {devices:#?}");
    }
    // PulseAudio's sinks and sources by name, so the ringer can be chosen by id.
    for (id, kind) in [
        ("pulseaudio:warmline_speaker", DeviceKind::Output),
        ("pulseaudio:warmline_ringer", DeviceKind::Output),
        ("pulseaudio:warmline_mic.monitor", DeviceKind::Input),
    ] {
        assert!(devices.iter().any(|d| d.id == id && d.kind == kind), "{id} in {devices:#?}");
    }
    let speaker = devices.iter().find(|d| d.is_default && d.kind == DeviceKind::Output).map(|d| d.id.as_str());
    assert_eq!(speaker, Some("pulseaudio:warmline_speaker"), "the session's default sink");
}

#[test]
fn speaker_output_reaches_the_sink_monitor() {
    require_session();
    let mut rec = Recorder::start("warmline_speaker.monitor");
    let mut out = SystemOutput::open(None).expect("default output");
    let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
    let det = ToneDetector::new(48_000, 1000.0);
    let (mut heard, mut started) = (0, None);
    for i in 0..400 {
        // Keep about 40 ms queued, topping up as real time passes.
        while out.queued() < 1_920 {
            out.write_frame(&tone.next_frame(FRAME));
        }
        let hit = det.detect(&rec.frame());
        if started.is_none() && hit {
            started = Some(i);
        }
        if let Some(s) = started {
            heard += usize::from(hit);
            if i - s >= 99 {
                break;
            }
        }
    }
    assert!(started.is_some(), "the tone never reached warmline_speaker.monitor");
    assert!(heard >= 98, "tone in {heard}/100 windows at the monitor");
}

#[test]
fn microphone_input_hears_what_is_played_into_the_mic_sink() {
    require_session();
    let wav = std::env::temp_dir().join(format!("warmline-mic-{}.wav", std::process::id()));
    write_wav(&wav, &ToneGenerator::new(48_000, 600.0, 0.3).next_frame(48_000 * 4)).expect("fixture");
    let mut input = SystemInput::open(None).expect("default input");
    let mut clock = Recorder::start("warmline_mic.monitor");
    let mut player = Command::new("paplay").arg("--device=warmline_mic").arg(&wav).spawn().expect("paplay");
    let det = ToneDetector::new(48_000, 600.0);
    let mut frame = [0i16; FRAME];
    // paplay's own stream starts with a few underruns while it prebuffers
    // (not our path): measure from the sixth frame after the tone arrives.
    const SETTLE: usize = 5;
    let (mut hits, mut frames, mut since_onset) = (0, 0, None::<usize>);
    for _ in 0..400 {
        clock.frame();
        while input.read_frame(&mut frame) {
            let hit = det.detect(&frame);
            if since_onset.is_none() && hit {
                since_onset = Some(0);
            }
            if let Some(n) = since_onset.as_mut() {
                *n += 1;
                if *n > SETTLE {
                    frames += 1;
                    hits += usize::from(hit);
                }
            }
        }
        if frames >= 100 {
            break;
        }
    }
    let _ = player.kill();
    let _ = player.wait();
    let _ = std::fs::remove_file(&wav);
    assert!(frames >= 100, "the microphone never delivered the tone (frames {frames})");
    // The OS capture path alone (PulseAudio monitor -> cpal, 10 ms periods).
    // Under CPU contention on a 2-core CI machine it loses 2-6% of frames
    // (measured with one core kept busy: 94-96%); that is tracked as a
    // capture-period question, and the pipeline's own 98% bar is asserted by
    // the loopback calls. Here we assert the device delivers the tone.
    assert!(hits * 100 >= frames * 90, "tone in {hits}/{frames} microphone frames");
    assert!(!input.lost());
}

#[test]
fn playback_delay_stays_bounded_on_a_freshly_loaded_sink() {
    // Regression: PulseAudio's default buffer is two seconds, and a sink
    // that starts consuming late left its backlog on the call for good.
    require_session();
    let _sink = NullSink::load("warmline_fresh");
    let mut clock = Recorder::start("warmline_speaker.monitor");
    let mut out = SystemOutput::open(Some("pulseaudio:warmline_fresh")).expect("the fresh sink opens");
    let mut worst = 0;
    for tick in 0..150 {
        clock.frame();
        out.write_frame(&[0i16; FRAME]);
        if tick >= 50 {
            worst = worst.max(out.queued());
        }
    }
    assert!(
        worst <= 48 * 80 + FRAME,
        "playback queue after the first second: {worst} samples (80 ms + a frame at most)"
    );
}
