//! One generation of a call's WebRTC transport: a peer connection with our
//! codecs, one audio track and the handler that turns its callbacks into
//! [`MediaEvent`]s. A session starts with generation 0 and builds a new one
//! when the far end re-anchors (a re-offer with another DTLS fingerprint);
//! events and packets from an older generation are ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

use super::stream::ReceiveContext;
use super::{AudioCodec, EVENT_48K_PT, MediaConfig, MediaEvent, OPUS_PT, transport_err};
use crate::Error;

/// RFC 6464 client-to-mixer audio level header extension.
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// What every generation of a session shares.
pub(crate) struct Shared {
    pub(crate) config: MediaConfig,
    /// Our DTLS identity, the same for every generation, so our fingerprint
    /// does not change when the far end's does.
    pub(crate) certificate: Option<rtc::peer_connection::certificate::RTCCertificate>,
    pub(crate) events: mpsc::Sender<MediaEvent>,
    pub(crate) connected: Arc<watch::Sender<bool>>,
    pub(crate) receive: ReceiveContext,
    /// The generation whose events and packets count.
    pub(crate) current: Arc<AtomicU64>,
    pub(crate) ssrc: u32,
}

/// One peer connection and what the send loop writes to.
pub(crate) struct Transport {
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) track: Arc<TrackLocalStaticRTP>,
    pub(crate) sender: Arc<dyn RtpSender>,
    pub(crate) gathered: watch::Receiver<bool>,
    pub(crate) generation: u64,
}

struct Handler {
    events: mpsc::Sender<MediaEvent>,
    gathered: watch::Sender<bool>,
    connected: Arc<watch::Sender<bool>>,
    receive: ReceiveContext,
    generation: u64,
    current: Arc<AtomicU64>,
}

impl Handler {
    fn is_current(&self) -> bool {
        self.current.load(Ordering::Acquire) == self.generation
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathered.send_replace(state == RTCIceGatheringState::Complete);
    }

    async fn on_ice_connection_state_change(&self, state: webrtc::peer_connection::RTCIceConnectionState) {
        tracing::debug!(generation = self.generation, "ICE {state}");
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(generation = self.generation, "transport {state}");
        // A replaced transport closing is not the call failing.
        if !self.is_current() {
            return;
        }
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
        self.receive.spawn(track, self.generation);
    }
}

/// Our codec list for `preference` (telephone-event/48000 always follows).
pub(crate) fn codecs(preference: &[AudioCodec]) -> Vec<rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters> {
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
    // RFC 6464: the level of each audio packet, which SBCs and conference
    // mixers read to pick the active speaker without decoding.
    engine
        .register_header_extension(
            rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability { uri: AUDIO_LEVEL_URI.into() },
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio,
            Some(webrtc::rtp_transceiver::RTCRtpTransceiverDirection::Sendrecv),
        )
        .map_err(transport_err("register header extension"))?;
    Ok(engine)
}

/// A self-signed DTLS certificate for a session; `None` lets the peer
/// connection make its own (then a rebuilt transport gets a new fingerprint).
pub(crate) fn certificate() -> Option<rtc::peer_connection::certificate::RTCCertificate> {
    use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
    let provider = rtc::crypto::default_provider().ok()?;
    let params = CertificateParams::new(vec!["warmline".to_owned()]).ok()?;
    RTCCertificate::generate(provider.crypto(), rtc::crypto::SignatureScheme::EcdsaP256Sha256, params).ok()
}

/// Builds generation `generation` of the transport.
pub(crate) async fn build(shared: &Shared, generation: u64) -> Result<Transport, Error> {
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
    let config = &shared.config;
    let mut engine = media_engine(&config.codecs)?;
    let registry =
        register_default_interceptors(Registry::new(), &mut engine).map_err(transport_err("interceptors"))?;
    let ice_servers = config
        .ice_servers
        .iter()
        .map(|s| RTCIceServer { urls: s.urls.clone(), username: s.username.clone(), credential: s.credential.clone() })
        .collect();
    let policy = if config.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
    let mut rtc_config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers).with_ice_transport_policy(policy);
    if let Some(cert) = &shared.certificate {
        rtc_config = rtc_config.with_certificates(vec![cert.clone()]);
    }
    // Checks every 10 ms (MediaConfig's default) instead of webrtc's 200:
    // the interval bounds more than the checks. In webrtc 0.21 the DTLS
    // client's first flight, queued when ICE selects a pair, leaves only on
    // the agent's next timer tick, one check interval later. The calls
    // bench (`make bench`, loopback) measured setup (offer to two-way
    // audio) p50/p99 80/120 ms at a 50 ms interval, 40/80 ms at 10 ms.
    // Checks only run until ICE connects. The attempt window stays 1.4 s.
    let interval = config.ice_check_interval.max(Duration::from_millis(10));
    let attempts = (1400 / interval.as_millis().max(1)).clamp(7, 200) as u16;
    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(true)
        .with_ice_connection_attempts(Some(interval), Some(attempts))
        .build();
    let (gathered_tx, gathered) = watch::channel(false);
    let handler = Arc::new(Handler {
        events: shared.events.clone(),
        gathered: gathered_tx,
        connected: Arc::clone(&shared.connected),
        receive: shared.receive.clone(),
        generation,
        current: Arc::clone(&shared.current),
    });
    let pc = PeerConnectionBuilder::new()
        .with_configuration(rtc_config.build())
        .with_media_engine(engine)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(config.udp_addrs.clone())
        .build()
        .await
        .map_err(transport_err("peer connection"))?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);

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
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(shared.ssrc), ..Default::default() },
            codec: first_choice,
            ..Default::default()
        }],
    )));
    let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(transport_err("add track"))?;
    // Offer telephone-event beside Opus, not only the track's own codec.
    for t in pc.get_transceivers().await {
        t.set_codec_preferences(codecs(&config.codecs)).await.map_err(transport_err("codec preferences"))?;
    }
    Ok(Transport { pc, track, sender, gathered, generation })
}
