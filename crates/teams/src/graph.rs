//! Calling Microsoft Graph: the bearer token, one refresh on 401, and
//! errors that say what to do (429 with its wait, 403 with the missing
//! permission).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use url::Url;
use warmline_secrets::Secret;

use crate::Error;
use crate::config::join;
use crate::http::{Http, Reply, parse_retry_after};

/// A boxed future, so token sources can be shared as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where Graph calls get their bearer token. [`crate::Session`] is the real
/// one; tests and the lab may plug in others.
pub trait AccessTokens: Send + Sync + fmt::Debug {
    /// A usable access token at `now`, refreshed first if it is close to expiry.
    fn access_token(&self, now: Instant) -> BoxFuture<'_, Result<Secret, Error>>;
    /// Graph refused `token` (401): forget it so the next call refreshes.
    fn reject<'a>(&'a self, token: &'a Secret) -> BoxFuture<'a, ()>;
}

/// The signed-in user, as `/me` describes them. Not secret: the agent keeps
/// it to find the refresh token in the keyring at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The Entra object id.
    pub id: String,
    /// The user principal name (`alice@contoso.com`); the keyring account.
    pub user_principal_name: String,
    /// The display name, when Graph gives one.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A Microsoft Graph client bound to one signed-in user.
#[derive(Clone)]
pub struct Graph {
    http: Http,
    base: Url,
    tokens: Arc<dyn AccessTokens>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// The permission each call needs, named in the 403 explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permission {
    UserRead,
    PresenceReadAll,
    UserReadBasicAll,
}

impl Permission {
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Permission::UserRead => "User.Read",
            Permission::PresenceReadAll => "Presence.Read.All",
            Permission::UserReadBasicAll => "User.ReadBasic.All",
        }
    }
}

impl Graph {
    /// A client for Graph at `base` (including the version, `.../v1.0`).
    pub fn new(http: Http, base: Url, tokens: Arc<dyn AccessTokens>) -> Self {
        Graph { http, base, tokens }
    }

    /// The configured base (including the version).
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// A URL below the base.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        join(&self.base, segments)
    }

    /// Sends a request built by `build` with the bearer token. A 401 makes
    /// the token source refresh once and the request is sent again; a second
    /// 401 means the sign-in is no longer good.
    pub(crate) async fn call<F>(&self, now: Instant, permission: Permission, build: F) -> Result<Reply, Error>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut retried = false;
        loop {
            let token = self.tokens.access_token(now).await?;
            let bearer = token.expose_str().ok_or_else(|| Error::Protocol("access token is not text".into()))?;
            let reply = self.http.send(build(self.http.client()).bearer_auth(bearer)).await?;
            if reply.status == 401 && !retried {
                retried = true;
                self.tokens.reject(&token).await;
                continue;
            }
            return check(reply, permission);
        }
    }

    /// Who is signed in (`GET /me`).
    pub async fn me(&self, now: Instant) -> Result<Account, Error> {
        let url = self.url(&["me"]);
        let reply = self
            .call(now, Permission::UserRead, |c| {
                c.get(url.clone()).query(&[("$select", "id,displayName,userPrincipalName")])
            })
            .await?;
        json(&reply, "/me")
    }
}

/// `GET /me` with a token that is not yet held by a session (right after sign-in).
pub(crate) async fn me_with_token(http: &Http, base: &Url, token: &Secret) -> Result<Account, Error> {
    let bearer = token.expose_str().ok_or_else(|| Error::Protocol("access token is not text".into()))?;
    let request = http
        .client()
        .get(join(base, &["me"]))
        .query(&[("$select", "id,displayName,userPrincipalName")])
        .bearer_auth(bearer);
    let reply = check(http.send(request).await?, Permission::UserRead)?;
    json(&reply, "/me")
}

/// Graph's error body: `{"error":{"code":...,"message":...}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Turns a non-2xx reply into an error that says what to do.
pub(crate) fn check(reply: Reply, permission: Permission) -> Result<Reply, Error> {
    if (200..300).contains(&reply.status) {
        return Ok(reply);
    }
    let body: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
    let detail = body.error;
    Err(match reply.status {
        401 => Error::SignInRequired {
            reason: format!("Graph refused the access token even after a refresh ({})", detail.code),
        },
        403 => Error::Forbidden { permission: permission.scope(), message: detail.message },
        429 => Error::Throttled {
            retry_after: reply
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
        },
        status => Error::Graph { status, code: detail.code, message: detail.message },
    })
}

/// Parses a JSON body, naming the endpoint when it does not fit.
pub(crate) fn json<T: serde::de::DeserializeOwned>(reply: &Reply, what: &str) -> Result<T, Error> {
    serde_json::from_slice(&reply.body)
        .map_err(|e| Error::Protocol(format!("{what} answered with an unexpected body: {e}")))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use std::time::Duration;

    use super::*;

    fn reply(status: u16, body: &str, retry_after: Option<&'static str>) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(v));
        }
        Reply { status, headers, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn forbidden_names_the_missing_permission() {
        let body = r#"{"error":{"code":"Forbidden","message":"Insufficient privileges to complete the operation."}}"#;
        let e = check(reply(403, body, None), Permission::PresenceReadAll).expect_err("403");
        let text = e.to_string();
        assert!(text.contains("Presence.Read.All"), "the admin must learn which permission to grant: {text}");
        assert!(text.contains("Insufficient privileges"), "{text}");
    }

    #[test]
    fn throttled_keeps_the_fractional_retry_after() {
        let body = include_str!("../tests/fixtures/throttled-429.response.json");
        let e = check(reply(429, body, Some("2.128")), Permission::PresenceReadAll).expect_err("429");
        assert!(matches!(e, Error::Throttled { retry_after: Some(d) } if d == Duration::from_millis(2128)), "{e:?}");
        let e = check(reply(429, body, None), Permission::PresenceReadAll).expect_err("429");
        assert!(matches!(e, Error::Throttled { retry_after: None }), "{e:?}");
    }

    #[test]
    fn other_errors_keep_graphs_code() {
        let body = r#"{"error":{"code":"Request_UnsupportedQuery","message":"Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"}}"#;
        match check(reply(400, body, None), Permission::UserReadBasicAll) {
            Err(Error::Graph { status: 400, code, .. }) => assert_eq!(code, "Request_UnsupportedQuery"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(check(reply(204, "", None), Permission::UserRead).is_ok());
    }
}
