//! Delegated permissions: which scopes exist, how a request names them, and
//! which Graph calls need which.

use std::collections::BTreeSet;

use super::error::AadError;

/// Graph's delegated permissions the lab knows, in Graph's spelling.
pub(crate) const GRAPH_PERMISSIONS: [&str; 6] =
    ["User.Read", "User.ReadBasic.All", "User.Read.All", "Presence.Read", "Presence.Read.All", "People.Read"];

/// OpenID Connect scopes: not Graph permissions, always allowed.
pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

const GRAPH_RESOURCE: &str = "https://graph.microsoft.com/";

/// The scopes a request asked for, in their canonical spelling, with
/// `.default` expanded to what the tenant consented to.
pub(crate) fn parse(scope: &str, consented: &BTreeSet<String>) -> Result<Vec<String>, AadError> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for raw in scope.split_whitespace() {
        let name = strip_resource(raw);
        if name == ".default" {
            consented.iter().cloned().for_each(&mut push);
        } else if let Some(known) =
            GRAPH_PERMISSIONS.iter().chain(OIDC_SCOPES.iter()).find(|k| k.eq_ignore_ascii_case(name))
        {
            push((*known).to_string());
        } else {
            return Err(AadError::invalid_scope(raw));
        }
    }
    if out.is_empty() {
        return Err(AadError::missing("scope"));
    }
    Ok(out)
}

fn strip_resource(raw: &str) -> &str {
    match raw.get(..GRAPH_RESOURCE.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(GRAPH_RESOURCE) => &raw[GRAPH_RESOURCE.len()..],
        _ => raw,
    }
}

/// What a token carries: the Graph permissions asked for that the tenant
/// consented to (a permission without consent is left out, so Graph answers
/// 403 where it is needed), and the OpenID scopes asked for.
pub(crate) fn grant(requested: &[String], consented: &BTreeSet<String>) -> Vec<String> {
    requested.iter().filter(|s| OIDC_SCOPES.contains(&s.as_str()) || consented.contains(*s)).cloned().collect()
}

/// The `scope` of a token response: everything granted but `offline_access`.
pub(crate) fn response_scope(granted: &[String]) -> String {
    granted.iter().filter(|s| *s != "offline_access").cloned().collect::<Vec<_>>().join(" ")
}

/// A Graph call's permission needs: any one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// `/me`.
    SignedInUser,
    /// `/users`, `/users/{id}`.
    ReadUsers,
    /// `/me/presence`.
    OwnPresence,
    /// Anyone's presence.
    AllPresence,
}

impl Need {
    pub(crate) fn any_of(self) -> &'static [&'static str] {
        match self {
            Need::SignedInUser => &["User.Read", "User.ReadBasic.All", "User.Read.All"],
            Need::ReadUsers => &["User.ReadBasic.All", "User.Read.All"],
            Need::OwnPresence => &["Presence.Read", "Presence.Read.All"],
            Need::AllPresence => &["Presence.Read.All"],
        }
    }

    /// Whether `scopes` (a token's, less what the tenant no longer consents to) allow the call.
    pub(crate) fn met_by(self, scopes: &[String], consented: &BTreeSet<String>) -> bool {
        self.any_of().iter().any(|p| consented.contains(*p) && scopes.iter().any(|s| s == p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> BTreeSet<String> {
        GRAPH_PERMISSIONS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_are_matched_case_insensitively_with_or_without_the_resource() {
        let s = parse("user.read https://graph.microsoft.com/Presence.Read.All offline_access openid", &all())
            .expect("valid");
        assert_eq!(s, ["User.Read", "Presence.Read.All", "offline_access", "openid"]);
        let d = parse("https://graph.microsoft.com/.default offline_access", &all()).expect(".default");
        assert!(d.contains(&"User.ReadBasic.All".to_string()) && d.contains(&"offline_access".to_string()));
    }

    #[test]
    fn an_unknown_scope_is_invalid_scope_and_none_is_missing() {
        let e = parse("User.Read https://foo.microsoft.com/mail.read", &all()).expect_err("unknown");
        assert_eq!((e.error, e.code), ("invalid_scope", 70_011));
        assert_eq!(parse("  ", &all()).expect_err("empty").code, 900_144);
    }

    #[test]
    fn a_revoked_permission_is_left_out_and_no_longer_met() {
        let mut consented = all();
        let requested = parse("User.Read Presence.Read.All offline_access", &consented).expect("valid");
        let token = grant(&requested, &consented);
        assert!(Need::AllPresence.met_by(&token, &consented));
        consented.remove("Presence.Read.All");
        assert!(!Need::AllPresence.met_by(&token, &consented), "existing tokens lose it too");
        assert_eq!(grant(&requested, &consented), ["User.Read", "offline_access"]);
        assert_eq!(response_scope(&token), "User.Read Presence.Read.All");
    }
}
