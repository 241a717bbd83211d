//! The registrar: digest authentication (RFC 3261 22, RFC 8760 SHA-256)
//! and bindings that live as long as the WebSocket they came on (RFC 5626:
//! the flow is the route back).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use warmline_sip::auth::{Algorithm, Challenge};
use warmline_sip::{HeaderName, Request};

use super::ConnId;

/// How many nonces stay valid at once; older ones are answered stale.
const NONCES: usize = 256;

/// One registered contact.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub conn: ConnId,
    /// The Contact URI the agent registered (where INVITEs go).
    pub contact: String,
    pub expires_at: Instant,
}

/// What the registrar decided about a REGISTER's credentials.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Ok,
    /// No or wrong credentials: challenge; `stale` when only the nonce is old.
    Challenge {
        stale: bool,
    },
}

#[derive(Debug)]
pub(crate) struct Registrar {
    pub realm: String,
    /// Extension to password. Never logged.
    passwords: HashMap<String, String>,
    nonces: VecDeque<String>,
    /// By extension, newest last.
    pub bindings: HashMap<String, Vec<Binding>>,
}

impl Registrar {
    pub fn new(realm: String, passwords: HashMap<String, String>) -> Self {
        Self { realm, passwords, nonces: VecDeque::new(), bindings: HashMap::new() }
    }

    /// A WWW-Authenticate value with a fresh nonce.
    pub fn challenge(&mut self, nonce: String, stale: bool) -> String {
        let value = format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=SHA-256{}",
            self.realm,
            if stale { ", stale=true" } else { "" }
        );
        self.nonces.push_back(nonce);
        while self.nonces.len() > NONCES {
            self.nonces.pop_front();
        }
        value
    }

    /// Checks the Authorization header against the extension's password.
    /// Returns the authenticated user on success.
    pub fn check(&self, request: &Request) -> (Verdict, Option<String>) {
        let Some(value) = request.headers.get(&HeaderName::Authorization) else {
            return (Verdict::Challenge { stale: false }, None);
        };
        let params = digest_params(value);
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let user = get("username");
        let Some(password) = self.passwords.get(&user) else { return (Verdict::Challenge { stale: false }, None) };
        if !get("realm").is_empty() && get("realm") != self.realm {
            return (Verdict::Challenge { stale: false }, None);
        }
        let algorithm = match get("algorithm").to_ascii_uppercase().as_str() {
            "" | "MD5" => Algorithm::Md5,
            "SHA-256" => Algorithm::Sha256,
            _ => return (Verdict::Challenge { stale: false }, None),
        };
        let nonce = get("nonce");
        let nc = u32::from_str_radix(&get("nc"), 16).unwrap_or(1);
        let challenge = Challenge {
            realm: self.realm.clone(),
            nonce: nonce.clone(),
            opaque: None,
            algorithm,
            qop_auth: params.contains_key("qop"),
            stale: false,
        };
        let method = &request.method;
        let expected = challenge.authorization(&user, password, method, &get("uri"), &get("cnonce"), nc.max(1));
        let expected = digest_params(&expected).get("response").cloned().unwrap_or_default();
        if expected.is_empty() || expected != get("response") {
            return (Verdict::Challenge { stale: false }, None);
        }
        if !self.nonces.contains(&nonce) {
            return (Verdict::Challenge { stale: true }, None);
        }
        (Verdict::Ok, Some(user))
    }

    /// Adds or refreshes the binding of `ext` on `conn`.
    pub fn bind(&mut self, ext: &str, binding: Binding) {
        let list = self.bindings.entry(ext.to_owned()).or_default();
        list.retain(|b| b.conn != binding.conn);
        list.push(binding);
    }

    /// Removes the binding of `ext` on `conn`.
    pub fn unbind(&mut self, ext: &str, conn: ConnId) {
        if let Some(list) = self.bindings.get_mut(ext) {
            list.retain(|b| b.conn != conn);
        }
    }

    /// Removes every binding on `conn` (the WebSocket closed); returns the
    /// extensions that lost one.
    pub fn drop_conn(&mut self, conn: ConnId) -> Vec<String> {
        let mut lost = Vec::new();
        for (ext, list) in &mut self.bindings {
            let before = list.len();
            list.retain(|b| b.conn != conn);
            if list.len() != before {
                lost.push(ext.clone());
            }
        }
        lost.sort();
        lost
    }

    /// Removes expired bindings; returns the extensions that lost one.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut lost = Vec::new();
        for (ext, list) in &mut self.bindings {
            let before = list.len();
            list.retain(|b| b.expires_at > now);
            if list.len() != before {
                lost.push(ext.clone());
            }
        }
        lost.sort();
        lost
    }

    /// The newest live binding of `ext`.
    pub fn binding(&self, ext: &str) -> Option<&Binding> {
        self.bindings.get(ext).and_then(|l| l.last())
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.bindings.values().flatten().map(|b| b.expires_at).min()
    }

    /// The lifetime granted for a requested one.
    pub fn grant(requested: Option<u32>) -> u32 {
        requested.unwrap_or(600).min(3600)
    }
}

/// Digest parameters (`key=value` or `key="quoted, value"`), keys lower case.
pub(crate) fn digest_params(value: &str) -> HashMap<String, String> {
    let rest = value.trim();
    let rest = rest.strip_prefix("Digest").or_else(|| rest.strip_prefix("digest")).unwrap_or(rest);
    let mut out = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            return out;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        out.insert(key, val.trim().to_owned());
    }
}

/// How long a registration lasts before its refresh is due, as granted.
pub(crate) fn lifetime(secs: u32) -> Duration {
    Duration::from_secs(u64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_params_read_quoted_commas_and_escapes() {
        let p = digest_params(r#"Digest username="1001", uri="sip:a,b", response=abc , nc=00000001, x="q\"t""#);
        assert_eq!(p["username"], "1001");
        assert_eq!(p["uri"], "sip:a,b");
        assert_eq!(p["response"], "abc");
        assert_eq!(p["x"], "q\"t");
        assert!(digest_params("").is_empty());
        assert!(digest_params("Digest ,,,=").is_empty() || !digest_params("Digest ,,,=").contains_key("username"));
    }
}
