//! Sign-in: PKCE through the loopback redirect, device code, refresh with
//! rotation, sign-out, and the real keyring read back with `secret-tool`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use warmline_secrets::{SecretKind, SecretName};
use warmline_teams::{Entra, Error, Http};

use crate::server::{CLIENT_ID, TestServer};
use crate::{mock_keyring, require_session, signed_in, unique};

fn stored_refresh_token(keyring: &warmline_secrets::Keyring, upn: &str) -> Option<String> {
    let name = SecretName::new(SecretKind::RefreshToken, upn);
    keyring.get(&name).expect("keyring read").map(|s| s.expose_str().expect("text").to_string())
}

#[tokio::test]
async fn browser_sign_in_sends_pkce_s256_and_stores_the_refresh_token() {
    let keyring = mock_keyring();
    let (server, _entra, session) = signed_in("pkce", keyring.clone()).await;
    assert_eq!(session.account().user_principal_name, "AdeleV@contoso.com");

    {
        let state = server.state();
        let authorize = state.graph_requests("/oauth2/v2.0/authorize").pop().expect("the browser hit authorize");
        assert_eq!(authorize.param("code_challenge_method"), Some("S256"));
        assert_eq!(authorize.param("response_type"), Some("code"));
        assert_eq!(authorize.param("client_id"), Some(CLIENT_ID));
        assert!(authorize.param("state").is_some_and(|s| s.len() >= 16), "a random state is sent");
        let scope = authorize.param("scope").expect("scope");
        for needed in ["User.Read", "Presence.Read.All", "User.ReadBasic.All", "offline_access"] {
            assert!(scope.split(' ').any(|s| s == needed), "{needed} missing from {scope}");
        }
        let redirect = authorize.param("redirect_uri").expect("redirect_uri");
        assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with('/'), "{redirect}");
        assert_ne!(redirect, "http://127.0.0.1:0/", "a real random port");

        let token = state.graph_requests("/oauth2/v2.0/token").pop().expect("code exchanged");
        assert_eq!(token.form("grant_type").as_deref(), Some("authorization_code"));
        assert_eq!(token.form("redirect_uri").as_deref(), Some(redirect));
        assert!(token.form("code_verifier").is_some_and(|v| (43..=128).contains(&v.len())));
        assert_eq!(token.form("client_secret"), None, "a public client has no secret");
        assert_eq!(token.headers.get("content-type").map(String::as_str), Some("application/x-www-form-urlencoded"));

        let me = state.graph_requests("/v1.0/me").pop().expect("/me asked");
        assert!(me.headers.get("authorization").is_some_and(|a| a.starts_with("Bearer access-pkce-")));
    }

    let rt = stored_refresh_token(&keyring, "AdeleV@contoso.com").expect("refresh token in the keyring");
    assert!(rt.starts_with("refresh-pkce-"), "{rt}");
    let access = session.access_token(Instant::now()).await.expect("access token");
    assert!(access.expose_str().is_some_and(|a| a.starts_with("access-pkce-")));
}

#[tokio::test]
async fn refresh_ahead_of_expiry_rotates_the_refresh_token() {
    let keyring = mock_keyring();
    let (server, _entra, session) = signed_in("rotate", keyring.clone()).await;
    let first_rt = stored_refresh_token(&keyring, "AdeleV@contoso.com").expect("stored");
    let t0 = Instant::now();
    let a1 = session.access_token(t0).await.expect("token");
    assert_eq!(server.state().graph_requests("/token").len(), 1, "a fresh token is not refreshed");

    // The fixture's expires_in is 3599 s; five minutes before that we refresh.
    let a2 = session.access_token(t0 + Duration::from_secs(3400)).await.expect("refreshed token");
    assert_ne!(a1.expose_bytes(), a2.expose_bytes());
    let second_rt = stored_refresh_token(&keyring, "AdeleV@contoso.com").expect("stored");
    assert_ne!(first_rt, second_rt, "the rotated refresh token replaced the spent one");
    let refresh = server.state().graph_requests("/token").pop().expect("refresh sent");
    assert_eq!(refresh.form("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(refresh.form("refresh_token").as_deref(), Some(first_rt.as_str()));

    let a3 = session.access_token(t0 + Duration::from_secs(3500)).await.expect("token");
    assert_eq!(a2.expose_bytes(), a3.expose_bytes(), "one refresh per token life");
}

#[tokio::test]
async fn a_spent_refresh_token_means_sign_in_again() {
    let keyring = mock_keyring();
    let (_server, _entra, session) = signed_in("spent", keyring.clone()).await;
    let t0 = Instant::now();
    session.access_token(t0 + Duration::from_secs(3400)).await.expect("first refresh");
    // Someone (another copy of the app) put back the spent token.
    let name = SecretName::new(SecretKind::RefreshToken, "AdeleV@contoso.com");
    keyring.set(&name, &"refresh-spent-1".into()).expect("set");
    let e = session.access_token(t0 + Duration::from_secs(7200)).await.expect_err("invalid_grant");
    assert!(matches!(e, Error::SignInRequired { .. }), "{e}");
}

#[tokio::test]
async fn sign_out_deletes_the_keyring_entry_and_restore_finds_nothing() {
    let keyring = mock_keyring();
    let (_server, entra, session) = signed_in("signout", keyring.clone()).await;
    let account = session.account().clone();
    let restored = entra.restore(account.clone()).await.expect("restore").expect("a session to restore");
    assert_eq!(restored.account(), &account);
    session.sign_out().await.expect("sign out");
    assert_eq!(stored_refresh_token(&keyring, "AdeleV@contoso.com"), None);
    assert!(entra.restore(account).await.expect("restore").is_none());
}

#[tokio::test]
async fn restored_session_refreshes_lazily_from_the_keyring() {
    let keyring = mock_keyring();
    let (server, entra, session) = signed_in("restore", keyring.clone()).await;
    let restored = entra.restore(session.account().clone()).await.expect("restore").expect("found");
    let before = server.state().graph_requests("/token").len();
    let token = restored.access_token(Instant::now()).await.expect("refresh from the keyring");
    assert!(token.expose_str().is_some_and(|t| t.starts_with("access-restore-")));
    assert_eq!(server.state().graph_requests("/token").len(), before + 1);
}

#[tokio::test]
async fn device_code_sign_in_waits_out_pending_and_slow_down() {
    let server = TestServer::start("device").await;
    {
        let mut s = server.state();
        s.device_pending = 2;
        s.device_slow_down = true;
    }
    let config = server.config();
    let keyring = mock_keyring();
    let entra = Entra::new(config.clone(), Http::new(&config).expect("http"), keyring.clone()).expect("entra");
    let slept = Arc::new(Mutex::new(Vec::new()));
    let record = slept.clone();
    let prompt = Arc::new(Mutex::new(None));
    let shown = prompt.clone();
    let session = entra
        .sign_in_device(
            move |p| *shown.lock().expect("prompt") = Some(p.clone()),
            move |d| {
                record.lock().expect("slept").push(d);
                std::future::ready(())
            },
        )
        .await
        .expect("device sign-in");
    let p = prompt.lock().expect("prompt").clone().expect("the user was shown a code");
    assert_eq!(p.user_code, "FSBFZMBKC");
    assert_eq!(p.verification_uri, "https://microsoft.com/devicelogin");
    assert!(p.message.is_some_and(|m| m.contains("FSBFZMBKC")));
    let secs: Vec<u64> = slept.lock().expect("slept").iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![5, 5, 10], "interval 5, then 5 more after slow_down");
    let devicecode = server.state().graph_requests("/devicecode").pop().expect("device code asked");
    assert!(devicecode.form("scope").is_some_and(|s| s.contains("offline_access")));
    assert!(stored_refresh_token(&keyring, &session.account().user_principal_name).is_some());
}

#[tokio::test]
async fn real_keyring_holds_the_refresh_token_for_secret_tool() {
    require_session();
    let keyring = warmline_secrets::Keyring::open().expect("the test session provides a keyring");
    let server = TestServer::start("realkeyring").await;
    let upn = format!("{}@contoso.com", unique("agent"));
    server.state().upn = upn.clone();
    let config = server.config();
    let entra = Entra::new(config.clone(), Http::new(&config).expect("http"), keyring).expect("entra");
    let session = entra.sign_in_browser(&crate::server::ConsentingBrowser::default()).await.expect("sign-in");

    // What the keyring holds, read outside the signed-in session: on Linux
    // by Debian's secret-tool; on Windows by a second handle on the
    // Credential Manager (warmline-secrets' Windows tests read entries by
    // their target name, independently of our naming).
    #[cfg(not(windows))]
    let lookup = || {
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", "warmline", "username", &format!("refresh-token:{upn}")])
            .output()
            .expect("secret-tool runs (Debian package libsecret-tools)");
        let value = String::from_utf8(out.stdout).expect("utf-8");
        assert!(out.status.success() || value.is_empty(), "secret-tool failed but printed {value:?}");
        out.status.success().then_some(value)
    };
    #[cfg(windows)]
    let lookup = || {
        let keyring = warmline_secrets::Keyring::open().expect("the Credential Manager");
        let secret = keyring.get(&SecretName::new(SecretKind::RefreshToken, upn.clone())).expect("read");
        secret.map(|s| s.expose_str().expect("utf-8").to_owned())
    };
    let value = lookup().expect("the keyring holds the refresh token");
    assert!(value.trim_end().starts_with("refresh-realkeyring-"), "the keyring read back {value:?}");

    session.sign_out().await.expect("sign out");
    assert!(lookup().is_none(), "sign-out must remove the keyring entry");
}

#[tokio::test]
async fn an_entra_outage_during_refresh_does_not_interrupt_work() {
    let (server, _entra, session) = signed_in("outage", mock_keyring()).await;
    let t0 = Instant::now();
    let current = session.access_token(t0).await.expect("token");
    server.state().token_unavailable = true;
    let during = session.access_token(t0 + Duration::from_secs(3400)).await.expect("the valid token is kept");
    assert_eq!(during.expose_bytes(), current.expose_bytes());
    let e = session.access_token(t0 + Duration::from_secs(3600)).await.expect_err("expired and no refresh");
    assert!(!matches!(e, Error::SignInRequired { .. }), "an outage is not a reason to sign in again: {e}");
    server.state().token_unavailable = false;
    let after = session.access_token(t0 + Duration::from_secs(3601)).await.expect("refreshed after the outage");
    assert_ne!(after.expose_bytes(), current.expose_bytes());
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let (server, _entra, session) = signed_in("single", mock_keyring()).await;
    let later = Instant::now() + Duration::from_secs(3400);
    let before = server.state().graph_requests("/token").len();
    let (a, b, c) = tokio::join!(session.access_token(later), session.access_token(later), session.access_token(later));
    let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    assert!(a.expose_bytes() == b.expose_bytes() && b.expose_bytes() == c.expose_bytes());
    assert_eq!(server.state().graph_requests("/token").len(), before + 1, "one refresh token spent, not three");
}

#[tokio::test]
async fn configured_proxy_carries_https_requests() {
    // The test server plays the proxy: it sees the CONNECT a client sends
    // through an HTTP proxy to reach an HTTPS host, and refuses it.
    let proxy = TestServer::start("proxy").await;
    let mut config = proxy.config();
    config.graph = url::Url::parse("https://graph.microsoft.com/v1.0").expect("url");
    config.http.proxy = Some(proxy.authority());
    let http = Http::new(&config).expect("http with a proxy");
    let graph = warmline_teams::Graph::new(http, config.graph.clone(), std::sync::Arc::new(StaticToken));
    let e = graph.me(Instant::now()).await.expect_err("the proxy refuses");
    assert!(matches!(e, Error::Network(_)), "{e}");
    let connect = proxy.state().requests.iter().find(|r| r.method == "CONNECT").cloned();
    let connect = connect.expect("the request went to the proxy");
    assert!(connect.headers.get("host").is_some_and(|h| h.starts_with("graph.microsoft.com:443")), "{connect:?}");
}

#[derive(Debug)]
struct StaticToken;

impl warmline_teams::AccessTokens for StaticToken {
    fn access_token(&self, _now: Instant) -> warmline_teams::BoxFuture<'_, Result<warmline_secrets::Secret, Error>> {
        Box::pin(std::future::ready(Ok("static".into())))
    }

    fn reject<'a>(&'a self, _token: &'a warmline_secrets::Secret) -> warmline_teams::BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}
