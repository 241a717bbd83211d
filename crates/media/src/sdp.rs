//! The small part of an SDP body the SIP side needs to see: the media
//! direction (hold is `sendonly` / `inactive`). Everything else in the body
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
