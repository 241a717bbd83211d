//! Entra ID sign-in and the session's tokens.
//!
//! The refresh token is written to the OS keyring the moment it arrives and
//! read from there when needed; the access token lives only in this
//! process. A refresh token works once (Entra rotates it), so every refresh
//! stores the new one before the new access token is used.

mod browser;
mod device;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthUrl, ClientId, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use tracing::{info, warn};
use warmline_secrets::{Keyring, Secret, SecretKind, SecretName};

pub use browser::{Opener, SystemBrowser};
pub use device::DevicePrompt;

use crate::Error;
use crate::config::TeamsConfig;
use crate::graph::{AccessTokens, Account, BoxFuture, me_with_token};
use crate::http::Http;

type OAuthClient = BasicClient<EndpointSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Signs agents in to Entra ID and restores their sessions.
#[derive(Clone)]
pub struct Entra {
    config: Arc<TeamsConfig>,
    http: Http,
    keyring: Keyring,
    oauth: OAuthClient,
}

impl fmt::Debug for Entra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entra")
            .field("authority", &self.config.authority.as_str())
            .field("tenant", &self.config.tenant)
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl Entra {
    /// Prepares sign-in for `config`, keeping refresh tokens in `keyring`.
    pub fn new(config: TeamsConfig, http: Http, keyring: Keyring) -> Result<Self, Error> {
        config.validate()?;
        let bad = |what: &str, e: url::ParseError| Error::Config(format!("{what} URL: {e}"));
        let oauth = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.authorize_url()))
            .set_token_uri(TokenUrl::from_url(config.token_url()))
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(config.device_code_url().to_string()).map_err(|e| bad("device code", e))?,
            );
        Ok(Entra { config: Arc::new(config), http, keyring, oauth })
    }

    /// The configuration in use.
    pub fn config(&self) -> &TeamsConfig {
        &self.config
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.config.scopes.iter().map(|s| Scope::new(s.clone()))
    }

    fn keyring_name(account: &Account) -> SecretName {
        SecretName::new(SecretKind::RefreshToken, account.user_principal_name.clone())
    }

    /// The session of an agent who signed in before, if the keyring still
    /// holds their refresh token. No network: the first Graph call refreshes,
    /// so an offline start still shows the last known presence.
    pub async fn restore(&self, account: Account) -> Result<Option<Session>, Error> {
        let name = Self::keyring_name(&account);
        let keyring = self.keyring.clone();
        let found = blocking(move || keyring.get(&name)).await?;
        Ok(found.map(|_| self.session(account, None)))
    }

    fn session(&self, account: Account, access: Option<AccessToken>) -> Session {
        Session {
            inner: Arc::new(SessionInner {
                entra: self.clone(),
                name: Self::keyring_name(&account),
                account,
                access: tokio::sync::Mutex::new(access),
            }),
        }
    }

    /// Finishes any sign-in: learns who signed in, stores the refresh token
    /// in the keyring, keeps the access token in memory.
    async fn finish(&self, token: BasicTokenResponse, issued_at: Instant) -> Result<Session, Error> {
        let access = self.access_token_from(&token, issued_at);
        let refresh = token.refresh_token().ok_or_else(|| {
            Error::Protocol("the token endpoint gave no refresh token; is `offline_access` among the scopes?".into())
        })?;
        let account = me_with_token(&self.http, &self.config.graph, &access.secret).await?;
        let name = Self::keyring_name(&account);
        let keyring = self.keyring.clone();
        let value = Secret::from(refresh.secret().as_str());
        blocking(move || keyring.set(&name, &value)).await?;
        info!(account = %account.user_principal_name, "signed in to Microsoft 365");
        Ok(self.session(account, Some(access)))
    }

    fn access_token_from(&self, token: &BasicTokenResponse, issued_at: Instant) -> AccessToken {
        // Entra always says; without it assume a short life and refresh early.
        let lifetime = token.expires_in().unwrap_or(Duration::from_secs(600));
        AccessToken::new(
            Secret::from(token.access_token().secret().as_str()),
            issued_at,
            lifetime,
            Duration::from_secs(self.config.refresh_ahead_secs),
        )
    }
}

/// Runs a keyring call off the async threads: the Secret Service client blocks.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, warmline_secrets::Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Protocol(format!("keyring task failed: {e}")))?
        .map_err(Error::from)
}

/// Maps an OAuth token endpoint failure to our error, keeping only the
/// server's error code and description (never the body, which may hold tokens).
fn token_error<RE, T>(e: RequestTokenError<RE, StandardErrorResponse<T>>) -> Error
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponseType + AsRef<str> + std::fmt::Display + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => {
            let description = r.error_description().cloned();
            match r.error().as_ref() {
                "invalid_grant" | "interaction_required" | "expired_token" | "access_denied" => Error::SignInRequired {
                    reason: format!(
                        "Entra refused the grant ({}): {}",
                        r.error().as_ref(),
                        description.as_deref().unwrap_or("no description")
                    ),
                },
                other => Error::Token { error: other.to_string(), description },
            }
        }
        RequestTokenError::Request(e) => Error::Network(format!("token request failed: {}", crate::http::describe(&e))),
        RequestTokenError::Parse(e, _body) => {
            Error::Protocol(format!("the token endpoint answered with an unexpected body: {}", e.path()))
        }
        RequestTokenError::Other(s) => Error::Protocol(s),
    }
}

/// An access token and when to replace it.
#[derive(Clone)]
struct AccessToken {
    secret: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

impl AccessToken {
    /// Refreshes `margin` before expiry, but never in the first half of the
    /// token's life (a short-lived token would otherwise refresh every call).
    fn new(secret: Secret, issued_at: Instant, lifetime: Duration, margin: Duration) -> Self {
        let ahead = lifetime.saturating_sub(margin).max(lifetime / 2);
        AccessToken { secret, refresh_at: issued_at + ahead, expires_at: issued_at + lifetime }
    }

    fn fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }

    fn valid(&self, now: Instant) -> bool {
        now < self.expires_at
    }
}

/// A signed-in agent: hands out access tokens, refreshing ahead of expiry.
/// Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    entra: Entra,
    account: Account,
    name: SecretName,
    access: tokio::sync::Mutex<Option<AccessToken>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("account", &self.inner.account).finish_non_exhaustive()
    }
}

impl Session {
    /// Who is signed in.
    pub fn account(&self) -> &Account {
        &self.inner.account
    }

    /// An access token usable at `now`. Concurrent callers wait for one
    /// refresh. When a refresh fails while the old token is still valid, the
    /// old one is used: a refresh hiccup must not interrupt a call or a
    /// presence update.
    pub async fn access_token(&self, now: Instant) -> Result<Secret, Error> {
        let mut held = self.inner.access.lock().await;
        if let Some(token) = held.as_ref().filter(|t| t.fresh(now)) {
            return Ok(token.secret.clone());
        }
        match self.refresh(now).await {
            Ok(token) => {
                let secret = token.secret.clone();
                *held = Some(token);
                Ok(secret)
            }
            Err(e) => match held.as_ref().filter(|t| t.valid(now)) {
                Some(old) if !matches!(e, Error::SignInRequired { .. }) => {
                    warn!("token refresh failed, using the current token until it expires: {e}");
                    Ok(old.secret.clone())
                }
                _ => {
                    *held = None;
                    Err(e)
                }
            },
        }
    }

    /// Uses the refresh token from the keyring once and stores its successor.
    async fn refresh(&self, now: Instant) -> Result<AccessToken, Error> {
        let entra = &self.inner.entra;
        let keyring = entra.keyring.clone();
        let name = self.inner.name.clone();
        let stored = blocking(move || keyring.get(&name)).await?.ok_or_else(|| Error::SignInRequired {
            reason: format!("no refresh token for {} in the keyring", self.inner.account.user_principal_name),
        })?;
        let refresh = RefreshToken::new(
            stored.expose_str().ok_or_else(|| Error::Protocol("stored refresh token is not text".into()))?.to_string(),
        );
        let token = entra
            .oauth
            .exchange_refresh_token(&refresh)
            .add_scopes(entra.scopes())
            .request_async(&entra.http)
            .await
            .map_err(token_error)?;
        if let Some(next) = token.refresh_token() {
            let keyring = entra.keyring.clone();
            let name = self.inner.name.clone();
            let value = Secret::from(next.secret().as_str());
            blocking(move || keyring.set(&name, &value)).await?;
        }
        info!(account = %self.inner.account.user_principal_name, "access token refreshed");
        Ok(entra.access_token_from(&token, now))
    }

    /// Forgets `token` if it is the current one, so the next call refreshes.
    pub async fn reject(&self, token: &Secret) {
        let mut held = self.inner.access.lock().await;
        if held.as_ref().is_some_and(|t| t.secret.expose_bytes() == token.expose_bytes()) {
            *held = None;
        }
    }

    /// Signs out: the refresh token leaves the keyring, the access token memory.
    pub async fn sign_out(self) -> Result<(), Error> {
        *self.inner.access.lock().await = None;
        let keyring = self.inner.entra.keyring.clone();
        let name = self.inner.name.clone();
        blocking(move || keyring.delete(&name)).await?;
        info!(account = %self.inner.account.user_principal_name, "signed out of Microsoft 365");
        Ok(())
    }
}

impl AccessTokens for Session {
    fn access_token(&self, now: Instant) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(Session::access_token(self, now))
    }

    fn reject<'a>(&'a self, token: &'a Secret) -> BoxFuture<'a, ()> {
        Box::pin(Session::reject(self, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_ahead_of_expiry_but_not_in_the_first_half() {
        let t0 = Instant::now();
        let hour = AccessToken::new(Secret::from("a"), t0, Duration::from_secs(3599), Duration::from_secs(300));
        assert!(hour.fresh(t0 + Duration::from_secs(3298)));
        assert!(!hour.fresh(t0 + Duration::from_secs(3300)), "refresh five minutes ahead");
        assert!(hour.valid(t0 + Duration::from_secs(3598)), "still usable while refreshing");
        assert!(!hour.valid(t0 + Duration::from_secs(3599)));
        let short = AccessToken::new(Secret::from("a"), t0, Duration::from_secs(120), Duration::from_secs(300));
        assert!(short.fresh(t0 + Duration::from_secs(59)), "a short token is used for half its life");
        assert!(!short.fresh(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn invalid_grant_means_sign_in_again() {
        let r: StandardErrorResponse<oauth2::basic::BasicErrorResponseType> =
            serde_json::from_str(r#"{"error":"invalid_grant","error_description":"AADSTS54005: used"}"#).expect("json");
        let e = token_error::<std::io::Error, _>(RequestTokenError::ServerResponse(r));
        assert!(matches!(e, Error::SignInRequired { .. }), "{e}");
        let body = include_str!("../../tests/fixtures/entra/token.error.invalid_scope.response.json");
        let r: StandardErrorResponse<oauth2::basic::BasicErrorResponseType> = serde_json::from_str(body).expect("json");
        match token_error::<std::io::Error, _>(RequestTokenError::ServerResponse(r)) {
            Error::Token { error, description } => {
                assert_eq!(error, "invalid_scope");
                assert!(description.unwrap_or_default().starts_with("AADSTS70011"));
            }
            other => panic!("unexpected {other}"),
        }
    }
}
