//! The Replaces header (RFC 3891): building it for an attended transfer,
//! and, as the transfer target, matching an incoming INVITE's Replaces to
//! one of our dialogs and ending that dialog once the new call is answered.

use std::time::Instant;

use super::UserAgent;
use super::event::{CallId, CallState, Direction, EndReason};
use crate::dialog::DialogId;
use crate::message::scan::trim_wsp;
use crate::message::{HeaderName, Request};

/// A Replaces value: which dialog, from the point of view of the UA that
/// receives it (to-tag is its own tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replaces {
    pub(crate) call_id: String,
    pub(crate) to_tag: String,
    pub(crate) from_tag: String,
    pub(crate) early_only: bool,
}

impl Replaces {
    /// The Replaces that names our dialog `id` to the peer in it: the peer
    /// receives it, so its tag (our remote tag) is the to-tag.
    pub(crate) fn for_peer_of(id: &DialogId) -> Self {
        Self {
            call_id: id.call_id.clone(),
            to_tag: id.remote_tag.clone(),
            from_tag: id.local_tag.clone(),
            early_only: false,
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let call_id = trim_wsp(parts.next()?).to_owned();
        if call_id.is_empty() {
            return None;
        }
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for p in parts {
            let (name, v) = p.split_once('=').map_or((p, ""), |(n, v)| (n, v));
            match trim_wsp(name).to_ascii_lowercase().as_str() {
                "to-tag" => to_tag = Some(trim_wsp(v).to_owned()),
                "from-tag" => from_tag = Some(trim_wsp(v).to_owned()),
                "early-only" => early_only = true,
                _ => {}
            }
        }
        Some(Self { call_id, to_tag: to_tag?, from_tag: from_tag?, early_only })
    }

    pub(crate) fn value(&self) -> String {
        let early = if self.early_only { ";early-only" } else { "" };
        format!("{};to-tag={};from-tag={}{early}", self.call_id, self.to_tag, self.from_tag)
    }
}

/// Escapes a URI header value (RFC 3261 25.1 `hvalue`): what is not
/// unreserved or `[]/?:+$` becomes `%HH`, so `@ ; =` in a Replaces survive
/// inside a Refer-To URI.
pub(crate) fn escape_hvalue(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/?:+$".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl UserAgent {
    /// Which call an INVITE's Replaces names, by RFC 3891 section 3: none
    /// (no header), a call to replace, or the status to refuse with.
    pub(super) fn check_replaces(&self, request: &Request) -> Result<Option<CallId>, u16> {
        let mut values = request.headers.get_all(&HeaderName::Replaces);
        let Some(value) = values.next() else { return Ok(None) };
        if values.next().is_some() {
            return Err(400);
        }
        let r = Replaces::parse(value).ok_or(400u16)?;
        let found = self.calls.values().find(|c| {
            c.dialog.as_ref().is_some_and(|d| {
                let id = d.id();
                id.call_id == r.call_id && id.local_tag == r.to_tag && id.remote_tag == r.from_tag
            })
        });
        let Some(call) = found else { return Err(481) };
        let early = call.dialog.as_ref().is_some_and(|d| d.is_early());
        match call.state {
            CallState::Terminating => Err(603),
            _ if !early && r.early_only => Err(486),
            _ if !early => Ok(Some(call.id)),
            // An early dialog we did not start is not ours to give away.
            _ if call.direction == Direction::Outgoing => Ok(Some(call.id)),
            _ => Err(481),
        }
    }

    /// The new call is answered: the one it replaces ends (BYE when
    /// confirmed, CANCEL when it was our early call).
    pub(super) fn replace_call(&mut self, now: Instant, old: CallId) {
        let Some(call) = self.calls.get_mut(&old) else { return };
        call.end_as = Some(EndReason::Replaced);
        match call.state {
            CallState::Connected => self.bye_call(now, old, EndReason::Replaced, None),
            CallState::Dialing | CallState::Ringing | CallState::Early => {
                self.cancel_call(now, old);
                self.announce_end(old, EndReason::Replaced, None);
                // The call stays until the INVITE ends, quietly.
                if let Some(call) = self.calls.get_mut(&old) {
                    call.state = CallState::Terminating;
                }
            }
            _ => self.end_call(now, old, EndReason::Replaced, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_round_trips_and_names_the_peer_s_view() {
        let id = DialogId { call_id: "c1@h".into(), local_tag: "mine".into(), remote_tag: "theirs".into() };
        let r = Replaces::for_peer_of(&id);
        assert_eq!(r.value(), "c1@h;to-tag=theirs;from-tag=mine");
        assert_eq!(
            Replaces::parse(" c1@h ; from-tag=mine;to-tag=theirs ;early-only").map(|r| r.early_only),
            Some(true)
        );
        assert_eq!(Replaces::parse(&r.value()), Some(r));
        assert_eq!(Replaces::parse("c1@h;to-tag=a"), None, "both tags are required");
    }

    #[test]
    fn escaping_keeps_a_replaces_inside_one_uri_header() {
        let escaped = escape_hvalue("c1@h;to-tag=a b");
        assert_eq!(escaped, "c1%40h%3Bto-tag%3Da%20b");
        let uri: crate::message::Uri =
            format!("sip:expert@example.com?Replaces={escaped}").parse().expect("a valid URI");
        let back = uri.as_sip().and_then(|u| u.headers.first()).map(|(_, v)| crate::message::unescape(v));
        assert_eq!(back, Some(b"c1@h;to-tag=a b".to_vec()));
    }
}
