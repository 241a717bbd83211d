//! SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), and any other scheme
//! kept as opaque text so that it survives a round trip.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::params::Params;
use super::scan::{Cursor, Invalid, escapes_ok, unescape};
use crate::Error;

/// A URI as found in a Request-URI, a name-addr or a Via `received`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other scheme (`http:`, `urn:`, `isbn:` ...), kept verbatim.
    Other {
        /// The scheme, as written.
        scheme: String,
        /// Everything after the first `:`.
        rest: String,
    },
}

/// A `sip:` or `sips:` URI. Text fields hold the escaped form as written, so
/// `%41` and `A` stay distinct (RFC 4475 3.1.1.3); see [`SipUri::user_unescaped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, escaped.
    pub user: Option<String>,
    /// The password part, escaped (deprecated by RFC 3261 but legal).
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, when given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=ws;lr`).
    pub params: Params,
    /// URI headers (`?Replaces=...`), names and values escaped.
    pub headers: Vec<(String, String)>,
}

/// A host: a domain name, or an IPv4 or IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as written.
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    V6(Ipv6Addr),
}

/// A `tel:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number, with any visual separators as written (`+1-201-555-0123`).
    pub number: String,
    /// Parameters such as `phone-context`.
    pub params: Params,
}

impl SipUri {
    /// A `sip:` URI for `user@host` with no port, parameters or headers.
    pub fn new(user: Option<&str>, host: Host) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port: None,
            params: Params::default(),
            headers: Vec::new(),
        }
    }

    /// The user part with `%HH` escapes resolved; may hold any byte, even NUL
    /// (RFC 4475 3.1.1.4), hence bytes and not a string.
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }
}

impl Host {
    fn parse(s: &str) -> Result<Self, Invalid> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or("unclosed IPv6 reference")?;
            return inner.parse().map(Host::V6).map_err(|_| "bad IPv6 address");
        }
        if s.is_empty() {
            return Err("empty host");
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return Err("bad character in host");
        }
        Ok(s.parse().map(Host::V4).unwrap_or_else(|_| Host::Name(s.to_owned())))
    }

    /// Parses a host followed by an optional `:port` at the cursor, stopping at
    /// the first byte that belongs to neither.
    pub(crate) fn parse_hostport(c: &mut Cursor<'_>) -> Result<(Host, Option<u16>), Invalid> {
        let host = if c.peek() == Some(b'[') {
            let s = c.take_while(|b| b != b']');
            if !c.eat(b']') {
                return Err("unclosed IPv6 reference");
            }
            Host::parse(&format!("{s}]"))?
        } else {
            Host::parse(c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))?
        };
        let port = if c.eat(b':') { Some(parse_port(c.take_while(|b| b.is_ascii_digit()))?) } else { None };
        Ok((host, port))
    }
}

pub(crate) fn parse_port(s: &str) -> Result<u16, Invalid> {
    if s.is_empty() {
        return Err("empty port");
    }
    s.parse().map_err(|_| "port out of range")
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

pub(crate) fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Characters of an absoluteURI that RFC 2396 allows (uric plus `#`), which
/// excludes space, quotes and angle brackets.
fn is_uric(b: u8) -> bool {
    is_unreserved(b) || b"%;/?:@&=+$,#[]".contains(&b)
}

fn checked(s: &str, what: Invalid) -> Result<&str, Invalid> {
    if escapes_ok(s) { Ok(s) } else { Err(what) }
}

/// URI parameters: `*( ";" pname [ "=" pvalue ] )` with no white space.
fn parse_uri_params(c: &mut Cursor<'_>) -> Result<Params, Invalid> {
    let mut params = Params::default();
    while c.eat(b';') {
        let name = checked(c.take_while(is_param_char), "bad escape in URI parameter")?;
        if name.is_empty() {
            return Err("empty URI parameter");
        }
        let value = if c.eat(b'=') {
            let v = checked(c.take_while(is_param_char), "bad escape in URI parameter")?;
            if v.is_empty() {
                return Err("empty URI parameter value");
            }
            Some(v)
        } else {
            None
        };
        params.push(name, value);
    }
    Ok(params)
}

fn parse_sip(rest: &str, secure: bool) -> Result<SipUri, Invalid> {
    // '@' cannot appear unescaped after the userinfo, so the first one ends it.
    let (userinfo, hostpart) = match rest.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (user, password) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if user.is_empty() || !user.bytes().all(is_user_char) || !escapes_ok(user) {
                return Err("bad user part");
            }
            if let Some(p) = password
                && (!p.bytes().all(is_password_char) || !escapes_ok(p))
            {
                return Err("bad password");
            }
            (Some(user.to_owned()), password.map(str::to_owned))
        }
    };
    let mut c = Cursor::new(hostpart);
    let (host, port) = Host::parse_hostport(&mut c)?;
    let params = parse_uri_params(&mut c)?;
    let mut headers = Vec::new();
    if c.eat(b'?') {
        loop {
            let name = checked(c.take_while(is_header_char), "bad escape in URI header")?;
            if name.is_empty() || !c.eat(b'=') {
                return Err("bad URI header");
            }
            let value = checked(c.take_while(is_header_char), "bad escape in URI header")?;
            headers.push((name.to_owned(), value.to_owned()));
            if !c.eat(b'&') {
                break;
            }
        }
    }
    if !c.is_empty() {
        return Err("unexpected character in SIP URI");
    }
    Ok(SipUri { secure, user, password, host, port, params, headers })
}

fn parse_tel(rest: &str) -> Result<TelUri, Invalid> {
    let mut c = Cursor::new(rest);
    let number =
        c.take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#' | b'%'));
    if number.is_empty() || !escapes_ok(number) {
        return Err("bad telephone number");
    }
    let params = parse_uri_params(&mut c)?;
    if !c.is_empty() {
        return Err("unexpected character in tel URI");
    }
    Ok(TelUri { number: number.to_owned(), params })
}

impl Uri {
    pub(crate) fn parse_str(s: &str) -> Result<Self, Invalid> {
        let (scheme, rest) = s.split_once(':').ok_or("no scheme")?;
        let mut sb = scheme.bytes();
        let scheme_ok = sb.next().is_some_and(|b| b.is_ascii_alphabetic())
            && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err("bad scheme");
        }
        if scheme.eq_ignore_ascii_case("sip") {
            parse_sip(rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            parse_sip(rest, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            parse_tel(rest).map(Uri::Tel)
        } else if !rest.is_empty() && rest.bytes().all(is_uric) && escapes_ok(rest) {
            Ok(Uri::Other { scheme: scheme.to_owned(), rest: rest.to_owned() })
        } else {
            Err("bad URI")
        }
    }

    /// The SIP or SIPS URI, if that is what this is.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl FromStr for Uri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Uri::parse_str(s).map_err(|reason| Error::Uri { reason })
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            write!(f, "{}{name}={value}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match s.parse::<Uri>().expect("valid URI") {
            Uri::Sip(u) => u,
            other => panic!("not a SIP URI: {other:?}"),
        }
    }

    #[test]
    fn sip_uri_with_everything_round_trips() {
        let s = "sips:alice:secret@[2001:db8::1]:5061;transport=ws;lr?Replaces=abc%40h%3Bto-tag%3D1&X=y";
        let u = sip(s);
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::V6("2001:db8::1".parse().expect("ipv6")));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params.get("transport"), Some(Some("ws")));
        assert!(u.params.contains("lr"));
        assert_eq!(u.headers.len(), 2);
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn user_part_may_hold_semicolons_and_escaped_at() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.user_unescaped(), Some(b"user;par=u@example.net".to_vec()));
        assert_eq!(u.host, Host::Name("example.com".into()));
    }

    #[test]
    fn tel_and_other_schemes_parse() {
        let t = "tel:+1-201-555-0123;phone-context=example.com".parse::<Uri>().expect("tel");
        assert!(matches!(&t, Uri::Tel(tel) if tel.number == "+1-201-555-0123"));
        assert_eq!(t.to_string(), "tel:+1-201-555-0123;phone-context=example.com");
        let o = "soap.beep://192.0.2.103:3002".parse::<Uri>().expect("other");
        assert_eq!(o.to_string(), "soap.beep://192.0.2.103:3002");
    }

    #[test]
    fn malformed_uris_are_rejected() {
        for bad in [
            "<sip:a@b>",
            "sip:a@b; lr",
            "sip:@host",
            "sip:a@",
            "sip:a@h:99999",
            "sip:a@h:",
            "sip:a%4@h",
            "sip:a@h;=x",
            "sip:a@h?x",
            "sip:a@[::1",
            "1sip:x",
            "x:",
            "tel:;x",
            "nosuch:a b",
        ] {
            assert!(bad.parse::<Uri>().is_err(), "{bad} must be rejected");
        }
    }
}
