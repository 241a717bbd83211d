//! Tone generation and Goertzel tone detection.
//!
//! Every audio test in the workspace speaks the same language: a party sends
//! its own sine tone and the far end counts the 20 ms windows in which that
//! tone dominates. Goertzel measures one frequency in O(n) with no FFT, so a
//! detector per window costs nothing.

use std::f32::consts::TAU;

/// A continuous sine tone, phase-continuous across frames.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    rate: u32,
    phase: f32,
    step: f32,
    amplitude: f32,
}

impl ToneGenerator {
    /// A tone of `freq` Hz at `amplitude` (0.0..=1.0 of full scale).
    pub fn new(rate: u32, freq: f32, amplitude: f32) -> Self {
        Self { rate, phase: 0.0, step: TAU * freq / rate as f32, amplitude: amplitude.clamp(0.0, 1.0) }
    }

    /// Change the frequency without a phase jump.
    pub fn set_frequency(&mut self, freq: f32) {
        self.step = TAU * freq / self.rate as f32;
    }

    /// Add the next samples to `out` (mixing, not overwriting).
    pub fn add_to(&mut self, out: &mut [i16]) {
        for s in out {
            let v = self.phase.sin() * self.amplitude * f32::from(i16::MAX);
            *s = s.saturating_add(v as i16);
            self.phase = (self.phase + self.step) % TAU;
        }
    }

    /// Fill `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        out.fill(0);
        self.add_to(out);
    }

    /// The next `n` samples as a new vector (tests and setup, not hot paths).
    pub fn next_frame(&mut self, n: usize) -> Vec<i16> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

/// Detects whether one frequency dominates a window of samples.
#[derive(Debug, Clone, Copy)]
pub struct ToneDetector {
    rate: u32,
    freq: f32,
    /// Fraction of the window's energy that must sit at `freq`.
    min_ratio: f32,
    /// Below this RMS (full scale 1.0) a window is silence, not a tone.
    min_rms: f32,
}

impl ToneDetector {
    /// A detector for `freq` Hz in audio sampled at `rate` Hz.
    pub fn new(rate: u32, freq: f32) -> Self {
        Self { rate, freq, min_ratio: 0.5, min_rms: 0.01 }
    }

    /// The same detector with another share of the window's energy the
    /// tone must hold: 0.5 (the default) asks for a dominant tone; a mix of
    /// two voices (a conference) gives each about half, so it needs less.
    pub fn with_min_ratio(self, min_ratio: f32) -> Self {
        Self { min_ratio, ..self }
    }

    /// Goertzel power at the detector's frequency divided by the window's
    /// total power: about 1.0 for a pure tone, near 0.0 for anything else.
    pub fn ratio(&self, window: &[i16]) -> f32 {
        goertzel_ratio(window, self.rate, self.freq)
    }

    /// Whether the tone is present and dominant in `window`.
    pub fn detect(&self, window: &[i16]) -> bool {
        if window.is_empty() {
            return false;
        }
        let energy: f64 = window.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum();
        let rms = (energy / window.len() as f64).sqrt() as f32;
        rms >= self.min_rms && self.ratio(window) >= self.min_ratio
    }

    /// The share of consecutive windows of `window_len` samples in which the
    /// tone is detected (0.0..=1.0).
    pub fn share_detected(&self, samples: &[i16], window_len: usize) -> f32 {
        let windows = samples.len() / window_len.max(1);
        if windows == 0 {
            return 0.0;
        }
        let hits = samples.chunks_exact(window_len).filter(|w| self.detect(w)).count();
        hits as f32 / windows as f32
    }
}

fn goertzel_ratio(window: &[i16], rate: u32, freq: f32) -> f32 {
    let n = window.len();
    if n == 0 {
        return 0.0;
    }
    let w = f64::from(TAU) * f64::from(freq) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2, mut energy) = (0.0f64, 0.0f64, 0.0f64);
    for &x in window {
        let x = f64::from(x);
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += x * x;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if energy <= 0.0 {
        return 0.0;
    }
    // A full-scale sine of amplitude A over n samples gives power ~ (A n / 2)^2
    // and energy ~ A^2 n / 2, so 2 power / (n energy) ~ 1.
    ((2.0 * power) / (n as f64 * energy)).min(1.0) as f32
}

/// A call-progress sound: one or two tones switched on and off in a
/// repeating pattern (ringback, a ringtone, the call-waiting beep).
#[derive(Debug, Clone)]
pub struct Cadence {
    tones: Vec<ToneGenerator>,
    /// (on, off) in samples, repeated.
    pattern: Vec<(usize, usize)>,
    pos: usize,
    period: usize,
}

impl Cadence {
    /// `freqs` mixed at `amplitude` each, on and off in milliseconds.
    pub fn new(rate: u32, freqs: &[f32], amplitude: f32, pattern_ms: &[(u32, u32)]) -> Self {
        let ms = |m: u32| (rate as usize) * (m as usize) / 1000;
        let pattern: Vec<(usize, usize)> = pattern_ms.iter().map(|&(on, off)| (ms(on), ms(off))).collect();
        let period = pattern.iter().map(|(on, off)| on + off).sum::<usize>().max(1);
        Self { tones: freqs.iter().map(|&f| ToneGenerator::new(rate, f, amplitude)).collect(), pattern, pos: 0, period }
    }

    /// Ringback as European networks play it: 425 Hz, 1 s on, 4 s off.
    pub fn ringback(rate: u32) -> Self {
        Self::new(rate, &[425.0], 0.2, &[(1000, 4000)])
    }

    /// Ringback as North American networks play it: 440 + 480 Hz, 2 s on, 4 s off.
    pub fn ringback_us(rate: u32) -> Self {
        Self::new(rate, &[440.0, 480.0], 0.1, &[(2000, 4000)])
    }

    /// A soft two-tone ringtone for the ringer device when no sound file is set.
    pub fn ringtone(rate: u32) -> Self {
        Self::new(rate, &[660.0, 880.0], 0.2, &[(400, 200), (400, 2000)])
    }

    /// The call-waiting beep: 440 Hz, 300 ms, every 10 s, under the current call.
    pub fn call_waiting(rate: u32) -> Self {
        Self::new(rate, &[440.0], 0.1, &[(300, 9700)])
    }

    fn is_on(&self, pos: usize) -> bool {
        let mut t = pos % self.period;
        for &(on, off) in &self.pattern {
            if t < on {
                return true;
            }
            if t < on + off {
                return false;
            }
            t -= on + off;
        }
        false
    }

    /// Fill `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        out.fill(0);
        for i in 0..out.len() {
            if self.is_on(self.pos + i) {
                for t in &mut self.tones {
                    t.add_to(&mut out[i..=i]);
                }
            }
        }
        self.pos = (self.pos + out.len()) % self.period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_own_tone_and_rejects_others() {
        let mut g = ToneGenerator::new(48_000, 1000.0, 0.5);
        let frame = g.next_frame(960);
        assert!(ToneDetector::new(48_000, 1000.0).detect(&frame));
        assert!(!ToneDetector::new(48_000, 600.0).detect(&frame));
        assert!(ToneDetector::new(48_000, 1000.0).ratio(&frame) > 0.95);
    }

    #[test]
    fn silence_is_not_a_tone() {
        assert!(!ToneDetector::new(48_000, 1000.0).detect(&[0; 960]));
        assert!(!ToneDetector::new(48_000, 1000.0).detect(&[]));
    }

    #[test]
    fn two_tones_mixed_are_both_present_but_neither_dominates_alone() {
        let mut a = ToneGenerator::new(8_000, 697.0, 0.3);
        let mut b = ToneGenerator::new(8_000, 1209.0, 0.3);
        let mut buf = vec![0i16; 160];
        a.add_to(&mut buf);
        b.add_to(&mut buf);
        let ra = ToneDetector::new(8_000, 697.0).ratio(&buf);
        let rb = ToneDetector::new(8_000, 1209.0).ratio(&buf);
        assert!(ra > 0.3 && rb > 0.3, "{ra} {rb}");
    }

    #[test]
    fn cadences_switch_on_and_off() {
        let mut rb = Cadence::ringback(8_000);
        let mut buf = vec![0i16; 8_000 * 5];
        rb.fill(&mut buf);
        let det = ToneDetector::new(8_000, 425.0);
        assert!(det.share_detected(&buf[..8_000], 160) > 0.95, "first second rings");
        assert!(buf[8_000..].iter().all(|&s| s == 0), "then four seconds of silence");
        let mut us = Cadence::ringback_us(8_000);
        let mut buf = vec![0i16; 160];
        us.fill(&mut buf);
        assert!(ToneDetector::new(8_000, 440.0).ratio(&buf) > 0.3 && ToneDetector::new(8_000, 480.0).ratio(&buf) > 0.3);
        let mut cw = Cadence::call_waiting(48_000);
        let mut buf = vec![0i16; 48_000 * 10];
        cw.fill(&mut buf);
        let on = buf.chunks_exact(960).filter(|w| ToneDetector::new(48_000, 440.0).detect(w)).count();
        assert_eq!(on, 15, "300 ms of beep in 10 s");
        let mut ring = Cadence::ringtone(48_000);
        let mut buf = vec![0i16; 960];
        ring.fill(&mut buf);
        assert!(crate::level::dbfs(&buf) > -30.0);
    }

    #[test]
    fn share_counts_windows() {
        let mut g = ToneGenerator::new(48_000, 600.0, 0.5);
        let mut samples = g.next_frame(960 * 10);
        samples[960 * 3..960 * 4].fill(0);
        let share = ToneDetector::new(48_000, 600.0).share_detected(&samples, 960);
        assert!((share - 0.9).abs() < 1e-6, "{share}");
    }
}
