//! Call quality as a MOS estimate from RTCP figures, by the ITU-T G.107
//! E-model reduced to the terms we can measure: delay, loss and jitter.

use std::time::Duration;

/// What RTCP (and our jitter buffer) told us over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkQuality {
    /// Round-trip time from RTCP sender/receiver reports.
    pub rtt: Duration,
    /// Interarrival jitter.
    pub jitter: Duration,
    /// Fraction of packets lost, 0.0..=1.0.
    pub loss: f64,
    /// Delay our own buffering and codec add at this end.
    pub local_delay: Duration,
}

/// Equipment impairment for Opus at voice bitrates (G.113 lists none; this
/// matches published wideband-to-narrowband mappings).
const IE_OPUS: f64 = 0.0;
/// Packet-loss robustness of Opus with PLC and FEC (G.711 with PLC is 25.1).
const BPL_OPUS: f64 = 30.0;

/// The transmission rating factor R (0..=93.2 narrowband scale).
pub fn r_factor(q: &LinkQuality) -> f64 {
    // Jitter costs delay: the buffer holds about twice the jitter.
    let d = q.rtt.as_secs_f64() * 500.0 + q.jitter.as_secs_f64() * 2000.0 + q.local_delay.as_secs_f64() * 1000.0;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = (q.loss.clamp(0.0, 1.0)) * 100.0;
    let ie_eff = IE_OPUS + (95.0 - IE_OPUS) * ppl / (ppl + BPL_OPUS);
    (93.2 - id - ie_eff).clamp(0.0, 100.0)
}

/// The mean opinion score (1.0..=4.5) for a rating factor R.
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + 7.0e-6 * r * (r - 60.0) * (100.0 - r)
    }
}

/// MOS for a link.
pub fn mos(q: &LinkQuality) -> f64 {
    mos_from_r(r_factor(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lan_call_scores_above_4_3() {
        let q = LinkQuality { local_delay: Duration::from_millis(40), ..LinkQuality::default() };
        assert!(mos(&q) > 4.3, "{}", mos(&q));
    }

    #[test]
    fn loss_delay_and_jitter_each_lower_the_score() {
        let base = LinkQuality { local_delay: Duration::from_millis(40), ..LinkQuality::default() };
        let lossy = LinkQuality { loss: 0.05, ..base };
        let slow = LinkQuality { rtt: Duration::from_millis(400), ..base };
        let jittery = LinkQuality { jitter: Duration::from_millis(30), ..base };
        for (name, q) in [("loss", lossy), ("rtt", slow), ("jitter", jittery)] {
            assert!(mos(&q) < mos(&base), "{name}");
        }
        assert!(mos(&lossy) > 3.5, "5% loss with Opus FEC is still fair: {}", mos(&lossy));
        assert!(mos(&LinkQuality { loss: 1.0, ..base }) < 1.5);
    }
}
