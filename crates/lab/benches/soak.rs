//! `cargo bench -p warmline-lab --bench soak`: a lab with 25 simulated
//! customers (600 Hz) routed by the ACD to 25 test agents (1000 Hz, built
//! from `warmline-sip`'s `UserAgent` on its WebSocket transport and
//! `warmline-media`'s `MediaSession`, registering and PUBLISHing open), 50
//! WebRTC endpoints in one process, held for `SOAK_SECONDS` (default 60).
//! Prints CPU seconds, resident and peak memory, and every failed call: a
//! call never answered, an agent that heard under 90% of the frames it
//! should have, or a customer whose call ended before the hang-up. Figures
//! only, no assertions (timing belongs here, not in tests).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};
use tokio::time::timeout;
use warmline_lab::customer::{CustomerCall, CustomerState};
use warmline_lab::scenario::{Audio, ConsentMode};
use warmline_lab::sip::SipEvent;
use warmline_lab::{Lab, LabEvent, LabOptions, Scenario};
use warmline_media::session::{MediaConfig, MediaSession};
use warmline_media::tone::ToneGenerator;
use warmline_sip::pidf::{Pidf, Publication, publish_request};
use warmline_sip::transport::{self, TransportConfig, TransportEvent};
use warmline_sip::ua::{Config, Event};
use warmline_sip::{Engine, Flow, Input, Output, UserAgent};

const CALLS: usize = 25;
const COMMAND: &str = "cargo bench -p warmline-lab --bench soak";

/// A user agent that also sends one PUBLISH (the UA has none of its own).
struct Agent {
    ua: UserAgent,
    extra: VecDeque<Vec<u8>>,
}

impl Engine for Agent {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if let Input::Connected(Flow { local_host, .. }) = &input {
            let p = Publication {
                aor: self.ua.config().aor.clone(),
                call_id: format!("publish-{local_host}"),
                from_tag: "pub".into(),
                cseq: 1,
                via_host: local_host.clone(),
                branch: "z9hG4bKsoakpublish1".into(),
                expires: 3600,
                if_match: None,
            };
            let doc = Pidf::open(self.ua.config().aor.to_string());
            self.extra.push_back(publish_request(&p, Some(&doc)).to_bytes());
        }
        self.ua.handle_input(now, input);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        // The PUBLISH waits for the registration (the lab wants a binding).
        if self.ua.is_registered()
            && let Some(frame) = self.extra.pop_front()
        {
            return Some(Output::Transmit(frame));
        }
        self.ua.poll_output()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ua.poll_timeout()
    }
}

/// CPU time (user + system) of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((field(11) + field(12)) * 10) // USER_HZ is 100 on Linux
}

/// VmRSS and VmHWM (peak) of this process in MiB, from /proc (Linux).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// The default scenario plus 25 agents serving `billing`, with no
/// scheduled arrivals (the bench places its own calls).
fn scenario() -> Scenario {
    let mut text = include_str!("../../../assets/lab/default-scenario.toml").to_owned();
    for n in 0..CALLS {
        text.push_str(&format!(
            "\n[[agents]]\nname = \"Soak Agent {n}\"\nupn = \"soak.agent{n}@northwind.example.com\"\nextension = \"{}\"\nqueues = [\"billing\"]\n",
            2001 + n
        ));
    }
    let mut s = Scenario::from_toml(&text, None).expect("the soak scenario");
    s.arrivals.per_hour = 0.0;
    s
}

struct AgentReport {
    ext: String,
    answered: bool,
    frames_held: u64,
}

/// One agent: register, publish open, answer one call with media, say
/// 1000 Hz, count frames heard while `holding` is true, until the call ends.
async fn run_agent(lab_url: String, ext: String, password: String, holding: watch::Receiver<bool>) -> AgentReport {
    let aor = format!("sip:{ext}@northwind.example.com").parse().expect("aor");
    let mut config = Config::new(aor, ext.clone(), password, "sip:northwind.example.com".parse().expect("uri"));
    config.seed = ext.parse().unwrap_or(1);
    let mut tc = TransportConfig::new([lab_url]);
    tc.seed = Some(config.seed);
    let agent = Agent { ua: UserAgent::new(config), extra: VecDeque::new() };
    let (handle, mut events) = transport::spawn(agent, tc).expect("transport");
    let mut report = AgentReport { ext, answered: false, frames_held: 0 };
    let mut media = None;
    let counted = Arc::new(AtomicU64::new(0));
    loop {
        let e = match events.recv().await {
            Some(TransportEvent::Engine(e)) => e,
            Some(_) => continue,
            None => {
                report.frames_held = counted.load(Ordering::Relaxed);
                return report;
            }
        };
        match e {
            Event::OfferReceived { call, sdp } if media.is_none() => {
                let Ok((session, port)) = MediaSession::new(MediaConfig::loopback()).await else { return report };
                let Ok(answer) = session.accept_offer(&String::from_utf8_lossy(&sdp)).await else { return report };
                if !matches!(handle.with(move |a, now| a.ua.answer(now, call, answer.into_bytes())).await, Ok(Ok(()))) {
                    return report;
                }
                report.answered = true;
                let input = port.input.clone();
                tokio::spawn(async move {
                    let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
                    let mut ticker = tokio::time::interval(Duration::from_millis(20));
                    loop {
                        ticker.tick().await;
                        if input.send(tone.next_frame(960)).await.is_err() {
                            return;
                        }
                    }
                });
                let (mut output, holding, counted) = (port.output, holding.clone(), counted.clone());
                tokio::spawn(async move {
                    while output.recv().await.is_some() {
                        if *holding.borrow() {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
                media = Some(session);
            }
            Event::Ended { .. } => {
                if let Some(s) = media.take() {
                    let _ = s.close().await;
                }
                report.frames_held = counted.load(Ordering::Relaxed);
                return report;
            }
            _ => {}
        }
    }
}

async fn soak(seconds: u64) {
    let options = LabOptions { consent: Some(ConsentMode::Auto), ..LabOptions::default() };
    let lab = Lab::start_with(scenario(), options).await.expect("the lab starts");
    let control = lab.control();
    let mut lab_events = control.subscribe();
    let url = lab.endpoints().sip_ws.clone().expect("SIP WebSocket");
    let (hold_tx, hold_rx) = watch::channel(false);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut agents = Vec::new();
    for n in 0..CALLS {
        let ext = (2001 + n).to_string();
        let password = control.sip_account(&ext).expect("account").password;
        agents.push(tokio::spawn(run_agent(url.clone(), ext, password, hold_rx.clone())));
    }
    // Every agent available before the customers call.
    let mut available = 0;
    let ready = async {
        while available < CALLS {
            if let Ok(LabEvent::Sip(SipEvent::Availability { available: true, .. })) = lab_events.recv().await {
                available += 1;
            }
        }
    };
    if timeout(Duration::from_secs(60), ready).await.is_err() {
        println!("only {available} of {CALLS} agents became available within 60 s");
    }
    let numbers: Vec<String> = lab.scenario().customers.iter().map(|c| c.phones[0].clone()).collect();
    let mut customers = Vec::new();
    for n in 0..CALLS {
        let call = CustomerCall {
            from: numbers[n % numbers.len()].clone(),
            name: None,
            queue: "billing".into(),
            audio: Audio::ToneHz(600.0),
            record: None,
            reoffers: Default::default(),
        };
        customers.push(control.place_call(call).expect("a customer calls"));
    }
    let mut answered = 0;
    let mut early_ends: Vec<String> = Vec::new();
    let wait_answered = async {
        while answered < CALLS {
            match lab_events.recv().await {
                Ok(LabEvent::Sip(SipEvent::Answered { .. })) => answered += 1,
                Ok(LabEvent::Customer { customer, state: CustomerState::Ended, detail, .. }) => {
                    early_ends.push(format!("{customer}: {}", detail.unwrap_or_default()))
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    };
    let _ = timeout(Duration::from_secs(60), wait_answered).await;
    let setup = t0.elapsed();
    // Let media settle, then hold and count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_hold0, hold0) = (cpu_time(), Instant::now());
    let _ = hold_tx.send(true);
    let watch_ends = async {
        loop {
            match lab_events.recv().await {
                Ok(LabEvent::Customer { customer, state: CustomerState::Ended, detail, .. }) => {
                    early_ends.push(format!("{customer}: {}", detail.unwrap_or_default()))
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    };
    let _ = timeout(Duration::from_secs(seconds), watch_ends).await;
    let _ = hold_tx.send(false);
    let held = hold0.elapsed();
    let cpu_hold = cpu_time().saturating_sub(cpu_hold0);
    let (rss, peak) = memory_mib();
    for c in &customers {
        c.hang_up();
    }
    let mut failed = Vec::new();
    let expected = held.as_secs_f64() * 50.0;
    for a in agents {
        match timeout(Duration::from_secs(30), a).await {
            Ok(Ok(r)) if !r.answered => failed.push(format!("agent {}: no call answered", r.ext)),
            Ok(Ok(r)) if (r.frames_held as f64) < 0.9 * expected => {
                failed.push(format!("agent {}: heard {} of ~{expected:.0} frames while held", r.ext, r.frames_held))
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failed.push(format!("an agent task failed: {e}")),
            Err(_) => failed.push("an agent did not finish within 30 s of the hang-up".into()),
        }
    }
    failed.extend(early_ends.into_iter().map(|e| format!("customer ended before the hang-up: {e}")));
    let total_cpu = cpu_time().saturating_sub(cpu0);
    println!(
        "soak: {CALLS} customer calls routed to {CALLS} agents, {} WebRTC endpoints, held {:.1} s",
        2 * CALLS,
        held.as_secs_f64()
    );
    println!("    answered: {answered} of {CALLS}, all answered {:.2} s after the agents started", setup.as_secs_f64());
    println!(
        "    CPU while held: {:.2} s over {:.1} s ({:.1}% of one core; {:.2} ms per endpoint-second); whole run {:.2} s",
        cpu_hold.as_secs_f64(),
        held.as_secs_f64(),
        100.0 * cpu_hold.as_secs_f64() / held.as_secs_f64().max(0.001),
        1000.0 * cpu_hold.as_secs_f64() / (held.as_secs_f64() * 2.0 * CALLS as f64).max(0.001),
        total_cpu.as_secs_f64()
    );
    println!("    memory: VmRSS {rss:.1} MiB while held, peak (VmHWM) {peak:.1} MiB");
    if failed.is_empty() {
        println!("    failed calls: none");
    } else {
        println!("    failed calls: {}", failed.len());
        for f in &failed {
            println!("      {f}");
        }
    }
    println!("    command: SOAK_SECONDS={seconds} {COMMAND}");
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let seconds = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(soak(seconds));
}
