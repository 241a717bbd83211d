//! The warm transfer, as one enum: the customer on hold while the expert
//! rings, the consult, the three-way conference, the REFER under way, and
//! the way back to the customer. Sans-IO: each input returns the steps
//! to carry out, in order; [`Transfer::deadline`] says when to call
//! [`Transfer::tick`].
//!
//! Defined outcomes, each leaving the agent with a call it can use:
//! * the expert declines, is busy, does not answer by the deadline, or the
//!   call fails at once: back to the customer (off hold), with the reason;
//! * the expert hangs up during the consult: back to the customer;
//! * the customer hangs up during the consult: the agent stays with the
//!   expert, told so;
//! * the REFER is refused, its NOTIFY reports a failure, or no final
//!   NOTIFY comes in time: both calls stay up (consult or conference as
//!   before), the agent is told;
//! * the customer's call ends while the REFER is under way for any reason
//!   but the transfer: the agent stays with the expert, told so.

use std::time::{Duration, Instant};

use warmline_store::TransferOutcome;

use crate::TransferPhase;

/// How long a REFER may wait for its final NOTIFY (RFC 3515 leaves it to
/// us; an SBC that takes longer than this has lost it).
pub const NOTIFY_WITHIN: Duration = Duration::from_secs(32);

/// Where the warm transfer stands. `C` names a call: `customer` is the
/// customer's, `expert` the expert's; `deadline` is when the phase gives
/// up; `from` is what a failed REFER returns to.
#[allow(missing_docs)] // the fields are named above, once for every variant
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consult<C> {
    /// The expert's phone rings until `deadline`; the customer is on hold;
    /// `then` is what the expert's answer starts.
    DiallingExpert { customer: C, expert: C, deadline: Instant, then: Joined },
    /// The agent talks to the expert; the customer is on hold.
    Consulting { customer: C, expert: C },
    /// The three talk together.
    Conference { customer: C, expert: C },
    /// The REFER is out; the calls ending now is the transfer working.
    Completing { customer: C, expert: C, from: Joined, deadline: Instant },
    /// We hang up the expert's call ourselves; the customer comes back
    /// when it has ended.
    Returning { customer: C, expert: C, reason: String },
}

/// Who talks once the expert answers; and what a transfer was before its
/// REFER, to go back to on failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// Agent and expert.
    Consulting,
    /// All three.
    Conference,
}

/// Why a call of the transfer ended, as far as the transfer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEnd {
    /// The far end was busy.
    Busy,
    /// The far end declined or rejected.
    Declined,
    /// Nobody answered (or we cancelled it ringing).
    NoAnswer,
    /// The far end hung up.
    HungUp,
    /// The call ended because the transfer took it over.
    Transferred,
    /// Anything else, in words.
    Other(String),
}

/// One thing to do, in order (`customer` and `expert` as in [`Consult`]).
#[allow(missing_docs)] // the fields are named above, once for every variant
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<C> {
    /// Hang up (or cancel) this call.
    Hangup(C),
    /// Take this call off hold.
    Resume(C),
    /// Send the attended transfer's REFER to the customer's call.
    Refer { customer: C, expert: C },
    /// Tell the agent: a `transfer` event.
    Phase { customer: C, phase: TransferPhase, reason: Option<String> },
    /// Write the transfer's outcome into the customer call's history.
    Outcome { customer: C, outcome: TransferOutcome, reason: Option<String> },
}

/// Why a transfer command does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A warm transfer is already under way.
    Busy,
    /// No consult to complete, join or cancel.
    NoConsult,
}

/// The warm transfer, if one is under way.
#[derive(Debug, Clone)]
pub struct Transfer<C> {
    state: Option<Consult<C>>,
}

impl<C> Default for Transfer<C> {
    fn default() -> Self {
        Transfer { state: None }
    }
}

impl<C: Copy + Eq> Transfer<C> {
    /// Where it stands.
    pub fn state(&self) -> Option<&Consult<C>> {
        self.state.as_ref()
    }

    /// The customer's call, while a transfer is under way.
    pub fn customer(&self) -> Option<C> {
        self.state.as_ref().map(|s| s.legs().0)
    }

    /// The expert's call, while a transfer is under way.
    pub fn expert(&self) -> Option<C> {
        self.state.as_ref().map(|s| s.legs().1)
    }

    /// The customer call the expert's call consults for.
    pub fn consults_for(&self, call: C) -> Option<C> {
        self.state.as_ref().map(Consult::legs).filter(|(_, e)| *e == call).map(|(c, _)| c)
    }

    /// When [`Transfer::tick`] must run.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state.as_ref()? {
            Consult::DiallingExpert { deadline, .. } | Consult::Completing { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// The agent started a warm transfer: the customer is on hold (or
    /// about to be) and the expert's call is dialled. `then`: a consult
    /// when the expert answers, or straight into a conference.
    pub fn start(
        &mut self,
        now: Instant,
        customer: C,
        expert: C,
        ring_for: Duration,
        then: Joined,
    ) -> Result<Vec<Step<C>>, Refusal> {
        if self.state.is_some() {
            return Err(Refusal::Busy);
        }
        self.state = Some(Consult::DiallingExpert { customer, expert, deadline: now + ring_for, then });
        Ok(vec![Step::Phase { customer, phase: TransferPhase::DiallingExpert, reason: None }])
    }

    /// Time passed.
    pub fn tick(&mut self, now: Instant) -> Vec<Step<C>> {
        if self.deadline().is_none_or(|d| now < d) {
            return Vec::new();
        }
        match self.state.take() {
            Some(Consult::DiallingExpert { customer, expert, .. }) => {
                self.state = Some(Consult::Returning { customer, expert, reason: "no answer".into() });
                vec![Step::Hangup(expert)]
            }
            Some(Consult::Completing { customer, expert, from, .. }) => {
                self.state = Some(from.with(customer, expert));
                let reason = "no word from the far end about the transfer; both calls are still up";
                vec![
                    Step::Outcome { customer, outcome: TransferOutcome::Failed, reason: Some("no NOTIFY".into()) },
                    Step::Phase { customer, phase: TransferPhase::Failed, reason: Some(reason.into()) },
                ]
            }
            other => {
                self.state = other;
                Vec::new()
            }
        }
    }

    /// A call of ours was answered.
    pub fn answered(&mut self, call: C) -> Vec<Step<C>> {
        match self.state.take() {
            Some(Consult::DiallingExpert { customer, expert, then: Joined::Consulting, .. }) if expert == call => {
                self.state = Some(Consult::Consulting { customer, expert });
                vec![Step::Phase { customer, phase: TransferPhase::Consulting, reason: None }]
            }
            Some(Consult::DiallingExpert { customer, expert, then: Joined::Conference, .. }) if expert == call => {
                self.state = Some(Consult::Conference { customer, expert });
                vec![Step::Resume(customer), Step::Phase { customer, phase: TransferPhase::Conference, reason: None }]
            }
            other => {
                self.state = other;
                Vec::new()
            }
        }
    }

    /// The agent cancels: the expert's call is hung up, then back to the customer.
    pub fn cancel(&mut self) -> Result<Vec<Step<C>>, Refusal> {
        match self.state.take() {
            Some(
                Consult::DiallingExpert { customer, expert, .. }
                | Consult::Consulting { customer, expert }
                | Consult::Conference { customer, expert },
            ) => {
                self.state = Some(Consult::Returning { customer, expert, reason: "cancelled".into() });
                Ok(vec![Step::Hangup(expert)])
            }
            other => {
                self.state = other;
                Err(Refusal::NoConsult)
            }
        }
    }

    /// The agent joins all three: the customer comes off hold.
    pub fn conference(&mut self) -> Result<Vec<Step<C>>, Refusal> {
        match self.state.take() {
            Some(Consult::Consulting { customer, expert }) => {
                self.state = Some(Consult::Conference { customer, expert });
                Ok(vec![
                    Step::Resume(customer),
                    Step::Phase { customer, phase: TransferPhase::Conference, reason: None },
                ])
            }
            other => {
                self.state = other;
                Err(Refusal::NoConsult)
            }
        }
    }

    /// The agent completes the transfer: the REFER goes to the customer.
    pub fn complete(&mut self, now: Instant) -> Result<Vec<Step<C>>, Refusal> {
        let (customer, expert, from) = match self.state.take() {
            Some(Consult::Consulting { customer, expert }) => (customer, expert, Joined::Consulting),
            Some(Consult::Conference { customer, expert }) => (customer, expert, Joined::Conference),
            other => {
                self.state = other;
                return Err(Refusal::NoConsult);
            }
        };
        self.state = Some(Consult::Completing { customer, expert, from, deadline: now + NOTIFY_WITHIN });
        Ok(vec![Step::Refer { customer, expert }])
    }

    /// The REFER could not be sent, was refused, or its NOTIFY reported a
    /// failure: both calls stay up as they were.
    pub fn refer_failed(&mut self, outcome_reason: String, told: String) -> Vec<Step<C>> {
        match self.state.take() {
            Some(Consult::Completing { customer, expert, from, .. }) => {
                self.state = Some(from.with(customer, expert));
                vec![
                    Step::Outcome { customer, outcome: TransferOutcome::Failed, reason: Some(outcome_reason) },
                    Step::Phase { customer, phase: TransferPhase::Failed, reason: Some(told) },
                ]
            }
            other => {
                self.state = other;
                Vec::new()
            }
        }
    }

    /// The final NOTIFY says the customer is with the expert.
    pub fn refer_succeeded(&mut self) -> Vec<Step<C>> {
        match self.state.take() {
            Some(Consult::Completing { customer, .. }) => vec![
                Step::Outcome { customer, outcome: TransferOutcome::Completed, reason: None },
                Step::Phase { customer, phase: TransferPhase::Completed, reason: None },
            ],
            other => {
                self.state = other;
                Vec::new()
            }
        }
    }

    /// A call ended. Returns what follows for the transfer.
    pub fn ended(&mut self, call: C, why: LegEnd) -> Vec<Step<C>> {
        let Some(state) = self.state.take() else { return Vec::new() };
        let (customer, expert) = state.legs();
        if call == expert {
            let reason = match (&state, why) {
                (Consult::Completing { .. }, _) => {
                    // The transfer working: the customer's call ends next.
                    self.state = Some(state);
                    return Vec::new();
                }
                (Consult::Returning { reason, .. }, _) => reason.clone(),
                (_, LegEnd::Busy) => "busy".into(),
                (_, LegEnd::Declined) => "declined".into(),
                (_, LegEnd::NoAnswer) => "no answer".into(),
                (_, LegEnd::HungUp | LegEnd::Transferred) => "the expert hung up".into(),
                (_, LegEnd::Other(text)) => text,
            };
            let outcome = if reason == "cancelled" { TransferOutcome::Cancelled } else { TransferOutcome::Failed };
            let mut steps = vec![Step::Outcome { customer, outcome, reason: Some(reason.clone()) }];
            if !matches!(state, Consult::Conference { .. }) {
                steps.push(Step::Resume(customer));
            }
            steps.push(Step::Phase { customer, phase: TransferPhase::Returned, reason: Some(reason) });
            return steps;
        }
        if call != customer {
            self.state = Some(state);
            return Vec::new();
        }
        let told = match (&state, why) {
            (Consult::Completing { .. }, LegEnd::Transferred) => {
                // Done: the expert's call ends too; nothing more to say.
                return Vec::new();
            }
            (Consult::Completing { .. }, _) => {
                "the customer's call ended before the transfer was confirmed; you are still with the expert"
            }
            (Consult::Returning { .. }, _) => "the customer hung up",
            _ => "the customer hung up; you are still with the expert",
        };
        vec![
            Step::Outcome { customer, outcome: TransferOutcome::Failed, reason: Some("the customer hung up".into()) },
            Step::Phase { customer, phase: TransferPhase::Failed, reason: Some(told.into()) },
        ]
    }
}

impl<C: Copy> Consult<C> {
    /// The customer's call and the expert's.
    pub fn legs(&self) -> (C, C) {
        match self {
            Consult::DiallingExpert { customer, expert, .. }
            | Consult::Consulting { customer, expert }
            | Consult::Conference { customer, expert }
            | Consult::Completing { customer, expert, .. }
            | Consult::Returning { customer, expert, .. } => (*customer, *expert),
        }
    }
}

impl Joined {
    fn with<C>(self, customer: C, expert: C) -> Consult<C> {
        match self {
            Joined::Consulting => Consult::Consulting { customer, expert },
            Joined::Conference => Consult::Conference { customer, expert },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: u32 = 1;
    const EXPERT: u32 = 2;
    const RING: Duration = Duration::from_secs(20);

    fn phase(steps: &[Step<u32>]) -> Option<(TransferPhase, Option<String>)> {
        steps.iter().find_map(|s| match s {
            Step::Phase { phase, reason, .. } => Some((*phase, reason.clone())),
            _ => None,
        })
    }

    fn dialling() -> (Transfer<u32>, Instant) {
        let t0 = Instant::now();
        let mut t = Transfer::default();
        let steps = t.start(t0, CUSTOMER, EXPERT, RING, Joined::Consulting).expect("starts");
        assert_eq!(phase(&steps), Some((TransferPhase::DiallingExpert, None)));
        (t, t0)
    }

    fn consulting() -> (Transfer<u32>, Instant) {
        let (mut t, t0) = dialling();
        assert_eq!(phase(&t.answered(EXPERT)), Some((TransferPhase::Consulting, None)));
        (t, t0)
    }

    #[test]
    fn only_one_warm_transfer_at_a_time() {
        let (mut t, t0) = dialling();
        assert_eq!(t.start(t0, 3, 4, RING, Joined::Consulting), Err(Refusal::Busy));
    }

    #[test]
    fn an_expert_who_declines_returns_the_agent_to_the_customer_off_hold() {
        for (why, reason) in [(LegEnd::Declined, "declined"), (LegEnd::Busy, "busy"), (LegEnd::NoAnswer, "no answer")] {
            let (mut t, _) = dialling();
            let steps = t.ended(EXPERT, why);
            assert!(steps.contains(&Step::Resume(CUSTOMER)), "{reason}: {steps:?}");
            assert_eq!(phase(&steps), Some((TransferPhase::Returned, Some(reason.into()))));
            assert!(t.state().is_none());
        }
    }

    #[test]
    fn a_call_to_the_expert_that_fails_at_once_returns_with_its_reason() {
        let (mut t, _) = dialling();
        let steps = t.ended(EXPERT, LegEnd::Other("failed (503)".into()));
        assert_eq!(phase(&steps), Some((TransferPhase::Returned, Some("failed (503)".into()))));
        assert!(steps.contains(&Step::Resume(CUSTOMER)));
    }

    #[test]
    fn an_expert_who_does_not_answer_by_the_deadline_is_hung_up_and_the_agent_returns() {
        let (mut t, t0) = dialling();
        assert_eq!(t.deadline(), Some(t0 + RING));
        assert!(t.tick(t0 + RING - Duration::from_millis(1)).is_empty());
        assert_eq!(t.tick(t0 + RING), vec![Step::Hangup(EXPERT)]);
        assert_eq!(t.deadline(), None);
        assert!(t.answered(EXPERT).is_empty(), "an answer that crosses our CANCEL does not consult");
        let steps = t.ended(EXPERT, LegEnd::Other("cancelled".into()));
        assert_eq!(phase(&steps), Some((TransferPhase::Returned, Some("no answer".into()))));
        assert!(steps.contains(&Step::Outcome {
            customer: CUSTOMER,
            outcome: TransferOutcome::Failed,
            reason: Some("no answer".into())
        }));
    }

    #[test]
    fn cancelling_hangs_up_the_expert_and_records_a_cancelled_transfer() {
        let (mut t, _) = consulting();
        assert_eq!(t.cancel(), Ok(vec![Step::Hangup(EXPERT)]));
        assert_eq!(t.cancel(), Err(Refusal::NoConsult), "once");
        let steps = t.ended(EXPERT, LegEnd::HungUp);
        assert_eq!(phase(&steps), Some((TransferPhase::Returned, Some("cancelled".into()))));
        assert!(steps.contains(&Step::Outcome {
            customer: CUSTOMER,
            outcome: TransferOutcome::Cancelled,
            reason: Some("cancelled".into())
        }));
    }

    #[test]
    fn the_expert_hanging_up_during_the_consult_returns_the_agent_to_the_customer() {
        let (mut t, _) = consulting();
        let steps = t.ended(EXPERT, LegEnd::HungUp);
        assert!(steps.contains(&Step::Resume(CUSTOMER)));
        assert_eq!(phase(&steps), Some((TransferPhase::Returned, Some("the expert hung up".into()))));
    }

    #[test]
    fn the_customer_hanging_up_during_the_consult_leaves_the_agent_with_the_expert() {
        for mut t in [dialling().0, consulting().0] {
            let steps = t.ended(CUSTOMER, LegEnd::HungUp);
            assert!(!steps.iter().any(|s| matches!(s, Step::Hangup(_))), "the expert's call stays: {steps:?}");
            let (p, reason) = phase(&steps).expect("told");
            assert_eq!(p, TransferPhase::Failed);
            assert!(reason.is_some_and(|r| r.contains("still with the expert")));
            assert!(t.state().is_none(), "the expert's call is a plain call now");
        }
    }

    #[test]
    fn a_conference_takes_the_customer_off_hold_and_an_expert_leaving_it_returns() {
        let (mut t, _) = consulting();
        let steps = t.conference().expect("joins");
        assert_eq!(steps[0], Step::Resume(CUSTOMER));
        assert_eq!(phase(&steps), Some((TransferPhase::Conference, None)));
        assert_eq!(t.conference(), Err(Refusal::NoConsult));
        let steps = t.ended(EXPERT, LegEnd::HungUp);
        assert!(!steps.contains(&Step::Resume(CUSTOMER)), "already off hold");
        assert_eq!(phase(&steps).map(|p| p.0), Some(TransferPhase::Returned));
    }

    #[test]
    fn a_refused_refer_keeps_both_calls_up_and_the_agent_can_try_again() {
        let (mut t, t0) = consulting();
        assert_eq!(t.complete(t0), Ok(vec![Step::Refer { customer: CUSTOMER, expert: EXPERT }]));
        assert_eq!(t.cancel(), Err(Refusal::NoConsult), "no cancelling a REFER under way");
        let steps = t.refer_failed("refused (603)".into(), "the far end refused the transfer".into());
        assert_eq!(phase(&steps).map(|p| p.0), Some(TransferPhase::Failed));
        assert!(!steps.iter().any(|s| matches!(s, Step::Hangup(_))));
        assert_eq!(t.state(), Some(&Consult::Consulting { customer: CUSTOMER, expert: EXPERT }));
        assert!(t.complete(t0).is_ok(), "again");
    }

    #[test]
    fn a_refer_failing_from_a_conference_goes_back_to_the_conference() {
        let (mut t, t0) = consulting();
        t.conference().expect("joins");
        t.complete(t0).expect("refers");
        t.refer_failed("failed (480)".into(), "unreachable".into());
        assert_eq!(t.state(), Some(&Consult::Conference { customer: CUSTOMER, expert: EXPERT }));
    }

    #[test]
    fn no_final_notify_in_time_keeps_both_calls_up_and_tells_the_agent() {
        let (mut t, t0) = consulting();
        t.complete(t0).expect("refers");
        assert_eq!(t.deadline(), Some(t0 + NOTIFY_WITHIN));
        let steps = t.tick(t0 + NOTIFY_WITHIN);
        assert_eq!(phase(&steps).map(|p| p.0), Some(TransferPhase::Failed));
        assert_eq!(t.state(), Some(&Consult::Consulting { customer: CUSTOMER, expert: EXPERT }));
    }

    #[test]
    fn a_successful_transfer_records_it_and_its_calls_ending_says_nothing_more() {
        let (mut t, t0) = consulting();
        t.complete(t0).expect("refers");
        assert!(t.ended(EXPERT, LegEnd::Transferred).is_empty(), "the transfer working");
        let steps = t.refer_succeeded();
        assert_eq!(phase(&steps).map(|p| p.0), Some(TransferPhase::Completed));
        assert!(t.state().is_none());
        assert!(t.ended(CUSTOMER, LegEnd::Transferred).is_empty());
    }

    #[test]
    fn a_bye_that_crosses_the_refer_leaves_the_agent_with_the_expert() {
        let (mut t, t0) = consulting();
        t.complete(t0).expect("refers");
        let steps = t.ended(CUSTOMER, LegEnd::HungUp);
        let (p, reason) = phase(&steps).expect("told");
        assert_eq!(p, TransferPhase::Failed);
        assert!(reason.is_some_and(|r| r.contains("before the transfer was confirmed")));
        assert!(t.state().is_none());
        assert!(t.refer_succeeded().is_empty(), "a late NOTIFY changes nothing");
    }

    #[test]
    fn a_conference_transfer_joins_all_three_as_soon_as_the_expert_answers() {
        let t0 = Instant::now();
        let mut t = Transfer::default();
        t.start(t0, CUSTOMER, EXPERT, RING, Joined::Conference).expect("starts");
        let steps = t.answered(EXPERT);
        assert_eq!(steps[0], Step::Resume(CUSTOMER), "the customer comes off hold");
        assert_eq!(phase(&steps), Some((TransferPhase::Conference, None)));
        assert_eq!(t.state(), Some(&Consult::Conference { customer: CUSTOMER, expert: EXPERT }));
    }

    #[test]
    fn the_expert_call_knows_which_customer_it_consults_for() {
        let (t, _) = dialling();
        assert_eq!(t.consults_for(EXPERT), Some(CUSTOMER));
        assert_eq!(t.consults_for(CUSTOMER), None);
    }
}
