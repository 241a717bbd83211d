//! The OData query options `/users` accepts: `$search` (with Graph's
//! `"property:term"` clauses joined by `OR`/`AND`), `$select`, `$top`,
//! `$orderby`, `$count` and the `$skiptoken` of `@odata.nextLink`.

use std::cmp::Ordering;

use crate::directory::{PROPERTIES, User, words};

/// A query Graph refuses: status 400, Graph's error code, a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refused {
    Refused { code, message: message.into() }
}

/// Properties `$search` can name on users.
const SEARCHABLE: [&str; 7] =
    ["displayName", "givenName", "surname", "mail", "userPrincipalName", "jobTitle", "department"];

/// Graph's page size limits for users.
pub(crate) const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 999;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    property: &'static str,
    words: Vec<String>,
}

impl Clause {
    /// Every word of the term starts a word of the property (Graph's
    /// tokenised prefix match: `wa` finds "Oscar Ward").
    fn matches(&self, user: &User) -> bool {
        let Some(value) = user.searchable(self.property) else { return false };
        let have: Vec<String> = words(value).collect();
        self.words.iter().all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
    }
}

/// `$search`: clauses in groups; a user matches when every clause of some group does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    any_of: Vec<Vec<Clause>>,
}

impl Search {
    pub(crate) fn parse(text: &str) -> Result<Search, Refused> {
        let mut any_of: Vec<Vec<Clause>> = vec![Vec::new()];
        let mut rest = text.trim();
        let mut expect_clause = true;
        while !rest.is_empty() {
            if expect_clause {
                let Some(inner) = rest.strip_prefix('"') else {
                    return Err(refuse(
                        "Request_UnsupportedQuery",
                        format!("Syntax error in $search {text:?}: clauses are quoted, like \"displayName:wa\"."),
                    ));
                };
                let Some(end) = inner.find('"') else {
                    return Err(refuse("Request_UnsupportedQuery", format!("Unterminated quote in $search {text:?}.")));
                };
                let clause = Search::clause(&inner[..end])?;
                if let Some(group) = any_of.last_mut() {
                    group.push(clause);
                }
                rest = inner[end + 1..].trim_start();
                expect_clause = false;
            } else {
                let (op, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                match op {
                    "OR" => any_of.push(Vec::new()),
                    "AND" => {}
                    other => {
                        return Err(refuse(
                            "Request_UnsupportedQuery",
                            format!("Syntax error in $search {text:?}: expected OR or AND, found {other:?}."),
                        ));
                    }
                }
                rest = tail.trim_start();
                expect_clause = true;
            }
        }
        if expect_clause {
            return Err(refuse(
                "Request_UnsupportedQuery",
                format!("$search {text:?} is empty or ends with an operator."),
            ));
        }
        Ok(Search { any_of })
    }

    fn clause(text: &str) -> Result<Clause, Refused> {
        let Some((property, term)) = text.split_once(':') else {
            return Err(refuse(
                "Request_UnsupportedQuery",
                format!("$search on users needs a property, like \"displayName:{text}\"."),
            ));
        };
        let Some(property) = SEARCHABLE.iter().find(|p| p.eq_ignore_ascii_case(property.trim())) else {
            return Err(refuse(
                "Request_UnsupportedQuery",
                format!("Property '{property}' is not supported in $search on users."),
            ));
        };
        let words: Vec<String> = words(term).collect();
        if words.is_empty() {
            return Err(refuse("Request_UnsupportedQuery", format!("$search clause {text:?} has no term.")));
        }
        Ok(Clause { property, words })
    }

    pub(crate) fn matches(&self, user: &User) -> bool {
        self.any_of.iter().any(|group| group.iter().all(|c| c.matches(user)))
    }
}

/// `$select`, validated against the known properties (case-insensitive, as Graph is).
pub(crate) fn select(text: &str) -> Result<Vec<&'static str>, Refused> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) if !out.contains(p) => out.push(*p),
            Some(_) => {}
            None => {
                return Err(refuse(
                    "Request_BadRequest",
                    format!("Could not find a property named '{name}' on type 'microsoft.graph.user'."),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(refuse("Request_BadRequest", "$select names no property."));
    }
    Ok(out)
}

/// `$top`: 1 to 999 for users.
pub(crate) fn top(text: &str) -> Result<usize, Refused> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
        _ => Err(refuse(
            "Request_BadRequest",
            format!("Invalid page size specified: '{text}'. Must be between 1 and {MAX_TOP} inclusive."),
        )),
    }
}

/// `$orderby`: `displayName` or `userPrincipalName`, optionally `desc`.
pub(crate) fn order_by(text: &str) -> Result<impl Fn(&User, &User) -> Ordering, Refused> {
    let mut parts = text.split_whitespace();
    let property = parts.next().unwrap_or_default();
    let desc = match parts.next() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(refuse("Request_BadRequest", format!("Invalid $orderby direction '{other}'."))),
    };
    let key: fn(&User) -> String = if property.eq_ignore_ascii_case("displayName") {
        |u| u.display_name.to_lowercase()
    } else if property.eq_ignore_ascii_case("userPrincipalName") {
        |u| u.upn.clone()
    } else {
        return Err(refuse(
            "Request_UnsupportedQuery",
            format!("Sorting by '{property}' is not supported; use displayName or userPrincipalName."),
        ));
    };
    Ok(move |a: &User, b: &User| {
        let o = key(a).cmp(&key(b));
        if desc { o.reverse() } else { o }
    })
}

const SKIPTOKEN_PREFIX: &str = "RFNwdAIAAQAAA";

/// The opaque `$skiptoken` for an offset.
pub(crate) fn skiptoken(offset: usize) -> String {
    format!("{SKIPTOKEN_PREFIX}{}", crate::ids::b64url(format!("lab-offset:{offset}").as_bytes()))
}

/// The offset a `$skiptoken` stands for.
pub(crate) fn offset(token: &str) -> Result<usize, Refused> {
    use base64::Engine;
    token
        .strip_prefix(SKIPTOKEN_PREFIX)
        .and_then(|t| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("lab-offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            refuse(
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Directory;
    use crate::scenario::Scenario;

    fn names(search: &str) -> Vec<String> {
        let d = Directory::from_scenario(&Scenario::default_scenario());
        let s = Search::parse(search).expect("valid");
        d.users.iter().filter(|u| s.matches(u)).map(|u| u.display_name.clone()).collect()
    }

    #[test]
    fn search_matches_word_prefixes_like_graph() {
        assert_eq!(names("\"displayName:pri\""), ["Priya Natarajan"]);
        assert_eq!(names("\"displayName:NATARA\""), ["Priya Natarajan"], "case-insensitive, any word");
        assert!(names("\"displayName:riya\"").is_empty(), "prefixes only");
        assert_eq!(names("\"displayName:priya\" OR \"mail:oliver\""), ["Priya Natarajan", "Oliver Bennett"]);
        assert_eq!(names("\"displayName:emily\" AND \"jobTitle:supervisor\""), ["Emily Carter"]);
        assert_eq!(names("\"displayName:priya natarajan\""), ["Priya Natarajan"], "every word must match");
    }

    #[test]
    fn malformed_searches_are_refused() {
        for bad in [
            "displayName:wa",
            "\"wa\"",
            "\"displayName:wa",
            "\"displayName:wa\" XOR \"mail:x\"",
            "\"officeLocation:x\"",
            "\"displayName:wa\" OR",
        ] {
            assert!(Search::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn select_top_and_skiptoken_check_their_values() {
        assert_eq!(select("ID, displayName,id").expect("valid"), ["id", "displayName"]);
        assert_eq!(select("shoeSize").expect_err("unknown").code, "Request_BadRequest");
        assert_eq!(top("999"), Ok(999));
        assert!(top("0").is_err() && top("1000").is_err() && top("x").is_err());
        assert_eq!(offset(&skiptoken(25)), Ok(25));
        assert_eq!(offset("garbage").expect_err("bad").code, "Directory_ExpiredPageToken");
    }
}
