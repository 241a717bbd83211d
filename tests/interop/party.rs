//! One Warmline agent in a test: the [`Agent`] engine running in the real
//! transport, connected to Kamailio, with its events kept so that a test can
//! wait for them in the order it cares about, whatever order the network
//! delivered them in.

use std::fmt::Debug;

use warmline_sip::transport::{self, Events, Handle, TransportEvent};
use warmline_sip::ua::{CallId, CallState, EndReason, Event};

use crate::agent::{Agent, SHUTDOWN_WITHIN};
use crate::kamailio::Kamailio;
use crate::kamailio_interop::transport_config;
use crate::support::GUARD;

pub struct Party {
    pub user: &'static str,
    pub handle: Handle<Agent>,
    events: Events<Event>,
    /// Events seen but not yet waited for.
    backlog: Vec<Event>,
    /// Everything seen, for failure messages.
    history: Vec<String>,
}

impl Party {
    /// Starts `user`'s agent against `kamailio` and waits until registered.
    pub async fn registered(kamailio: &Kamailio, user: &'static str, seed: u64) -> Self {
        let agent = Agent::new(user, kamailio.password(user), seed);
        let (handle, events) = transport::spawn(agent, transport_config(kamailio, seed)).expect("transport config");
        let mut party = Self { user, handle, events, backlog: Vec::new(), history: Vec::new() };
        party
            .wait("registered", |e| match e {
                Event::Registered { .. } => Some(()),
                Event::RegistrationFailed { status, reason } => {
                    panic!("{user}: registration failed: {status} {reason}")
                }
                _ => None,
            })
            .await;
        party
    }

    /// Waits for the first event (already seen or still to come) that
    /// `pick` accepts, and consumes it.
    pub async fn wait<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some((i, v)) = self.backlog.iter().enumerate().find_map(|(i, e)| pick(e).map(|v| (i, v))) {
            self.backlog.remove(i);
            return v;
        }
        let user = self.user;
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.recv()).await;
            match next {
                Ok(Some(TransportEvent::Engine(event))) => {
                    self.history.push(format!("{event:?}"));
                    if let Some(v) = pick(&event) {
                        return v;
                    }
                    self.backlog.push(event);
                }
                Ok(Some(other)) => self.history.push(other.to_string()),
                Ok(None) => panic!("{user}: events ended while waiting for {what}; saw {:#?}", self.history),
                Err(_) => panic!("{user}: no {what} within {GUARD:?}; saw {:#?}", self.history),
            }
        }
    }

    /// Runs `f` on the agent in its transport task.
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Agent, std::time::Instant) -> R + Send + 'static,
    ) -> R {
        self.handle.with(f).await.expect("transport running")
    }

    /// Waits for `call` to reach Connected.
    pub async fn connected(&mut self, call: CallId) {
        self.wait(&format!("{call} connected"), |e| {
            matches!(e, Event::Connected { call: c } if *c == call).then_some(())
        })
        .await;
    }

    /// Waits for `call` to end, and returns why.
    pub async fn ended(&mut self, call: CallId) -> EndReason {
        self.wait(&format!("{call} to end"), |e| match e {
            Event::Ended { call: c, reason, .. } if *c == call => Some(*reason),
            _ => None,
        })
        .await
    }

    /// Waits for an incoming call, returning its id and details.
    pub async fn incoming(&mut self) -> (CallId, Box<warmline_sip::ua::IncomingCall>) {
        self.wait("an incoming call", |e| match e {
            Event::IncomingCall { call, info } => Some((*call, info.clone())),
            _ => None,
        })
        .await
    }

    /// The calls the UA still has, leaving out those that already ended
    /// and only wait for the answer to their BYE.
    pub async fn calls(&self) -> Vec<CallId> {
        self.with(|a, _| a.ua.calls().into_iter().filter(|c| c.state != CallState::Terminating).map(|c| c.id).collect())
            .await
    }

    /// Hangs up whatever is left, un-REGISTERs and stops the transport.
    pub async fn shut_down(mut self) {
        self.handle
            .shutdown(|a, now| a.shutdown(now), |a: &Agent| a.finished(), SHUTDOWN_WITHIN)
            .await
            .expect("transport running");
        self.wait("un-REGISTER", |e| matches!(e, Event::Unregistered).then_some(())).await;
    }
}

impl Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party").field("user", &self.user).field("backlog", &self.backlog).finish()
    }
}
