//! G.711 PCMU (mu-law) and PCMA (A-law), 8 kHz: the fallback codecs for SBCs
//! that do not offer Opus. Written out because each is a dozen lines.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// Encode one linear sample to mu-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (31 - (s as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 as i32 | mantissa) as u8
}

/// Decode one mu-law byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if b & 0x80 != 0 { -magnitude as i16 } else { magnitude as i16 }
}

/// Encode one linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, mag) = if s >= 0 { (0x80, s) } else { (0x00, (-s - 1).max(0)) };
    let mag = mag.min(0x7fff) >> 3;
    let byte = if mag < 32 {
        (mag >> 1) as u8
    } else {
        let segment = (31 - (mag as u32).leading_zeros()) as i32 - 4;
        let mantissa = (mag >> segment) & 0x0f;
        ((segment << 4) | mantissa) as u8
    };
    (byte | sign) ^ 0x55
}

/// Decode one A-law byte.
pub fn alaw_decode(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let mag = if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
    if b & 0x80 != 0 { mag as i16 } else { -mag as i16 }
}

/// Which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum G711 {
    /// mu-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl G711 {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// Encode 8 kHz samples, one byte each, appended to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        let f = match self {
            G711::Pcmu => ulaw_encode,
            G711::Pcma => alaw_encode,
        };
        out.extend(pcm.iter().map(|&s| f(s)));
    }

    /// Decode bytes to 8 kHz samples, appended to `out`. Every byte is valid.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        let f = match self {
            G711::Pcmu => ulaw_decode,
            G711::Pcma => alaw_decode,
        };
        out.extend(payload.iter().map(|&b| f(b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0xaa), 32_256);
        assert_eq!(alaw_decode(0x2a), -32_256);
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for b in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law code {b:#04x}");
            let u = ulaw_encode(ulaw_decode(b));
            // 0x7f and 0xff both mean zero in mu-law.
            assert!(u == b || (b == 0x7f && u == 0xff), "mu-law code {b:#04x} -> {u:#04x}");
        }
    }

    #[test]
    fn quantisation_error_is_logarithmic() {
        for s in (-32_768i32..32_768).step_by(97) {
            let s = s as i16;
            let tol = (i32::from(s).abs() / 16).max(16);
            for (name, got) in [("ulaw", ulaw_decode(ulaw_encode(s))), ("alaw", alaw_decode(alaw_encode(s)))] {
                assert!((i32::from(got) - i32::from(s)).abs() <= tol, "{name}: {s} -> {got}");
            }
        }
    }

    #[test]
    fn codec_round_trip_vectors() {
        let pcm: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.3).sin() * 12_000.0) as i16).collect();
        for law in [G711::Pcmu, G711::Pcma] {
            let mut bytes = Vec::new();
            law.encode(&pcm, &mut bytes);
            let mut back = Vec::new();
            law.decode(&bytes, &mut back);
            assert_eq!(back.len(), 160);
            let err: i64 = pcm.iter().zip(&back).map(|(a, b)| i64::from(*a - *b).pow(2)).sum();
            let sig: i64 = pcm.iter().map(|a| i64::from(*a).pow(2)).sum();
            assert!(sig / err.max(1) > 500, "{law:?} SNR too low");
        }
    }
}
