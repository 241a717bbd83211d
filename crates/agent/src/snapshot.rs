//! The state a front end needs when it attaches late (the desktop window
//! loads after the session started): the last event of each kind that still
//! matters, folded from the stream. Replaying [`Snapshot::events`] and then
//! following the stream shows the same screen as having watched it all.

use std::collections::BTreeMap;

use crate::{AgentEvent, CallId, CallState};

/// The folded state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    ready: Option<AgentEvent>,
    registration: Option<AgentEvent>,
    state: Option<AgentEvent>,
    account: Option<AgentEvent>,
    sync: Option<AgentEvent>,
    devices: Option<AgentEvent>,
    mute: Option<AgentEvent>,
    /// Per live call: its events in order (incoming, context, the latest
    /// call state, the latest transfer phase, the latest quality).
    calls: BTreeMap<CallId, CallEvents>,
    /// The calls in the order they appeared.
    order: Vec<CallId>,
}

#[derive(Debug, Clone, Default)]
struct CallEvents {
    incoming: Option<AgentEvent>,
    context: Option<AgentEvent>,
    state: Option<AgentEvent>,
    transfer: Option<AgentEvent>,
    quality: Option<AgentEvent>,
}

impl Snapshot {
    /// Folds one event in.
    pub fn apply(&mut self, event: &AgentEvent) {
        let keep = Some(event.clone());
        match event {
            AgentEvent::Ready { .. } => self.ready = keep,
            AgentEvent::Registration { .. } => self.registration = keep,
            AgentEvent::State { .. } => self.state = keep,
            AgentEvent::Account { .. } => self.account = keep,
            AgentEvent::Sync { .. } => self.sync = keep,
            AgentEvent::Devices { .. } => self.devices = keep,
            AgentEvent::Mute { .. } => self.mute = keep,
            AgentEvent::Incoming { call, .. } => self.call(call).incoming = keep,
            AgentEvent::Context { call, .. } => self.call(call).context = keep,
            AgentEvent::Call { call, state: CallState::Ended { .. }, .. } => {
                self.calls.remove(call);
                self.order.retain(|c| c != call);
            }
            AgentEvent::Call { call, .. } => self.call(call).state = keep,
            AgentEvent::Transfer { call, .. } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.transfer = keep;
                }
            }
            AgentEvent::Quality { call, .. } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.quality = keep;
                }
            }
            // Answers to queries and passing notices are not state.
            AgentEvent::Experts { .. }
            | AgentEvent::Connection { .. }
            | AgentEvent::Presence { .. }
            | AgentEvent::History { .. }
            | AgentEvent::NoteSaved { .. }
            | AgentEvent::Level { .. }
            | AgentEvent::Error(_) => {}
        }
    }

    /// Whether the microphone is muted now.
    pub fn muted(&self) -> bool {
        matches!(self.mute, Some(AgentEvent::Mute { on: true }))
    }

    /// Whether any call is ringing here (an `incoming` not answered yet).
    pub fn ringing(&self) -> bool {
        self.calls.values().any(|c| matches!(&c.state, Some(AgentEvent::Call { state: CallState::Ringing, .. })))
    }

    /// Whether any call is up besides ringing ones (dialling, connected,
    /// held ...).
    pub fn talking(&self) -> bool {
        self.calls
            .values()
            .any(|c| !matches!(&c.state, Some(AgentEvent::Call { state: CallState::Ringing, .. }) | None))
    }

    fn call(&mut self, call: &CallId) -> &mut CallEvents {
        if !self.calls.contains_key(call) {
            self.order.push(call.clone());
        }
        self.calls.entry(call.clone()).or_default()
    }

    /// The events that rebuild the current state, in a sensible order.
    pub fn events(&self) -> Vec<AgentEvent> {
        let mut out: Vec<AgentEvent> =
            [&self.ready, &self.registration, &self.state, &self.account, &self.sync, &self.devices, &self.mute]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        for id in &self.order {
            if let Some(c) = self.calls.get(id) {
                out.extend([&c.incoming, &c.context, &c.state, &c.transfer, &c.quality].into_iter().flatten().cloned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentState, RegistrationState};

    #[test]
    fn a_late_front_end_sees_the_latest_state_and_only_live_calls() {
        let mut s = Snapshot::default();
        let events = [
            AgentEvent::Registration { registration: RegistrationState::Registering },
            AgentEvent::Registration { registration: RegistrationState::Registered },
            AgentEvent::State { agent: AgentState::Available },
            AgentEvent::call_state("c1", CallState::Ringing),
            AgentEvent::call_state("c1", CallState::Connected),
            AgentEvent::call_state("c2", CallState::Dialing),
            AgentEvent::call_state("c2", CallState::Ended { reason: "busy".into() }),
            AgentEvent::State { agent: AgentState::OnCall },
        ];
        for e in &events {
            s.apply(e);
        }
        assert_eq!(
            s.events(),
            vec![
                AgentEvent::Registration { registration: RegistrationState::Registered },
                AgentEvent::State { agent: AgentState::OnCall },
                AgentEvent::call_state("c1", CallState::Connected),
            ]
        );
    }

    #[test]
    fn mute_and_ringing_are_kept_for_the_shell() {
        let mut s = Snapshot::default();
        assert!(!s.muted() && !s.ringing() && !s.talking());
        s.apply(&AgentEvent::call_state("c1", CallState::Ringing));
        assert!(s.ringing() && !s.talking());
        s.apply(&AgentEvent::Mute { on: true });
        s.apply(&AgentEvent::call_state("c1", CallState::Connected));
        assert!(s.muted() && !s.ringing() && s.talking());
        assert!(s.events().contains(&AgentEvent::Mute { on: true }), "a late window sees the microphone muted");
        s.apply(&AgentEvent::Mute { on: false });
        s.apply(&AgentEvent::call_state("c1", CallState::Ended { reason: "local hangup".into() }));
        assert!(!s.muted() && !s.talking());
    }
}
