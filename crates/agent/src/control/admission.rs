//! Whether an incoming INVITE rings, and how: decided before anything is
//! sent, so a call the agent will refuse never hears 180 first, and an
//! offer we cannot answer is refused with 488 instead of ringing an agent
//! who then could not take it.

use warmline_media::session::AudioCodec;

use crate::config::{AcdKind, CallWaiting};

/// What to do with an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Ring the agent (180).
    Ring,
    /// Ring quietly beside the call in progress (call waiting; 180).
    RingQuietly,
    /// Answer at once without ringing: it replaces one of our calls
    /// (the target side of an attended transfer, RFC 3891).
    Replace,
    /// Answer at once: the contact center asked for auto-answer.
    AutoAnswer,
    /// Refuse with this status; `why` is for the log.
    Refuse {
        /// The SIP status.
        status: u16,
        /// Why, in a few words.
        why: &'static str,
    },
}

/// What the decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    /// It replaces a call we have.
    pub replaces_ours: bool,
    /// The contact center asked for auto-answer (and the UA allows it).
    pub auto_answer: bool,
    /// The INVITE's SDP offer, if it carried one.
    pub sdp: Option<&'a [u8]>,
}

/// The agent's side of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Desk<'a> {
    /// Available and not in wrap-up.
    pub ready: bool,
    /// Calls up or ringing here now.
    pub calls: usize,
    /// How the contact center learns availability.
    pub acd: AcdKind,
    /// A second call while on one.
    pub call_waiting: CallWaiting,
    /// The codecs we can answer with.
    pub codecs: &'a [AudioCodec],
}

/// Decides what an incoming call gets.
pub fn admit(offered: Offered<'_>, desk: Desk<'_>) -> Admission {
    if let Some(sdp) = offered.sdp
        && let Err(why) = answerable(sdp, desk.codecs)
    {
        return Admission::Refuse { status: 488, why };
    }
    if offered.replaces_ours {
        return Admission::Replace;
    }
    if !desk.ready {
        // With an ACD it should not have offered (a race with a state
        // change): refusing makes it re-queue the caller.
        return Admission::Refuse { status: 486, why: "the agent is not available" };
    }
    if desk.calls > 0 {
        let waiting = match desk.call_waiting {
            CallWaiting::Ring => true,
            CallWaiting::Refuse => false,
            // A plain PBX offers every call; an ACD only sends a second
            // one when it means to.
            CallWaiting::Auto => desk.acd != AcdKind::None,
        };
        return if waiting {
            Admission::RingQuietly
        } else {
            Admission::Refuse { status: 486, why: "the agent is on a call" }
        };
    }
    if offered.auto_answer { Admission::AutoAnswer } else { Admission::Ring }
}

/// Whether our media can answer `sdp`: an audio stream that is not
/// refused (port 0), a codec we have, and DTLS-SRTP keys (a fingerprint):
/// our media is WebRTC; a plain RTP peer needs a media relay (rtpengine,
/// the SBC) in between.
pub fn answerable(sdp: &[u8], codecs: &[AudioCodec]) -> Result<(), &'static str> {
    let text = std::str::from_utf8(sdp).map_err(|_| "the offer is not text")?;
    let mut audio = false;
    let mut codec = false;
    let mut fingerprint = false;
    let mut in_audio = false;
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            in_audio = parts.next() == Some("audio");
            let port = parts.next().and_then(|p| p.split('/').next()).and_then(|p| p.parse::<u32>().ok());
            if in_audio && port.is_some_and(|p| p != 0) {
                audio = true;
                let formats: Vec<&str> = parts.skip(1).collect();
                codec |= formats.iter().any(|f| {
                    (*f == "0" && codecs.contains(&AudioCodec::Pcmu))
                        || (*f == "8" && codecs.contains(&AudioCodec::Pcma))
                });
            }
            continue;
        }
        if line.starts_with("a=fingerprint:") {
            fingerprint = true;
        }
        if in_audio && let Some(map) = line.strip_prefix("a=rtpmap:") {
            let name = map.split_whitespace().nth(1).unwrap_or("").to_ascii_lowercase();
            codec |= (name.starts_with("opus/48000") && codecs.contains(&AudioCodec::Opus))
                || (name.starts_with("pcmu/8000") && codecs.contains(&AudioCodec::Pcmu))
                || (name.starts_with("pcma/8000") && codecs.contains(&AudioCodec::Pcma));
        }
    }
    if !audio {
        return Err("the offer has no audio stream");
    }
    if !codec {
        return Err("the offer has no codec in common");
    }
    if !fingerprint {
        return Err("the offer has no DTLS-SRTP fingerprint");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[AudioCodec] = &[AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma];

    fn offer(m: &str, extra: &str) -> Vec<u8> {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             a=fingerprint:sha-256 AB:CD\r\n{m}\r\n{extra}a=sendrecv\r\n"
        )
        .into_bytes()
    }

    fn opus() -> Vec<u8> {
        offer("m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2\r\n")
    }

    fn ready() -> Desk<'static> {
        Desk { ready: true, calls: 0, acd: AcdKind::Pidf, call_waiting: CallWaiting::Auto, codecs: ALL }
    }

    fn plain(sdp: Option<&[u8]>) -> Offered<'_> {
        Offered { replaces_ours: false, auto_answer: false, sdp }
    }

    #[test]
    fn an_available_agent_rings() {
        let sdp = opus();
        assert_eq!(admit(plain(Some(&sdp)), ready()), Admission::Ring);
        assert_eq!(admit(plain(None), ready()), Admission::Ring, "an INVITE without an offer rings too");
    }

    #[test]
    fn a_busy_away_or_wrapping_up_agent_refuses_with_486_before_anything_rings() {
        let sdp = opus();
        let away = Desk { ready: false, ..ready() };
        assert_eq!(
            admit(plain(Some(&sdp)), away),
            Admission::Refuse { status: 486, why: "the agent is not available" }
        );
    }

    #[test]
    fn an_offer_we_cannot_answer_is_refused_with_488_at_once() {
        let g729 = offer("m=audio 4000 RTP/SAVPF 18", "a=rtpmap:18 G729/8000\r\n");
        assert!(matches!(admit(plain(Some(&g729)), ready()), Admission::Refuse { status: 488, .. }));
        let no_keys = b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n".to_vec();
        assert_eq!(
            admit(plain(Some(&no_keys)), ready()),
            Admission::Refuse { status: 488, why: "the offer has no DTLS-SRTP fingerprint" }
        );
        let video_only = offer("m=video 4000 UDP/TLS/RTP/SAVPF 96", "a=rtpmap:96 VP8/90000\r\n");
        assert!(matches!(admit(plain(Some(&video_only)), ready()), Admission::Refuse { status: 488, .. }));
        let refused_audio = offer("m=audio 0 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2\r\n");
        assert!(matches!(admit(plain(Some(&refused_audio)), ready()), Admission::Refuse { status: 488, .. }));
        assert!(matches!(admit(plain(Some(b"\xff\xfe")), ready()), Admission::Refuse { status: 488, .. }));
    }

    #[test]
    fn static_g711_payload_types_count_without_an_rtpmap() {
        let pcmu = offer("m=audio 4000 UDP/TLS/RTP/SAVPF 0 101", "");
        assert_eq!(answerable(&pcmu, ALL), Ok(()));
        assert_eq!(answerable(&pcmu, &[AudioCodec::Opus]), Err("the offer has no codec in common"));
    }

    #[test]
    fn an_unanswerable_offer_is_refused_even_while_the_agent_is_away() {
        let g729 = offer("m=audio 4000 RTP/SAVPF 18", "a=rtpmap:18 G729/8000\r\n");
        let away = Desk { ready: false, ..ready() };
        assert!(matches!(admit(plain(Some(&g729)), away), Admission::Refuse { status: 488, .. }));
    }

    #[test]
    fn a_call_that_replaces_ours_is_taken_whatever_the_agent_state() {
        let sdp = opus();
        let busy = Desk { ready: false, calls: 2, ..ready() };
        let offered = Offered { replaces_ours: true, auto_answer: false, sdp: Some(&sdp) };
        assert_eq!(admit(offered, busy), Admission::Replace);
    }

    #[test]
    fn call_waiting_rings_quietly_or_refuses_per_configuration() {
        let sdp = opus();
        let on_call = |call_waiting, acd| Desk { calls: 1, call_waiting, acd, ..ready() };
        assert_eq!(admit(plain(Some(&sdp)), on_call(CallWaiting::Ring, AcdKind::None)), Admission::RingQuietly);
        assert!(matches!(
            admit(plain(Some(&sdp)), on_call(CallWaiting::Refuse, AcdKind::Pidf)),
            Admission::Refuse { status: 486, .. }
        ));
        assert_eq!(
            admit(plain(Some(&sdp)), on_call(CallWaiting::Auto, AcdKind::Pidf)),
            Admission::RingQuietly,
            "an ACD that sends a second call means it"
        );
        assert!(
            matches!(admit(plain(Some(&sdp)), on_call(CallWaiting::Auto, AcdKind::None)), Admission::Refuse { .. }),
            "a plain PBX offers every call"
        );
    }

    #[test]
    fn auto_answer_applies_only_to_a_first_call() {
        let sdp = opus();
        let offered = Offered { replaces_ours: false, auto_answer: true, sdp: Some(&sdp) };
        assert_eq!(admit(offered, ready()), Admission::AutoAnswer);
        let on_call = Desk { calls: 1, call_waiting: CallWaiting::Ring, ..ready() };
        assert_eq!(admit(offered, on_call), Admission::RingQuietly, "never barge into a call in progress");
    }
}
