//! Call-progress sounds: the ringtone (on the ringer device), ringback and
//! the call-waiting beep (mixed into what the speaker plays).
//!
//! The sound files live in `assets/sounds/` and are built into the crate.
//! They are synthesized here ([`Sound::synthesize`], from [`Cadence`]), so
//! they carry no third-party licence and stay small: only the audible part
//! of one cycle is stored, at 16 kHz (ringtone) or 8 kHz (network tones);
//! the silence that completes a cycle is added in memory. A unit test checks
//! the files against the synthesizer, and rewrites them with
//! `WARMLINE_WRITE_ASSETS=1 cargo test -p warmline-media --lib sounds`.

use std::path::Path;

use crate::Error;
use crate::backend::{DeviceEvent, read_wav_bytes};
use crate::device::{DeviceKind, ENGINE_RATE, LoopingOutput};
use crate::tone::Cadence;

/// One of the sounds Warmline plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sound {
    /// An incoming call, on the ringer device: two soft tones, twice, every 3 s.
    Ringtone,
    /// The far end is ringing (European 425 Hz, 1 s on, 4 s off).
    Ringback,
    /// A second call is waiting: a 300 ms beep every 10 s under the current call.
    CallWaiting,
}

impl Sound {
    /// Every sound, for tests and the asset writer.
    pub const ALL: [Sound; 3] = [Sound::Ringtone, Sound::Ringback, Sound::CallWaiting];

    /// The file name in `assets/sounds/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Sound::Ringtone => "ringtone.wav",
            Sound::Ringback => "ringback.wav",
            Sound::CallWaiting => "call-waiting.wav",
        }
    }

    fn wav(self) -> &'static [u8] {
        match self {
            Sound::Ringtone => include_bytes!("../../../assets/sounds/ringtone.wav"),
            Sound::Ringback => include_bytes!("../../../assets/sounds/ringback.wav"),
            Sound::CallWaiting => include_bytes!("../../../assets/sounds/call-waiting.wav"),
        }
    }

    /// The rate the file is stored at.
    pub fn file_rate(self) -> u32 {
        match self {
            Sound::Ringtone => 16_000,
            Sound::Ringback | Sound::CallWaiting => 8_000,
        }
    }

    /// (audible part, silence after it) in milliseconds.
    fn timing_ms(self) -> (u32, u32) {
        match self {
            Sound::Ringtone => (1000, 2000),
            Sound::Ringback => (1000, 4000),
            Sound::CallWaiting => (300, 9700),
        }
    }

    /// The audible part of one cycle at `rate`, as the files hold it.
    pub fn synthesize(self, rate: u32) -> Vec<i16> {
        let mut cadence = match self {
            Sound::Ringtone => Cadence::ringtone(rate),
            Sound::Ringback => Cadence::ringback(rate),
            Sound::CallWaiting => Cadence::call_waiting(rate),
        };
        let mut out = vec![0; (rate as usize) * self.timing_ms().0 as usize / 1000];
        cadence.fill(&mut out);
        out
    }

    /// One full cycle at 48 kHz mono: the file, then its silence.
    pub fn cycle(self) -> Result<Vec<i16>, Error> {
        let mut samples = read_wav_bytes(self.wav(), Path::new(self.file_name()))?;
        let gap = ENGINE_RATE as usize * self.timing_ms().1 as usize / 1000;
        samples.resize(samples.len() + gap, 0);
        Ok(samples)
    }

    /// A player that mixes this sound, looped, into 20 ms frames.
    pub fn player(self) -> Result<SoundPlayer, Error> {
        Ok(SoundPlayer { samples: self.cycle()?, pos: 0, looped: true })
    }
}

/// The agent's own feedback for DTMF digits sent: each digit's two tones
/// for 100 ms, 60 ms apart, quietly (-20 dBFS each), as a desk phone
/// plays them in the handset.
pub fn dtmf_feedback(digits: &str) -> SoundPlayer {
    let (tone, gap) = (ENGINE_RATE as usize / 10, ENGINE_RATE as usize * 60 / 1000);
    let mut samples = Vec::with_capacity(digits.len() * (tone + gap));
    for (low, high) in digits.chars().filter_map(crate::dtmf::dtmf_frequencies) {
        let mut a = crate::tone::ToneGenerator::new(ENGINE_RATE, low, 0.1);
        let mut b = crate::tone::ToneGenerator::new(ENGINE_RATE, high, 0.1);
        let mut burst = a.next_frame(tone);
        for (s, t) in burst.iter_mut().zip(b.next_frame(tone)) {
            *s = s.saturating_add(t);
        }
        samples.extend_from_slice(&burst);
        samples.resize(samples.len() + gap, 0);
    }
    SoundPlayer { samples, pos: 0, looped: false }
}

/// A sound mixed frame by frame into the speaker path
/// ([`crate::engine::AudioLoop::set_local_sound`]): looping (ringback, the
/// test tone) or once (DTMF feedback).
#[derive(Debug, Clone)]
pub struct SoundPlayer {
    samples: Vec<i16>,
    pos: usize,
    looped: bool,
}

impl SoundPlayer {
    /// Add the next `out.len()` samples to `out`.
    pub fn mix_into(&mut self, out: &mut [i16]) {
        if self.samples.is_empty() {
            return;
        }
        for s in out {
            if self.pos >= self.samples.len() {
                if !self.looped {
                    return;
                }
                self.pos = 0;
            }
            *s = s.saturating_add(self.samples[self.pos]);
            self.pos += 1;
        }
    }

    /// Whether a sound played once has ended.
    pub fn finished(&self) -> bool {
        !self.looped && self.pos >= self.samples.len()
    }
}

/// The ringtone playing on the ringer device until dropped. It needs no
/// engine tick: the device's callback reads it from memory, so it rings
/// before any call audio runs.
#[derive(Debug)]
pub struct Ringer {
    output: LoopingOutput,
    /// One cycle of the sound, to start it again on another device.
    cycle: Vec<i16>,
}

impl Ringer {
    /// Start `sound` on the device `ringer` (an id from
    /// [`crate::device::list_devices`]) or, if `None`, the default output.
    pub fn start(ringer: Option<&str>, sound: Sound) -> Result<Self, Error> {
        let cycle = sound.cycle()?;
        Ok(Self { output: LoopingOutput::open(ringer, &cycle)?, cycle })
    }

    /// The id of the device it rings on.
    pub fn device(&self) -> &str {
        self.output.id()
    }

    /// Hot-plug, as the call audio does it: when the ringer device is gone
    /// or failed (a USB speaker pulled out), the ringtone goes on on the
    /// system default, and the event says so. Called on a timer while it
    /// rings; `None` while nothing changed.
    pub fn recover(&mut self) -> Result<Option<DeviceEvent>, Error> {
        let Some(cause) = self.output.change() else { return Ok(None) };
        let fresh = LoopingOutput::open(None, &self.cycle)?;
        let from = std::mem::replace(&mut self.output, fresh).id().to_owned();
        Ok(Some(DeviceEvent::Reopened { direction: DeviceKind::Output, from, to: self.output.id().to_owned(), cause }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_feedback_plays_each_digit_once() {
        let mut player = dtmf_feedback("5#x");
        let mut out = Vec::new();
        while !player.finished() {
            let mut frame = vec![0i16; 960];
            player.mix_into(&mut frame);
            out.extend_from_slice(&frame);
        }
        // Two digits (x is none): 2 x (100 ms + 60 ms) in 20 ms frames.
        assert_eq!(out.len(), 16 * 960);
        let first = &out[..4800];
        for hz in [770.0, 1336.0] {
            assert!(ToneDetector::new(48_000, hz).ratio(&first[960..1920]) > 0.3, "5 has {hz} Hz");
        }
        let hash = &out[160 * 48..160 * 48 + 4800];
        assert!(ToneDetector::new(48_000, 941.0).ratio(&hash[960..1920]) > 0.3, "# has 941 Hz");
        let mut after = vec![0i16; 960];
        player.mix_into(&mut after);
        assert!(after.iter().all(|&s| s == 0), "played once, then nothing");
    }
    use crate::tone::ToneDetector;

    fn wav_bytes(samples: &[i16], rate: u32) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).expect("wav writer");
        for &s in samples {
            w.write_sample(s).expect("sample");
        }
        w.finalize().expect("finalize");
        out.into_inner()
    }

    #[test]
    fn checked_in_sounds_match_the_synthesizer() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sounds");
        for sound in Sound::ALL {
            let want = sound.synthesize(sound.file_rate());
            if std::env::var_os("WARMLINE_WRITE_ASSETS").is_some() {
                std::fs::write(dir.join(sound.file_name()), wav_bytes(&want, sound.file_rate())).expect("write asset");
                continue;
            }
            let mut reader = hound::WavReader::new(std::io::Cursor::new(sound.wav())).expect("a WAV file");
            assert_eq!(reader.spec().sample_rate, sound.file_rate(), "{sound:?}");
            let got: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>().expect("16-bit samples");
            assert_eq!(got.len(), want.len(), "{sound:?}: regenerate with WARMLINE_WRITE_ASSETS=1");
            // Another libm may round a sine differently: a sample or two of slack.
            let worst = got.iter().zip(&want).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).max();
            assert!(worst.unwrap_or(0) <= 2, "{sound:?} differs from the synthesizer by {worst:?}");
            assert!(sound.wav().len() < 40_000, "{sound:?}: assets stay small");
        }
    }

    #[test]
    fn cycles_are_audible_then_silent_at_48k() {
        let ringback = Sound::Ringback.cycle().expect("ringback");
        assert!(ringback.len().abs_diff(48_000 * 5) < 100, "1 s on, 4 s off: {}", ringback.len());
        let det = ToneDetector::new(48_000, 425.0);
        assert!(det.share_detected(&ringback[..48_000], 960) > 0.95);
        assert!(ringback[48_000 + 960..].iter().all(|&s| s == 0));
        let ring = Sound::Ringtone.cycle().expect("ringtone");
        assert!(ring.len().abs_diff(48_000 * 3) < 100, "{}", ring.len());
        let both = |w: &[i16]| {
            ToneDetector::new(48_000, 660.0).ratio(w) > 0.3 && ToneDetector::new(48_000, 880.0).ratio(w) > 0.3
        };
        let rings = ring.chunks_exact(960).filter(|w| both(w)).count();
        assert!((39..=41).contains(&rings), "800 ms of two-tone ring a cycle: {rings} frames");
    }

    #[test]
    fn the_call_waiting_beep_mixes_under_the_call() {
        let mut player = Sound::CallWaiting.player().expect("call waiting");
        let mut frame = vec![100i16; 960];
        player.mix_into(&mut frame);
        assert!(ToneDetector::new(48_000, 440.0).detect(&frame));
        let mut later = vec![0i16; 960 * 20];
        player.mix_into(&mut later);
        assert!(later[960 * 15..].iter().all(|&s| s == 0), "300 ms of beep, then quiet");
    }
}
