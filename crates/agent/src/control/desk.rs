//! The agent's own state between and after calls: what the agent chose,
//! wrap-up with its time limit and disposition, and offers the agent let
//! ring out. Sans-IO: every method takes `now`; [`Desk::deadline`] says when
//! [`Desk::tick`] must run next.
//!
//! Rules:
//! * Wrap-up starts when a call the agent talked on ends (not a consult),
//!   once no other call is up, for `wrap_up_seconds` (0: no wrap-up).
//! * When its time runs out the agent becomes available, or stays in
//!   wrap-up (`after_wrap_up = "wrap_up"`), and in any case stays while a
//!   required disposition is missing. Overtime is shown as 0 seconds left.
//! * A disposition is recorded the moment the agent picks it, so neither
//!   the time running out nor a state change can lose it.
//! * An offer that rang here and ended unanswered (the caller or the ACD
//!   gave up) is a missed offer; after `missed_offers_before_away` in a
//!   row the agent goes away with the reason "missed call", so the ACD
//!   stops offering. Answering a call resets the count.

use std::time::{Duration, Instant};

use crate::AgentState;

/// The reason shown when missed offers took the agent away.
pub const MISSED_CALL: &str = "missed call";

/// What happens when wrap-up's time runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterWrapUp {
    /// The agent becomes available (unless a required disposition is missing).
    #[default]
    Available,
    /// The agent stays in wrap-up until it chooses a state.
    StayInWrapUp,
}

/// The administrator's rules for the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskPolicy {
    /// Wrap-up after a call (zero: none).
    pub wrap_up: Duration,
    /// When wrap-up's time runs out.
    pub after_wrap_up: AfterWrapUp,
    /// A disposition must be chosen before the agent leaves wrap-up.
    pub disposition_required: bool,
    /// Unanswered offers in a row before the agent goes away (0: never).
    pub missed_offers_before_away: u32,
}

impl Default for DeskPolicy {
    fn default() -> Self {
        DeskPolicy {
            wrap_up: Duration::from_secs(30),
            after_wrap_up: AfterWrapUp::Available,
            disposition_required: false,
            missed_offers_before_away: 2,
        }
    }
}

/// Wrap-up of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WrapUp {
    /// The call's store id.
    uid: String,
    until: Instant,
    /// The disposition chosen so far (already recorded).
    disposition: Option<String>,
}

/// Why a desk command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskRefusal {
    /// A disposition is required before leaving wrap-up.
    DispositionRequired,
    /// There is no call to put a disposition on.
    NothingToWrapUp,
}

/// The agent's state machine.
#[derive(Debug, Clone)]
pub struct Desk {
    policy: DeskPolicy,
    chosen: AgentState,
    wrap_up: Option<WrapUp>,
    /// The last call wrapped up (notes and late dispositions attach to it).
    last_call: Option<String>,
    missed_in_a_row: u32,
}

impl Desk {
    /// Offline, nothing wrapped up.
    pub fn new(policy: DeskPolicy) -> Self {
        Desk { policy, chosen: AgentState::Offline, wrap_up: None, last_call: None, missed_in_a_row: 0 }
    }

    /// What the agent chose last (available, away, offline).
    pub fn chosen(&self) -> &AgentState {
        &self.chosen
    }

    /// Whether a call may be offered: available and not in wrap-up.
    pub fn ready(&self) -> bool {
        self.chosen == AgentState::Available && self.wrap_up.is_none()
    }

    /// The call in wrap-up, else the last call.
    pub fn call_for_notes(&self) -> Option<&str> {
        self.wrap_up.as_ref().map(|w| w.uid.as_str()).or(self.last_call.as_deref())
    }

    /// The state to show at `now` when `on_call` calls are up.
    pub fn shown(&self, now: Instant, on_call: bool) -> AgentState {
        if on_call {
            return AgentState::OnCall;
        }
        match &self.wrap_up {
            Some(w) => {
                let left = w.until.saturating_duration_since(now);
                AgentState::WrapUp { seconds_left: left.as_secs_f32().ceil() as u32 }
            }
            None => self.chosen.clone(),
        }
    }

    /// When [`Desk::tick`] must run next.
    pub fn deadline(&self) -> Option<Instant> {
        let w = self.wrap_up.as_ref()?;
        let waits = self.policy.after_wrap_up == AfterWrapUp::StayInWrapUp
            || (self.policy.disposition_required && w.disposition.is_none());
        (!waits).then_some(w.until)
    }

    /// Time passes: wrap-up ends when its time is up and nothing holds it.
    pub fn tick(&mut self, now: Instant) {
        if self.deadline().is_some_and(|d| now >= d) {
            self.end_wrap_up();
        }
    }

    /// The agent picks a state; it ends wrap-up, unless a required
    /// disposition is still missing.
    pub fn choose(&mut self, state: AgentState) -> Result<(), DeskRefusal> {
        if self.policy.disposition_required
            && state == AgentState::Available
            && self.wrap_up.as_ref().is_some_and(|w| w.disposition.is_none())
        {
            return Err(DeskRefusal::DispositionRequired);
        }
        self.end_wrap_up();
        if state == AgentState::Available {
            self.missed_in_a_row = 0;
        }
        self.chosen = state;
        Ok(())
    }

    /// A call the agent talked on ended (`uid` its store id).
    pub fn call_ended(&mut self, now: Instant, uid: &str) {
        self.last_call = Some(uid.to_owned());
        if self.policy.wrap_up.is_zero() {
            return;
        }
        self.wrap_up = Some(WrapUp { uid: uid.to_owned(), until: now + self.policy.wrap_up, disposition: None });
    }

    /// The agent chose a disposition: the call it belongs to (record it
    /// there now). With `finish`, wrap-up ends too.
    pub fn disposition(&mut self, code: &str, finish: bool) -> Result<String, DeskRefusal> {
        let uid = match self.wrap_up.as_mut() {
            Some(w) => {
                w.disposition = Some(code.to_owned());
                w.uid.clone()
            }
            None => self.last_call.clone().ok_or(DeskRefusal::NothingToWrapUp)?,
        };
        if finish {
            self.end_wrap_up();
        }
        Ok(uid)
    }

    /// An offer rang here and ended unanswered. Returns true when this
    /// took the agent away.
    pub fn offer_missed(&mut self) -> bool {
        self.missed_in_a_row += 1;
        let limit = self.policy.missed_offers_before_away;
        if limit == 0 || self.missed_in_a_row < limit || self.chosen != AgentState::Available {
            return false;
        }
        self.chosen = AgentState::Away { reason: MISSED_CALL.into() };
        true
    }

    /// The agent answered an offer.
    pub fn offer_answered(&mut self) {
        self.missed_in_a_row = 0;
    }

    fn end_wrap_up(&mut self) {
        if let Some(w) = self.wrap_up.take() {
            self.last_call = Some(w.uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn desk(policy: DeskPolicy) -> (Desk, Instant) {
        let mut d = Desk::new(policy);
        d.choose(AgentState::Available).expect("available");
        (d, Instant::now())
    }

    #[test]
    fn wrap_up_counts_down_and_makes_the_agent_available_when_its_time_is_up() {
        let (mut d, t0) = desk(DeskPolicy::default());
        d.call_ended(t0, "u1");
        assert!(!d.ready());
        assert_eq!(d.shown(t0 + secs(10), false), AgentState::WrapUp { seconds_left: 20 });
        assert_eq!(d.deadline(), Some(t0 + secs(30)));
        d.tick(t0 + secs(29));
        assert!(!d.ready(), "not before its time");
        d.tick(t0 + secs(30));
        assert!(d.ready());
        assert_eq!(d.shown(t0 + secs(30), false), AgentState::Available);
        assert_eq!(d.call_for_notes(), Some("u1"), "notes after wrap-up attach to the last call");
    }

    #[test]
    fn on_a_call_the_agent_shows_on_call_whatever_else_holds() {
        let (mut d, t0) = desk(DeskPolicy::default());
        d.call_ended(t0, "u1");
        assert_eq!(d.shown(t0, true), AgentState::OnCall);
    }

    #[test]
    fn a_disposition_chosen_in_wrap_up_is_kept_when_the_time_runs_out() {
        let (mut d, t0) = desk(DeskPolicy::default());
        d.call_ended(t0, "u1");
        assert_eq!(d.disposition("resolved", false), Ok("u1".into()), "recorded on the call in wrap-up");
        d.tick(t0 + secs(31));
        assert!(d.ready());
        assert_eq!(d.disposition("follow_up", false), Ok("u1".into()), "a later change still reaches the call");
    }

    #[test]
    fn a_disposition_chosen_in_wrap_up_is_kept_when_the_agent_changes_state() {
        let (mut d, t0) = desk(DeskPolicy::default());
        d.call_ended(t0, "u1");
        d.disposition("escalated", false).expect("recorded");
        d.choose(AgentState::Away { reason: "Break".into() }).expect("away");
        assert_eq!(d.shown(t0, false), AgentState::Away { reason: "Break".into() });
        assert_eq!(d.call_for_notes(), Some("u1"));
    }

    #[test]
    fn a_required_disposition_holds_wrap_up_past_its_time_until_it_is_chosen() {
        let (mut d, t0) = desk(DeskPolicy { disposition_required: true, ..DeskPolicy::default() });
        d.call_ended(t0, "u1");
        assert_eq!(d.deadline(), None, "nothing ends it by itself");
        d.tick(t0 + secs(300));
        assert_eq!(d.shown(t0 + secs(300), false), AgentState::WrapUp { seconds_left: 0 }, "overtime");
        assert_eq!(d.choose(AgentState::Available), Err(DeskRefusal::DispositionRequired));
        d.disposition("resolved", false).expect("recorded");
        assert_eq!(d.deadline(), Some(t0 + secs(30)), "the time limit applies again");
        d.tick(t0 + secs(301));
        assert!(d.ready());
    }

    #[test]
    fn a_required_disposition_does_not_keep_the_agent_from_going_away() {
        let (mut d, t0) = desk(DeskPolicy { disposition_required: true, ..DeskPolicy::default() });
        d.call_ended(t0, "u1");
        d.choose(AgentState::Away { reason: "Lunch".into() }).expect("away is always allowed");
        assert!(!d.ready());
    }

    #[test]
    fn staying_in_wrap_up_waits_for_the_agent() {
        let (mut d, t0) = desk(DeskPolicy { after_wrap_up: AfterWrapUp::StayInWrapUp, ..DeskPolicy::default() });
        d.call_ended(t0, "u1");
        d.tick(t0 + secs(600));
        assert!(!d.ready());
        d.choose(AgentState::Available).expect("the agent ends it");
        assert!(d.ready());
    }

    #[test]
    fn no_wrap_up_when_it_is_configured_off() {
        let (mut d, t0) = desk(DeskPolicy { wrap_up: Duration::ZERO, ..DeskPolicy::default() });
        d.call_ended(t0, "u1");
        assert!(d.ready());
        assert_eq!(d.disposition("resolved", true), Ok("u1".into()), "the last call still takes one");
    }

    #[test]
    fn a_disposition_with_nothing_to_wrap_up_is_refused() {
        let (mut d, _) = desk(DeskPolicy::default());
        assert_eq!(d.disposition("resolved", true), Err(DeskRefusal::NothingToWrapUp));
    }

    #[test]
    fn missed_offers_in_a_row_take_the_agent_away() {
        let (mut d, t0) = desk(DeskPolicy::default());
        assert!(!d.offer_missed());
        assert!(d.ready());
        assert!(d.offer_missed(), "the second in a row takes the agent away");
        assert_eq!(d.shown(t0, false), AgentState::Away { reason: MISSED_CALL.into() });
        assert!(!d.ready(), "the ACD stops offering");
    }

    #[test]
    fn an_answered_offer_resets_the_missed_count() {
        let (mut d, _) = desk(DeskPolicy::default());
        d.offer_missed();
        d.offer_answered();
        assert!(!d.offer_missed());
        assert!(d.ready());
    }

    #[test]
    fn missed_offers_never_take_the_agent_away_when_configured_off() {
        let (mut d, _) = desk(DeskPolicy { missed_offers_before_away: 0, ..DeskPolicy::default() });
        for _ in 0..10 {
            assert!(!d.offer_missed());
        }
        assert!(d.ready());
    }
}
