//! Parse + serialize throughput for a typical INVITE with SDP, on one core,
//! and memory per established dialog. Plain std timing; prints figures and
//! asserts nothing about them.
//!
//! Run: `cargo bench -p warmline-sip` (release profile). Targets: at least
//! 100,000 messages/s; under 8 KiB per dialog.

use std::hint::black_box;
use std::time::{Duration, Instant};

use warmline_sip::dialog::Dialog;
use warmline_sip::{Message, parse};

const INVITE: &[u8] = include_bytes!("../tests/fixtures/messages/invite-sdp.sip");
const OK: &[u8] = include_bytes!("../tests/fixtures/messages/200-ok-sdp.sip");

/// Resident memory of this process, from /proc (Linux; `None` elsewhere).
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Resident bytes per dialog over many live dialogs: heap, allocator
/// overhead and all, which is what a long shift of calls costs.
fn memory_per_dialog() -> Option<usize> {
    let (Ok(Message::Request(invite)), Ok(Message::Response(ok))) = (parse(INVITE), parse(OK)) else { return None };
    let template = Dialog::from_uac(&invite, &ok).ok()?;
    const N: usize = 100_000;
    let mut dialogs = Vec::with_capacity(N);
    let before = resident_bytes()?;
    for _ in 0..N {
        dialogs.push(black_box(template.clone()));
    }
    let after = resident_bytes()?;
    black_box(&dialogs);
    Some(after.saturating_sub(before) / N)
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
    match memory_per_dialog() {
        Some(bytes) => println!(
            "memory per established dialog (route set of 2): {bytes} bytes resident; target 8192: {}",
            if bytes < 8192 { "met" } else { "NOT met" }
        ),
        None => println!("memory per established dialog: not measurable here (needs /proc)"),
    }
}
