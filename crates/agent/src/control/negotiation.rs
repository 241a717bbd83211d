//! Re-offers of one call: hold, resume and ICE restart, each a new SDP
//! offer in a re-INVITE. Sans-IO bookkeeping for what is waiting to go
//! out, what is out, and what to roll back to when the far end refuses.
//!
//! Rules:
//! * The button takes effect at once: what the agent hears and says
//!   follows the requested hold state while the re-INVITE is out.
//! * One offer at a time per dialog (RFC 3264 / RFC 3261 14.1): an offer
//!   the user agent cannot send yet waits, and is retried after each event.
//! * A newer request replaces one still waiting; an ICE restart rides on a
//!   waiting hold or resume (the offer is made anew with fresh credentials).
//! * A refused re-offer (488, 500, 603 ...) leaves the session as it was
//!   before it (RFC 3261 14.1): hold state, media direction and audio roll
//!   back, and the agent is told and may try again. 491 is retried by the
//!   user agent itself; 408 and 481 end the call (RFC 3261 14.1).

/// What a re-offer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reoffer {
    /// Put the far end on hold (sendonly).
    Hold,
    /// Take it off hold (sendrecv).
    Resume,
    /// New ICE credentials after a network change, direction unchanged.
    IceRestart,
}

/// Whether the agent holds the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hold {
    /// Talking.
    #[default]
    Live,
    /// On hold by us.
    Held,
}

impl Reoffer {
    /// The hold state this re-offer leads to, from `now`.
    pub fn leads_to(self, now: Hold) -> Hold {
        match self {
            Reoffer::Hold => Hold::Held,
            Reoffer::Resume => Hold::Live,
            Reoffer::IceRestart => now,
        }
    }
}

/// A re-offer waiting for the user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// What it asks for.
    pub what: Reoffer,
    /// The SDP.
    pub offer: Vec<u8>,
    /// The hold state before it was asked for.
    pub before: Hold,
}

/// A re-offer the far end has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// What it asks for.
    pub what: Reoffer,
    /// The hold state to go back to if it is refused.
    pub before: Hold,
}

/// What a refusal rolls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollback {
    /// What was refused.
    pub what: Reoffer,
    /// The hold state to restore.
    pub to: Hold,
}

/// One call's re-offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiation {
    waiting: Option<Waiting>,
    in_flight: Option<InFlight>,
}

impl Negotiation {
    /// The agent (or a network change) asks for `what` while the call's
    /// hold state is `hold`; `offer` is the SDP made for it.
    pub fn request(&mut self, what: Reoffer, offer: Vec<u8>, hold: Hold) {
        let (what, before) = match self.waiting.take() {
            // An ICE restart keeps what was waiting, with the new offer.
            Some(w) if what == Reoffer::IceRestart => (w.what, w.before),
            Some(w) => (what, w.before),
            None => (what, self.in_flight.map_or(hold, |f| f.what.leads_to(f.before))),
        };
        self.waiting = Some(Waiting { what, offer, before });
    }

    /// What should go out now, if anything.
    pub fn next(&self) -> Option<&Waiting> {
        self.waiting.as_ref()
    }

    /// The user agent sent the waiting offer.
    pub fn sent(&mut self) {
        if let Some(w) = self.waiting.take() {
            self.in_flight = Some(InFlight { what: w.what, before: w.before });
        }
    }

    /// The user agent could not take it and never will (the call is gone,
    /// say): it is dropped, and rolled back like a refusal.
    pub fn failed(&mut self) -> Option<Rollback> {
        let w = self.waiting.take()?;
        Some(Rollback { what: w.what, to: w.before })
    }

    /// The far end answered the offer.
    pub fn answered(&mut self) {
        self.in_flight = None;
    }

    /// The far end refused the offer in flight.
    pub fn refused(&mut self) -> Option<Rollback> {
        let f = self.in_flight.take()?;
        if let Some(w) = self.waiting.as_mut() {
            // What waits now starts from the state we roll back to.
            w.before = f.before;
        }
        Some(Rollback { what: f.what, to: f.before })
    }

    /// Whether an offer is out or waiting.
    pub fn busy(&self) -> bool {
        self.waiting.is_some() || self.in_flight.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_hold_rolls_back_to_talking() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Hold, b"sendonly".to_vec(), Hold::Live);
        assert_eq!(n.next().map(|w| w.what), Some(Reoffer::Hold));
        n.sent();
        assert!(n.next().is_none());
        assert_eq!(n.refused(), Some(Rollback { what: Reoffer::Hold, to: Hold::Live }));
        assert!(!n.busy(), "the agent can try again");
        n.request(Reoffer::Hold, b"sendonly".to_vec(), Hold::Live);
        n.sent();
        n.answered();
        assert!(!n.busy());
    }

    #[test]
    fn a_refused_resume_rolls_back_to_held() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Resume, b"sendrecv".to_vec(), Hold::Held);
        n.sent();
        assert_eq!(n.refused(), Some(Rollback { what: Reoffer::Resume, to: Hold::Held }));
    }

    #[test]
    fn an_offer_waits_while_another_is_out_and_starts_from_where_that_one_leads() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Hold, b"1".to_vec(), Hold::Live);
        n.sent();
        n.request(Reoffer::Resume, b"2".to_vec(), Hold::Held);
        let w = n.next().expect("waiting");
        assert_eq!((w.what, w.before), (Reoffer::Resume, Hold::Held));
        // The hold is refused: the resume now starts from talking.
        assert_eq!(n.refused(), Some(Rollback { what: Reoffer::Hold, to: Hold::Live }));
        assert_eq!(n.next().map(|w| w.before), Some(Hold::Live));
    }

    #[test]
    fn a_newer_request_replaces_a_waiting_one_and_keeps_its_starting_point() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Hold, b"1".to_vec(), Hold::Live);
        n.request(Reoffer::Resume, b"2".to_vec(), Hold::Held);
        let w = n.next().expect("waiting");
        assert_eq!((w.what, w.before, w.offer.as_slice()), (Reoffer::Resume, Hold::Live, b"2".as_slice()));
    }

    #[test]
    fn an_ice_restart_rides_on_a_waiting_hold_with_the_new_offer() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Hold, b"old".to_vec(), Hold::Live);
        n.request(Reoffer::IceRestart, b"fresh".to_vec(), Hold::Held);
        let w = n.next().expect("waiting");
        assert_eq!((w.what, w.offer.as_slice()), (Reoffer::Hold, b"fresh".as_slice()));
    }

    #[test]
    fn a_refused_ice_restart_keeps_the_hold_state() {
        let mut n = Negotiation::default();
        n.request(Reoffer::IceRestart, b"x".to_vec(), Hold::Held);
        n.sent();
        assert_eq!(n.refused(), Some(Rollback { what: Reoffer::IceRestart, to: Hold::Held }));
    }

    #[test]
    fn an_offer_that_can_never_go_out_is_rolled_back() {
        let mut n = Negotiation::default();
        n.request(Reoffer::Hold, b"x".to_vec(), Hold::Live);
        assert_eq!(n.failed(), Some(Rollback { what: Reoffer::Hold, to: Hold::Live }));
        assert!(!n.busy());
    }
}
