//! Entra and Graph over real TLS: a stand-in whose certificate is signed by
//! a private CA is trusted only through `http.extra_ca_file`, and the
//! certificate's name is still checked when that CA is trusted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use warmline_secrets::Secret;
use warmline_teams::{AccessTokens, BoxFuture, Directory, Entra, Error, Graph, Http, Session, TeamsConfig};

use crate::mock_keyring;
use crate::server::TestServer;

/// A CA of our own (returned as PEM) and a TLS server config whose
/// certificate, signed by that CA, names `names` (IP addresses or hosts).
fn private_ca(names: &[&str]) -> (String, Arc<ServerConfig>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Warmline test CA");
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
    (ca_cert.pem(), Arc::new(config))
}

/// A token source for Graph calls made before anyone signed in.
#[derive(Debug)]
struct FixedToken;

impl AccessTokens for FixedToken {
    fn access_token(&self, _now: Instant) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(std::future::ready(Ok(Secret::from("not-a-real-token"))))
    }

    fn reject<'a>(&'a self, _token: &'a Secret) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}

async fn device_sign_in(config: &TeamsConfig) -> Result<Session, Error> {
    let entra = Entra::new(config.clone(), Http::new(config)?, mock_keyring())?;
    entra.sign_in_device(|_| {}, |_: Duration| std::future::ready(())).await
}

/// The error must name the certificate and tell the admin what to set.
fn assert_certificate_error(result: Result<impl std::fmt::Debug, Error>, what: &str) {
    match result {
        Err(Error::Network(why)) => {
            assert!(why.contains("certificate"), "{what}: the reason names the certificate: {why}");
            assert!(why.contains("http.extra_ca_file"), "{what}: the reason says how to trust a private CA: {why}");
            assert!(!why.contains("://"), "{what}: no URL in the message: {why}");
        }
        other => panic!("{what}: a certificate from an unknown CA must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn entra_and_graph_behind_a_private_ca_are_trusted_only_through_the_extra_ca() {
    let (ca_pem, tls) = private_ca(&["127.0.0.1"]);
    let server = TestServer::start_tls("tls", tls).await;
    let untrusted = server.config();
    assert_eq!(untrusted.authority.scheme(), "https");
    assert_eq!(untrusted.graph.scheme(), "https");

    // Without the CA: Entra (the device code request) and Graph both fail on the certificate.
    assert_certificate_error(device_sign_in(&untrusted).await, "Entra");
    let graph = Graph::new(Http::new(&untrusted).expect("http"), untrusted.graph.clone(), Arc::new(FixedToken));
    assert_certificate_error(graph.me(Instant::now()).await, "Graph");
    assert!(server.state().requests.is_empty(), "no request got past the TLS handshake");

    // With the CA in http.extra_ca_file: the whole device sign-in, /me and a search work.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("corp-ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write CA");
    let mut trusted = server.config();
    trusted.http.extra_ca_file = Some(ca_file);
    let session = device_sign_in(&trusted).await.expect("device sign-in over HTTPS");
    assert_eq!(session.account().user_principal_name, "AdeleV@contoso.com");
    let graph = Graph::new(Http::new(&trusted).expect("http"), trusted.graph.clone(), Arc::new(session));
    assert_eq!(graph.me(Instant::now()).await.expect("/me over HTTPS").user_principal_name, "AdeleV@contoso.com");
    let found = Directory::new(graph).search(Instant::now(), "wa").await.expect("search over HTTPS");
    assert_eq!(found[0].display_name.as_deref(), Some("Oscar Ward"));
    assert!(server.state().requests.iter().any(|r| r.path.ends_with("/oauth2/v2.0/token")));
}

#[tokio::test]
async fn a_trusted_ca_does_not_vouch_for_another_name() {
    // Signed by the CA we trust, but for a different host than the one dialled.
    let (ca_pem, tls) = private_ca(&["graph.contoso.test"]);
    let server = TestServer::start_tls("tls-name", tls).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("corp-ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write CA");
    let mut config = server.config();
    config.http.extra_ca_file = Some(ca_file);
    assert_certificate_error(device_sign_in(&config).await, "Entra with a certificate for another name");
    assert!(server.state().requests.is_empty(), "no request got past the TLS handshake");
}
