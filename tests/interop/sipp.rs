//! sipp (Debian's `sip-tester`) runs of the scenarios in
//! `tests/interop/sipp/`, over UDP on loopback. sipp ignores SIGTERM, so it
//! is killed with SIGKILL when dropped (tokio's `kill_on_drop`). Its screen,
//! message trace and error log land in `target/test-artifacts/interop/`.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::kamailio::{Kamailio, free_udp_port};
use crate::support::within;

/// sipp's own limit for the whole run: a hung scenario fails, it does not
/// hang the test.
const SIPP_TIMEOUT: &str = "60s";

/// A running sipp.
#[derive(Debug)]
pub struct Sipp {
    child: Child,
    /// The UDP port its SIP socket is on.
    pub port: u16,
    logs: Vec<PathBuf>,
}

fn scenario(name: &str) -> PathBuf {
    warmline_e2e::workspace_root().join("tests/interop/sipp").join(name)
}

/// Two loopback UDP ports `p` and `p + 2` that are free now (sipp's audio
/// and video media sockets).
fn free_media_port() -> u16 {
    for _ in 0..50 {
        let p = free_udp_port();
        if p < u16::MAX - 2 && UdpSocket::bind(("127.0.0.1", p + 2)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of UDP ports for sipp's media sockets");
}

impl Sipp {
    fn start(test: &str, role: &str, scenario_file: &str, extra: &[String]) -> Self {
        let port = free_udp_port();
        let dir = warmline_e2e::artifacts_dir("interop");
        let messages = dir.join(format!("{test}-sipp-{role}-messages.log"));
        let errors = dir.join(format!("{test}-sipp-{role}-errors.log"));
        let screen = dir.join(format!("{test}-sipp-{role}.out"));
        for old in [&messages, &errors] {
            let _ = std::fs::remove_file(old);
        }
        let out = std::fs::File::create(&screen).expect("sipp screen file");
        let err = out.try_clone().expect("sipp screen file");
        let mut command = Command::new("sipp");
        command
            .arg("-sf")
            .arg(scenario(scenario_file))
            .args(["-m", "1", "-l", "1", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin"])
            .args(["-p", &port.to_string(), "-mp", &free_media_port().to_string()])
            // The control socket defaults to 8888, which another sipp may hold.
            .args(["-cp", &free_udp_port().to_string()])
            .args(["-timeout", SIPP_TIMEOUT, "-timeout_error", "-recv_timeout", "30000"])
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&messages)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = command.spawn().expect("run sipp (installer/setup.sh installs sip-tester)");
        Self { child, port, logs: vec![screen, messages, errors] }
    }

    /// sipp calling `user` in the test domain through Kamailio's UDP socket.
    pub fn call_agent(test: &str, kamailio: &Kamailio, user: &str) -> Self {
        Self::start(test, "uac", "uac_calls_agent.xml", &["-s".into(), user.into(), kamailio.udp_addr()])
    }

    /// sipp answering one call on its own port; returns once its socket is
    /// bound, so a call can be sent to it at once.
    pub async fn answer_one(test: &str) -> Self {
        let mut sipp = Self::start(test, "uas", "uas_answers_agent.xml", &[]);
        sipp.wait_bound().await;
        sipp
    }

    /// Polls until sipp holds its SIP port (our bind fails): waiting for a
    /// third-party process to start, under a deadline.
    async fn wait_bound(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while UdpSocket::bind(("127.0.0.1", self.port)).is_ok() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sipp exited with {status} before it listened:\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "sipp did not bind port {} in time:\n{}", self.port, self.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for sipp to end its scenario and returns how it exited.
    pub async fn finish(mut self) -> ExitStatus {
        within("sipp to finish its scenario", self.child.wait()).await.expect("wait for sipp")
    }

    /// Waits for sipp and fails the test, with its logs, unless its one call
    /// succeeded (exit status 0).
    pub async fn expect_success(self) {
        let logs = self.logs.clone();
        let status = self.finish().await;
        assert!(status.success(), "sipp failed ({status}):\n{}", read_logs(&logs));
    }

    /// Everything sipp wrote so far.
    pub fn logs(&self) -> String {
        read_logs(&self.logs)
    }
}

fn read_logs(paths: &[PathBuf]) -> String {
    let mut text = String::new();
    for path in paths {
        if let Ok(content) = std::fs::read_to_string(path) {
            let lines: Vec<&str> = content.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            text.push_str(&format!("--- {}\n{tail}\n", path.display()));
        }
    }
    text
}
