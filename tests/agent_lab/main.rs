//! The agent session end to end against the embedded lab: in-process
//! `warmline_agent::Session`s signed in to `warmline_agent::embedded`'s lab
//! (registrar, ACD, CRM, simulated customers and Teams experts), real
//! WebRTC media on loopback. Every party says its own tone (customer
//! 440 Hz, agent 600 Hz, expert 880 Hz); who hears whom is measured per
//! 20 ms window in the agent's speaker file (written as it plays) and in
//! the recordings the lab's customers and experts write when their call
//! ends. Test names carry `realtime` so nextest runs them alone.

mod hold;
mod routed;
mod routing;
mod transfer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::broadcast;
use warmline_agent::session::{AudioInput, AudioOutput, StoreSetup};
use warmline_agent::{ChosenState, Config, SessionConfig};
use warmline_e2e::agent::{Agent, GUARD, Recording};
use warmline_lab::customer::{CustomerCall, CustomerHandle, CustomerState, Reoffers};
use warmline_lab::expert::ExpertCallState;
use warmline_lab::scenario::{Answer, Audio};
use warmline_lab::sip::SipEvent;
use warmline_lab::{Control, Lab, LabEvent};

const CUSTOMER_HZ: f32 = 440.0;
const AGENT_HZ: f32 = 600.0;
const EXPERT_HZ: f32 = 880.0;
/// How long each phase's audio plays before it is measured.
const SPAN: Duration = Duration::from_secs(3);
/// Windows left out after a party is first heard (ICE, the jitter buffer).
const SETTLE: usize = 25;
/// Windows a phase's measurement in a recording must cover at least.
const MEASURED: usize = 100;

/// The scenario's expert the transfers go to, and its Direct Routing number.
const EXPERT: &str = "Priya Natarajan";
const EXPERT_UPN: &str = "priya.natarajan@northwind.example.com";
const EXPERT_NUMBER: &str = "+442079460101";
/// A customer the lab's CRM knows.
const CUSTOMER: &str = "+442079460018";

/// One real-time test at a time in this binary, even under plain `cargo
/// test` (nextest's `realtime` group does the same across binaries).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A lab with the first agent (1001, Jordan Lee) signed in and available.
struct World {
    lab: Lab,
    control: Control,
    lab_events: broadcast::Receiver<LabEvent>,
    /// Lab events received and not waited for yet.
    lab_backlog: Vec<LabEvent>,
    /// Holds the store; removed with the world.
    _dir: tempfile::TempDir,
    /// Where recordings go (kept after the test for people to listen to).
    artifacts: PathBuf,
    store: PathBuf,
    agent: Agent,
    _alone: tokio::sync::MutexGuard<'static, ()>,
}

impl World {
    /// `test` names the artifacts; `ring_timeout` shortens how long an
    /// expert may ring in a warm transfer.
    async fn start(test: &str, ring_timeout: Option<Duration>) -> World {
        let alone = ONE_AT_A_TIME.lock().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let artifacts = warmline_e2e::artifacts_dir("agent_lab").join(test);
        std::fs::create_dir_all(&artifacts).expect("the artifacts directory");
        let speaker = artifacts.join("agent-heard.wav");
        // Only the test's own customers call: the default scenario's
        // scheduled arrivals are off (one could take a test call's place).
        let lab = Lab::start(warmline_lab::Scenario::default_scenario().without_arrivals())
            .await
            .expect("the embedded lab starts");
        let sign_in = lab.agent_sign_in(Some("1001")).expect("the lab's first agent");
        let (_, mut config) = warmline_agent::embedded::lab_session(
            &sign_in.config,
            sign_in.password,
            &sign_in.crm_token,
            AudioInput::Tone(AGENT_HZ),
            AudioOutput::Wav(speaker),
        )
        .expect("the lab agent's session");
        let store = dir.path().join("warmline.db");
        config.store = Some(StoreSetup { path: store.clone(), encryption: warmline_store::Encryption::Plaintext });
        if let Some(t) = ring_timeout {
            config.transfer_ring_timeout = t;
        }
        let control = lab.control();
        let lab_events = control.subscribe();
        let mut agent = Agent::start("agent 1001", config).await;
        agent.choose(ChosenState::Available, None).await;
        let mut w = World {
            lab,
            control,
            lab_events,
            lab_backlog: Vec::new(),
            _dir: dir,
            artifacts,
            store,
            agent,
            _alone: alone,
        };
        w.available_at_the_acd("1001", true).await;
        w
    }

    /// A customer calls `queue`, saying the customer tone and recording
    /// what it hears to `record` (in the test's directory).
    fn call(&self, from: &str, queue: &str, record: Option<&str>) -> (CustomerHandle, Option<PathBuf>) {
        self.call_saying(from, queue, Audio::ToneHz(f64::from(CUSTOMER_HZ)), record)
    }

    /// A customer call with its own voice (`audio`).
    fn call_saying(
        &self,
        from: &str,
        queue: &str,
        audio: Audio,
        record: Option<&str>,
    ) -> (CustomerHandle, Option<PathBuf>) {
        self.call_answering(from, queue, audio, record, Reoffers::Accept)
    }

    /// A customer call whose phone answers re-offers as `reoffers` says.
    fn call_answering(
        &self,
        from: &str,
        queue: &str,
        audio: Audio,
        record: Option<&str>,
        reoffers: Reoffers,
    ) -> (CustomerHandle, Option<PathBuf>) {
        let record = record.map(|r| self.artifacts.join(r));
        let handle = self
            .control
            .place_call(CustomerCall {
                from: from.into(),
                name: None,
                queue: queue.into(),
                audio,
                record: record.clone(),
                reoffers,
            })
            .expect("the customer calls");
        (handle, record)
    }

    /// The expert's behaviour for the next call: how it answers, its tone,
    /// and a recording of what it hears.
    fn expert(&self, answer: Answer, record: Option<&str>) -> Option<PathBuf> {
        let record = record.map(|r| self.artifacts.join(r));
        self.control.set_answer(EXPERT, answer).expect("the expert");
        self.control.set_audio(EXPERT, Audio::ToneHz(f64::from(EXPERT_HZ))).expect("the expert");
        self.control.set_recording(EXPERT, record.clone()).expect("the expert");
        record
    }

    /// Waits for the lab event (seen already or still to come) `pick` takes.
    async fn lab_event<T>(&mut self, what: &str, mut pick: impl FnMut(&LabEvent) -> Option<T>) -> T {
        if let Some((i, v)) = self.lab_backlog.iter().enumerate().find_map(|(i, e)| pick(e).map(|v| (i, v))) {
            self.lab_backlog.remove(i);
            return v;
        }
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            match tokio::time::timeout_at(deadline, self.lab_events.recv()).await {
                Ok(Ok(event)) => {
                    if let Some(v) = pick(&event) {
                        return v;
                    }
                    if !matches!(event, LabEvent::Presence { .. }) {
                        self.lab_backlog.push(event);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("missed {n} lab events waiting for {what}"),
                Ok(Err(e)) => panic!("lab events ended while waiting for {what}: {e}"),
                Err(_) => panic!("no {what} within {GUARD:?}; the lab said {:#?}", self.lab_backlog),
            }
        }
    }

    /// Waits until the ACD has `agent`'s availability as `available`.
    async fn available_at_the_acd(&mut self, agent: &str, available: bool) {
        self.lab_event(&format!("{agent} available={available} at the ACD"), |e| match e {
            LabEvent::Sip(SipEvent::Availability { agent: a, available: v, .. }) if a == agent && *v == available => {
                Some(())
            }
            _ => None,
        })
        .await;
    }

    /// Hangs up the customer (unless the call has ended already) and reads
    /// what it heard.
    async fn customer_hangs_up(&mut self, customer: &CustomerHandle, record: &Path) -> Recording {
        // An error means the customer's call is over already.
        let _ = self.control.hang_up_customer(&customer.id);
        let id = customer.id.clone();
        let detail = self
            .lab_event("the customer's call to end", |e| match e {
                LabEvent::Customer { customer, state: CustomerState::Ended, detail, .. } if *customer == id => {
                    Some(detail.clone())
                }
                _ => None,
            })
            .await;
        assert!(detail.as_deref().is_some_and(|d| d.contains("recorded")), "the customer's recording: {detail:?}");
        Recording::read("the customer", record)
    }

    /// Waits for the expert's call to end and reads what it heard.
    async fn expert_recording(&mut self, record: &Path) -> Recording {
        let detail = self
            .lab_event("the expert's call to end", |e| match e {
                LabEvent::Expert { expert, state: ExpertCallState::Ended, detail: Some(d), .. }
                    if expert == EXPERT_UPN =>
                {
                    Some(d.clone())
                }
                _ => None,
            })
            .await;
        assert!(detail.contains("recorded"), "the expert's recording: {detail}");
        Recording::read("the expert", record)
    }
}

/// The session configuration of another of the lab's agents, built as
/// `embedded` builds the first one's (no CRM: screen pops stay local).
fn lab_agent(lab: &Lab, extension: &str, audio_in: AudioInput, audio_out: AudioOutput) -> SessionConfig {
    let account = lab.control().sip_account(extension).expect("a lab agent");
    let sip_ws = lab.endpoints().sip_ws.clone().expect("the lab's SIP endpoint");
    let text = format!(
        "acd = \"pidf\"\n[sip]\nservers = [{sip_ws:?}]\nuser = {aor:?}\nauth_user = {ext:?}\n",
        aor = account.aor,
        ext = account.extension,
    );
    let config = Config::parse(Path::new("<lab agent>"), &text).expect("the agent's configuration");
    SessionConfig::from_config(&config, account.password.clone(), audio_in, audio_out).expect("session config")
}
