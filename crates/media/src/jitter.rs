//! An adaptive jitter buffer, sans-IO: the caller passes the time of every
//! arrival and every playout tick, so tests run on simulated time.
//!
//! # The playout timeline
//!
//! Every packet is placed on one continuous *playout timeline*:
//! `play_ts = extended RTP timestamp + offset`, in RTP clock ticks. Frames
//! are buffered and played by `play_ts`, and every statistic (transit,
//! jitter, target delay) is computed on it. A sender is free to stop and
//! resume (RFC 3550 5.1), and SBCs re-anchor media around hold, music on
//! hold, re-INVITEs and transfers: such a discontinuity changes `offset`
//! only, so it never reaches the delay estimate and never leaves the stream
//! stuck behind a playout point that kept running through the silence.
//!
//! # How it decides the delay
//!
//! * Every packet's *transit* (arrival time minus its `play_ts` in
//!   microseconds) is remembered for the last `history` packets. The
//!   smallest is the *baseline* (the network's best case); it follows
//!   sender clock drift, because old samples age out.
//! * The *target delay* is the 98th percentile of (transit - baseline),
//!   plus half a frame. On a clean network that is under one frame; at
//!   30 ms jitter it settles just above 30 ms.
//! * At each playout tick, the *latency* of the frame due next is
//!   `now - play_ts - baseline`. Too early by half a frame: play a
//!   concealment frame instead (stretch). Too late by half a frame with the
//!   following frame already here: drop one (shrink). Due and missing:
//!   conceal, handing the decoder the next packet for FEC.
//!
//! # The rules for what arrives
//!
//! Sequence numbers are extended as in RFC 3550 A.1: a packet up to
//! [`MAX_DROPOUT`] ahead of the highest seen is *in order* (a gap before it
//! is loss), one up to [`MAX_MISORDER`] behind is reordered or a duplicate.
//! Timestamps are unwrapped against the highest seen.
//!
//! 1. **Drain.** When the frame due is missing and the buffer is empty for
//!    [`DRAIN_TICKS`] ticks in a row, the sender has paused (hold, DTX,
//!    comfort noise, a stalled network): the timeline is dropped and the
//!    buffer plays [`Playout::Idle`] (silence, not concealment) until
//!    something arrives.
//! 2. **Resume.** The first in-order packet after a drain, or one with the
//!    marker bit (start of a talk spurt) into an empty buffer, is checked
//!    against the baseline. If its transit is off by more than jitter
//!    explains (target delay plus half a frame), its timestamp did not
//!    advance with the wall clock (Chrome after hold advances it by 5.56 s
//!    over a 6.05 s gap): the offset is set so that it is due one target
//!    delay from now. Otherwise the timeline stands (Opus DTX and burst loss
//!    keep their timestamps consistent, and nothing is shifted).
//! 3. **New source.** A new SSRC (another media server took over) starts a
//!    fresh unwrap of sequence numbers and timestamps and is anchored as in
//!    rule 2, after anything still buffered. The delay estimate and the
//!    counters carry on; late packets of the old SSRC are `Late`.
//! 4. **Sequence discontinuity.** A sequence number more than
//!    [`MAX_DROPOUT`] ahead or [`MAX_MISORDER`] behind is a restarted
//!    source: as rule 3. (RFC 3550 waits for a second packet to confirm;
//!    SRTP authenticates every packet, so we do not pay a frame for that.)
//! 5. **Timestamp jump mid-stream.** An in-order packet off the baseline by
//!    more than `max_delay` plus a frame, or the second in-order packet in a
//!    row that arrives late, re-anchors the stream to follow what was
//!    buffered: its `play_ts` is the last in-order packet's plus one packet
//!    duration per sequence number, and never before the frame due next.
//!    A packet that is late because it was reordered (its sequence number is
//!    below the highest seen) stays `Late`, and so do the packets of the
//!    timeline before a re-anchor (they are placed with the old offset).
//!
//! # What the counters mean
//!
//! They describe what the listener hears. `lost` counts frames that were due
//! while their packet was missing and were concealed (or, once drained,
//! silent). When the buffer ran empty, a concealment is only *tentative*:
//! it becomes `lost` when a later sequence number proves packets were
//! missing (or the missing packet itself arrives late), so a sender pause
//! is never loss while burst loss is. A tentative wait that turns out to be
//! a late packet arriving in time counts as `stretched`. `reanchored`
//! counts rules 2 to 5 moving the timeline.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Sequence numbers this far ahead of the highest seen are still the same
/// stream, with a gap (RFC 3550 A.1).
pub const MAX_DROPOUT: i64 = 3000;
/// Sequence numbers this far behind the highest seen are reordered packets
/// of the same stream (RFC 3550 A.1).
pub const MAX_MISORDER: i64 = 100;
/// Ticks in a row with the frame due missing and nothing buffered before
/// the buffer drains: 200 ms at 20 ms frames. Shorter gaps are a stalled
/// network or a busy machine far more often than a sender that paused, and
/// concealment (and rule 5 when the burst arrives) rides them out with
/// fewer gaps than silence and a re-anchor would; a real pause (hold,
/// DTX's 400 ms) is longer, and what resumes it is placed by rule 2.
pub const DRAIN_TICKS: u32 = 10;
/// In-order packets in a row that arrive late before the stream is
/// re-anchored to follow them (rule 5).
const LATE_RUN: u32 = 2;

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

/// The RTP header fields the buffer needs from each packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMeta {
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub ts: u32,
    /// Marker bit (for audio: the first packet of a talk spurt).
    pub marker: bool,
    /// Synchronization source.
    pub ssrc: u32,
}

/// What to play at one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Playout<P> {
    /// Nothing to play (nothing received yet, still filling, or the sender
    /// paused): play silence.
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

/// Counters for diagnostics and MOS, cumulative over the call (a codec or
/// SSRC change keeps them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub received: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames due while their packet was missing (concealed, or silent once
    /// drained) that sequence numbers prove were sent.
    pub lost: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Frames inserted to grow the delay.
    pub stretched: u64,
    /// Frames dropped to shrink the delay.
    pub shrunk: u64,
    /// Times the playout timeline was moved to follow the sender (a resume
    /// with another timestamp, a new source, a timestamp jump).
    pub reanchored: u64,
    /// Current target delay.
    pub target_delay: Duration,
    /// RFC 3550 interarrival jitter estimate, on the playout timeline.
    pub jitter: Duration,
}

/// One RTP source (SSRC and sequence space) and where its packets go on
/// the playout timeline.
#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    /// Highest extended sequence number seen (comfort noise included).
    highest_seq: i64,
    /// Highest extended timestamp seen, to unwrap the next one.
    highest_ts: i64,
    /// `play_ts - extended timestamp`.
    offset: i64,
    /// Sequence numbers below this belong to the timeline before the last
    /// re-anchor and use `before` as their offset.
    anchored_at: i64,
    before: Option<i64>,
    /// The last in-order audio packet: extended sequence number, extended
    /// timestamp and `play_ts`.
    last: (i64, i64, i64),
    /// Timestamp ticks per packet, as the sender spaces them.
    packet_ticks: i64,
}

impl Source {
    fn new(meta: RtpMeta, frame_ticks: i64) -> Self {
        let (seq, ts) = (i64::from(meta.seq), i64::from(meta.ts));
        Self {
            ssrc: meta.ssrc,
            highest_seq: seq - 1,
            highest_ts: ts,
            offset: 0,
            anchored_at: seq,
            before: None,
            last: (seq - 1, ts - frame_ticks, 0),
            packet_ticks: frame_ticks,
        }
    }

    /// The extended sequence number of `seq`, or `None` for a discontinuity.
    fn extend_seq(&self, seq: u16) -> Option<i64> {
        let delta = i64::from(seq.wrapping_sub(self.highest_seq as u16) as i16);
        (delta > -MAX_MISORDER - 1 && delta < MAX_DROPOUT).then_some(self.highest_seq + delta)
    }

    fn extend_ts(&mut self, ts: u32) -> i64 {
        let ext = self.highest_ts + i64::from(ts.wrapping_sub(self.highest_ts as u32) as i32);
        self.highest_ts = self.highest_ts.max(ext);
        ext
    }

    fn offset_for(&self, ext_seq: i64) -> i64 {
        match self.before {
            Some(before) if ext_seq < self.anchored_at => before,
            _ => self.offset,
        }
    }

    /// Move the timeline from sequence number `from` on.
    fn reanchor(&mut self, from: i64, offset: i64) {
        self.before = Some(self.offset);
        self.anchored_at = from;
        self.offset = offset;
    }
}

/// How an arriving packet is placed on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Where its timestamp and the current offset put it.
    Timeline,
    /// Due one target delay from now (rules 2 to 4).
    Now,
    /// Right after the last in-order packet (rule 5).
    FollowSequence,
}

/// The buffer itself; `P` is the payload type.
#[derive(Debug)]
pub struct JitterBuffer<P> {
    cfg: JitterConfig,
    epoch: Option<Instant>,
    /// Buffered packets by `play_ts`.
    packets: BTreeMap<i64, P>,
    source: Option<Source>,
    /// The SSRC and highest sequence number of the source before, whose
    /// stragglers are late.
    retired: Option<(u32, u16)>,
    /// The frame due next while playing.
    next_ts: Option<i64>,
    /// Where playout stopped when the buffer drained: nothing before it is played.
    floor: Option<i64>,
    /// Ticks in a row with the frame due missing and nothing buffered.
    starved: u32,
    /// Whether the buffer drained and no in-order packet came since.
    drained: bool,
    /// Tentative concealments while starved: timeline advanced / held.
    pending_skips: u64,
    pending_waits: u64,
    /// In-order packets in a row that arrived late.
    late_run: u32,
    /// Sequence numbers `from..to` counted lost at the last gap, and how
    /// many of them: one that turns up in time after all is not lost.
    credit: (i64, i64, u64),
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
            source: None,
            retired: None,
            next_ts: None,
            floor: None,
            starved: 0,
            drained: false,
            pending_skips: 0,
            pending_waits: 0,
            late_run: 0,
            credit: (0, 0, 0),
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

    /// The current settings.
    pub fn config(&self) -> JitterConfig {
        self.cfg
    }

    /// Change the clock (a re-INVITE switched the codec): what is buffered
    /// is dropped, the next packet starts a new source on the same
    /// timeline (rule 3), and the delay estimate and counters are kept.
    pub fn set_config(&mut self, cfg: JitterConfig) {
        if cfg == self.cfg {
            return;
        }
        let (old, new) = (i64::from(self.cfg.clock_rate.max(1)), i64::from(cfg.clock_rate.max(1)));
        self.floor = self.next_ts.or(self.floor).map(|t| t * new / old);
        self.next_ts = None;
        self.packets.clear();
        self.source = None;
        self.starved = 0;
        self.cfg = cfg;
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

    fn ts_us(&self, ticks: i64) -> i64 {
        ticks * 1_000_000 / i64::from(self.cfg.clock_rate.max(1))
    }

    fn us_ts(&self, us: i64) -> i64 {
        us * i64::from(self.cfg.clock_rate) / 1_000_000
    }

    /// A packet that carries nothing to play (comfort noise, RFC 3389): its
    /// sequence number is accounted for, so the gap it leaves is not loss.
    pub fn skip(&mut self, meta: RtpMeta) {
        if let Some(src) = &mut self.source
            && src.ssrc == meta.ssrc
            && let Some(ext) = src.extend_seq(meta.seq)
        {
            src.highest_seq = src.highest_seq.max(ext);
        }
    }

    /// A packet arrived at `now`.
    pub fn push(&mut self, now: Instant, meta: RtpMeta, payload: P) -> Arrival {
        let now_us = self.micros(now);
        let frame = i64::from(self.cfg.frame_ticks);
        let half = frame / 2;
        // Which source, and is this a new one (rules 3 and 4)?
        let known = self.source.filter(|s| s.ssrc == meta.ssrc).and_then(|s| s.extend_seq(meta.seq).map(|e| (s, e)));
        let (mut src, ext_seq, fresh) = match known {
            Some((src, ext_seq)) => (src, ext_seq, false),
            None => {
                if let Some((ssrc, highest)) = self.retired
                    && ssrc == meta.ssrc
                    && (0..=MAX_MISORDER).contains(&i64::from(highest.wrapping_sub(meta.seq) as i16))
                {
                    // A straggler of the source that was replaced.
                    self.stats.late += 1;
                    return Arrival::Late;
                }
                if let Some(old) = self.source {
                    self.retired = Some((old.ssrc, old.highest_seq as u16));
                }
                (Source::new(meta, frame), i64::from(meta.seq), true)
            }
        };
        let ext_ts = src.extend_ts(meta.ts);
        let in_order = ext_seq > src.highest_seq;
        let floor = self.next_ts.or(self.floor);
        let mut play = ext_ts + src.offset_for(ext_seq);
        let is_late = |play: i64| floor.is_some_and(|f| play < f - half);

        let placement = if fresh {
            Placement::Now
        } else if !in_order {
            Placement::Timeline
        } else {
            let off = now_us - self.ts_us(play) - self.best_transit();
            let resuming = self.drained || (meta.marker && self.packets.is_empty());
            if resuming && !self.transits.is_empty() {
                if off.abs() > self.target_us + frame_us(&self.cfg) / 2 { Placement::Now } else { Placement::Timeline }
            } else if off.abs() > self.cfg.max_delay.as_micros() as i64 + frame_us(&self.cfg)
                || (is_late(play) && self.late_run + 1 >= LATE_RUN)
            {
                Placement::FollowSequence
            } else {
                Placement::Timeline
            }
        };
        let after_buffered = self.packets.last_key_value().map(|(&k, _)| k + frame);
        let (last_seq, _, last_play) = src.last;
        let follow = last_play + (ext_seq - last_seq) * src.packet_ticks;
        // Following the sequence would still be late (the timestamps were
        // consistent, the packets were not: a stalled network, or a
        // sender that resumed before the buffer drained): restart there.
        let placement = match placement {
            Placement::FollowSequence if is_late(follow) => Placement::Now,
            p => p,
        };
        let target = match placement {
            Placement::Timeline => None,
            Placement::Now => {
                // Room for the packets the sequence says are still on their
                // way (reordered around the resume), at most two.
                let gap = if fresh { 0 } else { (ext_seq - src.highest_seq - 1).clamp(0, 2) };
                let due = self.us_ts(now_us - self.best_transit()) + gap * src.packet_ticks;
                Some([Some(due), floor, after_buffered].into_iter().flatten().max().unwrap_or(due))
            }
            Placement::FollowSequence => Some(follow),
        };
        let mut moved = false;
        if let Some(target) = target
            && target != play
        {
            if fresh {
                src.offset = target - ext_ts;
            } else {
                // Reordered packets of the resumed stream that arrive after
                // this one belong to the new timeline; older ones, to the old.
                src.reanchor(src.highest_seq + 1, target - ext_ts);
            }
            moved = !fresh || !self.transits.is_empty();
            play = target;
        }
        if moved {
            self.stats.reanchored += 1;
            if placement == Placement::Now && self.packets.is_empty() {
                // Playout restarts at the anchored packet, once it is due;
                // the old timeline's stragglers stay late.
                self.floor = self.next_ts.or(self.floor);
                self.next_ts = None;
            }
        }
        let late = is_late(play);

        if in_order {
            // Tentative concealments while starved become loss only if
            // sequence numbers prove packets were missing.
            // Once drained, every silent tick stood for a frame; before,
            // a wait only held the timeline back (a stretch) and the frame
            // was given up, and counted, by a later tick.
            let missing = if fresh { 0 } else { (ext_seq - src.highest_seq - 1).max(0) as u64 + u64::from(late) };
            let concealed = if self.drained { self.pending_skips + self.pending_waits } else { self.pending_skips };
            let lost = concealed.min(missing);
            self.stats.lost += lost;
            let gap = (ext_seq - src.highest_seq - 1).max(0);
            if lost > 0 {
                self.credit = (src.highest_seq + 1, ext_seq, lost.min(gap as u64));
            }
            if !self.drained && !moved {
                self.stats.stretched += self.pending_waits;
            }
            (self.pending_skips, self.pending_waits) = (0, 0);
            self.drained = false;
            self.late_run = if late { self.late_run + 1 } else { 0 };
            let (last_seq, last_ts, _) = src.last;
            if ext_seq == last_seq + 1 && (1..=4 * frame).contains(&(ext_ts - last_ts)) {
                src.packet_ticks = ext_ts - last_ts;
            }
            src.highest_seq = ext_seq;
            src.last = (ext_seq, ext_ts, play);
        }
        self.source = Some(src);

        if late {
            self.stats.late += 1;
            return Arrival::Late;
        }
        if self.packets.contains_key(&play) {
            self.stats.duplicates += 1;
            return Arrival::Duplicate;
        }
        let (from, to, count) = self.credit;
        if !in_order && count > 0 && (from..to).contains(&ext_seq) {
            // Counted lost when a later packet showed the gap, but only
            // reordered: it will be played after all.
            self.stats.lost -= 1;
            self.credit.2 -= 1;
        }
        let transit = now_us - self.ts_us(play);
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
        self.packets.insert(play, payload);
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

    /// The sender paused (rule 1): drop the timeline.
    fn drain(&mut self) {
        self.floor = self.next_ts.or(self.floor);
        self.next_ts = None;
        self.drained = true;
        self.starved = 0;
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
                None => {
                    // Silence after a drain: a frame that may prove lost.
                    if self.drained {
                        self.pending_skips += 1;
                    }
                    return Playout::Idle;
                }
            },
        };
        let mut next = next;
        // After a long gap (a stall the drain did not catch), jump to what we have.
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
        let present = self.packets.contains_key(&next);
        let starving = !present && self.packets.is_empty();
        if starving {
            self.starved += 1;
            if self.starved > DRAIN_TICKS {
                self.drain();
                self.pending_skips += 1;
                return Playout::Idle;
            }
        } else {
            self.starved = 0;
        }
        // A missing frame is only lost once the target delay has passed:
        // until then it is probably just late, and waiting costs one frame.
        if latency < self.target_us - frame_time / 2 || (!present && latency < self.target_us) {
            if self.next_ts.is_none() {
                return Playout::Idle;
            }
            self.next_ts = Some(next);
            if starving {
                self.pending_waits += 1;
            } else {
                self.stats.stretched += 1;
            }
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
            None if starving => {
                self.pending_skips += 1;
                Playout::Conceal { fec: None }
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
mod tests;
