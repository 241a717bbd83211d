//! When simulated customers call: a seeded Poisson process over the
//! scenario's customers and queues. Sans-IO like the presence schedule; the
//! SIP part of the lab places the calls.

use crate::rng::Rng;

/// One customer call the schedule wants placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When, in Unix milliseconds (lab time).
    pub at_ms: u64,
    /// Which customer calls (index in the scenario).
    pub customer: usize,
    /// Into which queue (index in the scenario).
    pub queue: usize,
}

/// The arrival schedule.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rng: Rng,
    next_at: Option<u64>,
    mean_ms: f64,
    queue_weights: Vec<u32>,
    customers: usize,
}

impl Arrivals {
    /// `per_hour` calls an hour on average (0: none), spread over
    /// `customers` customers uniformly and over queues by `queue_weights`.
    pub fn new(seed: u64, per_hour: f64, queue_weights: Vec<u32>, customers: usize, start_ms: u64) -> Self {
        let mut rng = Rng::new(seed, 0);
        let active = per_hour > 0.0 && customers > 0 && queue_weights.iter().any(|w| *w > 0);
        let mean_ms = if active { 3_600_000.0 / per_hour } else { f64::INFINITY };
        let next_at = active.then(|| start_ms.saturating_add(rng.exponential(mean_ms) as u64));
        Arrivals { rng, next_at, mean_ms, queue_weights, customers }
    }

    /// The schedule a scenario describes: its seed, `arrivals.per_hour`,
    /// every customer, and the queues' `arrival_weight`.
    pub fn for_scenario(scenario: &crate::Scenario, start_ms: u64) -> Self {
        let weights = scenario.queues.iter().map(|q| q.arrival_weight).collect();
        Arrivals::new(scenario.seed, scenario.arrivals.per_hour, weights, scenario.customers.len(), start_ms)
    }

    /// When the next call is due.
    pub fn next_due(&self) -> Option<u64> {
        self.next_at
    }

    /// Every call due at or before `now_ms`, in time order.
    pub fn poll(&mut self, now_ms: u64) -> Vec<Arrival> {
        let mut due = Vec::new();
        while let Some(at) = self.next_at.filter(|t| *t <= now_ms && *t < u64::MAX) {
            let customer = (self.rng.next_u64() % self.customers as u64) as usize;
            let Some(queue) = self.rng.weighted(&self.queue_weights) else { break };
            due.push(Arrival { at_ms: at, customer, queue });
            self.next_at = Some(at.saturating_add(self.rng.exponential(self.mean_ms) as u64));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_arrive_at_the_configured_rate_over_the_weighted_queues() {
        let mut a = Arrivals::new(42, 60.0, vec![3, 1], 20, 0);
        let day = a.poll(24 * 3_600_000);
        // 60 an hour for a day: 1,440 expected.
        assert!((1_300..1_580).contains(&day.len()), "{}", day.len());
        let first_queue = day.iter().filter(|c| c.queue == 0).count() as f64 / day.len() as f64;
        assert!((0.70..0.80).contains(&first_queue), "{first_queue}");
        assert!(day.iter().all(|c| c.customer < 20));
        assert_eq!(Arrivals::new(42, 60.0, vec![3, 1], 20, 0).poll(24 * 3_600_000), day, "seeded");
    }

    #[test]
    fn the_default_scenario_calls_about_every_two_minutes() {
        let s = crate::Scenario::default_scenario();
        let hour = Arrivals::for_scenario(&s, 0).poll(3_600_000);
        assert!((15..50).contains(&hour.len()), "{} calls in the first hour", hour.len());
        assert!(hour.iter().all(|a| a.queue < s.queues.len() && a.customer < s.customers.len()));
    }

    #[test]
    fn a_rate_of_zero_places_no_calls() {
        let mut a = Arrivals::new(1, 0.0, vec![1], 5, 0);
        assert_eq!(a.next_due(), None);
        assert!(a.poll(u64::MAX).is_empty());
    }
}
