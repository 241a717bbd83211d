//! Digest authentication for REGISTER and INVITE challenges (RFC 3261 22.4,
//! RFC 2617, RFC 7616 and RFC 8760 for SHA-256). Pure functions: the caller
//! supplies the client nonce, so tests and retries are reproducible.

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::message::scan::{Cursor, is_token_char, quote, split_list, trim_wsp, unquote};
use crate::message::{HeaderName, Headers, Method};

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (RFC 2617), what most SIP servers still offer.
    Md5,
    /// SHA-256 (RFC 8760), preferred when offered.
    Sha256,
}

impl Algorithm {
    fn hex(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
            Algorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
        };
        bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }
}

/// A `Digest` challenge from WWW-Authenticate (401) or Proxy-Authenticate
/// (407).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space; the credentials to use depend on it.
    pub realm: String,
    /// The server nonce.
    pub nonce: String,
    /// Echoed back unchanged.
    pub opaque: Option<String>,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// Whether `qop=auth` is offered (then it is used, with a client nonce).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the credentials were right, so
    /// retry with the new nonce without asking the user again.
    pub stale: bool,
}

fn auth_error(reason: &'static str) -> Error {
    Error::Header { name: "WWW-Authenticate".into(), reason }
}

impl Challenge {
    /// Parses one challenge (one header value).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let value = trim_wsp(value);
        let (scheme, params) = value.split_once([' ', '\t']).ok_or(auth_error("expected a scheme and parameters"))?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(auth_error("not a Digest challenge"));
        }
        let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop, mut stale) =
            (None, None, None, Algorithm::Md5, None, false);
        for item in split_list(params).map_err(auth_error)? {
            let mut c = Cursor::new(item);
            let name = c.take_while(is_token_char);
            c.skip_ws();
            if name.is_empty() || !c.eat(b'=') {
                return Err(auth_error("expected name=value"));
            }
            c.skip_ws();
            let v = if c.peek() == Some(b'"') {
                unquote(c.quoted_string().map_err(auth_error)?)
            } else {
                c.take_while(is_token_char).to_owned()
            };
            c.skip_ws();
            if !c.is_empty() {
                return Err(auth_error("unexpected text after a parameter"));
            }
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => opaque = Some(v),
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                "qop" => qop = Some(v),
                "algorithm" => {
                    algorithm = match v.to_ascii_uppercase().as_str() {
                        "MD5" => Algorithm::Md5,
                        "SHA-256" => Algorithm::Sha256,
                        _ => return Err(auth_error("unsupported algorithm")),
                    }
                }
                _ => {}
            }
        }
        let qop_auth = match qop {
            None => false,
            Some(q) if q.split(',').any(|t| trim_wsp(t).eq_ignore_ascii_case("auth")) => true,
            Some(_) => return Err(auth_error("only qop=auth-int offered")),
        };
        Ok(Challenge {
            realm: realm.ok_or(auth_error("no realm"))?,
            nonce: nonce.ok_or(auth_error("no nonce"))?,
            opaque,
            algorithm,
            qop_auth,
            stale,
        })
    }

    /// The strongest challenge we support among the WWW-Authenticate (or,
    /// with `proxy`, Proxy-Authenticate) headers of a 401/407: SHA-256 over
    /// MD5, as RFC 8760 asks.
    pub fn best(headers: &Headers, proxy: bool) -> Result<Self, Error> {
        let name = if proxy { HeaderName::ProxyAuthenticate } else { HeaderName::WwwAuthenticate };
        let mut found: Option<Challenge> = None;
        let mut last_error = Error::MissingHeader(name.as_str().to_owned());
        for value in headers.get_all(&name) {
            match Challenge::parse(value) {
                Ok(c) if found.as_ref().is_none_or(|f| f.algorithm == Algorithm::Md5) => found = Some(c),
                Ok(_) => {}
                Err(e) => last_error = e,
            }
        }
        found.ok_or(last_error)
    }

    /// The Authorization (or Proxy-Authorization) header value answering
    /// this challenge for a request `method` to `uri` (the Request-URI as
    /// written). `cnonce` is a fresh random string and `nc` counts the uses
    /// of this nonce, starting at 1; both are ignored without qop.
    pub fn authorization(
        &self,
        username: &str,
        password: &str,
        method: &Method,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let h = |s: &str| self.algorithm.hex(s);
        let ha1 = h(&format!("{username}:{}:{password}", self.realm));
        let ha2 = h(&format!("{method}:{uri}"));
        let nc = format!("{nc:08x}");
        let response = if self.qop_auth {
            h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            h(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            self.algorithm.name()
        );
        if self.qop_auth {
            let _ = write!(out, ", cnonce={}, qop=auth, nc={nc}", quote(cnonce));
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(out, ", opaque={}", quote(opaque));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(header: &str) -> &str {
        let start = header.find("response=\"").map(|i| i + 10).unwrap_or(0);
        header.get(start..start + header.get(start..).and_then(|r| r.find('"')).unwrap_or(0)).unwrap_or("")
    }

    #[test]
    fn rfc_2617_md5_example() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("challenge");
        assert_eq!((c.algorithm, c.qop_auth, c.stale), (Algorithm::Md5, true, false));
        let method = Method::Extension("GET".into());
        let a = c.authorization("Mufasa", "Circle Of Life", &method, "/dir/index.html", "0a4f113b", 1);
        assert_eq!(response_of(&a), "6629fae49393a05397450978507c4ef1");
        assert!(a.contains("nc=00000001") && a.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), "{a}");
    }

    #[test]
    fn rfc_7616_sha256_and_md5_examples() {
        let challenge = |alg: &str| {
            Challenge::parse(&format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            ))
            .expect("challenge")
        };
        let method = Method::Extension("GET".into());
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let sha = challenge("SHA-256").authorization("Mufasa", "Circle of Life", &method, "/dir/index.html", cnonce, 1);
        assert_eq!(response_of(&sha), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        assert!(sha.contains("algorithm=SHA-256"));
        let md5 = challenge("MD5").authorization("Mufasa", "Circle of Life", &method, "/dir/index.html", cnonce, 1);
        assert_eq!(response_of(&md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn sha256_is_preferred_and_stale_is_seen() {
        let mut h = Headers::new();
        h.push(HeaderName::ProxyAuthenticate, "Digest realm=\"sbc\", nonce=\"a\", algorithm=MD5");
        h.push(HeaderName::ProxyAuthenticate, "Digest realm=\"sbc\", nonce=\"b\", algorithm=SHA-256, stale=TRUE");
        h.push(HeaderName::ProxyAuthenticate, "Basic realm=\"x\"");
        let best = Challenge::best(&h, true).expect("a supported challenge");
        assert_eq!((best.algorithm, best.nonce.as_str(), best.stale), (Algorithm::Sha256, "b", true));
        assert!(Challenge::best(&h, false).is_err(), "no WWW-Authenticate");
    }

    #[test]
    fn without_qop_the_rfc_2069_form_is_used() {
        let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").expect("challenge");
        let a = c.authorization("u", "p", &Method::Register, "sip:r", "ignored", 1);
        assert!(!a.contains("qop") && !a.contains("cnonce"), "{a}");
        let ha1 = Algorithm::Md5.hex("u:r:p");
        let ha2 = Algorithm::Md5.hex("REGISTER:sip:r");
        assert_eq!(response_of(&a), Algorithm::Md5.hex(&format!("{ha1}:n:{ha2}")));
    }

    #[test]
    fn malformed_or_unsupported_challenges_are_refused() {
        for bad in [
            "Basic realm=\"x\"",
            "Digest",
            "Digest realm=\"r\"",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"r, nonce=\"n\"",
            "Digest realm",
        ] {
            assert!(Challenge::parse(bad).is_err(), "{bad}");
        }
    }
}
