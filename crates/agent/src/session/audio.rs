//! The agent's audio task: every 20 ms it reads the microphone (a device, a
//! tone, a WAV file or silence), takes one decoded frame from each call that
//! is live (connected and not held by us), mixes, writes the speaker (or a
//! WAV file, flushed as it plays) and sends each live call its mix. A held
//! call gets silence from us and is not heard: that is what keeps a held
//! customer from hearing a consult.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use warmline_media::backend::{AudioBackend, Sink, Source};
use warmline_media::engine::AudioLoop;
use warmline_media::tone::ToneGenerator;

use crate::{AgentEvent, ErrorCode, ErrorPayload};

/// 48 kHz, 20 ms.
const FRAME: usize = 960;
const RATE: u32 = 48_000;
/// Frames queued from a call beyond this are dropped, so the far end's
/// playout clock and ours cannot drift apart into delay.
const MAX_QUEUED: usize = 3;

/// What the agent says into calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AudioInput {
    /// The system microphone (`None`: the default device).
    Device(Option<String>),
    /// A sine at this frequency (Hz), amplitude 0.3 of full scale.
    Tone(f32),
    /// A WAV file, looped.
    Wav(PathBuf),
    /// Nothing.
    Silence,
}

/// Where what the agent hears goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioOutput {
    /// The system speaker or headset (`None`: the default device).
    Device(Option<String>),
    /// A WAV file (48 kHz mono 16-bit), flushed every frame so it can be
    /// read while the call goes on.
    Wav(PathBuf),
    /// Discarded.
    Discard,
}

impl AudioInput {
    /// Parses the CLI's `--audio-in`: `tone:HZ`, `silence`, `default`, or a
    /// path to a WAV file.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(hz) = text.strip_prefix("tone:") {
            return match hz.parse::<f32>() {
                Ok(f) if f > 0.0 && f < 24_000.0 => Ok(AudioInput::Tone(f)),
                _ => Err(format!("`{text}`: the tone must be a frequency in Hz below 24000, like tone:440")),
            };
        }
        match text {
            "silence" => Ok(AudioInput::Silence),
            "default" => Ok(AudioInput::Device(None)),
            "" => Err("an empty audio input; use tone:HZ, a WAV file or silence".into()),
            path => Ok(AudioInput::Wav(PathBuf::from(path))),
        }
    }
}

/// Opens the microphone side. A tone is one second of sine played as a
/// looped buffer (an integer frequency loops without a click).
fn open_source(input: &AudioInput) -> Result<Source, warmline_media::Error> {
    match input {
        AudioInput::Device(id) => Source::open(&AudioBackend::System { input: id.clone(), output: None, ringer: None }),
        AudioInput::Tone(hz) => {
            Ok(Source::Wav { samples: ToneGenerator::new(RATE, *hz, 0.3).next_frame(RATE as usize), pos: 0 })
        }
        AudioInput::Wav(path) => {
            Source::open(&AudioBackend::Wav { input: path.clone(), output: PathBuf::from("/dev/null") })
        }
        AudioInput::Silence => Source::open(&AudioBackend::Null),
    }
}

fn open_sink(output: &AudioOutput) -> Result<Sink, warmline_media::Error> {
    match output {
        AudioOutput::Device(id) => Sink::open(&AudioBackend::System { input: None, output: id.clone(), ringer: None }),
        AudioOutput::Wav(path) => Sink::open(&AudioBackend::Wav { input: PathBuf::new(), output: path.clone() }),
        AudioOutput::Discard => Sink::open(&AudioBackend::Null),
    }
}

/// What the session tells the audio task.
pub(crate) enum Control {
    /// A call's audio ends: frames to send, decoded frames received.
    Add { key: u32, input: mpsc::Sender<Vec<i16>>, output: mpsc::Receiver<Vec<i16>> },
    /// The call ended.
    Remove(u32),
    /// Whether the call is mixed (connected and not held by us).
    Live(u32, bool),
    /// Mute the microphone toward every call.
    Mute(bool),
    /// Use another microphone (a device id; `None`: the system default).
    Input(Option<String>),
    /// Use another headset or speaker.
    Output(Option<String>),
    /// Play a short tone on the output, over whatever else plays.
    TestTone,
    /// The agent's own feedback for DTMF digits sent.
    DtmfFeedback(String),
    /// Report the microphone's level every 60 ms (settings' meter).
    Meter(Option<mpsc::UnboundedSender<f32>>),
    /// Finish the output file and stop.
    Stop(oneshot::Sender<()>),
}

struct Party {
    input: mpsc::Sender<Vec<i16>>,
    output: mpsc::Receiver<Vec<i16>>,
    live: bool,
    last: Vec<i16>,
}

/// Starts the task. A tone, a file or silence opens here, and a bad file is
/// an error now. A device opens in the task, off the runtime's threads: the
/// sound server can take a second or two to answer (1.6 to 1.8 s for
/// PulseAudio under the test session), and registration need not wait for
/// it. Commands wait in the channel meanwhile. A device that cannot be
/// opened is reported as an error event, and silence stands in for it, so
/// the agent still registers and sees its calls.
pub(crate) fn spawn(
    input: &AudioInput,
    output: &AudioOutput,
    events: mpsc::UnboundedSender<AgentEvent>,
) -> Result<mpsc::Sender<Control>, warmline_media::Error> {
    let source = (!matches!(input, AudioInput::Device(_))).then(|| open_source(input)).transpose()?;
    let sink = (!matches!(output, AudioOutput::Device(_))).then(|| open_sink(output)).transpose()?;
    let (tx, rx) = mpsc::channel(64);
    let (input, output) = (input.clone(), output.clone());
    tokio::spawn(async move {
        let (source, sink) = match (source, sink) {
            (Some(source), Some(sink)) => (source, sink),
            (source, sink) => {
                let opened = tokio::task::spawn_blocking(move || {
                    let source =
                        source.unwrap_or_else(|| or_silence(open_source(&input), "microphone", &events, Source::Null));
                    let sink = sink.unwrap_or_else(|| or_silence(open_sink(&output), "speaker", &events, Sink::Null));
                    (source, sink)
                })
                .await;
                match opened {
                    Ok(ends) => ends,
                    Err(e) => {
                        tracing::warn!("opening the audio devices: {e}");
                        return;
                    }
                }
            }
        };
        run(source, sink, rx).await;
    });
    Ok(tx)
}

/// The opened end, or (told to the agent) the silent one.
fn or_silence<T>(
    opened: Result<T, warmline_media::Error>,
    what: &str,
    events: &mpsc::UnboundedSender<AgentEvent>,
    silent: T,
) -> T {
    match opened {
        Ok(end) => end,
        Err(e) => {
            tracing::warn!("the {what} could not be opened: {e}");
            let _ = events.send(AgentEvent::Error(ErrorPayload {
                code: ErrorCode::Media,
                message: format!("the {what} could not be opened ({e}); choose another in Settings"),
            }));
            silent
        }
    }
}

async fn run(mut source: Source, mut sink: Sink, mut control: mpsc::Receiver<Control>) {
    let mut audio = AudioLoop::new(None);
    let mut parties: BTreeMap<u32, Party> = BTreeMap::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let silence = vec![0i16; FRAME];
    let mut to_parties: Vec<Vec<i16>> = Vec::new();
    let mut meter: Option<mpsc::UnboundedSender<f32>> = None;
    let mut peak = 0.0f32;
    let mut ticks = 0u32;
    let mut tone_left = 0u32;
    loop {
        tokio::select! {
            c = control.recv() => match c {
                Some(Control::Add { key, input, output }) => {
                    parties.insert(key, Party { input, output, live: false, last: silence.clone() });
                }
                Some(Control::Remove(key)) => {
                    parties.remove(&key);
                }
                Some(Control::Live(key, live)) => {
                    if let Some(p) = parties.get_mut(&key) {
                        p.live = live;
                    }
                }
                Some(Control::Mute(on)) => audio.set_muted(on),
                // Only a device can be switched: a tone or file input stays.
                Some(Control::Input(id)) => {
                    if matches!(source, Source::System(..)) {
                        match Source::open(&AudioBackend::System { input: id, output: None, ringer: None }) {
                            Ok(s) => source = s,
                            Err(e) => tracing::warn!("switching the microphone: {e}"),
                        }
                    }
                }
                Some(Control::Output(id)) => {
                    if matches!(sink, Sink::System(..)) {
                        match Sink::open(&AudioBackend::System { input: None, output: id, ringer: None }) {
                            Ok(s) => sink = s,
                            Err(e) => tracing::warn!("switching the output: {e}"),
                        }
                    }
                }
                Some(Control::TestTone) => match warmline_media::sounds::Sound::Ringback.player() {
                    Ok(p) => {
                        audio.set_local_sound(Some(p));
                        tone_left = 100;
                    }
                    Err(e) => tracing::warn!("test tone: {e}"),
                },
                Some(Control::DtmfFeedback(digits)) => {
                    audio.set_local_sound(Some(warmline_media::sounds::dtmf_feedback(&digits)));
                    tone_left = 0;
                }
                Some(Control::Meter(m)) => meter = m,
                Some(Control::Stop(done)) => {
                    finish(sink);
                    let _ = done.send(());
                    return;
                }
                None => {
                    finish(sink);
                    return;
                }
            },
            _ = ticker.tick() => {
                // One decoded frame per call and tick; a backlog beyond a
                // few frames is dropped (clock drift, a stall here).
                for p in parties.values_mut() {
                    let mut got = None;
                    while let Ok(frame) = p.output.try_recv() {
                        got = Some(frame);
                        if p.output.len() < MAX_QUEUED {
                            break;
                        }
                    }
                    p.last = match got {
                        Some(f) if f.len() == FRAME => f,
                        _ => silence.clone(),
                    };
                }
                let live: Vec<u32> = parties.iter().filter(|(_, p)| p.live).map(|(k, _)| *k).collect();
                let far: Vec<&[i16]> = live.iter().filter_map(|k| parties.get(k)).map(|p| p.last.as_slice()).collect();
                to_parties.resize_with(far.len(), Vec::new);
                match audio.step(&mut source, &mut sink, &far, &mut to_parties) {
                    Ok(levels) => {
                        if let Some(m) = &meter {
                            peak = peak.max(((levels.mic_dbfs + 60.0) / 60.0).clamp(0.0, 1.0));
                            ticks += 1;
                            if ticks.is_multiple_of(3) {
                                if m.send(peak).is_err() {
                                    meter = None;
                                }
                                peak = 0.0;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("audio step: {e}"),
                }
                // The test tone plays two seconds.
                if tone_left > 0 {
                    tone_left -= 1;
                    if tone_left == 0 {
                        audio.set_local_sound(None);
                    }
                }
                // A call that is not live gets silence rather than nothing:
                // its far end then plays silence at once instead of
                // concealing the last words for a while. A full queue means
                // the call's sender is behind; dropping a frame beats
                // blocking the mix.
                let mut mixes = live.iter().zip(&to_parties);
                let mut next = mixes.next();
                for (k, p) in &parties {
                    let frame = match next {
                        Some((l, mix)) if l == k => {
                            next = mixes.next();
                            mix.clone()
                        }
                        _ => silence.clone(),
                    };
                    let _ = p.input.try_send(frame);
                }
                if let Sink::Wav(writer, _) = &mut sink
                    && let Err(e) = writer.flush()
                {
                    tracing::warn!("flushing the audio output file: {e}");
                }
            }
        }
    }
}

fn finish(sink: Sink) {
    if let Err(e) = sink.finish() {
        tracing::warn!("closing the audio output: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_inputs_parse_as_the_cli_documents() {
        assert_eq!(AudioInput::parse("tone:440"), Ok(AudioInput::Tone(440.0)));
        assert_eq!(AudioInput::parse("silence"), Ok(AudioInput::Silence));
        assert_eq!(AudioInput::parse("in.wav"), Ok(AudioInput::Wav("in.wav".into())));
        assert!(AudioInput::parse("tone:loud").is_err());
        assert!(AudioInput::parse("tone:0").is_err());
    }
}
