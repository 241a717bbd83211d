//! libwebrtc as the far end (issue #24): Debian's headless Chromium runs a
//! JsSIP phone (`page/`, npm packages installed by installer/setup.sh) that
//! registers with Debian's Kamailio over WebSocket, as Warmline agent
//! sessions in this process do; the two call each other, hold, resume,
//! send DTMF and transfer with real media (ICE, DTLS-SRTP, Opus).
//!
//! Each party sends its own tone. The agent's speaker is a WAV file
//! measured per 20 ms window (`warmline_e2e::agent`); the page measures
//! the same way in an AudioWorklet on its remote tracks. Every SDP the page
//! sends and receives is printed and kept in
//! `target/test-artifacts/browser_interop/<test>-sdp.txt`, with a one-line
//! summary per SDP (codecs, BUNDLE, rtcp-mux, DTLS role, header
//! extensions). Figures are printed before they are checked, and every
//! check of a phase is made before the test fails, so a failing run still
//! shows every figure. Nextest runs this binary alone (`realtime`).

mod browser;
mod calls;
mod dtmf;
mod hold;
#[path = "../interop/kamailio.rs"]
#[allow(dead_code, reason = "shared with the SIP interop tests; the media relay is not used here")]
mod kamailio;
mod transfer;

use std::time::{Duration, Instant};

use warmline_agent::session::{AudioInput, AudioOutput};
use warmline_agent::{AgentCommand, AgentEvent, CallState, ChosenState, Config, SessionConfig};
use warmline_e2e::agent::{Agent, FRAME};

use browser::{Browser, Source};
use kamailio::{DOMAIN, Kamailio};

/// The browser's tone, whatever part it plays.
const BROWSER_HZ: f32 = 600.0;
/// The agent's tone.
const AGENT_HZ: f32 = 1000.0;
/// The third party's tone (a Warmline session as customer or expert).
const OTHER_HZ: f32 = 1500.0;
/// 48 kHz.
const RATE: usize = 48_000;
/// How long after a change (answer, resume, transfer) the measurement
/// starts: ICE, DTLS and the jitter buffer's warm-up are not what is
/// measured.
const SETTLE: Duration = Duration::from_millis(500);
/// How long each phase is measured.
const SPAN: Duration = Duration::from_secs(3);
/// The share of 20 ms windows a party must be heard in.
const HEARD: f64 = 0.98;
/// A party must not be heard in more than this share (on hold, say).
const SILENT: f64 = 0.02;
/// The agent's reported loss must be under this...
const LOSS_OK: f32 = 1.0;
/// ...in every quality report from this long after a resume on.
const LOSS_RECOVERY: Duration = Duration::from_secs(2);

/// One Kamailio and the directory the agents' configurations live in.
struct World {
    test: &'static str,
    kamailio: Kamailio,
    dir: tempfile::TempDir,
}

impl World {
    fn new(test: &'static str) -> World {
        World { test, kamailio: Kamailio::start(test), dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A Warmline agent session registered as `user`, saying `tone`,
    /// available, its speaker a WAV file.
    async fn agent(&self, user: &str, tone: f32) -> Agent {
        let path = self.dir.path().join(format!("{user}.toml"));
        let text = format!(
            "acd = \"none\"\n[sip]\nservers = [\"{}\"]\nuser = \"sip:{user}@{DOMAIN}\"\nauth_user = \"{user}\"\n",
            self.kamailio.ws_url()
        );
        std::fs::write(&path, text).expect("write config");
        let config = Config::load(&path).expect("config parses");
        let speaker = warmline_e2e::artifacts_dir("browser_interop").join(format!("{}-{user}-heard.wav", self.test));
        let session = SessionConfig::from_config(
            &config,
            self.kamailio.password(user),
            AudioInput::Tone(tone),
            AudioOutput::Wav(speaker),
        )
        .expect("session config");
        let mut agent = Agent::start(user, session).await;
        agent.choose(ChosenState::Available, None).await;
        agent
    }

    /// The browser phone registered as `user`, listening for every tone
    /// used here.
    async fn browser(&self, user: &str) -> Browser {
        self.browser_with(user, Source::Capture).await
    }

    /// The browser phone with its microphone track from `source`.
    async fn browser_with(&self, user: &str, source: Source) -> Browser {
        Browser::start(self.test, &self.kamailio, user, (source, BROWSER_HZ), &[AGENT_HZ, OTHER_HZ]).await
    }
}

fn uri(user: &str) -> String {
    format!("sip:{user}@{DOMAIN}")
}

/// Checks of one test, collected so that every figure is printed and every
/// check made before the test fails.
#[derive(Default)]
struct Verdicts {
    failed: Vec<String>,
}

impl Verdicts {
    fn check(&mut self, ok: bool, what: String) {
        println!("{} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failed.push(what);
        }
    }

    fn finish(self, browser: &Browser) {
        println!("--- SDP summary\n{}", browser.sdp_summary());
        assert!(self.failed.is_empty(), "{} check(s) failed:\n{}", self.failed.len(), self.failed.join("\n"));
    }
}

/// What one phase measured.
#[derive(Debug)]
struct Heard {
    /// Share of the agent's windows with `hears` (the browser's tone, or the
    /// other's).
    agent: f64,
    agent_windows: usize,
    /// Share of the page's windows with the tone it should hear.
    browser: f64,
    browser_windows: usize,
    /// The agent's quality reports on its call during the phase: seconds
    /// since `since`, loss in percent.
    losses: Vec<(f32, f32)>,
}

/// Drops the quality reports the agent received so far: they describe the
/// time before.
async fn forget_quality(agent: &mut Agent) {
    // A zero timeout still takes what is already there: the wait looks at
    // its backlog and the channel before it would block.
    while tokio::time::timeout(
        Duration::ZERO,
        agent.wait("quality", |e| matches!(e, AgentEvent::Quality { .. }).then_some(())),
    )
    .await
    .is_ok()
    {}
}

/// Lets a phase play until the agent's speaker has [`SETTLE`] + [`SPAN`]
/// more and the page has as much more, collecting the agent's quality
/// reports on `call` as they come; measures the agent hearing `agent_hears`
/// and the page hearing `browser_hears` over the last [`SPAN`].
async fn listen(
    agent: &mut Agent,
    call: &str,
    agent_hears: f32,
    browser: &mut Browser,
    browser_hears: f32,
    since: Instant,
) -> Heard {
    let settle = (SETTLE.as_secs_f64() * RATE as f64) as usize;
    let span = (SPAN.as_secs_f64() * RATE as f64) as usize;
    let a = (agent.mark() + settle, agent.mark() + settle + span);
    let b0 = browser.mark().await;
    let b = (b0 + settle / FRAME, b0 + (settle + span) / FRAME);
    let losses = play_until(agent, call, Some(browser), a.1, b.1, since).await;
    let (browser_share, browser_windows) = browser.heard(b, browser_hears).await;
    Heard {
        agent: f64::from(agent.heard(a, agent_hears)),
        agent_windows: (a.1 - a.0) / FRAME,
        browser: browser_share,
        browser_windows,
        losses,
    }
}

/// Waits until the agent's speaker has `agent_to` samples and the page
/// `browser_to` windows, taking the agent's quality reports on `call` as
/// they come (seconds since `since`, loss). The waits on the agent's events
/// pace the loop; the marks are the conditions.
async fn play_until(
    agent: &mut Agent,
    call: &str,
    mut browser: Option<&mut Browser>,
    agent_to: usize,
    browser_to: usize,
    since: Instant,
) -> Vec<(f32, f32)> {
    let wanted = Duration::from_secs_f64(agent_to.saturating_sub(agent.mark()) as f64 / RATE as f64);
    let deadline = Instant::now() + wanted + Duration::from_secs(10);
    let mut losses = Vec::new();
    loop {
        let browser_done = match browser.as_deref_mut() {
            Some(b) => b.mark().await >= browser_to,
            None => true,
        };
        if agent.mark() >= agent_to && browser_done {
            return losses;
        }
        if Instant::now() > deadline {
            let status = match browser.as_deref_mut() {
                Some(b) => b.status().await.to_string(),
                None => String::new(),
            };
            panic!("audio stalled: the agent's speaker at {} of {agent_to} samples; page {status}", agent.mark());
        }
        let report = tokio::time::timeout(
            Duration::from_millis(100),
            agent.wait("a quality report", |e| match e {
                AgentEvent::Quality { call: c, loss_pct, .. } if c == call => Some(*loss_pct),
                _ => None,
            }),
        )
        .await;
        if let Ok(loss) = report {
            let at = since.elapsed().as_secs_f32();
            println!("  agent quality report on {call} at {at:.2} s: loss {loss:.1}%");
            losses.push((at, loss));
        }
    }
}

/// Checks that the Warmline party (`who`: the agent, or the expert or
/// customer session) and the page heard each other in a phase.
fn both_hear(v: &mut Verdicts, phase: &str, heard: &Heard, who: (&str, &str), browser: &str) {
    let (who, agent) = who;
    v.check(
        heard.agent >= HEARD,
        format!(
            "{phase}: {who} hears {agent} in {:.1}% of {} windows (>= {:.0}%)",
            heard.agent * 100.0,
            heard.agent_windows,
            HEARD * 100.0
        ),
    );
    v.check(
        heard.browser >= HEARD,
        format!(
            "{phase}: the browser hears {browser} in {:.1}% of {} windows (>= {:.0}%)",
            heard.browser * 100.0,
            heard.browser_windows,
            HEARD * 100.0
        ),
    );
}

/// Checks that every quality report from [`LOSS_RECOVERY`] after the
/// resume on shows loss under [`LOSS_OK`], and that there was one.
fn loss_recovers(v: &mut Verdicts, phase: &str, heard: &Heard) {
    let late: Vec<&(f32, f32)> = heard.losses.iter().filter(|(t, _)| *t >= LOSS_RECOVERY.as_secs_f32()).collect();
    v.check(
        !late.is_empty() && late.iter().all(|(_, l)| *l < LOSS_OK),
        format!(
            "{phase}: the agent's reported loss is under {LOSS_OK}% from {:?} after the resume on; reports (s, %): {:?}",
            LOSS_RECOVERY, heard.losses
        ),
    );
}

/// Who places the call.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Browser,
    Agent,
}

/// A call between the agent and the browser, connected at both ends:
/// the agent's call id and the page's session number.
async fn connect(agent: &mut Agent, browser: &mut Browser, caller: Caller) -> (String, u64) {
    match caller {
        Caller::Browser => {
            browser.call("call", serde_json::json!([uri(&agent.name)])).await;
            let call = agent.incoming().await;
            agent.command(AgentCommand::Answer { call: Some(call.clone()) }).await;
            agent.call_state(Some(&call), CallState::Connected).await;
            let session = browser.confirmed(None).await;
            (call, session)
        }
        Caller::Agent => {
            agent.command(AgentCommand::Dial { to: uri(&browser.user) }).await;
            let session = browser.incoming().await;
            browser.call("answer", serde_json::json!([session])).await;
            let call = agent.call_state(None, CallState::Connected).await;
            browser.confirmed(Some(session)).await;
            (call, session)
        }
    }
}
