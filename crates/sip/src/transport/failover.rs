//! Which server to connect to next, and after how long: pure code on
//! injected randomness, so the policy is tested without sockets or sleeping.
//!
//! The policy, in the words an admin would use:
//! * a connection attempt that fails moves on to the next configured server
//!   at once, as long as some server has not been tried in this round;
//! * once every server has failed, the next round starts after a pause with
//!   full jitter (uniform between zero and a cap that doubles each round,
//!   from [`Backoff::initial`] up to [`Backoff::max`]), so that hundreds of
//!   agents cut off together do not come back together;
//! * a connection that stayed up for [`Backoff::reset_after`] resets all
//!   that; when such a connection drops, the same server is tried again
//!   first (it was fine a moment ago), after a jittered pause of at most
//!   `initial`;
//! * the engine asking for a reconnect (a dead flow) moves to the next
//!   server, like a failed attempt;
//! * it never gives up.

use std::time::Duration;

/// Reconnect timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The longest pause after the first round of failures (and after a good
    /// connection dropped).
    pub initial: Duration,
    /// The cap the doubling pause stops at.
    pub max: Duration,
    /// Full jitter: each pause is uniformly random between zero and its cap.
    /// Without it the pause is the cap itself (tests, or a single client).
    pub jitter: bool,
    /// A connection up at least this long counts as good: the backoff and
    /// the round of servers start afresh when it drops.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: true,
            reset_after: Duration::from_secs(30),
        }
    }
}

/// How the last connection (or attempt) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The attempt did not get as far as an open WebSocket.
    ConnectFailed,
    /// An open connection dropped (closed by the server, reset, read error),
    /// after being up this long.
    Dropped(Duration),
    /// The engine asked for a new flow (keep-alive lost), after the
    /// connection had been up this long.
    Requested(Duration),
}

/// The next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Next {
    /// Index into the configured servers.
    pub server: usize,
    /// How long to wait before connecting.
    pub delay: Duration,
}

/// SplitMix64: a tiny seeded generator, enough for jitter.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, cap]` (nanosecond resolution).
    fn up_to(&mut self, cap: Duration) -> Duration {
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        match nanos.checked_add(1) {
            Some(span) => Duration::from_nanos(self.next() % span),
            None => Duration::from_nanos(self.next()),
        }
    }
}

/// The reconnect policy's state.
#[derive(Debug, Clone)]
pub(crate) struct Failover {
    servers: usize,
    current: usize,
    /// Servers not yet tried in this round, counting the current one.
    untried: usize,
    /// Rounds in which every server failed, since the last good connection.
    round: u32,
    backoff: Backoff,
    rng: Rng,
}

impl Failover {
    /// A policy over `servers` servers (at least one), starting with the
    /// first.
    pub(crate) fn new(servers: usize, backoff: Backoff, seed: u64) -> Self {
        let servers = servers.max(1);
        Self { servers, current: 0, untried: servers, round: 0, backoff, rng: Rng(seed) }
    }

    /// The server being (or about to be) connected to.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// Decides the next attempt after the current one ended.
    pub(crate) fn next(&mut self, ended: Ended) -> Next {
        let up_for = match ended {
            Ended::ConnectFailed => None,
            Ended::Dropped(d) | Ended::Requested(d) => Some(d),
        };
        if up_for.is_some_and(|d| d >= self.backoff.reset_after) {
            self.round = 0;
            self.untried = self.servers;
            if matches!(ended, Ended::Dropped(_)) {
                let delay = self.pause(self.backoff.initial);
                return Next { server: self.current, delay };
            }
        }
        self.untried = self.untried.saturating_sub(1);
        self.current = (self.current + 1) % self.servers;
        if self.untried > 0 {
            return Next { server: self.current, delay: Duration::ZERO };
        }
        self.untried = self.servers;
        self.round = self.round.saturating_add(1);
        let doublings = (self.round - 1).min(31);
        let cap = self.backoff.initial.saturating_mul(1 << doublings).min(self.backoff.max);
        Next { server: self.current, delay: self.pause(cap) }
    }

    fn pause(&mut self, cap: Duration) -> Duration {
        if self.backoff.jitter { self.rng.up_to(cap) } else { cap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn backoff(jitter: bool) -> Backoff {
        Backoff { initial: S, max: 8 * S, jitter, reset_after: 30 * S }
    }

    fn next(f: &mut Failover, ended: Ended) -> (usize, Duration) {
        let n = f.next(ended);
        (n.server, n.delay)
    }

    #[test]
    fn a_failed_server_fails_over_at_once_until_every_server_was_tried() {
        let mut f = Failover::new(3, backoff(false), 1);
        assert_eq!(f.current(), 0);
        assert_eq!(next(&mut f, Ended::ConnectFailed), (1, Duration::ZERO), "second server straight away");
        assert_eq!(next(&mut f, Ended::ConnectFailed), (2, Duration::ZERO));
        assert_eq!(next(&mut f, Ended::ConnectFailed), (0, S), "all three failed: pause before the next round");
        assert_eq!(next(&mut f, Ended::ConnectFailed), (1, Duration::ZERO));
        assert_eq!(next(&mut f, Ended::ConnectFailed), (2, Duration::ZERO));
        assert_eq!(next(&mut f, Ended::ConnectFailed), (0, 2 * S), "the pause doubles each round");
    }

    #[test]
    fn the_pause_doubles_up_to_the_cap_and_never_gives_up() {
        let mut f = Failover::new(1, backoff(false), 1);
        let delays: Vec<Duration> = (0..7).map(|_| f.next(Ended::ConnectFailed).delay).collect();
        assert_eq!(delays, [S, 2 * S, 4 * S, 8 * S, 8 * S, 8 * S, 8 * S]);
        for _ in 0..100 {
            assert_eq!(f.next(Ended::ConnectFailed), Next { server: 0, delay: 8 * S }, "no overflow, no giving up");
        }
    }

    #[test]
    fn a_connection_that_stayed_up_resets_the_backoff_and_retries_its_server_first() {
        let mut f = Failover::new(2, backoff(false), 1);
        for _ in 0..6 {
            f.next(Ended::ConnectFailed);
        }
        assert_eq!(f.current(), 0);
        // Connected to server 0, up for a minute, then dropped.
        assert_eq!(next(&mut f, Ended::Dropped(60 * S)), (0, S), "same server, a short pause");
        assert_eq!(next(&mut f, Ended::ConnectFailed), (1, Duration::ZERO), "then the other one at once");
        assert_eq!(next(&mut f, Ended::ConnectFailed), (0, S), "and the backoff starts from the beginning");
    }

    #[test]
    fn a_connection_dropped_quickly_counts_as_a_failure() {
        // A server that accepts and then hangs up at once must not be
        // hammered in a tight loop.
        let mut f = Failover::new(1, backoff(false), 1);
        let delays: Vec<Duration> = (0..4).map(|_| f.next(Ended::Dropped(Duration::from_millis(10))).delay).collect();
        assert_eq!(delays, [S, 2 * S, 4 * S, 8 * S]);
    }

    #[test]
    fn a_requested_reconnect_moves_to_the_next_server() {
        let mut f = Failover::new(2, backoff(false), 1);
        assert_eq!(next(&mut f, Ended::Requested(120 * S)), (1, Duration::ZERO), "the flow is dead: fail over");
        assert_eq!(next(&mut f, Ended::ConnectFailed), (0, S));
        let mut single = Failover::new(1, backoff(false), 1);
        assert_eq!(next(&mut single, Ended::Requested(120 * S)), (0, S), "one server: the same one, after a pause");
    }

    #[test]
    fn full_jitter_stays_under_the_cap_spreads_out_and_repeats_with_the_seed() {
        let run = |seed| {
            let mut f = Failover::new(1, backoff(true), seed);
            (0..200).map(|_| f.next(Ended::ConnectFailed).delay).collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7), "the same seed gives the same pauses");
        assert_ne!(a, run(8), "another seed gives other pauses");
        for (i, d) in a.iter().enumerate() {
            let cap = S.saturating_mul(1 << i.min(3)).min(8 * S);
            assert!(*d <= cap, "pause {i} is {d:?}, over its cap {cap:?}");
        }
        let late = &a[10..];
        let under_half = late.iter().filter(|d| **d < 4 * S).count();
        assert!((60..130).contains(&under_half), "uniform over [0, 8 s]: {under_half} of 190 under half the cap");
    }

    #[test]
    fn jitter_after_a_good_connection_is_at_most_the_initial_pause() {
        let mut f = Failover::new(3, backoff(true), 99);
        for _ in 0..50 {
            let n = f.next(Ended::Dropped(40 * S));
            assert_eq!(n.server, 0);
            assert!(n.delay <= S, "{:?}", n.delay);
        }
    }
}
