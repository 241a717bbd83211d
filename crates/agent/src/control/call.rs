//! A call's phase, as one enum: what the agent sees follows from it, and
//! so does which command fits the call.

use std::time::Instant;

use super::negotiation::Hold;
use crate::CallState;

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// An incoming call we will ring, waiting for its offer: nothing is
    /// shown yet, so an answer to what is shown can be carried out at once.
    Offered,
    /// Ringing here since `since`; `quietly` beside a call in progress.
    Ringing {
        /// Call waiting: a beep, not the ringtone.
        quietly: bool,
        /// When it started ringing.
        since: Instant,
    },
    /// The agent (or auto-answer) answered; our answer is on its way.
    Answering,
    /// Our INVITE is out.
    Dialling,
    /// The far end rings, or plays early media.
    Early {
        /// Early media (183 with SDP) rather than plain ringing.
        media: bool,
    },
    /// Talking.
    Connected(Talk),
    /// Hung up by us; the user agent has not said it ended yet.
    Ending,
}

/// A connected call: who holds whom, and whether its media is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Talk {
    /// Whether we hold it (or asked to: the button takes effect at once).
    pub hold: Hold,
    /// Whether the far end holds us.
    pub remote: Remote,
    /// Whether the media path is up.
    pub link: Link,
}

/// The far end's hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Remote {
    /// It talks.
    #[default]
    Talking,
    /// It holds us.
    Holding,
}

/// The media path of a connected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Link {
    /// Up.
    #[default]
    Up,
    /// Being restored (ICE restart after a network change, or the SIP
    /// flow reconnecting).
    Reconnecting,
}

impl Phase {
    /// The state the agent sees, where it has one.
    pub fn shown(&self) -> Option<CallState> {
        Some(match self {
            Phase::Offered | Phase::Answering | Phase::Ending => return None,
            Phase::Ringing { .. } => CallState::Ringing,
            Phase::Dialling => CallState::Dialing,
            Phase::Early { media: true } => CallState::Early,
            Phase::Early { media: false } => CallState::Ringing,
            Phase::Connected(t) => t.shown(),
        })
    }

    /// Ringing here, not answered yet.
    pub fn ringing_here(&self) -> bool {
        matches!(self, Phase::Ringing { .. })
    }

    /// Connected, whatever its hold.
    pub fn connected(&self) -> bool {
        matches!(self, Phase::Connected(_))
    }

    /// Connected and not held by us: the agent talks on it.
    pub fn live(&self) -> bool {
        matches!(self, Phase::Connected(t) if t.hold == Hold::Live)
    }

    /// Connected and held by us.
    pub fn held(&self) -> bool {
        matches!(self, Phase::Connected(t) if t.hold == Hold::Held)
    }

    /// The connected call's details, to change them.
    pub fn talk_mut(&mut self) -> Option<&mut Talk> {
        match self {
            Phase::Connected(t) => Some(t),
            _ => None,
        }
    }
}

impl Talk {
    /// What the agent sees: reconnecting first, then our hold, then theirs.
    pub fn shown(&self) -> CallState {
        match (self.link, self.hold, self.remote) {
            (Link::Reconnecting, _, _) => CallState::Reconnecting,
            (Link::Up, Hold::Held, _) => CallState::Held,
            (Link::Up, Hold::Live, Remote::Holding) => CallState::RemoteHeld,
            (Link::Up, Hold::Live, Remote::Talking) => CallState::Connected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connected_call_shows_reconnecting_over_hold_and_our_hold_over_theirs() {
        let mut t = Talk::default();
        assert_eq!(t.shown(), CallState::Connected);
        t.remote = Remote::Holding;
        assert_eq!(t.shown(), CallState::RemoteHeld);
        t.hold = Hold::Held;
        assert_eq!(t.shown(), CallState::Held, "both hold: the agent's own hold is what it acts on");
        t.link = Link::Reconnecting;
        assert_eq!(t.shown(), CallState::Reconnecting);
    }

    #[test]
    fn phases_the_agent_does_not_see_show_nothing() {
        assert_eq!(Phase::Offered.shown(), None);
        assert_eq!(Phase::Answering.shown(), None);
        assert_eq!(Phase::Ending.shown(), None);
        assert_eq!(Phase::Early { media: false }.shown(), Some(CallState::Ringing));
    }

    #[test]
    fn only_a_connected_call_we_do_not_hold_is_live() {
        let held = Phase::Connected(Talk { hold: Hold::Held, ..Talk::default() });
        assert!(held.connected() && held.held() && !held.live());
        assert!(Phase::Connected(Talk::default()).live());
        assert!(!Phase::Dialling.live());
        assert!(Phase::Ringing { quietly: true, since: Instant::now() }.ringing_here());
    }
}
