//! A headless agent session as the end-to-end tests drive it: commands that
//! must succeed, waits on events with a deadline (events seen early are kept
//! for later waits), and the agent's speaker written to a WAV file as it
//! plays, measured per 20 ms window with the media crate's Goertzel
//! detector. Also reading recordings that other parties (the lab's
//! customers and experts) write when their call ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use warmline_agent::{AgentCommand, AgentEvent, AgentState, CallState, ChosenState, RegistrationState};
use warmline_agent::{Session, SessionConfig, TransferPhase};
use warmline_media::tone::ToneDetector;

/// The failure guard of every wait; nothing here takes near this long.
pub const GUARD: Duration = Duration::from_secs(30);
/// 20 ms at 48 kHz.
pub const FRAME: usize = 960;
/// The WAV header hound writes for 48 kHz mono 16-bit.
const WAV_HEADER: u64 = 44;

/// One agent session and what it reported.
pub struct Agent {
    /// A name for failure messages.
    pub name: String,
    /// The session.
    pub session: Session,
    events: UnboundedReceiver<AgentEvent>,
    backlog: Vec<AgentEvent>,
    history: Vec<String>,
    /// The agent's speaker file, when `audio_out` is a WAV file.
    pub speaker: Option<PathBuf>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("name", &self.name).field("speaker", &self.speaker).finish_non_exhaustive()
    }
}

impl Agent {
    /// Starts the session and waits until it is registered.
    pub async fn start(name: &str, config: SessionConfig) -> Agent {
        let speaker = match &config.audio_out {
            warmline_agent::session::AudioOutput::Wav(p) => Some(p.clone()),
            _ => None,
        };
        let (session, events) = Session::start(config).await.unwrap_or_else(|e| panic!("{name}: session starts: {e}"));
        let mut agent =
            Agent { name: name.to_owned(), session, events, backlog: Vec::new(), history: Vec::new(), speaker };
        let who = agent.name.clone();
        agent
            .wait("registered", |e| match e {
                AgentEvent::Registration { registration: RegistrationState::Registered } => Some(()),
                AgentEvent::Registration { registration: RegistrationState::Failed { reason } } => {
                    panic!("{who}: registration failed: {reason}")
                }
                _ => None,
            })
            .await;
        agent
    }

    /// Chooses a state and waits until the session shows it.
    pub async fn choose(&mut self, state: ChosenState, reason: Option<&str>) {
        self.command(AgentCommand::State { state, reason: reason.map(str::to_owned) }).await;
        self.wait(&format!("{state:?}"), |e| match (e, state) {
            (AgentEvent::State { agent: AgentState::Available }, ChosenState::Available)
            | (AgentEvent::State { agent: AgentState::Away { .. } }, ChosenState::Away)
            | (AgentEvent::State { agent: AgentState::Offline }, ChosenState::Offline) => Some(()),
            _ => None,
        })
        .await;
    }

    /// Runs a command that must succeed.
    pub async fn command(&self, command: AgentCommand) {
        let what = format!("{command:?}");
        if let Err(e) = self.session.command(command).await {
            panic!("{}: {what} refused: {e}", self.name);
        }
    }

    /// Waits for the first event (seen already or still to come) `pick` takes.
    pub async fn wait<T>(&mut self, what: &str, mut pick: impl FnMut(&AgentEvent) -> Option<T>) -> T {
        if let Some((i, v)) = self.backlog.iter().enumerate().find_map(|(i, e)| pick(e).map(|v| (i, v))) {
            self.backlog.remove(i);
            return v;
        }
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    if !matches!(event, AgentEvent::Quality { .. }) {
                        self.history.push(format!("{event:?}"));
                    }
                    if let Some(v) = pick(&event) {
                        return v;
                    }
                    self.backlog.push(event);
                }
                Ok(None) => panic!("{}: events ended while waiting for {what}; saw {:#?}", self.name, self.history),
                Err(_) => panic!("{}: no {what} within {GUARD:?}; saw {:#?}", self.name, self.history),
            }
        }
    }

    /// Waits for a ringing call; returns its id.
    pub async fn incoming(&mut self) -> String {
        self.wait("an incoming call", |e| match e {
            AgentEvent::Incoming { call, .. } => Some(call.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for `call` (or any call, if `None`) to reach `state`; returns its id.
    pub async fn call_state(&mut self, call: Option<&str>, state: CallState) -> String {
        let what = format!("{call:?} {state:?}");
        self.wait(&what, |e| match e {
            AgentEvent::Call { call: c, state: s, .. } if call.is_none_or(|w| w == c) && *s == state => Some(c.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for `call` to end; returns why.
    pub async fn ended(&mut self, call: &str) -> String {
        self.wait(&format!("{call} to end"), |e| match e {
            AgentEvent::Call { call: c, state: CallState::Ended { reason }, .. } if c == call => Some(reason.clone()),
            _ => None,
        })
        .await
    }

    /// Asks for the call history matching `query` and waits for it.
    pub async fn history(&mut self, query: &str) -> Vec<warmline_agent::HistoryEntry> {
        self.command(AgentCommand::History { query: query.into() }).await;
        self.wait("the history", |e| match e {
            AgentEvent::History { calls, .. } => Some(calls.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for a quality report on `call` from now on: media is flowing.
    pub async fn media_flows(&mut self, call: &str) {
        // Reports from before (a hold, say) say nothing about now.
        self.backlog.retain(|e| !matches!(e, AgentEvent::Quality { .. }));
        self.wait(&format!("media on {call}"), |e| {
            matches!(e, AgentEvent::Quality { call: c, .. } if c == call).then_some(())
        })
        .await;
        self.backlog.retain(|e| !matches!(e, AgentEvent::Quality { .. }));
    }

    /// Waits for a transfer phase (a `failed` phase fails the test unless
    /// it is the one waited for); returns its reason.
    pub async fn transfer(&mut self, phase: TransferPhase) -> Option<String> {
        self.wait(&format!("transfer {phase:?}"), |e| match e {
            AgentEvent::Transfer { phase: p, reason, .. } if *p == phase => Some(reason.clone()),
            AgentEvent::Transfer { phase: TransferPhase::Failed, reason, .. } => panic!("transfer failed: {reason:?}"),
            _ => None,
        })
        .await
    }

    /// Waits for the agent's state to become `Available`.
    pub async fn shows_available(&mut self) {
        self.wait("available", |e| matches!(e, AgentEvent::State { agent: AgentState::Available }).then_some(())).await;
    }

    /// Samples written to the speaker file so far.
    pub fn mark(&self) -> usize {
        let Some(path) = &self.speaker else { return 0 };
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        (len.saturating_sub(WAV_HEADER) / 2) as usize
    }

    /// The share of 20 ms windows between two marks in which `hz` is heard.
    pub fn heard(&self, span: Span, hz: f32) -> f32 {
        let path = self.speaker.as_ref().expect("the agent's speaker is a WAV file");
        let bytes = std::fs::read(path).expect("speaker file");
        let samples: Vec<i16> =
            bytes[WAV_HEADER as usize..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let to = span.1.min(samples.len());
        detector(hz).share_detected(&samples[span.0.min(to)..to], FRAME)
    }

    /// The events received and not waited for yet (quality reports aside).
    pub fn unclaimed(&self) -> impl Iterator<Item = &AgentEvent> {
        self.backlog.iter().filter(|e| !matches!(e, AgentEvent::Quality { .. }))
    }

    /// Quits and returns every event not waited for.
    pub async fn quit(mut self) -> Vec<AgentEvent> {
        self.command(AgentCommand::Quit).await;
        while let Some(e) = self.events.recv().await {
            self.backlog.push(e);
        }
        self.backlog
    }
}

/// The detector every check here uses: `hz` holds at least 30% of a 20 ms
/// window's energy. One voice alone holds nearly all of it, and each of two
/// mixed voices (a conference) about half, so both count as heard, while
/// bleed from another call stays far below.
fn detector(hz: f32) -> ToneDetector {
    ToneDetector::new(48_000, hz).with_min_ratio(0.3)
}

/// A stretch of the agent's speaker file, in samples.
pub type Span = (usize, usize);

/// Lets the agents' audio play for `span` and returns each one's marks,
/// leaving out the first 200 ms (the jitter buffer's warm-up after a change).
pub async fn play(agents: &[&Agent], span: Duration) -> Vec<Span> {
    let skip = 48_000 / 5;
    let starts: Vec<usize> = agents.iter().map(|a| a.mark() + skip).collect();
    tokio::time::sleep(span).await;
    agents.iter().zip(starts).map(|(a, s)| (s, a.mark())).collect()
}

/// Asserts that `who` hears `hz` in at least 98% of the span's windows.
pub fn assert_hears(who: &Agent, span: Span, hz: f32, phase: &str) {
    let share = who.heard(span, hz);
    assert!(
        share >= 0.98,
        "{phase}: {} hears {hz} Hz in {:.1}% of 20 ms windows ({} windows), wanted >= 98%",
        who.name,
        share * 100.0,
        (span.1.saturating_sub(span.0)) / FRAME
    );
}

/// Asserts that `who` hears `hz` in at most 2% of the span's windows.
pub fn assert_not_hears(who: &Agent, span: Span, hz: f32, phase: &str) {
    let share = who.heard(span, hz);
    assert!(share <= 0.02, "{phase}: {} must not hear {hz} Hz, but does in {:.1}% of windows", who.name, share * 100.0);
}

/// A recording (a lab customer's or expert's), as 20 ms windows. It holds
/// the frames the party decoded, so a stretch without packets (Opus DTX
/// in silence, a hold) leaves no windows: positions in it are not times.
pub struct Recording {
    /// Whose, for messages.
    pub who: String,
    samples: Vec<i16>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").field("who", &self.who).field("windows", &self.windows()).finish()
    }
}

impl Recording {
    /// Reads a WAV file.
    pub fn read(who: &str, path: &Path) -> Recording {
        let samples = warmline_media::backend::read_wav(path)
            .unwrap_or_else(|e| panic!("{who}'s recording {}: {e}", path.display()));
        Recording { who: who.to_owned(), samples }
    }

    /// How many whole windows it holds.
    pub fn windows(&self) -> usize {
        self.samples.len() / FRAME
    }

    fn window(&self, i: usize) -> &[i16] {
        &self.samples[i * FRAME..(i + 1) * FRAME]
    }

    /// The first window at or after `from` that starts `run` windows in a
    /// row in which `hz` is heard: one stray window decides nothing.
    pub fn first(&self, hz: f32, from: usize, run: usize) -> Option<usize> {
        self.first_run(hz, from, run, true)
    }

    /// The first window at or after `from` that starts `run` windows in a
    /// row in which `hz` is not heard.
    pub fn first_without(&self, hz: f32, from: usize, run: usize) -> Option<usize> {
        self.first_run(hz, from, run, false)
    }

    fn first_run(&self, hz: f32, from: usize, run: usize, heard: bool) -> Option<usize> {
        let d = detector(hz);
        let mut start = None;
        for i in from..self.windows() {
            if d.detect(self.window(i)) == heard {
                let s = *start.get_or_insert(i);
                if i + 1 - s >= run.max(1) {
                    return Some(s);
                }
            } else {
                start = None;
            }
        }
        None
    }

    /// How many windows `hz` is heard in, in the whole recording.
    pub fn count(&self, hz: f32) -> usize {
        let d = detector(hz);
        (0..self.windows()).filter(|&i| d.detect(self.window(i))).count()
    }

    /// The share of windows in `from..to` in which `hz` is heard.
    pub fn share(&self, from: usize, to: usize, hz: f32) -> f32 {
        let to = to.min(self.windows());
        if from >= to {
            return 0.0;
        }
        let d = detector(hz);
        (from..to).filter(|&i| d.detect(self.window(i))).count() as f32 / (to - from) as f32
    }

    /// Asserts that `hz` is heard in at least 98% of `from..to`, which must
    /// hold at least `min` windows.
    pub fn assert_hears(&self, from: usize, to: usize, hz: f32, min: usize, phase: &str) {
        let to = to.min(self.windows());
        let n = to.saturating_sub(from);
        assert!(n >= min, "{phase}: {}'s recording has {n} windows to measure, wanted >= {min}", self.who);
        let share = self.share(from, to, hz);
        assert!(
            share >= 0.98,
            "{phase}: {} hears {hz} Hz in {:.1}% of {n} windows, wanted >= 98%",
            self.who,
            share * 100.0
        );
    }

    /// Asserts that `hz` is heard in at most 2% of `from..to`.
    pub fn assert_not_hears(&self, from: usize, to: usize, hz: f32, phase: &str) {
        let share = self.share(from, to, hz);
        assert!(
            share <= 0.02,
            "{phase}: {} must not hear {hz} Hz, but does in {:.1}% of windows {from}..{to}",
            self.who,
            share * 100.0
        );
    }
}
