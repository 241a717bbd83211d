//! The small parts of an SDP body read outside the transport: the media
//! direction (hold is `sendonly` / `inactive`), which the SIP side needs,
//! and where the far end anchors its media ([`Anchor`]), which tells an
//! ICE restart from a new media server. Everything else in the body
//! belongs to [`crate::session`].

/// Media direction of the audio stream, as SDP attributes state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Direction {
    /// `a=sendrecv`: an active call.
    #[default]
    SendRecv,
    /// `a=sendonly`: we put the other side on hold.
    SendOnly,
    /// `a=recvonly`: the other side put us on hold.
    RecvOnly,
    /// `a=inactive`: both on hold.
    Inactive,
}

impl Direction {
    /// The attribute value (`sendrecv`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// What the other side's answer should say to ours.
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether media flows from us in this direction.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether media flows to us in this direction.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction that sends and receives as the flags say.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Our answer's direction (RFC 3264 6.1): what we want, limited by what
    /// the offer allows (`offered` as the far end wrote it).
    pub fn answer_to(self, offered: Direction) -> Self {
        let allowed = offered.reversed();
        Self::from_flags(self.sends() && allowed.sends(), self.receives() && allowed.receives())
    }

    /// The direction of the first audio section of an SDP body (RFC 4566:
    /// a media-level attribute overrides the session level; none means
    /// `sendrecv`). Never fails: a body we cannot read counts as `sendrecv`.
    pub fn of_sdp(sdp: &str) -> Self {
        let mut session = None;
        let mut in_audio = false;
        let mut seen_media = false;
        for line in sdp.lines().map(str::trim) {
            if let Some(m) = line.strip_prefix("m=") {
                if seen_media && in_audio {
                    break;
                }
                seen_media = true;
                in_audio = m.starts_with("audio");
                continue;
            }
            let dir = match line {
                "a=sendrecv" => Direction::SendRecv,
                "a=sendonly" => Direction::SendOnly,
                "a=recvonly" => Direction::RecvOnly,
                "a=inactive" => Direction::Inactive,
                _ => continue,
            };
            if !seen_media {
                session = Some(dir);
            } else if in_audio {
                return dir;
            }
        }
        session.unwrap_or_default()
    }
}

/// Where an SDP body anchors its media: ICE credentials and DTLS
/// fingerprint, at session level or in the first audio section. An SBC
/// that moves a call to another media server (re-anchoring) sends new ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Anchor {
    /// `a=ice-ufrag`.
    pub ice_ufrag: Option<String>,
    /// `a=ice-pwd`.
    pub ice_pwd: Option<String>,
    /// `a=fingerprint` as `hash VALUE`, the value upper-cased (hex digits
    /// compare case-insensitively, RFC 8122).
    pub fingerprint: Option<String>,
}

impl Anchor {
    /// The anchor of `sdp`; missing attributes stay `None`.
    pub fn of_sdp(sdp: &str) -> Self {
        let mut anchor = Anchor::default();
        let mut in_audio = true; // session level counts as well
        let mut seen_audio = false;
        for line in sdp.lines().map(str::trim) {
            if let Some(m) = line.strip_prefix("m=") {
                if seen_audio {
                    break;
                }
                in_audio = m.starts_with("audio");
                seen_audio = in_audio;
                continue;
            }
            if !in_audio {
                continue;
            }
            if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
                anchor.ice_ufrag.get_or_insert_with(|| v.to_owned());
            } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
                anchor.ice_pwd.get_or_insert_with(|| v.to_owned());
            } else if let Some((hash, value)) = line.strip_prefix("a=fingerprint:").and_then(|v| v.split_once(' ')) {
                anchor.fingerprint.get_or_insert_with(|| {
                    format!("{} {}", hash.to_ascii_lowercase(), value.trim().to_ascii_uppercase())
                });
            }
        }
        anchor
    }

    /// Whether `next` (a re-offer) comes from another DTLS endpoint than
    /// `self`: a new media server, so the transport must be rebuilt.
    pub fn moved_to(&self, next: &Anchor) -> bool {
        matches!((&self.fingerprint, &next.fingerprint), (Some(a), Some(b)) if a != b)
    }

    /// Whether `next` carries new ICE credentials (an ICE restart, or a new
    /// media server).
    pub fn ice_restarted(&self, next: &Anchor) -> bool {
        (self.ice_ufrag.is_some() || self.ice_pwd.is_some())
            && (self.ice_ufrag != next.ice_ufrag || self.ice_pwd != next.ice_pwd)
    }
}

/// The telephone-event formats `(payload type, clock rate)` of the first
/// audio section, in m-line order.
pub fn telephone_events(sdp: &str) -> Vec<(u8, u32)> {
    let mut out = Vec::new();
    let mut in_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if in_audio {
                break;
            }
            in_audio = m.starts_with("audio");
        } else if in_audio
            && let Some((pt, codec)) = line.strip_prefix("a=rtpmap:").and_then(|r| r.split_once(' '))
            && let Some(rate) = codec.to_ascii_lowercase().strip_prefix("telephone-event/")
            && let (Ok(pt), Ok(rate)) = (pt.parse(), rate.split('/').next().unwrap_or_default().parse())
        {
            out.push((pt, rate));
        }
    }
    out
}

/// `sdp` without the payload types `pts` in its first audio section: gone
/// from the m-line and their `rtpmap`, `fmtp` and `rtcp-fb` lines dropped.
/// Line endings become CRLF.
pub fn without_payload_types(sdp: &str, pts: &[u8]) -> String {
    let names: Vec<String> = pts.iter().map(u8::to_string).collect();
    let is_named = |pt: &str| names.iter().any(|n| n == pt);
    let mut out = String::with_capacity(sdp.len());
    let (mut in_audio, mut done) = (false, false);
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            done |= in_audio;
            in_audio = !done && m.starts_with("audio");
            if in_audio {
                let kept: Vec<&str> =
                    m.split(' ').enumerate().filter(|(i, f)| *i < 3 || !is_named(f)).map(|(_, f)| f).collect();
                out.push_str(&format!("m={}\r\n", kept.join(" ")));
                continue;
            }
        }
        let attribute_pt = ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .and_then(|r| r.split([' ', ':']).next());
        if in_audio && attribute_pt.is_some_and(is_named) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// `sdp` with the telephone-event on payload type `pt` relabelled to clock
/// `rate` (the wire format does not change with the label).
pub fn with_event_rate(sdp: &str, pt: u8, rate: u32) -> String {
    let prefix = format!("a=rtpmap:{pt} ");
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with(&prefix) && line.to_ascii_lowercase().contains("telephone-event/") {
            out.push_str(&format!("{prefix}telephone-event/{rate}"));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

/// `sdp` with telephone-event/8000 on payload type `pt` added to its first
/// audio section: last on the m-line, its attributes after the section's
/// last format line. Line endings become CRLF.
pub fn with_telephone_event_8k(sdp: &str, pt: u8) -> String {
    let mut lines: Vec<String> = sdp.lines().map(|l| l.trim_end().to_owned()).collect();
    let Some(m) = lines.iter().position(|l| l.starts_with("m=audio")) else { return sdp.to_owned() };
    let end = lines[m + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |i| m + 1 + i);
    let is_format = |l: &String| ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|p| l.starts_with(p));
    let at = lines[m + 1..end].iter().rposition(is_format).map_or(end, |i| m + 2 + i);
    lines[m].push_str(&format!(" {pt}"));
    lines.splice(at..at, [format!("a=rtpmap:{pt} telephone-event/8000"), format!("a=fmtp:{pt} 0-16")]);
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

/// `sdp` with the first audio section's placeholder address (`m=audio 9`,
/// `c=IN IP4 0.0.0.0`, what a WebRTC stack writes before gathering) replaced
/// by its default candidate (RFC 8839 4.2.1.2, JSEP 5.2.1): relayed first,
/// then server reflexive, then host, component 1 over UDP, the highest
/// priority within a type. A far end that ignores ICE (many SBCs and media
/// relays) sends to this address, and to one of them `0.0.0.0` means hold
/// (RFC 3264 8.4). A section with a real address, a rejected one (port 0)
/// or one without candidates is left as it is. Line endings become CRLF.
pub fn with_default_candidate(sdp: &str) -> String {
    let lines: Vec<&str> = sdp.lines().map(str::trim_end).collect();
    let Some(m) = lines.iter().position(|l| l.starts_with("m=audio")) else { return sdp.to_owned() };
    let end = lines[m + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |i| m + 1 + i);
    let section = &lines[m + 1..end];
    let placeholder_port = lines[m].split(' ').nth(1) == Some("9");
    let placeholder_addr = |l: &&str| *l == "c=IN IP4 0.0.0.0" || *l == "c=IN IP6 ::";
    if !placeholder_port || !section.iter().any(placeholder_addr) {
        return sdp.to_owned();
    }
    let rank = |kind: &str| match kind {
        "relay" => 3,
        "srflx" => 2,
        "prflx" => 1,
        _ => 0,
    };
    let best = section
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.strip_prefix("a=candidate:")?.split(' ').collect();
            let (component, transport, priority, addr, port) = (f.get(1)?, f.get(2)?, f.get(3)?, f.get(4)?, f.get(5)?);
            let kind = f.iter().position(|x| *x == "typ").and_then(|i| f.get(i + 1)).copied().unwrap_or("host");
            let usable =
                *component == "1" && transport.eq_ignore_ascii_case("udp") && addr.parse::<std::net::IpAddr>().is_ok();
            usable.then(|| (rank(kind), priority.parse::<u64>().unwrap_or(0), *addr, *port))
        })
        .max_by_key(|&(rank, priority, ..)| (rank, priority));
    let Some((_, _, addr, port)) = best else { return sdp.to_owned() };
    let family = if addr.contains(':') { "IP6" } else { "IP4" };
    let mut out = String::with_capacity(sdp.len() + 16);
    for (i, line) in lines.iter().enumerate() {
        if i == m {
            let mut fields: Vec<&str> = line.split(' ').collect();
            fields[1] = port;
            out.push_str(&fields.join(" "));
        } else if i > m && i < end && placeholder_addr(line) {
            out.push_str(&format!("c=IN {family} {addr}"));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

/// An offer without a BUNDLE group (RFC 8843), as SBCs and media relays
/// write them, with one for its audio section's `a=mid` added at session
/// level; `None` when the offer has a group already or no `mid` to name.
/// webrtc 0.21 answers a section outside the offer's BUNDLE group with
/// port 0 (rejected), so the transport is shown the grouped offer and the
/// answer goes out without the group again ([`without_bundle_group`]): an
/// answer must not group what the offer did not (RFC 8843 7.3).
pub fn with_bundle_group(offer: &str) -> Option<String> {
    let lines: Vec<&str> = offer.lines().map(str::trim_end).collect();
    if lines.iter().any(|l| l.starts_with("a=group:BUNDLE")) {
        return None;
    }
    let m = lines.iter().position(|l| l.starts_with("m=audio"))?;
    let end = lines[m + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |i| m + 1 + i);
    let mid = lines[m + 1..end].iter().find_map(|l| l.strip_prefix("a=mid:"))?.trim();
    let first_media = lines.iter().position(|l| l.starts_with("m="))?;
    let mut out = String::with_capacity(offer.len() + 24);
    for (i, line) in lines.iter().enumerate() {
        if i == first_media {
            out.push_str(&format!("a=group:BUNDLE {mid}\r\n"));
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    Some(out)
}

/// `sdp` without its `a=group:BUNDLE` lines. Line endings become CRLF.
pub fn without_bundle_group(sdp: &str) -> String {
    sdp.lines().map(str::trim_end).filter(|l| !l.starts_with("a=group:BUNDLE")).map(|l| format!("{l}\r\n")).collect()
}

/// `sdp` without the RTCP candidates (component 2) of media sections that
/// multiplex RTCP with RTP (`a=rtcp-mux`, RFC 5761 and RFC 8858): webrtc
/// 0.21 writes every candidate twice, once per component, and a far end
/// that reads them would pair and check a component that never carries
/// anything. Line endings become CRLF.
pub fn without_rtcp_candidates(sdp: &str) -> String {
    let lines: Vec<&str> = sdp.lines().map(str::trim_end).collect();
    let mut out = String::with_capacity(sdp.len());
    let mut start = 0;
    while start < lines.len() {
        let end = lines[start + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |i| start + 1 + i);
        let section = &lines[start..end];
        let muxed = section.contains(&"a=rtcp-mux");
        for line in section {
            let component = line.strip_prefix("a=candidate:").and_then(|c| c.split(' ').nth(1));
            if muxed && component == Some("2") {
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        start = end;
    }
    out
}

/// The address to name in the `o=` line (RFC 4566 5.2, RFC 8866 5.2): the
/// machine's own, from its candidates. A host candidate on a real interface
/// first (highest priority), then the server reflexive one (our address
/// as the internet sees it), then a loopback host candidate (the lab).
/// Relayed candidates are the TURN server's, never ours.
pub fn origin_address(sdp: &str) -> Option<std::net::IpAddr> {
    sdp.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().strip_prefix("a=candidate:")?.split(' ').collect();
            let (component, priority, addr) = (f.get(1)?, f.get(3)?, f.get(4)?.parse::<std::net::IpAddr>().ok()?);
            let kind = f.iter().position(|x| *x == "typ").and_then(|i| f.get(i + 1)).copied().unwrap_or("host");
            let rank = match kind {
                "host" if !addr.is_loopback() && !addr.is_unspecified() => 3,
                "srflx" => 2,
                "host" if addr.is_loopback() => 1,
                _ => return None,
            };
            (*component == "1").then(|| (rank, priority.parse::<u64>().unwrap_or(0), addr))
        })
        .max_by_key(|&(rank, priority, _)| (rank, priority))
        .map(|(.., addr)| addr)
}

/// `sdp` with `addr` in its `o=` line where that holds a placeholder
/// (`0.0.0.0`, `::`, or `127.0.0.1` when `addr` is not loopback): webrtc
/// 0.21 always writes `IN IP4 0.0.0.0`, which some SBCs log and a few
/// read as "no address". Line endings become CRLF.
pub fn with_origin_address(sdp: &str, addr: std::net::IpAddr) -> String {
    let family = if addr.is_ipv4() { "IP4" } else { "IP6" };
    let mut out = String::with_capacity(sdp.len() + 16);
    for line in sdp.lines().map(str::trim_end) {
        let fields: Vec<&str> = line.split(' ').collect();
        let placeholder = |a: &str| {
            a.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_unspecified() || (a.is_loopback() && !addr.is_loopback()))
        };
        if line.starts_with("o=") && fields.len() == 6 && placeholder(fields[5]) {
            out.push_str(&format!("{} {} {} {} {family} {addr}", fields[0], fields[1], fields[2], fields[3]));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

/// Our answer with the DTLS role it really takes (RFC 5763 5, RFC 8842):
/// webrtc 0.21 writes `a=setup:active` in every answer, but takes the
/// opposite of an explicit role in the offer, so to an offer that says
/// `active` (some SBCs in re-offers) it is the DTLS server and must say
/// `passive`, or both ends wait for the other's ClientHello. Other offers
/// (`actpass`, `passive`, none) leave the answer as it is. Line endings
/// become CRLF.
pub fn with_answer_setup(answer: &str, offer: &str) -> String {
    let offered = offer.lines().map(str::trim).find_map(|l| l.strip_prefix("a=setup:"));
    let ours = match offered {
        Some("active") => "passive",
        Some("passive") => "active",
        _ => return answer.to_owned(),
    };
    answer
        .lines()
        .map(str::trim_end)
        .map(|l| if l.starts_with("a=setup:") { format!("a=setup:{ours}\r\n") } else { format!("{l}\r\n") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbundled_offer_is_grouped_for_the_transport_and_the_answer_is_not() {
        let relay = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\n";
        let grouped = with_bundle_group(relay).expect("a group to add");
        assert!(grouped.contains("t=0 0\r\na=group:BUNDLE 0\r\nm=audio 4000"), "{grouped}");
        assert_eq!(with_bundle_group(&grouped), None, "a grouped offer stays as it is");
        assert_eq!(with_bundle_group("v=0\r\nm=audio 4000 RTP/AVP 0\r\n"), None, "no mid to name");
        assert_eq!(without_bundle_group(&grouped), relay);
    }

    #[test]
    fn the_default_candidate_replaces_the_placeholder_address() {
        let gathered = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
                        a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n\
                        a=candidate:1 2 udp 2130706431 127.0.0.1 50000 typ host\r\n\
                        a=candidate:2 1 udp 1694498815 198.51.100.7 61000 typ srflx raddr 0.0.0.0 rport 0\r\n\
                        a=candidate:3 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active\r\n";
        let out = with_default_candidate(gathered);
        assert!(out.contains("m=audio 61000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 198.51.100.7\r\n"), "{out}");

        let relayed =
            format!("{gathered}a=candidate:4 1 udp 16777215 203.0.113.9 3478 typ relay raddr 1.2.3.4 rport 5\r\n");
        assert!(with_default_candidate(&relayed).contains("m=audio 3478 "), "a relay is the likeliest to work");
        let v6 = "m=audio 9 RTP/SAVPF 0\r\nc=IN IP6 ::\r\na=candidate:1 1 UDP 99 ::1 4000 typ host\r\n";
        assert!(with_default_candidate(v6).contains("m=audio 4000 RTP/SAVPF 0\r\nc=IN IP6 ::1\r\n"));
    }

    #[test]
    fn a_real_address_a_rejected_section_or_no_candidate_is_left_alone() {
        let real = "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\na=candidate:1 1 udp 9 127.0.0.1 5 typ host\r\n";
        assert_eq!(with_default_candidate(real), real);
        let rejected = "m=audio 0 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 9 127.0.0.1 5 typ host\r\n";
        assert_eq!(with_default_candidate(rejected), rejected);
        let none = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n";
        assert_eq!(with_default_candidate(none), none);
        let garbage =
            "m=audio 9 X\r\nc=IN IP4 0.0.0.0\r\na=candidate:\r\na=candidate:1 1 udp x not-an-ip 5 typ host\r\n";
        assert_eq!(with_default_candidate(garbage), garbage);
    }

    const OFFER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 101\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
                         a=fmtp:111 minptime=10\r\na=rtcp-fb:111 transport-cc\r\na=rtpmap:0 PCMU/8000\r\n\
                         a=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

    #[test]
    fn telephone_event_8k_is_added_beside_48k_and_can_be_taken_out_again() {
        let both = with_telephone_event_8k(OFFER, 126);
        assert!(both.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111 0 101 126\r\n"), "{both}");
        assert!(
            both.contains("a=fmtp:101 0-16\r\na=rtpmap:126 telephone-event/8000\r\na=fmtp:126 0-16\r\na=sendrecv"),
            "{both}"
        );
        assert_eq!(telephone_events(&both), vec![(101, 48_000), (126, 8_000)]);
        let back = without_payload_types(&both, &[126]);
        assert_eq!(back, OFFER);
        let relabelled = with_event_rate(&both, 126, 48_000);
        assert_eq!(telephone_events(&relabelled), vec![(101, 48_000), (126, 48_000)]);
        let no_opus = without_payload_types(OFFER, &[111]);
        assert!(
            no_opus.starts_with("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\na=mid:0\r\na=rtpmap:0 PCMU"),
            "{no_opus}"
        );
        assert!(!no_opus.contains("111"), "{no_opus}");
    }

    #[test]
    fn only_the_audio_section_is_touched() {
        let sdp = "v=0\r\nm=audio 9 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\nm=video 9 RTP/AVP 101\r\na=rtpmap:101 VP8/90000\r\n";
        assert_eq!(telephone_events(sdp), vec![(101, 8_000)]);
        let stripped = without_payload_types(sdp, &[101]);
        assert_eq!(stripped, "v=0\r\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 101\r\na=rtpmap:101 VP8/90000\r\n");
        assert_eq!(telephone_events("garbage"), vec![]);
    }

    #[test]
    fn anchors_compare_fingerprints_and_ice_credentials() {
        let a = Anchor::of_sdp(
            "v=0\r\na=fingerprint:SHA-256 ab:cd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:u1\r\na=ice-pwd:p1\r\n",
        );
        assert_eq!(a.fingerprint.as_deref(), Some("sha-256 AB:CD"));
        assert_eq!((a.ice_ufrag.as_deref(), a.ice_pwd.as_deref()), (Some("u1"), Some("p1")));
        let same_server =
            Anchor::of_sdp("m=audio 9 X 0\r\na=ice-ufrag:u2\r\na=ice-pwd:p2\r\na=fingerprint:sha-256 AB:CD\r\n");
        assert!(a.ice_restarted(&same_server) && !a.moved_to(&same_server), "an ICE restart, same DTLS peer");
        let new_server = Anchor { fingerprint: Some("sha-256 EF:01".into()), ..same_server.clone() };
        assert!(a.moved_to(&new_server));
        assert!(!a.ice_restarted(&a) && !a.moved_to(&a));
        let plain = Anchor::of_sdp("v=0\r\nm=audio 4000 RTP/AVP 0\r\n");
        assert!(!plain.moved_to(&a) && !plain.ice_restarted(&a), "plain RTP has no anchor to compare");
        let video_first = Anchor::of_sdp("m=video 9 X 96\r\na=ice-ufrag:v\r\nm=audio 9 X 0\r\na=ice-ufrag:a\r\n");
        assert_eq!(video_first.ice_ufrag.as_deref(), Some("a"), "the audio section's own");
    }

    #[test]
    fn media_level_overrides_session_level() {
        let sdp = "v=0\r\na=inactive\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\n";
        assert_eq!(Direction::of_sdp(sdp), Direction::SendOnly);
        assert_eq!(Direction::of_sdp("v=0\r\na=recvonly\r\nm=audio 9 RTP/AVP 0\r\n"), Direction::RecvOnly);
        assert_eq!(Direction::of_sdp("v=0\r\nm=audio 9 RTP/AVP 0\r\n"), Direction::SendRecv);
        assert_eq!(Direction::of_sdp("garbage"), Direction::SendRecv);
    }

    #[test]
    fn only_the_audio_section_counts() {
        let sdp = "v=0\r\nm=video 9 RTP/AVP 96\r\na=inactive\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n";
        assert_eq!(Direction::of_sdp(sdp), Direction::SendOnly);
    }

    #[test]
    fn answers_never_exceed_the_offer() {
        use Direction::*;
        assert_eq!(SendRecv.answer_to(SendOnly), RecvOnly);
        assert_eq!(SendRecv.answer_to(Inactive), Inactive);
        assert_eq!(SendOnly.answer_to(SendOnly), Inactive, "both on hold");
        assert_eq!(SendRecv.answer_to(SendRecv), SendRecv);
        assert_eq!(RecvOnly.answer_to(SendRecv), RecvOnly);
    }

    #[test]
    fn hold_answers_mirror_offers() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
        assert_eq!(Direction::SendOnly.as_str(), "sendonly");
    }

    const GATHERED: &str = "v=0\r\no=- 4611 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
                            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtcp-mux\r\n\
                            a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n\
                            a=candidate:1 2 udp 2130706431 127.0.0.1 50000 typ host\r\n\
                            a=candidate:2 1 udp 2130706175 192.168.1.20 50002 typ host\r\n\
                            a=candidate:2 2 udp 2130706175 192.168.1.20 50002 typ host\r\n\
                            a=candidate:3 1 udp 1694498815 198.51.100.7 61000 typ srflx raddr 0.0.0.0 rport 0\r\n\
                            a=candidate:4 1 udp 16777215 203.0.113.9 3478 typ relay raddr 1.2.3.4 rport 5\r\n\
                            a=end-of-candidates\r\n";

    #[test]
    fn rtcp_mux_sections_carry_one_candidate_per_address() {
        let out = without_rtcp_candidates(GATHERED);
        let candidates: Vec<&str> = out.lines().filter(|l| l.starts_with("a=candidate:")).collect();
        assert_eq!(candidates.len(), 4, "{out}");
        assert!(candidates.iter().all(|c| c.split(' ').nth(1) == Some("1")), "component 1 only: {out}");
        assert!(out.contains("a=end-of-candidates\r\n"));
        let unmuxed = "m=audio 4000 RTP/AVP 0\r\na=candidate:1 1 udp 9 192.0.2.1 4000 typ host\r\n\
                       a=candidate:1 2 udp 9 192.0.2.1 4001 typ host\r\n";
        assert_eq!(without_rtcp_candidates(unmuxed), unmuxed, "without rtcp-mux, RTCP needs its candidates");
    }

    #[test]
    fn the_origin_names_our_host_address_not_a_placeholder() {
        let addr = origin_address(GATHERED).expect("an address");
        assert_eq!(addr.to_string(), "192.168.1.20", "a real interface before loopback, srflx or relay");
        let out = with_origin_address(GATHERED, addr);
        assert!(out.starts_with("v=0\r\no=- 4611 2 IN IP4 192.168.1.20\r\ns=-"), "{out}");
        assert!(out.contains("c=IN IP4 0.0.0.0"), "only the origin: the default candidate has its own rule");

        let lab = "o=- 1 1 IN IP4 0.0.0.0\r\na=candidate:1 1 udp 9 127.0.0.1 5000 typ host\r\n";
        let loopback = origin_address(lab).expect("loopback");
        assert!(with_origin_address(lab, loopback).starts_with("o=- 1 1 IN IP4 127.0.0.1\r\n"));
        let nat = "a=candidate:1 1 udp 9 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 5 198.51.100.7 6 typ srflx\r\n";
        assert_eq!(origin_address(nat).map(|a| a.to_string()).as_deref(), Some("198.51.100.7"));
        assert_eq!(origin_address("a=candidate:4 1 udp 1 203.0.113.9 3478 typ relay\r\n"), None, "not ours");

        let v6 = with_origin_address("o=- 1 1 IN IP4 127.0.0.1\r\n", "2001:db8::5".parse().expect("v6"));
        assert_eq!(v6, "o=- 1 1 IN IP6 2001:db8::5\r\n");
        let real = "o=- 1 1 IN IP4 192.0.2.1\r\n";
        assert_eq!(with_origin_address(real, addr), real, "a real address stays");
    }

    #[test]
    fn the_answer_states_the_dtls_role_we_take() {
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:active\r\n";
        let offer = |setup: &str| format!("v=0\r\nm=audio 4000 UDP/TLS/RTP/SAVPF 111\r\na=setup:{setup}\r\n");
        assert!(with_answer_setup(answer, &offer("active")).contains("a=setup:passive\r\n"), "the offerer is client");
        assert_eq!(with_answer_setup(answer, &offer("actpass")), answer, "we answer active (RFC 5763 recommends)");
        assert_eq!(with_answer_setup(answer, &offer("passive")), answer);
        assert_eq!(with_answer_setup(answer, "v=0\r\nm=audio 4000 RTP/SAVPF 0\r\n"), answer);
    }
}
