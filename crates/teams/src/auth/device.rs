//! Device code sign-in (RFC 8628): for a headless agent or when no browser
//! can be opened. The user types a short code on another device.

use std::future::Future;
use std::time::{Duration, Instant};

use oauth2::{DeviceAuthorizationResponse, ExtraDeviceAuthorizationFields};
use serde::{Deserialize, Serialize};

use super::{Entra, Session, token_error};
use crate::Error;

/// Entra adds a ready-made sentence to the device authorization response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EntraDeviceFields {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for EntraDeviceFields {}

/// What to show the user during device code sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePrompt {
    /// The code to type.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// Entra's own instruction sentence, when it sends one.
    pub message: Option<String>,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

impl Entra {
    /// Signs in with the device code flow. `prompt` receives what to show the
    /// user; `sleep` waits between polls (pass `tokio::time::sleep`; tests
    /// pass one that returns at once and records the intervals). Polling
    /// honours `authorization_pending` and `slow_down` (five more seconds).
    pub async fn sign_in_device<P, S, SF>(&self, prompt: P, sleep: S) -> Result<Session, Error>
    where
        P: FnOnce(&DevicePrompt),
        S: Fn(Duration) -> SF,
        SF: Future<Output = ()>,
    {
        let details: DeviceAuthorizationResponse<EntraDeviceFields> = self
            .oauth
            .exchange_device_code()
            .add_scopes(self.scopes())
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        prompt(&DevicePrompt {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            message: details.extra_fields().message.clone(),
            expires_in: details.expires_in(),
        });
        let token = self
            .oauth
            .exchange_device_access_token(&details)
            .request_async(&self.http, sleep, None)
            .await
            .map_err(token_error)?;
        self.finish(token, Instant::now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entras_device_response_parses_with_its_message() {
        let body = include_str!("../../tests/fixtures/entra/devicecode.response.RECONSTRUCTED.json");
        let r: DeviceAuthorizationResponse<EntraDeviceFields> = serde_json::from_str(body).expect("parses");
        assert_eq!(r.user_code().secret(), "FSBFZMBKC");
        assert_eq!(r.interval(), Duration::from_secs(5));
        assert!(r.extra_fields().message.as_deref().unwrap_or_default().contains("FSBFZMBKC"));
    }
}
