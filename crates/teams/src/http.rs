//! The one HTTP client: rustls, optional proxy and extra CA, no redirects,
//! and redacted logs of every exchange.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tracing::debug;
use url::Url;
use warmline_secrets::redact;

use crate::Error;
use crate::config::{HttpConfig, TeamsConfig};

/// A configured HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// Builds the client for `config`. TLS certificates are always verified;
    /// there is no switch to turn that off. Plain HTTP reaches only loopback
    /// addresses because [`TeamsConfig::validate`] refuses anything else.
    pub fn new(config: &TeamsConfig) -> Result<Self, Error> {
        config.validate()?;
        Self::from_http_config(&config.http)
    }

    /// Builds a client from the proxy and trust settings alone.
    pub fn from_http_config(config: &HttpConfig) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            // OAuth endpoints must not be followed through redirects (RFC 9700
            // 4.11), and Graph never needs it for the calls we make.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_secs.clamp(1, 10)))
            .user_agent(concat!("Warmline/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| Error::Config(format!("http.proxy {}: {e}", redact(proxy.as_str()))))?
                // The lab and test servers live on this machine.
                .no_proxy(reqwest::NoProxy::from_string("localhost,127.0.0.1,::1"));
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &config.extra_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Config(format!("http.extra_ca_file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Config(format!("http.extra_ca_file {}: not PEM certificates: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(Error::Config(format!("http.extra_ca_file {} holds no certificate", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Http { client })
    }

    /// The underlying client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request and reads the whole body, logging both (redacted).
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let request = request.build().map_err(|e| Error::Network(e.without_url().to_string()))?;
        log_request(request.method().as_str(), request.url(), request.body().and_then(|b| b.as_bytes()));
        let response = self.client.execute(request).await.map_err(network_error)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(network_error)?.to_vec();
        log_response(status, &body);
        Ok(Reply { status, headers, body })
    }
}

/// A whole HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A network failure, without the URL (it may carry a query worth hiding).
pub(crate) fn network_error(e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Error::Network(format!("request {kind}: {}", describe(&e.without_url())))
}

/// An error and every cause below it on one line, redacted. reqwest's own
/// message ("error sending request") hides the cause an admin needs, such
/// as rustls' "invalid peer certificate: UnknownIssuer"; a certificate
/// failure also says how to fix it.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let mut text = err.to_string();
        // oauth2 hands us reqwest's error with its URL; keep it out like ours.
        let reqwest_error = err
            .downcast_ref::<reqwest::Error>()
            .or_else(|| err.downcast_ref::<Box<reqwest::Error>>().map(|b| b.as_ref()));
        if let Some(url) = reqwest_error.and_then(reqwest::Error::url) {
            text = text.replace(&format!(" for url ({url})"), "");
        }
        // hyper and std repeat their inner error in their own message.
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    let mut text = redact(&parts.join(": ")).into_owned();
    if text.to_ascii_lowercase().contains("certificate") {
        text.push_str(
            " (the server's TLS certificate was refused; if your network signs TLS with its own CA, \
             set http.extra_ca_file to that CA's PEM file)",
        );
    }
    text
}

fn log_request(method: &str, url: &Url, body: Option<&[u8]>) {
    debug!(target: "warmline_teams::http", "{method} {} {}", redact(url.as_str()), one_line(body.unwrap_or_default()));
}

fn log_response(status: u16, body: &[u8]) {
    debug!(target: "warmline_teams::http", "<- {status} {}", one_line(body));
}

/// A body for the log: redacted first (the patterns see the original
/// layout), then on one line so each exchange is one log line.
fn one_line(body: &[u8]) -> String {
    redact(&String::from_utf8_lossy(body)).split_whitespace().collect::<Vec<_>>().join(" ")
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            if let Ok(url) = Url::parse(&request.uri().to_string()) {
                log_request(request.method().as_str(), &url, Some(request.body()));
            }
            let response = self.client.call(request).await?;
            log_response(response.status().as_u16(), response.body());
            Ok(response)
        })
    }
}

/// Parses `Retry-After` as seconds. Graph sends fractional values such as
/// `2.128`, which RFC 9110 does not allow but we must still honour; an
/// HTTP date or garbage gives `None` and the caller falls back to its slow
/// pace. Values are capped at an hour so a typo cannot stop presence for a day.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_graphs_fractional_seconds() {
        assert_eq!(parse_retry_after("2.128"), Some(Duration::from_millis(2128)));
        assert_eq!(parse_retry_after("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_retry_after(" 10 "), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("86400"), Some(Duration::from_secs(3600)), "capped at an hour");
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn bad_extra_ca_is_a_config_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let config = HttpConfig { extra_ca_file: Some(path), ..HttpConfig::default() };
        let e = Http::from_http_config(&config).expect_err("garbage PEM must be refused");
        assert!(matches!(e, Error::Config(_)), "{e}");
        let missing = HttpConfig { extra_ca_file: Some(dir.path().join("absent.pem")), ..HttpConfig::default() };
        assert!(Http::from_http_config(&missing).is_err());
    }

    #[test]
    fn an_extra_ca_file_is_trusted() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-ca.pem");
        let config = HttpConfig { extra_ca_file: Some(path), ..HttpConfig::default() };
        Http::from_http_config(&config).expect("a PEM CA certificate is accepted");
    }

    #[test]
    fn proxies_of_every_supported_scheme_build() {
        for proxy in ["http://proxy.corp:3128", "https://proxy.corp:443"] {
            let config = HttpConfig { proxy: Some(Url::parse(proxy).expect("url")), ..HttpConfig::default() };
            Http::from_http_config(&config).unwrap_or_else(|e| panic!("{proxy}: {e}"));
        }
    }
}
