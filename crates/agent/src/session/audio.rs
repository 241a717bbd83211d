//! The agent's audio task: while a call is up, every 20 ms it reads the
//! microphone (a device, a tone, a WAV file or silence), takes one decoded
//! frame from each call that is live (connected and not held by us), mixes, writes the speaker (or a
//! WAV file, flushed as it plays) and sends each live call its mix. A held
//! call gets silence from us and is not heard: that is what keeps a held
//! customer from hearing a consult.

use std::collections::{BTreeMap, BTreeSet};
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
    /// An incoming call rings: the devices open now, so that answering it
    /// has audio both ways from its first frame. `Remove` with the same key
    /// (the call answered and ended, or never answered) lets them close.
    Ringing(u32),
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
/// an error now. A device opens only while there is something to say or
/// hear (a call, one ringing, a test tone, DTMF feedback, the settings'
/// meter) and closes when there is not: an idle agent holds no stream open
/// and the sound server, the device watchers and this task all sleep.
/// Devices open off the runtime's threads, since the sound server can take a
/// second or two to answer (1.6 to 1.8 s for PulseAudio under the test
/// session); the task goes on mixing meanwhile, with silence standing in.
/// A device that cannot be opened is reported as an error event, and
/// silence stands in for it until the next call tries again. A chosen
/// device that is not there is reported at start, without opening it.
pub(crate) fn spawn(
    input: &AudioInput,
    output: &AudioOutput,
    events: mpsc::UnboundedSender<AgentEvent>,
) -> Result<mpsc::Sender<Control>, warmline_media::Error> {
    let source = (!matches!(input, AudioInput::Device(_))).then(|| open_source(input)).transpose()?;
    let sink = (!matches!(output, AudioOutput::Device(_))).then(|| open_sink(output)).transpose()?;
    let (tx, rx) = mpsc::channel(64);
    let ends = Ends { input: input.clone(), output: output.clone(), source, sink, events };
    ends.check_devices();
    tokio::spawn(run(ends, rx));
    Ok(tx)
}

/// The microphone and speaker as configured, and as opened: a device end
/// is `None` while closed; a tone, file or silence is always open.
struct Ends {
    input: AudioInput,
    output: AudioOutput,
    source: Option<Source>,
    sink: Option<Sink>,
    events: mpsc::UnboundedSender<AgentEvent>,
}

/// Devices opened on a blocking thread, with the choice they were opened for.
type Opened = (Option<Source>, Option<Sink>, AudioInput, AudioOutput);

impl Ends {
    /// Whether a device end is closed.
    fn closed(&self) -> bool {
        self.source.is_none() || self.sink.is_none()
    }

    /// Whether a device end is open (and could be closed).
    fn device_open(&self) -> bool {
        (matches!(self.input, AudioInput::Device(_)) && self.source.is_some())
            || (matches!(self.output, AudioOutput::Device(_)) && self.sink.is_some())
    }

    /// Reports, without opening anything, a chosen device that is not there.
    fn check_devices(&self) {
        use warmline_media::device::{DeviceKind, check_device};
        let mut checks = Vec::new();
        if let AudioInput::Device(id) = &self.input {
            checks.push((id.clone(), DeviceKind::Input, "microphone"));
        }
        if let AudioOutput::Device(id) = &self.output {
            checks.push((id.clone(), DeviceKind::Output, "speaker"));
        }
        if checks.is_empty() {
            return;
        }
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || {
            for (id, kind, what) in checks {
                or_silence(check_device(id.as_deref(), kind), what, &events, ());
            }
        });
    }

    /// Opens the closed ends on a blocking thread.
    fn open(&self) -> tokio::task::JoinHandle<Opened> {
        let (want_source, want_sink) = (self.source.is_none(), self.sink.is_none());
        let (input, output, events) = (self.input.clone(), self.output.clone(), self.events.clone());
        tokio::task::spawn_blocking(move || {
            let source = want_source.then(|| or_silence(open_source(&input), "microphone", &events, Source::Null));
            let sink = want_sink.then(|| or_silence(open_sink(&output), "speaker", &events, Sink::Null));
            (source, sink, input, output)
        })
    }

    /// Takes devices opened for the current choice; anything else is closed.
    fn install(&mut self, (source, sink, input, output): Opened) {
        let (mut stale_source, mut stale_sink) = (None, None);
        match source {
            Some(s) if input == self.input && self.source.is_none() => self.source = Some(s),
            other => stale_source = other,
        }
        match sink {
            Some(s) if output == self.output && self.sink.is_none() => self.sink = Some(s),
            other => stale_sink = other,
        }
        close(stale_source, stale_sink);
    }

    /// Closes the device ends (not a tone or a file).
    fn close_devices(&mut self) {
        let source = matches!(self.input, AudioInput::Device(_)).then(|| self.source.take()).flatten();
        let sink = matches!(self.output, AudioOutput::Device(_)).then(|| self.sink.take()).flatten();
        close(source, sink);
    }
}

/// Closes device streams off the runtime's threads: the sound server has
/// to answer before a stream is gone.
fn close(source: Option<Source>, sink: Option<Sink>) {
    if source.is_some() || sink.is_some() {
        tokio::task::spawn_blocking(move || drop((source, sink)));
    }
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

async fn run(mut ends: Ends, mut control: mpsc::Receiver<Control>) {
    let mut audio = AudioLoop::new(None);
    let mut parties: BTreeMap<u32, Party> = BTreeMap::new();
    let mut ringing: BTreeSet<u32> = BTreeSet::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut ticking = false;
    let mut opening: Option<tokio::task::JoinHandle<Opened>> = None;
    let (mut null_source, mut null_sink) = (Source::Null, Sink::Null);
    let silence = vec![0i16; FRAME];
    let mut to_parties: Vec<Vec<i16>> = Vec::new();
    let mut meter: Option<mpsc::UnboundedSender<f32>> = None;
    let mut peak = 0.0f32;
    let mut ticks = 0u32;
    let mut tone_left = 0u32;
    loop {
        // Something to say or hear keeps the devices open and the clock
        // ticking; nothing does, and the task sleeps until told otherwise.
        // A WAV file being written keeps time even between calls, so a
        // recording's length is the time it covers.
        let busy = !parties.is_empty()
            || !ringing.is_empty()
            || tone_left > 0
            || meter.is_some()
            || audio.playing_local_sound();
        if busy && ends.closed() && opening.is_none() {
            opening = Some(ends.open());
        } else if !busy && opening.is_none() && ends.device_open() {
            ends.close_devices();
        }
        let tick = busy || matches!(ends.sink, Some(Sink::Wav(..)));
        if tick && !ticking {
            // An interval left alone would burst the ticks it missed.
            ticker.reset_immediately();
        }
        ticking = tick;
        tokio::select! {
            c = control.recv() => match c {
                Some(Control::Add { key, input, output }) => {
                    ringing.remove(&key);
                    parties.insert(key, Party { input, output, live: false, last: silence.clone() });
                }
                Some(Control::Ringing(key)) => {
                    ringing.insert(key);
                }
                Some(Control::Remove(key)) => {
                    ringing.remove(&key);
                    parties.remove(&key);
                }
                Some(Control::Live(key, live)) => {
                    if let Some(p) = parties.get_mut(&key) {
                        p.live = live;
                    }
                }
                Some(Control::Mute(on)) => audio.set_muted(on),
                // Only a device can be switched: a tone or file input stays.
                // A closed one opens as the new choice next time.
                Some(Control::Input(id)) => {
                    if matches!(ends.input, AudioInput::Device(_)) {
                        ends.input = AudioInput::Device(id.clone());
                        if matches!(ends.source, Some(Source::System(..))) {
                            match Source::open(&AudioBackend::System { input: id, output: None, ringer: None }) {
                                Ok(s) => ends.source = Some(s),
                                Err(e) => tracing::warn!("switching the microphone: {e}"),
                            }
                        }
                    }
                }
                Some(Control::Output(id)) => {
                    if matches!(ends.output, AudioOutput::Device(_)) {
                        ends.output = AudioOutput::Device(id.clone());
                        if matches!(ends.sink, Some(Sink::System(..))) {
                            match Sink::open(&AudioBackend::System { input: None, output: id, ringer: None }) {
                                Ok(s) => ends.sink = Some(s),
                                Err(e) => tracing::warn!("switching the output: {e}"),
                            }
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
                    stop(ends, opening).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    stop(ends, opening).await;
                    return;
                }
            },
            opened = async { opening.as_mut().expect("guarded by the branch condition").await }, if opening.is_some() => {
                opening = None;
                match opened {
                    Ok(opened) => ends.install(opened),
                    Err(e) => tracing::warn!("opening the audio devices: {e}"),
                }
            }
            _ = ticker.tick(), if ticking => {
                // With no call, a test tone or the meter waits for the
                // devices rather than playing its first seconds to nobody.
                if parties.is_empty() && opening.is_some() {
                    continue;
                }
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
                // While a device is still opening, silence stands in for it.
                let source = ends.source.as_mut().unwrap_or(&mut null_source);
                let sink = ends.sink.as_mut().unwrap_or(&mut null_sink);
                match audio.step(source, sink, &far, &mut to_parties) {
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
                if let Some(Sink::Wav(writer, _)) = &mut ends.sink
                    && let Err(e) = writer.flush()
                {
                    tracing::warn!("flushing the audio output file: {e}");
                }
            }
        }
    }
}

/// Waits for devices being opened, then finishes the output (a WAV file's
/// header) and closes everything.
async fn stop(mut ends: Ends, opening: Option<tokio::task::JoinHandle<Opened>>) {
    if let Some(opening) = opening
        && let Ok(opened) = opening.await
    {
        ends.install(opened);
    }
    drop(ends.source.take());
    if let Some(sink) = ends.sink.take() {
        finish(sink);
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

    /// How many of PulseAudio's `source-outputs` or `sink-inputs` this
    /// process holds, from `pactl`'s own listing.
    fn our_streams(kind: &str) -> usize {
        let out = std::process::Command::new("pactl").args(["list", kind]).output().expect("pactl");
        assert!(out.status.success(), "pactl list {kind}: {}", String::from_utf8_lossy(&out.stderr));
        let me = format!("application.process.id = \"{}\"", std::process::id());
        String::from_utf8_lossy(&out.stdout).matches(&me).count()
    }

    /// Waits up to ten seconds for this process to hold `want` capture and
    /// `want` playback streams.
    async fn streams_become(want: usize, why: &str) {
        let mut held = (usize::MAX, usize::MAX);
        for _ in 0..100 {
            held = (our_streams("source-outputs"), our_streams("sink-inputs"));
            if held == (want, want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{why}: we hold {} capture and {} playback streams, not {want} of each", held.0, held.1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_agent_holds_no_device_open_and_a_call_opens_both_from_its_ring() {
        assert_eq!(
            std::env::var("WARMLINE_TEST_SESSION").as_deref(),
            Ok("1"),
            "run inside installer/test-session.sh: this test reads PulseAudio's list of streams"
        );
        let (events, _events) = mpsc::unbounded_channel();
        let audio = spawn(&AudioInput::Device(None), &AudioOutput::Device(None), events).expect("the audio task");
        tokio::time::sleep(Duration::from_secs(2)).await;
        streams_become(0, "issue #23: with no call the microphone and speaker stay closed").await;

        audio.send(Control::Ringing(7)).await.expect("ringing");
        streams_become(1, "a ringing call opens both devices, so answering it has audio at once").await;
        let (to_call, mut from_us) = mpsc::channel(8);
        let (_to_us, from_call) = mpsc::channel(8);
        audio.send(Control::Add { key: 7, input: to_call, output: from_call }).await.expect("add");
        audio.send(Control::Live(7, true)).await.expect("live");
        let frame = tokio::time::timeout(Duration::from_secs(5), from_us.recv()).await;
        assert!(matches!(frame, Ok(Some(f)) if f.len() == FRAME), "the answered call is sent the mix");
        streams_become(1, "the call keeps both devices open").await;

        audio.send(Control::Remove(7)).await.expect("remove");
        streams_become(0, "issue #23: the last call's end closes the devices").await;

        audio.send(Control::Ringing(8)).await.expect("ringing");
        streams_become(1, "a second ringing call opens them again").await;
        audio.send(Control::Remove(8)).await.expect("remove");
        streams_become(0, "a ring that ends unanswered closes them").await;

        let (done, stopped) = oneshot::channel();
        audio.send(Control::Stop(done)).await.expect("stop");
        stopped.await.expect("stopped");
    }
}
