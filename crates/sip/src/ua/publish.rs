//! The agent's availability for the contact center's ACD: a PIDF document
//! kept published with PUBLISH ([`crate::publication`]), sent again from
//! scratch after every reconnect (the ACD drops it with the connection),
//! and removed on shutdown before the un-REGISTER.

use std::time::Instant;

use super::UserAgent;
use super::event::Event;
use crate::message::Response;
use crate::pidf::Pidf;
use crate::publication::{Event as PubEvent, Output as PubOutput, Publisher, PublisherConfig};

impl UserAgent {
    /// Publishes whether the agent takes calls: `None` for available,
    /// `Some(note)` for not (`away`, `wrap-up`, `on-call`). Only the latest
    /// state is sent when several changes come while one PUBLISH is in
    /// flight; [`Event::Published`] reports what the ACD holds.
    pub fn publish_availability(&mut self, now: Instant, unavailable: Option<&str>) {
        let entity = self.config.aor.to_string();
        let doc = match unavailable {
            None => Pidf::open(entity),
            Some(note) => Pidf::closed(entity, note),
        };
        if self.publisher.is_none() {
            let c = &self.config;
            let config = PublisherConfig {
                aor: c.aor.clone(),
                expires: c.publish_expires,
                username: c.auth_user.clone(),
                password: c.password.clone(),
                via_host: self.local_host().to_owned(),
                transport: self.transport(),
                reliable: self.reliable(),
                call_id: self.rng.call_id(),
                from_tag: self.rng.tag(),
                seed: self.rng.seed() ^ 0x5055_424c,
            };
            let mut publisher = Publisher::new(config);
            publisher.set_route(self.proxy_route());
            self.publisher = Some(publisher);
        }
        if let Some(p) = self.publisher.as_mut() {
            p.publish(now, doc);
        }
        self.drain_publisher();
    }

    /// After a new flow registered: the ACD may have forgotten us.
    pub(super) fn republish(&mut self, now: Instant) {
        let (host, transport, reliable, route) =
            (self.local_host().to_owned(), self.transport(), self.reliable(), self.proxy_route());
        if let Some(p) = self.publisher.as_mut() {
            p.rebind(host, transport, reliable);
            p.set_route(route);
            p.republish(now);
        }
        self.drain_publisher();
    }

    /// Removes the publication (shutdown).
    pub(super) fn unpublish(&mut self, now: Instant) {
        if let Some(p) = self.publisher.as_mut() {
            p.remove(now);
        }
        self.drain_publisher();
    }

    pub(super) fn on_publish_response(&mut self, now: Instant, response: Response) {
        if let Some(p) = self.publisher.as_mut().filter(|p| p.owns(&response)) {
            p.handle_input(now, response);
        }
        self.drain_publisher();
    }

    pub(super) fn publish_timeout(&mut self, now: Instant) {
        if let Some(p) = self.publisher.as_mut()
            && p.poll_timeout().is_some_and(|t| t <= now)
        {
            p.handle_timeout(now);
        }
        self.drain_publisher();
    }

    pub(super) fn publish_poll_timeout(&self) -> Option<Instant> {
        self.publisher.as_ref().and_then(Publisher::poll_timeout)
    }

    fn drain_publisher(&mut self) {
        while let Some(out) = self.publisher.as_mut().and_then(Publisher::poll_output) {
            match out {
                PubOutput::Transmit(bytes) => {
                    // Without a flow the document waits for the reconnect's
                    // republish.
                    if self.connected {
                        self.transmit(bytes);
                    }
                }
                PubOutput::Event(PubEvent::Published { open, .. }) => self.emit(Event::Published { open }),
                PubOutput::Event(PubEvent::Failed { status, reason }) => {
                    self.emit(Event::PublishFailed { status, reason })
                }
                PubOutput::Event(PubEvent::Removed) => self.emit(Event::Unpublished),
            }
        }
    }
}
