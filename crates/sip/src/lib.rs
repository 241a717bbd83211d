//! SIP user agent for Warmline, spoken over WebSocket (RFC 7118).
//!
//! The core is sans-IO: it is fed `(now, input)` and drained of outputs
//! (bytes to transmit, timers to arm, events for the agent). It never reads
//! the clock, opens a socket or spawns a task, so tests drive it on
//! simulated time and a 32-second transaction timeout runs in microseconds.
//! A thin tokio transport beside it (not written yet) will own the
//! WebSocket and the timers.
//!
//! Layers, bottom up: [`message`] (parse and serialize), [`transaction`]
//! (RFC 3261 section 17), [`dialog`] (section 12), [`registration`], and the
//! call session with offer/answer and transfer (REFER, Replaces), still to
//! come.
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
//!
//! # Transactions: the run loop
//!
//! A [`transaction::ClientTransaction`] sends a request and retransmits it
//! until answered; the owner moves bytes and time, nothing else. Time is an
//! argument, so this loop runs on simulated time in tests and on a tokio
//! timer in the transport:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use warmline_sip::transaction::{ClientTransaction, Output, Timers};
//! use warmline_sip::{HeaderName, Method, Request};
//!
//! let mut options = Request::new(Method::Options, "sip:sbc.example.com".parse()?);
//! options.headers.push(HeaderName::Via, "SIP/2.0/WSS agent.invalid;branch=z9hG4bK1");
//! options.headers.push(HeaderName::From, "<sip:agent@example.com>;tag=1");
//! options.headers.push(HeaderName::To, "<sip:sbc.example.com>");
//! options.headers.push(HeaderName::CallId, "ping-1@agent.invalid");
//! options.headers.push(HeaderName::CSeq, "1 OPTIONS");
//!
//! let start = Instant::now();
//! // WebSocket is reliable: no retransmissions, only Timer F.
//! let mut tx = ClientTransaction::new(start, options, true, Timers::default());
//! let mut now = start;
//! let mut timed_out = false;
//! loop {
//!     while let Some(output) = tx.poll_output() {
//!         match output {
//!             Output::Transmit(_bytes) => {} // one WebSocket message
//!             Output::Response(_response) => {}
//!             Output::TimedOut => timed_out = true,
//!             _ => {}
//!         }
//!     }
//!     // A response would come in here through `tx.handle_input(now, response)`.
//!     let Some(deadline) = tx.poll_timeout() else { break };
//!     now = deadline; // the transport sleeps until then
//!     tx.handle_timeout(now);
//! }
//! assert!(timed_out && now - start == Duration::from_secs(32), "Timer F = 64*T1");
//! # Ok::<(), warmline_sip::Error>(())
//! ```
//!
//! [`dialog::Dialog`] holds what a call's later requests are built from
//! (route set, remote target, CSeq order). [`registration::Registration`]
//! keeps a binding alive with [`auth`] digest credentials (MD5 and SHA-256,
//! nonce reuse, `stale=true`), refreshes it before expiry and removes it on
//! shutdown. The call session will sit above these.
//!
//! Why our own parser: the RFC 4475 torture messages are the bar, errors must
//! be typed (the `sip lint` command and 400 responses report them), and no
//! input may panic; the fuzz target in `fuzz/` holds the parser to that.
#![deny(missing_docs)]

pub mod auth;
pub mod call_data;
pub mod dialog;
pub mod engine;
pub mod message;
pub mod registration;
pub mod transaction;

pub use engine::{Engine, Flow, Input, Output};
pub use message::{
    CSeq, Contact, Frame, Header, HeaderName, Headers, Host, Limits, Message, Method, NameAddr, Request, Response,
    SipUri, Transport, Uri, Via, parse, parse_stream, parse_with,
};

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
