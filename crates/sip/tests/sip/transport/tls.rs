//! wss:// through rustls: a server whose certificate comes from a private CA
//! is trusted only when that CA is configured as the extra CA.

use tokio_rustls::TlsAcceptor;
use warmline_sip::Transport;
use warmline_sip::transport::{self, ConfigError, ConnectError, TransportEvent};

use super::{Probe, TestServer, config, engine_connected, expect};

/// A CA of our own (as PEM) and a TLS acceptor whose certificate, signed by
/// it, names `names`.
fn private_ca(names: &[&str]) -> (String, TlsAcceptor) {
    let (pem, config) = warmline_testkit::private_ca(names);
    (pem, TlsAcceptor::from(config))
}

#[tokio::test]
async fn wss_behind_a_private_ca_is_refused_without_the_extra_ca() {
    let (_ca, acceptor) = private_ca(&["127.0.0.1"]);
    let server = TestServer::start_with(true, Some(acceptor)).await;
    let url = server.url("wss");
    let (_handle, mut events) = transport::spawn(Probe::default(), config(std::slice::from_ref(&url))).expect("spawn");
    let error = expect(&mut events, "ConnectFailed", |e| match e {
        TransportEvent::ConnectFailed(error) => Some(error.clone()),
        TransportEvent::Connected(_) => panic!("an unknown CA must not be trusted"),
        _ => None,
    })
    .await;
    assert!(matches!(&error, ConnectError::Certificate { server, .. } if *server == url), "{error:?}");
    assert!(error.to_string().contains("extra CA"), "tells the admin what to configure: {error}");
}

#[tokio::test]
async fn wss_behind_a_private_ca_works_with_the_extra_ca() {
    let (ca, acceptor) = private_ca(&["127.0.0.1"]);
    let mut server = TestServer::start_with(true, Some(acceptor)).await;
    let url = server.url("wss");
    let mut config = config(std::slice::from_ref(&url));
    config.extra_ca_pem = Some(ca.into_bytes());
    let (_handle, mut events) = transport::spawn(Probe::default(), config).expect("spawn");
    let peer = server.accept().await;
    assert_eq!(peer.protocols.as_deref(), Some("sip"));
    let flow = engine_connected(&mut events).await;
    assert_eq!((flow.transport, flow.server), (Transport::Wss, url));
}

#[tokio::test]
async fn the_extra_ca_does_not_vouch_for_another_name() {
    let (ca, acceptor) = private_ca(&["sbc.contoso.test"]);
    let server = TestServer::start_with(true, Some(acceptor)).await;
    let mut config = config(&[server.url("wss")]);
    config.extra_ca_pem = Some(ca.into_bytes());
    let (_handle, mut events) = transport::spawn(Probe::default(), config).expect("spawn");
    let error = expect(&mut events, "ConnectFailed", |e| match e {
        TransportEvent::ConnectFailed(error) => Some(error.clone()),
        TransportEvent::Connected(_) => panic!("a certificate for another name must be refused"),
        _ => None,
    })
    .await;
    assert!(matches!(error, ConnectError::Certificate { .. }), "{error:?}");
}

#[test]
fn an_unusable_extra_ca_is_a_configuration_error() {
    let mut config = config(&["wss://sbc.example.com".to_owned()]);
    config.extra_ca_pem = Some(b"-----BEGIN NOTHING-----\n-----END NOTHING-----\n".to_vec());
    assert!(matches!(transport::spawn(Probe::default(), config), Err(ConfigError::ExtraCa { .. })));
}
