//! Offer/answer state (RFC 3264 with the SIP rules of RFC 3261 13.2.1,
//! RFC 3262, RFC 3311 and RFC 6337).
//!
//! The SDP itself belongs to the media crate and passes through as opaque
//! bytes. What signalling needs is which side owes the other an answer, so
//! that a second offer is refused while one is pending (491 when ours
//! crossed theirs, 500 with Retry-After when theirs is still unanswered),
//! and the direction attribute, which says whether a side holds the call.

/// Which message carried an offer; it decides where the answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// INVITE or re-INVITE: answered in a reliable 1xx or the 2xx.
    Invite,
    /// A 2xx to an INVITE without SDP: answered in the ACK.
    Success,
    /// UPDATE: answered in its 2xx.
    Update,
}

/// Where a dialog's offer/answer exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Negotiation {
    /// No offer outstanding; a new one may be made.
    Stable,
    /// We made an offer and wait for the answer.
    LocalOffer(Carrier),
    /// The far end made an offer and waits for ours.
    RemoteOffer(Carrier),
}

/// Why an offer cannot be taken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Our own offer is outstanding: the offers crossed (glare), 491.
    Glare,
    /// Their earlier offer still waits for our answer: 500 with
    /// Retry-After (RFC 3261 14.2, RFC 3311 5.2).
    Pending,
}

impl Refusal {
    /// The status to refuse the request carrying the offer with.
    pub(crate) fn status(self) -> u16 {
        match self {
            Refusal::Glare => 491,
            Refusal::Pending => 500,
        }
    }
}

/// One dialog's offer/answer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OfferAnswer {
    state: Negotiation,
    /// Completed exchanges; the first one sets the session up.
    completed: u32,
}

impl Default for OfferAnswer {
    fn default() -> Self {
        Self { state: Negotiation::Stable, completed: 0 }
    }
}

impl OfferAnswer {
    pub(crate) fn state(&self) -> Negotiation {
        self.state
    }

    /// Whether a session has been negotiated at least once.
    pub(crate) fn is_established(&self) -> bool {
        self.completed > 0
    }

    /// Whether we may make an offer now.
    pub(crate) fn can_offer(&self) -> Result<(), Refusal> {
        match self.state {
            Negotiation::Stable => Ok(()),
            Negotiation::LocalOffer(_) => Err(Refusal::Glare),
            Negotiation::RemoteOffer(_) => Err(Refusal::Pending),
        }
    }

    /// We send an offer in `carrier`.
    pub(crate) fn local_offer(&mut self, carrier: Carrier) -> Result<(), Refusal> {
        self.can_offer()?;
        self.state = Negotiation::LocalOffer(carrier);
        Ok(())
    }

    /// An offer arrived in `carrier`. Refused while either side's offer is
    /// pending: ours means the offers crossed.
    pub(crate) fn remote_offer(&mut self, carrier: Carrier) -> Result<(), Refusal> {
        self.can_offer()?;
        self.state = Negotiation::RemoteOffer(carrier);
        Ok(())
    }

    /// We answer the pending remote offer; returns the carrier it came in.
    pub(crate) fn local_answer(&mut self) -> Option<Carrier> {
        let Negotiation::RemoteOffer(carrier) = self.state else { return None };
        self.state = Negotiation::Stable;
        self.completed += 1;
        Some(carrier)
    }

    /// The answer to our pending offer arrived.
    pub(crate) fn remote_answer(&mut self) -> Option<Carrier> {
        let Negotiation::LocalOffer(carrier) = self.state else { return None };
        self.state = Negotiation::Stable;
        self.completed += 1;
        Some(carrier)
    }

    /// Our offer was refused (a non-2xx to its request): the session stays
    /// as the last exchange left it (RFC 6337 3.3).
    pub(crate) fn withdraw_local(&mut self) {
        if matches!(self.state, Negotiation::LocalOffer(_)) {
            self.state = Negotiation::Stable;
        }
    }

    /// We refused their offer (a non-2xx to its request).
    pub(crate) fn reject_remote(&mut self) {
        if matches!(self.state, Negotiation::RemoteOffer(_)) {
            self.state = Negotiation::Stable;
        }
    }
}

/// A media direction attribute (RFC 3264 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaDirection {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    /// Whether the side that wrote this holds the call: it will not
    /// receive (sendonly) or neither sends nor receives (inactive).
    pub(crate) fn is_hold(self) -> bool {
        matches!(self, MediaDirection::SendOnly | MediaDirection::Inactive)
    }
}

/// The direction of the first media stream (its own attribute, else the
/// session-level one, else sendrecv). A `c=` address of 0.0.0.0 is the RFC
/// 2543 way to hold and counts as inactive, except with ICE: there it is the
/// placeholder every WebRTC offer carries (RFC 8839 4.2.1.1; port 9, the
/// real addresses in `a=candidate`), not hold. Nothing else of the SDP is read.
pub(crate) fn direction(sdp: &[u8]) -> MediaDirection {
    let text = String::from_utf8_lossy(sdp);
    let (mut session, mut media, mut in_media, mut seen_media) = (None, None, false, false);
    let (mut zero_address, mut ice) = (false, false);
    for line in text.lines().map(str::trim) {
        if line.starts_with("a=ice-ufrag:") || line.starts_with("a=candidate:") {
            ice = true;
        }
        if line.starts_with("m=") {
            if seen_media {
                break; // only the first stream: audio, for a softphone
            }
            seen_media = true;
            in_media = true;
            continue;
        }
        if line.starts_with("c=") && line.split_whitespace().nth(2) == Some("0.0.0.0") {
            zero_address = true;
        }
        let d = match line {
            "a=sendrecv" => MediaDirection::SendRecv,
            "a=sendonly" => MediaDirection::SendOnly,
            "a=recvonly" => MediaDirection::RecvOnly,
            "a=inactive" => MediaDirection::Inactive,
            _ => continue,
        };
        if in_media { media = Some(d) } else { session = Some(d) }
    }
    if zero_address && !ice {
        return MediaDirection::Inactive;
    }
    media.or(session).unwrap_or(MediaDirection::SendRecv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_answer_exchange_returns_to_stable() {
        let mut oa = OfferAnswer::default();
        assert!(!oa.is_established());
        oa.local_offer(Carrier::Invite).expect("stable");
        assert_eq!(oa.state(), Negotiation::LocalOffer(Carrier::Invite));
        assert_eq!(oa.remote_answer(), Some(Carrier::Invite));
        assert!(oa.is_established() && oa.state() == Negotiation::Stable);
        assert_eq!(oa.remote_answer(), None, "no offer, no answer");
    }

    #[test]
    fn crossing_offers_are_glare_and_an_unanswered_one_is_pending() {
        let mut oa = OfferAnswer::default();
        oa.local_offer(Carrier::Invite).expect("stable");
        assert_eq!(oa.remote_offer(Carrier::Invite), Err(Refusal::Glare));
        assert_eq!(Refusal::Glare.status(), 491);
        oa.withdraw_local();
        oa.remote_offer(Carrier::Update).expect("stable again after our offer was refused");
        assert_eq!(oa.remote_offer(Carrier::Update), Err(Refusal::Pending), "a second UPDATE offer");
        assert_eq!(Refusal::Pending.status(), 500);
        assert_eq!(oa.local_offer(Carrier::Invite), Err(Refusal::Pending), "we may not offer either");
        assert_eq!(oa.local_answer(), Some(Carrier::Update));
        assert_eq!(oa.state(), Negotiation::Stable);
    }

    #[test]
    fn an_offer_in_a_2xx_is_answered_in_the_ack() {
        let mut oa = OfferAnswer::default();
        oa.remote_offer(Carrier::Success).expect("stable");
        assert_eq!(oa.local_answer(), Some(Carrier::Success));
        oa.reject_remote();
        assert_eq!(oa.state(), Negotiation::Stable);
    }

    #[test]
    fn direction_reads_media_then_session_level() {
        let sdp = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\n\
            m=audio 4000 RTP/AVP 0\r\na=inactive\r\nm=video 4002 RTP/AVP 96\r\na=recvonly\r\n";
        assert_eq!(direction(sdp), MediaDirection::Inactive, "media level wins, first stream only");
        let session_only = b"v=0\r\ns=-\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(direction(session_only), MediaDirection::SendOnly);
        assert_eq!(direction(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n"), MediaDirection::SendRecv);
        assert_eq!(direction(b"v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n"), MediaDirection::Inactive);
        assert!(MediaDirection::SendOnly.is_hold() && !MediaDirection::RecvOnly.is_hold());
        assert_eq!(direction(&[0xff, 0xfe]), MediaDirection::SendRecv, "bytes that are not text do no harm");
    }

    #[test]
    fn webrtc_offers_with_a_zero_address_are_not_hold() {
        // Every WebRTC offer says c=IN IP4 0.0.0.0 (port 9) with ICE; reading
        // it as RFC 2543 hold made each call start remote-held, so the far
        // end's real hold never showed as a change.
        let webrtc = b"v=0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
            a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\na=sendrecv\r\n";
        assert_eq!(direction(webrtc), MediaDirection::SendRecv);
        let held = String::from_utf8_lossy(webrtc).replace("a=sendrecv", "a=sendonly");
        assert_eq!(direction(held.as_bytes()), MediaDirection::SendOnly);
    }
}
