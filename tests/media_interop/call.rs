//! Our side of an interop call: a `MediaSession` fed with a tone paced like
//! a microphone, and the share of 20 ms windows in which it hears the far
//! end's tone. Every wait is on an event or a channel, with a deadline.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use warmline_media::session::{AudioPort, MediaEvent};
use warmline_media::tone::{ToneDetector, ToneGenerator};

/// Frames skipped after the first decoded one (ICE, DTLS and the jitter
/// buffer settling), then frames measured: 0.5 s and 3 s.
pub const SETTLE_FRAMES: usize = 25;
pub const MEASURED_FRAMES: usize = 150;

/// Sends a `freq` Hz tone into `input` every 20 ms until the session goes away.
pub fn play_tone(input: mpsc::Sender<Vec<i16>>, freq: f32) -> tokio::task::JoinHandle<()> {
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

/// The first event `want` accepts, within 15 s.
pub async fn wait_for(port: &mut AudioPort, what: &str, want: impl Fn(&MediaEvent) -> bool) -> MediaEvent {
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

/// Share of [`MEASURED_FRAMES`] played-out frames, after [`SETTLE_FRAMES`],
/// in which `freq` is detected.
pub async fn share_heard(port: &mut AudioPort, freq: f32) -> f32 {
    let mut samples = Vec::new();
    let mut frames = 0;
    let collect = async {
        while let Some(frame) = port.output.recv().await {
            frames += 1;
            if frames > SETTLE_FRAMES {
                samples.extend_from_slice(&frame);
            }
            if frames >= SETTLE_FRAMES + MEASURED_FRAMES {
                break;
            }
        }
    };
    timeout(Duration::from_secs(20), collect).await.expect("far-end audio should keep flowing");
    ToneDetector::new(48_000, freq).share_detected(&samples, 960)
}
