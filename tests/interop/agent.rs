//! A Warmline agent for the interop tests: the real [`UserAgent`] with a
//! canned-SDP stand-in for the media crate in front of it. Whatever the media
//! layer would answer by itself (a re-offer from the far end, an offer a
//! transfer asks for) is answered here; what an agent decides (answer, hold,
//! transfer, hang up) the test does through [`Agent`]'s methods.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use warmline_sip::ua::{CallId, CallState, Config, Error, Event, Outbound, UserAgent};
use warmline_sip::{Engine, Input, Output, Uri};

use crate::kamailio::DOMAIN;

/// A UA plus canned media.
#[derive(Debug)]
pub struct Agent {
    pub ua: UserAgent,
    user: String,
    media_port: u16,
    sdp_version: u32,
    unregistered: bool,
    /// Re-offers the UA could not start yet (an INVITE transaction still in
    /// progress, RFC 3261 14.1), tried again after each input.
    deferred: Vec<(CallId, Direction)>,
    outputs: VecDeque<Output<Event>>,
}

/// The SDP direction attributes the media crate would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an offer asks of us (RFC 3264 6.1).
    pub fn of_offer(sdp: &[u8]) -> Self {
        let text = String::from_utf8_lossy(sdp);
        if text.contains("a=sendonly") {
            Direction::RecvOnly
        } else if text.contains("a=inactive") {
            Direction::Inactive
        } else if text.contains("a=recvonly") {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        }
    }
}

pub fn uri(s: &str) -> Uri {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// An address of record in the test domain.
pub fn aor(user: &str) -> Uri {
    uri(&format!("sip:{user}@{DOMAIN}"))
}

impl Agent {
    /// `user` registering in the test domain with `password`; `seed` makes
    /// its tags, branches and Call-IDs reproducible.
    pub fn new(user: &str, password: String, seed: u64) -> Self {
        let mut config = Config::new(aor(user), user, password, uri(&format!("sip:{DOMAIN}")));
        config.display_name = Some(format!("Warmline {user}"));
        config.expires = 300;
        config.outbound = Some(Outbound::new(format!("urn:uuid:00000000-0000-4000-8000-{:012x}", seed & 0xffff_ffff)));
        config.call_data_headers = vec!["X-Queue".into()];
        config.seed = seed;
        Self {
            ua: UserAgent::new(config),
            user: user.to_owned(),
            media_port: 40_000 + (seed % 1000) as u16 * 2,
            sdp_version: 0,
            unregistered: false,
            deferred: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Canned SDP: one audio stream (PCMU + telephone-event) in `direction`,
    /// with a fresh o= version each time (RFC 3264 8).
    pub fn sdp(&mut self, direction: Direction) -> Vec<u8> {
        self.sdp_version += 1;
        format!(
            "v=0\r\no=warmline-{user} 4242 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na={dir}\r\n",
            user = self.user,
            version = self.sdp_version,
            port = self.media_port,
            dir = direction.attribute(),
        )
        .into_bytes()
    }

    pub fn dial(&mut self, now: Instant, to: Uri) -> CallId {
        let offer = self.sdp(Direction::SendRecv);
        let call = self.ua.dial(now, to, offer).expect("dial");
        self.pump(now);
        call
    }

    pub fn answer(&mut self, now: Instant, call: CallId) {
        let sdp = self.sdp(Direction::SendRecv);
        self.ua.answer(now, call, sdp).expect("answer");
        self.pump(now);
    }

    /// Holds `call` now, or as soon as the UA allows a re-INVITE: right
    /// after answering, the ACK may still be on its way, as when an agent
    /// clicks hold at once.
    pub fn hold(&mut self, now: Instant, call: CallId) {
        self.deferred.push((call, Direction::SendOnly));
        self.pump(now);
    }

    /// Resumes `call`, like [`Agent::hold`].
    pub fn resume(&mut self, now: Instant, call: CallId) {
        self.deferred.push((call, Direction::SendRecv));
        self.pump(now);
    }

    fn try_deferred(&mut self, now: Instant) {
        while let Some(&(call, direction)) = self.deferred.first() {
            let sdp = self.sdp(direction);
            let result = match direction {
                Direction::SendOnly => self.ua.hold(now, call, sdp),
                _ => self.ua.resume(now, call, sdp),
            };
            match result {
                Ok(()) => {
                    self.deferred.remove(0);
                }
                Err(Error::OfferPending(_)) => return,
                Err(e) => panic!("re-offer on {call}: {e}"),
            }
        }
    }

    pub fn hangup(&mut self, now: Instant, call: CallId) {
        self.ua.hangup(now, call).expect("hang up");
        self.pump(now);
    }

    pub fn transfer_blind(&mut self, now: Instant, call: CallId, target: Uri) {
        self.ua.transfer_blind(now, call, target).expect("blind transfer");
        self.pump(now);
    }

    pub fn transfer_attended(&mut self, now: Instant, call: CallId, consult: CallId) {
        self.ua.transfer_attended(now, call, consult).expect("attended transfer");
        self.pump(now);
    }

    /// Hangs up and un-REGISTERs (the transport's shutdown runs this).
    pub fn shutdown(&mut self, now: Instant) {
        self.ua.shutdown(now);
        self.pump(now);
    }

    /// Whether shutdown may close the connection.
    pub fn finished(&self) -> bool {
        self.unregistered
    }

    pub fn state(&self, call: CallId) -> Option<CallState> {
        self.ua.call(call).map(|c| c.state)
    }

    /// Moves the UA's outputs to ours, answering what media would answer.
    fn pump(&mut self, now: Instant) {
        self.try_deferred(now);
        while let Some(output) = self.ua.poll_output() {
            if let Output::Event(event) = &output {
                self.react(now, event);
            }
            self.outputs.push_back(output);
        }
    }

    fn react(&mut self, now: Instant, event: &Event) {
        match event {
            Event::Unregistered | Event::RegistrationFailed { .. } if self.ua.calls().is_empty() => {
                self.unregistered = true
            }
            // A re-offer in an established call (the far end holds or
            // resumes): media answers it. A new call's offer waits for the
            // agent to answer.
            Event::OfferReceived { call, sdp } if self.state(*call) != Some(CallState::Incoming) => {
                let answer = self.sdp(Direction::of_offer(sdp));
                self.ua.accept_answer(now, *call, answer).expect("answer a re-offer");
            }
            // A transfer's new call, or an empty re-INVITE: media offers.
            Event::OfferNeeded { call } if self.state(*call) != Some(CallState::Incoming) => {
                let offer = self.sdp(Direction::SendRecv);
                self.ua.provide_offer(now, *call, offer).expect("provide an offer");
            }
            _ => {}
        }
    }
}

impl Engine for Agent {
    type Event = Event;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.ua.handle_input(now, input);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        self.pump(now);
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ua.poll_timeout()
    }
}

/// How long an agent may take to un-REGISTER on shutdown.
pub const SHUTDOWN_WITHIN: Duration = Duration::from_secs(10);
