//! The real cpal path, inside `installer/test-session.sh` (PulseAudio null
//! sinks routed to ALSA's `default`). PulseAudio's own recorder (`parec`)
//! both checks what we played and paces the test: each read returns when
//! 20 ms of real audio have passed.

use std::io::Read;
use std::process::{Child, Command, Stdio};

use warmline_media::backend::write_wav;
use warmline_media::device::{DeviceKind, FRAME, SystemInput, SystemOutput, list_devices};
use warmline_media::tone::{ToneDetector, ToneGenerator};

fn require_session() {
    assert_eq!(
        std::env::var("WARMLINE_TEST_SESSION").as_deref(),
        Ok("1"),
        "run inside installer/test-session.sh: the real device path needs its PulseAudio null sinks"
    );
}

struct Recorder(Child);

impl Recorder {
    fn start(device: &str) -> Self {
        let child = Command::new("parec")
            .args([&format!("--device={device}"), "--format=s16le", "--rate=48000", "--channels=1", "--raw"])
            .args(["--latency-msec=20"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("parec should start inside the test session");
        Self(child)
    }

    /// Blocks until the next 20 ms of recorded audio arrive.
    fn frame(&mut self) -> Vec<i16> {
        let mut bytes = [0u8; FRAME * 2];
        self.0.stdout.as_mut().expect("piped").read_exact(&mut bytes).expect("parec keeps recording");
        bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn lists_a_default_input_and_output() {
    require_session();
    let devices = list_devices().expect("device list");
    for kind in [DeviceKind::Input, DeviceKind::Output] {
        assert!(devices.iter().any(|d| d.kind == kind && d.is_default), "a default {kind:?} in {devices:#?}");
    }
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
        // Keep about 100 ms queued, topping up as real time passes.
        while out.queued() < 4_800 {
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
    let (mut hits, mut frames) = (0, 0);
    for _ in 0..400 {
        clock.frame();
        while input.read_frame(&mut frame) {
            let hit = det.detect(&frame);
            if hits > 0 || hit {
                frames += 1;
                hits += usize::from(hit);
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
    assert!(hits * 100 >= frames * 98, "tone in {hits}/{frames} microphone frames");
    assert!(!input.lost());
}
