//! Tests of `jitter.rs`, on simulated time where time matters.
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn meta(seq: u32, ts: u32) -> RtpMeta {
    RtpMeta { seq: seq as u16, ts, marker: false, ssrc: 7 }
}

/// Clean network: packets every 20 ms, ticks every 20 ms offset by `phase`.
fn clean_run(phase: u64) -> (Vec<Playout<u32>>, JitterStats) {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let mut out = Vec::new();
    for k in 0..100u32 {
        jb.push(t0 + ms(u64::from(k) * 20), meta(k, k * 960), k);
        out.push(jb.pop(t0 + ms(u64::from(k) * 20 + phase)));
    }
    (out, jb.stats())
}

#[test]
fn clean_network_plays_every_frame_within_one_frame() {
    for phase in [0, 5, 19] {
        let (out, stats) = clean_run(phase);
        let frames: Vec<u32> =
            out.iter().filter_map(|p| if let Playout::Frame(k) = p { Some(*k) } else { None }).collect();
        assert_eq!(frames.len(), 100, "phase {phase}: {stats:?}");
        assert_eq!(frames, (0..100).collect::<Vec<_>>());
        assert!(stats.target_delay <= ms(20), "minimum delay should be about one frame: {stats:?}");
    }
}

#[test]
fn reordering_and_duplicates() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    assert_eq!(jb.push(t0, meta(1, 960), 1u32), Arrival::Accepted);
    assert_eq!(jb.push(t0, meta(0, 0), 0), Arrival::Accepted);
    assert_eq!(jb.push(t0, meta(1, 960), 1), Arrival::Duplicate);
    assert_eq!(jb.pop(t0 + ms(10)), Playout::Frame(0));
    assert_eq!(jb.pop(t0 + ms(30)), Playout::Frame(1));
    assert_eq!(jb.push(t0 + ms(31), meta(0, 0), 0), Arrival::Late);
    let s = jb.stats();
    assert_eq!((s.duplicates, s.late, s.played), (1, 1, 2));
}

#[test]
fn missing_packet_is_concealed_with_fec_from_the_next() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    for k in [0u32, 2, 3] {
        jb.push(t0 + ms(u64::from(k) * 20), meta(k, k * 960), k);
    }
    assert_eq!(jb.pop(t0 + ms(10)), Playout::Frame(0));
    assert_eq!(jb.pop(t0 + ms(30)), Playout::Conceal { fec: Some(2) });
    assert_eq!(jb.pop(t0 + ms(50)), Playout::Frame(2));
    assert_eq!(jb.stats().lost, 1);
}

#[test]
fn target_grows_with_jitter_and_late_packets_stay_rare() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let mut rng = crate::impair::Rng::new(7);
    let mut arrivals: Vec<(u64, u32)> = (0..500u32).map(|k| (u64::from(k) * 20_000 + rng.below(30_000), k)).collect();
    arrivals.sort();
    let mut i = 0;
    for tick in 0..520u64 {
        let now = tick * 20_000 + 3_000;
        while i < arrivals.len() && arrivals[i].0 <= now {
            let k = arrivals[i].1;
            jb.push(t0 + Duration::from_micros(arrivals[i].0), meta(k, k * 960), k);
            i += 1;
        }
        jb.pop(t0 + Duration::from_micros(now));
    }
    let s = jb.stats();
    assert!(s.target_delay >= ms(25) && s.target_delay <= ms(60), "{s:?}");
    assert!(s.late + s.lost < 25, "at most ~5% late with a 98th-percentile target: {s:?}");
    assert!(s.jitter > ms(5), "{s:?}");
}

#[test]
fn drift_is_absorbed_by_stretching_or_shrinking() {
    for (sender_period_us, expect_shrink) in [(19_900u64, true), (20_100, false)] {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
        let mut played = 0;
        let mut k = 0u32;
        for tick in 0..1500u64 {
            let now = tick * 20_000;
            while u64::from(k) * sender_period_us <= now {
                jb.push(t0 + Duration::from_micros(u64::from(k) * sender_period_us), meta(k, k * 960), k);
                k += 1;
            }
            played += usize::from(matches!(jb.pop(t0 + Duration::from_micros(now + 7_000)), Playout::Frame(_)));
        }
        let s = jb.stats();
        assert!(jb.len() <= 3, "buffer must not grow without bound under drift: {} {s:?}", jb.len());
        if expect_shrink {
            assert!(s.shrunk >= 5, "{s:?}");
        } else {
            assert!(s.stretched + s.lost >= 5, "{s:?}");
        }
        assert!(played > 1400, "{played} {s:?}");
    }
}

#[test]
fn off_grid_timestamps_are_followed_not_lost() {
    // A G.711 sender whose resampler's first block was 151 samples long.
    let t0 = Instant::now();
    let cfg = JitterConfig { clock_rate: 8_000, frame_ticks: 160, ..JitterConfig::opus_20ms() };
    let mut jb = JitterBuffer::new(cfg);
    for k in 0..20u32 {
        let ts = if k == 0 { 0 } else { 151 + (k - 1) * 160 };
        jb.push(t0 + ms(u64::from(k) * 20), meta(k, ts), k);
        assert_eq!(jb.pop(t0 + ms(u64::from(k) * 20 + 5)), Playout::Frame(k), "frame {k}: {:?}", jb.stats());
    }
}

#[test]
fn timestamp_wrap_and_jump() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
    let start = u32::MAX - 960 * 2 + 1;
    for k in 0..6u32 {
        jb.push(t0 + ms(u64::from(k) * 20), meta(k, start.wrapping_add(k * 960)), k);
        assert_eq!(jb.pop(t0 + ms(u64::from(k) * 20 + 5)), Playout::Frame(k), "across the wrap");
    }
    // A source far away in timestamp space is followed.
    jb.push(t0 + ms(200), meta(6, 1_000_000_000), 99);
    assert_eq!(jb.pop(t0 + ms(205)), Playout::Frame(99));
}

// ---- Pauses, resumes and discontinuities, on simulated time ----

/// A sender and our playout ticks on one simulated clock: packets
/// arrive when sent (a clean network unless told otherwise), the
/// receiver ticks every 20 ms at a 5 ms phase.
struct Call {
    jb: JitterBuffer<u32>,
    t0: Instant,
    /// Microseconds since t0: when the sender sends its next packet.
    now: u64,
    next_tick: u64,
    seq: u16,
    ts: u32,
    ssrc: u32,
    /// Payloads are packet numbers, in sending order.
    id: u32,
    arrived: Vec<(u32, u64)>,
    /// Every tick: when, and what it played.
    ticks: Vec<(u64, Playout<u32>)>,
}

impl Call {
    fn new() -> Self {
        Self::starting_at(1000, 90_000)
    }

    fn starting_at(seq: u16, ts: u32) -> Self {
        Self {
            jb: JitterBuffer::new(JitterConfig::opus_20ms()),
            t0: Instant::now(),
            now: 0,
            next_tick: 5_000,
            seq,
            ts,
            ssrc: 0x1234,
            id: 0,
            arrived: Vec::new(),
            ticks: Vec::new(),
        }
    }

    /// Ticks the receiver up to (not including) `until`.
    fn tick_until(&mut self, until: u64) {
        while self.next_tick < until {
            let p = self.jb.pop(self.t0 + Duration::from_micros(self.next_tick));
            self.ticks.push((self.next_tick, p));
            self.next_tick += 20_000;
        }
    }

    /// Delivers one packet with the given header at `at`.
    fn deliver(&mut self, at: u64, meta: RtpMeta, id: u32) -> Arrival {
        self.tick_until(at);
        self.arrived.push((id, at));
        self.jb.push(self.t0 + Duration::from_micros(at), meta, id)
    }

    /// Sends one packet now (marker as given), then advances 20 ms.
    fn send(&mut self, marker: bool) -> u32 {
        let id = self.id;
        let meta = RtpMeta { seq: self.seq, ts: self.ts, marker, ssrc: self.ssrc };
        self.deliver(self.now, meta, id);
        self.id += 1;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(960);
        self.now += 20_000;
        id
    }

    /// Talks for `frames` packets; returns the first packet's id.
    fn talk(&mut self, frames: u32) -> u32 {
        let first = self.id;
        for _ in 0..frames {
            self.send(false);
        }
        first
    }

    /// The sender falls silent: the next packet leaves `gap_us` after
    /// the last one, its timestamp `ts_us` after the last one's.
    fn pause(&mut self, gap_us: u64, ts_us: u64) {
        self.now += gap_us - 20_000;
        self.ts = self.ts.wrapping_add((ts_us * 48 / 1000) as u32).wrapping_sub(960);
    }

    fn finish(&mut self) {
        self.tick_until(self.now + 200_000);
    }

    fn played(&self) -> Vec<(u64, u32)> {
        self.ticks.iter().filter_map(|(t, p)| if let Playout::Frame(id) = p { Some((*t, *id)) } else { None }).collect()
    }

    /// Asserts that packets `first..last` (exclusive) were all played, in
    /// order on consecutive ticks, the first within 100 ms of arriving.
    fn assert_plays_from(&self, first: u32, last: u32, what: &str) {
        let played = self.played();
        let start = played.iter().position(|&(_, id)| id == first);
        let Some(start) = start else {
            panic!("{what}: packet {first} was never played; {:?}", self.jb.stats());
        };
        let arrived = self.arrived.iter().find(|a| a.0 == first).map(|a| a.1).unwrap_or_default();
        let (at, _) = played[start];
        assert!(
            at - arrived <= 100_000,
            "{what}: the resumed audio must play within 100 ms of arriving, took {} ms; {:?}",
            (at - arrived) / 1000,
            self.jb.stats()
        );
        let after: Vec<(u64, u32)> = played[start..].iter().copied().filter(|&(_, id)| id < last).collect();
        let ids: Vec<u32> = after.iter().map(|p| p.1).collect();
        assert_eq!(ids, (first..last).collect::<Vec<_>>(), "{what}: every frame after the resume plays");
        assert!(after.windows(2).all(|w| w[1].0 - w[0].0 == 20_000), "{what}: on consecutive ticks, no gap: {after:?}");
    }
}

const SECOND: u64 = 1_000_000;

#[test]
fn a_pause_then_resume_plays_at_once_whatever_the_timestamp_did() {
    for pause_s in [1u64, 2, 6, 9] {
        let gap = pause_s * SECOND;
        let cases = [
            ("behind by 50 ms", gap - 50_000),
            ("behind by half the pause", gap / 2),
            ("behind by the whole pause (timestamps carry straight on)", 20_000),
            ("ahead by 50 ms", gap + 50_000),
            ("ahead by half the pause", gap + gap / 2),
            ("equal to the wall-clock gap", gap),
        ];
        for (what, ts_us) in cases {
            let what = format!("{pause_s} s pause, timestamp {what}");
            let mut call = Call::new();
            call.talk(100);
            call.pause(gap, ts_us);
            let first = call.talk(100);
            call.finish();
            call.assert_plays_from(0, first, &format!("{what} (before)"));
            call.assert_plays_from(first, first + 100, &what);
            let s = call.jb.stats();
            assert_eq!(s.lost, 0, "{what}: a sender pause is not loss: {s:?}");
            assert_eq!(s.late, 0, "{what}: nothing after the resume may be dropped as late: {s:?}");
            assert!(s.target_delay <= ms(20), "{what}: the jump must not reach the delay estimate: {s:?}");
            let expect_reanchor = ts_us.abs_diff(gap) > 30_000;
            assert_eq!(s.reanchored, u64::from(expect_reanchor), "{what}: {s:?}");
        }
    }
}

#[test]
fn chrome_resuming_after_hold_with_its_timestamp_behind_is_heard() {
    // Issue #24: a 6.05 s gap, the timestamp +5.56 s, the sequence +1.
    let mut call = Call::new();
    call.talk(250);
    call.pause(6_050_000, 5_560_000);
    let first = call.talk(500);
    call.finish();
    call.assert_plays_from(first, first + 500, "Chrome after hold");
    let s = call.jb.stats();
    assert_eq!((s.lost, s.late, s.reanchored), (0, 0, 1), "{s:?}");
    assert_eq!(s.played, 750, "{s:?}");
    let silent = call.ticks.iter().filter(|(_, p)| *p == Playout::Idle).count();
    assert!(silent > 250, "the pause is silence, not 300 concealed frames: {silent} idle ticks");
}

#[test]
fn sequence_numbers_wrap_across_a_pause() {
    let mut call = Call::starting_at(65_500, 1_000);
    call.talk(30);
    call.pause(2 * SECOND, 1_500_000);
    let first = call.talk(30);
    call.finish();
    assert_eq!(call.seq, 65_500u16.wrapping_add(60), "the sequence number wrapped");
    call.assert_plays_from(0, first, "before the wrap and the pause");
    call.assert_plays_from(first, 60, "across the wrap and the pause");
    assert_eq!(call.jb.stats().lost, 0);
    assert!(first > 0);
}

#[test]
fn timestamps_wrap_across_a_pause() {
    let mut call = Call::starting_at(10, u32::MAX - 960 * 20);
    call.talk(10);
    call.pause(SECOND, 900_000);
    let first = call.talk(40);
    call.finish();
    call.assert_plays_from(0, first, "before the pause");
    call.assert_plays_from(first, first + 40, "across the timestamp wrap");
    let s = call.jb.stats();
    assert_eq!((s.lost, s.reanchored), (0, 1), "{s:?}");
}

#[test]
fn a_new_ssrc_mid_call_is_followed_and_its_counters_carry_on() {
    let mut call = Call::new();
    call.talk(100);
    // Another media server takes over 20 ms later: new SSRC, sequence
    // number and timestamp base, no pause.
    let old = (call.ssrc, call.seq);
    (call.ssrc, call.seq, call.ts) = (0xbeef, 40_000, 3_000_000_000);
    let first = call.talk(100);
    // A straggler of the old server.
    let straggler = RtpMeta { seq: old.1.wrapping_sub(2), ts: 0, marker: false, ssrc: old.0 };
    assert_eq!(call.deliver(call.now, straggler, 999), Arrival::Late);
    call.finish();
    call.assert_plays_from(0, 200, "through the switch");
    let s = call.jb.stats();
    assert_eq!((s.received, s.played, s.lost, s.reanchored, s.late), (200, 200, 0, 1, 1), "{s:?}");
    assert!(first == 100);
}

#[test]
fn a_sequence_discontinuity_is_a_new_source() {
    let mut call = Call::new();
    call.talk(50);
    call.seq = call.seq.wrapping_add(20_000);
    call.ts = call.ts.wrapping_add(123_456_789);
    call.talk(50);
    call.finish();
    call.assert_plays_from(0, 100, "through the restart");
    let s = call.jb.stats();
    assert_eq!((s.lost, s.reanchored), (0, 1), "{s:?}");
}

#[test]
fn opus_dtx_is_neither_loss_nor_a_reanchor() {
    let mut call = Call::new();
    call.talk(50);
    // 5 s of DTX: one tiny packet every 400 ms, sequence +1, the
    // timestamp following the wall clock.
    for _ in 0..12 {
        call.pause(400_000, 400_000);
        call.send(false);
    }
    call.pause(400_000, 400_000);
    let first = call.id;
    call.send(true);
    call.talk(49);
    call.finish();
    call.assert_plays_from(first, first + 50, "speech after DTX");
    let s = call.jb.stats();
    assert_eq!((s.lost, s.reanchored, s.late), (0, 0, 0), "{s:?}");
    assert_eq!(s.played, 50 + 12 + 50, "every DTX packet is played too: {s:?}");
}

#[test]
fn a_marker_bit_after_a_short_silence_starts_a_new_talk_spurt() {
    // 40 ms of silence (too short to drain) and the timestamp carries
    // straight on: without the marker, the spurt would start late.
    let mut call = Call::new();
    call.talk(50);
    call.pause(60_000, 20_000);
    let first = call.id;
    call.send(true);
    call.talk(49);
    call.finish();
    call.assert_plays_from(first, first + 50, "the talk spurt");
    let s = call.jb.stats();
    assert_eq!((s.late, s.reanchored), (0, 1), "{s:?}");
}

#[test]
fn reordering_across_the_discontinuity() {
    let mut call = Call::new();
    call.talk(50);
    // Packet 49's copy and packet 50 and 51 of the resumed stream arrive
    // out of order: 51 first, then a straggler from before the pause, then 50.
    let gap = 3 * SECOND;
    let at = call.now - 20_000 + gap;
    let (seq, ts) = (call.seq, call.ts.wrapping_add(960 * 10));
    assert_eq!(
        call.deliver(at, RtpMeta { seq: seq.wrapping_add(1), ts: ts + 960, marker: false, ssrc: 0x1234 }, 51),
        Arrival::Accepted
    );
    let stale = RtpMeta { seq: seq.wrapping_sub(2), ts: call.ts - 2 * 960, marker: false, ssrc: 0x1234 };
    assert_eq!(call.deliver(at + 1_000, stale, 48), Arrival::Late, "a straggler from before the pause stays late");
    assert_eq!(call.deliver(at + 2_000, RtpMeta { seq, ts, marker: false, ssrc: 0x1234 }, 50), Arrival::Accepted);
    (call.id, call.seq, call.ts, call.now) = (52, seq.wrapping_add(2), ts + 2 * 960, at + 20_000);
    call.talk(30);
    call.finish();
    call.assert_plays_from(50, 82, "the resumed stream, reordered");
    assert_eq!(call.jb.stats().lost, 0);
}

#[test]
fn a_pause_is_not_loss_but_burst_loss_is() {
    let mut call = Call::new();
    call.talk(50);
    call.pause(2 * SECOND, 2 * SECOND);
    call.talk(50);
    assert_eq!(call.jb.stats().lost, 0, "a clean pause is not loss");
    // Five packets lost on the wire: the sequence numbers say so.
    call.seq = call.seq.wrapping_add(5);
    call.ts = call.ts.wrapping_add(5 * 960);
    call.now += 5 * 20_000;
    call.id += 5;
    call.talk(50);
    call.finish();
    let s = call.jb.stats();
    assert_eq!(s.lost, 5, "burst loss is loss: {s:?}");
    assert_eq!(s.reanchored, 0, "burst loss keeps the timeline: {s:?}");
}

#[test]
fn a_timestamp_jump_without_a_pause_is_followed() {
    for (what, jump) in [("forward 5 s", 5 * 48_000i64), ("back 3 s", -3 * 48_000), ("back 100 ms", -4_800)] {
        let mut call = Call::new();
        call.talk(50);
        call.ts = call.ts.wrapping_add(jump as u32);
        call.talk(50);
        call.finish();
        let s = call.jb.stats();
        let played: Vec<u32> = call.played().iter().map(|p| p.1).collect();
        let missed = 100 - played.len();
        assert!(missed <= 1, "{what}: at most the packet that showed the jump is lost: {missed} {s:?}");
        call.assert_plays_from(52, 100, what);
        assert_eq!(s.reanchored, 1, "{what}: {s:?}");
        assert!(s.target_delay <= ms(20), "{what}: {s:?}");
    }
}

#[test]
fn a_codec_change_keeps_the_counters() {
    let mut call = Call::new();
    call.talk(50);
    call.tick_until(call.now);
    let before = call.jb.stats();
    call.jb.set_config(JitterConfig { clock_rate: 8_000, frame_ticks: 160, ..JitterConfig::opus_20ms() });
    for k in 0..50u32 {
        let meta = RtpMeta { seq: call.seq.wrapping_add(k as u16), ts: k * 160, marker: k == 0, ssrc: call.ssrc };
        call.deliver(call.now + u64::from(k) * 20_000, meta, 50 + k);
    }
    call.now += 50 * 20_000;
    call.finish();
    call.assert_plays_from(50, 100, "after the codec change");
    let s = call.jb.stats();
    assert_eq!((s.played, s.received, s.lost), (100, 100, 0), "{s:?} (before: {before:?})");
}

#[test]
fn comfort_noise_sequence_numbers_are_not_loss() {
    let mut call = Call::new();
    call.talk(50);
    // One comfort noise packet the receiver does not play, then 2 s of nothing.
    call.jb.skip(RtpMeta { seq: call.seq, ts: call.ts, marker: false, ssrc: call.ssrc });
    call.seq = call.seq.wrapping_add(1);
    call.pause(2 * SECOND, 2 * SECOND);
    let first = call.id;
    call.send(true);
    call.talk(20);
    call.finish();
    call.assert_plays_from(first, first + 21, "after comfort noise");
    assert_eq!(call.jb.stats().lost, 0);
}
