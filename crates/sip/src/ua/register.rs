//! Registration on each flow: a REGISTER on every [`Input::Connected`]
//! (re-registering after a reconnect or a failover, with the same Call-ID,
//! instance and reg-id), the registrar's answers turned into events, and
//! what follows a successful one: keep-alives, and a target refresh for
//! every call that lived through the reconnect.
//!
//! [`Input::Connected`]: crate::engine::Input::Connected

use std::time::Instant;

use super::UserAgent;
use super::event::{CallState, Event};
use crate::engine::{Flow, Output};
use crate::message::{HeaderName, Response};
use crate::registration::{Event as RegEvent, Output as RegOutput, Registration, RegistrationConfig};

impl UserAgent {
    pub(super) fn on_connected(&mut self, now: Instant, flow: Flow) {
        let reconnect = self.flow.is_some();
        self.flow = Some(flow);
        self.connected = true;
        self.txs.reliable = self.reliable();
        self.keepalive.stop();
        if reconnect {
            self.republish_after_register = true;
            let calls: Vec<_> =
                self.calls.values().filter(|c| c.is_connected() && !c.needs_refresh).map(|c| c.id).collect();
            for id in calls {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.needs_refresh = true;
                }
                self.emit(Event::CallReconnecting { call: id });
            }
        }
        if self.shutting_down {
            return;
        }
        let contact = self.contact_uri().parse().unwrap_or_else(|_| self.config.aor.clone());
        let (host, transport) = (self.local_host().to_owned(), self.transport());
        let reliable = self.reliable();
        let route = self.proxy_route();
        match self.registration.as_mut() {
            Some(registration) => registration.rebind(host, contact, transport, reliable),
            None => {
                let c = &self.config;
                let config = RegistrationConfig {
                    registrar: c.registrar.clone(),
                    aor: c.aor.clone(),
                    contact,
                    instance_id: c.outbound.as_ref().map(|o| format!("<{}>", o.instance_id)),
                    reg_id: c.outbound.as_ref().map(|o| o.reg_id),
                    expires: c.expires,
                    username: c.auth_user.clone(),
                    password: c.password.clone(),
                    via_host: host,
                    transport,
                    reliable,
                    call_id: self.reg_call_id.clone(),
                    from_tag: self.reg_tag.clone(),
                    seed: self.rng.seed(),
                };
                self.registration = Some(Registration::new(config));
            }
        }
        if let Some(registration) = self.registration.as_mut() {
            registration.set_route(route);
            registration.register(now);
        }
        self.emit(Event::Registering);
        self.drain_registration(now);
    }

    /// The flow is gone (closed, or judged dead). Calls stay; they hear
    /// about it once.
    pub(super) fn on_disconnected(&mut self, reason: String) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.keepalive.stop();
        self.emit(Event::Reconnecting { reason });
        let calls: Vec<_> =
            self.calls.values().filter(|c| c.is_connected() && !c.needs_refresh).map(|c| c.id).collect();
        for id in calls {
            if let Some(c) = self.calls.get_mut(&id) {
                c.needs_refresh = true;
            }
            self.emit(Event::CallReconnecting { call: id });
        }
    }

    /// Asks the transport for a new connection.
    pub(super) fn flow_failed(&mut self, reason: String) {
        if !self.connected {
            return;
        }
        self.emit(Event::FlowFailed { reason: reason.clone() });
        self.outputs.push_back(Output::Reconnect { reason: reason.clone() });
        self.on_disconnected(reason);
    }

    pub(super) fn on_register_response(&mut self, now: Instant, response: Response) {
        let flow_timer = if (200..300).contains(&response.status) {
            response.headers.get(&HeaderName::Other("Flow-Timer".into())).and_then(|v| v.trim().parse::<u32>().ok())
        } else {
            None
        };
        if let Some(registration) = self.registration.as_mut() {
            registration.handle_input(now, response);
        }
        self.drain_registration_with(now, flow_timer);
    }

    pub(super) fn registration_timeout(&mut self, now: Instant) {
        let due = self.registration.as_ref().and_then(Registration::poll_timeout).is_some_and(|t| t <= now);
        if due {
            let refresh = self.registration.as_ref().is_some_and(Registration::is_registered);
            if let Some(registration) = self.registration.as_mut() {
                registration.handle_timeout(now);
            }
            if refresh && !self.registration.as_ref().is_some_and(Registration::is_registered) {
                self.emit(Event::Registering);
            }
            self.drain_registration(now);
        }
    }

    fn drain_registration(&mut self, now: Instant) {
        self.drain_registration_with(now, None);
    }

    fn drain_registration_with(&mut self, now: Instant, flow_timer: Option<u32>) {
        while let Some(out) = self.registration.as_mut().and_then(Registration::poll_output) {
            match out {
                RegOutput::Transmit(bytes) => {
                    if self.connected {
                        self.transmit(bytes);
                    }
                }
                RegOutput::Event(RegEvent::Registered { expires }) => {
                    self.emit(Event::Registered { expires });
                    self.start_keepalive(now, flow_timer);
                    self.refresh_targets(now);
                    if std::mem::take(&mut self.republish_after_register) {
                        self.republish(now);
                    }
                }
                RegOutput::Event(RegEvent::Failed { status, reason }) => {
                    self.emit(Event::RegistrationFailed { status, reason: reason.clone() });
                    // The registrar is not answering, or is overloaded: the
                    // next server may do better. Wrong credentials would not.
                    if status == 408 || (500..600).contains(&status) {
                        self.flow_failed(format!("the registrar answered {status} {reason}"));
                    }
                }
                RegOutput::Event(RegEvent::Unregistered) => self.emit(Event::Unregistered),
            }
        }
    }

    /// After re-registering on a new flow, every call that lived through
    /// the reconnect tells the far end our new Contact.
    fn refresh_targets(&mut self, now: Instant) {
        let calls: Vec<_> =
            self.calls.values().filter(|c| c.needs_refresh && c.state == CallState::Connected).map(|c| c.id).collect();
        for id in calls {
            self.target_refresh(now, id);
        }
    }

    /// Hangs up every call and removes the binding (Expires: 0). The
    /// transport may close once [`Event::Unregistered`] (or a failure)
    /// comes out.
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let calls: Vec<_> = self.calls.keys().copied().collect();
        for id in calls {
            let _ = self.hangup(now, id);
        }
        self.keepalive.stop();
        self.unpublish(now);
        if self.connected
            && let Some(registration) = self.registration.as_mut()
        {
            registration.unregister(now);
        }
        self.drain_registration(now);
        self.flush(now);
    }
}
