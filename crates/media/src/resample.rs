//! A streaming windowed-sinc resampler between device rates and 48 kHz.
//!
//! Devices run at 44.1, 16 or 8 kHz as often as 48; G.711 is 8 kHz. The
//! kernel is tabulated once per rate pair (512 phases), so the per-sample cost
//! is one short dot product and nothing allocates after the first call with
//! a given block size. Downsampling widens the kernel so the cutoff sits
//! below the new Nyquist frequency (no aliasing of high tones into speech).

/// Converts a mono stream from one rate to another, block by block.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    step: f64,
    pos: f64,
    half: usize,
    phases: usize,
    table: Vec<f32>,
    buf: Vec<f32>,
}

const PHASES: usize = 512;

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Self {
        let from = from.max(1);
        let to = to.max(1);
        let cutoff = 0.92 * (f64::from(to) / f64::from(from)).min(1.0);
        let half = (8.0 / cutoff).ceil() as usize;
        let taps = 2 * half;
        let mut table = vec![0.0f32; PHASES * taps];
        for (phase, row) in table.chunks_exact_mut(taps).enumerate() {
            let frac = phase as f64 / PHASES as f64;
            let mut sum = 0.0;
            let mut tmp = vec![0.0f64; taps];
            for (k, t) in tmp.iter_mut().enumerate() {
                let x = k as f64 - (half as f64 - 1.0) - frac;
                let w = x / (half as f64 + 0.5);
                let window = if w.abs() >= 1.0 {
                    0.0
                } else {
                    // Blackman: good stop band for a short kernel.
                    let a = std::f64::consts::PI * (w + 1.0);
                    0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos()
                };
                *t = cutoff * sinc(cutoff * x) * window;
                sum += *t;
            }
            for (r, t) in row.iter_mut().zip(tmp) {
                *r = (t / sum) as f32;
            }
        }
        Self {
            from,
            to,
            step: f64::from(from) / f64::from(to),
            pos: (half - 1) as f64,
            half,
            phases: PHASES,
            table,
            buf: vec![0.0; half - 1],
        }
    }

    /// Input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Resample `input`, appending the samples that are ready to `out`.
    /// Output lags input by about half the kernel (under 1 ms at 48 kHz).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.from == self.to {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        let taps = 2 * self.half;
        loop {
            let i = self.pos as usize;
            if i + self.half + 1 > self.buf.len() {
                break;
            }
            let frac = self.pos - i as f64;
            let phase = ((frac * self.phases as f64) as usize).min(self.phases - 1);
            let row = &self.table[phase * taps..(phase + 1) * taps];
            let start = i + 1 - self.half;
            let acc: f32 = self.buf[start..start + taps].iter().zip(row).map(|(x, h)| x * h).sum();
            out.push(acc.clamp(-32768.0, 32767.0) as i16);
            self.pos += self.step;
        }
        let consumed = (self.pos as usize + 1).saturating_sub(self.half).min(self.buf.len());
        self.buf.drain(..consumed);
        self.pos -= consumed as f64;
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{ToneDetector, ToneGenerator};

    fn convert(from: u32, to: u32, freq: f32, ms: u32) -> Vec<i16> {
        let mut g = ToneGenerator::new(from, freq, 0.5);
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        // Blocks of 10 ms, as a device callback would deliver them.
        for _ in 0..ms / 10 {
            r.process(&g.next_frame((from / 100) as usize), &mut out);
        }
        out
    }

    #[test]
    fn tone_survives_common_rate_pairs_with_the_right_length() {
        for (from, to) in [(8_000, 48_000), (48_000, 8_000), (44_100, 48_000), (48_000, 16_000), (16_000, 48_000)] {
            let out = convert(from, to, 440.0, 1000);
            let expected = to as usize;
            assert!(out.len().abs_diff(expected) <= 64, "{from}->{to}: {} samples", out.len());
            let win = (to / 50) as usize;
            let share = ToneDetector::new(to, 440.0).share_detected(&out[win..], win);
            assert!(share > 0.97, "{from}->{to}: tone share {share}");
        }
    }

    #[test]
    fn downsampling_rejects_tones_above_new_nyquist() {
        let out = convert(48_000, 8_000, 6_000.0, 500);
        let rms = (out[100..].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / (out.len() - 100) as f64).sqrt();
        assert!(rms < 200.0, "a 6 kHz tone must not alias into 8 kHz output: rms {rms}");
    }

    #[test]
    fn same_rate_is_passthrough() {
        let mut r = Resampler::new(48_000, 48_000);
        let mut out = Vec::new();
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, vec![1, 2, 3]);
    }
}
