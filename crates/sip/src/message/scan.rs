//! Lexical pieces shared by the header and URI grammars (RFC 3261 section 25.1).
//!
//! Everything here works on already-unfolded header values, so a CR or LF
//! seen here is always an error.

/// Why a piece of text did not match the grammar; the caller adds which header.
pub(crate) type Invalid = &'static str;

pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

pub(crate) fn trim_wsp(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A forward-only reader over a header value. All offsets it produces sit on
/// ASCII bytes, so slicing never splits a UTF-8 sequence.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips linear white space; returns whether there was any.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_wsp) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes bytes while `f` holds. `f` must reject every non-ASCII byte or
    /// accept every byte of a UTF-8 sequence, so the cut lands on a char boundary.
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// Consumes everything up to (not including) the first `b`, or the rest.
    pub(crate) fn take_until(&mut self, b: u8) -> &'a str {
        self.take_while(|x| x != b)
    }

    /// Consumes a quoted-string starting at the current `"`; returns it with
    /// its quotes and escapes intact, so it can be written back unchanged.
    pub(crate) fn quoted_string(&mut self) -> Result<&'a str, Invalid> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err("expected a quoted string");
        }
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string"),
                Some(b'"') => {
                    self.pos += 1;
                    return self.s.get(start..self.pos).ok_or("unterminated quoted string");
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        // quoted-pair covers %x00-7F except CR and LF.
                        Some(b) if b < 0x80 && b != b'\r' && b != b'\n' => self.pos += 1,
                        _ => return Err("bad escape in quoted string"),
                    }
                }
                Some(b'\r' | b'\n') => return Err("line break in quoted string"),
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// The text inside a quoted-string (with its quotes), escapes resolved.
pub(crate) fn unquote(quoted: &str) -> String {
    let inner = quoted.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// Writes `text` as a quoted-string. CR and LF cannot be carried by a
/// quoted-pair, so they become spaces rather than break the header line.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if (c as u32) < 0x20 && c != '\t' || c == '\x7f' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits a comma-separated header value at the commas that are outside
/// quoted strings and angle brackets (a URI in `<>` may hold commas).
pub(crate) fn split_list(value: &str) -> Result<Vec<&str>, Invalid> {
    let mut out = Vec::new();
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut in_angle = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let mut c = Cursor { s: value, pos: i };
                c.quoted_string()?;
                i = c.pos;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                out.push(trim_wsp(value.get(start..i).unwrap_or("")));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_angle {
        return Err("unbalanced '<'");
    }
    out.push(trim_wsp(value.get(start..).unwrap_or("")));
    Ok(out)
}

/// Checks that every `%` starts a two-hex-digit escape.
pub(crate) fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Resolves `%HH` escapes once (RFC 3261 19.1.4: never recursively).
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                // Two hex digits are at most 0xFF, so the cast cannot truncate.
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Parses 1*DIGIT into a u64, refusing overflow (RFC 4475 3.1.2.4/5 send
/// scalars far past 2^64 precisely to catch parsers that wrap).
pub(crate) fn parse_digits(s: &str) -> Result<u64, Invalid> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected digits");
    }
    s.bytes().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))).ok_or("number too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        let v = split_list(r#""a, b" <sip:x,y@h>, <sip:z@h>;p="1,2""#).expect("valid list");
        assert_eq!(v, vec![r#""a, b" <sip:x,y@h>"#, r#"<sip:z@h>;p="1,2""#]);
        assert!(split_list("<sip:a@b").is_err());
        assert_eq!(split_list(" , ").expect("list"), vec!["", ""]);
    }

    #[test]
    fn quoted_string_round_trips_through_unquote_and_quote() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" <x>"#);
        let q = c.quoted_string().expect("terminated");
        assert_eq!(unquote(q), r#"J Rosenberg \""#);
        assert_eq!(quote(&unquote(q)), q);
        assert!(Cursor::new("\"open").quoted_string().is_err());
        assert!(Cursor::new("\"esc\\").quoted_string().is_err());
    }

    #[test]
    fn escapes_are_checked_and_resolved_once() {
        assert!(escapes_ok("a%41b") && !escapes_ok("a%4") && !escapes_ok("%zz"));
        assert_eq!(unescape("v%61lue%25%34%31"), b"value%41");
        assert_eq!(unescape("%00"), vec![0]);
    }

    #[test]
    fn digits_refuse_overflow() {
        assert_eq!(parse_digits("0009"), Ok(9));
        assert!(parse_digits("36893488147419103232").is_err());
        assert!(parse_digits("-1").is_err() && parse_digits("").is_err());
    }
}
