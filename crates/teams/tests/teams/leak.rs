//! A known fake token goes through every flow; afterwards it must not be in
//! the logs, in anything the app prints, or in any file it wrote.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use warmline_teams::directory::JsonShortlistStore;
use warmline_teams::presence::PresenceApi;
use warmline_teams::{Directory, Entra, Http, Shortlist, ShortlistStore};

use crate::server::{Fault, TestServer};
use crate::{graph_for, mock_keyring};

const CANARY: &str = "CANARYc4f3b7e1d2";

/// Everything logged, as the app's log file would hold it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_containing(dir: &Path, needle: &[u8], recurse: bool, hits: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() && recurse {
            files_containing(&path, needle, recurse, hits);
        } else if meta.is_file()
            && meta.len() < 8 << 20
            && std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        {
            hits.push(path.display().to_string());
        }
    }
}

#[tokio::test]
async fn planted_token_never_reaches_logs_output_or_files() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests in this binary run at the same time without a subscriber;
    // a log site they reached first may have cached "nobody listens".
    // Recompute now that this thread's subscriber exists.
    tracing::callsite::rebuild_interest_cache();

    let data = tempfile::tempdir().expect("the app's data directory");
    let server = TestServer::start(CANARY).await;
    let config = server.config();
    let keyring = mock_keyring();
    let entra = Entra::new(config.clone(), Http::new(&config).expect("http"), keyring).expect("entra");
    let mut printed: Vec<String> = Vec::new();
    tracing::callsite::rebuild_interest_cache();

    // Browser sign-in, Graph calls, a 401 with refresh, time-driven refresh with rotation.
    let session = entra.sign_in_browser(&crate::server::ConsentingBrowser::default()).await.expect("sign-in");
    let graph = graph_for(&server, &session);
    let api = PresenceApi::new(graph.clone());
    let ids = vec![crate::server::ME_ID.to_string()];
    api.batch(Instant::now(), &ids).await.expect("presence");
    server.state().expire_access_tokens();
    api.batch(Instant::now(), &ids).await.expect("presence after a 401 and a refresh");
    session.access_token(Instant::now() + Duration::from_secs(3400)).await.expect("refresh ahead of expiry");
    let found = Directory::new(graph.clone()).search(Instant::now(), "MOD").await.expect("search");
    let mut list = Shortlist::default();
    for expert in found.into_iter().filter(|e| e.id.is_some()) {
        list.add_favourite(expert).expect("id");
    }
    let store = JsonShortlistStore::new(data.path().join("experts.json"));
    store.save(&list).expect("save the shortlist");

    // Errors the UI would show.
    server.state().faults.extend([Fault::Throttled, Fault::Forbidden]);
    for _ in 0..2 {
        let e = api.batch(Instant::now(), &ids).await.expect_err("fault");
        printed.push(format!("{e} / {e:?}"));
    }
    server.state().faults.extend([Fault::Unauthorized, Fault::Unauthorized]);
    let e = api.batch(Instant::now(), &ids).await.expect_err("401 twice");
    printed.push(format!("{e} / {e:?}"));

    // Device code sign-in, then a spent refresh token and sign-out.
    server.state().device_pending = 1;
    let device = entra.sign_in_device(|p| printed.push(format!("{p:?}")), |_| std::future::ready(())).await;
    let device = device.expect("device sign-in");
    printed.push(format!("{session:?} {device:?} {entra:?} {graph:?} {api:?}"));
    device.sign_out().await.expect("sign out");
    session.sign_out().await.expect("sign out");

    let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf-8 logs");
    assert!(logs.contains("getPresencesByUserId") && logs.contains("oauth2/v2.0/token"), "HTTP was logged:\n{logs}");
    assert!(logs.contains("[redacted]"), "token bodies were logged, redacted:\n{logs}");
    assert!(
        server.state().requests.iter().any(|r| r.body.contains(CANARY)),
        "the canary really went through the flow (as a refresh token sent back)"
    );
    assert!(!logs.contains(CANARY), "a token reached the logs:\n{logs}");
    for text in &printed {
        assert!(!text.contains(CANARY), "a token reached printable output: {text}");
    }
    let mut hits = Vec::new();
    files_containing(data.path(), CANARY.as_bytes(), true, &mut hits);
    files_containing(&std::env::temp_dir(), CANARY.as_bytes(), false, &mut hits);
    assert!(hits.is_empty(), "a token reached files: {hits:?}");
}
