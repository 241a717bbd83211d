//! SIP user agent for Warmline, spoken over WebSocket (RFC 7118).
//!
//! The core is sans-IO: [`UserAgent`] is fed `(now, input)` and drained of
//! outputs (frames to send, events for the agent, a request to reconnect).
//! It never reads the clock, opens a socket or spawns a task, so tests
//! drive it on simulated time and a 32-second timeout runs in microseconds.
//! The transport (a tokio WebSocket shell, or a test's simulated network)
//! moves frames and time and holds no SIP state; the contract between them
//! is [`Engine`].
//!
//! # The run loop
//!
//! Feed what happened, drain every output, sleep until
//! [`Engine::poll_timeout`] or the next frame, repeat. Commands from the
//! owner (dial, answer, hold, transfer ...) are methods taking `now`; what
//! they cause comes out of the same loop.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use warmline_sip::ua::{Config, EndReason, Event};
//! use warmline_sip::{Engine, Flow, HeaderName, Input, Message, Output, Response, Transport, UserAgent, parse};
//!
//! /// One turn: everything the user agent has to say.
//! fn drain(ua: &mut UserAgent, frames: &mut Vec<Vec<u8>>, events: &mut Vec<Event>) {
//!     while let Some(output) = ua.poll_output() {
//!         match output {
//!             Output::Transmit(frame) => frames.push(frame), // one WebSocket message
//!             Output::Event(event) => events.push(event),    // for the agent session
//!             Output::Reconnect { .. } => {}                  // close; connect to the next SBC
//!             _ => {}
//!         }
//!     }
//! }
//!
//! let registrar = "sip:example.com".parse()?;
//! // The password comes from the OS keyring, in memory; it is never logged.
//! let mut config = Config::new("sip:agent42@example.com".parse()?, "agent42", "s3cret", registrar);
//! config.seed = 42; // every tag, branch and Call-ID derives from it: use a random one
//! let mut ua = UserAgent::new(config);
//! let (mut frames, mut events) = (Vec::new(), Vec::new());
//! let start = Instant::now();
//!
//! // The transport connected: the user agent registers on the new flow.
//! let flow = Flow {
//!     transport: Transport::Wss,
//!     local_host: "df7jal23ls0d.invalid".into(),
//!     server: "wss://sbc.example.com".into(),
//!     server_index: 0,
//! };
//! ua.handle_input(start, Input::Connected(flow));
//! drain(&mut ua, &mut frames, &mut events);
//! let Ok(Message::Request(register)) = parse(&frames[0]) else { unreachable!("a REGISTER") };
//!
//! // The registrar accepts (a real one challenges first: 401/407 digest is
//! // answered inside, MD5 or SHA-256).
//! let mut ok = Response::to_request(&register, 200);
//! ok.headers.set(HeaderName::To, "<sip:agent42@example.com>;tag=r1");
//! ok.headers.push(HeaderName::Expires, "600");
//! ua.handle_input(start, Input::Received(&ok.to_bytes()));
//! drain(&mut ua, &mut frames, &mut events);
//! assert_eq!(events.last(), Some(&Event::Registered { expires: Duration::from_secs(600) }));
//!
//! // Dial with the media layer's SDP offer; the INVITE goes out at once.
//! let offer = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n".to_vec();
//! let call = ua.dial(start, "sip:expert@example.com".parse()?, offer)?;
//! drain(&mut ua, &mut frames, &mut events);
//! assert!(frames.last().is_some_and(|f| f.starts_with(b"INVITE sip:expert@example.com SIP/2.0")));
//!
//! // Nobody answers. The transport sleeps until each deadline and says so.
//! let mut now = start;
//! while !events.iter().any(|e| matches!(e, Event::Ended { .. })) {
//!     now = ua.poll_timeout().expect("a timer is armed");
//!     ua.handle_timeout(now);
//!     drain(&mut ua, &mut frames, &mut events);
//! }
//! assert_eq!(events.last(), Some(&Event::Ended { call, reason: EndReason::Timeout, status: Some(408) }));
//! assert_eq!(now - start, Duration::from_secs(32), "Timer B, 64*T1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The media crate stays behind a narrow interface: SDP bodies pass through
//! as bytes ([`ua::Event::OfferReceived`], [`ua::Event::OfferNeeded`],
//! [`ua::Event::AnswerReceived`] one way; `answer`, `accept_answer`,
//! `provide_offer` the other), and only the direction attribute is read
//! here, to tell hold from resume.
//!
//! # Layers
//!
//! Bottom up: [`message`] (parse and serialize), [`transaction`] (RFC 3261
//! section 17 with RFC 6026, states named as in the RFC), [`dialog`]
//! (section 12), [`auth`] (digest), [`registration`] (with RFC 5626
//! outbound), [`call_data`] (what the contact center says about a caller),
//! and [`ua`]: the user agent, with the call session split one file per
//! operation (invite, answer, cancel, bye, hold, prack, session timers,
//! refer, replaces, info) over its offer/answer state.
//!
//! Why it is built this way: a tokio-bound stack cannot be driven on
//! simulated time, and the transfer flows (REFER, NOTIFY, Replaces, the
//! BYEs that must follow) are the heart of the product, so they are tested
//! end to end between several user agents and a simulated SBC, on simulated
//! time, every run the same. Why our own parser: the RFC 4475 torture
//! messages are the bar, errors must be typed (the `sip lint` command and
//! 400 responses report them), and no input may panic; the fuzz target in
//! `fuzz/` holds the parser to that.
//!
//! # Messages
//!
//! A WebSocket frame holds exactly one message, so [`parse`] takes the frame
//! and returns a [`Message`] or an [`Error`] saying what was wrong. A message
//! that parses has valid Via, From, To, Call-ID and CSeq headers, so the
//! typed accessors on [`Headers`] will not fail on it:
//!
//! ```
//! use warmline_sip::{Message, Method, parse};
//!
//! let frame = b"INVITE sip:agent@example.com SIP/2.0\r\n\
//!     v: SIP/2.0/WSS sbc.example.com;branch=z9hG4bK776asdhds\r\n\
//!     f: \"Customer\" <sip:+15551234@example.com>;tag=1928301774\r\n\
//!     t: <sip:agent@example.com>\r\n\
//!     i: a84b4c76e66710@sbc.example.com\r\n\
//!     CSeq: 314159 INVITE\r\n\
//!     X-Queue: billing\r\n\
//!     l: 0\r\n\r\n";
//! let Message::Request(invite) = parse(frame)? else { unreachable!("a request") };
//! assert_eq!(invite.method, Method::Invite);
//! assert_eq!(invite.headers.from()?.display_name.as_deref(), Some("Customer"));
//! assert_eq!(invite.headers.top_via()?.branch(), Some("z9hG4bK776asdhds"));
//! // Serializing writes canonical names, keeps unknown headers, and computes
//! // Content-Length from the body.
//! let wire = String::from_utf8(invite.to_bytes())?;
//! assert!(wire.contains("\r\nX-Queue: billing\r\n") && wire.contains("\r\nFrom: "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod call_data;
pub mod dialog;
pub mod engine;
pub mod message;
pub mod pidf;
pub mod publication;
pub mod registration;
pub mod transaction;
#[cfg(feature = "transport")]
pub mod transport;
pub mod ua;

pub use engine::{Engine, Flow, Input, Output};
pub use message::{
    CSeq, Contact, Frame, Header, HeaderName, Headers, Host, Limits, Message, Method, NameAddr, Request, Response,
    SipUri, Transport, Uri, Via, parse, parse_stream, parse_with,
};
pub use ua::UserAgent;

/// Errors from the SIP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is larger than [`Limits::max_message_bytes`].
    #[error("message larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// One header value is longer than [`Limits::max_header_bytes`].
    #[error("header longer than the {limit}-byte limit")]
    HeaderTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// More header fields than [`Limits::max_headers`].
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// No empty line ends the header section.
    #[error("incomplete message: no empty line after the headers")]
    Incomplete,
    /// The start line and headers are not UTF-8.
    #[error("the header section is not valid UTF-8")]
    NotUtf8,
    /// The request line or status line is malformed.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// A SIP version other than 2.0 (answered with 505).
    #[error("unsupported SIP version {0:?}")]
    UnsupportedVersion(String),
    /// The Request-URI is malformed or not allowed.
    #[error("malformed Request-URI: {0}")]
    RequestUri(&'static str),
    /// A header line cannot be split into a name and a value.
    #[error("malformed header line: {0}")]
    HeaderLine(&'static str),
    /// A header value does not match its grammar.
    #[error("malformed {name} header: {reason}")]
    Header {
        /// The header's canonical name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header every message needs is missing.
    #[error("missing {0} header")]
    MissingHeader(String),
    /// A header allowed once appears more than once.
    #[error("more than one {0} header")]
    DuplicateHeader(String),
    /// Content-Length promises more bytes than the frame holds.
    #[error("Content-Length is {declared} but only {actual} body bytes follow")]
    BodyTooShort {
        /// The Content-Length value.
        declared: usize,
        /// The bytes actually present.
        actual: usize,
    },
    /// A stream transport needs Content-Length to find the end of a message.
    #[error("Content-Length is required on a stream transport")]
    MissingContentLength,
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    /// A transaction user asked for something its transaction's state does
    /// not allow (a response after the final one).
    #[error("not allowed in transaction state {state}")]
    TransactionState {
        /// The state the transaction is in.
        state: &'static str,
    },
    /// An in-dialog request whose CSeq is not above the last one (answered
    /// with 500, RFC 3261 12.2.2).
    #[error("CSeq {got} is not above the dialog's last {last}")]
    CSeqOutOfOrder {
        /// The request's CSeq number.
        got: u32,
        /// The highest number seen so far.
        last: u32,
    },
    /// A URI given to [`Uri`]'s `FromStr` is malformed.
    #[error("malformed URI: {reason}")]
    Uri {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// The status code a UAS answers a request that failed this way with, when
    /// enough of it parsed to answer at all (RFC 3261 8.2, 16.3, 21.5.14).
    pub fn status_code(&self) -> u16 {
        match self {
            Error::UnsupportedVersion(_) => 505,
            Error::TooLarge { .. } => 513,
            Error::CSeqOutOfOrder { .. } | Error::TransactionState { .. } => 500,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_status_a_uas_answers_with() {
        assert_eq!(Error::UnsupportedVersion("SIP/7.0".into()).status_code(), 505);
        assert_eq!(Error::TooLarge { limit: 1 }.status_code(), 513);
        assert_eq!(Error::CSeqMismatch.status_code(), 400);
        assert_eq!(Error::CSeqOutOfOrder { got: 1, last: 1 }.status_code(), 500);
    }
}
