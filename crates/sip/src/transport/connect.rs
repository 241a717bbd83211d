//! Opening one WebSocket to one server: the URL rules (ws:// only on
//! loopback), TCP, TLS with rustls, the HTTP upgrade asking for the `sip`
//! subprotocol, and errors that name the server.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{ConfigError, ConnectError};
use crate::message::Transport;

/// The subprotocol RFC 7118 registers for SIP over WebSocket.
const SUBPROTOCOL: &str = "sip";

/// The largest WebSocket message accepted: twice the SIP parser's default
/// limit, so an oversized SIP message still reaches the engine (which answers
/// 513) while a runaway frame closes the connection.
const MAX_MESSAGE: usize = 128 * 1024;

/// Anything a WebSocket can run over: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open SIP WebSocket.
pub(crate) type Ws = WebSocketStream<Box<dyn Io>>;

/// One configured server, checked.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    /// The URL as configured, for events and logs.
    pub url: String,
    uri: Uri,
    pub secure: bool,
    /// The host without IPv6 brackets.
    host: String,
    port: u16,
}

fn is_loopback_host(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost."),
    }
}

impl Server {
    /// Checks one configured URL: `ws://` or `wss://`, a host, no user
    /// information (it would end up in logs), and `ws://` only on loopback.
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &'static str| ConfigError::BadUrl { server: url.to_owned(), reason };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("wss") => true,
            Some("ws") => false,
            _ => return Err(bad("the scheme must be ws:// or wss://")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information is not allowed in a server URL"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !secure && !is_loopback_host(&host) {
            return Err(ConfigError::InsecureServer { server: url.to_owned() });
        }
        let port = authority.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(Self { url: url.to_owned(), uri, secure, host, port })
    }

    /// The Via and Contact transport for flows to this server.
    pub(crate) fn transport(&self) -> Transport {
        if self.secure { Transport::Wss } else { Transport::Ws }
    }
}

/// The TLS client configuration: the Mozilla roots, the platform's store
/// (where a company installs its own CA) and the configured extra CA.
/// Certificates are always verified.
pub(crate) fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, errors = native.errors.len(), "platform CA certificates");
    if let Some(pem) = extra_ca_pem {
        let mut count = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| ConfigError::ExtraCa { reason: format!("unreadable PEM: {e}") })?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::ExtraCa { reason: format!("not a usable CA certificate: {e}") })?;
            count += 1;
        }
        if count == 0 {
            return Err(ConfigError::ExtraCa { reason: "no CERTIFICATE block in the PEM".into() });
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::ExtraCa { reason: format!("TLS setup: {e}") })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Opens a SIP WebSocket to `server` within `timeout` (name lookup, TCP,
/// TLS and the upgrade together).
pub(crate) async fn connect(
    server: Server,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
) -> Result<Ws, ConnectError> {
    let url = server.url.clone();
    match tokio::time::timeout(timeout, open(server, tls)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Timeout { server: url, after: timeout }),
    }
}

async fn open(server: Server, tls: Option<Arc<ClientConfig>>) -> Result<Ws, ConnectError> {
    let url = || server.url.clone();
    let io_error = |e: std::io::Error| ConnectError::Io { server: url(), reason: e.to_string() };
    let addrs: Vec<_> = tokio::net::lookup_host((server.host.as_str(), server.port))
        .await
        .map_err(|e| ConnectError::Resolve { server: url(), reason: e.to_string() })?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Resolve { server: url(), reason: "no addresses".into() });
    }
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        // A name like `localhost` is only trusted for ws:// if it really is
        // loopback here.
        if !server.secure && !addr.ip().is_loopback() {
            last = Some(ConnectError::InsecureAddress { server: url(), address: addr.ip() });
            continue;
        }
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = Some(io_error(e)),
        }
    }
    let Some(tcp) = tcp else {
        return Err(last.unwrap_or_else(|| ConnectError::Resolve { server: url(), reason: "no addresses".into() }));
    };
    // SIP requests are small and latency matters more than batching.
    tcp.set_nodelay(true).map_err(io_error)?;

    let io: Box<dyn Io> = match (server.secure, tls) {
        (true, Some(tls)) => {
            let name = rustls_pki_types::ServerName::try_from(server.host.clone())
                .map_err(|_| ConnectError::Tls { server: url(), reason: "the host is not a valid TLS name".into() })?;
            let stream = TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| tls_error(&server.url, e))?;
            Box::new(stream)
        }
        (true, None) => return Err(ConnectError::Tls { server: url(), reason: "no TLS configuration".into() }),
        (false, _) => Box::new(tcp),
    };

    let mut request = server
        .uri
        .clone()
        .into_client_request()
        .map_err(|e| ConnectError::Handshake { server: url(), reason: e.to_string() })?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let (ws, response) = tokio_tungstenite::client_async_with_config(request, io, Some(config))
        .await
        .map_err(|e| handshake_error(&server.url, e))?;
    let echoed = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if !echoed.is_some_and(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL)) {
        return Err(ConnectError::NoSipSubprotocol { server: url() });
    }
    Ok(ws)
}

fn tls_error(server: &str, e: std::io::Error) -> ConnectError {
    let rustls_error = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(why)) => {
            ConnectError::Certificate { server: server.to_owned(), reason: format!("{why:?}") }
        }
        Some(other) => ConnectError::Tls { server: server.to_owned(), reason: other.to_string() },
        None => ConnectError::Io { server: server.to_owned(), reason: e.to_string() },
    }
}

fn handshake_error(server: &str, e: WsError) -> ConnectError {
    let server = server.to_owned();
    match e {
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol | SubProtocolError::InvalidSubProtocol,
        )) => ConnectError::NoSipSubprotocol { server },
        WsError::Http(response) => {
            ConnectError::Handshake { server, reason: format!("HTTP status {} instead of 101", response.status()) }
        }
        WsError::Io(e) => ConnectError::Io { server, reason: e.to_string() },
        other => ConnectError::Handshake { server, reason: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_websocket_is_refused_off_loopback() {
        for ok in
            ["ws://127.0.0.1:5066", "ws://127.8.9.10/", "ws://[::1]:8080/ws", "ws://localhost:80", "ws://LOCALHOST"]
        {
            let s = Server::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!s.secure && s.transport() == Transport::Ws);
        }
        for refused in ["ws://sbc.example.com", "ws://10.0.0.1:5066", "ws://[2001:db8::1]/", "ws://localhost.evil.com"]
        {
            match Server::parse(refused) {
                Err(ConfigError::InsecureServer { server }) => assert_eq!(server, refused),
                other => panic!("{refused}: {other:?}"),
            }
        }
        let err = Server::parse("ws://sbc.example.com:80").map(|_| ()).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("ws://sbc.example.com:80") && text.contains("wss://"), "says what and how: {text}");
    }

    #[test]
    fn secure_websocket_urls_take_any_host_and_default_to_port_443() {
        let s = Server::parse("wss://sbc.example.com/ws").expect("wss");
        assert!(s.secure && s.transport() == Transport::Wss);
        assert_eq!((s.host.as_str(), s.port), ("sbc.example.com", 443));
        let v6 = Server::parse("wss://[2001:db8::1]:7443").expect("IPv6");
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", 7443));
    }

    #[test]
    fn malformed_server_urls_are_refused_with_a_reason() {
        for (url, reason) in [
            ("https://sbc.example.com", "scheme"),
            ("sbc.example.com", "scheme"),
            ("wss://user:pw@sbc.example.com", "user information"),
            ("", "URL"),
        ] {
            match Server::parse(url) {
                Err(ConfigError::BadUrl { reason: why, .. }) => assert!(why.contains(reason), "{url}: {why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_extra_ca_must_hold_a_certificate() {
        assert!(matches!(tls_config(Some(b"not pem at all")), Err(ConfigError::ExtraCa { .. })));
        assert!(tls_config(None).is_ok(), "the built-in roots are enough");
    }
}
