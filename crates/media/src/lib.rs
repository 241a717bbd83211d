//! Audio and WebRTC media for Warmline.
//!
//! Device I/O (cpal) talks to the engine through bounded lock-free queues;
//! the engine resamples to 48 kHz mono, encodes Opus (PCMU/PCMA as fallback),
//! and sends it over the `webrtc` crate's ICE / DTLS-SRTP transport. On the
//! way back: an adaptive jitter buffer of our own, decoding with loss
//! concealment, a mixer for three-way calls, and the playout device.
//! This crate also owns the SDP body; the SIP crate sees only what
//! signalling needs.
#![deny(missing_docs)]

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
}

/// Where audio comes from and goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioBackend {
    /// The system's audio devices through cpal.
    System,
    /// No device: silence in, discard out.
    Null,
}

/// One audio device as the settings screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Stable id to store in the configuration.
    pub id: String,
    /// Name to show.
    pub name: String,
    /// Whether it is the system default.
    pub is_default: bool,
}
