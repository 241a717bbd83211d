//! `warmline-cli agent` as an operator's script runs it: two processes,
//! their SIP passwords in the test session's keyring, JSON lines on stdin
//! and stdout, each recording what it hears.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::kamailio::{DOMAIN, Kamailio};
use crate::{AGENT_HZ, CUSTOMER_HZ, FRAME, GUARD, SPAN, WAV_HEADER};

/// The headless agent binary; `cargo build -p warmline-cli` (make test
/// builds it) puts it beside the tests.
fn cli_binary() -> PathBuf {
    let path = std::env::var_os("WARMLINE_CLI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| warmline_e2e::target_dir().join("debug").join("warmline-cli"));
    assert!(path.is_file(), "{} does not exist: build it first with `cargo build -p warmline-cli`", path.display());
    path
}

/// Puts `user`'s SIP password where the agent looks for it, with Debian's
/// `secret-tool` (the password goes over its stdin, never on a command line).
async fn provision(user: &str, password: &str) {
    let mut child = Command::new("secret-tool")
        .args(["store", "--label", "Warmline test", "service", "warmline", "username"])
        .arg(format!("sip-password:{user}@{DOMAIN}"))
        .stdin(Stdio::piped())
        .spawn()
        .expect("secret-tool (installer/setup.sh installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(password.as_bytes()).await.expect("password to secret-tool");
    drop(stdin);
    assert!(child.wait().await.expect("secret-tool ran").success(), "secret-tool store failed");
}

struct CliAgent {
    user: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    backlog: Vec<Value>,
    seen: Vec<String>,
    heard: PathBuf,
}

impl CliAgent {
    async fn start(kamailio: &Kamailio, dir: &Path, user: &'static str, tone: f32) -> Self {
        provision(user, &kamailio.password(user)).await;
        let config = dir.join(format!("{user}-cli.toml"));
        let text = format!(
            "acd = \"none\"\n[sip]\nservers = [\"{}\"]\nuser = \"sip:{user}@{DOMAIN}\"\nauth_user = \"{user}\"\n",
            kamailio.ws_url()
        );
        std::fs::write(&config, text).expect("write config");
        let heard = warmline_e2e::artifacts_dir("agent_interop").join(format!("{user}-cli-heard.wav"));
        let mut child = Command::new(cli_binary())
            .args(["agent", "--config"])
            .arg(&config)
            .arg("--audio-in")
            .arg(format!("tone:{tone}"))
            .arg("--audio-out")
            .arg(&heard)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run warmline-cli agent");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut agent = CliAgent { user, child, stdin, stdout, backlog: Vec::new(), seen: Vec::new(), heard };
        agent
            .wait("registered", |v| {
                (v["event"] == "registration" && v["registration"]["state"] == "registered").then_some(())
            })
            .await;
        agent.send(json!({"id": "ready", "cmd": "state", "state": "available"})).await;
        agent
    }

    /// Sends a command and waits for its reply, which must be `ok`.
    async fn send(&mut self, command: Value) {
        let id = command["id"].clone();
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write a command");
        let reply = self.wait(&format!("the reply to {command}"), |v| (v["id"] == id).then(|| v.clone())).await;
        assert_eq!(reply["event"], "ok", "{}: {command} got {reply}", self.user);
    }

    async fn wait<T>(&mut self, what: &str, mut pick: impl FnMut(&Value) -> Option<T>) -> T {
        if let Some((i, v)) = self.backlog.iter().enumerate().find_map(|(i, e)| pick(e).map(|v| (i, v))) {
            self.backlog.remove(i);
            return v;
        }
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    let value: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{}: stdout line is not JSON ({e}): {line}", self.user));
                    if value["event"] != "quality" {
                        self.seen.push(line);
                    }
                    if let Some(v) = pick(&value) {
                        return v;
                    }
                    self.backlog.push(value);
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    panic!("{}: stdout ended waiting for {what}; saw {:#?}", self.user, self.seen)
                }
                Err(_) => panic!("{}: no {what} within {GUARD:?}; saw {:#?}", self.user, self.seen),
            }
        }
    }

    async fn call_state(&mut self, state: &str) -> String {
        self.wait(&format!("a call {state}"), |v| {
            (v["event"] == "call" && v["state"]["state"] == state)
                .then(|| v["call"].as_str().unwrap_or_default().to_owned())
        })
        .await
    }

    fn mark(&self) -> usize {
        let len = std::fs::metadata(&self.heard).map(|m| m.len()).unwrap_or(0);
        (len.saturating_sub(WAV_HEADER) / 2) as usize
    }

    fn share(&self, from: usize, to: usize, hz: f32) -> f32 {
        let bytes = std::fs::read(&self.heard).expect("speaker file");
        let samples: Vec<i16> =
            bytes[WAV_HEADER as usize..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let to = to.min(samples.len());
        warmline_media::tone::ToneDetector::new(48_000, hz).share_detected(&samples[from.min(to)..to], FRAME)
    }

    async fn quit(mut self) {
        self.send(json!({"id": "bye", "cmd": "quit"})).await;
        let status = tokio::time::timeout(GUARD, self.child.wait()).await.expect("exits after quit").expect("status");
        assert!(status.success(), "{}: exit status {status}", self.user);
    }
}

/// Two headless agents: A dials B over JSON lines, B answers, each hears
/// the other's tone; replies echo ids, a bad line is an error event, and
/// quit ends both processes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_interop_cli_agents_call_each_other_over_json_lines() {
    let kamailio = Kamailio::start("agent_cli");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = CliAgent::start(&kamailio, dir.path(), "alice", CUSTOMER_HZ).await;
    let mut b = CliAgent::start(&kamailio, dir.path(), "bob", AGENT_HZ).await;

    a.stdin.write_all(b"{\"id\": 9, \"cmd\": \"explode\"}\n").await.expect("write");
    let error = a.wait("an error for a bad line", |v| (v["id"] == 9).then(|| v.clone())).await;
    assert_eq!((error["event"].as_str(), error["code"].as_str()), (Some("error"), Some("invalid_command")), "{error}");

    a.send(json!({"id": 1, "cmd": "dial", "to": format!("sip:bob@{DOMAIN}")})).await;
    b.wait("incoming", |v| (v["event"] == "incoming" && v["from"] == format!("alice@{DOMAIN}")).then_some(())).await;
    b.send(json!({"id": 2, "cmd": "answer"})).await;
    let a_call = a.call_state("connected").await;
    let b_call = b.call_state("connected").await;
    a.wait("media", |v| (v["event"] == "quality" && v["call"] == a_call.as_str()).then_some(())).await;
    b.wait("media", |v| (v["event"] == "quality" && v["call"] == b_call.as_str()).then_some(())).await;
    let skip = 48_000 / 5;
    let (a0, b0) = (a.mark() + skip, b.mark() + skip);
    tokio::time::sleep(SPAN).await;
    let (a1, b1) = (a.mark(), b.mark());
    let (heard_a, heard_b) = (a.share(a0, a1, AGENT_HZ), b.share(b0, b1, CUSTOMER_HZ));
    assert!(heard_a >= 0.98, "alice hears bob in {:.1}% of 20 ms windows", heard_a * 100.0);
    assert!(heard_b >= 0.98, "bob hears alice in {:.1}% of 20 ms windows", heard_b * 100.0);

    a.send(json!({"id": 3, "cmd": "hangup"})).await;
    b.wait("the call to end", |v| (v["event"] == "call" && v["state"]["state"] == "ended").then_some(())).await;
    a.quit().await;
    b.quit().await;
}
