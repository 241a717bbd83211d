//! Entra and Graph over real TLS: a stand-in whose certificate is signed by
//! a private CA is trusted only through `http.extra_ca_file`, and the
//! certificate's name is still checked when that CA is trusted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use warmline_secrets::Secret;
use warmline_teams::{AccessTokens, BoxFuture, Directory, Entra, Error, Graph, Http, Session, TeamsConfig};
use warmline_testkit::private_ca;

use crate::mock_keyring;
use crate::server::TestServer;

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
