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
//! A re-offer that only changes the ICE credentials is an ICE restart and
//! is applied in place (DTLS and SRTP keys survive, as RFC 8445 section 9
//! expects). A re-offer from another DTLS endpoint (a new fingerprint: an SBC
//! re-anchoring media on another server) rebuilds the whole transport under
//! the same session and [`AudioPort`]; see [`MediaEvent::Reanchored`]. The
//! call, its audio channels, encoder state, RTP SSRC and sequence numbers
//! go on.
//!
//! Audio crosses the boundary as 20 ms frames of 48 kHz mono `i16` through
//! bounded channels ([`AudioPort`]); nothing here touches a device.

mod path;
mod stream;
mod transport;
mod turn_bridge;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};
use webrtc::rtp_transceiver::RTCRtpTransceiverDirection;

use crate::Error;
use crate::dtmf::DtmfEvent;
use crate::impair::Impairment;
use crate::opus_codec::OpusConfig;
use crate::sdp::{self, Anchor, Direction};
use transport::{Shared, Transport};

pub use path::{CandidateKind, SelectedPath};
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
    /// Pause between ICE connectivity checks (Ta, RFC 8445 section 14.2);
    /// it also bounds when the DTLS handshake starts (see transport.rs).
    pub ice_check_interval: Duration,
    /// Codecs to offer or accept, best first.
    pub codecs: Vec<AudioCodec>,
    /// Encoder settings.
    pub opus: OpusConfig,
    /// Drop and delay what we receive, before the jitter buffer: for tests
    /// and benchmarks of a bad network. `None` in real calls.
    pub receive_impairment: Option<Impairment>,
    /// Certificates (DER) trusted for `turns:` servers besides the system's
    /// own store: a company CA, or a test's.
    pub turn_tls_roots: Vec<Vec<u8>>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            relay_only: false,
            // Loopback for the embedded lab, every interface for real calls.
            udp_addrs: vec!["127.0.0.1:0".into(), "0.0.0.0:0".into()],
            gather_timeout: Duration::from_millis(1000),
            ice_check_interval: Duration::from_millis(10),
            codecs: vec![AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma],
            opus: OpusConfig::default(),
            receive_impairment: None,
            turn_tls_roots: Vec::new(),
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
    /// The far end moved its media to another DTLS endpoint (a re-offer
    /// with a new fingerprint): the transport was rebuilt under the same
    /// call; `Connected` follows when the new one is up.
    Reanchored,
}

/// The audio ends of a session: frames in for the far end, decoded frames out.
#[derive(Debug)]
pub struct AudioPort {
    /// 20 ms frames (960 samples, 48 kHz mono) to send.
    pub input: mpsc::Sender<Vec<i16>>,
    /// 20 ms decoded (or concealed) frames from the far end, from its first
    /// frame on; silence while it pauses or holds us.
    pub output: mpsc::Receiver<Vec<i16>>,
    /// Session events.
    pub events: mpsc::Receiver<MediaEvent>,
}

fn transport_err(what: &'static str) -> impl FnOnce(webrtc::error::Error) -> Error {
    move |e| Error::Transport { what, reason: e.to_string() }
}

/// One call's media transport.
pub struct MediaSession {
    current: watch::Sender<Arc<Transport>>,
    shared: Arc<Shared>,
    /// Serialises offer/answer operations: a rebuild must not interleave
    /// with another negotiation.
    negotiation: tokio::sync::Mutex<()>,
    remote_pts: Arc<stream::RemotePayloadTypes>,
    dtmf: mpsc::Sender<char>,
    muted: Arc<AtomicBool>,
    direction: std::sync::Mutex<Direction>,
    /// The address our `o=` lines name, chosen once from the first
    /// candidates so that it stays the same in every re-offer (RFC 3264 8).
    origin: std::sync::Mutex<Option<std::net::IpAddr>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("generation", &self.shared.current.load(Ordering::Relaxed))
            .field("gather_timeout", &self.shared.config.gather_timeout)
            .finish_non_exhaustive()
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

impl MediaSession {
    /// Build the transport and start its send, receive and statistics
    /// tasks. Must run inside a tokio runtime.
    pub async fn new(config: MediaConfig) -> Result<(Self, AudioPort), Error> {
        let (config, bridges) = bridge_stream_turn(config).await?;
        let (events_tx, events_rx) = mpsc::channel(64);
        let (out_tx, out_rx) = mpsc::channel(50);
        let (in_tx, in_rx) = mpsc::channel(50);
        let (dtmf_tx, dtmf_rx) = mpsc::channel(32);
        let (connected_tx, connected_rx) = watch::channel(false);
        let remote_pts = Arc::new(stream::RemotePayloadTypes::default());
        let current_generation = Arc::new(AtomicU64::new(0));
        let receive = stream::ReceiveContext::new(
            out_tx,
            events_tx.clone(),
            remote_pts.clone(),
            config.receive_impairment.clone(),
            Arc::clone(&current_generation),
        );
        let shared = Arc::new(Shared {
            certificate: transport::certificate(),
            events: events_tx.clone(),
            connected: Arc::new(connected_tx),
            receive: receive.clone(),
            current: current_generation,
            ssrc: stream::random_u32(),
            config,
        });
        let first = Arc::new(transport::build(&shared, 0).await?);
        let (current, watched) = watch::channel(Arc::clone(&first));

        let muted = Arc::new(AtomicBool::new(false));
        let send = stream::SendLoop::new(
            &shared.config.opus,
            shared.ssrc,
            watched.clone(),
            connected_rx.clone(),
            Arc::clone(&muted),
            Arc::clone(&remote_pts),
        )?;
        let tasks = vec![
            tokio::spawn(send.run(in_rx, dtmf_rx)),
            tokio::spawn(receive.clone().playout()),
            tokio::spawn(stream::quality_loop(watched, receive, events_tx, connected_rx)),
        ]
        .into_iter()
        .chain(bridges)
        .collect();
        let session = Self {
            current,
            shared,
            negotiation: tokio::sync::Mutex::new(()),
            remote_pts,
            dtmf: dtmf_tx,
            muted,
            direction: Default::default(),
            origin: Default::default(),
            tasks,
        };
        Ok((session, AudioPort { input: in_tx, output: out_rx, events: events_rx }))
    }

    fn transport(&self) -> Arc<Transport> {
        Arc::clone(&self.current.borrow())
    }

    fn pc(&self) -> Arc<dyn PeerConnection> {
        Arc::clone(&self.current.borrow().pc)
    }

    async fn local_sdp_after_gathering(&self, transport: &Transport) -> Result<String, Error> {
        let mut gathered = transport.gathered.clone();
        // Bounded: a missing STUN/TURN answer must not hold up the call.
        let _ = tokio::time::timeout(self.shared.config.gather_timeout, gathered.wait_for(|done| *done)).await;
        transport
            .pc
            .local_description()
            .await
            .map(|d| self.tidied(&d.sdp))
            .ok_or(Error::Transport { what: "local description", reason: "none after set_local_description".into() })
    }

    /// What webrtc wrote, made fit for an SBC: the default candidate on
    /// the `m=` and `c=` lines, one candidate per address under rtcp-mux,
    /// and our address in `o=` (see `docs/media-sdp.md`).
    fn tidied(&self, local: &str) -> String {
        let body = sdp::without_rtcp_candidates(&sdp::with_default_candidate(local));
        let origin = self.origin.lock().ok().and_then(|mut chosen| {
            if chosen.is_none() {
                *chosen = sdp::origin_address(&body);
            }
            *chosen
        });
        match origin {
            Some(addr) => sdp::with_origin_address(&body, addr),
            None => body,
        }
    }

    /// Our SDP offer (initial call, re-INVITE, hold).
    pub async fn create_offer(&self) -> Result<String, Error> {
        let _negotiating = self.negotiation.lock().await;
        let t = self.transport();
        let offer = t.pc.create_offer(None).await.map_err(transport_err("create offer"))?;
        t.pc.set_local_description(offer).await.map_err(transport_err("set local offer"))?;
        let offer = self.local_sdp_after_gathering(&t).await?;
        Ok(self.with_narrowband_events(offer))
    }

    /// Beside G.711, an SBC can only take DTMF as telephone-event/8000
    /// (RFC 4733 events use the clock of the audio codec they go with).
    /// webrtc 0.21 keys codecs by MIME type and cannot hold both rates, so
    /// this layer adds the 8 kHz entry to the body the far end sees and
    /// takes it out of the answer before the transport sees it.
    fn with_narrowband_events(&self, offer: String) -> String {
        let g711 = self.shared.config.codecs.iter().any(|c| matches!(c, AudioCodec::Pcmu | AudioCodec::Pcma));
        let events = sdp::telephone_events(&offer);
        let taken = offer.lines().any(|l| l.starts_with(&format!("a=rtpmap:{EVENT_8K_PT} ")));
        if !g711 || taken || events.iter().any(|&(_, rate)| rate == 8_000) {
            return offer;
        }
        sdp::with_telephone_event_8k(&offer, EVENT_8K_PT)
    }

    /// An offer with fresh ICE credentials, after a network change (or
    /// when [`MediaEvent::Disconnected`] says the path broke): the far end's
    /// answer re-establishes the path without dropping the call.
    pub async fn restart_ice(&self) -> Result<String, Error> {
        self.pc().restart_ice().await.map_err(transport_err("restart ice"))?;
        self.create_offer().await
    }

    /// Apply the far end's offer and return our answer. A re-offer from
    /// another DTLS endpoint rebuilds the transport first (see the module
    /// documentation).
    pub async fn accept_offer(&self, remote_sdp: &str) -> Result<String, Error> {
        let _negotiating = self.negotiation.lock().await;
        let mut t = self.transport();
        let before = t.pc.current_remote_description().await.map(|d| Anchor::of_sdp(&d.sdp));
        if before.is_some_and(|b| b.moved_to(&Anchor::of_sdp(remote_sdp))) {
            t = self.rebuild().await?;
        }
        let for_transport = self.one_event_rate(remote_sdp);
        let unbundled = sdp::with_bundle_group(&for_transport);
        let grouped_by_us = unbundled.is_some();
        let for_transport = unbundled.unwrap_or(for_transport);
        let desc = RTCSessionDescription::offer(for_transport).map_err(transport_err("parse offer"))?;
        t.pc.set_remote_description(desc).await.map_err(transport_err("set remote offer"))?;
        self.remote_pts.learn(remote_sdp);
        // Any telephone-event/8000 we answer is in the transport's own parameters.
        self.remote_pts.set_event_8k_for_sending(None);
        // webrtc 0.21 answers a `sendonly` offer with `sendrecv`; SIP hold
        // needs RFC 3264's mirror image, so we set it before answering.
        let wanted = self.direction.lock().map(|d| *d).unwrap_or_default();
        apply_direction(&*t.pc, wanted.answer_to(Direction::of_sdp(remote_sdp))).await?;
        let answer = t.pc.create_answer(None).await.map_err(transport_err("create answer"))?;
        t.pc.set_local_description(answer).await.map_err(transport_err("set local answer"))?;
        let answer = sdp::with_answer_setup(&self.local_sdp_after_gathering(&t).await?, remote_sdp);
        Ok(if grouped_by_us { sdp::without_bundle_group(&answer) } else { answer })
    }

    /// An offer with telephone-event at both 48000 and 8000 (browsers send
    /// both) as the transport can take it: webrtc 0.21 refuses two formats
    /// of one MIME type ("payload type not found"), so the rate that goes
    /// with the codec we will answer (Opus: 48000, G.711: 8000) stays.
    fn one_event_rate(&self, offer: &str) -> String {
        let events = sdp::telephone_events(offer);
        if !(events.iter().any(|e| e.1 == 48_000) && events.iter().any(|e| e.1 == 8_000)) {
            return offer.to_owned();
        }
        let offered_opus =
            offer.lines().any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_lowercase().contains(" opus/48000"));
        let we_take_opus = self.shared.config.codecs.contains(&AudioCodec::Opus) && offered_opus;
        let keep = if we_take_opus { 48_000 } else { 8_000 };
        let drop: Vec<u8> = events.iter().filter(|e| e.1 != keep).map(|e| e.0).collect();
        sdp::without_payload_types(offer, &drop)
    }

    /// A new generation of the transport replaces the current one, which is
    /// closed; the send loop, the playout and the statistics follow.
    async fn rebuild(&self) -> Result<Arc<Transport>, Error> {
        let old = self.transport();
        let generation = old.generation + 1;
        let fresh = Arc::new(transport::build(&self.shared, generation).await?);
        // From here on the old transport's events and packets are ignored.
        self.shared.current.store(generation, Ordering::Release);
        self.shared.connected.send_replace(false);
        self.current.send_replace(Arc::clone(&fresh));
        let _ = self.shared.events.try_send(MediaEvent::Reanchored);
        if let Err(e) = old.pc.close().await {
            tracing::debug!("closing the replaced transport: {e}");
        }
        Ok(fresh)
    }

    /// Apply the far end's answer to our offer.
    pub async fn accept_answer(&self, remote_sdp: &str) -> Result<(), Error> {
        let _negotiating = self.negotiation.lock().await;
        // telephone-event/8000 was added to our offer by this layer (see
        // `with_narrowband_events`): the transport only offered /48000. If
        // the far end took /8000 alone, the transport sees it labelled
        // 48000, so that it lets us send on that payload type; the send
        // loop times the events at 8 kHz, which is all the label changes.
        let events = sdp::telephone_events(remote_sdp);
        let narrowband: Vec<u8> = events.iter().filter(|e| e.1 == 8_000).map(|e| e.0).collect();
        let relabelled = narrowband.first().copied().filter(|_| events.iter().all(|e| e.1 == 8_000));
        let for_transport = match relabelled {
            Some(pt) => sdp::with_event_rate(remote_sdp, pt, 48_000),
            None => sdp::without_payload_types(remote_sdp, &narrowband),
        };
        let desc = RTCSessionDescription::answer(for_transport).map_err(transport_err("parse answer"))?;
        self.pc().set_remote_description(desc).await.map_err(transport_err("set remote answer"))?;
        self.remote_pts.learn(remote_sdp);
        self.remote_pts.set_event_8k_for_sending(relabelled);
        Ok(())
    }

    /// Change our media direction (hold / resume); takes effect with the
    /// next offer or answer.
    pub async fn set_direction(&self, direction: Direction) -> Result<(), Error> {
        if let Ok(mut d) = self.direction.lock() {
            *d = direction;
        }
        apply_direction(&*self.pc(), direction).await
    }

    /// Takes back our offer after the far end refused it (RFC 3261 14.1:
    /// the session stays as it was before): the local description rolls
    /// back (RFC 9429 5.7) and our direction returns to `direction`, so the
    /// next offer starts from the session as negotiated.
    pub async fn withdraw_offer(&self, direction: Direction) -> Result<(), Error> {
        let _negotiating = self.negotiation.lock().await;
        if let Ok(mut d) = self.direction.lock() {
            *d = direction;
        }
        let pc = self.pc();
        let mut rollback = RTCSessionDescription::default();
        rollback.sdp_type = webrtc::peer_connection::RTCSdpType::Rollback;
        if let Err(e) = pc.set_local_description(rollback).await {
            // Nothing was pending (the offer never reached the transport).
            tracing::debug!("rolling back the local offer: {e}");
        }
        apply_direction(&*pc, direction).await
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

    /// The ICE candidate pair the media flows over, once ICE has chosen one.
    pub async fn selected_path(&self) -> Option<SelectedPath> {
        let report = self.pc().get_stats(std::time::Instant::now(), webrtc::peer_connection::StatsSelector::None).await;
        path::selected_path(&report)
    }

    /// Whether ICE and DTLS are up on the current transport.
    pub fn is_connected(&self) -> bool {
        *self.shared.connected.borrow()
    }

    /// How many times the transport was rebuilt under this call (0 until
    /// the far end re-anchors).
    pub fn transport_generation(&self) -> u64 {
        self.shared.current.load(Ordering::Acquire)
    }

    /// Close the transport and stop the tasks.
    pub async fn close(self) -> Result<(), Error> {
        for t in &self.tasks {
            t.abort();
        }
        self.pc().close().await.map_err(transport_err("close"))
    }
}

/// TURN over TCP or TLS goes through a loopback bridge the transport sees
/// as a UDP TURN server (webrtc 0.21 only speaks TURN over UDP); returns
/// the configuration with those URLs replaced, and the bridges' tasks.
async fn bridge_stream_turn(mut config: MediaConfig) -> Result<(MediaConfig, Vec<tokio::task::JoinHandle<()>>), Error> {
    let mut tasks = Vec::new();
    let mut tls = None;
    for server in &mut config.ice_servers {
        for url in &mut server.urls {
            let Some(target) = turn_bridge::StreamTurn::of_url(url) else { continue };
            let carrier = if target.tls {
                let name = rustls_pki_types::ServerName::try_from(target.host.clone())
                    .map_err(|e| Error::Transport { what: "TURN server name", reason: e.to_string() })?;
                let config = match &tls {
                    Some(c) => Arc::clone(c),
                    None => Arc::clone(tls.insert(turn_tls_config(&config.turn_tls_roots)?)),
                };
                turn_bridge::Carrier::Tls { name, config }
            } else {
                turn_bridge::Carrier::Tcp
            };
            let bridge = turn_bridge::start(&target, carrier).await?;
            *url = format!("turn:{}?transport=udp", bridge.local);
            tasks.push(bridge.task);
        }
    }
    Ok((config, tasks))
}

/// TLS for `turns:`: the system's roots and the configured ones, ring.
fn turn_tls_config(extra_roots: &[Vec<u8>]) -> Result<Arc<tokio_rustls::rustls::ClientConfig>, Error> {
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for der in extra_roots {
        roots
            .add(rustls_pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| Error::Transport { what: "TURN TLS root", reason: e.to_string() })?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Transport { what: "TURN TLS", reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn apply_direction(pc: &dyn PeerConnection, direction: Direction) -> Result<(), Error> {
    let dir = match direction {
        Direction::SendRecv => RTCRtpTransceiverDirection::Sendrecv,
        Direction::SendOnly => RTCRtpTransceiverDirection::Sendonly,
        Direction::RecvOnly => RTCRtpTransceiverDirection::Recvonly,
        Direction::Inactive => RTCRtpTransceiverDirection::Inactive,
    };
    for t in pc.get_transceivers().await {
        t.set_direction(dir).await.map_err(transport_err("set direction"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines<'a>(sdp: &'a str, prefix: &str) -> Vec<&'a str> {
        sdp.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    /// The bodies two sessions exchange on loopback (no sound needed).
    #[tokio::test]
    async fn the_sdp_we_exchange_is_what_docs_media_sdp_describes() {
        let config = || MediaConfig { gather_timeout: Duration::from_millis(300), ..MediaConfig::loopback() };
        let (alice, _a) = MediaSession::new(config()).await.expect("alice");
        let (bob, _b) = MediaSession::new(config()).await.expect("bob");
        let offer = alice.create_offer().await.expect("offer");

        let m = lines(&offer, "m=audio");
        assert_eq!(m.len(), 1, "{offer}");
        assert!(m[0].starts_with("m=audio ") && m[0].contains(" UDP/TLS/RTP/SAVPF 111 0 8 101"), "{offer}");
        for wanted in [
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtpmap:101 telephone-event/48000",
            "a=rtpmap:126 telephone-event/8000",
            "a=rtcp-mux",
            "a=setup:actpass",
            "a=sendrecv",
        ] {
            // webrtc writes the channel count as well (`PCMU/8000/1`).
            let found =
                offer.lines().any(|l| l == wanted || l.strip_prefix(wanted).is_some_and(|r| r.starts_with('/')));
            assert!(found, "{wanted} missing from the offer:\n{offer}");
        }
        assert_eq!(lines(&offer, "a=group:BUNDLE").len(), 1, "{offer}");
        assert!(
            lines(&offer, "a=extmap:").iter().any(|l| l.ends_with(" urn:ietf:params:rtp-hdrext:ssrc-audio-level")),
            "RFC 6464 audio level offered:\n{offer}"
        );
        let candidates = lines(&offer, "a=candidate:");
        assert!(!candidates.is_empty(), "{offer}");
        assert!(candidates.iter().all(|c| c.split(' ').nth(1) == Some("1")), "rtcp-mux: component 1 only\n{offer}");
        let origin = lines(&offer, "o=")[0];
        assert!(origin.ends_with(" IN IP4 127.0.0.1"), "our (loopback) address, not 0.0.0.0: {origin}");
        assert!(!lines(&offer, "c=")[0].ends_with("0.0.0.0"), "the default candidate: {offer}");

        let answer = bob.accept_offer(&offer).await.expect("answer");
        assert!(answer.lines().any(|l| l == "a=setup:active"), "the answerer starts DTLS:\n{answer}");
        assert!(lines(&answer, "a=candidate:").iter().all(|c| c.split(' ').nth(1) == Some("1")), "{answer}");
        assert!(lines(&answer, "o=")[0].ends_with(" IN IP4 127.0.0.1"), "{answer}");
        alice.accept_answer(&answer).await.expect("accept answer");

        // A re-offer names the same origin (RFC 3264 8: only the version changes).
        let reoffer = alice.create_offer().await.expect("re-offer");
        let field = |o: &str, i: usize| o.split(' ').nth(i).map(str::to_owned);
        let again = lines(&reoffer, "o=")[0];
        assert_eq!((field(origin, 1), field(origin, 5)), (field(again, 1), field(again, 5)), "{origin} / {again}");
        alice.close().await.expect("close");
        bob.close().await.expect("close");
    }
}
