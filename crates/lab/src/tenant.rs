//! The Microsoft side of the lab in one place: the tenant's people and
//! their presence, the token state, the consent settings and the injected
//! faults. Entra's and Graph's handlers and the control API share it behind
//! one lock, held only for plain data work, never across an await.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::broadcast;

use crate::Clock;
use crate::control::{LabEvent, PresenceCause};
use crate::directory::Directory;
use crate::entra::grants::Grants;
use crate::entra::scopes::GRAPH_PERMISSIONS;
use crate::faults::{GraphFaultRule, TokenFaultRule};
use crate::presence::{Churn, Presence};
use crate::scenario::{Answer, Audio, ConsentMode, EntraSettings, Scenario, Tenant};

/// A simulated expert's behaviour on calls (used by the SIP part of the lab).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Behaviour {
    pub answer: Answer,
    pub audio: Audio,
    /// Where the expert writes what it hears on its next calls.
    pub record: Option<std::path::PathBuf>,
}

#[derive(Debug)]
pub(crate) struct TenantState {
    pub tenant: Tenant,
    pub entra: EntraSettings,
    pub directory: Directory,
    pub churn: Churn,
    pub behaviour: Vec<Behaviour>,
    /// Presence (and whether it was pinned) before the current call, per expert.
    pub before_call: Vec<Option<(Presence, bool)>>,
    pub grants: Grants,
    pub consent: ConsentMode,
    /// Graph permissions the tenant's admin consented to.
    pub consented: BTreeSet<String>,
    pub graph_faults: Vec<GraphFaultRule>,
    pub token_faults: Vec<TokenFaultRule>,
}

/// Base URLs, known once the listeners are bound.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// The Entra authority, with a trailing slash: `http://127.0.0.1:P/`.
    pub entra: String,
    /// Graph with its version: `http://127.0.0.1:P/v1.0`.
    pub graph: String,
}

#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<TenantState>,
    pub clock: Clock,
    pub events: broadcast::Sender<LabEvent>,
    pub urls: Urls,
}

impl Shared {
    pub(crate) fn new(
        scenario: &Scenario,
        consent: ConsentMode,
        clock: Clock,
        urls: Urls,
        events: broadcast::Sender<LabEvent>,
    ) -> Shared {
        let directory = Directory::from_scenario(scenario);
        let initial: Vec<(Presence, bool)> = scenario.experts.iter().map(|e| (e.presence, e.churn)).collect();
        let churn = Churn::new(scenario.seed, &scenario.presence_churn, &initial, clock.now_ms());
        let behaviour = scenario
            .experts
            .iter()
            .map(|e| Behaviour { answer: e.answer, audio: e.audio.clone(), record: None })
            .collect();
        let state = TenantState {
            tenant: scenario.tenant.clone(),
            entra: scenario.entra.clone(),
            directory,
            churn,
            behaviour,
            before_call: vec![None; scenario.experts.len()],
            grants: Grants::default(),
            consent,
            consented: GRAPH_PERMISSIONS.iter().map(|p| (*p).to_string()).collect(),
            graph_faults: Vec::new(),
            token_faults: Vec::new(),
        };
        Shared { state: Mutex::new(state), clock, events, urls }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TenantState> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn emit(&self, event: LabEvent) {
        // No subscriber is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    /// Applies the presence changes due by now; returns when the next one is due.
    pub(crate) fn tick(&self) -> Option<u64> {
        let now = self.now();
        let mut events = Vec::new();
        let next = {
            let mut s = self.lock();
            for change in s.churn.poll(now) {
                if let Some(event) = s.apply_presence(change.expert, change.presence, PresenceCause::Schedule) {
                    events.push(event);
                }
            }
            s.churn.next_due()
        };
        events.into_iter().for_each(|e| self.emit(e));
        next
    }
}

impl TenantState {
    /// Sets expert `i`'s presence in the directory; the event to report.
    pub(crate) fn apply_presence(&mut self, i: usize, presence: Presence, cause: PresenceCause) -> Option<LabEvent> {
        let u = self.directory.expert_user(i)?;
        let user = &mut self.directory.users[u];
        user.presence = presence;
        Some(LabEvent::Presence {
            expert: user.upn.clone(),
            id: user.id.clone(),
            availability: presence.availability,
            activity: presence.activity,
            cause,
        })
    }
}
