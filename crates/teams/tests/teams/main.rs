//! The Microsoft 365 client against a local Entra/Graph stand-in that
//! replays Microsoft's documented bodies, plus the presence simulation.

mod conformance;
mod directory;
mod leak;
mod presence;
mod server;
mod signin;
mod simulation;
mod tls;

use std::sync::Arc;

use warmline_secrets::Keyring;
use warmline_teams::{Entra, Graph, Http, Session};

use server::TestServer;

/// A keyring that lives in memory, for everything but the real-keyring test.
pub fn mock_keyring() -> Keyring {
    Keyring::with_store(keyring_core::mock::Store::new().expect("mock store"), "mock")
}

/// Fails with a clear message when run outside the test session.
pub fn require_session() {
    assert!(
        std::env::var_os("WARMLINE_TEST_SESSION").is_some(),
        "this test talks to the real OS keyring: run it inside `installer/test-session.sh` (make test does)"
    );
}

/// A fresh value so parallel or repeated runs never collide.
pub fn unique(prefix: &str) -> String {
    let nonce = warmline_secrets::Secret::random(6).expose_hex().to_string();
    format!("{prefix}-{}-{nonce}", std::process::id())
}

/// A server, an `Entra` for it and a signed-in session (browser flow).
pub async fn signed_in(marker: &str, keyring: Keyring) -> (TestServer, Entra, Session) {
    let server = TestServer::start(marker).await;
    let config = server.config();
    let entra = Entra::new(config.clone(), Http::new(&config).expect("http"), keyring).expect("entra");
    let browser = server::ConsentingBrowser::default();
    let session = entra.sign_in_browser(&browser).await.expect("sign-in against the test server");
    (server, entra, session)
}

/// A Graph client for the session.
pub fn graph_for(server: &TestServer, session: &Session) -> Graph {
    let config = server.config();
    Graph::new(Http::new(&config).expect("http"), config.graph.clone(), Arc::new(session.clone()))
}
