//! name-addr / addr-spec values: From, To, Contact, Route, Record-Route,
//! Refer-To, P-Asserted-Identity (RFC 3261 20.10, 25.1).

use std::fmt;

use super::params::{Params, parse_header_params};
use super::scan::{Cursor, Invalid, is_token_char, is_wsp, quote, trim_wsp, unquote};
use super::uri::Uri;

/// An address with an optional display name and header parameters (`tag`,
/// `expires`, `q` ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters after the address.
    pub params: Params,
}

/// One Contact value: an address, or `*` (REGISTER removing all bindings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *`.
    Wildcard,
    /// A contact address.
    Address(NameAddr),
}

impl NameAddr {
    /// An address with no display name and no parameters.
    pub fn new(uri: Uri) -> Self {
        Self { display_name: None, uri, params: Params::default() }
    }

    /// The `tag` parameter (From and To).
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }

    /// Parses one name-addr or addr-spec followed by header parameters.
    ///
    /// In addr-spec form (no `<>`) a `;` starts header parameters, not URI
    /// parameters (RFC 3261 20.10, RFC 4475 3.3.12), and the URI may not carry
    /// `?headers` (RFC 4475 3.1.2.13).
    pub(crate) fn parse_str(s: &str) -> Result<Self, Invalid> {
        let s = trim_wsp(s);
        let mut c = Cursor::new(s);
        let display_name = if c.peek() == Some(b'"') {
            let q = c.quoted_string()?;
            c.skip_ws();
            if c.peek() != Some(b'<') {
                return Err("display name not followed by '<'");
            }
            Some(unquote(q))
        } else if s.contains('<') {
            // *(token LWS): words of token characters; no LWS is needed before
            // '<' (RFC 4475 3.1.1.6).
            let words = c.take_until(b'<');
            let mut name = String::new();
            for word in words.split([' ', '\t']).filter(|w| !w.is_empty()) {
                if !word.bytes().all(is_token_char) {
                    return Err("display name must be a token or quoted");
                }
                if !name.is_empty() {
                    name.push(' ');
                }
                name.push_str(word);
            }
            (!name.is_empty()).then_some(name)
        } else {
            let spec = c.take_until(b';');
            let spec = trim_wsp(spec);
            if spec.contains('?') || spec.contains(',') {
                return Err("a URI with '?' or ',' must be enclosed in '<>'");
            }
            let uri = Uri::parse_str(spec)?;
            let params = parse_header_params(&mut c)?;
            return Ok(Self { display_name: None, uri, params });
        };
        if !c.eat(b'<') {
            return Err("expected '<'");
        }
        // No white space inside the brackets (RFC 4475 3.1.2.14).
        let spec = c.take_until(b'>');
        if !c.eat(b'>') {
            return Err("unclosed '<'");
        }
        if spec.bytes().any(is_wsp) {
            return Err("white space inside '<>'");
        }
        let uri = Uri::parse_str(spec)?;
        let params = parse_header_params(&mut c)?;
        Ok(Self { display_name, uri, params })
    }
}

impl Contact {
    pub(crate) fn parse_str(s: &str) -> Result<Self, Invalid> {
        if trim_wsp(s) == "*" { Ok(Contact::Wildcard) } else { NameAddr::parse_str(s).map(Contact::Address) }
    }
}

impl fmt::Display for NameAddr {
    /// Always the name-addr form, so URI parameters cannot be mistaken for
    /// header parameters on the way back in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            if !name.is_empty() && name.split(' ').all(|w| !w.is_empty() && w.bytes().all(is_token_char)) {
                write!(f, "{name} ")?;
            } else {
                write!(f, "{} ", quote(name))?;
            }
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(s: &str) -> NameAddr {
        NameAddr::parse_str(s).expect("valid name-addr")
    }

    #[test]
    fn quoted_display_name_with_escapes() {
        let a = na(r#""J Rosenberg \\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8"#);
        assert_eq!(a.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(a.tag(), Some("98asjd8"));
        assert_eq!(na(&a.to_string()), a);
    }

    #[test]
    fn token_display_name_needs_no_space_before_bracket() {
        let a = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name.as_deref(), Some("caller"));
        assert_eq!(a.to_string(), "caller <sip:caller@example.com>;tag=323");
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let a = na("sip:+19725552222@gw1.example.net;unknownparam");
        assert!(a.params.contains("unknownparam"));
        assert!(a.uri.as_sip().is_some_and(|u| u.params.is_empty()));
        let b = na("<sip:+19725552222@gw1.example.net;unknownparam>");
        assert!(b.params.is_empty());
        assert!(b.uri.as_sip().is_some_and(|u| u.params.contains("unknownparam")));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "\"x\" sip:a@b",
            "<sip:a@b>;",
            "",
        ] {
            assert!(NameAddr::parse_str(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn contact_wildcard() {
        assert_eq!(Contact::parse_str(" * "), Ok(Contact::Wildcard));
        assert_eq!(Contact::Wildcard.to_string(), "*");
    }
}
