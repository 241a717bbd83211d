//! The sans-IO presence poller: which ids to ask for next, and when, within
//! the agent's request budget. It never reads the clock and never sends.

use std::time::{Duration, Instant};

use crate::config::PresenceBudget;

/// One batch to send to `getPresencesByUserId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Identifies the reply in [`Poller::handle_outcome`].
    pub id: u64,
    /// Favourites first, then others in rotation; at most the budget's `max_ids_per_request`.
    pub ids: Vec<String>,
}

/// What the poller wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this batch now.
    Send(Batch),
    /// Nothing before this instant.
    Wait(Instant),
    /// A batch is in flight; feed its outcome first.
    AwaitReply,
    /// No ids are watched.
    Idle,
    /// Polling stopped until [`Poller::resume`]: see the reason.
    Halted(Halt),
}

/// Why polling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Halt {
    /// Graph refused the permission (403); more requests would not help.
    Forbidden,
    /// The sign-in is gone; the agent must sign in again.
    SignInRequired,
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Presence came back.
    Delivered,
    /// 429, with Graph's `Retry-After` when it gave one.
    Throttled {
        /// How long Graph asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The network or Graph failed (5xx, timeout); try again later.
    Failed,
    /// Stop polling.
    Halted(Halt),
}

/// Paces one agent's presence requests. See the crate documentation for
/// the arithmetic behind the default budget.
#[derive(Debug, Clone)]
pub struct Poller {
    budget: PresenceBudget,
    favourites: Vec<String>,
    others: Vec<String>,
    favourite_cursor: usize,
    other_cursor: usize,
    /// The current pace: the budget's interval, or slower after a 429.
    interval: Duration,
    /// No request before this; `None` means as soon as there is something to ask.
    not_before: Option<Instant>,
    /// When the pace last slowed down or sped up.
    pace_changed_at: Option<Instant>,
    /// When the last 429 came.
    last_throttled_at: Option<Instant>,
    in_flight: Option<u64>,
    halted: Option<Halt>,
    failures: u32,
    next_id: u64,
    rng: SplitMix,
}

impl Poller {
    /// A poller with the given budget. `seed` spreads the jitter of agents
    /// that start together (use anything that differs between agents).
    pub fn new(budget: PresenceBudget, seed: u64) -> Self {
        Poller {
            interval: budget.interval(),
            budget,
            favourites: Vec::new(),
            others: Vec::new(),
            favourite_cursor: 0,
            other_cursor: 0,
            not_before: None,
            pace_changed_at: None,
            last_throttled_at: None,
            in_flight: None,
            halted: None,
            failures: 0,
            next_id: 1,
            rng: SplitMix::new(seed),
        }
    }

    /// Sets who to watch: favourites go in every batch, others take turns in
    /// the room left. Duplicates are dropped.
    pub fn watch(&mut self, favourites: &[String], others: &[String]) {
        self.favourites = dedup(favourites.iter(), &[]);
        self.others = dedup(others.iter(), &self.favourites);
        self.favourite_cursor = 0;
        self.other_cursor = 0;
    }

    /// The current pace.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Why polling stopped, if it did.
    pub fn halted(&self) -> Option<Halt> {
        self.halted
    }

    /// Starts again after a halt (the admin granted the permission, the
    /// agent signed in again).
    pub fn resume(&mut self, now: Instant) {
        self.halted = None;
        self.not_before = Some(now);
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Instant) -> Next {
        if let Some(halt) = self.halted {
            return Next::Halted(halt);
        }
        if self.in_flight.is_some() {
            return Next::AwaitReply;
        }
        if self.favourites.is_empty() && self.others.is_empty() {
            return Next::Idle;
        }
        if let Some(at) = self.not_before.filter(|at| *at > now) {
            return Next::Wait(at);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight = Some(id);
        // The pace counts from when a request goes, not when it returns, so a
        // slow Graph does not stretch the budget. The outcome may push it later.
        self.not_before = Some(now + self.jittered(self.interval));
        Next::Send(Batch { id, ids: self.compose() })
    }

    /// Feeds the outcome of batch `id` at `now`.
    pub fn handle_outcome(&mut self, now: Instant, id: u64, outcome: Outcome) {
        if self.in_flight != Some(id) {
            return;
        }
        self.in_flight = None;
        match outcome {
            Outcome::Delivered => {
                self.failures = 0;
                self.recover(now);
            }
            Outcome::Throttled { retry_after } => {
                let slow = self.budget.slow_interval();
                let recent = self
                    .last_throttled_at
                    .is_some_and(|t| now.saturating_duration_since(t) < self.budget.recover_after());
                self.last_throttled_at = Some(now);
                // The first 429 drops to the slow pace. Slower still only when
                // 429s keep coming at that pace: a single one usually means
                // others were fast, and they are slowing down too.
                if self.interval < slow {
                    self.interval = slow;
                } else if recent {
                    self.interval = self.interval.mul_f64(1.5).min(self.budget.max_interval());
                }
                self.pace_changed_at = Some(now);
                // Retry-After is a floor. Spreading retries over half a period
                // keeps agents throttled together from coming back together.
                let wait = retry_after.unwrap_or(self.interval);
                let spread = self.interval.mul_f64(0.5 * self.unit());
                self.not_before = Some(now + wait + spread);
            }
            Outcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                let backoff = self.interval.saturating_mul(1 << self.failures.min(6)).min(self.budget.max_interval());
                self.not_before = Some(now + self.jittered(backoff));
            }
            Outcome::Halted(halt) => self.halted = Some(halt),
        }
    }

    /// After a quiet spell, speed up one step: quickly down to the slow pace
    /// (a quarter at a time), then gently towards the budget's pace, so that
    /// many agents find the tenant's limit together without overshooting it.
    fn recover(&mut self, now: Instant) {
        let normal = self.budget.interval();
        if self.interval <= normal {
            return;
        }
        let since = self.pace_changed_at.map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        if since >= self.budget.recover_after() {
            let slow = self.budget.slow_interval();
            self.interval = if self.interval > slow {
                self.interval.mul_f64(0.75).max(slow)
            } else {
                self.interval.saturating_sub(self.budget.recover_step()).max(normal)
            };
            self.pace_changed_at = Some(now);
        }
    }

    fn compose(&mut self) -> Vec<String> {
        let max = self.budget.max_ids_per_request;
        let mut ids = Vec::with_capacity(max.min(self.favourites.len() + self.others.len()));
        take_rotating(&self.favourites, &mut self.favourite_cursor, max, &mut ids);
        let room = max - ids.len();
        take_rotating(&self.others, &mut self.other_cursor, room, &mut ids);
        ids
    }

    /// `d` scaled by a factor in [0.9, 1.1).
    fn jittered(&mut self, d: Duration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() * (0.9 + 0.2 * self.unit()))
    }

    fn unit(&mut self) -> f64 {
        self.rng.unit()
    }
}

/// A small deterministic random sequence (SplitMix64) for jitter: seeded,
/// so a simulation of many pollers runs the same way every time.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A sequence starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Takes up to `room` ids from `from`, starting at `cursor` and wrapping.
fn take_rotating(from: &[String], cursor: &mut usize, room: usize, into: &mut Vec<String>) {
    let n = from.len().min(room);
    if from.is_empty() || n == 0 {
        return;
    }
    let start = *cursor % from.len();
    into.extend(from.iter().cycle().skip(start).take(n).cloned());
    *cursor = (start + n) % from.len();
}

fn dedup<'a>(ids: impl Iterator<Item = &'a String>, exclude: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| !exclude.contains(id) && seen.insert(id.as_str())).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn send(p: &mut Poller, now: Instant) -> Batch {
        match p.poll(now) {
            Next::Send(b) => b,
            other => panic!("expected a batch at {now:?}, got {other:?}"),
        }
    }

    #[test]
    fn favourites_ride_in_every_batch_and_others_rotate() {
        let t0 = Instant::now();
        let mut p = Poller::new(PresenceBudget::default(), 1);
        p.watch(&ids("fav", 50), &ids("other", 1000));
        let first = send(&mut p, t0);
        assert_eq!(first.ids.len(), 650, "batches fill up to Graph's 650");
        assert_eq!(&first.ids[..50], &ids("fav", 50)[..], "favourites first");
        assert_eq!(first.ids[50], "other0");
        assert_eq!(p.poll(t0), Next::AwaitReply, "one batch at a time");
        p.handle_outcome(t0, first.id, Outcome::Delivered);
        let Next::Wait(at) = p.poll(t0) else { panic!("must wait for the pace") };
        let gap = at - t0;
        assert!(gap >= Duration::from_secs_f64(7.2) && gap < Duration::from_secs_f64(8.8), "{gap:?}");
        let second = send(&mut p, at);
        assert_eq!(&second.ids[..50], &ids("fav", 50)[..]);
        assert_eq!(second.ids[50], "other600", "others continue where the last batch stopped");
        assert_eq!(second.ids[649], "other199", "and wrap around");
    }

    #[test]
    fn more_than_650_favourites_rotate_too() {
        let t0 = Instant::now();
        let mut p = Poller::new(PresenceBudget::default(), 1);
        p.watch(&ids("f", 700), &[]);
        let a = send(&mut p, t0);
        p.handle_outcome(t0, a.id, Outcome::Delivered);
        let b = send(&mut p, t0 + Duration::from_secs(60));
        assert_eq!(a.ids.len(), 650);
        assert_eq!(b.ids[0], "f650");
        assert_eq!(b.ids.len(), 650);
    }

    #[test]
    fn throttled_waits_at_least_retry_after_then_slows_and_recovers() {
        let t0 = Instant::now();
        let budget = PresenceBudget::default();
        let mut p = Poller::new(budget.clone(), 7);
        p.watch(&ids("f", 3), &[]);
        let b = send(&mut p, t0);
        p.handle_outcome(t0, b.id, Outcome::Throttled { retry_after: Some(Duration::from_secs_f64(2.5)) });
        let Next::Wait(at) = p.poll(t0) else { panic!("must wait after a 429") };
        assert!(at - t0 >= Duration::from_secs_f64(2.5), "Retry-After 2.5 is honoured: {:?}", at - t0);
        assert!(at - t0 < Duration::from_secs_f64(2.5 + 12.5), "the retry comes within half a slow period after it");
        assert_eq!(p.interval(), budget.slow_interval(), "then the slow pace");

        let mut now = at;
        let mut paces = Vec::new();
        while p.interval() > budget.interval() && paces.len() < 1000 {
            let b = send(&mut p, now);
            p.handle_outcome(now, b.id, Outcome::Delivered);
            paces.push(p.interval());
            let Next::Wait(next) = p.poll(now) else { panic!("wait") };
            now = next;
        }
        assert_eq!(p.interval(), budget.interval(), "the pace recovers fully: {paces:?}");
        let recovered_after = now - at;
        assert!(recovered_after > Duration::from_secs(1800), "recovery is gradual: {recovered_after:?}");
    }

    #[test]
    fn repeated_throttling_slows_down_to_the_maximum_and_comes_back() {
        let t0 = Instant::now();
        let mut p = Poller::new(PresenceBudget::default(), 3);
        p.watch(&ids("f", 1), &[]);
        let mut now = t0;
        for _ in 0..10 {
            let b = send(&mut p, now);
            p.handle_outcome(now, b.id, Outcome::Throttled { retry_after: None });
            let Next::Wait(next) = p.poll(now) else { panic!("wait") };
            assert!(next - now >= p.interval(), "without Retry-After the current pace is the floor");
            now = next;
        }
        assert_eq!(p.interval(), Duration::from_secs(120));
        let b = send(&mut p, now);
        p.handle_outcome(now + Duration::from_secs(120), b.id, Outcome::Delivered);
        assert_eq!(p.interval(), Duration::from_secs(90), "above the slow pace, recovery takes a quarter off");
    }

    #[test]
    fn forbidden_halts_until_resumed_and_failures_back_off() {
        let t0 = Instant::now();
        let mut p = Poller::new(PresenceBudget::default(), 3);
        p.watch(&ids("f", 1), &[]);
        let b = send(&mut p, t0);
        p.handle_outcome(t0, b.id, Outcome::Failed);
        let Next::Wait(at) = p.poll(t0) else { panic!("wait") };
        assert!(at - t0 >= Duration::from_secs_f64(14.4), "a failure waits twice the pace: {:?}", at - t0);
        let b = send(&mut p, at);
        p.handle_outcome(at, b.id, Outcome::Halted(Halt::Forbidden));
        assert_eq!(p.poll(at + Duration::from_secs(3600)), Next::Halted(Halt::Forbidden));
        p.resume(at + Duration::from_secs(3600));
        assert!(matches!(p.poll(at + Duration::from_secs(3600)), Next::Send(_)));
    }

    #[test]
    fn stale_outcomes_and_empty_watch_lists_are_harmless() {
        let t0 = Instant::now();
        let mut p = Poller::new(PresenceBudget::default(), 3);
        assert_eq!(p.poll(t0), Next::Idle);
        p.watch(&["a".into(), "a".into()], &["a".into(), "b".into()]);
        let b = send(&mut p, t0);
        assert_eq!(b.ids, vec!["a", "b"], "duplicates dropped");
        p.handle_outcome(t0, b.id + 1, Outcome::Halted(Halt::Forbidden));
        assert_eq!(p.poll(t0), Next::AwaitReply, "an outcome for another batch is ignored");
    }
}
