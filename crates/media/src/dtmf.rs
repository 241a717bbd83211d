//! RFC 4733 telephone-event: DTMF digits as RTP payloads.
//!
//! A digit is one event with a fixed RTP timestamp (its start) whose
//! duration grows packet by packet; the end is flagged and sent three times
//! because it is the packet that matters most and RTP does not retransmit.
//! The clock is the negotiated telephone-event rate: 48000 beside Opus,
//! 8000 beside G.711.

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

/// Reports each received digit once, however many packets carried it.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    last_start: Option<u32>,
    ended: bool,
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
        /// Its full duration in clock ticks.
        duration: u16,
    },
}

impl DtmfReceiver {
    /// Feed one packet's RTP timestamp and payload. Duplicates and
    /// retransmitted end packets yield nothing; garbage yields nothing.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Option<DtmfEvent> {
        let ev = TelephoneEvent::decode(payload)?;
        let digit = event_to_digit(ev.event)?;
        if self.last_start != Some(timestamp) {
            self.last_start = Some(timestamp);
            self.ended = ev.end;
            // A lost start still produces the digit, from whichever packet came first.
            return Some(if ev.end {
                DtmfEvent::Ended { digit, duration: ev.duration }
            } else {
                DtmfEvent::Began(digit)
            });
        }
        if ev.end && !self.ended {
            self.ended = true;
            return Some(DtmfEvent::Ended { digit, duration: ev.duration });
        }
        None
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

    #[test]
    fn receiver_reports_each_digit_once() {
        let tx = DtmfSender::new(8_000, 20);
        let mut rx = DtmfReceiver::default();
        let mut seen = Vec::new();
        for (i, d) in "12#".chars().enumerate() {
            for p in tx.packets(d, 1000 * i as u32, 80).expect("digit") {
                seen.extend(rx.receive(p.timestamp, &p.event.encode()));
            }
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
        assert_eq!(rx.receive(5, &[200, 0, 0, 1]), None, "unknown event code is ignored");
    }
}
