//! `cargo bench -p warmline-media --bench media [-- CALLS]`: prints, each
//! with how it was measured and the command that produced it, CPU per call
//! endpoint, memory per call, media setup time and the one-way latency
//! (simulated jitter buffer, and measured end to end through real loopback
//! sessions at 0 and 30 ms jitter). Figures only, no assertions (timing
//! belongs here, not in tests).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use warmline_media::impair::Impairment;
use warmline_media::jitter::{JitterBuffer, JitterConfig, Playout, RtpMeta};
use warmline_media::opus_codec::{FrameDuration, MAX_OPUS_PACKET, OpusConfig, OpusDecoder, OpusEncoder};
use warmline_media::session::{AudioPort, MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::ToneGenerator;

/// The command line that produced the figures, printed with each of them.
static COMMAND: OnceLock<String> = OnceLock::new();

fn figure(text: String) {
    println!("{text}\n    command: {}", COMMAND.get().map_or("cargo bench -p warmline-media --bench media", |c| c));
}

/// Resident memory of this process, from /proc (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    kb * 1024
}

/// CPU time (user + system) of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at state.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; 12 and 13 once pid and comm are cut off.
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((field(11) + field(12)) * 10) // USER_HZ is 100 on Linux
}

/// Codec + jitter buffer cost per 20 ms frame, no transport.
fn dsp_cost() {
    let cfg = OpusConfig { complexity: 10, ..OpusConfig::default() };
    let mut enc = OpusEncoder::new(&cfg).expect("encoder");
    let mut dec = OpusDecoder::new(FrameDuration::Ms20).expect("decoder");
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let mut tone = ToneGenerator::new(48_000, 440.0, 0.3);
    let (mut pkt, mut pcm) = ([0u8; MAX_OPUS_PACKET], [0i16; 5760]);
    let frames = 3_000u32;
    let input: Vec<Vec<i16>> = (0..frames).map(|_| tone.next_frame(960)).collect();
    let t0 = Instant::now();
    let start = Instant::now();
    for (k, f) in input.iter().enumerate() {
        let n = enc.encode(f, &mut pkt).expect("encode");
        let at = t0 + Duration::from_millis(k as u64 * 20);
        jb.push(at, RtpMeta { seq: k as u16, ts: k as u32 * 960, marker: false, ssrc: 1 }, pkt[..n].to_vec());
        if let Playout::Frame(p) = jb.pop(at + Duration::from_millis(5)) {
            dec.decode(&p, &mut pcm).expect("decode");
        }
    }
    let per_frame = start.elapsed() / frames;
    figure(format!(
        "dsp: Opus c10 encode + jitter buffer + decode = {per_frame:?} per 20 ms frame = {:.2}% of one core \
         ({frames} frames in a loop)",
        per_frame.as_secs_f64() / 0.020 * 100.0
    ));
}

/// One-way delay added by the jitter buffer (plus Opus's 6.5 ms look-ahead
/// and one frame of packetisation) on simulated time.
fn added_latency(jitter_us: u64) {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let mut net = Impairment::new(5, 0.0, 0, jitter_us);
    let mut in_flight: Vec<(u64, u32)> = Vec::new();
    let (mut total, mut played) = (0u64, 0u64);
    for k in 0..3_000u64 {
        let sent = k * 20_000;
        if let Some(at) = net.deliver_at(sent) {
            in_flight.push((at, k as u32));
        }
        let tick = sent + 7_000;
        in_flight.sort();
        let due = in_flight.iter().take_while(|p| p.0 <= tick).count();
        for (at, seq) in in_flight.drain(..due) {
            jb.push(
                t0 + Duration::from_micros(at),
                RtpMeta { seq: seq as u16, ts: seq * 960, marker: false, ssrc: 1 },
                seq,
            );
        }
        if let Playout::Frame(seq) = jb.pop(t0 + Duration::from_micros(tick))
            && k > 250
        {
            total += tick - u64::from(seq) * 20_000;
            played += 1;
        }
    }
    let buffer_ms = total as f64 / played.max(1) as f64 / 1000.0;
    figure(format!(
        "latency (simulated jitter buffer) at {} ms jitter: frame capture to playout {:.1} ms + 6.5 ms Opus \
         look-ahead = {:.1} ms (60 s on simulated time, device buffers excluded)",
        jitter_us / 1000,
        buffer_ms + 20.0,
        buffer_ms + 26.5
    ));
}

/// One-way latency measured through two real sessions on loopback: Alice
/// sends 300 ms tone bursts after 200 ms of silence; each burst's onset is
/// timed from the moment its frame enters Alice's encoder to the sample at
/// which it leaves Bob's playout (frame arrival time plus the onset's
/// offset in the frame). Bob's receive side adds `jitter_us` of seeded
/// jitter (uniform 0..jitter) in front of his jitter buffer.
async fn measured_latency(jitter_us: u64) {
    let opus = OpusConfig { complexity: 10, ..OpusConfig::default() };
    let impairment = (jitter_us > 0).then(|| Impairment::new(7, 0.0, 0, jitter_us));
    let (a, mut pa) = MediaSession::new(MediaConfig { opus, ..MediaConfig::loopback() }).await.expect("a");
    let (b, mut pb) =
        MediaSession::new(MediaConfig { opus, receive_impairment: impairment, ..MediaConfig::loopback() })
            .await
            .expect("b");
    let answer = b.accept_offer(&a.create_offer().await.expect("offer")).await.expect("answer");
    a.accept_answer(&answer).await.expect("apply");
    first(&mut pa, MediaEvent::Connected).await;
    let sent: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let sender = tokio::spawn({
        let (input, sent) = (pa.input.clone(), Arc::clone(&sent));
        async move {
            let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
            let mut ticker = tokio::time::interval(Duration::from_millis(20));
            for k in 0u64.. {
                ticker.tick().await;
                let on = k % 25 >= 10;
                let frame = if on { tone.next_frame(960) } else { vec![0; 960] };
                if on && k % 25 == 10 {
                    sent.lock().map(|mut s| s.push(Instant::now())).ok();
                }
                if input.send(frame).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut onsets = Vec::new();
    let mut quiet = 0;
    while onsets.len() < 25 {
        let Some(frame) = pb.output.recv().await else { break };
        let at = Instant::now();
        match frame.iter().position(|s| s.unsigned_abs() > 3000) {
            Some(i) if quiet >= 3 => {
                onsets.push(at + Duration::from_secs_f64(i as f64 / 48_000.0));
                quiet = 0;
            }
            Some(_) => quiet = 0,
            None => quiet += 1,
        }
    }
    sender.abort();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    // The first bursts may fall in the settling of ICE, DTLS and the buffer.
    let mut lat: Vec<Duration> =
        sent.iter().zip(&onsets).skip(5).map(|(s, r)| r.saturating_duration_since(*s)).collect();
    lat.sort();
    if let (Some(min), Some(max)) = (lat.first(), lat.last()) {
        let median = lat[lat.len() / 2].as_secs_f64() * 1000.0;
        figure(format!(
            "latency (measured, loopback sessions) at {} ms jitter: encoder input to playout output median {median:.1} \
             ms (min {:.1}, max {:.1}; {} tone onsets; Opus c10, SRTP, jitter buffer), + 20 ms packetisation (a frame \
             is captured before it is encoded) = {:.1} ms added one-way, device buffers excluded",
            jitter_us / 1000,
            min.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0,
            lat.len(),
            median + 20.0
        ));
    }
    let _ = a.close().await;
    let _ = b.close().await;
}

fn play_tone(input: tokio::sync::mpsc::Sender<Vec<i16>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tone = ToneGenerator::new(48_000, 440.0, 0.3);
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        loop {
            ticker.tick().await;
            if input.send(tone.next_frame(960)).await.is_err() {
                return;
            }
        }
    })
}

async fn first(port: &mut AudioPort, want: MediaEvent) {
    while let Some(e) = port.events.recv().await {
        if e == want {
            return;
        }
    }
}

/// A loopback call; returns the sessions, their ports, the time from offer
/// to connected and to the first decoded frame on both sides.
async fn call() -> (MediaSession, MediaSession, AudioPort, AudioPort, Duration, Duration) {
    let config =
        || MediaConfig { opus: OpusConfig { complexity: 10, ..OpusConfig::default() }, ..MediaConfig::loopback() };
    let (a, mut pa) = MediaSession::new(config()).await.expect("session a");
    let (b, mut pb) = MediaSession::new(config()).await.expect("session b");
    let start = Instant::now();
    let offer = a.create_offer().await.expect("offer");
    let answer = b.accept_offer(&offer).await.expect("answer");
    a.accept_answer(&answer).await.expect("answer applied");
    play_tone(pa.input.clone());
    play_tone(pb.input.clone());
    first(&mut pa, MediaEvent::Connected).await;
    let connected = start.elapsed();
    tokio::join!(first(&mut pa, MediaEvent::FirstFrame), first(&mut pb, MediaEvent::FirstFrame));
    (a, b, pa, pb, connected, start.elapsed())
}

async fn transport(calls: usize) {
    let (mut setups, mut connects) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (a, b, _pa, _pb, connected, setup) = call().await;
        setups.push(setup);
        connects.push(connected);
        a.close().await.expect("close");
        b.close().await.expect("close");
    }
    setups.sort();
    connects.sort();
    figure(format!(
        "setup: offer to first decoded frame both ways, loopback: median {:?}, max {:?}; to ICE+DTLS connected: \
         median {:?} (5 calls in sequence)",
        setups[2], setups[4], connects[2]
    ));

    // Memory: resident set before and after the live calls (the sessions
    // and the calls above have loaded every library and warmed the allocator).
    let rss0 = rss_bytes();
    let mut live = Vec::new();
    for _ in 0..calls {
        live.push(call().await);
    }
    // Drain decoded audio as a device would, counting frames.
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for (_, _, pa, pb, ..) in &mut live {
        for port in [pa, pb] {
            let mut out = std::mem::replace(&mut port.output, tokio::sync::mpsc::channel(1).1);
            let frames = std::sync::Arc::clone(&frames);
            tokio::spawn(async move {
                while out.recv().await.is_some() {
                    frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    }
    let frames0 = frames.load(std::sync::atomic::Ordering::Relaxed);
    let span = Duration::from_secs(10);
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    tokio::time::sleep(span).await; // a measured span of live audio, not synchronisation
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    let rss1 = rss_bytes();
    let endpoints = calls * 2;
    let decoded = frames.load(std::sync::atomic::Ordering::Relaxed) - frames0;
    figure(format!(
        "cpu: {decoded} frames decoded in the span ({:.0}% of the {} expected)",
        decoded as f64 / (wall.as_secs_f64() * 50.0 * endpoints as f64) * 100.0,
        (wall.as_secs_f64() * 50.0) as u64 * endpoints as u64
    ));
    figure(format!(
        "cpu: {calls} concurrent loopback calls ({endpoints} endpoints, Opus c10, SRTP, jitter buffer) used \
         {:.1}% of one core = {:.2}% per endpoint (process CPU time over {:.1} s wall)",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0 / endpoints as f64,
        wall.as_secs_f64()
    ));
    let per_call = rss1.saturating_sub(rss0) as f64 / calls.max(1) as f64;
    figure(format!(
        "memory: {calls} live loopback calls added {:.1} MiB resident = {:.0} KiB per call ({:.0} KiB per endpoint) \
         (VmRSS from /proc/self/status before the calls and after {:.0} s of audio)",
        rss1.saturating_sub(rss0) as f64 / 1_048_576.0,
        per_call / 1024.0,
        per_call / 2048.0,
        wall.as_secs_f64()
    ));
    for (a, b, ..) in live {
        let _ = a.close().await;
        let _ = b.close().await;
    }
}

fn main() {
    let calls = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let profile = if cfg!(debug_assertions) { " --profile dev" } else { "" };
    let _ = COMMAND.set(format!("cargo bench -p warmline-media --bench media{profile} -- {calls}"));
    dsp_cost();
    added_latency(0);
    added_latency(30_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        measured_latency(0).await;
        measured_latency(30_000).await;
        transport(calls).await;
    });
}
