//! Audio and WebRTC media for Warmline.
//!
//! # A tour
//!
//! Everything that touches samples is a plain value with `&mut self`
//! methods and no clock, thread or socket of its own:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use warmline_media::{jitter::*, opus_codec::*, tone::*};
//!
//! let mut enc = OpusEncoder::new(&OpusConfig::default())?;
//! let mut dec = OpusDecoder::new(FrameDuration::Ms20)?;
//! let mut jb = JitterBuffer::new(JitterConfig::opus_20ms());
//! let mut tone = ToneGenerator::new(48_000, 1000.0, 0.3);
//! let (mut pkt, mut pcm) = ([0u8; MAX_OPUS_PACKET], [0i16; 5760]);
//! let t0 = Instant::now(); // the only clock read: the caller owns time
//! for k in 0..10u32 {
//!     let now = t0 + Duration::from_millis(u64::from(k) * 20);
//!     let n = enc.encode(&tone.next_frame(960), &mut pkt)?;
//!     let rtp = RtpMeta { seq: k as u16, ts: k * 960, marker: k == 0, ssrc: 1 };
//!     jb.push(now, rtp, pkt[..n].to_vec());
//!     let got = match jb.pop(now + Duration::from_millis(5)) {
//!         Playout::Frame(p) => dec.decode(&p, &mut pcm)?,
//!         Playout::Conceal { fec: Some(next) } => dec.recover(&next, &mut pcm)?,
//!         Playout::Conceal { fec: None } => dec.conceal(&mut pcm)?,
//!         _ => 0,
//!     };
//!     assert!(got == 0 || got == 960);
//! }
//! # Ok::<(), warmline_media::Error>(())
//! ```
//!
//! # Why it is built this way
//!
//! * **Time is an argument.** The jitter buffer takes the arrival time of
//!   each packet and the time of each playout tick, so a test with 5% loss
//!   and 30 ms jitter ([`impair`]) runs in milliseconds and gives the same
//!   answer every time.
//! * **Our own jitter buffer.** Its target delay comes from measured
//!   transit spread (98th percentile), so a clean LAN call sits near one
//!   frame while a jittery one grows just enough; drift is absorbed by
//!   stretching or dropping single frames. Packets sit on a playout
//!   timeline of their own, so a sender that pauses and resumes with
//!   another timestamp (hold, SBC re-anchoring, a new SSRC) is re-anchored
//!   instead of dropped as late; the rules are in [`jitter`].
//! * **One tone language for tests.** Each party sends its own sine and the
//!   far end runs a Goertzel detector per 20 ms window ([`tone`]): "detected
//!   in 98% of windows" is a check every crate can share.
//! * **Device threads never wait.** Audio callbacks exchange samples with
//!   the engine through bounded lock-free queues (`rtrb`); see [`device`].
//!   A device that fails or disappears mid-call is replaced by the system
//!   default on the engine's next step, which reports it
//!   ([`backend::DeviceEvent::Reopened`]); the call goes on.
//! * **A call outlives its transport.** A re-offer from another media
//!   server (a new DTLS fingerprint) rebuilds the peer connection under the
//!   same [`session::MediaSession`] and [`session::AudioPort`].
//! * **This crate owns the SDP body** ([`session`]); the SIP crate sees only
//!   the direction attribute it needs for hold ([`sdp::Direction`]).
//! * **The transport is the `webrtc` crate**, driven from a thin tokio
//!   shell ([`session::MediaSession`]): it reads the clock and feeds the
//!   sans-IO parts above. Two sessions in one process call each other over
//!   127.0.0.1 in the tests, with the same impairment shim in between.
//! * **Maintained DSP where it is hard.** Opus is libopus; echo
//!   cancellation and noise suppression are WebRTC's audio processing
//!   module ([`echo`]). What is small and ours to get right (G.711, RFC 4733,
//!   the jitter buffer, the resampler, mixing) is written here and tested
//!   against known values.
//!
//! # A call, end to end
//!
//! `MediaSession::new(MediaConfig::default())` gives a session and an
//! [`session::AudioPort`] per remote party. The agent passes
//! `create_offer()` / `accept_offer()` / `accept_answer()` bodies to the SIP
//! layer, and every 20 ms calls [`engine::AudioLoop::step`] with the
//! microphone ([`backend::Source`]), the speaker ([`backend::Sink`]) and each
//! party's latest `AudioPort::output` frame; the step cancels echo, meters,
//! mixes (each party hears everybody but itself) and returns the frame to
//! put into each party's `AudioPort::input`.
//! Events (connected, first frame, DTMF, a MOS every second, a re-anchored
//! transport) arrive on `AudioPort::events`; device changes come from
//! [`engine::AudioLoop::take_device_events`]. The ringtone plays on its own
//! device through [`sounds::Ringer`].
#![deny(missing_docs)]

pub mod backend;
pub mod device;
pub mod dtmf;
pub mod echo;
pub mod engine;
pub mod g711;
pub mod impair;
pub mod jitter;
pub mod level;
pub mod mos;
pub mod network;
pub mod opus_codec;
pub mod resample;
pub mod sdp;
pub mod session;
pub mod sounds;
pub mod tone;

/// Errors from the media engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An audio device could not be opened.
    #[error("audio device {device:?} could not be opened: {reason}")]
    Device {
        /// The device's id.
        device: String,
        /// What the audio system said.
        reason: String,
    },
    /// The codec library refused an operation.
    #[error("{what} failed: {reason}")]
    Codec {
        /// Which operation.
        what: &'static str,
        /// What the library said.
        reason: String,
    },
    /// A frame of the wrong length was passed to an encoder.
    #[error("frame of {got} samples where {expected} were expected")]
    FrameSize {
        /// Samples per frame the encoder was configured for.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The WebRTC transport refused an operation.
    #[error("{what} failed: {reason}")]
    Transport {
        /// Which operation.
        what: &'static str,
        /// What the transport said.
        reason: String,
    },
    /// A WAV file could not be read or written.
    #[error("wav file {path:?}: {reason}")]
    Wav {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
}

pub use backend::AudioBackend;
pub use device::Device;
