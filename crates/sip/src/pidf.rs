//! Presence documents (PIDF, RFC 3863) and the PUBLISH that carries them
//! (RFC 3903), as a contact-center agent says whether it takes calls.
//!
//! An agent's availability is one tuple: `open` means it takes calls,
//! `closed` with a note says why not (`away`, `wrap-up`). The same code
//! builds the document on the agent's side and reads it on the ACD's, so
//! the two cannot drift.
//!
//! ```
//! use warmline_sip::pidf::{Basic, Pidf};
//!
//! let doc = Pidf::closed("sip:1001@example.com", "wrap-up");
//! let xml = doc.to_xml();
//! let back = Pidf::parse(&xml)?;
//! assert_eq!(back.basic, Basic::Closed);
//! assert_eq!(back.note.as_deref(), Some("wrap-up"));
//! # Ok::<(), warmline_sip::pidf::PidfError>(())
//! ```
//!
//! The parser reads only what availability needs (the entity, the first
//! tuple's id and `basic`, the first note) and accepts any namespace
//! prefix; it is not a general XML parser and never panics on input.

use crate::message::{HeaderName, Method, Request, Uri};

/// The media type of a PIDF body.
pub const CONTENT_TYPE: &str = "application/pidf+xml";

/// The event package PUBLISH uses for presence (RFC 3856).
pub const EVENT: &str = "presence";

/// The `basic` status of a tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basic {
    /// Reachable: for an agent, available for calls.
    Open,
    /// Not reachable: for an agent, away or in wrap-up (the note says).
    Closed,
}

/// A presence document with one tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pidf {
    /// Whose presence (`sip:` or `pres:` URI).
    pub entity: String,
    /// The tuple's id.
    pub tuple_id: String,
    /// Open or closed.
    pub basic: Basic,
    /// Why, in a few words (`away`, `wrap-up`).
    pub note: Option<String>,
}

/// A body that is not a usable PIDF document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PidfError {
    /// No `<presence>` element.
    #[error("not a PIDF document: no <presence> element")]
    NotPresence,
    /// No `<basic>` status in a tuple.
    #[error("the PIDF document has no <basic> status")]
    NoBasic,
    /// `<basic>` is neither `open` nor `closed`.
    #[error("<basic> must be open or closed, not {0:?}")]
    BadBasic(String),
}

impl Pidf {
    /// Available for calls.
    pub fn open(entity: impl Into<String>) -> Self {
        Self { entity: entity.into(), tuple_id: "agent".into(), basic: Basic::Open, note: None }
    }

    /// Not available, with the reason (`away`, `wrap-up`).
    pub fn closed(entity: impl Into<String>, note: impl Into<String>) -> Self {
        Self { entity: entity.into(), tuple_id: "agent".into(), basic: Basic::Closed, note: Some(note.into()) }
    }

    /// Whether the document says the agent takes calls.
    pub fn is_open(&self) -> bool {
        self.basic == Basic::Open
    }

    /// The document, as RFC 3863 section 4 shows it.
    pub fn to_xml(&self) -> String {
        let basic = match self.basic {
            Basic::Open => "open",
            Basic::Closed => "closed",
        };
        let note = self.note.as_deref().map(|n| format!("    <note>{}</note>\r\n", escape(n))).unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{}\">\r\n\
             \x20 <tuple id=\"{}\">\r\n\
             \x20   <status><basic>{basic}</basic></status>\r\n\
             {note}\
             \x20 </tuple>\r\n\
             </presence>\r\n",
            escape(&self.entity),
            escape(&self.tuple_id),
        )
    }

    /// Reads a document: the entity, the first tuple's id and status, and
    /// the first note (in the tuple or under `<presence>`).
    pub fn parse(xml: &str) -> Result<Self, PidfError> {
        let presence = find_start(xml, "presence", 0).ok_or(PidfError::NotPresence)?;
        let entity = attribute(presence.attrs, "entity").unwrap_or_default();
        let tuple = find_start(xml, "tuple", presence.end);
        let tuple_id = tuple.as_ref().and_then(|t| attribute(t.attrs, "id")).unwrap_or_default();
        let from = tuple.as_ref().map_or(presence.end, |t| t.end);
        let basic = element_text(xml, "basic", from).ok_or(PidfError::NoBasic)?;
        let basic = match basic.trim() {
            "open" => Basic::Open,
            "closed" => Basic::Closed,
            other => return Err(PidfError::BadBasic(other.chars().take(32).collect())),
        };
        let note = element_text(xml, "note", presence.end).map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        Ok(Self { entity, tuple_id, basic, note })
    }
}

/// What an agent's PUBLISH needs besides the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The agent's address of record (Request-URI, From and To).
    pub aor: Uri,
    /// The Call-ID; any unique value (PUBLISH makes no dialog).
    pub call_id: String,
    /// The From tag.
    pub from_tag: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The Via sent-by host of the flow (`xyz.invalid` on WebSocket).
    pub via_host: String,
    /// A fresh branch (`z9hG4bK...`).
    pub branch: String,
    /// The lifetime asked for, in seconds (0 removes the publication).
    pub expires: u32,
    /// The SIP-ETag of the publication this refreshes, modifies or removes.
    pub if_match: Option<String>,
}

/// A PUBLISH (RFC 3903): `body` is a new or changed state; `None` with an
/// `if_match` refreshes (or, with `expires` 0, removes) the publication.
pub fn publish_request(p: &Publication, body: Option<&Pidf>) -> Request {
    let mut r = Request::new(Method::Publish, p.aor.clone());
    let h = &mut r.headers;
    h.push(HeaderName::Via, format!("SIP/2.0/WSS {};branch={}", p.via_host, p.branch));
    h.push(HeaderName::MaxForwards, "70");
    h.push(HeaderName::From, format!("<{}>;tag={}", p.aor, p.from_tag));
    h.push(HeaderName::To, format!("<{}>", p.aor));
    h.push(HeaderName::CallId, p.call_id.clone());
    h.push(HeaderName::CSeq, format!("{} PUBLISH", p.cseq));
    h.push(HeaderName::Event, EVENT);
    h.push(HeaderName::Expires, p.expires.to_string());
    if let Some(etag) = &p.if_match {
        h.push(HeaderName::Other("SIP-If-Match".into()), etag.clone());
    }
    if let Some(doc) = body {
        h.push(HeaderName::ContentType, CONTENT_TYPE);
        r.body = doc.to_xml().into_bytes();
    }
    r
}

struct StartTag<'a> {
    attrs: &'a str,
    end: usize,
}

/// The first start tag named `local` (any prefix) at or after `from`.
fn find_start<'a>(xml: &'a str, local: &str, from: usize) -> Option<StartTag<'a>> {
    let mut i = from;
    while let Some(pos) = xml.get(i..)?.find('<') {
        let start = i + pos + 1;
        let rest = xml.get(start..)?;
        let name_len = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        let name = &rest[..name_len];
        let bare = name.rsplit(':').next().unwrap_or(name);
        let close = rest.find('>')?;
        if bare == local && !name.starts_with(['/', '?', '!']) {
            let attrs = rest.get(name_len..close).unwrap_or("").trim_end_matches('/');
            return Some(StartTag { attrs, end: start + close + 1 });
        }
        i = start;
    }
    None
}

/// The text of the first element named `local` at or after `from`.
fn element_text(xml: &str, local: &str, from: usize) -> Option<String> {
    let tag = find_start(xml, local, from)?;
    let rest = xml.get(tag.end..)?;
    let end = rest.find('<')?;
    Some(unescape(&rest[..end]))
}

fn attribute(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    loop {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value_end = after[1..].find(quote)?;
        let value = &after[1..1 + value_end];
        if key == name {
            return Some(unescape(value));
        }
        rest = &after[1 + value_end + 1..];
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    #[test]
    fn open_and_closed_round_trip() {
        for doc in [Pidf::open("sip:1001@example.com"), Pidf::closed("sip:1001@example.com", "away & <busy>")] {
            assert_eq!(Pidf::parse(&doc.to_xml()), Ok(doc.clone()));
        }
    }

    #[test]
    fn reads_the_rfc_3863_example_with_prefixes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <impp:presence xmlns:impp="urn:ietf:params:xml:ns:pidf" entity='pres:someone@example.com'>
              <impp:tuple id="sg89ae">
                <impp:status><impp:basic>closed</impp:basic></impp:status>
                <impp:contact priority="0.8">tel:+09012345678</impp:contact>
              </impp:tuple>
              <impp:note xml:lang="en">wrap-up</impp:note>
            </impp:presence>"#;
        let doc = Pidf::parse(xml).expect("the RFC's example parses");
        assert_eq!(doc.entity, "pres:someone@example.com");
        assert_eq!(doc.tuple_id, "sg89ae");
        assert_eq!(doc.basic, Basic::Closed);
        assert_eq!(doc.note.as_deref(), Some("wrap-up"));
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        assert_eq!(Pidf::parse(""), Err(PidfError::NotPresence));
        assert_eq!(Pidf::parse("<presence entity=\"x\"><tuple id=\"a\"></tuple></presence>"), Err(PidfError::NoBasic));
        assert!(matches!(Pidf::parse("<presence><basic>maybe</basic></presence>"), Err(PidfError::BadBasic(_))));
        for junk in ["<", "<presence", "<presence entity=", "<presence entity=\"x", "<presence><basic>open", "<<<>>>"] {
            let _ = Pidf::parse(junk);
        }
    }

    #[test]
    fn publish_carries_event_etag_and_body() {
        let p = Publication {
            aor: "sip:1001@example.com".parse().expect("uri"),
            call_id: "pub-1".into(),
            from_tag: "t1".into(),
            cseq: 2,
            via_host: "abc.invalid".into(),
            branch: "z9hG4bKpub2".into(),
            expires: 3600,
            if_match: Some("etag-7".into()),
        };
        let wire = publish_request(&p, Some(&Pidf::open("sip:1001@example.com"))).to_bytes();
        let Ok(Message::Request(r)) = parse(&wire) else { panic!("the PUBLISH parses") };
        assert_eq!(r.method, Method::Publish);
        assert_eq!(r.headers.get(&HeaderName::Event), Some("presence"));
        assert_eq!(r.headers.get(&HeaderName::Other("SIP-If-Match".into())), Some("etag-7"));
        assert_eq!(r.headers.content_type().ok().flatten(), Some(CONTENT_TYPE));
        assert!(Pidf::parse(&String::from_utf8_lossy(&r.body)).is_ok_and(|d| d.is_open()));
    }
}
