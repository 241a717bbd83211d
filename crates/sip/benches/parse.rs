//! Parse + serialize throughput for a typical INVITE with SDP, on one core,
//! and the memory an established call costs in the user agent. Plain std
//! timing; prints figures and asserts nothing about them.
//!
//! Run: `cargo bench -p warmline-sip` (release profile). Targets: at least
//! 100,000 messages/s; under 8 KiB per established dialog.

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use warmline_sip::ua::{CallState, Config, Event};
use warmline_sip::{Engine, Flow, HeaderName, Input, Message, Method, Output, Response, Transport, UserAgent, parse};

/// Counts every allocation, so the memory figure is the heap the user
/// agent holds, not a resident-set estimate.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const INVITE: &[u8] = include_bytes!("../tests/fixtures/messages/invite-sdp.sip");

const SDP: &[u8] = b"v=0\r\no=- 4858 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
    m=audio 49170 UDP/TLS/RTP/SAVPF 111 0 8 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\na=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:\
    73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n";

/// Two user agents wired back to back: each one's frames are the other's
/// input, and REGISTERs are answered 200 on the spot.
struct Pair {
    caller: UserAgent,
    callee: UserAgent,
    now: Instant,
}

fn user_agent(name: &str, seed: u64) -> UserAgent {
    let aor = format!("sip:{name}@example.com").parse().expect("aor");
    let mut config = Config::new(aor, name, "pw", "sip:example.com".parse().expect("registrar"));
    config.seed = seed;
    UserAgent::new(config)
}

fn flow(host: &str) -> Flow {
    Flow { transport: Transport::Wss, local_host: host.into(), server: "wss://sbc.example.com".into(), server_index: 0 }
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        let mut pair = Self { caller: user_agent("agent", 1), callee: user_agent("customer", 2), now };
        pair.caller.handle_input(now, Input::Connected(flow("agent.invalid")));
        pair.callee.handle_input(now, Input::Connected(flow("customer.invalid")));
        pair.pump();
        pair
    }

    /// Moves frames between the two until both are quiet; the callee
    /// answers every call it is offered.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.caller.poll_output() {
                moved = true;
                Self::route(self.now, out, &mut self.caller, &mut self.callee, false);
            }
            while let Some(out) = self.callee.poll_output() {
                moved = true;
                Self::route(self.now, out, &mut self.callee, &mut self.caller, true);
            }
            if !moved {
                return;
            }
        }
    }

    fn route(now: Instant, out: Output<Event>, from: &mut UserAgent, to: &mut UserAgent, answers: bool) {
        match out {
            Output::Transmit(bytes) => match parse(&bytes) {
                Ok(Message::Request(r)) if r.method == Method::Register => {
                    let mut ok = Response::to_request(&r, 200);
                    ok.headers.set(HeaderName::To, format!("{};tag=reg", r.headers.get(&HeaderName::To).unwrap_or("")));
                    if let Some(contact) = r.headers.get(&HeaderName::Contact) {
                        ok.headers.push(HeaderName::Contact, contact);
                    }
                    from.handle_input(now, Input::Received(&ok.to_bytes()));
                }
                _ => to.handle_input(now, Input::Received(&bytes)),
            },
            Output::Event(Event::OfferReceived { call, sdp })
                if answers && from.call(call).is_some_and(|c| c.state == CallState::Incoming) =>
            {
                let _ = from.answer(now, call, black_box(sdp));
            }
            _ => {}
        }
    }
}

/// Heap bytes per established dialog, counted by the allocator: N calls
/// are set up between two user agents, their transactions left to end
/// (Timers L and M), and the growth of live heap is divided by the 2N
/// dialogs (each call is a dialog at both ends). Also returns the
/// allocations one call's setup costs, both ends together.
fn memory_per_dialog() -> (usize, usize) {
    const N: usize = 2_000;
    let mut pair = Pair::new();
    let target: warmline_sip::Uri = "sip:customer@customer.invalid".parse().expect("uri");
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        let _ = pair.caller.dial(pair.now, target.clone(), SDP.to_vec());
        pair.pump();
    }
    pair.now += Duration::from_secs(40);
    let now = pair.now;
    pair.caller.handle_timeout(now);
    pair.callee.handle_timeout(now);
    pair.pump();
    let change = region.change();
    let established = pair.caller.calls().iter().filter(|c| c.state == CallState::Connected).count()
        + pair.callee.calls().iter().filter(|c| c.state == CallState::Connected).count();
    assert_eq!(established, 2 * N, "every call is up at both ends");
    let live = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
    black_box(&pair);
    (live / (2 * N), change.allocations / N)
}

/// CPU time this process has used, from /proc (Linux; `None` elsewhere).
/// The machine is shared, so wall time undercounts what one core can do;
/// CPU time does not.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// Calls per second of wall time and, where known, of CPU time.
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

/// Runs `f` repeatedly for about `budget`.
fn rate(budget: Duration, mut f: impl FnMut()) -> Rate {
    let mut calls = 0u64;
    let cpu0 = cpu_time();
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            f();
        }
        calls += 1_000;
    }
    let wall = calls as f64 / start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_time()).map(|(a, b)| calls as f64 / (b - a).as_secs_f64());
    Rate { wall, cpu }
}

fn show(label: &str, r: &Rate) {
    let cpu = r.cpu.map(|c| format!("{c:>10.0} per CPU-second ({:.2} us)", 1e6 / c)).unwrap_or_default();
    println!("  {label:<18} {:>10.0} messages/s wall, {cpu}", r.wall);
}

fn main() {
    let message = parse(INVITE).expect("the fixture parses");
    let mut out = Vec::with_capacity(4096);
    // Warm caches and the allocator before measuring.
    let _ = rate(Duration::from_millis(300), || {
        black_box(parse(black_box(INVITE)).ok());
    });

    let budget = Duration::from_secs(3);
    let both = rate(budget, || {
        let m = parse(black_box(INVITE)).expect("parses");
        out.clear();
        m.write_to(&mut out);
        black_box(&out);
    });
    let parse_only = rate(budget, || {
        black_box(parse(black_box(INVITE)).ok());
    });
    let serialize_only = rate(budget, || {
        out.clear();
        black_box(&message).write_to(&mut out);
        black_box(&out);
    });
    println!("INVITE with SDP, {} bytes, one core:", INVITE.len());
    show("parse + serialize:", &both);
    show("parse only:", &parse_only);
    show("serialize only:", &serialize_only);
    let best = both.cpu.unwrap_or(both.wall);
    println!("  target 100000 messages/s: {}", if best >= 100_000.0 { "met" } else { "NOT met" });
    println!("  (these include the counting allocator's atomics, a few percent of the parse cost)");
    let (bytes, allocations) = memory_per_dialog();
    println!(
        "memory per established dialog in the user agent: {bytes} heap bytes; target 8192: {}",
        if bytes < 8192 { "met" } else { "NOT met" }
    );
    println!("  (allocations to set up one call, both ends: {allocations})");
}
