//! One call's WebRTC media: ICE (host candidates including loopback, STUN
//! and TURN from configuration), DTLS-SRTP, one audio transceiver with Opus
//! (PT 111), PCMU/PCMA as fallbacks for SBCs without Opus, and
//! telephone-event/48000; RTCP statistics turned into a MOS estimate once a
//! second.
//!
//! This module owns the SDP body. The agent joins it to the SIP crate's
//! offer/answer state through four calls: [`MediaSession::create_offer`],
//! [`MediaSession::accept_offer`], [`MediaSession::accept_answer`] and
//! [`MediaSession::set_direction`] (hold). Gathering is bounded by
//! [`MediaConfig::gather_timeout`]: an offer goes out with whatever
//! candidates exist by then, so a slow STUN or TURN server never delays call
//! setup by more than that.
//!
//! Audio crosses the boundary as 20 ms frames of 48 kHz mono `i16` through
//! bounded channels ([`AudioPort`]); nothing here touches a device.

mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RTCRtpTransceiverDirection;

use crate::Error;
use crate::dtmf::DtmfEvent;
use crate::impair::Impairment;
use crate::opus_codec::OpusConfig;
use crate::sdp::Direction;

pub use stream::QualityReport;

/// Opus payload type in our offers (the WebRTC convention).
pub const OPUS_PT: u8 = 111;
/// telephone-event/48000 payload type in our offers.
pub const EVENT_48K_PT: u8 = 101;
/// telephone-event/8000 payload type assumed until the far end's SDP says otherwise.
pub const EVENT_8K_PT: u8 = 126;

/// A STUN or TURN server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp|tcp`, `turns:host:443`.
    pub urls: Vec<String>,
    /// TURN user name.
    pub username: String,
    /// TURN credential.
    pub credential: String,
}

/// Transport settings for one call.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// STUN/TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Use TURN relays only (locked-down networks, and the relay-only interop test).
    pub relay_only: bool,
    /// Local UDP sockets to gather host candidates from.
    pub udp_addrs: Vec<String>,
    /// Longest wait for candidates before an offer or answer goes out.
    pub gather_timeout: Duration,
    /// Pause between ICE connectivity checks.
    pub ice_check_interval: Duration,
    /// Codecs to offer or accept, best first.
    pub codecs: Vec<AudioCodec>,
    /// Encoder settings.
    pub opus: OpusConfig,
    /// Drop and delay what we receive, before the jitter buffer: for tests
    /// and benchmarks of a bad network. `None` in real calls.
    pub receive_impairment: Option<Impairment>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            relay_only: false,
            // Loopback for the embedded lab, every interface for real calls.
            udp_addrs: vec!["127.0.0.1:0".into(), "0.0.0.0:0".into()],
            gather_timeout: Duration::from_millis(1000),
            ice_check_interval: Duration::from_millis(50),
            codecs: vec![AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma],
            opus: OpusConfig::default(),
            receive_impairment: None,
        }
    }
}

impl MediaConfig {
    /// Loopback only: the lab and tests.
    pub fn loopback() -> Self {
        Self { udp_addrs: vec!["127.0.0.1:0".into()], ..Self::default() }
    }
}

/// Something the UI or the agent should know about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    /// Connectivity was lost (it may come back).
    Disconnected,
    /// Connectivity failed for good.
    Failed,
    /// The first far-end frame was decoded and handed to the output.
    FirstFrame,
    /// A DTMF digit from the far end.
    Dtmf(DtmfEvent),
    /// Call quality over the last second.
    Quality(QualityReport),
}

/// The audio ends of a session: frames in for the far end, decoded frames out.
#[derive(Debug)]
pub struct AudioPort {
    /// 20 ms frames (960 samples, 48 kHz mono) to send.
    pub input: mpsc::Sender<Vec<i16>>,
    /// 20 ms decoded (or concealed) frames from the far end.
    pub output: mpsc::Receiver<Vec<i16>>,
    /// Session events.
    pub events: mpsc::Receiver<MediaEvent>,
}

fn transport_err(what: &'static str) -> impl FnOnce(webrtc::error::Error) -> Error {
    move |e| Error::Transport { what, reason: e.to_string() }
}

struct Handler {
    events: mpsc::Sender<MediaEvent>,
    gathered: watch::Sender<bool>,
    connected: watch::Sender<bool>,
    receive: stream::ReceiveContext,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathered.send_replace(state == RTCIceGatheringState::Complete);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let event = match state {
            RTCPeerConnectionState::Connected => MediaEvent::Connected,
            RTCPeerConnectionState::Disconnected => MediaEvent::Disconnected,
            RTCPeerConnectionState::Failed => MediaEvent::Failed,
            _ => return,
        };
        self.connected.send_replace(event == MediaEvent::Connected);
        let _ = self.events.try_send(event);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.receive.spawn(track);
    }
}

/// One call's media transport.
pub struct MediaSession {
    pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    gather_timeout: Duration,
    remote_pts: Arc<stream::RemotePayloadTypes>,
    dtmf: mpsc::Sender<char>,
    muted: Arc<AtomicBool>,
    direction: std::sync::Mutex<Direction>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession").field("gather_timeout", &self.gather_timeout).finish_non_exhaustive()
    }
}

/// Audio codecs we can send and receive, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioCodec {
    /// Opus, 48 kHz, PT 111.
    Opus,
    /// G.711 mu-law, PT 0: for SBCs that do not offer Opus.
    Pcmu,
    /// G.711 A-law, PT 8.
    Pcma,
}

/// Our codec list for `preference` (telephone-event/48000 always follows).
fn codecs(preference: &[AudioCodec]) -> Vec<rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters> {
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters};
    let entry = |codec| match codec {
        AudioCodec::Opus => (OPUS_PT, "audio/opus", 48_000, 2, "minptime=10;useinbandfec=1"),
        AudioCodec::Pcmu => (0, "audio/PCMU", 8_000, 1, ""),
        AudioCodec::Pcma => (8, "audio/PCMA", 8_000, 1, ""),
    };
    // telephone-event/8000 is not offered: webrtc 0.21 matches codecs by
    // MIME type alone and would fold it into the 48 kHz entry. We still
    // understand it on receive (see `RemotePayloadTypes`).
    let event = (EVENT_48K_PT, "audio/telephone-event", 48_000, 1, "0-16");
    preference
        .iter()
        .map(|&c| entry(c))
        .chain([event])
        .map(|(pt, mime, rate, channels, fmtp)| RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.into(),
                clock_rate: rate,
                channels,
                sdp_fmtp_line: fmtp.into(),
                rtcp_feedback: vec![],
            },
            payload_type: pt,
        })
        .collect()
}

fn media_engine(preference: &[AudioCodec]) -> Result<MediaEngine, Error> {
    let mut engine = MediaEngine::default();
    // Only what we are willing to use: an answer picks from these.
    for params in codecs(preference) {
        engine
            .register_codec(params, rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio)
            .map_err(transport_err("register codec"))?;
    }
    Ok(engine)
}

impl MediaSession {
    /// Build the transport and start its send, receive and statistics
    /// tasks. Must run inside a tokio runtime.
    pub async fn new(config: MediaConfig) -> Result<(Self, AudioPort), Error> {
        use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
        let mut engine = media_engine(&config.codecs)?;
        let registry =
            register_default_interceptors(Registry::new(), &mut engine).map_err(transport_err("interceptors"))?;
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        let policy = if config.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
        let rtc_config =
            RTCConfigurationBuilder::new().with_ice_servers(ice_servers).with_ice_transport_policy(policy).build();
        // Checks every 50 ms instead of 200 ms: call setup on a LAN drops from
        // about 200 ms to about 60; the attempt window stays at 1.4 s.
        let interval = config.ice_check_interval.max(Duration::from_millis(10));
        let attempts = (1400 / interval.as_millis().max(1)).clamp(7, 200) as u16;
        let settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(true)
            .with_ice_connection_attempts(Some(interval), Some(attempts))
            .build();
        let (events_tx, events_rx) = mpsc::channel(64);
        let (out_tx, out_rx) = mpsc::channel(50);
        let (in_tx, in_rx) = mpsc::channel(50);
        let (dtmf_tx, dtmf_rx) = mpsc::channel(32);
        let (gathered_tx, gathered_rx) = watch::channel(false);
        let (connected_tx, connected_rx) = watch::channel(false);
        let remote_pts = Arc::new(stream::RemotePayloadTypes::default());
        let receive = stream::ReceiveContext::new(
            out_tx,
            events_tx.clone(),
            remote_pts.clone(),
            config.receive_impairment.clone(),
        );
        let handler = Arc::new(Handler {
            events: events_tx.clone(),
            gathered: gathered_tx,
            connected: connected_tx,
            receive: receive.clone(),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(rtc_config)
            .with_media_engine(engine)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(config.udp_addrs.clone())
            .build()
            .await
            .map_err(transport_err("peer connection"))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let ssrc = stream::random_u32();
        // The track is declared with our first choice; the answer may pick another.
        let first_choice = codecs(&config.codecs)
            .into_iter()
            .next()
            .map(|c| c.rtp_codec)
            .ok_or(Error::Transport { what: "codecs", reason: "no codec configured".into() })?;
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "warmline".into(),
            "audio".into(),
            "audio".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: first_choice,
                ..Default::default()
            }],
        )));
        let sender =
            pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(transport_err("add track"))?;
        // Offer telephone-event beside Opus, not only the track's own codec.
        for t in pc.get_transceivers().await {
            t.set_codec_preferences(codecs(&config.codecs)).await.map_err(transport_err("codec preferences"))?;
        }

        let muted = Arc::new(AtomicBool::new(false));
        let send = stream::SendLoop::new(&config.opus, ssrc, track, sender, connected_rx.clone(), Arc::clone(&muted))?;
        let tasks = vec![
            tokio::spawn(send.run(in_rx, dtmf_rx)),
            tokio::spawn(stream::quality_loop(Arc::clone(&pc), receive, events_tx, connected_rx)),
        ];
        let session = Self {
            pc,
            gathered: gathered_rx,
            gather_timeout: config.gather_timeout,
            remote_pts,
            dtmf: dtmf_tx,
            muted,
            direction: Default::default(),
            tasks,
        };
        Ok((session, AudioPort { input: in_tx, output: out_rx, events: events_rx }))
    }

    async fn local_sdp_after_gathering(&self) -> Result<String, Error> {
        let mut gathered = self.gathered.clone();
        // Bounded: a missing STUN/TURN answer must not hold up the call.
        let _ = tokio::time::timeout(self.gather_timeout, gathered.wait_for(|done| *done)).await;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or(Error::Transport { what: "local description", reason: "none after set_local_description".into() })
    }

    /// Our SDP offer (initial call, re-INVITE, hold).
    pub async fn create_offer(&self) -> Result<String, Error> {
        let offer = self.pc.create_offer(None).await.map_err(transport_err("create offer"))?;
        self.pc.set_local_description(offer).await.map_err(transport_err("set local offer"))?;
        self.local_sdp_after_gathering().await
    }

    /// An offer with fresh ICE credentials, after a network change: the
    /// far end's answer re-establishes the path without dropping the call.
    pub async fn restart_ice(&self) -> Result<String, Error> {
        self.pc.restart_ice().await.map_err(transport_err("restart ice"))?;
        self.create_offer().await
    }

    /// Apply the far end's offer and return our answer.
    pub async fn accept_offer(&self, remote_sdp: &str) -> Result<String, Error> {
        let desc = RTCSessionDescription::offer(remote_sdp.to_owned()).map_err(transport_err("parse offer"))?;
        self.pc.set_remote_description(desc).await.map_err(transport_err("set remote offer"))?;
        self.remote_pts.learn(remote_sdp);
        // webrtc 0.21 answers a `sendonly` offer with `sendrecv`; SIP hold
        // needs RFC 3264's mirror image, so we set it before answering.
        let wanted = self.direction.lock().map(|d| *d).unwrap_or_default();
        self.apply_direction(wanted.answer_to(Direction::of_sdp(remote_sdp))).await?;
        let answer = self.pc.create_answer(None).await.map_err(transport_err("create answer"))?;
        self.pc.set_local_description(answer).await.map_err(transport_err("set local answer"))?;
        self.local_sdp_after_gathering().await
    }

    /// Apply the far end's answer to our offer.
    pub async fn accept_answer(&self, remote_sdp: &str) -> Result<(), Error> {
        let desc = RTCSessionDescription::answer(remote_sdp.to_owned()).map_err(transport_err("parse answer"))?;
        self.pc.set_remote_description(desc).await.map_err(transport_err("set remote answer"))?;
        self.remote_pts.learn(remote_sdp);
        Ok(())
    }

    /// Change our media direction (hold / resume); takes effect with the
    /// next offer or answer.
    pub async fn set_direction(&self, direction: Direction) -> Result<(), Error> {
        if let Ok(mut d) = self.direction.lock() {
            *d = direction;
        }
        self.apply_direction(direction).await
    }

    async fn apply_direction(&self, direction: Direction) -> Result<(), Error> {
        let dir = match direction {
            Direction::SendRecv => RTCRtpTransceiverDirection::Sendrecv,
            Direction::SendOnly => RTCRtpTransceiverDirection::Sendonly,
            Direction::RecvOnly => RTCRtpTransceiverDirection::Recvonly,
            Direction::Inactive => RTCRtpTransceiverDirection::Inactive,
        };
        for t in self.pc.get_transceivers().await {
            t.set_direction(dir).await.map_err(transport_err("set direction"))?;
        }
        Ok(())
    }

    /// Send a DTMF digit as RFC 4733 telephone-event (100 ms). Unknown
    /// characters are ignored; a full queue drops the digit and says so.
    pub fn send_dtmf(&self, digit: char) -> Result<(), Error> {
        self.dtmf.try_send(digit).map_err(|_| Error::Transport { what: "dtmf", reason: "queue full".into() })
    }

    /// Mute or unmute the microphone toward the far end.
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    /// Close the transport and stop the tasks.
    pub async fn close(self) -> Result<(), Error> {
        for t in &self.tasks {
            t.abort();
        }
        self.pc.close().await.map_err(transport_err("close"))
    }
}
