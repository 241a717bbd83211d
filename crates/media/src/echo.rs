//! Echo cancellation and noise suppression, switchable.
//!
//! Choice: WebRTC's AudioProcessing module as PulseAudio repackages it
//! (Debian's `libwebrtc-audio-processing`, the code behind PulseAudio's own
//! `module-echo-cancel`), through the `webrtc-audio-processing` crate. It is
//! the canceller browsers' softphones are measured against, it is
//! maintained by a distribution rather than by us, and linking the system
//! library keeps a long C++ build out of ours. It also carries noise
//! suppression, so one module serves both switches (RNNoise, via
//! `nnnoiseless`, would only remove noise). Its input is 10 ms at 48 kHz;
//! we split our 20 ms frames.
//!
//! Every frame we play goes to [`EchoCanceller::render`] and every frame
//! from the microphone through [`EchoCanceller::capture`], in that order.
//!
//! Windows: Debian's library is built for Linux only and the crate's own
//! bundled build is a long C++ build we keep out, so the Windows build has a
//! pass-through stand-in: the same switches, audio goes through unchanged,
//! [`EchoCanceller::erle_db`] says `None` and [`EchoCanceller::AVAILABLE`]
//! is false. On Windows the usual place for both is the device itself
//! (communications-mode WASAPI endpoints and headsets cancel echo and
//! suppress noise). See docs/windows.md.

#[cfg(not(windows))]
use webrtc_audio_processing as apm;

use crate::Error;

#[cfg(not(windows))]
const SUB: usize = apm::NUM_SAMPLES_PER_FRAME as usize;

/// What to switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoConfig {
    /// Cancel the far end's voice coming back through the microphone.
    pub echo_cancellation: bool,
    /// Suppress steady background noise.
    pub noise_suppression: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        Self { echo_cancellation: true, noise_suppression: true }
    }
}

/// The audio processing module for one microphone and one speaker.
pub struct EchoCanceller {
    #[cfg(not(windows))]
    processor: apm::Processor,
    #[cfg(not(windows))]
    scratch: Vec<f32>,
    config: EchoConfig,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller").field("config", &self.config).finish_non_exhaustive()
    }
}

impl EchoCanceller {
    /// Whether this build really cancels echo and suppresses noise (false on
    /// Windows, where the stand-in passes audio through).
    pub const AVAILABLE: bool = cfg!(not(windows));

    /// The Windows stand-in: keeps the switches, processes nothing.
    #[cfg(windows)]
    pub fn new(config: EchoConfig) -> Result<Self, Error> {
        tracing::info!(
            "echo cancellation and noise suppression are not built into Warmline for Windows: audio passes through"
        );
        Ok(Self { config })
    }

    /// A processor with `config` applied.
    #[cfg(not(windows))]
    pub fn new(config: EchoConfig) -> Result<Self, Error> {
        let init = apm::InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            ..apm::InitializationConfig::default()
        };
        let processor =
            apm::Processor::new(&init).map_err(|e| Error::Codec { what: "audio processing", reason: e.to_string() })?;
        let mut me = Self { processor, scratch: vec![0.0; SUB], config };
        me.set_config(config);
        Ok(me)
    }

    /// Switch echo cancellation and noise suppression on or off mid-call.
    pub fn set_config(&mut self, config: EchoConfig) {
        self.config = config;
        #[cfg(not(windows))]
        self.processor.set_config(apm::Config {
            echo_cancellation: config.echo_cancellation.then_some(apm::EchoCancellation {
                suppression_level: apm::EchoCancellationSuppressionLevel::High,
                enable_extended_filter: true,
                // Device latency is unknown and changes with the device: let it find the delay.
                enable_delay_agnostic: true,
                stream_delay_ms: None,
            }),
            noise_suppression: config
                .noise_suppression
                .then_some(apm::NoiseSuppression { suppression_level: apm::NoiseSuppressionLevel::High }),
            enable_high_pass_filter: true,
            ..apm::Config::default()
        });
    }

    /// The current switches.
    pub fn config(&self) -> EchoConfig {
        self.config
    }

    /// Feed a frame that is about to be played (48 kHz mono, multiple of 10 ms).
    #[cfg(windows)]
    pub fn render(&mut self, _frame: &[i16]) {}

    /// Clean a microphone frame in place (48 kHz mono, multiple of 10 ms).
    #[cfg(windows)]
    pub fn capture(&mut self, _frame: &mut [i16]) {}

    /// Echo return loss enhancement the module itself reports, in dB.
    #[cfg(windows)]
    pub fn erle_db(&self) -> Option<f64> {
        None
    }

    /// Feed a frame that is about to be played (48 kHz mono, multiple of 10 ms).
    #[cfg(not(windows))]
    pub fn render(&mut self, frame: &[i16]) {
        for chunk in frame.chunks_exact(SUB) {
            to_f32(chunk, &mut self.scratch);
            // The module only analyses the render side; an error leaves the echo uncancelled.
            let _ = self.processor.process_render_frame(&mut self.scratch);
        }
    }

    /// Clean a microphone frame in place (48 kHz mono, multiple of 10 ms).
    #[cfg(not(windows))]
    pub fn capture(&mut self, frame: &mut [i16]) {
        for chunk in frame.chunks_exact_mut(SUB) {
            to_f32(chunk, &mut self.scratch);
            if self.processor.process_capture_frame(&mut self.scratch).is_ok() {
                for (s, &v) in chunk.iter_mut().zip(&self.scratch) {
                    *s = (v * 32768.0).clamp(-32768.0, 32767.0) as i16;
                }
            }
        }
    }

    /// Echo return loss enhancement the module itself reports, in dB.
    #[cfg(not(windows))]
    pub fn erle_db(&self) -> Option<f64> {
        self.processor.get_stats().echo_return_loss_enhancement
    }
}

#[cfg(not(windows))]
fn to_f32(pcm: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = f32::from(s) / 32768.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair::Rng;

    /// Speech-like far-end signal: noise shaped by a slow on/off envelope.
    fn far_end(rng: &mut Rng, n: usize, t0: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = t0 + i;
                let envelope = if (t / 9_600) % 3 == 2 { 0.1 } else { 1.0 };
                let noise = (rng.below(2001) as f64 - 1000.0) / 1000.0;
                (noise * 6_000.0 * envelope) as i16
            })
            .collect()
    }

    #[cfg(not(windows))]
    fn power(x: &[i16]) -> f64 {
        x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64
    }

    /// Echo return loss enhancement measured on the signal itself: the
    /// far end is played, comes back through a 30 ms, -6 dB echo path into
    /// the microphone, and we compare echo power before and after.
    #[cfg(not(windows))]
    fn measured_erle(config: EchoConfig) -> f64 {
        let mut aec = EchoCanceller::new(config).expect("apm");
        let mut rng = Rng::new(3);
        let delay = 1_440; // 30 ms
        let mut played: Vec<i16> = vec![0; delay];
        let (mut before, mut after) = (0.0, 0.0);
        let frames = 500; // 10 s
        for k in 0..frames {
            let far = far_end(&mut rng, 960, k * 960);
            aec.render(&far);
            played.extend_from_slice(&far);
            let start = played.len() - 960 - delay;
            let mut mic: Vec<i16> = played[start..start + 960].iter().map(|&s| s / 2).collect();
            let echo = power(&mic);
            aec.capture(&mut mic);
            if k >= frames - 150 {
                before += echo;
                after += power(&mic);
            }
        }
        10.0 * (before / after.max(1e-9)).log10()
    }

    #[test]
    #[cfg(windows)]
    fn the_windows_stand_in_passes_audio_through_and_says_so() {
        let mut aec = EchoCanceller::new(EchoConfig::default()).expect("stand-in");
        const { assert!(!EchoCanceller::AVAILABLE) };
        let mut rng = Rng::new(3);
        let far = far_end(&mut rng, 960, 0);
        aec.render(&far);
        let mut mic = far.clone();
        aec.capture(&mut mic);
        assert_eq!(mic, far);
        assert_eq!(aec.erle_db(), None);
        aec.set_config(EchoConfig { echo_cancellation: false, noise_suppression: true });
        assert_eq!(aec.config(), EchoConfig { echo_cancellation: false, noise_suppression: true });
    }

    #[test]
    #[cfg(not(windows))]
    fn cancels_a_recorded_far_end_echo() {
        let erle = measured_erle(EchoConfig { echo_cancellation: true, noise_suppression: false });
        eprintln!("ERLE with echo cancellation: {erle:.1} dB");
        assert!(erle >= 10.0, "echo return loss enhancement {erle:.1} dB");
        let off = measured_erle(EchoConfig { echo_cancellation: false, noise_suppression: false });
        assert!(off < 3.0, "switched off, the echo passes: {off:.1} dB");
    }

    /// Issue #24: a far end that holds us and resumes (with whatever RTP
    /// timestamp; the jitter buffer re-anchors) needs no reset here. The
    /// canceller sees what the speaker plays, tick by tick on the device's
    /// clock: silence while the far end pauses, its voice again after, so
    /// the echo path (device and room) it estimated still holds.
    #[test]
    #[cfg(not(windows))]
    fn the_echo_is_cancelled_at_once_when_a_paused_far_end_resumes() {
        let mut aec =
            EchoCanceller::new(EchoConfig { echo_cancellation: true, noise_suppression: false }).expect("apm");
        let mut rng = Rng::new(5);
        let delay = 1_440;
        let mut played: Vec<i16> = vec![0; delay];
        let (mut before, mut after) = (0.0, 0.0);
        // 5 s of talk, 6 s held (the speaker plays silence), 3 s of talk.
        for k in 0..700 {
            let far = if (250..550).contains(&k) { vec![0; 960] } else { far_end(&mut rng, 960, k * 960) };
            aec.render(&far);
            played.extend_from_slice(&far);
            let start = played.len() - 960 - delay;
            let mut mic: Vec<i16> = played[start..start + 960].iter().map(|&s| s / 2).collect();
            let echo = power(&mic);
            aec.capture(&mut mic);
            // The first two seconds after the resume.
            if (560..650).contains(&k) {
                before += echo;
                after += power(&mic);
            }
        }
        let erle = 10.0 * (before / after.max(1e-9)).log10();
        eprintln!("ERLE in the 2 s after a 6 s pause: {erle:.1} dB");
        assert!(erle >= 10.0, "the echo must stay cancelled after a resume, without a reset: {erle:.1} dB");
    }
}
