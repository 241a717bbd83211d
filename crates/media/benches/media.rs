//! `cargo bench -p warmline-media --bench media`: prints, each with how it
//! was measured, CPU per call endpoint, media setup time and the one-way
//! latency our buffering adds. Figures only, no assertions (timing belongs
//! here, not in tests).

use std::time::{Duration, Instant};

use warmline_media::impair::Impairment;
use warmline_media::jitter::{JitterBuffer, JitterConfig, Playout};
use warmline_media::opus_codec::{FrameDuration, MAX_OPUS_PACKET, OpusConfig, OpusDecoder, OpusEncoder};
use warmline_media::session::{AudioPort, MediaConfig, MediaEvent, MediaSession};
use warmline_media::tone::ToneGenerator;

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
        jb.push(at, k as u32 * 960, pkt[..n].to_vec());
        if let Playout::Frame(p) = jb.pop(at + Duration::from_millis(5)) {
            dec.decode(&p, &mut pcm).expect("decode");
        }
    }
    let per_frame = start.elapsed() / frames;
    println!(
        "dsp: Opus c10 encode + jitter buffer + decode = {per_frame:?} per 20 ms frame = {:.2}% of one core \
         ({frames} frames in a loop)",
        per_frame.as_secs_f64() / 0.020 * 100.0
    );
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
            jb.push(t0 + Duration::from_micros(at), seq * 960, seq);
        }
        if let Playout::Frame(seq) = jb.pop(t0 + Duration::from_micros(tick))
            && k > 250
        {
            total += tick - u64::from(seq) * 20_000;
            played += 1;
        }
    }
    let buffer_ms = total as f64 / played.max(1) as f64 / 1000.0;
    println!(
        "latency at {} ms jitter: frame capture to playout {:.1} ms + 6.5 ms Opus look-ahead = {:.1} ms \
         (simulated, 60 s, device buffers excluded)",
        jitter_us / 1000,
        buffer_ms + 20.0,
        buffer_ms + 26.5
    );
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
    println!(
        "setup: offer to first decoded frame both ways, loopback: median {:?}, max {:?}; to ICE+DTLS connected: \
         median {:?} (5 calls in sequence)",
        setups[2], setups[4], connects[2]
    );

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
    let endpoints = calls * 2;
    let decoded = frames.load(std::sync::atomic::Ordering::Relaxed) - frames0;
    println!(
        "cpu: {decoded} frames decoded in the span ({:.0}% of the {} expected)",
        decoded as f64 / (wall.as_secs_f64() * 50.0 * endpoints as f64) * 100.0,
        (wall.as_secs_f64() * 50.0) as u64 * endpoints as u64
    );
    println!(
        "cpu: {calls} concurrent loopback calls ({endpoints} endpoints, Opus c10, SRTP, jitter buffer) used \
         {:.1}% of one core = {:.2}% per endpoint (process CPU time over {:.1} s wall)",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0 / endpoints as f64,
        wall.as_secs_f64()
    );
    for (a, b, ..) in live {
        let _ = a.close().await;
        let _ = b.close().await;
    }
}

fn main() {
    let calls = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    dsp_cost();
    added_latency(0);
    added_latency(30_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(transport(calls));
}
