//! Header names (with compact forms) and the ordered header list.

use std::fmt;

macro_rules! header_names {
    ($($variant:ident => $canonical:literal $(, $compact:literal)?;)*) => {
        /// A header field name. Known names are matched case-insensitively and
        /// in their compact form (`v`, `f`, `i` ...); any other name is kept as
        /// written in [`HeaderName::Other`] so it survives a round trip.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`", $(" (compact form `", $compact, "`)")?)]
                $variant,
            )*
            /// Any header this crate has no name for.
            Other(String),
        }

        const KNOWN: &[(&str, Option<&str>, HeaderName)] = &[
            $(($canonical, header_names!(@compact $($compact)?), HeaderName::$variant),)*
        ];

        impl HeaderName {
            /// The canonical spelling, used when serializing.
            pub fn as_str(&self) -> &str {
                match self {
                    $(HeaderName::$variant => $canonical,)*
                    HeaderName::Other(s) => s,
                }
            }
        }
    };
    (@compact $c:literal) => { Some($c) };
    (@compact) => { None };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", "a";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events", "u";
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallId => "Call-ID", "i";
    CallInfo => "Call-Info";
    Contact => "Contact", "m";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    CSeq => "CSeq";
    Date => "Date";
    ErrorInfo => "Error-Info";
    Event => "Event", "o";
    Expires => "Expires";
    From => "From", "f";
    InReplyTo => "In-Reply-To";
    MaxForwards => "Max-Forwards";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    Organization => "Organization";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Path => "Path";
    Priority => "Priority";
    Privacy => "Privacy";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    RejectContact => "Reject-Contact", "j";
    Replaces => "Replaces";
    ReplyTo => "Reply-To";
    RequestDisposition => "Request-Disposition", "d";
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    RSeq => "RSeq";
    Server => "Server";
    SessionExpires => "Session-Expires", "x";
    Subject => "Subject", "s";
    SubscriptionState => "Subscription-State";
    Supported => "Supported", "k";
    Timestamp => "Timestamp";
    To => "To", "t";
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    UserToUser => "User-to-User";
    Via => "Via", "v";
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl HeaderName {
    /// Looks a name up: known names (long or compact, any case) map to their
    /// variant, anything else to [`HeaderName::Other`].
    pub fn parse(name: &str) -> Self {
        // Every header line of every message comes through here: KNOWN is
        // sorted by lower-case name (a test checks), so search it.
        let found = if name.len() == 1 {
            KNOWN.iter().find(|(_, compact, _)| compact.is_some_and(|c| c.eq_ignore_ascii_case(name)))
        } else {
            KNOWN.binary_search_by(|(canonical, _, _)| cmp_ignore_case(canonical, name)).ok().and_then(|i| KNOWN.get(i))
        };
        match found {
            Some((_, _, known)) => known.clone(),
            None => HeaderName::Other(name.to_owned()),
        }
    }

    /// Whether this is `name` (compared case-insensitively for other names).
    pub fn is(&self, name: &HeaderName) -> bool {
        match (self, name) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => self == name,
        }
    }
}

fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().map(|x| x.to_ascii_lowercase()).cmp(b.bytes().map(|x| x.to_ascii_lowercase()))
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header field: a name and its value, unfolded, without surrounding
/// white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name.
    pub name: HeaderName,
    /// The value, as received (after unfolding) or as set.
    pub value: String,
}

/// The header fields of a message, in order. Values are kept as text and
/// parsed on demand by the typed accessors in [`crate::message`], so a header
/// this crate does not understand is carried unchanged.
///
/// `Content-Length` is never stored here: the body's length is the only
/// truth, and serializing writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header. A `Content-Length` is ignored (see the type docs).
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        if name != HeaderName::ContentLength {
            self.0.push(Header { name, value: value.into() });
        }
    }

    /// Inserts a header before all others (for a new top `Via` or `Route`).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        if name != HeaderName::ContentLength {
            self.0.insert(0, Header { name, value: value.into() });
        }
    }

    /// Replaces every `name` header with one holding `value`, at the position
    /// of the first one (or at the end).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name.is(&name)) {
            Some(i) => {
                self.0.retain(|h| !h.name.is(&name));
                let i = i.min(self.0.len());
                self.0.insert(i, Header { name, value });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every `name` header.
    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| !h.name.is(name));
    }

    /// The value of the first `name` header.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.get_all(name).next()
    }

    /// The values of every `name` header, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n HeaderName) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0.iter().filter(move |h| h.name.is(name)).map(|h| h.value.as_str())
    }

    /// All headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// How many header fields (lines) there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_odd_case_names_map_to_known_headers() {
        for (raw, name) in [
            ("v", HeaderName::Via),
            ("ViA", HeaderName::Via),
            ("i", HeaderName::CallId),
            ("L", HeaderName::ContentLength),
            ("m", HeaderName::Contact),
            ("MaX-fOrWaRdS", HeaderName::MaxForwards),
            ("k", HeaderName::Supported),
        ] {
            assert_eq!(HeaderName::parse(raw), name, "{raw}");
        }
        assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other("C%6Fntact".into()));
        assert!(HeaderName::parse("X-Foo").is(&HeaderName::Other("x-foo".into())));
    }

    #[test]
    fn known_names_are_sorted_for_binary_search() {
        for pair in KNOWN.windows(2) {
            if let [(a, _, _), (b, _, _)] = pair {
                assert_eq!(cmp_ignore_case(a, b), std::cmp::Ordering::Less, "{a} must sort before {b}");
            }
        }
        for (canonical, compact, name) in KNOWN {
            assert_eq!(&HeaderName::parse(&canonical.to_ascii_uppercase()), name);
            assert!(compact.is_none_or(|c| HeaderName::parse(c) == *name), "{canonical}");
        }
    }

    #[test]
    fn set_keeps_position_and_content_length_is_never_stored() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::To, "b");
        h.push(HeaderName::Via, "c");
        h.push(HeaderName::ContentLength, "5");
        h.set(HeaderName::Via, "z");
        let names: Vec<_> = h.iter().map(|x| (x.name.as_str(), x.value.as_str())).collect();
        assert_eq!(names, vec![("Via", "z"), ("To", "b")]);
        h.push_front(HeaderName::Route, "r");
        assert_eq!(h.get(&HeaderName::Route), Some("r"));
        h.remove(&HeaderName::Route);
        assert_eq!(h.len(), 2);
    }
}
