//! wss:// through rustls: a server whose certificate comes from a private CA
//! is trusted only when that CA is configured as the extra CA.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use warmline_sip::Transport;
use warmline_sip::transport::{self, ConfigError, ConnectError, TransportEvent};

use super::{Probe, TestServer, config, engine_connected, expect};

/// A CA of our own (as PEM) and a TLS acceptor whose certificate, signed by
/// it, names `names`.
fn private_ca(names: &[&str]) -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Warmline test SBC CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("server params")
        .signed_by(&leaf_key, &issuer)
        .expect("server certificate");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    (ca_cert.pem(), TlsAcceptor::from(Arc::new(config)))
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
