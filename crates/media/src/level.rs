//! Mixing for a local three-way conference, level meters and a speaking
//! indicator for the UI.

/// Sum `inputs` into `out` (same length), saturating instead of wrapping.
/// Inputs shorter than `out` count as silence past their end.
pub fn mix_into(inputs: &[&[i16]], out: &mut [i16]) {
    for (i, o) in out.iter_mut().enumerate() {
        let sum: i32 = inputs.iter().map(|x| i32::from(x.get(i).copied().unwrap_or(0))).sum();
        *o = sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

/// A conference of a few parties: each one hears everybody but itself
/// ("mix-minus"), so nobody hears their own echo back.
#[derive(Debug, Clone, Default)]
pub struct Mixer {
    total: Vec<i32>,
}

impl Mixer {
    /// A mixer; its scratch buffer grows to the largest frame once.
    pub fn new() -> Self {
        Self::default()
    }

    /// `outputs[i]` becomes the sum of every input except `inputs[i]`.
    /// Parties are matched by index; missing outputs are skipped.
    pub fn mix_minus(&mut self, inputs: &[&[i16]], outputs: &mut [&mut [i16]]) {
        let len = outputs.iter().map(|o| o.len()).max().unwrap_or(0);
        self.total.clear();
        self.total.resize(len, 0);
        for input in inputs {
            for (t, &s) in self.total.iter_mut().zip(input.iter()) {
                *t += i32::from(s);
            }
        }
        for (who, out) in outputs.iter_mut().enumerate() {
            let own = inputs.get(who).copied().unwrap_or(&[]);
            for (i, o) in out.iter_mut().enumerate() {
                let v = self.total[i] - i32::from(own.get(i).copied().unwrap_or(0));
                *o = v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
        }
    }
}

/// Level in dBFS of one frame (-100 for digital silence).
pub fn dbfs(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return -100.0;
    }
    let energy: f64 = frame.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum();
    let rms = (energy / frame.len() as f64).sqrt();
    if rms <= 1e-5 { -100.0 } else { (20.0 * rms.log10()) as f32 }
}

/// A level meter with a falling peak and a speaking indicator with
/// hangover, so the UI's "speaking" light does not flicker between words.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    level: f32,
    threshold_dbfs: f32,
    hangover_frames: u32,
    quiet_frames: u32,
    speaking: bool,
}

impl LevelMeter {
    /// A meter that calls audio above `threshold_dbfs` speech and keeps the
    /// indicator on for `hangover_frames` quiet frames afterwards.
    pub fn new(threshold_dbfs: f32, hangover_frames: u32) -> Self {
        Self { level: -100.0, threshold_dbfs, hangover_frames, quiet_frames: 0, speaking: false }
    }

    /// Feed one frame; returns the smoothed level in dBFS.
    pub fn feed(&mut self, frame: &[i16]) -> f32 {
        let now = dbfs(frame);
        // Rise at once, fall by 3 dB per frame: meters read well that way.
        self.level = if now > self.level { now } else { (self.level - 3.0).max(now) };
        if now >= self.threshold_dbfs {
            self.speaking = true;
            self.quiet_frames = 0;
        } else if self.speaking {
            self.quiet_frames += 1;
            if self.quiet_frames > self.hangover_frames {
                self.speaking = false;
            }
        }
        self.level
    }

    /// The smoothed level in dBFS.
    pub fn level(&self) -> f32 {
        self.level
    }

    /// Whether the party is speaking.
    pub fn speaking(&self) -> bool {
        self.speaking
    }
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new(-45.0, 15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{ToneDetector, ToneGenerator};

    #[test]
    fn three_way_mix_minus() {
        let rate = 48_000;
        let (fa, fb, fc) = (500.0, 1000.0, 1500.0);
        let a = ToneGenerator::new(rate, fa, 0.2).next_frame(960);
        let b = ToneGenerator::new(rate, fb, 0.2).next_frame(960);
        let c = ToneGenerator::new(rate, fc, 0.2).next_frame(960);
        let (mut oa, mut ob, mut oc) = (vec![0; 960], vec![0; 960], vec![0; 960]);
        Mixer::new().mix_minus(&[&a, &b, &c], &mut [&mut oa, &mut ob, &mut oc]);
        let has = |buf: &[i16], f: f32| ToneDetector::new(rate, f).ratio(buf) > 0.3;
        assert!(!has(&oa, fa) && has(&oa, fb) && has(&oa, fc), "agent hears customer and expert, not itself");
        assert!(has(&ob, fa) && !has(&ob, fb) && has(&ob, fc));
        assert!(has(&oc, fa) && has(&oc, fb) && !has(&oc, fc));
    }

    #[test]
    fn mixing_saturates() {
        let mut out = [0i16; 2];
        mix_into(&[&[30_000, -30_000], &[30_000, -30_000]], &mut out);
        assert_eq!(out, [i16::MAX, i16::MIN]);
    }

    #[test]
    fn levels_and_speaking_hangover() {
        assert_eq!(dbfs(&[0; 960]), -100.0);
        let loud = ToneGenerator::new(48_000, 440.0, 0.5).next_frame(960);
        let l = dbfs(&loud);
        assert!((l - (-9.03)).abs() < 0.2, "a 0.5 sine is -9 dBFS: {l}");
        let mut m = LevelMeter::new(-45.0, 2);
        m.feed(&loud);
        assert!(m.speaking());
        m.feed(&[0; 960]);
        m.feed(&[0; 960]);
        assert!(m.speaking(), "hangover keeps the light on between words");
        m.feed(&[0; 960]);
        assert!(!m.speaking());
        assert!(m.level() < l);
    }
}
