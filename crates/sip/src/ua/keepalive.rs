//! RFC 5626 keep-alives over the flow: a CRLF CRLF ping at a random 80-100%
//! of the interval (the registrar's Flow-Timer, else our own), and a CRLF
//! pong expected within the pong timeout. A missing pong means the flow is
//! dead even if the socket looks open (a NAT or a load balancer dropped
//! it), so the user agent asks its transport to reconnect.

use std::time::{Duration, Instant};

use super::UserAgent;
use super::rng::Rng;
use crate::engine::Output;

#[derive(Debug, Default)]
pub(crate) struct KeepAlive {
    interval: Option<Duration>,
    pong_timeout: Duration,
    next_ping: Option<Instant>,
    pong_due: Option<Instant>,
}

/// What a keep-alive timer asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    Ping,
    Dead,
}

impl KeepAlive {
    /// Starts (or restarts) pinging every `interval`.
    pub(crate) fn start(&mut self, now: Instant, interval: Duration, pong_timeout: Duration, rng: &mut Rng) {
        self.interval = Some(interval);
        self.pong_timeout = pong_timeout;
        self.pong_due = None;
        self.next_ping = Some(now + jitter(interval, rng));
    }

    pub(crate) fn stop(&mut self) {
        *self = Self::default();
    }

    /// A CRLF came back.
    pub(crate) fn pong(&mut self) {
        self.pong_due = None;
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [self.next_ping, self.pong_due].into_iter().flatten().min()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, rng: &mut Rng) -> Action {
        if self.pong_due.is_some_and(|t| t <= now) {
            self.stop();
            return Action::Dead;
        }
        match (self.next_ping, self.interval) {
            (Some(at), Some(interval)) if at <= now => {
                self.pong_due = Some(now + self.pong_timeout);
                self.next_ping = Some(now + jitter(interval, rng));
                Action::Ping
            }
            _ => Action::None,
        }
    }
}

/// A random 80-100% of `interval` (RFC 5626 4.4.1), so that many clients
/// behind one NAT do not ping in step.
fn jitter(interval: Duration, rng: &mut Rng) -> Duration {
    let min = interval.mul_f64(0.8);
    rng.between(min, interval)
}

impl UserAgent {
    pub(super) fn start_keepalive(&mut self, now: Instant, flow_timer: Option<u32>) {
        let Some(outbound) = &self.config.outbound else { return };
        let interval = flow_timer.map_or(outbound.keepalive, |s| Duration::from_secs(s.into()));
        let pong = outbound.pong_timeout;
        self.keepalive.start(now, interval, pong, &mut self.rng);
    }

    pub(super) fn keepalive_timeout(&mut self, now: Instant) {
        match self.keepalive.handle_timeout(now, &mut self.rng) {
            Action::None => {}
            Action::Ping => self.outputs.push_back(Output::Transmit(b"\r\n\r\n".to_vec())),
            Action::Dead => self.flow_failed("no keep-alive pong within the timeout".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_within_80_to_100_percent_and_a_missing_pong_is_death() {
        let t0 = Instant::now();
        let mut rng = Rng::new(3);
        let mut k = KeepAlive::default();
        k.start(t0, Duration::from_secs(30), Duration::from_secs(10), &mut rng);
        let first = k.poll_timeout().expect("a ping is scheduled");
        assert!(first >= t0 + Duration::from_secs(24) && first <= t0 + Duration::from_secs(30));
        assert_eq!(k.handle_timeout(first, &mut rng), Action::Ping);
        k.pong();
        let second = k.poll_timeout().expect("next ping");
        assert_eq!(k.handle_timeout(second, &mut rng), Action::Ping);
        assert_eq!(k.poll_timeout(), Some(second + Duration::from_secs(10)), "the pong deadline comes first");
        assert_eq!(k.handle_timeout(second + Duration::from_secs(10), &mut rng), Action::Dead);
        assert_eq!(k.poll_timeout(), None, "a dead flow is not pinged");
    }
}
