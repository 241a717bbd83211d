//! The whole receive path on simulated time: tone -> Opus -> seeded
//! impairment -> jitter buffer -> decode/FEC/PLC -> Goertzel detector.

use std::time::{Duration, Instant};

use warmline_media::impair::Impairment;
use warmline_media::jitter::{JitterBuffer, JitterConfig, Playout, RtpMeta};
use warmline_media::opus_codec::{FrameDuration, MAX_OPUS_PACKET, OpusConfig, OpusDecoder, OpusEncoder};
use warmline_media::tone::{ToneDetector, ToneGenerator};

struct Outcome {
    share: f32,
    stats: warmline_media::jitter::JitterStats,
}

/// Run `seconds` of a 1 kHz tone through the pipeline with the given
/// impairment, and report the share of 20 ms windows where the far end
/// detects the tone (after the first half second of settling).
fn run(seconds: u64, mut net: Impairment, playout_offset_us: u64) -> Outcome {
    let t0 = Instant::now();
    let at = |us: u64| t0 + Duration::from_micros(us);
    let mut enc = OpusEncoder::new(&OpusConfig::default()).expect("encoder");
    let mut dec = OpusDecoder::new(FrameDuration::Ms20).expect("decoder");
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
    let mut in_flight: Vec<(u64, RtpMeta, Vec<u8>)> = Vec::new();
    let mut played = Vec::new();
    let (mut pkt, mut pcm) = ([0u8; MAX_OPUS_PACKET], [0i16; 5760]);
    let frames = seconds * 50;
    for k in 0..frames {
        let send_us = k * 20_000;
        let n = enc.encode(&tone.next_frame(960), &mut pkt).expect("encode");
        if let Some(arrive) = net.deliver_at(send_us) {
            in_flight.push((
                arrive,
                RtpMeta { seq: k as u16, ts: k as u32 * 960, marker: false, ssrc: 1 },
                pkt[..n].to_vec(),
            ));
        }
        // The receiver's playout tick for this period.
        let tick = send_us + playout_offset_us;
        in_flight.sort_by_key(|p| p.0);
        let due = in_flight.iter().take_while(|p| p.0 <= tick).count();
        for (arrive, rtp, payload) in in_flight.drain(..due) {
            jb.push(at(arrive), rtp, payload);
        }
        let n = match jb.pop(at(tick)) {
            Playout::Frame(p) => dec.decode(&p, &mut pcm).expect("decode"),
            Playout::Conceal { fec: Some(next) } => dec.recover(&next, &mut pcm).expect("fec"),
            Playout::Conceal { fec: None } => dec.conceal(&mut pcm).expect("plc"),
            _ => {
                pcm[..960].fill(0);
                960
            }
        };
        played.extend_from_slice(&pcm[..n]);
    }
    let settle = 48_000 / 2;
    let share = ToneDetector::new(48_000, 1000.0).share_detected(&played[settle..], 960);
    Outcome { share, stats: jb.stats() }
}

#[test]
fn clean_network_detects_tone_in_98_percent_of_windows() {
    let out = run(20, Impairment::new(1, 0.0, 5_000, 0), 7_000);
    eprintln!("clean: tone in {:.3} of windows, {:?}", out.share, out.stats);
    assert!(out.share >= 0.98, "clean: {:.3} {:?}", out.share, out.stats);
    assert!(out.stats.target_delay <= Duration::from_millis(20), "clean network keeps delay near one frame");
}

#[test]
fn five_percent_loss_and_30ms_jitter_keep_95_percent() {
    for seed in [1, 2, 3] {
        let out = run(30, Impairment::new(seed, 0.05, 5_000, 30_000), 7_000);
        eprintln!("seed {seed}: tone in {:.3} of windows, {:?}", out.share, out.stats);
        assert!(out.share >= 0.95, "seed {seed}: {:.3} {:?}", out.share, out.stats);
        assert!(out.stats.lost > 0, "the shim must actually lose packets");
    }
}
