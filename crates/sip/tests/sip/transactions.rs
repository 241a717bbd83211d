//! A client and a server transaction over a simulated lossy UDP link, on
//! simulated time: seeded loss and jitter, so each run is the same every
//! time and a 32-second exchange takes microseconds.

use std::time::{Duration, Instant};

use warmline_sip::transaction::{ClientTransaction, Output, ServerTransaction, Timers};
use warmline_sip::{HeaderName, Message, Method, Request, Response, Uri, parse};

/// xorshift64*: enough randomness for loss and jitter, and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Server,
    Client,
}

struct Link {
    rng: Rng,
    loss_percent: u64,
    in_flight: Vec<(Instant, To, Vec<u8>)>,
}

impl Link {
    fn send(&mut self, now: Instant, to: To, bytes: Vec<u8>) {
        if !self.rng.chance(self.loss_percent) {
            let jitter = Duration::from_millis(20 + self.rng.next() % 80);
            self.in_flight.push((now + jitter, to, bytes));
        }
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|(t, _, _)| *t).min()
    }

    fn take_due(&mut self, now: Instant) -> Vec<(To, Vec<u8>)> {
        let (due, rest) = self.in_flight.drain(..).partition::<Vec<_>, _>(|(t, _, _)| *t <= now);
        self.in_flight = rest;
        due.into_iter().map(|(_, to, b)| (to, b)).collect()
    }
}

fn invite() -> Request {
    let uri: Uri = "sip:expert@example.com".parse().expect("uri");
    let mut r = Request::new(Method::Invite, uri);
    r.headers.push(HeaderName::Via, "SIP/2.0/UDP agent.invalid;branch=z9hG4bKsim");
    r.headers.push(HeaderName::From, "<sip:agent@example.com>;tag=a");
    r.headers.push(HeaderName::To, "<sip:expert@example.com>");
    r.headers.push(HeaderName::CallId, "sim@agent.invalid");
    r.headers.push(HeaderName::CSeq, "1 INVITE");
    r
}

/// What happened, in order, with simulated milliseconds.
type Log = Vec<(u128, String)>;

/// The callee's user answers 486 Busy Here two seconds in.
fn busy_call(seed: u64, loss_percent: u64) -> Log {
    let t0 = Instant::now();
    let mut now = t0;
    let mut link = Link { rng: Rng(seed), loss_percent, in_flight: Vec::new() };
    let mut client = ClientTransaction::new(now, invite(), false, Timers::default());
    let mut server: Option<ServerTransaction> = None;
    let mut answered = false;
    let mut log = Log::new();
    let answer_at = t0 + Duration::from_secs(2);
    while now < t0 + Duration::from_secs(120) {
        let ms = now.duration_since(t0).as_millis();
        while let Some(o) = client.poll_output() {
            match o {
                Output::Transmit(b) => link.send(now, To::Server, b),
                Output::Response(r) => log.push((ms, format!("client got {}", r.status))),
                other => log.push((ms, format!("client {other:?}"))),
            }
        }
        while let Some(o) = server.as_mut().and_then(ServerTransaction::poll_output) {
            match o {
                Output::Transmit(b) => link.send(now, To::Client, b),
                other => log.push((ms, format!("server {other:?}"))),
            }
        }
        if client.is_terminated() && server.as_ref().is_some_and(ServerTransaction::is_terminated) {
            break;
        }
        let tu = (!answered && server.is_some()).then_some(answer_at);
        let next = [
            client.poll_timeout(),
            server.as_ref().and_then(ServerTransaction::poll_timeout),
            link.next_delivery(),
            tu,
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        now = next.max(now);
        for (to, bytes) in link.take_due(now) {
            match (to, parse(&bytes).expect("transactions send well-formed messages")) {
                (To::Server, Message::Request(r)) => match server.as_mut() {
                    Some(s) => s.handle_input(now, r),
                    None => server = Some(ServerTransaction::new(now, r, false, Timers::default())),
                },
                (To::Client, Message::Response(r)) => client.handle_input(now, r),
                other => panic!("unexpected delivery {other:?}"),
            }
        }
        if let Some(s) = server.as_mut().filter(|_| !answered && now >= answer_at) {
            let mut busy = Response::to_request(s.request(), 486);
            busy.headers.set(HeaderName::To, "<sip:expert@example.com>;tag=b");
            s.respond(now, busy).expect("final response from Proceeding");
            answered = true;
        }
        client.handle_timeout(now);
        if let Some(s) = server.as_mut() {
            s.handle_timeout(now);
        }
    }
    log
}

#[test]
fn busy_call_completes_under_loss_with_one_final_for_the_user() {
    for seed in 1..=40 {
        let log = busy_call(seed, 25);
        let finals = log.iter().filter(|(_, e)| e == "client got 486").count();
        assert_eq!(finals, 1, "seed {seed}: the user sees the 486 exactly once: {log:?}");
        let ended = |who: &str| log.iter().any(|(_, e)| *e == format!("{who} Terminated"));
        assert!(ended("client") && ended("server"), "seed {seed}: both transactions end: {log:?}");
        assert!(!log.iter().any(|(_, e)| e.contains("TimedOut")), "seed {seed}: nothing times out: {log:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    assert_eq!(busy_call(7, 30), busy_call(7, 30));
}

#[test]
fn a_dead_link_ends_in_timer_b_at_32_s() {
    let log = busy_call(3, 100);
    assert!(log.contains(&(32_000, "client TimedOut".to_owned())), "{log:?}");
}
