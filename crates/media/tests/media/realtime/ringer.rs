//! The ringtone rings on the separate ringer device (the test session's
//! `warmline_ringer` sink), not on the speaker.

use warmline_media::backend::DeviceEvent;
use warmline_media::device::{DeviceChange, DeviceKind};
use warmline_media::sounds::{Ringer, Sound};
use warmline_media::tone::ToneDetector;

use super::pulse::{NullSink, Recorder, require_session};

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

/// The ringer device is unplugged while it rings: our reopen event names
/// the default that took over, and the ringtone goes on there.
#[test]
fn realtime_unplugging_the_ringer_device_moves_the_ringtone_to_the_default() {
    require_session();
    let mut ringer_sink = NullSink::load("warmline_hotplug_ringer");
    let mut on_ringer = Recorder::start("warmline_hotplug_ringer.monitor");
    let mut ringer =
        Ringer::start(Some("pulseaudio:warmline_hotplug_ringer"), Sound::Ringtone).expect("the ringer device opens");
    // Ringing there first (within one 3 s cycle).
    assert!((0..150).any(|_| rings(&on_ringer.frame())), "the ringtone plays on the chosen ringer");
    drop(on_ringer);

    let mut on_speaker = Recorder::start("warmline_speaker.monitor");
    ringer_sink.unload();
    // Each recorded frame is 20 ms of real audio: the loop is paced by the
    // speaker's monitor, and bounded at 10 s for the OS to report the unplug.
    let mut reopened = None;
    for _ in 0..500 {
        let _ = on_speaker.frame();
        if let Some(event) = ringer.recover().expect("the default output opens") {
            reopened = Some(event);
            break;
        }
    }
    let Some(DeviceEvent::Reopened { direction, from, to, cause }) = reopened else {
        panic!("no reopen event within 10 s of the unplug")
    };
    assert_eq!((direction, from.as_str()), (DeviceKind::Output, "pulseaudio:warmline_hotplug_ringer"));
    assert_eq!(to, "pulseaudio:warmline_speaker", "the system default took over");
    assert!(matches!(cause, DeviceChange::Gone | DeviceChange::Failed), "{cause:?}");
    assert_eq!(ringer.device(), "pulseaudio:warmline_speaker");
    assert!((0..150).any(|_| rings(&on_speaker.frame())), "the ringtone goes on on the default");
}
