//! What the contact center tells the agent about an incoming call: who is
//! calling, the queue and case identifiers its SBC puts in headers, the
//! User-to-User data (RFC 7433), and whether it asks for auto-answer.

use std::time::Duration;

use crate::Error;
use crate::message::params::parse_header_params;
use crate::message::scan::{Cursor, is_token_char, split_list, trim_wsp, unquote};
use crate::message::{HeaderName, NameAddr, Params, Request, Uri};

/// User-to-User data (RFC 7433).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToUser {
    /// The data as sent (for `encoding=hex`, hex digits).
    pub data: String,
    /// `encoding`, `purpose`, `content` and any other parameters.
    pub params: Params,
}

/// Contact-center data from an incoming INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallData {
    /// The caller: the first P-Asserted-Identity (a SIP URI preferred over
    /// tel), else From.
    pub caller: NameAddr,
    /// Whether `caller` came from P-Asserted-Identity, which a trusted SBC
    /// vouches for, rather than From, which anyone can write.
    pub asserted: bool,
    /// The values of the configured headers that are present, in the
    /// configured order (for example `X-Queue`, `X-Case-Id`).
    pub fields: Vec<(String, String)>,
    /// User-to-User data, if any.
    pub user_to_user: Option<UserToUser>,
    /// Call-Info `answer-after`: the caller asks us to answer by ourselves
    /// after this long. Only a hint: whether to honour it is policy.
    pub answer_after: Option<Duration>,
}

impl CallData {
    /// Reads an incoming INVITE; `fields` names the headers the contact
    /// center's configuration says carry queue and case identifiers.
    pub fn from_request(request: &Request, fields: &[&str]) -> Result<Self, Error> {
        let h = &request.headers;
        let mut identities = Vec::new();
        for value in h.get_all(&HeaderName::PAssertedIdentity) {
            for item in split_list(value).map_err(pai_error)? {
                identities.push(NameAddr::parse_str(item).map_err(pai_error)?);
            }
        }
        let asserted = identities.iter().find(|a| matches!(a.uri, Uri::Sip(_))).or(identities.first()).cloned();
        let (caller, asserted) = match asserted {
            Some(a) => (a, true),
            None => (h.from()?, false),
        };
        let fields = fields
            .iter()
            .filter_map(|name| h.get(&HeaderName::parse(name)).map(|v| ((*name).to_owned(), v.to_owned())))
            .collect();
        let user_to_user = h.get(&HeaderName::UserToUser).map(parse_uui).transpose()?;
        Ok(CallData { caller, asserted, fields, user_to_user, answer_after: answer_after(request) })
    }
}

fn pai_error(reason: &'static str) -> Error {
    Error::Header { name: HeaderName::PAssertedIdentity.as_str().to_owned(), reason }
}

fn parse_uui(value: &str) -> Result<UserToUser, Error> {
    let bad = |reason| Error::Header { name: HeaderName::UserToUser.as_str().to_owned(), reason };
    let mut c = Cursor::new(trim_wsp(value));
    let data = if c.peek() == Some(b'"') {
        unquote(c.quoted_string().map_err(bad)?)
    } else {
        c.take_while(is_token_char).to_owned()
    };
    if data.is_empty() {
        return Err(bad("no data"));
    }
    Ok(UserToUser { data, params: parse_header_params(&mut c).map_err(bad)? })
}

/// The smallest `answer-after` among the Call-Info values. Malformed values
/// are skipped: a hint we cannot read is a hint not given.
fn answer_after(request: &Request) -> Option<Duration> {
    let mut best: Option<u64> = None;
    for value in request.headers.get_all(&HeaderName::CallInfo) {
        for item in split_list(value).unwrap_or_default() {
            let params = item.rsplit_once('>').map_or(item, |(_, p)| p);
            let Ok(params) = parse_header_params(&mut Cursor::new(params)) else { continue };
            if let Some(secs) = params.get("answer-after").flatten().and_then(|v| v.parse::<u64>().ok()) {
                best = Some(best.map_or(secs, |b| b.min(secs)));
            }
        }
    }
    best.map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    const INVITE: &[u8] = include_bytes!("../tests/fixtures/messages/invite-sdp.sip");

    fn invite() -> Request {
        match parse(INVITE) {
            Ok(Message::Request(r)) => r,
            other => panic!("fixture: {other:?}"),
        }
    }

    #[test]
    fn sbc_invite_yields_asserted_caller_queue_case_and_uui() {
        let data = CallData::from_request(&invite(), &["X-Queue", "X-Case-Id", "X-Absent"]).expect("call data");
        assert!(data.asserted);
        assert_eq!(data.caller.display_name.as_deref(), Some("Jane Customer"));
        assert_eq!(data.fields, [("X-Queue".into(), "billing".into()), ("X-Case-Id".into(), "00012345".into())]);
        let uui = data.user_to_user.expect("User-to-User");
        assert_eq!((uui.data.as_str(), uui.params.get("encoding")), ("00C8AF7E", Some(Some("hex"))));
        assert_eq!(data.answer_after, None);
    }

    #[test]
    fn from_is_the_fallback_and_sip_identity_beats_tel() {
        let mut r = invite();
        r.headers.remove(&HeaderName::PAssertedIdentity);
        let data = CallData::from_request(&r, &[]).expect("call data");
        assert!(!data.asserted);
        assert_eq!(data.caller.tag(), Some("as6f2a8b3c"), "From, with its tag");
        r.headers.push(HeaderName::PAssertedIdentity, "<tel:+15551234567>, \"Jane\" <sip:+15551234567@sbc.example>");
        let data = CallData::from_request(&r, &[]).expect("call data");
        assert!(matches!(data.caller.uri, Uri::Sip(_)));
    }

    #[test]
    fn answer_after_takes_the_smallest_readable_hint() {
        let mut r = invite();
        r.headers.push(HeaderName::CallInfo, "<http://example.com/info>;purpose=info, <sip:x>;answer-after=5");
        r.headers.push(HeaderName::CallInfo, ";answer-after=0");
        r.headers.push(HeaderName::CallInfo, "<sip:y>;answer-after=soon");
        let data = CallData::from_request(&r, &[]).expect("call data");
        assert_eq!(data.answer_after, Some(Duration::ZERO));
    }

    #[test]
    fn malformed_uui_is_an_error() {
        let mut r = invite();
        r.headers.set(HeaderName::UserToUser, ";encoding=hex");
        assert!(CallData::from_request(&r, &[]).is_err());
    }
}
