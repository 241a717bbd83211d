//! INFO and OPTIONS. INFO carries DTMF the old way (application/dtmf-relay
//! as SBCs send it, or application/dtmf); OPTIONS, in or out of a dialog,
//! is answered 200 with what we allow, accept and support.

use std::time::{Duration, Instant};

use super::event::{CallId, CallState, Event};
use super::transactions::{Op, Owner, TxId};
use super::{ACCEPT, ALLOW, Error, SUPPORTED, UserAgent};
use crate::message::scan::trim_wsp;
use crate::message::{HeaderName, Method, Request};

impl UserAgent {
    pub(super) fn on_info(&mut self, now: Instant, tx: TxId, id: CallId, request: &Request) {
        if request.body.is_empty() {
            return self.reply(now, tx, 200); // an INFO used as a ping
        }
        let media = request
            .headers
            .get(&HeaderName::ContentType)
            .map(|v| trim_wsp(v.split(';').next().unwrap_or("")).to_ascii_lowercase());
        let dtmf = match media.as_deref() {
            Some("application/dtmf-relay") => dtmf_relay(&request.body),
            Some("application/dtmf") => {
                let text = String::from_utf8_lossy(&request.body);
                digit(trim_wsp(&text)).map(|d| (d, None))
            }
            _ => return self.reply(now, tx, 415),
        };
        let Some((digit, duration)) = dtmf else { return self.reply(now, tx, 400) };
        self.reply(now, tx, 200);
        self.emit(Event::Dtmf { call: id, digit, duration });
    }

    pub(super) fn on_options(&mut self, now: Instant, tx: TxId) {
        let contact = self.contact();
        self.reply_with(now, tx, 200, |r| {
            r.headers.push(HeaderName::Allow, ALLOW);
            r.headers.push(HeaderName::Accept, ACCEPT);
            r.headers.push(HeaderName::Supported, SUPPORTED);
            r.headers.push(HeaderName::Contact, contact);
        });
    }

    /// Sends a DTMF digit in an INFO (application/dtmf-relay), for peers
    /// that take DTMF in signalling rather than RTP.
    pub fn send_dtmf(&mut self, now: Instant, call: CallId, digit: char, duration: Duration) -> Result<(), Error> {
        if self.calls.get(&call).ok_or(Error::UnknownCall(call))?.state != CallState::Connected {
            return Err(self.wrong_state(call, "DTMF"));
        }
        let Some(signal) = self::digit(&digit.to_string()) else { return Err(self.wrong_state(call, "DTMF")) };
        let mut info = self.in_dialog(call, Method::Info)?;
        info.headers.push(HeaderName::ContentType, "application/dtmf-relay");
        info.body = format!("Signal={signal}\r\nDuration={}\r\n", duration.as_millis()).into_bytes();
        self.send_request(now, info, Owner::Call(call, Op::Info));
        self.flush(now);
        Ok(())
    }

    /// Sends OPTIONS in the call's dialog, to see that the far end still
    /// knows it (a 481 or no answer ends the call).
    pub fn ping(&mut self, now: Instant, call: CallId) -> Result<(), Error> {
        if self.calls.get(&call).ok_or(Error::UnknownCall(call))?.state != CallState::Connected {
            return Err(self.wrong_state(call, "OPTIONS"));
        }
        let mut options = self.in_dialog(call, Method::Options)?;
        options.headers.push(HeaderName::Accept, ACCEPT);
        self.send_request(now, options, Owner::Call(call, Op::Options));
        self.flush(now);
        Ok(())
    }
}

/// `Signal=5` and `Duration=160` lines (the de facto dtmf-relay format).
fn dtmf_relay(body: &[u8]) -> Option<(char, Option<Duration>)> {
    let text = std::str::from_utf8(body).ok()?;
    let (mut signal, mut duration) = (None, None);
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else { continue };
        match trim_wsp(name).to_ascii_lowercase().as_str() {
            "signal" => signal = digit(trim_wsp(value)),
            "duration" => duration = trim_wsp(value).parse::<u64>().ok().map(Duration::from_millis),
            _ => {}
        }
    }
    signal.map(|s| (s, duration))
}

/// One DTMF event: 0-9, *, #, A-D, and 16 (or `!`) for a hook flash.
fn digit(s: &str) -> Option<char> {
    match s {
        "16" | "!" => Some('!'),
        "10" => Some('*'),
        "11" => Some('#'),
        _ => {
            let mut chars = s.chars();
            let c = chars.next()?.to_ascii_uppercase();
            (chars.next().is_none() && (c.is_ascii_digit() || "*#ABCD".contains(c))).then_some(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(dtmf_relay(b"Signal=5\r\nDuration=160\r\n"), Some(('5', Some(Duration::from_millis(160)))));
        assert_eq!(dtmf_relay(b"signal= #\nduration=x"), Some(('#', None)));
        assert_eq!(dtmf_relay(b"Signal=10"), Some(('*', None)));
        assert_eq!(dtmf_relay(b"Signal=55"), None);
        assert_eq!(dtmf_relay(b"Duration=100"), None);
        assert_eq!(digit("a"), Some('A'));
    }
}
