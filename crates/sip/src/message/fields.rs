//! Methods, CSeq, Call-ID, and the typed accessors on [`Headers`] that the
//! transaction and dialog layers read.

use std::fmt;

use super::address::{Contact, NameAddr};
use super::header::{HeaderName, Headers};
use super::scan::{Invalid, is_token, is_wsp, parse_digits, split_list, trim_wsp};
use super::via::Via;
use crate::Error;

/// A request method. Methods are case-sensitive (RFC 3261 7.1), so `invite`
/// is an extension method, not INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// REGISTER.
    Register,
    /// OPTIONS.
    Options,
    /// INFO (RFC 6086).
    Info,
    /// PRACK (RFC 3262).
    Prack,
    /// UPDATE (RFC 3311).
    Update,
    /// REFER (RFC 3515).
    Refer,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// MESSAGE (RFC 3428).
    Message,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other method token.
    Extension(String),
}

impl Method {
    /// Parses a method token.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other if is_token(other) => Method::Extension(other.to_owned()),
            _ => return Err(Error::StartLine("method is not a token")),
        })
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CSeq header: a sequence number and the request method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (RFC 3261 8.1.1.5: a 32-bit unsigned integer).
    pub seq: u32,
    /// The method of the request this belongs to.
    pub method: Method,
}

impl CSeq {
    pub(crate) fn parse_str(s: &str) -> Result<Self, Invalid> {
        let s = trim_wsp(s);
        let (num, method) = s.split_once([' ', '\t']).ok_or("expected a number and a method")?;
        let seq = u32::try_from(parse_digits(num)?).map_err(|_| "sequence number over 2^32-1")?;
        let method = trim_wsp(method);
        if !is_token(method) {
            return Err("method is not a token");
        }
        Ok(CSeq { seq, method: Method::parse(method).map_err(|_| "method is not a token")? })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// `word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'"
/// / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" /
/// "?" / "{" / "}" )`
fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~()<>:\\\"/[]?{}".contains(&b)
}

pub(crate) fn check_call_id(s: &str) -> Result<(), Invalid> {
    let ok_word = |w: &str| !w.is_empty() && w.bytes().all(is_word_char);
    let ok = match s.split_once('@') {
        Some((a, b)) => ok_word(a) && ok_word(b),
        None => ok_word(s),
    };
    if ok { Ok(()) } else { Err("not word[@word]") }
}

fn header_error(name: &HeaderName, reason: Invalid) -> Error {
    Error::Header { name: name.as_str().to_owned(), reason }
}

/// Typed views of the headers signalling needs. Each parses on demand; a
/// message that came through [`crate::parse`] has already passed them all.
impl Headers {
    fn exactly_one(&self, name: &HeaderName) -> Result<&str, Error> {
        let mut values = self.get_all(name);
        let first = values.next().ok_or_else(|| Error::MissingHeader(name.as_str().to_owned()))?;
        if values.next().is_some() {
            return Err(Error::DuplicateHeader(name.as_str().to_owned()));
        }
        Ok(first)
    }

    fn at_most_one(&self, name: &HeaderName) -> Result<Option<&str>, Error> {
        match self.exactly_one(name) {
            Ok(v) => Ok(Some(v)),
            Err(Error::MissingHeader(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list<T>(&self, name: &HeaderName, parse: impl Fn(&str) -> Result<T, Invalid>) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        for value in self.get_all(name) {
            for item in split_list(value).map_err(|r| header_error(name, r))? {
                out.push(parse(item).map_err(|r| header_error(name, r))?);
            }
        }
        Ok(out)
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> Result<Vec<Via>, Error> {
        self.list(&HeaderName::Via, Via::parse_str)
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via, Error> {
        let first = self.get(&HeaderName::Via).ok_or_else(|| Error::MissingHeader("Via".into()))?;
        let item = split_list(first).map_err(|r| header_error(&HeaderName::Via, r))?;
        Via::parse_str(item.first().copied().unwrap_or("")).map_err(|r| header_error(&HeaderName::Via, r))
    }

    fn address(&self, name: &HeaderName) -> Result<NameAddr, Error> {
        NameAddr::parse_str(self.exactly_one(name)?).map_err(|r| header_error(name, r))
    }

    /// The From address.
    pub fn from(&self) -> Result<NameAddr, Error> {
        self.address(&HeaderName::From)
    }

    /// The To address.
    pub fn to(&self) -> Result<NameAddr, Error> {
        self.address(&HeaderName::To)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, Error> {
        let v = self.exactly_one(&HeaderName::CallId)?;
        check_call_id(v).map_err(|r| header_error(&HeaderName::CallId, r))?;
        Ok(v)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq, Error> {
        CSeq::parse_str(self.exactly_one(&HeaderName::CSeq)?).map_err(|r| header_error(&HeaderName::CSeq, r))
    }

    /// A header holding one unsigned number that must fit `T`.
    fn number<T: TryFrom<u64>>(&self, name: HeaderName, too_big: Invalid) -> Result<Option<T>, Error> {
        let Some(v) = self.at_most_one(&name)? else { return Ok(None) };
        let n = parse_digits(v).map_err(|r| header_error(&name, r))?;
        T::try_from(n).map(Some).map_err(|_| header_error(&name, too_big))
    }

    /// Max-Forwards, if present (0 to 255).
    pub fn max_forwards(&self) -> Result<Option<u8>, Error> {
        self.number(HeaderName::MaxForwards, "over 255")
    }

    /// Expires, if present, in seconds.
    pub fn expires(&self) -> Result<Option<u32>, Error> {
        self.number(HeaderName::Expires, "over 2^32-1")
    }

    /// Every Contact value.
    pub fn contacts(&self) -> Result<Vec<Contact>, Error> {
        self.list(&HeaderName::Contact, Contact::parse_str)
    }

    /// Every Route value, top first.
    pub fn routes(&self) -> Result<Vec<NameAddr>, Error> {
        self.list(&HeaderName::Route, NameAddr::parse_str)
    }

    /// Every Record-Route value, top first.
    pub fn record_routes(&self) -> Result<Vec<NameAddr>, Error> {
        self.list(&HeaderName::RecordRoute, NameAddr::parse_str)
    }

    /// The Content-Type media type (`type/subtype` plus parameters, as written).
    pub fn content_type(&self) -> Result<Option<&str>, Error> {
        let name = HeaderName::ContentType;
        let Some(v) = self.at_most_one(&name)? else { return Ok(None) };
        let media = trim_wsp(v.split(';').next().unwrap_or(""));
        let ok = media.split_once('/').is_some_and(|(t, s)| is_token(trim_wsp(t)) && is_token(trim_wsp(s)));
        if ok { Ok(Some(v)) } else { Err(header_error(&name, "expected type/subtype")) }
    }

    /// The tokens of a comma-separated token list such as Require, Supported
    /// or Allow, across every header of that name.
    pub fn tokens<'a, 'n>(&'a self, name: &'n HeaderName) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.get_all(name).flat_map(|v| v.split(',')).map(trim_wsp).filter(|t| !t.is_empty() && !t.contains(is_wsp_c))
    }
}

fn is_wsp_c(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_wsp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_parses_and_refuses_overflow() {
        assert_eq!(CSeq::parse_str("0009 INVITE"), Ok(CSeq { seq: 9, method: Method::Invite }));
        assert_eq!(CSeq::parse_str("4294967295 ACK").map(|c| c.seq), Ok(u32::MAX));
        assert!(CSeq::parse_str("4294967296 ACK").is_err());
        assert!(CSeq::parse_str("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse_str("1").is_err() && CSeq::parse_str("x INVITE").is_err());
    }

    #[test]
    fn methods_are_case_sensitive() {
        assert_eq!(Method::parse("INVITE").ok(), Some(Method::Invite));
        assert_eq!(Method::parse("invite").ok(), Some(Method::Extension("invite".into())));
        assert!(Method::parse("IN VITE").is_err());
    }

    #[test]
    fn call_id_grammar() {
        assert!(check_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(check_call_id("a@b@c").is_err() && check_call_id("").is_err() && check_call_id("a b").is_err());
    }

    #[test]
    fn accessors_enforce_cardinality() {
        let mut h = Headers::new();
        assert!(matches!(h.call_id(), Err(Error::MissingHeader(_))));
        h.push(HeaderName::CallId, "a@b");
        h.push(HeaderName::CallId, "c@d");
        assert!(matches!(h.call_id(), Err(Error::DuplicateHeader(_))));
        h.push(HeaderName::MaxForwards, "300");
        assert!(h.max_forwards().is_err());
        h.push(HeaderName::Supported, "100rel, timer ,replaces");
        let tokens: Vec<_> = h.tokens(&HeaderName::Supported).collect();
        assert_eq!(tokens, ["100rel", "timer", "replaces"]);
    }
}
