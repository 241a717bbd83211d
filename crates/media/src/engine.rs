//! One 20 ms step of the agent's audio, between the devices and the calls:
//! far-end frames are mixed for the speaker (and shown to the echo
//! canceller), the microphone frame is cleaned, metered, muted if asked,
//! and mixed for each remote party so that in a three-way call the
//! customer hears the agent and the expert, and the expert hears the agent
//! and the customer. No clock here: the caller ticks it every 20 ms.

use crate::Error;
use crate::backend::{DeviceEvent, Sink, Source};
use crate::device::FRAME;
use crate::echo::EchoCanceller;
use crate::level::{LevelMeter, Mixer};
use crate::sounds::SoundPlayer;

/// Levels for the UI after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// Microphone level in dBFS (after processing, before mute).
    pub mic_dbfs: f32,
    /// Whether the agent is speaking.
    pub mic_speaking: bool,
    /// Level of what the speaker plays, in dBFS.
    pub far_dbfs: f32,
    /// Whether anybody on the far side is speaking.
    pub far_speaking: bool,
}

/// The agent's side of the audio: microphone, speaker and the mix.
#[derive(Debug)]
pub struct AudioLoop {
    echo: Option<EchoCanceller>,
    mic_meter: LevelMeter,
    far_meter: LevelMeter,
    mixer: Mixer,
    muted: bool,
    mic: Vec<i16>,
    mixes: Vec<Vec<i16>>,
    /// Ticks on which the microphone had no whole frame ready.
    pub mic_underruns: u64,
    device_events: Vec<DeviceEvent>,
    local_sound: Option<SoundPlayer>,
}

impl AudioLoop {
    /// A loop with optional echo cancellation / noise suppression.
    pub fn new(echo: Option<EchoCanceller>) -> Self {
        Self {
            echo,
            mic_meter: LevelMeter::default(),
            far_meter: LevelMeter::default(),
            mixer: Mixer::new(),
            muted: false,
            mic: vec![0; FRAME],
            mixes: Vec::new(),
            mic_underruns: 0,
            device_events: Vec::new(),
            local_sound: None,
        }
    }

    /// Mute the microphone toward every party.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// A sound only the agent hears, mixed into the speaker (ringback while
    /// the far end rings, the call-waiting beep); `None` stops it.
    pub fn set_local_sound(&mut self, sound: Option<SoundPlayer>) {
        self.local_sound = sound;
    }

    /// Whether a local sound (DTMF feedback, a test tone) is still playing:
    /// the speaker has to stay open until it ends.
    pub fn playing_local_sound(&self) -> bool {
        self.local_sound.is_some()
    }

    /// The echo canceller, to switch it mid-call.
    pub fn echo_mut(&mut self) -> Option<&mut EchoCanceller> {
        self.echo.as_mut()
    }

    /// Devices replaced since the last call (hot-plug), oldest first: the
    /// UI says "headset unplugged, using Speakers".
    pub fn take_device_events(&mut self) -> Vec<DeviceEvent> {
        std::mem::take(&mut self.device_events)
    }

    /// One step. `far[i]` is the latest decoded frame of remote party `i`
    /// (empty if none); `to_parties[i]` receives the frame to send to it.
    /// A device that went away is replaced by the default first.
    pub fn step(
        &mut self,
        source: &mut Source,
        sink: &mut Sink,
        far: &[&[i16]],
        to_parties: &mut [Vec<i16>],
    ) -> Result<Levels, Error> {
        for recovered in [source.recover(), sink.recover()] {
            match recovered {
                Ok(Some(event)) => {
                    tracing::info!("audio device replaced: {event:?}");
                    self.device_events.push(event);
                }
                Ok(None) => {}
                // No default to open right now: the call goes on without
                // that device (silence in, nothing out) and the next tick tries again.
                Err(e) => tracing::debug!("audio device not reopened yet: {e}"),
            }
        }
        if !source.read_frame(&mut self.mic) {
            self.mic.fill(0);
            self.mic_underruns += 1;
        }
        if let Some(echo) = &mut self.echo {
            echo.capture(&mut self.mic);
        }
        let mic_dbfs = self.mic_meter.feed(&self.mic);
        if self.muted {
            self.mic.fill(0);
        }
        // Party 0 is the agent: its mix-minus output is what the speaker plays.
        let parties = far.len() + 1;
        self.mixes.resize_with(parties, || vec![0; FRAME]);
        let mut inputs: Vec<&[i16]> = Vec::with_capacity(parties);
        inputs.push(&self.mic);
        inputs.extend_from_slice(far);
        let mut outputs: Vec<&mut [i16]> = self.mixes.iter_mut().map(|m| m.as_mut_slice()).collect();
        self.mixer.mix_minus(&inputs, &mut outputs);
        if let Some(sound) = &mut self.local_sound {
            sound.mix_into(&mut self.mixes[0]);
            if sound.finished() {
                self.local_sound = None;
            }
        }
        let speaker = &self.mixes[0];
        if let Some(echo) = &mut self.echo {
            echo.render(speaker);
        }
        sink.write_frame(speaker)?;
        let far_dbfs = self.far_meter.feed(speaker);
        for (out, mix) in to_parties.iter_mut().zip(&self.mixes[1..]) {
            out.clear();
            out.extend_from_slice(mix);
        }
        Ok(Levels {
            mic_dbfs,
            mic_speaking: self.mic_meter.speaking() && !self.muted,
            far_dbfs,
            far_speaking: self.far_meter.speaking(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{AudioBackend, read_wav, write_wav};
    use crate::tone::{ToneDetector, ToneGenerator};

    #[test]
    fn three_way_call_through_wav_backends() {
        let dir = std::env::temp_dir().join(format!("warmline-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (mic_path, speaker_path) = (dir.join("mic.wav"), dir.join("speaker.wav"));
        write_wav(&mic_path, &ToneGenerator::new(48_000, 600.0, 0.2).next_frame(48_000)).expect("fixture");
        let backend = AudioBackend::Wav { input: mic_path, output: speaker_path.clone() };
        let (mut source, mut sink) = (Source::open(&backend).expect("mic"), Sink::open(&backend).expect("speaker"));
        let mut customer = ToneGenerator::new(48_000, 1000.0, 0.2);
        let mut expert = ToneGenerator::new(48_000, 1500.0, 0.2);
        let mut audio = AudioLoop::new(None);
        let mut to = vec![Vec::new(), Vec::new()];
        let (mut to_customer, mut to_expert) = (Vec::new(), Vec::new());
        let mut levels = None;
        for _ in 0..50 {
            let (c, e) = (customer.next_frame(FRAME), expert.next_frame(FRAME));
            levels = Some(audio.step(&mut source, &mut sink, &[&c, &e], &mut to).expect("step"));
            to_customer.extend_from_slice(&to[0]);
            to_expert.extend_from_slice(&to[1]);
        }
        sink.finish().expect("close wav");
        let heard = |buf: &[i16], f: f32| ToneDetector::new(48_000, f).ratio(&buf[..FRAME]) > 0.25;
        assert!(heard(&to_customer, 600.0) && heard(&to_customer, 1500.0) && !heard(&to_customer, 1000.0));
        assert!(heard(&to_expert, 600.0) && heard(&to_expert, 1000.0) && !heard(&to_expert, 1500.0));
        let speaker = read_wav(&speaker_path).expect("speaker wav");
        assert!(heard(&speaker, 1000.0) && heard(&speaker, 1500.0) && !heard(&speaker, 600.0), "no sidetone loop");
        let levels = levels.expect("stepped");
        assert!(levels.mic_speaking && levels.far_speaking, "{levels:?}");

        audio.set_muted(true);
        let (c, e) = (customer.next_frame(FRAME), expert.next_frame(FRAME));
        let mut sink = Sink::open(&AudioBackend::Null).expect("null");
        let levels = audio.step(&mut source, &mut sink, &[&c, &e], &mut to).expect("step");
        assert!(!heard(&to[0], 600.0) && !levels.mic_speaking, "muted: the customer no longer hears the agent");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
