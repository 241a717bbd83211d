//! Faults a test (or a curious newcomer) can inject: Graph throttling and
//! auth failures, Entra outages, a CRM that is down, drops connections or
//! is slow. Each is shaped like the real service's failure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A failure Graph answers with instead of the real reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GraphFault {
    /// 429 `TooManyRequests` with `Retry-After` (seconds; Graph sends
    /// fractions like `2.128`), the documented throttling response.
    Throttle {
        /// Seconds to ask the client to wait.
        #[serde(default = "default_retry_after")]
        retry_after: f64,
    },
    /// 401 `InvalidAuthenticationToken`, as for an expired access token.
    ExpiredToken,
    /// 403 `Authorization_RequestDenied`, as when admin consent for a
    /// permission is missing.
    MissingConsent,
    /// 503 `serviceNotAvailable` with `Retry-After`.
    Unavailable {
        /// Seconds to ask the client to wait.
        #[serde(default = "default_retry_after")]
        retry_after: f64,
    },
}

fn default_retry_after() -> f64 {
    2.128
}

/// Which Graph calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphApi {
    /// `/me` and `/me/presence`.
    Me,
    /// `/users`, `/users/{id}`.
    Users,
    /// `getPresencesByUserId`, `/users/{id}/presence`, `/communications/presences/{id}`.
    Presence,
}

/// A fault, how many times, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphFaultRule {
    /// The failure.
    pub fault: GraphFault,
    /// How many matching requests fail (`None`: every one until cleared).
    pub times: Option<u32>,
    /// Only these calls (`None`: every Graph call).
    pub api: Option<GraphApi>,
}

impl GraphFaultRule {
    /// `fault` for the next Graph request only.
    pub fn once(fault: GraphFault) -> Self {
        GraphFaultRule { fault, times: Some(1), api: None }
    }
}

/// A failure of Entra's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFault {
    /// 503 with `temporarily_unavailable` (AADSTS90033), as in an Entra outage.
    Unavailable,
    /// 400 `interaction_required` (AADSTS50076, multi-factor authentication
    /// needed): a refresh fails and the user must sign in interactively.
    InteractionRequired,
}

/// A fault of the token endpoint, how many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFaultRule {
    /// The failure.
    pub fault: TokenFault,
    /// How many token requests fail (`None`: until cleared).
    pub times: Option<u32>,
}

/// How the CRM misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum CrmOutage {
    /// Working normally.
    #[default]
    None,
    /// Every request gets 503 with `Retry-After`.
    Unavailable,
    /// Connections are accepted and closed without an answer.
    Drop,
    /// Every request is answered after this delay.
    Slow {
        /// The delay in milliseconds.
        delay_ms: u64,
    },
    /// The next `count` note writes take effect but are answered 503, as if
    /// the answer was lost on the way back (retrying with the same
    /// idempotency key must not duplicate them).
    LoseResponses {
        /// How many.
        count: u32,
    },
}

impl CrmOutage {
    /// The delay of [`CrmOutage::Slow`].
    pub fn delay(&self) -> Option<Duration> {
        match self {
            CrmOutage::Slow { delay_ms } => Some(Duration::from_millis(*delay_ms)),
            _ => None,
        }
    }
}

/// Takes one use of the first rule `matches` accepts, dropping spent rules.
pub(crate) fn take<R: Clone>(
    rules: &mut Vec<R>,
    times: impl Fn(&mut R) -> &mut Option<u32>,
    matches: impl Fn(&R) -> bool,
) -> Option<R> {
    let i = rules.iter().position(&matches)?;
    let rule = rules[i].clone();
    match times(&mut rules[i]) {
        Some(n) if *n <= 1 => {
            rules.remove(i);
        }
        Some(n) => *n -= 1,
        None => {}
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_json_commands_write_them() {
        let f: GraphFault = serde_json::from_str(r#"{"kind":"throttle","retry_after":10}"#).expect("parses");
        assert_eq!(f, GraphFault::Throttle { retry_after: 10.0 });
        let f: GraphFault = serde_json::from_str(r#"{"kind":"throttle"}"#).expect("default");
        assert_eq!(f, GraphFault::Throttle { retry_after: 2.128 });
        let o: CrmOutage = serde_json::from_str(r#"{"mode":"slow","delay_ms":1500}"#).expect("parses");
        assert_eq!(o.delay(), Some(Duration::from_millis(1500)));
        assert!(serde_json::from_str::<CrmOutage>(r#"{"mode":"slow","delay":1}"#).is_err(), "typos are refused");
    }

    #[test]
    fn a_counted_rule_runs_out_and_an_open_one_does_not() {
        let mut rules = vec![
            GraphFaultRule { fault: GraphFault::ExpiredToken, times: Some(2), api: Some(GraphApi::Me) },
            GraphFaultRule { fault: GraphFault::MissingConsent, times: None, api: None },
        ];
        fn me(r: &GraphFaultRule) -> bool {
            r.api.is_none_or(|a| a == GraphApi::Me)
        }
        fn t(r: &mut GraphFaultRule) -> &mut Option<u32> {
            &mut r.times
        }
        assert_eq!(take(&mut rules, t, me).map(|r| r.fault), Some(GraphFault::ExpiredToken));
        assert_eq!(take(&mut rules, t, me).map(|r| r.fault), Some(GraphFault::ExpiredToken));
        assert_eq!(take(&mut rules, t, me).map(|r| r.fault), Some(GraphFault::MissingConsent));
        assert_eq!(take(&mut rules, t, me).map(|r| r.fault), Some(GraphFault::MissingConsent));
        assert_eq!(rules.len(), 1);
    }
}
