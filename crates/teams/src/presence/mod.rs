//! Teams presence: the values, the poller that paces requests, the Graph
//! source that runs it, and the board that remembers what was last seen.

mod model;
mod poller;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::warn;

pub use model::{Activity, Availability, Presence};
pub use poller::{Batch, Halt, Next, Outcome, Poller, SplitMix};

use crate::Error;
use crate::config::{MAX_IDS_PER_REQUEST, PresenceBudget};
use crate::graph::{Graph, Permission, json};
use model::PresenceList;

/// What a presence source reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// Fresh presence for these users.
    Updated(Vec<Presence>),
    /// Graph is throttling; last known presence stays on screen.
    Throttled {
        /// How long Graph asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Graph could not be reached; last known presence stays on screen with its age.
    Unreachable(Error),
    /// Presence stopped (missing permission, sign-in needed) until resumed.
    Halted(Error),
}

/// Where presence comes from. Polling Graph is one source; a push source
/// (change notifications through a relay) can replace it without the rest
/// of the agent noticing.
pub trait PresenceSource: Send {
    /// Who to watch: favourites first, then others.
    fn watch(&mut self, favourites: &[String], others: &[String]);
    /// Waits for the next event.
    fn next_event(&mut self) -> impl Future<Output = PresenceEvent> + Send;
    /// Starts again after [`PresenceEvent::Halted`].
    fn resume(&mut self);
}

/// Asks Graph for presence, one batch at a time.
#[derive(Debug, Clone)]
pub struct PresenceApi {
    graph: Graph,
}

impl PresenceApi {
    /// Presence through `graph`.
    pub fn new(graph: Graph) -> Self {
        PresenceApi { graph }
    }

    /// `POST /communications/getPresencesByUserId` for at most 650 ids.
    pub async fn batch(&self, now: Instant, ids: &[String]) -> Result<Vec<Presence>, Error> {
        if ids.len() > MAX_IDS_PER_REQUEST {
            return Err(Error::Config(format!("{} ids in one presence request; Graph allows 650", ids.len())));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.graph.url(&["communications", "getPresencesByUserId"]);
        let body = serde_json::json!({ "ids": ids });
        let reply = self.graph.call(now, Permission::PresenceReadAll, |c| c.post(url.clone()).json(&body)).await?;
        Ok(json::<PresenceList>(&reply, "getPresencesByUserId")?.value)
    }

    /// Presence for any number of ids, 650 per request, in order.
    pub async fn all(&self, now: Instant, ids: &[String]) -> Result<Vec<Presence>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
            out.extend(self.batch(now, chunk).await?);
        }
        Ok(out)
    }
}

/// Polls Graph within the budget: a [`Poller`] driven by the clock.
#[derive(Debug)]
pub struct PollingSource {
    api: PresenceApi,
    poller: Poller,
}

impl PollingSource {
    /// Polls through `api` within `budget`; `seed` spreads agents apart.
    pub fn new(api: PresenceApi, budget: PresenceBudget, seed: u64) -> Self {
        PollingSource { api, poller: Poller::new(budget, seed) }
    }

    /// The poller, to show its pace.
    pub fn poller(&self) -> &Poller {
        &self.poller
    }
}

/// What the poller learns from a batch's result.
pub fn outcome_of(result: &Result<Vec<Presence>, Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Delivered,
        Err(Error::Throttled { retry_after }) => Outcome::Throttled { retry_after: *retry_after },
        Err(Error::Forbidden { .. }) => Outcome::Halted(Halt::Forbidden),
        Err(Error::SignInRequired { .. }) => Outcome::Halted(Halt::SignInRequired),
        Err(_) => Outcome::Failed,
    }
}

impl PresenceSource for PollingSource {
    fn watch(&mut self, favourites: &[String], others: &[String]) {
        self.poller.watch(favourites, others);
    }

    async fn next_event(&mut self) -> PresenceEvent {
        loop {
            match self.poller.poll(Instant::now()) {
                Next::Send(batch) => {
                    let result = self.api.batch(Instant::now(), &batch.ids).await;
                    self.poller.handle_outcome(Instant::now(), batch.id, outcome_of(&result));
                    return match result {
                        Ok(list) => PresenceEvent::Updated(list),
                        Err(Error::Throttled { retry_after }) => PresenceEvent::Throttled { retry_after },
                        Err(e @ (Error::Forbidden { .. } | Error::SignInRequired { .. })) => {
                            warn!("presence polling stopped: {e}");
                            PresenceEvent::Halted(e)
                        }
                        Err(e) => PresenceEvent::Unreachable(e),
                    };
                }
                Next::Wait(at) => tokio::time::sleep_until(at.into()).await,
                // Nothing to do until `watch` or `resume`, which need `&mut self`:
                // look again after one interval.
                Next::Idle | Next::AwaitReply => tokio::time::sleep(self.poller.interval()).await,
                Next::Halted(_) => tokio::time::sleep(self.poller.interval()).await,
            }
        }
    }

    fn resume(&mut self) {
        self.poller.resume(Instant::now());
    }
}

/// The last presence seen for each user, and when.
#[derive(Debug, Clone, Default)]
pub struct PresenceBoard {
    seen: HashMap<String, (Presence, Instant)>,
}

/// A presence and how old it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The presence.
    pub presence: Presence,
    /// How long ago Graph reported it.
    pub age: Duration,
}

impl PresenceBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records presences seen at `now`; returns the ones that changed.
    pub fn apply(&mut self, now: Instant, presences: Vec<Presence>) -> Vec<Presence> {
        let mut changed = Vec::new();
        for p in presences {
            let differs = self.seen.get(&p.id).is_none_or(|(old, _)| *old != p);
            if differs {
                changed.push(p.clone());
            }
            self.seen.insert(p.id.clone(), (p, now));
        }
        changed
    }

    /// The last known presence of `id` and its age at `now`. While offline,
    /// this is what the agent sees, with the age shown.
    pub fn get(&self, id: &str, now: Instant) -> Option<Seen> {
        self.seen.get(id).map(|(p, at)| Seen { presence: p.clone(), age: now.saturating_duration_since(*at) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, a: &str) -> Presence {
        Presence {
            id: id.into(),
            availability: Availability::parse(a),
            activity: Activity::parse(a),
            status_message: None,
        }
    }

    #[test]
    fn board_reports_changes_and_ages() {
        let t0 = Instant::now();
        let mut board = PresenceBoard::new();
        assert_eq!(board.apply(t0, vec![p("a", "Available"), p("b", "Busy")]).len(), 2);
        let later = t0 + Duration::from_secs(40);
        let changed = board.apply(later, vec![p("a", "Available"), p("b", "Away")]);
        assert_eq!(changed, vec![p("b", "Away")], "only real changes are reported");
        let offline = later + Duration::from_secs(300);
        let seen = board.get("a", offline).expect("last known presence survives going offline");
        assert_eq!(seen.age, Duration::from_secs(300));
        assert!(board.get("nobody", offline).is_none());
    }

    #[test]
    fn errors_map_to_poller_outcomes() {
        let throttled = Err(Error::Throttled { retry_after: Some(Duration::from_millis(2128)) });
        assert_eq!(outcome_of(&throttled), Outcome::Throttled { retry_after: Some(Duration::from_millis(2128)) });
        let forbidden = Err(Error::Forbidden { permission: "Presence.Read.All", message: String::new() });
        assert_eq!(outcome_of(&forbidden), Outcome::Halted(Halt::Forbidden));
        assert_eq!(outcome_of(&Err(Error::Network("down".into()))), Outcome::Failed);
        assert_eq!(outcome_of(&Ok(vec![])), Outcome::Delivered);
    }
}
