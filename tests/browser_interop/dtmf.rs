//! DTMF from the browser (RFC 4733 through Chromium's RTCDTMFSender, as
//! JsSIP's `sendDTMF` with `transportType: RFC2833` sends it) reaching the
//! agent's media session.
//!
//! The agent session has no event for a digit it receives: the media
//! session reports it and the session's runner only logs it at debug
//! (`call-N: media Dtmf(Ended { digit: '5', .. })`). So this test reads that
//! log line, captured from the tracing subscriber this process installs.
//! The day the session reports digits as an `AgentEvent`, this should wait
//! on that instead.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use warmline_agent::AgentCommand;

use super::{AGENT_HZ, Caller, Verdicts, World, connect};

/// What the agent's session runner logged at debug, in this process.
fn runner_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warmline_agent::session::runner=debug"))
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .try_init();
        log
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The digits whose end the agent's media session reported, in order.
fn digits_received(log: &Mutex<Vec<u8>>) -> String {
    let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    text.match_indices("media Dtmf(Ended { digit: '").filter_map(|(i, m)| text[i + m.len()..].chars().next()).collect()
}

/// The browser sends 1, 5, 9, * and # during a call; the agent's media
/// session receives each of them once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_from_the_browser_reaches_the_agent() {
    let log = runner_log();
    let world = World::new("browser_dtmf");
    let mut agent = world.agent("agent", AGENT_HZ).await;
    let mut browser = world.browser("browser").await;
    let mut v = Verdicts::default();

    let (call, session) = connect(&mut agent, &mut browser, Caller::Browser).await;
    agent.media_flows(&call).await;
    let sent = "159*#";
    let start = Instant::now();
    browser.call("dtmf", serde_json::json!([sent, session])).await;
    // 160 ms per digit and 120 ms between them: well under 2 s in all.
    let deadline = start + Duration::from_secs(10);
    let mut got = digits_received(&log);
    while got.len() < sent.len() && Instant::now() < deadline {
        // Polling the log under a deadline; the agent's events pace it.
        let _ = tokio::time::timeout(Duration::from_millis(50), agent.wait("nothing", |_| None::<()>)).await;
        got = digits_received(&log);
    }
    println!("DTMF: sent {sent:?}, the agent's media session received {got:?} after {:?}", start.elapsed());
    v.check(got == sent, format!("the agent receives the browser's DTMF {sent:?} as sent (got {got:?})"));

    agent.command(AgentCommand::Hangup { call: Some(call.clone()) }).await;
    browser.ended(session).await;
    agent.quit().await;
    v.finish(&browser);
}
