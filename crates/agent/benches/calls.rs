//! Sequential lab calls through the agent session, each warm-transferred to
//! an expert who answers at once: `cargo bench -p warmline-agent --features
//! lab --bench calls` (`CALLS`, default 200). Everything runs in this
//! process: the embedded lab (ACD, simulated customer and expert with real
//! WebRTC media; the default scenario without its scheduled arrivals, so
//! the bench's customer is the only caller) and one agent session saying
//! 600 Hz; the customer says 440 Hz, the expert 880 Hz.
//!
//! Definitions (printed with the figures):
//! * call setup: from placing the customer's call (its INVITE carries the
//!   offer) to two-way audio, the later of the agent first hearing the
//!   customer (the first 20 ms window with 440 Hz in the agent's speaker
//!   file, which is written one frame per 20 ms tick and so maps to the
//!   clock) and the customer first hearing the agent (its recording holds
//!   the frames it decoded, contiguous while the agent talks: the 600 Hz
//!   windows counted back from when the agent put it on hold);
//! * transfer completion: from `complete_transfer` to the customer's first
//!   frame of the expert (the 880 Hz windows of its recording counted back
//!   from the end of its call);
//! * CPU seconds per call: user + system time of the whole process (lab,
//!   parties and agent) over the run (`/proc/self/stat`, the counters
//!   getrusage(RUSAGE_SELF) reports), divided by the calls;
//! * RSS growth: VmRSS after the last call less after the first.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};
use warmline_agent::session::{AudioInput, AudioOutput, StoreSetup};
use warmline_agent::{AgentCommand, AgentEvent, CallState, ChosenState, RegistrationState};
use warmline_agent::{Session, TransferMode, TransferPhase};
use warmline_lab::customer::{CustomerCall, CustomerState};
use warmline_lab::scenario::{Answer, Audio};
use warmline_lab::sip::SipEvent;
use warmline_lab::{Control, LabEvent};
use warmline_media::tone::ToneDetector;

const FRAME: usize = 960;
const RATE: f64 = 48_000.0;
const WAV_HEADER: u64 = 44;
const CUSTOMER_HZ: f32 = 440.0;
const AGENT_HZ: f32 = 600.0;
const EXPERT_HZ: f32 = 880.0;
const EXPERT: &str = "Priya Natarajan";
const EXPERT_NUMBER: &str = "+442079460101";
const CUSTOMER: &str = "+442079460018";
/// Every wait's deadline; a call that misses one counts as failed.
const GUARD: Duration = Duration::from_secs(30);
/// How long the customer and the expert talk before the customer hangs up.
const TALK: Duration = Duration::from_millis(600);

type Fallible<T> = Result<T, String>;

// What the app and the CLI run on: the bench's memory figures are theirs.
#[global_allocator]
static ALLOCATOR: warmline_agent::allocator::Allocator = warmline_agent::allocator::ALLOCATOR;

struct Agent {
    session: Session,
    events: mpsc::UnboundedReceiver<AgentEvent>,
    backlog: Vec<AgentEvent>,
}

impl Agent {
    async fn command(&self, command: AgentCommand) -> Fallible<()> {
        let what = format!("{command:?}");
        self.session.command(command).await.map_err(|e| format!("{what}: {e}"))
    }

    async fn wait<T>(&mut self, what: &str, mut pick: impl FnMut(&AgentEvent) -> Option<T>) -> Fallible<T> {
        if let Some((i, v)) = self.backlog.iter().enumerate().find_map(|(i, e)| pick(e).map(|v| (i, v))) {
            self.backlog.remove(i);
            return Ok(v);
        }
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => match pick(&e) {
                    Some(v) => return Ok(v),
                    None if matches!(e, AgentEvent::Quality { .. }) => {}
                    None => self.backlog.push(e),
                },
                Ok(None) => return Err(format!("the session ended waiting for {what}")),
                Err(_) => return Err(format!("no {what} within {GUARD:?}")),
            }
        }
    }

    async fn call_state(&mut self, call: Option<&str>, state: CallState) -> Fallible<String> {
        self.wait(&format!("{call:?} {state:?}"), |e| match e {
            AgentEvent::Call { call: c, state: s, .. } if call.is_none_or(|w| w == c) && *s == state => Some(c.clone()),
            _ => None,
        })
        .await
    }

    async fn transfer(&mut self, phase: TransferPhase) -> Fallible<()> {
        self.wait(&format!("transfer {phase:?}"), |e| match e {
            AgentEvent::Transfer { phase: p, .. } if *p == phase => Some(Ok(())),
            AgentEvent::Transfer { phase: p @ (TransferPhase::Failed | TransferPhase::Returned), reason, .. } => {
                Some(Err(format!("transfer {p:?}: {reason:?}")))
            }
            _ => None,
        })
        .await?
    }
}

async fn lab_event<T>(
    events: &mut broadcast::Receiver<LabEvent>,
    what: &str,
    mut pick: impl FnMut(&LabEvent) -> Option<T>,
) -> Fallible<T> {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) => {
                if let Some(v) = pick(&e) {
                    return Ok(v);
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => return Err(format!("lab events: {e}")),
            Err(_) => return Err(format!("no {what} within {GUARD:?}")),
        }
    }
}

/// Samples in the agent's speaker file so far.
fn mark(path: &Path) -> usize {
    (std::fs::metadata(path).map(|m| m.len()).unwrap_or(0).saturating_sub(WAV_HEADER) / 2) as usize
}

/// The speaker file's samples from `from` on.
fn samples_from(path: &Path, from: usize) -> Vec<i16> {
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path)
        && f.seek(SeekFrom::Start(WAV_HEADER + from as u64 * 2)).is_ok()
    {
        let _ = f.read_to_end(&mut bytes);
    }
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// The first window starting three in a row with `hz`.
fn first_window(samples: &[i16], hz: f32) -> Option<usize> {
    let d = ToneDetector::new(48_000, hz);
    let hits: Vec<bool> = samples.chunks_exact(FRAME).map(|w| d.detect(w)).collect();
    hits.windows(3).position(|w| w.iter().all(|h| *h))
}

fn count_windows(samples: &[i16], hz: f32) -> usize {
    let d = ToneDetector::new(48_000, hz);
    samples.chunks_exact(FRAME).filter(|w| d.detect(w)).count()
}

/// How long after the first quality report the customer's voice may take.
const AUDIO_LIMIT: Duration = Duration::from_secs(5);

/// A setup slower than this (the target) is described on stderr.
const SLOW: Duration = Duration::from_millis(150);

fn frames(n: usize) -> Duration {
    Duration::from_secs_f64((n * FRAME) as f64 / RATE)
}

struct Figures {
    setup: Duration,
    completion: Duration,
}

/// One call: routed, answered, warm-transferred, completed, hung up.
async fn one_call(
    agent: &mut Agent,
    control: &Control,
    lab: &mut broadcast::Receiver<LabEvent>,
    speaker: &Path,
    record: &Path,
) -> Fallible<Figures> {
    let _ = std::fs::remove_file(record);
    let mark0 = mark(speaker);
    let offered = Instant::now();
    let customer = control
        .place_call(CustomerCall {
            from: CUSTOMER.into(),
            name: None,
            queue: "billing".into(),
            audio: Audio::ToneHz(f64::from(CUSTOMER_HZ)),
            record: Some(record.to_owned()),
            reoffers: Default::default(),
        })
        .map_err(|e| format!("place the call: {e}"))?;
    let result = async {
        let call = agent
            .wait("an incoming call", |e| match e {
                AgentEvent::Incoming { call, .. } => Some(call.clone()),
                _ => None,
            })
            .await?;
        let incoming = offered.elapsed();
        agent.command(AgentCommand::Answer { call: None }).await?;
        agent.call_state(Some(&call), CallState::Connected).await?;
        let connected = offered.elapsed();
        // Media flows once a quality report comes (a second after ICE).
        agent.wait("media", |e| matches!(e, AgentEvent::Quality { call: c, .. } if *c == call).then_some(())).await?;
        // The customer's voice may come later than the first report (a
        // slow DTLS handshake): a late call counts with its late setup time,
        // and fails only if nothing comes for AUDIO_LIMIT.
        let waiting = Instant::now();
        let heard_customer = loop {
            let spoken = samples_from(speaker, mark0);
            if let Some(w) = first_window(&spoken, CUSTOMER_HZ) {
                break w;
            }
            if waiting.elapsed() > AUDIO_LIMIT {
                return Err(format!(
                    "the agent never heard the customer ({} ms of its speaker since the call was placed, {} windows of the customer)",
                    spoken.len() / 48,
                    count_windows(&spoken, CUSTOMER_HZ)
                ));
            }
            // The speaker file grows in real time: look again a few frames on.
            tokio::time::sleep(Duration::from_millis(60)).await;
        };
        let agent_hears = frames(heard_customer);

        let held = Instant::now();
        agent
            .command(AgentCommand::Transfer { to: EXPERT_NUMBER.into(), mode: TransferMode::Warm, call: None })
            .await?;
        agent.transfer(TransferPhase::Consulting).await?;
        let completing = Instant::now();
        agent.command(AgentCommand::CompleteTransfer).await?;
        agent.transfer(TransferPhase::Completed).await?;
        agent
            .wait("the customer's call to end", |e| {
                matches!(e, AgentEvent::Call { call: c, state: CallState::Ended { .. }, .. } if *c == call).then_some(())
            })
            .await?;
        // Measured span: the customer and the expert talk, then hang up.
        tokio::time::sleep(TALK).await;
        Ok::<_, String>((held, completing, agent_hears, incoming, connected))
    }
    .await;
    let _ = control.hang_up_customer(&customer.id);
    let id = customer.id.clone();
    let detail = lab_event(lab, "the customer's call to end", |e| match e {
        LabEvent::Customer { customer, state: CustomerState::Ended, detail, .. } if *customer == id => {
            Some(detail.clone().unwrap_or_default())
        }
        _ => None,
    })
    .await?;
    let ended = Instant::now();
    let (held, completing, agent_hears, incoming, connected) =
        result.map_err(|e| format!("{e} (the customer's call: {detail})"))?;
    let heard = warmline_media::backend::read_wav(record).map_err(|e| format!("the customer's recording: {e}"))?;
    let agent_windows = count_windows(&heard, AGENT_HZ);
    let expert_windows = count_windows(&heard, EXPERT_HZ);
    if agent_windows == 0 || expert_windows == 0 {
        return Err(format!(
            "the customer heard the agent in {agent_windows} and the expert in {expert_windows} windows (the customer's call: {detail})"
        ));
    }
    let customer_hears = (held - offered).saturating_sub(frames(agent_windows));
    let expert_heard_at = (ended - completing).saturating_sub(frames(expert_windows));
    let setup = agent_hears.max(customer_hears);
    if setup > SLOW {
        eprintln!(
            "slow setup {:.0} ms: incoming {:.0}, connected {:.0}, agent hears {:.0}, customer hears {:.0} ms",
            ms(setup),
            ms(incoming),
            ms(connected),
            ms(agent_hears),
            ms(customer_hears)
        );
    }
    Ok(Figures { setup, completion: expert_heard_at })
}

/// Ends wrap-up and waits until the ACD may route the next call here.
async fn ready_again(agent: &mut Agent, lab: &mut broadcast::Receiver<LabEvent>) -> Fallible<()> {
    agent.backlog.clear();
    agent.command(AgentCommand::State { state: ChosenState::Available, reason: None }).await?;
    lab_event(lab, "available at the ACD", |e| match e {
        LabEvent::Sip(SipEvent::Availability { agent, available: true, .. }) if agent == "1001" => Some(()),
        _ => None,
    })
    .await
}

fn cpu_time() -> Duration {
    // Fields 14 and 15 (utime, stime) counted after the command's `)`, in
    // clock ticks (USER_HZ, 100 a second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((field(11) + field(12)) * 10)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Resident memory by kind of mapping (heap, anonymous maps such as
/// allocator arenas and thread stacks, files), and the thread count: where a
/// growth in RSS lives.
fn rss_by_kind() -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut heap, mut anon, mut stack, mut file) = (0u64, 0u64, 0u64, 0u64);
    let mut kind = 0u8;
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let path = line.split_whitespace().nth(5).unwrap_or("");
            kind = match path {
                "[heap]" => 0,
                "" => 1,
                p if p.starts_with("[stack") => 2,
                p if p.starts_with('[') => 1,
                _ => 3,
            };
        } else if first == "Rss:" {
            let kb: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match kind {
                0 => heap += kb,
                1 => anon += kb,
                2 => stack += kb,
                _ => file += kb,
            }
        }
    }
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:").map(|t| t.trim().to_owned()))
        .unwrap_or_default();
    let mib = |kb: u64| kb as f64 / 1024.0;
    format!(
        "heap {:.1}, anonymous maps {:.1}, main stack {:.1}, files {:.1} MiB; {threads} threads",
        mib(heap),
        mib(anon),
        mib(stack),
        mib(file)
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(calls: usize, dir: PathBuf) -> Fallible<()> {
    let speaker = dir.join("agent-heard.wav");
    // The default scenario with its scheduled arrivals off: every call the
    // agent is offered is one this bench placed. (A scheduled caller says
    // 440 Hz too and never hangs up by itself: answered in place of the
    // bench's customer, it left that customer queued until cancelled, with
    // nothing heard either way, and after the transfer it kept the expert
    // on a call, 486 Busy, for every call after.)
    let lab = warmline_lab::Lab::start(warmline_lab::Scenario::default_scenario().without_arrivals())
        .await
        .map_err(|e| format!("the lab: {e}"))?;
    let sign_in = lab.agent_sign_in(Some("1001")).map_err(|e| format!("the lab's agent: {e}"))?;
    let (_, mut config) = warmline_agent::embedded::lab_session(
        &sign_in.config,
        sign_in.password,
        &sign_in.crm_token,
        AudioInput::Tone(AGENT_HZ),
        AudioOutput::Wav(speaker.clone()),
    )
    .map_err(|e| format!("the session: {e}"))?;
    config.store =
        Some(StoreSetup { path: dir.join("warmline.db"), encryption: warmline_store::Encryption::Plaintext });
    let control = lab.control();
    control.set_answer(EXPERT, Answer::AfterSecs(0.0)).map_err(|e| e.to_string())?;
    control.set_audio(EXPERT, Audio::ToneHz(f64::from(EXPERT_HZ))).map_err(|e| e.to_string())?;
    let mut lab_events = control.subscribe();
    let (session, events) = Session::start(config).await.map_err(|e| format!("the session: {e}"))?;
    let mut agent = Agent { session, events, backlog: Vec::new() };
    agent
        .wait("registration", |e| match e {
            AgentEvent::Registration { registration: RegistrationState::Registered } => Some(Ok(())),
            AgentEvent::Registration { registration: RegistrationState::Failed { reason } } => {
                Some(Err(reason.clone()))
            }
            _ => None,
        })
        .await??;
    ready_again(&mut agent, &mut lab_events).await?;

    let record = dir.join("customer-heard.wav");
    let (mut setups, mut completions, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let cpu0 = cpu_time();
    let started = Instant::now();
    let mut rss_first = 0.0;
    let mut rss_kinds_first = String::new();
    // RSS after each tenth of the run: a leak grows in a line, caches
    // (SQLite's page cache, allocator arenas) level off.
    let mut rss_steps = Vec::new();
    for i in 0..calls {
        match one_call(&mut agent, &control, &mut lab_events, &speaker, &record).await {
            Ok(f) => {
                setups.push(f.setup);
                completions.push(f.completion);
            }
            Err(e) => {
                eprintln!("call {}: {e}", i + 1);
                failures.push(e);
                // Whatever is left of it goes: the next call starts clean.
                let _ = agent.command(AgentCommand::CancelTransfer).await;
                while agent.command(AgentCommand::Hangup { call: None }).await.is_ok() {}
            }
        }
        if let Err(e) = ready_again(&mut agent, &mut lab_events).await {
            eprintln!("after call {}: {e}; stopping", i + 1);
            failures.push(e);
            break;
        }
        if i == 0 {
            rss_first = rss_mib();
            rss_kinds_first = rss_by_kind();
        }
        if (i + 1) % (calls / 10).max(1) == 0 {
            rss_steps.push(format!("{:.1}", rss_mib()));
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let rss_last = rss_mib();
    let rss_kinds_last = rss_by_kind();
    let _ = agent.command(AgentCommand::Quit).await;
    drop(lab);

    setups.sort();
    completions.sort();
    let done = setups.len();
    println!("agent calls: {calls} sequential lab calls, each warm-transferred to an expert who answers at once");
    println!(
        "    call setup (customer offer -> two-way audio): p50 {:.0} ms, p99 {:.0} ms",
        ms(percentile(&setups, 0.5)),
        ms(percentile(&setups, 0.99))
    );
    println!(
        "    transfer completion (complete_transfer -> customer hears the expert): p50 {:.0} ms, p99 {:.0} ms",
        ms(percentile(&completions, 0.5)),
        ms(percentile(&completions, 0.99))
    );
    println!(
        "    CPU: {:.2} s per call (whole process: lab, customer, expert, agent), {:.1} s wall per call",
        cpu.as_secs_f64() / calls.max(1) as f64,
        wall.as_secs_f64() / calls.max(1) as f64
    );
    println!(
        "    RSS: {rss_first:.1} MiB after the first call, {rss_last:.1} MiB after the last ({:+.1} MiB)",
        rss_last - rss_first
    );
    println!("    RSS by tenths of the run (MiB): {}", rss_steps.join(", "));
    println!("    RSS after the first call: {rss_kinds_first}");
    println!("    RSS after the last call:  {rss_kinds_last}");
    println!("    failed calls: {} of {calls} ({done} measured)", failures.len());
    for f in failures.iter().take(5) {
        println!("      {f}");
    }
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; this binary takes no arguments.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let calls = std::env::var("CALLS").ok().and_then(|c| c.parse().ok()).unwrap_or(200usize);
    let dir = tempfile_dir();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let result = runtime.block_on(run(calls, dir.clone()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("agent calls bench: {e}");
        std::process::exit(1);
    }
}

/// A private directory for the store and the audio files.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warmline-calls-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
