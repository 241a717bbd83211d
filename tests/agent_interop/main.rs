//! The agent session end to end: several `warmline_agent::Session`s in this
//! process, each registered with Debian's Kamailio over WebSocket and each
//! sending its own tone through real media (ICE on loopback, DTLS-SRTP,
//! Opus). Who hears whom is checked in the WAV file each agent's speaker
//! writes as it plays, per 20 ms window, with the media crate's Goertzel
//! detector. Test names carry `interop` so nextest runs them alone.

mod cli;
#[path = "../interop/kamailio.rs"]
#[allow(dead_code)]
mod kamailio;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use warmline_agent::session::{AudioInput, AudioOutput};
use warmline_agent::{AgentCommand, AgentEvent, CallState, ChosenState, Config, RegistrationState, Session};
use warmline_agent::{SessionConfig, TransferMode, TransferPhase};
use warmline_media::tone::ToneDetector;

use kamailio::{DOMAIN, Kamailio};
use warmline_e2e::rtpengine::Rtpengine;

/// The failure guard of every wait; nothing here takes near this long.
const GUARD: Duration = Duration::from_secs(30);
/// How long each phase's audio plays before it is measured.
const SPAN: Duration = Duration::from_secs(3);
const FRAME: usize = 960;
/// The WAV header hound writes for 48 kHz mono 16-bit.
const WAV_HEADER: u64 = 44;

const CUSTOMER_HZ: f32 = 600.0;
const AGENT_HZ: f32 = 1000.0;
const EXPERT_HZ: f32 = 1500.0;

struct Agent {
    user: &'static str,
    session: Session,
    events: UnboundedReceiver<AgentEvent>,
    backlog: Vec<AgentEvent>,
    history: Vec<String>,
    heard: PathBuf,
}

impl Agent {
    async fn start(kamailio: &Kamailio, dir: &Path, user: &'static str, tone: f32) -> Agent {
        Self::start_with(kamailio, dir, user, tone, "").await
    }

    /// As [`Agent::start`], with more of the configuration file.
    async fn start_with(kamailio: &Kamailio, dir: &Path, user: &'static str, tone: f32, more: &str) -> Agent {
        let path = dir.join(format!("{user}.toml"));
        let text = format!(
            "acd = \"none\"\n[sip]\nservers = [\"{}\"]\nuser = \"sip:{user}@{DOMAIN}\"\nauth_user = \"{user}\"\n{more}",
            kamailio.ws_url()
        );
        std::fs::write(&path, &text).expect("write config");
        let config = Config::load(&path).expect("config parses");
        let heard = warmline_e2e::artifacts_dir("agent_interop").join(format!("{user}-heard.wav"));
        let session_config = SessionConfig::from_config(
            &config,
            kamailio.password(user),
            AudioInput::Tone(tone),
            AudioOutput::Wav(heard.clone()),
        )
        .expect("session config");
        let (session, events) = Session::start(session_config).await.expect("session starts");
        let mut agent = Agent { user, session, events, backlog: Vec::new(), history: Vec::new(), heard };
        agent
            .wait("registered", |e| match e {
                AgentEvent::Registration { registration: RegistrationState::Registered } => Some(()),
                AgentEvent::Registration { registration: RegistrationState::Failed { reason } } => {
                    panic!("{user}: registration failed: {reason}")
                }
                _ => None,
            })
            .await;
        agent.command(AgentCommand::State { state: ChosenState::Available, reason: None }).await;
        agent
            .wait("available", |e| {
                matches!(e, AgentEvent::State { agent: warmline_agent::AgentState::Available }).then_some(())
            })
            .await;
        agent
    }

    async fn command(&self, command: AgentCommand) {
        let what = format!("{command:?}");
        if let Err(e) = self.session.command(command).await {
            panic!("{}: {what} refused: {e}", self.user);
        }
    }

    /// Waits for the first event (seen already or still to come) `pick` takes.
    async fn wait<T>(&mut self, what: &str, mut pick: impl FnMut(&AgentEvent) -> Option<T>) -> T {
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
                Ok(None) => panic!("{}: events ended while waiting for {what}; saw {:#?}", self.user, self.history),
                Err(_) => panic!("{}: no {what} within {GUARD:?}; saw {:#?}", self.user, self.history),
            }
        }
    }

    async fn incoming(&mut self) -> String {
        self.wait("an incoming call", |e| match e {
            AgentEvent::Incoming { call, .. } => Some(call.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for `call` (or any call, if `None`) to reach `state`; returns its id.
    async fn call_state(&mut self, call: Option<&str>, state: CallState) -> String {
        let what = format!("{call:?} {state:?}");
        self.wait(&what, |e| match e {
            AgentEvent::Call { call: c, state: s, .. } if call.is_none_or(|w| w == c) && *s == state => Some(c.clone()),
            _ => None,
        })
        .await
    }

    async fn ended(&mut self, call: &str) -> String {
        self.wait(&format!("{call} to end"), |e| match e {
            AgentEvent::Call { call: c, state: CallState::Ended { reason }, .. } if c == call => Some(reason.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for a quality report on `call`: media is flowing.
    async fn media_flows(&mut self, call: &str) {
        // Reports from before (a hold, say) say nothing about now.
        self.backlog.retain(|e| !matches!(e, AgentEvent::Quality { .. }));
        self.wait(&format!("media on {call}"), |e| {
            matches!(e, AgentEvent::Quality { call: c, .. } if c == call).then_some(())
        })
        .await;
        self.backlog.retain(|e| !matches!(e, AgentEvent::Quality { .. }));
    }

    async fn transfer(&mut self, phase: TransferPhase) -> Option<String> {
        self.wait(&format!("transfer {phase:?}"), |e| match e {
            AgentEvent::Transfer { phase: p, reason, .. } if *p == phase => Some(reason.clone()),
            AgentEvent::Transfer { phase: TransferPhase::Failed, reason, .. } => panic!("transfer failed: {reason:?}"),
            _ => None,
        })
        .await
    }

    /// Samples written to the speaker file so far.
    fn mark(&self) -> usize {
        let len = std::fs::metadata(&self.heard).map(|m| m.len()).unwrap_or(0);
        (len.saturating_sub(WAV_HEADER) / 2) as usize
    }

    /// The share of 20 ms windows between two marks in which `hz` is heard.
    fn heard(&self, from: usize, to: usize, hz: f32) -> f32 {
        let bytes = std::fs::read(&self.heard).expect("speaker file");
        let samples: Vec<i16> =
            bytes[WAV_HEADER as usize..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let to = to.min(samples.len());
        ToneDetector::new(48_000, hz).share_detected(&samples[from.min(to)..to], FRAME)
    }

    /// Quits and returns every event not waited for.
    async fn quit(mut self) -> Vec<AgentEvent> {
        self.command(AgentCommand::Quit).await;
        while let Some(e) = self.events.recv().await {
            self.backlog.push(e);
        }
        self.backlog
    }
}

/// Lets the agents' audio play for [`SPAN`] and returns each one's marks.
async fn play(agents: &[&Agent]) -> Vec<(usize, usize)> {
    // The first 200 ms after media starts may still hold the jitter
    // buffer's warm-up; the span measured starts after it.
    let skip = 48_000 / 5;
    let starts: Vec<usize> = agents.iter().map(|a| a.mark() + skip).collect();
    tokio::time::sleep(SPAN).await;
    agents.iter().zip(starts).map(|(a, s)| (s, a.mark())).collect()
}

fn assert_hears(who: &Agent, span: (usize, usize), hz: f32, phase: &str) {
    let share = who.heard(span.0, span.1, hz);
    assert!(
        share >= 0.98,
        "{phase}: {} hears {hz} Hz in {:.1}% of 20 ms windows ({} windows), wanted >= 98%",
        who.user,
        share * 100.0,
        (span.1 - span.0) / FRAME
    );
}

fn assert_not_hears(who: &Agent, span: (usize, usize), hz: f32, phase: &str) {
    let share = who.heard(span.0, span.1, hz);
    assert!(share <= 0.02, "{phase}: {} must not hear {hz} Hz, but does in {:.1}% of windows", who.user, share * 100.0);
}

/// A calls B, B answers, both hear each other; A holds (B hears nothing),
/// A resumes (B hears A again); B hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_call_with_tones_hold_resume_and_hangup() {
    let kamailio = Kamailio::start("agent_call");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = Agent::start(&kamailio, dir.path(), "bob", AGENT_HZ).await;

    a.command(AgentCommand::Dial { to: format!("sip:bob@{DOMAIN}") }).await;
    let b_call = b.incoming().await;
    b.command(AgentCommand::Answer { call: None }).await;
    let a_call = a.call_state(None, CallState::Connected).await;
    b.call_state(Some(&b_call), CallState::Connected).await;
    a.media_flows(&a_call).await;
    b.media_flows(&b_call).await;
    let spans = play(&[&a, &b]).await;
    assert_hears(&a, spans[0], AGENT_HZ, "talk");
    assert_hears(&b, spans[1], CUSTOMER_HZ, "talk");

    a.command(AgentCommand::Hold { call: None }).await;
    a.call_state(Some(&a_call), CallState::Held).await;
    b.call_state(Some(&b_call), CallState::RemoteHeld).await;
    let spans = play(&[&b]).await;
    assert_not_hears(&b, spans[0], CUSTOMER_HZ, "on hold");

    a.command(AgentCommand::Resume { call: None }).await;
    a.call_state(Some(&a_call), CallState::Connected).await;
    b.call_state(Some(&b_call), CallState::Connected).await;
    b.media_flows(&b_call).await;
    let spans = play(&[&b]).await;
    assert_hears(&b, spans[0], CUSTOMER_HZ, "after resume");

    b.command(AgentCommand::Hangup { call: None }).await;
    assert_eq!(b.ended(&b_call).await, "local hangup");
    assert_eq!(a.ended(&a_call).await, "remote hangup");
    a.quit().await;
    b.quit().await;
}

/// A (customer) calls B (agent); B warm-transfers to C (expert). During the
/// consult A hears neither B nor C; after completion A and C hear each
/// other and B has no calls left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_warm_transfer_customer_hears_no_consult() {
    let kamailio = Kamailio::start("agent_warm_transfer");
    warm_transfer(&kamailio, None).await;
}

/// The same warm transfer with Debian's rtpengine anchoring every call's
/// media at Kamailio, as an SBC does: the customer, the agent and the expert
/// each do ICE and DTLS-SRTP with rtpengine only, the REFER's new call to the
/// expert gets a new anchor, and who-hears-whom holds in every phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_warm_transfer_with_rtpengine_in_the_media_path() {
    let mut relay = Rtpengine::start().expect("rtpengine starts");
    let kamailio = Kamailio::start_with_media_relay("agent_warm_transfer_rtpengine", relay.ng_addr());
    warm_transfer(&kamailio, Some(&mut relay)).await;
    let anchored = kamailio.anchored();
    assert!(anchored.iter().filter(|m| *m == "INVITE").count() >= 3, "every INVITE was anchored: {anchored:?}");
    assert!(anchored.iter().any(|m| m == "BYE"), "BYE freed the media: {anchored:?}");
}

/// RTP packets the relay (if there is one) has relayed, per call it holds.
async fn relayed(relay: &mut Option<&mut Rtpengine>) -> Vec<(String, i64)> {
    match relay {
        Some(r) => r.relayed().await.unwrap_or_else(|e| panic!("rtpengine query: {e}\n{}", r.log_tail())),
        None => Vec::new(),
    }
}

/// A packet count every phase's audio must add at the relay: both
/// directions for most of [`SPAN`] at 50 packets a second.
const RELAYED_PER_SPAN: i64 = 2 * 50 * 2;

/// Asserts that one of the relay's calls (if there is a relay) carried at
/// least a phase's worth of audio since `before`.
async fn assert_relayed(relay: &mut Option<&mut Rtpengine>, before: &[(String, i64)], phase: &str) {
    if relay.is_none() {
        return;
    }
    let after = relayed(relay).await;
    let grown = after.iter().any(|(id, n)| {
        let was = before.iter().find(|(b, _)| b == id).map_or(0, |(_, n)| *n);
        n - was >= RELAYED_PER_SPAN
    });
    assert!(grown, "{phase}: no call at rtpengine relayed the audio; before {before:?}, after {after:?}");
}

/// A (customer) calls B (agent); B warm-transfers to C (expert), with or
/// without a media relay in the path (then its packet counts are checked
/// in each phase too).
async fn warm_transfer(kamailio: &Kamailio, mut relay: Option<&mut Rtpengine>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = Agent::start(kamailio, dir.path(), "bob", AGENT_HZ).await;
    let mut c = Agent::start(kamailio, dir.path(), "carol", EXPERT_HZ).await;

    a.command(AgentCommand::Dial { to: format!("sip:bob@{DOMAIN}") }).await;
    let b_customer = b.incoming().await;
    b.command(AgentCommand::Answer { call: None }).await;
    let a_call = a.call_state(None, CallState::Connected).await;
    b.call_state(Some(&b_customer), CallState::Connected).await;
    a.media_flows(&a_call).await;
    b.media_flows(&b_customer).await;
    let before = relayed(&mut relay).await;
    let spans = play(&[&a, &b]).await;
    assert_hears(&a, spans[0], AGENT_HZ, "talk");
    assert_hears(&b, spans[1], CUSTOMER_HZ, "talk");
    assert_relayed(&mut relay, &before, "talk").await;

    b.command(AgentCommand::Transfer { to: format!("sip:carol@{DOMAIN}"), mode: TransferMode::Warm, call: None }).await;
    b.transfer(TransferPhase::DiallingExpert).await;
    let c_consult = c.incoming().await;
    c.command(AgentCommand::Answer { call: None }).await;
    b.transfer(TransferPhase::Consulting).await;
    b.call_state(Some(&b_customer), CallState::Held).await;
    a.call_state(Some(&a_call), CallState::RemoteHeld).await;
    c.call_state(Some(&c_consult), CallState::Connected).await;
    c.media_flows(&c_consult).await;
    let b_consult = b
        .wait("B's consult call", |e| match e {
            AgentEvent::Call { call, state: CallState::Connected, .. } if *call != b_customer => Some(call.clone()),
            _ => None,
        })
        .await;
    // With a media relay each leg does ICE and DTLS with it on its own.
    b.media_flows(&b_consult).await;
    let before = relayed(&mut relay).await;
    let spans = play(&[&a, &b, &c]).await;
    assert_relayed(&mut relay, &before, "consult").await;
    assert_hears(&b, spans[1], EXPERT_HZ, "consult");
    assert_hears(&c, spans[2], AGENT_HZ, "consult");
    assert_not_hears(&a, spans[0], EXPERT_HZ, "consult: the customer hears no consult audio");
    assert_not_hears(&a, spans[0], AGENT_HZ, "consult: the customer is on hold");

    b.command(AgentCommand::CompleteTransfer).await;
    b.transfer(TransferPhase::Completed).await;
    b.ended(&b_customer).await;
    let a_new = a.call_state(None, CallState::Connected).await;
    assert_ne!(a_new, a_call, "the customer's new call to the expert");
    a.ended(&a_call).await;
    let c_new = c.call_state(None, CallState::Connected).await;
    assert_eq!(c.ended(&c_consult).await, "replaced");
    a.media_flows(&a_new).await;
    c.media_flows(&c_new).await;
    let before = relayed(&mut relay).await;
    let spans = play(&[&a, &c]).await;
    assert_relayed(&mut relay, &before, "after the transfer").await;
    assert_hears(&a, spans[0], EXPERT_HZ, "after the transfer");
    assert_hears(&c, spans[1], CUSTOMER_HZ, "after the transfer");
    // B's consult was replaced at C: it ends too, and B is free.
    b.wait("B's consult to end", |e| {
        matches!(e, AgentEvent::Call { call, state: CallState::Ended { .. }, .. } if *call != b_customer).then_some(())
    })
    .await;
    b.wait("B back to available", |e| {
        matches!(e, AgentEvent::State { agent: warmline_agent::AgentState::Available }).then_some(())
    })
    .await;

    a.command(AgentCommand::Hangup { call: None }).await;
    c.ended(&c_new).await;
    a.quit().await;
    b.quit().await;
    c.quit().await;
}

/// The customer (`a`) calls the agent (`b`), who answers; returns the
/// customer's and the agent's ids of the call.
async fn customer_with_agent(a: &mut Agent, b: &mut Agent) -> (String, String) {
    a.command(AgentCommand::Dial { to: format!("sip:bob@{DOMAIN}") }).await;
    let b_call = b.incoming().await;
    b.command(AgentCommand::Answer { call: None }).await;
    let a_call = a.call_state(None, CallState::Connected).await;
    b.call_state(Some(&b_call), CallState::Connected).await;
    (a_call, b_call)
}

/// Safe transfer: the expert declines, so the agent is put back with the
/// customer automatically, told why, and they hear each other again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_safe_transfer_returns_to_the_customer_when_the_expert_declines() {
    let kamailio = Kamailio::start("agent_safe_transfer");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = Agent::start(&kamailio, dir.path(), "bob", AGENT_HZ).await;
    let mut c = Agent::start(&kamailio, dir.path(), "carol", EXPERT_HZ).await;
    let (a_call, b_customer) = customer_with_agent(&mut a, &mut b).await;

    b.command(AgentCommand::Transfer { to: format!("sip:carol@{DOMAIN}"), mode: TransferMode::Warm, call: None }).await;
    b.transfer(TransferPhase::DiallingExpert).await;
    b.call_state(Some(&b_customer), CallState::Held).await;
    c.incoming().await;
    c.command(AgentCommand::Reject { call: None }).await;
    let reason = b.transfer(TransferPhase::Returned).await;
    assert_eq!(reason.as_deref(), Some("declined"), "the agent is told why");
    b.call_state(Some(&b_customer), CallState::Connected).await;
    a.call_state(Some(&a_call), CallState::Connected).await;
    a.media_flows(&a_call).await;
    let spans = play(&[&a, &b]).await;
    assert_hears(&a, spans[0], AGENT_HZ, "back with the customer");
    assert_hears(&b, spans[1], CUSTOMER_HZ, "back with the customer");

    b.command(AgentCommand::Hangup { call: None }).await;
    a.ended(&a_call).await;
    a.quit().await;
    b.quit().await;
    c.quit().await;
}

/// Blind transfer: the customer is handed to the expert at once; the agent's
/// call ends and the customer and the expert hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_blind_transfer_connects_customer_and_expert() {
    let kamailio = Kamailio::start("agent_blind_transfer");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = Agent::start(&kamailio, dir.path(), "bob", AGENT_HZ).await;
    let mut c = Agent::start(&kamailio, dir.path(), "carol", EXPERT_HZ).await;
    let (a_call, b_customer) = customer_with_agent(&mut a, &mut b).await;

    b.command(AgentCommand::Transfer { to: format!("sip:carol@{DOMAIN}"), mode: TransferMode::Blind, call: None })
        .await;
    let c_call = c.incoming().await;
    c.command(AgentCommand::Answer { call: None }).await;
    b.transfer(TransferPhase::Completed).await;
    assert_eq!(b.ended(&b_customer).await, "transferred");
    let a_new = a.call_state(None, CallState::Connected).await;
    assert_ne!(a_new, a_call, "the customer's new call to the expert");
    a.ended(&a_call).await;
    c.call_state(Some(&c_call), CallState::Connected).await;
    a.media_flows(&a_new).await;
    c.media_flows(&c_call).await;
    let spans = play(&[&a, &c]).await;
    assert_hears(&a, spans[0], EXPERT_HZ, "after the blind transfer");
    assert_hears(&c, spans[1], CUSTOMER_HZ, "after the blind transfer");

    c.command(AgentCommand::Hangup { call: None }).await;
    a.ended(&a_new).await;
    a.quit().await;
    b.quit().await;
    c.quit().await;
}

/// A caller that transfers the agent (a REFER) to a number the agent's
/// dial policy forbids gets 403: the agent's phone dials nothing, the
/// agent is told, and the call goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_a_refer_to_a_forbidden_number_is_refused_and_nothing_is_dialled() {
    let kamailio = Kamailio::start("agent_refer_policy");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let policy = "[dial_policy]\nallowed = [\"+1425*\"]\n";
    let mut b = Agent::start_with(&kamailio, dir.path(), "bob", AGENT_HZ, policy).await;
    let (a_call, b_call) = customer_with_agent(&mut a, &mut b).await;

    let premium = format!("sip:+19005550100@{DOMAIN}");
    a.command(AgentCommand::Transfer { to: premium, mode: TransferMode::Blind, call: None }).await;
    let told = b
        .wait("the refused transfer reported", |e| match e {
            AgentEvent::Error(p) if p.code == warmline_agent::ErrorCode::DialRefused => Some(p.message.clone()),
            _ => None,
        })
        .await;
    assert!(told.contains("+19005550100"), "the agent reads what was refused: {told}");
    let reason = a.transfer(TransferPhase::Failed).await;
    assert!(reason.as_deref().is_some_and(|r| r.contains("403")), "the caller's REFER got 403: {reason:?}");
    a.media_flows(&a_call).await;
    let spans = play(&[&a, &b]).await;
    assert_hears(&a, spans[0], AGENT_HZ, "after the refused transfer");
    assert_hears(&b, spans[1], CUSTOMER_HZ, "after the refused transfer");
    assert!(
        !b.history.iter().any(|e| e.contains("Dialing") || (e.contains("Call {") && !e.contains(&b_call))),
        "the agent's phone dialled nothing: {:#?}",
        b.history
    );

    a.command(AgentCommand::Hangup { call: None }).await;
    b.ended(&b_call).await;
    a.quit().await;
    b.quit().await;
}

/// With `acd = "none"` nobody routes around an agent who is away: the
/// agent itself answers 486 Busy Here and is not disturbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_an_away_agent_answers_busy() {
    let kamailio = Kamailio::start("agent_away");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Agent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = Agent::start(&kamailio, dir.path(), "bob", AGENT_HZ).await;
    b.command(AgentCommand::State { state: ChosenState::Away, reason: Some("lunch".into()) }).await;
    b.wait("away", |e| {
        matches!(e, AgentEvent::State { agent: warmline_agent::AgentState::Away { reason } } if reason == "lunch")
            .then_some(())
    })
    .await;

    a.command(AgentCommand::Dial { to: format!("sip:bob@{DOMAIN}") }).await;
    let a_call = a.call_state(None, CallState::Dialing).await;
    assert_eq!(a.ended(&a_call).await, "busy");
    // Bob's whole event stream: no call ever rang there.
    let rest = b.quit().await;
    assert!(
        !rest.iter().any(|e| matches!(e, AgentEvent::Incoming { .. } | AgentEvent::Call { .. })),
        "bob was not disturbed: {rest:#?}"
    );
    a.quit().await;
}
