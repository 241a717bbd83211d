//! Removing credentials from text before it reaches a log or a SIP trace.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::Secret;

const MASK: &str = "[redacted]";

/// Patterns that carry credentials in the text Warmline logs: SIP auth
/// headers, HTTP bearer tokens, OAuth form and JSON fields, and DTMF in SIP
/// INFO bodies (agents key card numbers into calls).
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let p = |re: &str, rep: &'static str| {
        (Regex::new(re).unwrap_or_else(|e| panic!("bad redaction pattern {re}: {e}")), rep)
    };
    vec![
        // SIP: Authorization / Proxy-Authorization header values, whole.
        p(r"(?im)^((?:proxy-)?authorization[ \t]*:[ \t]*\S+)[^\r\n]*", "$1 [redacted]"),
        // HTTP bearer tokens anywhere.
        p(r"(?i)(bearer[ \t]+)[A-Za-z0-9._~+/=-]+", "${1}[redacted]"),
        // OAuth / form fields: key=value up to & or whitespace.
        p(
            r"(?i)\b(access_token|refresh_token|id_token|client_secret|password|code_verifier|device_code|code)=[^&\s]+",
            "$1=[redacted]",
        ),
        // The same fields in JSON ("code" there is Graph's error code, which
        // support needs; an authorization code never travels in JSON).
        p(
            r#"(?i)"(access_token|refresh_token|id_token|client_secret|password|code_verifier|device_code|user_code)"\s*:\s*"(?:[^"\\]|\\.)*""#,
            r#""$1":"[redacted]""#,
        ),
        // application/dtmf-relay bodies in SIP INFO.
        p(r"(?im)^(signal[ \t]*=[ \t]*)\S+", "${1}[redacted]"),
    ]
});

/// Redacts credential-shaped parts of `text` (see the module patterns).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (re, rep) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *rep).into_owned());
        }
    }
    out
}

/// Redacts both the known credential patterns and specific secret values
/// (for example the SIP password the agent typed), wherever they appear.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    known: Vec<Secret>,
}

impl Redactor {
    /// A redactor that knows no specific values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also redact this exact value. Values shorter than 4 bytes are
    /// ignored: masking every "1" in a log would hide more than it protects.
    pub fn add(&mut self, secret: &Secret) {
        if secret.len() >= 4 {
            self.known.push(secret.clone());
        }
    }

    /// Redacts `text`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = redact(text);
        for s in &self.known {
            if let Some(value) = s.expose_str()
                && out.contains(value)
            {
                out = Cow::Owned(out.replace(value, MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_authorization_headers_are_masked() {
        let msg = "REGISTER sip:sbc.example.com SIP/2.0\r\nAuthorization: Digest username=\"alice\", realm=\"x\", nonce=\"abc\", response=\"6629fae49393a05397450978507c4ef1\"\r\nProxy-Authorization: Digest response=\"ffff\"\r\nContent-Length: 0\r\n\r\n";
        let r = redact(msg);
        assert!(!r.contains("6629fae4"), "digest response leaked: {r}");
        assert!(!r.contains("ffff"), "proxy digest response leaked: {r}");
        assert!(r.contains("Authorization: Digest [redacted]\r\n"), "{r}");
        assert!(r.contains("Content-Length: 0"), "other headers survive: {r}");
    }

    #[test]
    fn oauth_tokens_are_masked_in_forms_json_and_headers() {
        let form = "grant_type=refresh_token&refresh_token=0.AXoA-secret&client_id=abc";
        assert_eq!(redact(form), "grant_type=refresh_token&refresh_token=[redacted]&client_id=abc");
        let json = r#"{"token_type":"Bearer","access_token":"eyJ0eXAi.x\"y.z","refresh_token":"0.AX"}"#;
        let r = redact(json);
        assert!(!r.contains("eyJ0") && !r.contains("0.AX"), "{r}");
        assert!(r.contains(r#""token_type":"Bearer""#), "non-secret fields survive: {r}");
        assert_eq!(redact("Authorization: Bearer eyJ0eXAi.abc.def"), "Authorization: Bearer [redacted]");
    }

    #[test]
    fn dtmf_digits_in_sip_info_are_masked() {
        let body = "Signal=5\r\nDuration=160\r\n";
        assert_eq!(redact(body), "Signal=[redacted]\r\nDuration=160\r\n");
    }

    #[test]
    fn known_values_are_masked_anywhere() {
        let mut r = Redactor::new();
        r.add(&Secret::from("s3cr3t-pass"));
        r.add(&Secret::from("1"));
        assert_eq!(r.redact("login with s3cr3t-pass at 1 pm"), "login with [redacted] at 1 pm");
    }

    #[test]
    fn plain_text_is_borrowed_not_copied() {
        assert!(matches!(redact("INVITE sip:bob@example.com SIP/2.0"), Cow::Borrowed(_)));
    }
}
