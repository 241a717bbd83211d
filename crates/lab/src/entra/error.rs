//! Entra's error responses: the OAuth `error` a client switches on, an
//! `AADSTS` number and sentence for people, trace and correlation ids, as
//! in the documented `invalid_scope` example. The numbers follow Entra's
//! public error table where it has one for the situation; clients should
//! key on `error` only, as Microsoft advises.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::clock::entra_timestamp;

/// An OAuth error as Entra words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub status: StatusCode,
    /// The OAuth 2.0 `error`.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The sentence after `AADSTSnnnn: `.
    pub message: String,
    /// Entra's `suberror`, for the errors that have one.
    pub suberror: Option<&'static str>,
}

impl AadError {
    pub(crate) fn new(error: &'static str, code: u32, message: impl Into<String>) -> Self {
        AadError { status: StatusCode::BAD_REQUEST, error, code, message: message.into(), suberror: None }
    }

    pub(crate) fn missing(parameter: &str) -> Self {
        AadError::new(
            "invalid_request",
            900_144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    pub(crate) fn invalid_scope(scope: &str) -> Self {
        AadError::new(
            "invalid_scope",
            70_011,
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        )
    }

    pub(crate) fn unknown_client(client_id: &str, domain: &str) -> Self {
        let mut e = AadError::new(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{domain}'. This can happen \
                 if the application has not been installed by the administrator of the tenant or consented to by any \
                 user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
        e.status = StatusCode::BAD_REQUEST;
        e
    }

    pub(crate) fn unknown_tenant(tenant: &str) -> Self {
        AadError::new(
            "invalid_request",
            90_002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into \
                 the correct cloud."
            ),
        )
    }

    /// `AADSTS50011: The redirect URI ... does not match`.
    pub(crate) fn redirect_mismatch(redirect: &str, client_id: &str) -> Self {
        AadError::new(
            "invalid_request",
            50_011,
            format!(
                "The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured \
                 for the application '{client_id}'. The lab accepts http loopback redirects (127.0.0.1, localhost, \
                 [::1]) on any port, as Entra does for public clients."
            ),
        )
    }

    /// The description, with the trace lines Entra appends.
    pub(crate) fn description(&self, now_ms: u64, trace_id: &str, correlation_id: &str) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {}",
            self.code,
            self.message,
            entra_timestamp(now_ms)
        )
    }

    /// The JSON body of the token and device code endpoints.
    pub(crate) fn to_response(&self, now_ms: u64) -> Response {
        let (trace_id, correlation_id) = (crate::ids::guid(), crate::ids::guid());
        let mut body = json!({
            "error": self.error,
            "error_description": self.description(now_ms, &trace_id, &correlation_id),
            "error_codes": [self.code],
            "timestamp": entra_timestamp(now_ms),
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(sub) = self.suberror {
            body["suberror"] = json!(sub);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        no_store(&mut response);
        response
    }
}

/// Token responses must not be cached (RFC 6749 5.1).
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_follow_the_documented_layout() {
        let e = AadError::invalid_scope("https://foo.microsoft.com/mail.read");
        let d = e.description(1_452_304_932_000, "t", "c");
        assert_eq!(
            d,
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope \
             https://foo.microsoft.com/mail.read is not valid.\r\nTrace ID: t\r\nCorrelation ID: c\r\n\
             Timestamp: 2016-01-09 02:02:12Z"
        );
    }
}
