//! Teams presence as Graph reports it, and the seeded schedule on which the
//! lab's experts change it.
//!
//! The schedule is sans-IO: [`Churn`] is told the time and answers which
//! presences changed; the lab's run loop (or a test on a manual clock)
//! decides when to ask. Each expert changes at exponentially spaced times
//! (a Poisson process with the scenario's mean interval) to a state drawn by
//! weight, from its own random stream: the same seed gives the same day.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Graph's `availability`: can the person be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Availability {
    Available,
    AvailableIdle,
    Away,
    BeRightBack,
    Busy,
    BusyIdle,
    DoNotDisturb,
    Offline,
    PresenceUnknown,
}

/// Graph's `activity`: what the person is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Activity {
    Available,
    Away,
    BeRightBack,
    Busy,
    DoNotDisturb,
    InACall,
    InAConferenceCall,
    Inactive,
    InAMeeting,
    Offline,
    OffWork,
    OutOfOffice,
    PresenceUnknown,
    Presenting,
    UrgentInterruptionsOnly,
}

impl Availability {
    /// Graph's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "Available",
            Availability::AvailableIdle => "AvailableIdle",
            Availability::Away => "Away",
            Availability::BeRightBack => "BeRightBack",
            Availability::Busy => "Busy",
            Availability::BusyIdle => "BusyIdle",
            Availability::DoNotDisturb => "DoNotDisturb",
            Availability::Offline => "Offline",
            Availability::PresenceUnknown => "PresenceUnknown",
        }
    }
}

impl Activity {
    /// Graph's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Available => "Available",
            Activity::Away => "Away",
            Activity::BeRightBack => "BeRightBack",
            Activity::Busy => "Busy",
            Activity::DoNotDisturb => "DoNotDisturb",
            Activity::InACall => "InACall",
            Activity::InAConferenceCall => "InAConferenceCall",
            Activity::Inactive => "Inactive",
            Activity::InAMeeting => "InAMeeting",
            Activity::Offline => "Offline",
            Activity::OffWork => "OffWork",
            Activity::OutOfOffice => "OutOfOffice",
            Activity::PresenceUnknown => "PresenceUnknown",
            Activity::Presenting => "Presenting",
            Activity::UrgentInterruptionsOnly => "UrgentInterruptionsOnly",
        }
    }
}

/// One person's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// Can they be reached.
    pub availability: Availability,
    /// What they are doing.
    pub activity: Activity,
}

impl Presence {
    /// Available, available.
    pub const AVAILABLE: Presence = Presence { availability: Availability::Available, activity: Activity::Available };
    /// What Graph answers for an id it has no presence for.
    pub const UNKNOWN: Presence =
        Presence { availability: Availability::PresenceUnknown, activity: Activity::PresenceUnknown };
    /// Busy, in a call: what Teams shows while an expert is on a call.
    pub const IN_A_CALL: Presence = Presence { availability: Availability::Busy, activity: Activity::InACall };
}

/// A state the churn can move an expert to, and how likely it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedPresence {
    /// The state.
    pub presence: Presence,
    /// Relative weight (> 0).
    pub weight: u32,
}

/// How experts' presence changes on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnConfig {
    /// Mean time between two changes of one expert, in seconds.
    pub mean_interval_secs: f64,
    /// The states drawn from, by weight. A change always moves to a state
    /// other than the current one.
    pub states: Vec<WeightedPresence>,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        use Activity as Ac;
        use Availability as Av;
        let w =
            |availability, activity, weight| WeightedPresence { presence: Presence { availability, activity }, weight };
        ChurnConfig {
            mean_interval_secs: 180.0,
            states: vec![
                w(Av::Available, Ac::Available, 45),
                w(Av::Busy, Ac::InACall, 15),
                w(Av::Busy, Ac::InAMeeting, 15),
                w(Av::Away, Ac::Away, 8),
                w(Av::BeRightBack, Ac::BeRightBack, 7),
                w(Av::DoNotDisturb, Ac::Presenting, 5),
                w(Av::Offline, Ac::OffWork, 5),
            ],
        }
    }
}

/// A presence change the schedule produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// When, in Unix milliseconds (lab time).
    pub at_ms: u64,
    /// Which expert (index in the scenario).
    pub expert: usize,
    /// The new presence.
    pub presence: Presence,
}

#[derive(Debug, Clone)]
struct Slot {
    rng: Rng,
    next_at: u64,
    current: Presence,
    /// Churns at all (the scenario can keep an expert still).
    enabled: bool,
    /// Set by a command: the schedule keeps drawing but does not apply.
    pinned: bool,
}

/// The presence schedule of every expert.
#[derive(Debug, Clone)]
pub struct Churn {
    slots: Vec<Slot>,
    weights: Vec<u32>,
    states: Vec<Presence>,
    mean_ms: f64,
}

/// Streams 1..=n are the experts'; arrivals use stream 0.
const EXPERT_STREAM_BASE: u64 = 1;

impl Churn {
    /// The schedule for experts starting in `initial` (presence, and whether
    /// it churns), starting at `start_ms`.
    pub fn new(seed: u64, config: &ChurnConfig, initial: &[(Presence, bool)], start_ms: u64) -> Self {
        let mean_ms = (config.mean_interval_secs * 1000.0).max(1.0);
        let slots = initial
            .iter()
            .enumerate()
            .map(|(i, (presence, enabled))| {
                let mut rng = Rng::new(seed, EXPERT_STREAM_BASE + i as u64);
                let next_at = start_ms.saturating_add(wait(&mut rng, mean_ms));
                Slot { rng, next_at, current: *presence, enabled: *enabled, pinned: false }
            })
            .collect();
        Churn {
            slots,
            weights: config.states.iter().map(|s| s.weight).collect(),
            states: config.states.iter().map(|s| s.presence).collect(),
            mean_ms,
        }
    }

    /// When the next change is due, if any expert churns.
    pub fn next_due(&self) -> Option<u64> {
        self.slots.iter().filter(|s| s.enabled).map(|s| s.next_at).min()
    }

    /// Applies every change due at or before `now_ms`, in time order, and
    /// returns those that changed a presence (pinned experts' are skipped).
    pub fn poll(&mut self, now_ms: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        while let Some((i, at)) = self.earliest_due(now_ms) {
            let slot = &mut self.slots[i];
            // Draw among the states other than the current one, so every
            // scheduled event is a visible change.
            let weights: Vec<u32> =
                self.weights.iter().zip(&self.states).map(|(w, s)| if *s == slot.current { 0 } else { *w }).collect();
            let drawn = slot.rng.weighted(&weights).map(|k| self.states[k]);
            slot.next_at = at.saturating_add(wait(&mut slot.rng, self.mean_ms));
            if let Some(presence) = drawn.filter(|_| !slot.pinned) {
                slot.current = presence;
                changes.push(Change { at_ms: at, expert: i, presence });
            }
        }
        changes
    }

    /// The expert whose change is due first at `now_ms` (ties: the lower index).
    fn earliest_due(&self, now_ms: u64) -> Option<(usize, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.enabled && s.next_at <= now_ms && s.next_at < u64::MAX)
            .min_by_key(|(i, s)| (s.next_at, *i))
            .map(|(i, s)| (i, s.next_at))
    }

    /// The presence the schedule holds for `expert`.
    pub fn current(&self, expert: usize) -> Option<Presence> {
        self.slots.get(expert).map(|s| s.current)
    }

    /// Sets an expert's presence from outside the schedule (a command, a
    /// call). `pin` keeps the schedule from changing it until [`Churn::unpin`].
    pub fn set(&mut self, expert: usize, presence: Presence, pin: bool) {
        if let Some(slot) = self.slots.get_mut(expert) {
            slot.current = presence;
            slot.pinned = pin;
        }
    }

    /// Lets the schedule change the expert again.
    pub fn unpin(&mut self, expert: usize) {
        if let Some(slot) = self.slots.get_mut(expert) {
            slot.pinned = false;
        }
    }

    /// Whether a command pinned the expert.
    pub fn is_pinned(&self, expert: usize) -> bool {
        self.slots.get(expert).is_some_and(|s| s.pinned)
    }
}

fn wait(rng: &mut Rng, mean_ms: f64) -> u64 {
    // At least a second: two changes in the same instant are never shown.
    rng.exponential(mean_ms).max(1000.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: u64 = 1_750_000_000_000;

    fn churn(seed: u64) -> Churn {
        let initial = vec![(Presence::AVAILABLE, true); 4];
        Churn::new(seed, &ChurnConfig { mean_interval_secs: 60.0, ..ChurnConfig::default() }, &initial, START)
    }

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let (mut a, mut b, mut c) = (churn(9), churn(9), churn(10));
        let hour = START + 3_600_000;
        let (da, db, dc) = (a.poll(hour), b.poll(hour), c.poll(hour));
        assert_eq!(da, db);
        assert_ne!(da, dc, "another seed, another day");
        // Four experts changing once a minute on average: about 240 changes.
        assert!((150..350).contains(&da.len()), "{} changes", da.len());
        assert!(da.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "in time order");
        assert!(a.next_due().is_some_and(|t| t > hour));
    }

    #[test]
    fn polling_in_small_steps_gives_the_same_changes_as_one_big_step() {
        let (mut a, mut b) = (churn(5), churn(5));
        let big = a.poll(START + 600_000);
        let mut small = Vec::new();
        for step in 1..=600 {
            small.extend(b.poll(START + step * 1000));
        }
        assert_eq!(big, small);
    }

    #[test]
    fn every_change_is_visible_and_a_pinned_expert_stays_put() {
        let mut c = churn(1);
        c.set(2, Presence::IN_A_CALL, true);
        let changes = c.poll(START + 3_600_000);
        assert!(changes.iter().all(|ch| ch.expert != 2), "pinned");
        assert_eq!(c.current(2), Some(Presence::IN_A_CALL));
        let mut last = [Presence::AVAILABLE; 4];
        for ch in &changes {
            assert_ne!(last[ch.expert], ch.presence, "a change always changes something");
            last[ch.expert] = ch.presence;
        }
        c.unpin(2);
        assert!(c.poll(START + 7_200_000).iter().any(|ch| ch.expert == 2), "unpinned, it churns again");
    }

    #[test]
    fn pinning_one_expert_does_not_shift_the_others() {
        let (mut a, mut b) = (churn(3), churn(3));
        b.set(0, Presence::IN_A_CALL, true);
        let others = |v: Vec<Change>| v.into_iter().filter(|c| c.expert != 0).collect::<Vec<_>>();
        assert_eq!(others(a.poll(START + 3_600_000)), others(b.poll(START + 3_600_000)));
    }

    #[test]
    fn an_expert_without_churn_never_changes() {
        let initial = [(Presence::AVAILABLE, false)];
        let mut c = Churn::new(1, &ChurnConfig::default(), &initial, START);
        assert_eq!(c.next_due(), None);
        assert!(c.poll(u64::MAX).is_empty());
    }
}
