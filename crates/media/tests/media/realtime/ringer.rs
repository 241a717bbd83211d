//! The ringtone rings on the separate ringer device (the test session's
//! `warmline_ringer` sink), not on the speaker.

use warmline_media::sounds::{Ringer, Sound};
use warmline_media::tone::ToneDetector;

use super::pulse::{Recorder, require_session};

/// Whether a 20 ms window holds the ringtone's two tones.
fn rings(window: &[i16]) -> bool {
    let quiet = window.iter().all(|&s| s.unsigned_abs() < 300);
    !quiet
        && ToneDetector::new(48_000, 660.0).ratio(window) > 0.3
        && ToneDetector::new(48_000, 880.0).ratio(window) > 0.3
}

#[test]
fn realtime_ringtone_plays_on_the_ringer_device_only() {
    require_session();
    let mut on_ringer = Recorder::start("warmline_ringer.monitor");
    let mut on_speaker = Recorder::start("warmline_speaker.monitor");
    let ringer = Ringer::start(Some("pulseaudio:warmline_ringer"), Sound::Ringtone).expect("the ringer device opens");
    assert_eq!(ringer.device(), "pulseaudio:warmline_ringer");

    // Two cycles of 3 s: 800 ms of ring in each, silence between.
    let (mut ring, mut silent, mut on_the_speaker) = (0, 0, 0);
    for _ in 0..300 {
        let frame = on_ringer.frame();
        if rings(&frame) {
            ring += 1;
        } else if frame.iter().all(|&s| s.unsigned_abs() < 300) {
            silent += 1;
        }
        on_the_speaker += usize::from(rings(&on_speaker.frame()));
    }
    drop(ringer);
    eprintln!("ringer monitor: {ring} ringing and {silent} silent windows of 300; speaker: {on_the_speaker}");
    assert!((70..=90).contains(&ring), "about 1.6 s of ring in 6 s on warmline_ringer: {ring} windows");
    assert!(silent >= 150, "the ringtone's pauses are silent: {silent} windows");
    assert_eq!(on_the_speaker, 0, "the ringtone never reaches the speaker");
}
