//! A plain RTP/AVP endpoint, the kind of peer an SBC or a desk phone is:
//! no ICE, no DTLS, no SRTP, one UDP socket. It answers an SDP offer with
//! Opus or PCMU, sends its own tone every 20 ms and records what it hears,
//! placing each frame by sequence number so a lost packet counts as a
//! silent window. rtpengine, between it and our WebRTC session, is the
//! third-party part under test; the codecs here are ours.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use warmline_media::g711::G711;
use warmline_media::opus_codec::{FrameDuration, MAX_OPUS_PACKET, OpusConfig, OpusDecoder, OpusEncoder};
use warmline_media::tone::{ToneDetector, ToneGenerator};

/// What the plain endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Opus,
    Pcmu,
}

impl Codec {
    /// Samples per second and per 20 ms frame.
    pub fn rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Pcmu => 8_000,
        }
    }

    pub fn frame(self) -> usize {
        self.rate() as usize / 50
    }
}

/// The parts of an SDP offer the endpoint needs.
#[derive(Debug)]
struct Offer {
    addr: SocketAddr,
    opus_pt: Option<u8>,
    has_pcmu: bool,
    /// telephone-event payload types by clock rate.
    events: Vec<(u8, u32)>,
}

fn parse_offer(sdp: &str) -> Result<Offer, String> {
    let (mut ip, mut port, mut opus_pt, mut has_pcmu, mut events) = (None, None, None, false, Vec::new());
    for line in sdp.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.split('/').next().and_then(|a| a.trim().parse::<std::net::Ipv4Addr>().ok()).or(ip);
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let mut fields = m.split_whitespace();
            port = fields.next().and_then(|p| p.parse::<u16>().ok());
            let proto = fields.next().unwrap_or_default();
            if proto != "RTP/AVP" {
                return Err(format!("the plain side was offered {proto}, not RTP/AVP:\n{sdp}"));
            }
            has_pcmu = fields.any(|pt| pt == "0");
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            let (pt, name) = map.split_once(' ').unwrap_or_default();
            let name = name.to_ascii_lowercase();
            if name.starts_with("opus/48000") {
                opus_pt = pt.parse().ok();
            } else if let Some(rate) = name.strip_prefix("telephone-event/")
                && let (Ok(pt), Ok(rate)) = (pt.parse(), rate.split('/').next().unwrap_or_default().parse())
            {
                events.push((pt, rate));
            }
        }
    }
    let (Some(ip), Some(port)) = (ip, port) else { return Err(format!("no address in the offer:\n{sdp}")) };
    Ok(Offer { addr: SocketAddr::from((ip, port)), opus_pt, has_pcmu, events })
}

/// One received frame: its RTP sequence number and decoded samples.
type Heard = (u16, Vec<i16>);

/// The RFC 4733 event code of a DTMF digit.
fn event_code(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => digit.to_digit(10).map(|d| d as u8),
        '*' => Some(10),
        '#' => Some(11),
        _ => None,
    }
}

fn event_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => char::from_digit(u32::from(code), 10),
        10 => Some('*'),
        11 => Some('#'),
        _ => None,
    }
}

/// A plain RTP endpoint on 127.0.0.1.
pub struct PlainRtpPeer {
    socket: Arc<UdpSocket>,
    codec: Codec,
    pt: u8,
    remote: Option<SocketAddr>,
    /// telephone-event payload type at our codec's clock, if offered.
    event_pt: Option<u8>,
    heard: Option<mpsc::Receiver<Heard>>,
    digits_in: Option<mpsc::Receiver<char>>,
    digits_out: Option<mpsc::Sender<char>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PlainRtpPeer {
    pub async fn bind(codec: Codec) -> Result<Self, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| format!("plain RTP socket: {e}"))?;
        let pt = if codec == Codec::Pcmu { 0 } else { 111 };
        Ok(Self {
            socket: Arc::new(socket),
            codec,
            pt,
            remote: None,
            event_pt: None,
            heard: None,
            digits_in: None,
            digits_out: None,
            tasks: Vec::new(),
        })
    }

    /// Our answer to `offer` (which must offer our codec); remembers where
    /// to send.
    pub fn answer(&mut self, offer: &str) -> Result<String, String> {
        let offer = parse_offer(offer)?;
        let (pt, rtpmap) = match self.codec {
            Codec::Opus => (offer.opus_pt.ok_or("the offer has no Opus")?, "opus/48000/2"),
            Codec::Pcmu if offer.has_pcmu => (0, "PCMU/8000"),
            Codec::Pcmu => return Err("the offer has no PCMU".into()),
        };
        self.pt = pt;
        self.remote = Some(offer.addr);
        // DTMF as RFC 4733 at the clock of our codec, as a desk phone does.
        self.event_pt = offer.events.iter().find(|e| e.1 == self.codec.rate()).map(|e| e.0);
        let port = self.socket.local_addr().map_err(|e| e.to_string())?.port();
        let (events_fmt, events_attrs) = match self.event_pt {
            Some(te) => (
                format!(" {te}"),
                format!("a=rtpmap:{te} telephone-event/{}\r\na=fmtp:{te} 0-16\r\n", self.codec.rate()),
            ),
            None => (String::new(), String::new()),
        };
        Ok(format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=plain\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pt}{events_fmt}\r\na=rtpmap:{pt} {rtpmap}\r\n{events_attrs}a=ptime:20\r\n\
             a=sendrecv\r\n"
        ))
    }

    /// Starts sending a `freq` Hz tone (paced like a microphone) and recording.
    pub fn start(&mut self, freq: f32) -> Result<(), String> {
        let remote = self.remote.ok_or("answer an offer first")?;
        let (tx, rx) = mpsc::channel(500);
        let (digits_in_tx, digits_in) = mpsc::channel(16);
        let (digits_out, digits_out_rx) = mpsc::channel(16);
        self.heard = Some(rx);
        (self.digits_in, self.digits_out) = (Some(digits_in), Some(digits_out));
        let pts = Payloads { audio: self.pt, event: self.event_pt };
        let sender = send(Arc::clone(&self.socket), remote, self.codec, pts, freq, digits_out_rx);
        self.tasks.push(tokio::spawn(sender));
        self.tasks.push(tokio::spawn(receive(Arc::clone(&self.socket), self.codec, pts, tx, digits_in_tx)));
        Ok(())
    }

    /// Sends `digit` as RFC 4733 events (100 ms), in place of audio.
    pub async fn send_digit(&self, digit: char) -> Result<(), String> {
        let out = self.digits_out.as_ref().ok_or("start the peer first")?;
        out.send(digit).await.map_err(|_| "the sender stopped".to_owned())
    }

    /// The next digit received as telephone-event, within 5 s.
    pub async fn next_digit(&mut self) -> Result<char, String> {
        let digits = self.digits_in.as_mut().ok_or("start the peer first")?;
        tokio::time::timeout(Duration::from_secs(5), digits.recv())
            .await
            .map_err(|_| "no telephone-event within 5 s".to_owned())?
            .ok_or_else(|| "the receiver stopped".to_owned())
    }

    /// Skips `settle` frames after the first one heard, then returns the
    /// share of the next `frames` 20 ms windows (by sequence number, so a
    /// missing packet is a missed window) in which `freq` is detected.
    pub async fn share_heard(&mut self, freq: f32, settle: usize, frames: usize) -> Result<f32, String> {
        let heard = self.heard.as_mut().ok_or("start the peer first")?;
        let n = self.codec.frame();
        let mut windows: Vec<Option<Vec<i16>>> = vec![None; frames];
        let mut first_seq = None;
        let mut skipped = 0;
        let collect = async {
            while let Some((seq, pcm)) = heard.recv().await {
                if skipped < settle {
                    skipped += 1;
                    continue;
                }
                let first = *first_seq.get_or_insert(seq);
                let at = usize::from(seq.wrapping_sub(first));
                if at >= frames {
                    // Sequence numbers past the window (or far behind it): done.
                    if at < 0x8000 {
                        break;
                    }
                    continue;
                }
                windows[at] = Some(pcm);
            }
        };
        tokio::time::timeout(Duration::from_secs(20), collect)
            .await
            .map_err(|_| "the plain peer stopped hearing audio".to_owned())?;
        let det = ToneDetector::new(self.codec.rate(), freq);
        let hits = windows.iter().filter(|w| w.as_deref().is_some_and(|w| w.len() >= n && det.detect(&w[..n]))).count();
        Ok(hits as f32 / frames as f32)
    }
}

impl Drop for PlainRtpPeer {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// Payload types agreed in the answer.
#[derive(Debug, Clone, Copy)]
struct Payloads {
    audio: u8,
    event: Option<u8>,
}

fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, body: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(12 + body.len());
    packet.extend_from_slice(&[0x80, pt | if marker { 0x80 } else { 0 }]);
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&ts.to_be_bytes());
    packet.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
    packet.extend_from_slice(body);
    packet
}

async fn send(
    socket: Arc<UdpSocket>,
    remote: SocketAddr,
    codec: Codec,
    pts: Payloads,
    freq: f32,
    mut digits: mpsc::Receiver<char>,
) {
    let mut tone = ToneGenerator::new(codec.rate(), freq, 0.3);
    let Ok(mut opus) = OpusEncoder::new(&OpusConfig::default()) else { return };
    let (mut seq, mut ts) = (0x1234u16, 0x10u32);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut payload, mut ulaw) = ([0u8; MAX_OPUS_PACKET], Vec::with_capacity(160));
    // A digit in progress: (event code, start timestamp, frames sent).
    let mut digit: Option<(u8, u32, u16)> = None;
    let frame = codec.frame() as u16;
    loop {
        ticker.tick().await;
        if digit.is_none()
            && let Ok(d) = digits.try_recv()
        {
            digit = event_code(d).map(|code| (code, ts, 0));
        }
        if let (Some((code, start, sent)), Some(event_pt)) = (digit, pts.event) {
            // Five frames of the event (100 ms), the last one sent three times as the end.
            let duration = (sent + 1) * frame;
            let end = sent + 1 == 5;
            let body = [code, if end { 0x80 } else { 0 } | 10, (duration >> 8) as u8, duration as u8];
            for _ in 0..if end { 3 } else { 1 } {
                let _ = socket.send_to(&rtp_packet(event_pt, sent == 0, seq, start, &body), remote).await;
                seq = seq.wrapping_add(1);
            }
            ts = ts.wrapping_add(codec.frame() as u32);
            digit = if end { None } else { Some((code, start, sent + 1)) };
            continue;
        }
        let pcm = tone.next_frame(codec.frame());
        let body: &[u8] = match codec {
            Codec::Opus => match opus.encode(&pcm, &mut payload) {
                Ok(n) => &payload[..n],
                Err(_) => continue,
            },
            Codec::Pcmu => {
                ulaw.clear();
                G711::Pcmu.encode(&pcm, &mut ulaw);
                &ulaw
            }
        };
        let _ = socket.send_to(&rtp_packet(pts.audio, seq == 0x1234, seq, ts, body), remote).await;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(codec.frame() as u32);
    }
}

/// The payload of an RTP packet of type `pt`, with its sequence number;
/// `None` for anything else (RTCP, another payload type, garbage).
fn rtp_payload(packet: &[u8], pt: u8) -> Option<(u16, &[u8])> {
    let (&b0, &b1) = (packet.first()?, packet.get(1)?);
    if b0 >> 6 != 2 || b1 & 0x7f != pt {
        return None;
    }
    let seq = u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]);
    let mut start = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = u16::from_be_bytes([*packet.get(start + 2)?, *packet.get(start + 3)?]);
        start += 4 + 4 * usize::from(words);
    }
    let end = if b0 & 0x20 != 0 { packet.len().checked_sub(usize::from(*packet.last()?))? } else { packet.len() };
    Some((seq, packet.get(start..end)?))
}

async fn receive(
    socket: Arc<UdpSocket>,
    codec: Codec,
    pts: Payloads,
    heard: mpsc::Sender<Heard>,
    digits: mpsc::Sender<char>,
) {
    let Ok(mut opus) = OpusDecoder::new(FrameDuration::Ms20) else { return };
    let mut buf = vec![0u8; 2048];
    let mut pcm = vec![0i16; 5760];
    let mut last_event_start = None;
    loop {
        let Ok(n) = socket.recv(&mut buf).await else { return };
        let packet = &buf[..n];
        if let Some(event_pt) = pts.event
            && let Some((_, body)) = rtp_payload(packet, event_pt)
        {
            // One digit per event start timestamp, however many packets carry it.
            let start = packet.get(4..8).map(|t| u32::from_be_bytes([t[0], t[1], t[2], t[3]]));
            if let (Some(&code), Some(start)) = (body.first(), start)
                && last_event_start != Some(start)
                && let Some(d) = event_digit(code)
            {
                last_event_start = Some(start);
                let _ = digits.try_send(d);
            }
            continue;
        }
        let Some((seq, payload)) = rtp_payload(packet, pts.audio) else { continue };
        let frame = match codec {
            Codec::Opus => match opus.decode(payload, &mut pcm) {
                Ok(n) => pcm[..n].to_vec(),
                Err(_) => continue,
            },
            Codec::Pcmu => {
                let mut out = Vec::with_capacity(payload.len());
                G711::Pcmu.decode(payload, &mut out);
                out
            }
        };
        if heard.try_send((seq, frame)).is_err() && heard.is_closed() {
            return;
        }
    }
}

#[test]
fn rtp_parsing_rejects_short_and_foreign_packets() {
    let mut p = vec![0x80, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa, 0xbb];
    assert_eq!(rtp_payload(&p, 0), Some((7, &[0xaa, 0xbb][..])));
    assert_eq!(rtp_payload(&p, 8), None, "another payload type");
    p[0] = 0x90; // an extension header that is not there
    assert_eq!(rtp_payload(&p, 0), None);
    assert_eq!(rtp_payload(&p[..5], 0), None);
    assert_eq!(rtp_payload(&[], 0), None);
}
