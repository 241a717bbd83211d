//! Which numbers an agent may dial.
//!
//! A compromised or scripted UI must not be able to run up a toll-fraud
//! bill, so every dial-out and transfer target passes through the policy
//! from configuration. Emergency numbers are always allowed.
//!
//! Patterns: digits with an optional leading `+`, `?` for exactly one digit,
//! and a trailing `*` for any number of further digits (`+1425???????`,
//! `+44*`, `1???` for four-digit extensions). A pattern `*@domain` allows
//! SIP addresses in that domain (Teams users behind Direct Routing). No
//! patterns at all means every number is allowed.

use std::fmt;

/// One allowed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialPattern {
    /// A number pattern.
    Number {
        /// Digits, `+` and `?`, as written.
        body: String,
        /// Whether a `*` ends it.
        open: bool,
    },
    /// `*@domain`: SIP addresses in this domain.
    Domain(String),
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(&'static str);

impl DialPattern {
    /// Reads a pattern as configuration writes it.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        if let Some(domain) = s.strip_prefix("*@") {
            if domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                return Err(PatternError("a domain pattern is *@ followed by a domain name, e.g. *@contoso.com"));
            }
            return Ok(DialPattern::Domain(domain.to_ascii_lowercase()));
        }
        let (body, open) = match s.strip_suffix('*') {
            Some(b) => (b, true),
            None => (s, false),
        };
        let digits = body.strip_prefix('+').unwrap_or(body);
        if digits.is_empty() && !open {
            return Err(PatternError("an empty pattern allows nothing; write at least one digit or *"));
        }
        if !digits.chars().all(|c| c.is_ascii_digit() || c == '?') {
            return Err(PatternError(
                "patterns are digits with an optional leading +, ? for one digit and * at the end (no spaces)",
            ));
        }
        Ok(DialPattern::Number { body: body.to_owned(), open })
    }

    fn matches(&self, target: &Target) -> bool {
        match (self, target) {
            (DialPattern::Number { body, open }, Target::Number(n)) => {
                let (p, n) = (body.as_bytes(), n.as_bytes());
                let prefix_ok = n.len() >= p.len() && p.iter().zip(n).all(|(p, d)| *p == b'?' || p == d);
                prefix_ok && (if *open { true } else { n.len() == p.len() })
            }
            (DialPattern::Domain(d), Target::Address { domain, .. }) => domain == d,
            _ => false,
        }
    }
}

impl fmt::Display for DialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialPattern::Number { body, open } => write!(f, "{body}{}", if *open { "*" } else { "" }),
            DialPattern::Domain(d) => write!(f, "*@{d}"),
        }
    }
}

/// What a dial string means once normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A phone number or extension: digits with an optional leading `+`.
    Number(String),
    /// A SIP address with a non-numeric user part.
    Address {
        /// `user@domain` as given (scheme dropped).
        user: String,
        /// The domain, lower case.
        domain: String,
    },
}

/// A dial string the policy refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialRefused {
    /// Not a number or SIP address at all.
    #[error("`{0}` is not a phone number, extension or SIP address")]
    Malformed(String),
    /// The policy does not list it.
    #[error("dialling {0} is not allowed by your organisation's dial policy")]
    NotAllowed(String),
}

/// The allowed patterns and the emergency numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicy {
    allowed: Vec<DialPattern>,
    emergency: Vec<String>,
}

impl Default for DialPolicy {
    fn default() -> Self {
        DialPolicy::new(Vec::new(), crate::config::DEFAULT_EMERGENCY.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl DialPolicy {
    /// A policy; an empty `allowed` allows everything.
    pub fn new(allowed: Vec<DialPattern>, emergency: Vec<String>) -> Self {
        DialPolicy { allowed, emergency }
    }

    /// Normalises `dial` (spaces, dashes, dots and brackets dropped; a SIP
    /// URI with a numeric user part is a number) and checks it.
    pub fn allows(&self, dial: &str) -> Result<Target, DialRefused> {
        let target = normalise(dial).ok_or_else(|| DialRefused::Malformed(dial.to_owned()))?;
        if let Target::Number(n) = &target
            && self.emergency.iter().any(|e| e == n)
        {
            return Ok(target);
        }
        if self.allowed.is_empty() || self.allowed.iter().any(|p| p.matches(&target)) {
            return Ok(target);
        }
        let shown = match &target {
            Target::Number(n) => n.clone(),
            Target::Address { user, .. } => user.clone(),
        };
        Err(DialRefused::NotAllowed(shown))
    }
}

fn normalise(dial: &str) -> Option<Target> {
    let s = dial.trim();
    let s = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(s);
    let addr = s.strip_prefix("sip:").or_else(|| s.strip_prefix("sips:")).or_else(|| s.strip_prefix("tel:"));
    let s = match addr {
        Some(a) => a.split(';').next().unwrap_or(a),
        None => s,
    };
    if let Some((user, domain)) = s.split_once('@') {
        let number = number_of(user);
        if let Some(n) = number {
            return Some(Target::Number(n));
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c);
        if user.is_empty() || domain.is_empty() || !user.chars().all(valid) {
            return None;
        }
        let domain = domain.split(':').next().unwrap_or(domain).to_ascii_lowercase();
        if domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
            return None;
        }
        return Some(Target::Address { user: format!("{user}@{domain}"), domain });
    }
    number_of(s).map(Target::Number)
}

fn number_of(s: &str) -> Option<String> {
    let kept: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    (!digits.is_empty() && digits.len() <= 20 && digits.chars().all(|c| c.is_ascii_digit())).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> DialPolicy {
        let allowed = patterns.iter().map(|p| DialPattern::parse(p).expect("valid pattern")).collect();
        DialPolicy::new(allowed, vec!["911".into(), "112".into()])
    }

    #[test]
    fn numbers_match_exact_and_open_patterns() {
        let p = policy(&["+1425???????", "+44*", "1???"]);
        assert!(p.allows("+1 (425) 555-0100").is_ok());
        assert!(p.allows("+14255550100").is_ok());
        assert!(p.allows("+142555501001").is_err(), "one digit too many");
        assert!(p.allows("+447700900123").is_ok());
        assert!(p.allows("1234").is_ok());
        assert!(p.allows("12345").is_err());
        assert_eq!(p.allows("+900123456").expect_err("refused"), DialRefused::NotAllowed("+900123456".into()));
    }

    #[test]
    fn emergency_numbers_pass_any_policy() {
        let p = policy(&["1???"]);
        assert_eq!(p.allows("911"), Ok(Target::Number("911".into())));
        assert!(p.allows("sip:112@sbc.example.com").is_ok());
    }

    #[test]
    fn sip_addresses_need_a_domain_pattern_unless_numeric() {
        let p = policy(&["*@contoso.com", "+1*"]);
        assert!(p.allows("sip:ana.expert@Contoso.com").is_ok());
        assert!(p.allows("sip:mallory@evil.example").is_err());
        assert_eq!(p.allows("sip:+14255550100@sbc.example.com;user=phone"), Ok(Target::Number("+14255550100".into())));
        assert!(p.allows("tel:+14255550100").is_ok());
    }

    #[test]
    fn garbage_is_refused_as_malformed() {
        let p = DialPolicy::default();
        for bad in ["", "hello", "sip:@x", "+", "<script>@x", "sip:a@b c"] {
            assert!(matches!(p.allows(bad), Err(DialRefused::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn bad_patterns_say_how_to_write_them() {
        assert!(DialPattern::parse("+1 425").is_err());
        assert!(DialPattern::parse("").is_err());
        assert!(DialPattern::parse("*@").is_err());
        assert_eq!(DialPattern::parse("*").expect("any").to_string(), "*");
        assert_eq!(DialPattern::parse("*@Contoso.com").expect("domain").to_string(), "*@contoso.com");
    }
}
