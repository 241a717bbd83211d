//! An adaptive jitter buffer, sans-IO: the caller passes the time of every
//! arrival and every playout tick, so tests run on simulated time.
//!
//! How it decides:
//! * Every packet's *transit* (arrival time minus its RTP timestamp in
//!   microseconds) is remembered for the last couple of seconds. The smallest
//!   transit in that window is the network's best case; it follows sender
//!   clock drift, because old samples age out.
//! * The *target delay* is the 98th percentile of (transit - best case), plus
//!   half a frame. On a clean network that is under one frame; at 30 ms
//!   jitter it settles just above 30 ms.
//! * At each playout tick, the *latency* of the frame due next is
//!   `now - timestamp - best case`. Too early by half a frame: play a
//!   concealment frame instead (stretch). Too late by half a frame with the
//!   following frame already here: drop one (shrink). Due and missing: it is
//!   lost; conceal, handing the decoder the next packet for FEC.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Settings for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream.
    pub clock_rate: u32,
    /// RTP timestamp ticks per frame (960 for 20 ms Opus).
    pub frame_ticks: u32,
    /// The target delay never goes above this.
    pub max_delay: Duration,
    /// How many recent packets the delay estimate looks at.
    pub history: usize,
}

impl JitterConfig {
    /// 20 ms Opus at 48 kHz.
    pub fn opus_20ms() -> Self {
        Self { clock_rate: 48_000, frame_ticks: 960, max_delay: Duration::from_millis(300), history: 100 }
    }
}

/// What to play at one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Playout<P> {
    /// Nothing received yet (or still filling): play silence.
    Idle,
    /// The next frame.
    Frame(P),
    /// Conceal one frame. `fec` is the packet after the lost one, if it is
    /// here, so a decoder with in-band FEC can rebuild the lost frame.
    Conceal {
        /// The following packet, for FEC.
        fec: Option<P>,
    },
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arrival {
    /// Buffered for playout.
    Accepted,
    /// Its playout time has passed.
    Late,
    /// Already buffered.
    Duplicate,
}

/// Counters for diagnostics and MOS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub received: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames concealed because their packet was missing when due.
    pub lost: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Frames inserted to grow the delay.
    pub stretched: u64,
    /// Frames dropped to shrink the delay.
    pub shrunk: u64,
    /// Current target delay.
    pub target_delay: Duration,
    /// RFC 3550 interarrival jitter estimate.
    pub jitter: Duration,
}

/// The buffer itself; `P` is the payload type.
#[derive(Debug)]
pub struct JitterBuffer<P> {
    cfg: JitterConfig,
    epoch: Option<Instant>,
    packets: BTreeMap<i64, P>,
    last_ext: Option<i64>,
    next_ts: Option<i64>,
    transits: VecDeque<i64>,
    scratch: Vec<i64>,
    last_transit: Option<i64>,
    jitter_us: f64,
    target_us: i64,
    stats: JitterStats,
}

impl<P: Clone> JitterBuffer<P> {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let frame_us = frame_us(&cfg);
        Self {
            cfg,
            epoch: None,
            packets: BTreeMap::new(),
            last_ext: None,
            next_ts: None,
            transits: VecDeque::with_capacity(cfg.history),
            scratch: Vec::with_capacity(cfg.history),
            last_transit: None,
            jitter_us: 0.0,
            target_us: frame_us / 2,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_delay: Duration::from_micros(self.target_us.max(0) as u64),
            jitter: Duration::from_micros(self.jitter_us as u64),
            ..self.stats
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packet is waiting.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn micros(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_micros() as i64
    }

    fn ts_us(&self, ext: i64) -> i64 {
        ext * 1_000_000 / i64::from(self.cfg.clock_rate.max(1))
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        let ext = match self.last_ext {
            None => i64::from(ts),
            Some(last) => last + i64::from(ts.wrapping_sub(last as u32) as i32),
        };
        self.last_ext = Some(self.last_ext.map_or(ext, |l| l.max(ext)));
        ext
    }

    fn reset(&mut self) {
        self.packets.clear();
        self.next_ts = None;
        self.transits.clear();
        self.last_transit = None;
    }

    /// A packet with RTP timestamp `ts` arrived at `now`.
    pub fn push(&mut self, now: Instant, ts: u32, payload: P) -> Arrival {
        let now_us = self.micros(now);
        let mut ext = self.unwrap_ts(ts);
        // A timestamp jump of more than ten seconds is a new source or a
        // re-anchored stream: start over rather than wait for it.
        if let Some(next) = self.next_ts
            && (ext - next).abs() > i64::from(self.cfg.clock_rate) * 10
        {
            self.reset();
            self.last_ext = None;
            ext = self.unwrap_ts(ts);
        }
        let half = i64::from(self.cfg.frame_ticks / 2);
        if self.next_ts.is_some_and(|next| ext < next - half) {
            self.stats.late += 1;
            return Arrival::Late;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Arrival::Duplicate;
        }
        let transit = now_us - self.ts_us(ext);
        if let Some(prev) = self.last_transit {
            let d = (transit - prev).abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit = Some(transit);
        if self.transits.len() == self.cfg.history.max(1) {
            self.transits.pop_front();
        }
        self.transits.push_back(transit);
        self.update_target();
        self.packets.insert(ext, payload);
        self.stats.received += 1;
        // Bound memory against a sender flooding us.
        let max_packets = (self.cfg.max_delay.as_micros() as i64 / frame_us(&self.cfg).max(1)) as usize * 4 + 8;
        while self.packets.len() > max_packets {
            self.packets.pop_first();
        }
        Arrival::Accepted
    }

    fn best_transit(&self) -> i64 {
        self.transits.iter().copied().min().unwrap_or(0)
    }

    fn update_target(&mut self) {
        let best = self.best_transit();
        self.scratch.clear();
        self.scratch.extend(self.transits.iter().map(|t| t - best));
        let idx = (self.scratch.len() * 98 / 100).min(self.scratch.len().saturating_sub(1));
        let spread = if self.scratch.is_empty() { 0 } else { *self.scratch.select_nth_unstable(idx).1 };
        let frame = frame_us(&self.cfg);
        self.target_us = (spread + frame / 2).min(self.cfg.max_delay.as_micros() as i64);
    }

    /// A playout tick at `now`: what to play for the next frame.
    pub fn pop(&mut self, now: Instant) -> Playout<P> {
        let now_us = self.micros(now);
        let frame = i64::from(self.cfg.frame_ticks);
        let frame_time = frame_us(&self.cfg);
        let next = match self.next_ts {
            Some(n) => n,
            None => match self.packets.keys().next() {
                Some(&first) => first,
                None => return Playout::Idle,
            },
        };
        let mut next = next;
        // After a long gap (DTX, a stalled sender), jump to what we have.
        if !self.packets.contains_key(&next)
            && let Some(&first) = self.packets.keys().next()
            && self.ts_us(first - next) > self.cfg.max_delay.as_micros() as i64
        {
            next = first;
        }
        // Senders need not keep to a grid of whole frames (a resampler's
        // first block, a restart after silence): a packet within half a
        // frame of where we expect one is that frame, and we follow it.
        if let Some((&k, _)) = self.packets.range(next - frame / 2..).next()
            && k < next + frame / 2
        {
            next = k;
        }
        let latency = now_us - self.ts_us(next) - self.best_transit();
        // A missing frame is only lost once the target delay has passed:
        // until then it is probably just late, and waiting costs one frame.
        let present = self.packets.contains_key(&next);
        if latency < self.target_us - frame_time / 2 || (!present && latency < self.target_us) {
            if self.next_ts.is_none() {
                return Playout::Idle;
            }
            self.next_ts = Some(next);
            self.stats.stretched += 1;
            return Playout::Conceal { fec: None };
        }
        self.next_ts = Some(next);
        if latency > self.target_us + frame_time / 2
            && self.packets.contains_key(&next)
            && self.packets.contains_key(&(next + frame))
        {
            self.packets.remove(&next);
            next += frame;
            self.stats.shrunk += 1;
        }
        self.next_ts = Some(next + frame);
        // Anything older than the frame we are about to play can never be played.
        while self.packets.first_key_value().is_some_and(|(&k, _)| k < next) {
            self.packets.pop_first();
        }
        match self.packets.remove(&next) {
            Some(p) => {
                self.stats.played += 1;
                Playout::Frame(p)
            }
            None => {
                self.stats.lost += 1;
                Playout::Conceal { fec: self.packets.get(&(next + frame)).cloned() }
            }
        }
    }
}

fn frame_us(cfg: &JitterConfig) -> i64 {
    i64::from(cfg.frame_ticks) * 1_000_000 / i64::from(cfg.clock_rate.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Clean network: packets every 20 ms, ticks every 20 ms offset by `phase`.
    fn clean_run(phase: u64) -> (Vec<Playout<u32>>, JitterStats) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
        let mut out = Vec::new();
        for k in 0..100u32 {
            jb.push(t0 + ms(u64::from(k) * 20), k * 960, k);
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
        assert_eq!(jb.push(t0, 960, 1u32), Arrival::Accepted);
        assert_eq!(jb.push(t0, 0, 0), Arrival::Accepted);
        assert_eq!(jb.push(t0, 960, 1), Arrival::Duplicate);
        assert_eq!(jb.pop(t0 + ms(10)), Playout::Frame(0));
        assert_eq!(jb.pop(t0 + ms(30)), Playout::Frame(1));
        assert_eq!(jb.push(t0 + ms(31), 0, 0), Arrival::Late);
        let s = jb.stats();
        assert_eq!((s.duplicates, s.late, s.played), (1, 1, 2));
    }

    #[test]
    fn missing_packet_is_concealed_with_fec_from_the_next() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
        for k in [0u32, 2, 3] {
            jb.push(t0 + ms(u64::from(k) * 20), k * 960, k);
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
        let mut arrivals: Vec<(u64, u32)> =
            (0..500u32).map(|k| (u64::from(k) * 20_000 + rng.below(30_000), k)).collect();
        arrivals.sort();
        let mut i = 0;
        for tick in 0..520u64 {
            let now = tick * 20_000 + 3_000;
            while i < arrivals.len() && arrivals[i].0 <= now {
                jb.push(t0 + Duration::from_micros(arrivals[i].0), arrivals[i].1 * 960, arrivals[i].1);
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
                    jb.push(t0 + Duration::from_micros(u64::from(k) * sender_period_us), k * 960, k);
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
            jb.push(t0 + ms(u64::from(k) * 20), ts, k);
            assert_eq!(jb.pop(t0 + ms(u64::from(k) * 20 + 5)), Playout::Frame(k), "frame {k}: {:?}", jb.stats());
        }
    }

    #[test]
    fn timestamp_wrap_and_jump() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
        let start = u32::MAX - 960 * 2 + 1;
        for k in 0..6u32 {
            jb.push(t0 + ms(u64::from(k) * 20), start.wrapping_add(k * 960), k);
            assert_eq!(jb.pop(t0 + ms(u64::from(k) * 20 + 5)), Playout::Frame(k), "across the wrap");
        }
        // A new source far away in timestamp space restarts the buffer.
        jb.push(t0 + ms(200), 1_000_000_000, 99);
        assert_eq!(jb.pop(t0 + ms(205)), Playout::Frame(99));
    }
}
