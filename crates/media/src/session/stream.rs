//! The per-call tasks: encode and send, receive into the jitter buffer and
//! play out every 20 ms, and turn statistics into a MOS once a second.
//! The clock is read here, in the shell, and passed into the sans-IO parts.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtp;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{RTCStatsReportEntry, StatsSelector};

use super::transport::{AUDIO_LEVEL_URI, Transport};
use super::{EVENT_8K_PT, EVENT_48K_PT, MediaEvent, OPUS_PT};
use crate::Error;
use crate::dtmf::{DtmfReceiver, DtmfSender, EventPacket};
use crate::g711::G711;
use crate::impair::Impairment;
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout, RtpMeta};
use crate::mos::{LinkQuality, mos};
use crate::opus_codec::{FrameDuration, MAX_OPUS_PACKET, OPUS_RATE, OpusConfig, OpusDecoder, OpusEncoder};
use crate::resample::Resampler;

/// Random bits for SSRCs and sequence starts, without a random-number crate.
pub(crate) fn random_u32() -> u32 {
    RandomState::new().hash_one(Instant::now()) as u32
}

/// Payload types the far end uses for telephone-event, learned from its SDP.
#[derive(Debug)]
pub(crate) struct RemotePayloadTypes {
    event_48k: AtomicU8,
    event_8k: AtomicU8,
    /// telephone-event/8000 the far end accepted in an answer the transport
    /// did not see (it cannot hold both rates): 0 for none.
    event_8k_for_sending: AtomicU8,
    /// Bumped by every negotiation, so the send loop looks at its result again.
    epoch: AtomicU64,
}

impl Default for RemotePayloadTypes {
    fn default() -> Self {
        Self {
            event_48k: AtomicU8::new(EVENT_48K_PT),
            event_8k: AtomicU8::new(EVENT_8K_PT),
            event_8k_for_sending: AtomicU8::new(0),
            epoch: AtomicU64::new(0),
        }
    }
}

impl RemotePayloadTypes {
    pub(crate) fn set_event_8k_for_sending(&self, pt: Option<u8>) {
        self.event_8k_for_sending.store(pt.unwrap_or(0), Ordering::Relaxed);
    }

    fn event_8k_for_sending(&self) -> Option<u8> {
        Some(self.event_8k_for_sending.load(Ordering::Relaxed)).filter(|&pt| pt != 0)
    }

    pub(crate) fn learn(&self, sdp: &str) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        for line in sdp.lines() {
            let Some(rest) = line.trim().strip_prefix("a=rtpmap:") else { continue };
            let Some((pt, codec)) = rest.split_once(' ') else { continue };
            let Ok(pt) = pt.parse::<u8>() else { continue };
            match codec.to_ascii_lowercase().as_str() {
                "telephone-event/48000" => self.event_48k.store(pt, Ordering::Relaxed),
                "telephone-event/8000" => self.event_8k.store(pt, Ordering::Relaxed),
                _ => {}
            }
        }
    }

    fn event_rate(&self, pt: u8) -> Option<u32> {
        if pt == self.event_48k.load(Ordering::Relaxed) {
            Some(48_000)
        } else if pt == self.event_8k.load(Ordering::Relaxed) {
            Some(8_000)
        } else {
            None
        }
    }
}

/// Call quality over the last second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityReport {
    /// E-model MOS estimate (1.0..=4.5).
    pub mos: f64,
    /// Round-trip time from RTCP.
    pub rtt: Duration,
    /// Interarrival jitter of what we receive.
    pub jitter: Duration,
    /// Fraction of packets lost in the interval.
    pub loss: f64,
    /// Our jitter buffer's counters.
    pub buffer: JitterStats,
}

/// Encodes frames from the application and writes RTP.
pub(crate) struct SendLoop {
    encoder: OpusEncoder,
    ssrc: u32,
    seq: u16,
    ts: u32,
    /// The transport generation we write to; a re-anchor replaces it.
    transport: watch::Receiver<Arc<Transport>>,
    current: Arc<Transport>,
    connected: watch::Receiver<bool>,
    pending_events: std::collections::VecDeque<EventPacket>,
    /// What the last negotiation chose, and the epoch it was read at.
    negotiated: Option<(Negotiated, u64)>,
    remote_pts: Arc<RemotePayloadTypes>,
    muted: Arc<AtomicBool>,
    downsample: Resampler,
}

/// The codec the answer chose for what we send, with its payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendCodec {
    Opus(u8),
    G711(G711, u8),
}

/// What a negotiation chose for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Negotiated {
    codec: SendCodec,
    /// telephone-event/48000 (beside Opus).
    event_48k: u8,
    /// telephone-event/8000 (beside G.711), if the far end accepted it.
    event_8k: Option<u8>,
    /// The RFC 6464 audio level extension's id, if the far end accepted it.
    audio_level: Option<u8>,
}

impl SendLoop {
    pub(crate) fn new(
        opus: &OpusConfig,
        ssrc: u32,
        mut transport: watch::Receiver<Arc<Transport>>,
        connected: watch::Receiver<bool>,
        muted: Arc<AtomicBool>,
        remote_pts: Arc<RemotePayloadTypes>,
    ) -> Result<Self, Error> {
        let current = Arc::clone(&transport.borrow_and_update());
        Ok(Self {
            encoder: OpusEncoder::new(opus)?,
            ssrc,
            seq: random_u32() as u16,
            ts: random_u32(),
            transport,
            current,
            connected,
            pending_events: Default::default(),
            negotiated: None,
            remote_pts,
            muted,
            downsample: Resampler::new(OPUS_RATE, 8_000),
        })
    }

    /// The negotiated send codec (the first audio codec of the answer) and
    /// the telephone-event payload types, once known; read again after
    /// each negotiation.
    async fn negotiated(&mut self) -> Negotiated {
        let epoch = self.remote_pts.epoch.load(Ordering::Relaxed);
        if let Some((n, at)) = self.negotiated
            && at == epoch
        {
            return n;
        }
        let (mut codec, mut event_48k, mut event_8k, mut audio_level) = (None, EVENT_48K_PT, None, None);
        if let Ok(params) = self.current.sender.get_parameters().await {
            audio_level = params
                .rtp_parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == AUDIO_LEVEL_URI)
                .and_then(|e| u8::try_from(e.id).ok())
                .filter(|id| (1..=14).contains(id));
            for c in &params.rtp_parameters.codecs {
                let pt = c.payload_type;
                match c.rtp_codec.mime_type.to_ascii_lowercase().as_str() {
                    "audio/opus" => codec = codec.or(Some(SendCodec::Opus(pt))),
                    "audio/pcmu" => codec = codec.or(Some(SendCodec::G711(G711::Pcmu, pt))),
                    "audio/pcma" => codec = codec.or(Some(SendCodec::G711(G711::Pcma, pt))),
                    "audio/telephone-event" if c.rtp_codec.clock_rate == 48_000 => event_48k = pt,
                    "audio/telephone-event" if c.rtp_codec.clock_rate == 8_000 => event_8k = Some(pt),
                    _ => {}
                }
            }
        }
        let event_8k = event_8k.or(self.remote_pts.event_8k_for_sending());
        match codec {
            Some(codec) => {
                let n = Negotiated { codec, event_48k, event_8k, audio_level };
                self.negotiated = Some((n, epoch));
                n
            }
            None => Negotiated { codec: SendCodec::Opus(OPUS_PT), event_48k, event_8k, audio_level },
        }
    }

    /// Writes one packet; `level` is an RFC 6464 extension `(id, byte)`.
    async fn write(&mut self, pt: u8, marker: bool, ts: u32, payload: Bytes, level: Option<(u8, u8)>) {
        let mut header = rtp::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            ..Default::default()
        };
        if let Some((id, byte)) = level {
            // One-byte header form (RFC 8285); only fails for an id out of range.
            let _ = header.set_extension(id, Bytes::copy_from_slice(&[byte]));
        }
        self.seq = self.seq.wrapping_add(1);
        // Before the transport is up a write fails; audio then is simply not sent.
        let _ = self.current.track.write_rtp(rtp::Packet { header, payload }).await;
    }

    pub(crate) async fn run(mut self, mut frames: mpsc::Receiver<Vec<i16>>, mut dtmf: mpsc::Receiver<char>) {
        let mut pkt = [0u8; MAX_OPUS_PACKET];
        let frame_ticks = self.encoder.frame_samples() as u32;
        let frame_ms = (frame_ticks * 1000 / OPUS_RATE).max(1);
        // RFC 4733 at the clock of the audio codec beside it.
        let (dtmf_48k, dtmf_8k) = (DtmfSender::new(OPUS_RATE, frame_ms), DtmfSender::new(8_000, frame_ms));
        let mut was_silent = true;
        let silence = vec![0i16; frame_ticks as usize];
        let (mut narrow, mut bytes) = (Vec::with_capacity(320), Vec::with_capacity(320));
        while let Some(frame) = frames.recv().await {
            // Muted: encode silence, so DTX sends almost nothing and the far
            // end's decoder fades out instead of cutting off.
            let frame = if self.muted.load(Ordering::Relaxed) { &silence } else { &frame };
            if self.transport.has_changed().unwrap_or(false) {
                // Rebuilt under the call: same SSRC, sequence and timestamps
                // go on; the new answer may have chosen another codec.
                self.current = Arc::clone(&self.transport.borrow_and_update());
                self.negotiated = None;
            }
            if !*self.connected.borrow() {
                continue;
            }
            let ts = self.ts;
            let n = self.negotiated().await;
            let (audio_pt, payload, event_pt, events) = match n.codec {
                SendCodec::Opus(pt) => {
                    let Ok(len) = self.encoder.encode(frame, &mut pkt) else { continue };
                    self.ts = self.ts.wrapping_add(frame_ticks);
                    (pt, &pkt[..len], Some(n.event_48k), &dtmf_48k)
                }
                SendCodec::G711(law, pt) => {
                    // G.711 beside an SBC: 8 kHz, one byte a sample.
                    narrow.clear();
                    self.downsample.process(frame, &mut narrow);
                    bytes.clear();
                    law.encode(&narrow, &mut bytes);
                    self.ts = self.ts.wrapping_add(narrow.len() as u32);
                    (pt, &bytes[..], n.event_8k, &dtmf_8k)
                }
            };
            if self.pending_events.is_empty()
                && let Ok(digit) = dtmf.try_recv()
            {
                if event_pt.is_some() {
                    self.pending_events.extend(events.packets(digit, ts, 100).into_iter().flatten());
                } else {
                    tracing::warn!(
                        "DTMF {digit:?} not sent: the far end accepted no telephone-event at this codec's rate"
                    );
                }
            }
            if let Some(event_pt) = event_pt
                && let Some(first) = self.pending_events.pop_front()
            {
                // The digit replaces audio for its duration (RFC 4733 2.5.1.1).
                let mut batch = vec![first];
                while self.pending_events.front().is_some_and(|p| p.event == first.event) {
                    batch.extend(self.pending_events.pop_front());
                }
                for p in batch {
                    self.write(event_pt, p.marker, p.timestamp, Bytes::copy_from_slice(&p.event.encode()), None).await;
                }
                continue;
            }
            // Opus DTX: one or two bytes mean silence; Opus sends one now and then itself.
            let silent = matches!(n.codec, SendCodec::Opus(_)) && payload.len() <= 2;
            let level = n.audio_level.map(|id| (id, audio_level(frame, !silent)));
            let payload = Bytes::copy_from_slice(payload);
            self.write(audio_pt, was_silent && !silent, ts, payload, level).await;
            was_silent = silent;
        }
    }
}

/// The RFC 6464 level byte of a frame: voice activity in the top bit, the
/// level in -dBov (0 loudest, 127 silence) below. Voice is what the encoder
/// did not treat as silence and is louder than -50 dBov.
fn audio_level(frame: &[i16], voice: bool) -> u8 {
    let power = frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
    let dbov = if power < 1.0 { 127.0 } else { -10.0 * (power / (32768.0 * 32768.0)).log10() };
    let level = dbov.round().clamp(0.0, 127.0) as u8;
    (u8::from(voice && level <= 50) << 7) | level
}

/// The jitter buffer, behind an optional impairment shim that drops and
/// delays packets as they arrive (tests and benchmarks of a bad network),
/// and the DTMF receiver. One per session: it outlives SSRC changes, codec
/// changes and rebuilt transports, and so do its counters.
pub(crate) struct Inbound {
    jb: JitterBuffer<Bytes>,
    shim: Option<(Impairment, Instant)>,
    delayed: Vec<(Instant, RtpMeta, Bytes)>,
    codec: RecvCodec,
    dtmf: DtmfReceiver,
}

/// What the far end sends us (its choice may differ from ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvCodec {
    Opus,
    G711(G711),
}

/// RFC 3389 comfort noise (static payload type 13).
const COMFORT_NOISE_PT: u8 = 13;

impl RecvCodec {
    /// The codec of an audio payload type; `None` for comfort noise and
    /// for static types we never negotiate (there is nothing to decode).
    /// Opus is the only dynamic audio format we negotiate, and
    /// telephone-event is taken out before this.
    fn of(payload_type: u8) -> Option<Self> {
        match payload_type {
            0 => Some(RecvCodec::G711(G711::Pcmu)),
            8 => Some(RecvCodec::G711(G711::Pcma)),
            96..=127 => Some(RecvCodec::Opus),
            _ => None,
        }
    }

    fn jitter_config(self) -> JitterConfig {
        match self {
            RecvCodec::Opus => JitterConfig::opus_20ms(),
            RecvCodec::G711(_) => JitterConfig { clock_rate: 8_000, frame_ticks: 160, ..JitterConfig::opus_20ms() },
        }
    }
}

impl Inbound {
    fn new(impairment: Option<Impairment>) -> Self {
        Self {
            jb: JitterBuffer::new(JitterConfig::opus_20ms()),
            shim: impairment.map(|i| (i, Instant::now())),
            delayed: Vec::new(),
            codec: RecvCodec::Opus,
            dtmf: DtmfReceiver::default(),
        }
    }

    fn arrive(&mut self, now: Instant, payload_type: u8, rtp: RtpMeta, payload: Bytes) {
        let Some(codec) = RecvCodec::of(payload_type) else {
            if payload_type == COMFORT_NOISE_PT {
                // The sender went quiet on purpose: the buffer drains and
                // re-anchors when speech resumes; the codec stays. Its
                // sequence number is not a gap.
                self.jb.skip(rtp);
            }
            return;
        };
        if codec != self.codec {
            // A re-INVITE changed the codec: a new clock on the same
            // timeline; the buffer keeps its delay estimate and counters.
            // (Another SSRC is the buffer's business: see jitter.rs.)
            self.codec = codec;
            self.jb.set_config(codec.jitter_config());
            self.delayed.clear();
        }
        let Some((shim, epoch)) = &mut self.shim else {
            self.jb.push(now, rtp, payload);
            return;
        };
        let sent = now.saturating_duration_since(*epoch).as_micros() as u64;
        if let Some(at) = shim.deliver_at(sent) {
            self.delayed.push((*epoch + Duration::from_micros(at), rtp, payload));
        }
    }

    fn pop(&mut self, now: Instant) -> Playout<Bytes> {
        self.delayed.sort_by_key(|d| d.0);
        let due = self.delayed.iter().take_while(|d| d.0 <= now).count();
        for (at, rtp, payload) in self.delayed.drain(..due) {
            self.jb.push(at, rtp, payload);
        }
        self.jb.pop(now)
    }
}

/// Shared by the receive tasks of a session (a renegotiation or a rebuilt
/// transport delivers a new remote track; its packets go to the same
/// jitter buffer and the one playout task).
#[derive(Clone)]
pub(crate) struct ReceiveContext {
    output: mpsc::Sender<Vec<i16>>,
    events: mpsc::Sender<MediaEvent>,
    pts: Arc<RemotePayloadTypes>,
    buffer: Arc<Mutex<Inbound>>,
    /// The transport generation whose packets count.
    current: Arc<AtomicU64>,
}

impl ReceiveContext {
    pub(crate) fn new(
        output: mpsc::Sender<Vec<i16>>,
        events: mpsc::Sender<MediaEvent>,
        pts: Arc<RemotePayloadTypes>,
        impairment: Option<Impairment>,
        current: Arc<AtomicU64>,
    ) -> Self {
        Self { output, events, pts, buffer: Arc::new(Mutex::new(Inbound::new(impairment))), current }
    }

    pub(crate) fn jitter_stats(&self) -> JitterStats {
        self.buffer.lock().map(|b| b.jb.stats()).unwrap_or_default()
    }

    /// Start receiving from `track` of transport `generation`, until the
    /// track ends or a newer generation takes over.
    pub(crate) fn spawn(&self, track: Arc<dyn TrackRemote>, generation: u64) {
        let ctx = self.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if ctx.current.load(Ordering::Acquire) != generation {
                    return;
                }
                match event {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        let h = &p.header;
                        let rtp = RtpMeta { seq: h.sequence_number, ts: h.timestamp, marker: h.marker, ssrc: h.ssrc };
                        let Ok(mut inbound) = ctx.buffer.lock() else { return };
                        if ctx.pts.event_rate(h.payload_type).is_some() {
                            let digits = inbound.dtmf.receive(Instant::now(), rtp, &p.payload);
                            // Telephone-event packets replace audio (RFC 4733 2.5.1.1): not a gap.
                            inbound.jb.skip(rtp);
                            for d in digits {
                                let _ = ctx.events.try_send(MediaEvent::Dtmf(d));
                            }
                        } else {
                            inbound.arrive(Instant::now(), h.payload_type, rtp, p.payload);
                        }
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }

    /// Every 20 ms, the next frame from the jitter buffer, decoded or
    /// concealed, to the output (one task per session).
    pub(crate) async fn playout(self) {
        let Ok(mut decoder) = OpusDecoder::new(FrameDuration::Ms20) else { return };
        let mut pcm = vec![0i16; 5760];
        let (mut narrow, mut last) = (Vec::with_capacity(320), Vec::with_capacity(1920));
        let mut upsample = Resampler::new(8_000, OPUS_RATE);
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        let mut first = true;
        loop {
            ticker.tick().await;
            let now = Instant::now();
            let (playout, codec, dtmf_end) = match self.buffer.lock() {
                Ok(mut inbound) => (inbound.pop(now), inbound.codec, inbound.dtmf.poll(now)),
                Err(_) => return,
            };
            if let Some(end) = dtmf_end {
                let _ = self.events.try_send(MediaEvent::Dtmf(end));
            }
            let n = match (codec, playout) {
                (_, Playout::Idle) if first => continue,
                // Drained (the far end paused or holds us): silence at the
                // pace of audio, as concealment was before, so a consumer
                // that counts frames (a recording) keeps time.
                (_, Playout::Idle) => {
                    pcm[..960].fill(0);
                    960
                }
                (RecvCodec::G711(law), Playout::Frame(p)) => {
                    narrow.clear();
                    law.decode(&p, &mut narrow);
                    last.clear();
                    upsample.process(&narrow, &mut last);
                    let n = last.len().min(pcm.len());
                    pcm[..n].copy_from_slice(&last[..n]);
                    n
                }
                (RecvCodec::G711(_), Playout::Conceal { .. }) => {
                    // G.711 has no concealment of its own: repeat the last frame, fading.
                    last.iter_mut().for_each(|s| *s /= 2);
                    let n = last.len().min(pcm.len());
                    pcm[..n].copy_from_slice(&last[..n]);
                    n
                }
                (RecvCodec::Opus, playout) => {
                    let decoded = match playout {
                        Playout::Frame(p) => decoder.decode(&p, &mut pcm),
                        Playout::Conceal { fec: Some(next) } => decoder.recover(&next, &mut pcm),
                        _ => decoder.conceal(&mut pcm),
                    };
                    // A corrupt packet from the network is concealed, never fatal.
                    decoded.or_else(|_| decoder.conceal(&mut pcm)).unwrap_or(0)
                }
            };
            if n == 0 {
                continue;
            }
            if first {
                first = false;
                tracing::debug!("first frame played");
                let _ = self.events.try_send(MediaEvent::FirstFrame);
            }
            // A consumer that falls behind loses frames, the network side never waits.
            let _ = self.output.try_send(pcm[..n].to_vec());
        }
    }
}

/// Something that measures the call's quality when asked.
pub(crate) trait Measure {
    /// The quality over the time since the last call.
    fn measure(&mut self) -> impl std::future::Future<Output = QualityReport> + Send;
}

/// Once a second while the call is up: statistics -> MOS, from whichever
/// transport generation is current.
pub(crate) async fn quality_loop(
    transport: watch::Receiver<Arc<Transport>>,
    receive: ReceiveContext,
    events: mpsc::Sender<MediaEvent>,
    connected: watch::Receiver<bool>,
) {
    let statistics = Statistics {
        transport,
        receive,
        last_received: 0,
        last_lost: 0,
        last_buffer: JitterStats::default(),
        last_generation: 0,
    };
    report_every_second(statistics, events, connected).await;
}

/// The cadence: nothing before the transport first connects, then one
/// [`MediaEvent::Quality`] a second (a full channel skips one rather than
/// wait), until the receiver goes away.
pub(crate) async fn report_every_second(
    mut measure: impl Measure,
    events: mpsc::Sender<MediaEvent>,
    mut connected: watch::Receiver<bool>,
) {
    if connected.wait_for(|c| *c).await.is_err() {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let report = measure.measure().await;
        if events.try_send(MediaEvent::Quality(report)).is_err() && events.is_closed() {
            return;
        }
    }
}

/// RTCP and jitter-buffer statistics, as differences since the last report.
struct Statistics {
    transport: watch::Receiver<Arc<Transport>>,
    receive: ReceiveContext,
    last_received: u64,
    last_lost: i64,
    last_buffer: JitterStats,
    last_generation: u64,
}

impl Measure for Statistics {
    async fn measure(&mut self) -> QualityReport {
        let current = Arc::clone(&self.transport.borrow());
        if current.generation != self.last_generation {
            // A new peer connection counts from zero.
            (self.last_received, self.last_lost, self.last_generation) = (0, 0, current.generation);
        }
        let report = current.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let (mut rtt, mut jitter, mut received, mut lost) = (0.0f64, 0.0f64, 0u64, 0i64);
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::InboundRtp(s) => {
                    jitter = jitter.max(s.received_rtp_stream_stats.jitter);
                    received += s.received_rtp_stream_stats.packets_received;
                    lost += s.received_rtp_stream_stats.packets_lost;
                }
                RTCStatsReportEntry::RemoteInboundRtp(s) if s.round_trip_time > 0.0 => rtt = s.round_trip_time,
                RTCStatsReportEntry::IceCandidatePair(s) if rtt == 0.0 => rtt = s.current_round_trip_time,
                _ => {}
            }
        }
        let d_recv = received.saturating_sub(self.last_received);
        let d_lost = (lost - self.last_lost).max(0) as u64;
        (self.last_received, self.last_lost) = (received, lost);
        let network_loss = if d_recv + d_lost == 0 { 0.0 } else { d_lost as f64 / (d_recv + d_lost) as f64 };
        // What the listener hears: frames whose packet was missing when due.
        let buffer = self.receive.jitter_stats();
        let playout_loss = playout_loss(&self.last_buffer, &buffer);
        // Our own estimate runs on the playout timeline, so a sender that
        // resumes with another timestamp (hold) is not a jitter spike; the
        // RTCP one is the fallback while nothing arrives.
        let own_jitter = (buffer.received > self.last_buffer.received).then_some(buffer.jitter);
        self.last_buffer = buffer;
        let loss = network_loss.max(playout_loss);
        let rtt = Duration::from_secs_f64(rtt.clamp(0.0, 60.0));
        // rtc 0.21 documents this field in seconds but fills it with the RTCP
        // report's value, which is in RTP timestamp units (48 kHz for Opus).
        let jitter =
            own_jitter.unwrap_or_else(|| Duration::from_secs_f64((jitter / f64::from(OPUS_RATE)).clamp(0.0, 60.0)));
        let local_delay = buffer.target_delay + Duration::from_millis(27);
        let q = LinkQuality { rtt, jitter, loss, local_delay };
        QualityReport { mos: mos(&q), rtt, jitter, loss, buffer }
    }
}

/// The share of the frames due between two readings of the buffer's
/// counters that the listener did not hear: lost / (lost + played). A frame
/// whose packet came late is lost once (it is also `late`, which is not
/// added again). An interval in which nothing was due (before the first
/// packet, or while the far end pauses or holds us) has no loss: the
/// buffer does not count a pause as lost.
fn playout_loss(before: &JitterStats, now: &JitterStats) -> f64 {
    let lost = now.lost.saturating_sub(before.lost);
    let played = now.played.saturating_sub(before.played);
    if lost + played == 0 { 0.0 } else { lost as f64 / (lost + played) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how often it was asked, and says so in the MOS.
    struct Counting(u32);

    impl Measure for Counting {
        async fn measure(&mut self) -> QualityReport {
            self.0 += 1;
            QualityReport {
                mos: f64::from(self.0),
                rtt: Duration::ZERO,
                jitter: Duration::ZERO,
                loss: 0.0,
                buffer: JitterStats::default(),
            }
        }
    }

    fn reports(rx: &mut mpsc::Receiver<MediaEvent>) -> Vec<f64> {
        std::iter::from_fn(|| match rx.try_recv() {
            Ok(MediaEvent::Quality(q)) => Some(q.mos),
            _ => None,
        })
        .collect()
    }

    /// Lets the paused clock run `secs` seconds, the loop reacting to each.
    async fn run_for(secs: u64) {
        for _ in 0..secs * 10 {
            tokio::time::advance(Duration::from_millis(100)).await;
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn quality_is_reported_once_a_second_from_the_moment_media_connects() {
        let (tx, mut rx) = mpsc::channel(16);
        let (connected_tx, connected) = watch::channel(false);
        let task = tokio::spawn(report_every_second(Counting(0), tx, connected));

        run_for(5).await;
        assert!(reports(&mut rx).is_empty(), "nothing before the transport connects");

        connected_tx.send_replace(true);
        run_for(10).await;
        let got = reports(&mut rx);
        assert!((9..=10).contains(&got.len()), "one report a second over 10 s of simulated time: {got:?}");
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1.0), "each from a fresh measurement: {got:?}");

        drop(rx);
        run_for(2).await;
        assert!(task.is_finished(), "the loop ends with its receiver");
    }

    /// An `Inbound` fed on simulated time: one packet of `pt` every 20 ms
    /// from `at`, ticked 5 ms after each arrival; returns the ticks' playouts.
    struct Feed {
        inbound: Inbound,
        t0: Instant,
        seq: u16,
        ts: u32,
    }

    impl Feed {
        fn new() -> Self {
            Self { inbound: Inbound::new(None), t0: Instant::now(), seq: 100, ts: 5_000 }
        }

        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        /// `n` packets of `pt` from `start_ms`, `ticks` timestamp ticks apart.
        fn send(&mut self, start_ms: u64, n: u64, pt: u8, ticks: u32, ssrc: u32) -> Vec<Playout<Bytes>> {
            let mut out = Vec::new();
            for k in 0..n {
                let rtp = RtpMeta { seq: self.seq, ts: self.ts, marker: false, ssrc };
                self.inbound.arrive(self.at(start_ms + k * 20), pt, rtp, Bytes::from_static(&[0xff; 160]));
                out.push(self.inbound.pop(self.at(start_ms + k * 20 + 5)));
                self.seq = self.seq.wrapping_add(1);
                self.ts = self.ts.wrapping_add(ticks);
            }
            out
        }

        fn idle(&mut self, from_ms: u64, to_ms: u64) -> Vec<Playout<Bytes>> {
            (from_ms / 20..to_ms / 20).map(|k| self.inbound.pop(self.at(k * 20 + 5))).collect()
        }
    }

    fn frames(out: &[Playout<Bytes>]) -> usize {
        out.iter().filter(|p| matches!(p, Playout::Frame(_))).count()
    }

    #[test]
    fn comfort_noise_does_not_switch_the_receive_codec_to_opus() {
        let mut feed = Feed::new();
        assert_eq!(frames(&feed.send(0, 50, 0, 160, 1)), 50);
        assert_eq!(feed.inbound.codec, RecvCodec::G711(G711::Pcmu));
        // RFC 3389 comfort noise, then silence for 2 s; the sender's
        // timestamp goes on as if it had not paused.
        feed.send(1_000, 1, COMFORT_NOISE_PT, 160, 1);
        assert_eq!(feed.inbound.codec, RecvCodec::G711(G711::Pcmu), "comfort noise is not Opus");
        let quiet = feed.idle(1_020, 3_000);
        assert!(quiet.iter().filter(|p| **p == Playout::Idle).count() > 80, "the buffer drains to silence");
        let resumed = feed.send(3_000, 50, 0, 160, 1);
        assert_eq!(frames(&resumed), 50, "speech after comfort noise plays at once: {:?}", feed.inbound.jb.stats());
        let s = feed.inbound.jb.stats();
        assert_eq!((s.lost, s.late, s.received), (0, 0, 100), "comfort noise is neither loss nor audio: {s:?}");
    }

    #[test]
    fn a_new_ssrc_or_codec_keeps_the_call_counters() {
        let mut feed = Feed::new();
        feed.send(0, 50, 111, 960, 1);
        // Another media server, with PCMU.
        (feed.seq, feed.ts) = (9, 77);
        let after = feed.send(1_000, 50, 0, 160, 2);
        assert!(frames(&after) >= 49, "{:?}", feed.inbound.jb.stats());
        let s = feed.inbound.jb.stats();
        assert_eq!((s.received, s.lost), (100, 0), "counters of the whole call: {s:?}");
    }

    #[test]
    fn a_paused_sender_reports_no_loss_and_a_late_packet_counts_once() {
        let mut feed = Feed::new();
        let mut readings = vec![feed.inbound.jb.stats()];
        feed.send(0, 50, 111, 960, 1);
        readings.push(feed.inbound.jb.stats());
        // Held: nothing for 3 s, then the far end resumes 2 s behind.
        for second in 1..4 {
            feed.idle(second * 1_000, (second + 1) * 1_000);
            readings.push(feed.inbound.jb.stats());
        }
        feed.ts = feed.ts.wrapping_sub(2 * 48_000);
        feed.send(4_000, 50, 111, 960, 1);
        readings.push(feed.inbound.jb.stats());
        let losses: Vec<f64> = readings.windows(2).map(|w| playout_loss(&w[0], &w[1])).collect();
        assert!(losses.iter().all(|&l| l == 0.0), "no loss while held or after: {losses:?}");

        let before = JitterStats { played: 100, lost: 2, late: 1, ..JitterStats::default() };
        let after = JitterStats { played: 149, lost: 3, late: 2, ..before };
        assert_eq!(playout_loss(&before, &after), 1.0 / 50.0, "the slot whose packet came late is one loss");
    }

    #[test]
    fn audio_level_bytes_follow_rfc_6464() {
        assert_eq!(audio_level(&[0; 960], false), 127, "digital silence: 127 -dBov, no voice");
        let loud: Vec<i16> = (0..960).map(|i| if i % 2 == 0 { 32_000 } else { -32_000 }).collect();
        assert_eq!(audio_level(&loud, true), 0x80, "full scale with voice");
        let quiet: Vec<i16> = (0..960).map(|i| if i % 2 == 0 { 33 } else { -33 }).collect();
        assert_eq!(audio_level(&quiet, true), 60, "-60 dBov is below the voice threshold");
    }
}
