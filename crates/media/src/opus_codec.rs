//! Opus at 48 kHz mono, tuned for voice (VOIP mode, in-band FEC, DTX).
//!
//! A thin layer over the `opus` crate that fixes the choices this softphone
//! makes, so callers only pick a frame duration and a bitrate.

use crate::Error;

/// Opus always runs at 48 kHz in this crate: devices are resampled to it.
pub const OPUS_RATE: u32 = 48_000;
/// Largest Opus packet we produce (RFC 6716 allows 1275 bytes per frame).
pub const MAX_OPUS_PACKET: usize = 1275;

/// How much audio one packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FrameDuration {
    /// 10 ms: lower latency, more packets.
    Ms10,
    /// 20 ms: the usual choice for calls.
    #[default]
    Ms20,
}

impl FrameDuration {
    /// Samples per channel at `rate` Hz.
    pub fn samples(self, rate: u32) -> usize {
        let ms = match self {
            FrameDuration::Ms10 => 10,
            FrameDuration::Ms20 => 20,
        };
        (rate as usize) * ms / 1000
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusConfig {
    /// Packet duration.
    pub frame: FrameDuration,
    /// Target bitrate in bits per second.
    pub bitrate_bps: i32,
    /// Carry a low-rate copy of the previous frame for loss recovery.
    pub inband_fec: bool,
    /// Send almost nothing during silence.
    pub dtx: bool,
    /// Loss the encoder should plan for (0..=100); FEC needs it above 0.
    pub expected_loss_percent: u8,
    /// 0 (cheapest) ..= 10 (best).
    pub complexity: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self {
            frame: FrameDuration::Ms20,
            bitrate_bps: 32_000,
            inband_fec: true,
            dtx: true,
            expected_loss_percent: 5,
            complexity: 10,
        }
    }
}

fn codec_err(what: &'static str) -> impl FnOnce(opus::Error) -> Error {
    move |e| Error::Codec { what, reason: e.to_string() }
}

/// Encodes 48 kHz mono frames into Opus packets.
pub struct OpusEncoder {
    inner: opus::Encoder,
    frame_samples: usize,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").field("frame_samples", &self.frame_samples).finish()
    }
}

impl OpusEncoder {
    /// An encoder with `config` applied.
    pub fn new(config: &OpusConfig) -> Result<Self, Error> {
        let mut inner = opus::Encoder::new(OPUS_RATE, opus::Channels::Mono, opus::Application::Voip)
            .map_err(codec_err("opus encoder"))?;
        inner.set_bitrate(opus::Bitrate::Bits(config.bitrate_bps)).map_err(codec_err("opus bitrate"))?;
        inner.set_inband_fec(config.inband_fec).map_err(codec_err("opus fec"))?;
        inner.set_dtx(config.dtx).map_err(codec_err("opus dtx"))?;
        inner.set_packet_loss_perc(i32::from(config.expected_loss_percent.min(100))).map_err(codec_err("opus loss"))?;
        inner.set_complexity(i32::from(config.complexity.min(10))).map_err(codec_err("opus complexity"))?;
        Ok(Self { inner, frame_samples: config.frame.samples(OPUS_RATE) })
    }

    /// Samples one call to [`encode`](Self::encode) expects.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Change the bitrate mid-call (for example on congestion).
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), Error> {
        self.inner.set_bitrate(opus::Bitrate::Bits(bps)).map_err(codec_err("opus bitrate"))
    }

    /// Tell the encoder the loss the far end reports, so FEC spends bits wisely.
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), Error> {
        self.inner.set_packet_loss_perc(i32::from(percent.min(100))).map_err(codec_err("opus loss"))
    }

    /// Encode one frame of exactly [`frame_samples`](Self::frame_samples)
    /// samples into `out`; returns the packet length. With DTX, a packet of
    /// 1 or 2 bytes means silence and need not be sent.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        if pcm.len() != self.frame_samples {
            return Err(Error::FrameSize { expected: self.frame_samples, got: pcm.len() });
        }
        self.inner.encode(pcm, out).map_err(codec_err("opus encode"))
    }
}

/// Decodes Opus packets to 48 kHz mono, concealing lost ones.
pub struct OpusDecoder {
    inner: opus::Decoder,
    frame_samples: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").field("frame_samples", &self.frame_samples).finish()
    }
}

impl OpusDecoder {
    /// A decoder whose concealment produces frames of `frame` duration.
    pub fn new(frame: FrameDuration) -> Result<Self, Error> {
        let inner = opus::Decoder::new(OPUS_RATE, opus::Channels::Mono).map_err(codec_err("opus decoder"))?;
        Ok(Self { inner, frame_samples: frame.samples(OPUS_RATE) })
    }

    /// Samples one concealed frame holds.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Decode a received packet. `out` must hold at least 120 ms (5760
    /// samples) to accept any packet a peer may send. A malformed packet is an
    /// error, never a panic.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        if packet.is_empty() {
            return self.conceal(out);
        }
        self.inner.decode(packet, out, false).map_err(codec_err("opus decode"))
    }

    /// Packet loss concealment: one frame extrapolated from the past.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let n = self.frame_samples.min(out.len());
        self.inner.decode(&[], &mut out[..n], false).map_err(codec_err("opus plc"))
    }

    /// Recover a lost frame from the in-band FEC carried by the packet that
    /// follows it; falls back to concealment if `next` carries none.
    pub fn recover(&mut self, next: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        let n = self.frame_samples.min(out.len());
        self.inner.decode(next, &mut out[..n], true).map_err(codec_err("opus fec"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{ToneDetector, ToneGenerator};

    fn tone_frames(frames: usize, freq: f32) -> Vec<Vec<i16>> {
        let mut tone = ToneGenerator::new(OPUS_RATE, freq, 0.3);
        (0..frames).map(|_| tone.next_frame(960)).collect()
    }

    #[test]
    fn tone_survives_opus_round_trip() {
        let mut enc = OpusEncoder::new(&OpusConfig::default()).expect("encoder");
        let mut dec = OpusDecoder::new(FrameDuration::Ms20).expect("decoder");
        let det = ToneDetector::new(OPUS_RATE, 1000.0);
        let mut pkt = [0u8; MAX_OPUS_PACKET];
        let mut out = [0i16; 5760];
        let mut hits = 0;
        for frame in tone_frames(50, 1000.0) {
            let n = enc.encode(&frame, &mut pkt).expect("encode");
            let m = dec.decode(&pkt[..n], &mut out).expect("decode");
            assert_eq!(m, 960);
            hits += usize::from(det.detect(&out[..m]));
        }
        assert!(hits >= 48, "1 kHz tone should survive Opus in nearly every frame, got {hits}/50");
    }

    #[test]
    fn ten_ms_frames_are_selectable() {
        let cfg = OpusConfig { frame: FrameDuration::Ms10, ..OpusConfig::default() };
        let mut enc = OpusEncoder::new(&cfg).expect("encoder");
        assert_eq!(enc.frame_samples(), 480);
        let mut pkt = [0u8; MAX_OPUS_PACKET];
        assert!(enc.encode(&[0; 960], &mut pkt).is_err(), "a 20 ms frame must be refused by a 10 ms encoder");
        assert!(enc.encode(&[0; 480], &mut pkt).is_ok());
    }

    #[test]
    fn dtx_shrinks_silence() {
        let mut enc = OpusEncoder::new(&OpusConfig::default()).expect("encoder");
        let mut pkt = [0u8; MAX_OPUS_PACKET];
        let sizes: Vec<usize> = (0..30).map(|_| enc.encode(&[0; 960], &mut pkt).expect("encode")).collect();
        assert!(sizes[20..].iter().all(|&s| s <= 2), "DTX should send tiny packets in silence: {sizes:?}");
    }

    #[test]
    fn fec_recovers_lost_frame_and_plc_fills_gaps() {
        let mut enc =
            OpusEncoder::new(&OpusConfig { expected_loss_percent: 20, ..OpusConfig::default() }).expect("encoder");
        let mut dec = OpusDecoder::new(FrameDuration::Ms20).expect("decoder");
        let det = ToneDetector::new(OPUS_RATE, 600.0);
        let mut out = [0i16; 5760];
        let packets: Vec<Vec<u8>> = tone_frames(40, 600.0)
            .iter()
            .map(|f| {
                let mut pkt = [0u8; MAX_OPUS_PACKET];
                let n = enc.encode(f, &mut pkt).expect("encode");
                pkt[..n].to_vec()
            })
            .collect();
        let mut hits = 0;
        for (i, p) in packets.iter().enumerate() {
            let n = match i % 10 {
                5 => dec.recover(&packets[i + 1], &mut out).expect("fec"),
                7 => dec.conceal(&mut out).expect("plc"),
                _ => dec.decode(p, &mut out).expect("decode"),
            };
            assert_eq!(n, 960);
            hits += usize::from(i >= 2 && det.detect(&out[..n]));
        }
        assert!(hits >= 36, "tone should persist through FEC and PLC frames, got {hits}/38");
    }

    #[test]
    fn garbage_packet_is_an_error_not_a_panic() {
        let mut dec = OpusDecoder::new(FrameDuration::Ms20).expect("decoder");
        let mut out = [0i16; 5760];
        let _ = dec.decode(&[0xff, 0xff, 0xff], &mut out);
        let _ = dec.decode(&[0x0b; 3], &mut out[..10]);
    }
}
