//! RFC 4733 telephone-event: DTMF digits as RTP payloads.
//!
//! A digit is one event with a fixed RTP timestamp (its start) whose
//! duration grows packet by packet; the end is flagged and sent three times
//! because it is the packet that matters most and RTP does not retransmit.
//! The clock is the negotiated telephone-event rate: 48000 beside Opus,
//! 8000 beside G.711.

use std::time::{Duration, Instant};

use crate::jitter::RtpMeta;

/// One RFC 4733 event payload (4 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9, 10 = `*`, 11 = `#`, 12-15 = A-D.
    pub event: u8,
    /// Set on the final packets of the event.
    pub end: bool,
    /// Power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in clock ticks.
    pub duration: u16,
}

impl TelephoneEvent {
    /// The 4-byte payload.
    pub fn encode(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), d[0], d[1]]
    }

    /// Parse a payload; `None` if it is shorter than 4 bytes. Extra bytes
    /// (further events in one packet) are ignored.
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let b: &[u8; 4] = payload.get(..4)?.try_into().ok()?;
        Some(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }
}

/// The event code of a DTMF digit character.
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF digit character of an event code.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// The two DTMF frequencies (low, high) of a digit, for local feedback tones.
pub fn dtmf_frequencies(digit: char) -> Option<(f32, f32)> {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let (row, col) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((LOW[row], HIGH[col]))
}

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
    /// RTP marker bit: set on the first packet of an event.
    pub marker: bool,
    /// The payload.
    pub event: TelephoneEvent,
}

/// Turns a digit into the packets to send, one per frame period.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    frame_ticks: u32,
}

impl DtmfSender {
    /// A sender for a telephone-event clock of `clock_rate` Hz sending one
    /// packet every `frame_ms` milliseconds.
    pub fn new(clock_rate: u32, frame_ms: u32) -> Self {
        Self { clock_rate, frame_ticks: clock_rate * frame_ms / 1000 }
    }

    /// All packets of one digit of `duration_ms` starting at RTP timestamp
    /// `start`, in sending order (the final one three times).
    pub fn packets(&self, digit: char, start: u32, duration_ms: u32) -> Option<Vec<EventPacket>> {
        let event = digit_to_event(digit)?;
        let total = (self.clock_rate * duration_ms / 1000).clamp(self.frame_ticks, u32::from(u16::MAX)) as u16;
        let mut out = Vec::new();
        let mut d = self.frame_ticks.min(u32::from(total)) as u16;
        loop {
            let end = d >= total;
            let ev = TelephoneEvent { event, end, volume: 10, duration: d };
            let copies = if end { 3 } else { 1 };
            for _ in 0..copies {
                out.push(EventPacket { timestamp: start, marker: out.is_empty(), event: ev });
            }
            if end {
                return Some(out);
            }
            d = (u32::from(d) + self.frame_ticks).min(u32::from(total)) as u16;
        }
    }
}

/// How long a digit may go without a packet before the receiver ends it
/// itself: all three end packets lost, and the sender paused (held us) or
/// moved on. Senders refresh an event every 20-50 ms.
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(400);

/// Reports each received digit once, however many packets carried it.
///
/// An event is its RTP timestamp and event code (RFC 4733 2.5.1). A new
/// one begins when either changes, or, with the same timestamp (a sender
/// whose clock stood still while it was silent), when a packet that is not
/// an end follows the end with a higher sequence number. Reordered packets
/// of an event already over are ignored; a new SSRC is always a new event.
/// A digit whose end never arrives is ended by the next digit, or by
/// [`DtmfReceiver::poll`] once [`EVENT_TIMEOUT`] passes without a packet.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
}

/// The event being received.
#[derive(Debug, Clone, Copy)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    digit: char,
    /// Highest sequence number of its packets.
    seq: u16,
    duration: u16,
    ended: bool,
    heard: Instant,
}

/// What a received telephone-event packet meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtmfEvent {
    /// A new digit began (show it, play local feedback).
    Began(char),
    /// The digit ended after `duration` clock ticks.
    Ended {
        /// The digit.
        digit: char,
        /// Its full duration in clock ticks (the longest heard, if its end
        /// packets were lost).
        duration: u16,
    },
}

impl DtmfReceiver {
    /// Feed one packet received at `now`: its RTP header and payload.
    /// Duplicates and retransmitted end packets yield nothing, garbage
    /// yields nothing; a new digit after one whose end was lost yields the
    /// old digit's end first.
    pub fn receive(&mut self, now: Instant, rtp: RtpMeta, payload: &[u8]) -> Vec<DtmfEvent> {
        let Some(ev) = TelephoneEvent::decode(payload) else { return Vec::new() };
        let Some(digit) = event_to_digit(ev.event) else { return Vec::new() };
        let mut out = Vec::new();
        if let Some(cur) = &mut self.current
            && cur.ssrc == rtp.ssrc
        {
            let ahead = (rtp.seq.wrapping_sub(cur.seq) as i16) > 0;
            let same = cur.timestamp == rtp.ts && cur.event == ev.event;
            // RFC 4733 2.5.1.5: a long event goes on under a new timestamp
            // where the previous segment's duration ran out.
            let next_segment = !cur.ended
                && cur.event == ev.event
                && ahead
                && rtp.ts.wrapping_sub(cur.timestamp) == u32::from(cur.duration);
            if next_segment {
                cur.timestamp = rtp.ts;
            }
            if same || next_segment {
                let restarted = cur.ended && !ev.end && ahead;
                if !restarted {
                    cur.heard = now;
                    if ahead {
                        cur.seq = rtp.seq;
                    }
                    cur.duration = cur.duration.max(ev.duration);
                    if ev.end && !cur.ended {
                        cur.ended = true;
                        out.push(DtmfEvent::Ended { digit, duration: cur.duration });
                    }
                    return out;
                }
            } else if !ahead {
                // A reordered packet of an event that is over.
                return out;
            }
        }
        if let Some(cur) = self.current
            && !cur.ended
        {
            out.push(DtmfEvent::Ended { digit: cur.digit, duration: cur.duration });
        }
        self.current = Some(Current {
            ssrc: rtp.ssrc,
            timestamp: rtp.ts,
            event: ev.event,
            digit,
            seq: rtp.seq,
            duration: ev.duration,
            ended: ev.end,
            heard: now,
        });
        // A lost start still produces the digit, from whichever packet came first.
        out.push(if ev.end { DtmfEvent::Ended { digit, duration: ev.duration } } else { DtmfEvent::Began(digit) });
        out
    }

    /// At `now`: the end of a digit that went quiet without its end packets.
    pub fn poll(&mut self, now: Instant) -> Option<DtmfEvent> {
        let cur = self.current.as_mut().filter(|c| !c.ended)?;
        if now.saturating_duration_since(cur.heard) < EVENT_TIMEOUT {
            return None;
        }
        cur.ended = true;
        Some(DtmfEvent::Ended { digit: cur.digit, duration: cur.duration })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let ev = TelephoneEvent { event: 11, end: true, volume: 10, duration: 1600 };
        assert_eq!(ev.encode(), [11, 0x8a, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::decode(&ev.encode()), Some(ev));
        assert_eq!(TelephoneEvent::decode(&[1, 2]), None);
    }

    #[test]
    fn digits_map_both_ways() {
        for d in "0123456789*#ABCD".chars() {
            let e = digit_to_event(d).expect("valid digit");
            assert_eq!(event_to_digit(e), Some(d));
            assert!(dtmf_frequencies(d).is_some());
        }
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn sender_at_48k_and_8k() {
        for (rate, total) in [(48_000u32, 4800u16), (8_000, 800)] {
            let pkts = DtmfSender::new(rate, 20).packets('5', 1234, 100).expect("digit");
            assert!(pkts[0].marker && pkts.iter().skip(1).all(|p| !p.marker));
            assert!(pkts.iter().all(|p| p.timestamp == 1234));
            assert_eq!(pkts.len(), 5 + 2, "5 frames of 20 ms, the end sent 3 times at {rate}");
            let last = pkts.last().expect("packets");
            assert!(last.event.end);
            assert_eq!(last.event.duration, total);
        }
    }

    #[test]
    fn long_digit_at_48k_saturates_duration_without_overflow() {
        let pkts = DtmfSender::new(48_000, 20).packets('1', 0, 5_000).expect("digit");
        assert_eq!(pkts.last().expect("packets").event.duration, u16::MAX);
    }

    fn rtp(seq: u16, ts: u32) -> RtpMeta {
        RtpMeta { seq, ts, marker: false, ssrc: 9 }
    }

    /// Feeds packets 20 ms apart from `at`, numbering them from `seq`.
    fn feed(rx: &mut DtmfReceiver, at: Instant, seq: u16, pkts: &[EventPacket]) -> Vec<DtmfEvent> {
        let mut seen = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let meta = RtpMeta { marker: p.marker, ..rtp(seq + i as u16, p.timestamp) };
            seen.extend(rx.receive(at + Duration::from_millis(20 * i as u64), meta, &p.event.encode()));
        }
        seen
    }

    #[test]
    fn receiver_reports_each_digit_once() {
        let tx = DtmfSender::new(8_000, 20);
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for (i, d) in "12#".chars().enumerate() {
            let pkts = tx.packets(d, 1000 * i as u32, 80).expect("digit");
            seen.extend(feed(&mut rx, t0, 100 * i as u16, &pkts));
        }
        assert_eq!(
            seen,
            vec![
                DtmfEvent::Began('1'),
                DtmfEvent::Ended { digit: '1', duration: 640 },
                DtmfEvent::Began('2'),
                DtmfEvent::Ended { digit: '2', duration: 640 },
                DtmfEvent::Began('#'),
                DtmfEvent::Ended { digit: '#', duration: 640 },
            ]
        );
        assert_eq!(rx.receive(t0, rtp(400, 5), &[200, 0, 0, 1]), vec![], "unknown event code is ignored");
    }

    #[test]
    fn the_end_packet_repeated_three_times_ends_the_digit_once() {
        let pkts = DtmfSender::new(48_000, 20).packets('7', 5_000, 100).expect("digit");
        assert_eq!(pkts.iter().filter(|p| p.event.end).count(), 3);
        let mut rx = DtmfReceiver::default();
        let seen = feed(&mut rx, Instant::now(), 1, &pkts);
        assert_eq!(seen, vec![DtmfEvent::Began('7'), DtmfEvent::Ended { digit: '7', duration: 4800 }]);
        assert_eq!(rx.poll(Instant::now() + Duration::from_secs(5)), None, "an ended digit does not time out again");
    }

    #[test]
    fn the_same_digit_again_after_a_pause_with_the_same_timestamp_is_a_new_digit() {
        // A sender whose RTP clock stood still while it sent nothing (held,
        // or its audio paused) stamps the next digit with the same timestamp.
        let tx = DtmfSender::new(8_000, 20);
        let pkts = tx.packets('5', 8_000, 60).expect("digit");
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        let mut seen = feed(&mut rx, t0, 10, &pkts);
        seen.extend(feed(&mut rx, t0 + Duration::from_secs(3), 10 + pkts.len() as u16, &pkts));
        let five = [DtmfEvent::Began('5'), DtmfEvent::Ended { digit: '5', duration: 480 }];
        assert_eq!(seen, [five, five].concat(), "two presses, two digits");
        // A new timestamp is a new digit as well, and a late copy of an old
        // packet (lower sequence number) is not.
        let mut more = feed(&mut rx, t0 + Duration::from_secs(4), 100, &tx.packets('5', 16_000, 60).expect("digit"));
        more.extend(rx.receive(t0 + Duration::from_secs(5), rtp(12, 8_000), &pkts[1].event.encode()));
        assert_eq!(more, five.to_vec());
    }

    #[test]
    fn a_digit_whose_end_was_lost_ends_when_the_sender_pauses() {
        let tx = DtmfSender::new(48_000, 20);
        let pkts = tx.packets('9', 0, 100).expect("digit");
        let no_end: Vec<EventPacket> = pkts.iter().copied().filter(|p| !p.event.end).collect();
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        assert_eq!(feed(&mut rx, t0, 1, &no_end), vec![DtmfEvent::Began('9')]);
        let last = t0 + Duration::from_millis(20 * (no_end.len() as u64 - 1));
        assert_eq!(rx.poll(last + Duration::from_millis(100)), None, "not yet: packets may still come");
        assert_eq!(
            rx.poll(last + EVENT_TIMEOUT),
            Some(DtmfEvent::Ended { digit: '9', duration: 3840 }),
            "the digit must not stay down through the pause"
        );
        assert_eq!(rx.poll(last + EVENT_TIMEOUT * 2), None, "once");
        // The late end packets, after the pause: nothing more.
        let late = feed(&mut rx, last + Duration::from_secs(6), 10, &pkts[no_end.len()..]);
        assert_eq!(late, vec![]);
    }

    #[test]
    fn a_new_digit_ends_one_whose_end_was_lost() {
        let tx = DtmfSender::new(8_000, 20);
        let first: Vec<EventPacket> =
            tx.packets('1', 0, 100).expect("digit").into_iter().filter(|p| !p.event.end).collect();
        let mut rx = DtmfReceiver::default();
        let t0 = Instant::now();
        let mut seen = feed(&mut rx, t0, 1, &first);
        seen.extend(feed(&mut rx, t0 + Duration::from_millis(150), 20, &tx.packets('2', 2_000, 40).expect("digit")));
        assert_eq!(
            seen,
            vec![
                DtmfEvent::Began('1'),
                DtmfEvent::Ended { digit: '1', duration: 640 },
                DtmfEvent::Began('2'),
                DtmfEvent::Ended { digit: '2', duration: 320 },
            ]
        );
    }
}
