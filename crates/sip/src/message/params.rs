//! Parameter lists: `;name=value` after a URI or a header value.

use std::fmt;

use super::scan::{Cursor, Invalid, is_token_char, unquote};

/// One parameter. Names compare case-insensitively; values are kept as
/// written (a quoted value keeps its quotes, see [`Param::value_unquoted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The parameter name.
    pub name: String,
    /// The value, when there is an `=`.
    pub value: Option<String>,
}

impl Param {
    /// The value with surrounding quotes and escapes removed.
    pub fn value_unquoted(&self) -> Option<String> {
        self.value.as_deref().map(|v| if v.starts_with('"') { unquote(v) } else { v.to_owned() })
    }
}

/// An ordered list of parameters; order and duplicates are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// `Some(value)` for the first parameter called `name` (`Some(None)` when
    /// it has no value), `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name)).map(|p| p.value.as_deref())
    }

    /// Whether a parameter called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a parameter.
    pub fn push(&mut self, name: &str, value: Option<&str>) {
        self.0.push(Param { name: name.to_owned(), value: value.map(str::to_owned) });
    }

    /// Sets `name` to `value`, replacing the first existing one.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        match self.0.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            Some(p) => p.value = value.map(str::to_owned),
            None => self.push(name, value),
        }
    }

    /// Removes every parameter called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match &p.value {
                Some(v) => write!(f, ";{}={v}", p.name)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

/// Header parameters: `*( SEMI generic-param )` with LWS allowed around `;`
/// and `=`; the value is a token, a host (IPv6 brackets, colons) or a
/// quoted-string. Consumes the whole remaining input.
pub(crate) fn parse_header_params(c: &mut Cursor<'_>) -> Result<Params, Invalid> {
    let mut params = Params::default();
    loop {
        c.skip_ws();
        if c.is_empty() {
            return Ok(params);
        }
        if !c.eat(b';') {
            return Err("expected ';' before a parameter");
        }
        c.skip_ws();
        let name = c.take_while(is_token_char);
        if name.is_empty() {
            return Err("empty parameter");
        }
        c.skip_ws();
        let value = if c.eat(b'=') {
            c.skip_ws();
            let v = if c.peek() == Some(b'"') {
                c.quoted_string()?
            } else {
                c.take_while(|b| is_token_char(b) || matches!(b, b':' | b'[' | b']'))
            };
            if v.is_empty() {
                return Err("empty parameter value");
            }
            Some(v)
        } else {
            None
        };
        params.push(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_allow_lws_and_quoted_values() {
        let mut c = Cursor::new(" ;   tag    = 1918181833n ; q=\"a;b\";lr");
        let p = parse_header_params(&mut c).expect("valid params");
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert_eq!(p.get("q"), Some(Some("\"a;b\"")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("nope"), None);
        assert_eq!(p.to_string(), ";tag=1918181833n;q=\"a;b\";lr");
    }

    #[test]
    fn empty_parameters_are_rejected() {
        for bad in [";;", ";a=", "; =b", "x", ";a;"] {
            assert!(parse_header_params(&mut Cursor::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_replaces_and_remove_drops() {
        let mut p = Params::default();
        p.set("rport", None);
        p.set("rport", Some("5060"));
        p.push("x", None);
        p.remove("X");
        assert_eq!(p.to_string(), ";rport=5060");
    }
}
