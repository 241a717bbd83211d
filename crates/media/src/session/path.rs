//! Which ICE candidate pair carries the media, read from the transport's
//! statistics: the relay-only interop test asserts on it, and the UI can say
//! "relayed" when a call goes through TURN.

use webrtc::peer_connection::{RTCStatsReport, RTCStatsReportEntry};

/// How an ICE candidate was obtained (RFC 8445 section 5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// Our address as a STUN server saw it.
    ServerReflexive,
    /// An address learned from a connectivity check.
    PeerReflexive,
    /// An address on a TURN relay.
    Relay,
    /// The transport did not say.
    Unknown,
}

impl CandidateKind {
    fn of(t: rtc::peer_connection::transport::RTCIceCandidateType) -> Self {
        use rtc::peer_connection::transport::RTCIceCandidateType as T;
        match t {
            T::Host => CandidateKind::Host,
            T::Srflx => CandidateKind::ServerReflexive,
            T::Prflx => CandidateKind::PeerReflexive,
            T::Relay => CandidateKind::Relay,
            _ => CandidateKind::Unknown,
        }
    }
}

/// The candidate pair ICE selected for the media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedPath {
    /// Our side of the pair.
    pub local: CandidateKind,
    /// Our candidate's `address:port`.
    pub local_address: String,
    /// The far end's side with its `address:port`, when the transport
    /// reports it: webrtc 0.21 keeps statistics only for remote candidates
    /// that arrive by trickle, not for those in the SDP body (the far end
    /// reports its own side as its `local`).
    pub remote: Option<(CandidateKind, String)>,
}

/// The selected pair of a statistics report: the transport names it; when
/// it does not (yet), a nominated pair stands in.
pub(crate) fn selected_path(report: &RTCStatsReport) -> Option<SelectedPath> {
    let mut selected_id = None;
    let mut nominated_id = None;
    for entry in report.iter() {
        match entry {
            RTCStatsReportEntry::Transport(t) if !t.selected_candidate_pair_id.is_empty() => {
                selected_id = Some(t.selected_candidate_pair_id.clone());
            }
            RTCStatsReportEntry::IceCandidatePair(p) if p.nominated => nominated_id = Some(p.stats.id.clone()),
            _ => {}
        }
    }
    let pair_id = selected_id.or(nominated_id)?;
    let pair = report.iter().find_map(|e| match e {
        RTCStatsReportEntry::IceCandidatePair(p) if p.stats.id == pair_id => Some(p),
        _ => None,
    })?;
    // A candidate's statistics id is its ICE id with a prefix
    // (`RTCLocalIceCandidate_candidate:...`).
    let candidate = |id: &str, local: bool| {
        report.iter().find_map(|e| match e {
            RTCStatsReportEntry::LocalCandidate(c) if local && c.stats.id.ends_with(id) => Some(c),
            RTCStatsReportEntry::RemoteCandidate(c) if !local && c.stats.id.ends_with(id) => Some(c),
            _ => None,
        })
    };
    let address = |c: &rtc::statistics::stats::ice_candidate::RTCIceCandidateStats| {
        format!("{}:{}", c.address.as_deref().unwrap_or("?"), c.port)
    };
    let local = candidate(&pair.local_candidate_id, true)?;
    let remote = candidate(&pair.remote_candidate_id, false);
    Some(SelectedPath {
        local: CandidateKind::of(local.candidate_type),
        local_address: address(local),
        remote: remote.map(|r| (CandidateKind::of(r.candidate_type), address(r))),
    })
}
