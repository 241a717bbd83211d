//! `warmline-cli` as a user runs it.

use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warmline-cli"))
}

/// A running `warmline-cli agent --lab`, read line by line with deadlines.
struct Headless {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Headless {
    fn start(args: &[&str]) -> Headless {
        Headless::start_with(cli(), args)
    }

    fn start_with(mut cmd: Command, args: &[&str]) -> Headless {
        use std::io::BufRead;
        let mut child = cmd
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("run warmline-cli");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Headless { child, stdin, lines, seen: Vec::new() }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("write a command");
    }

    /// The first line (from now on) that `fits`, within 20 s.
    fn expect(&mut self, what: &str, fits: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    assert!(v["event"] != "error", "unexpected error while waiting for {what}: {v}");
                    if fits(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within 20 s; saw:\n{:#?}", self.seen),
            }
        }
    }
}

#[test]
fn agent_lab_realtime_takes_a_routed_call_with_screen_pop_notes_and_wrap_up() {
    let mut agent = Headless::start(&["agent", "--lab", "--audio-in", "tone:600"]);
    agent.expect("the lab's endpoints", |v| v["event"] == "lab" && v["lab"]["event"] == "ready");
    let ready = agent.expect("the session summary", |v| v["event"] == "ready");
    assert_eq!(ready["session"]["backend"], "lab");
    assert_eq!(ready["session"]["agent_name"], "Jordan Lee");
    agent.expect("registration", |v| v["event"] == "registration" && v["registration"]["state"] == "registered");
    agent.send(r#"{"cmd":"state","state":"available","id":1}"#);
    agent.expect("available", |v| v["event"] == "state" && v["agent"]["state"] == "available");
    // A customer the lab's CRM knows calls the billing queue.
    agent.send(r#"{"lab":{"cmd":"call","from":"+442079460018","queue":"billing","audio":{"tone_hz":440}}}"#);
    let incoming = agent.expect("the routed call", |v| v["event"] == "incoming");
    assert_eq!(incoming["from"], "+442079460018");
    assert_eq!(incoming["queue"], "billing");
    assert!(incoming["case"].as_str().is_some_and(|c| !c.is_empty()), "a case id: {incoming}");
    let call = incoming["call"].as_str().expect("call id").to_owned();
    let context = agent.expect("the CRM's screen pop", |v| {
        v["event"] == "context"
            && v["customer"]["source"] == "crm"
            && !v["customer"]["loading"].as_bool().unwrap_or(true)
    });
    assert!(context["customer"]["name"].as_str().is_some_and(|n| !n.is_empty()), "the CRM names the caller: {context}");
    agent.send(r#"{"cmd":"answer"}"#);
    agent.expect("connected", |v| {
        v["event"] == "call"
            && v["call"] == call.as_str()
            && v["call"] == call.as_str()
            && v["state"]["state"] == "connected"
    });
    agent.send(r#"{"cmd":"note","text":"Customer asks for a payment plan"}"#);
    let saved = agent.expect("the note saved", |v| v["event"] == "note_saved");
    assert_eq!(saved["call"], call.as_str());
    agent.expect("the note synced to the lab's CRM", |v| v["event"] == "note_saved" && v["sync"] == "synced");
    agent.send(r#"{"cmd":"hangup"}"#);
    agent.expect("ended", |v| v["event"] == "call" && v["state"]["state"] == "ended");
    agent.expect("wrap-up", |v| v["event"] == "state" && v["agent"]["state"] == "wrap_up");
    agent.send(r#"{"cmd":"wrapup","disposition":"resolved"}"#);
    agent.expect("available again", |v| v["event"] == "state" && v["agent"]["state"] == "available");
    agent.send(r#"{"cmd":"history","query":"payment plan"}"#);
    let history = agent.expect("the history", |v| v["event"] == "history");
    let row = &history["calls"][0];
    assert_eq!(row["party"], "+442079460018", "{history}");
    assert_eq!(row["direction"], "inbound");
    assert_eq!(row["disposition"], "resolved");
    assert!(row["notes"].as_str().is_some_and(|n| n.contains("payment plan")), "{history}");
    agent.send(r#"{"cmd":"quit"}"#);
    let status = agent.child.wait().expect("exit");
    assert!(status.success(), "quit exits 0: {status}");
}

#[test]
fn agent_with_a_bad_config_names_the_field_and_exits_78() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("warmline.toml");
    std::fs::write(&path, "acd = \"none\"\n[sip]\nservers = [\"ws://sbc.example.com\"]\nuser = \"sip:a@x\"\n")
        .expect("write");
    let out = cli().args(["agent", "--config"]).arg(&path).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG; stderr: {stderr}");
    assert!(stderr.contains("sip.servers"), "the error names the field: {stderr}");
}

#[test]
fn agent_needs_exactly_one_backend() {
    let out = cli().arg("agent").output().expect("run");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    let out = cli().args(["agent", "--lab", "--config", "x.toml"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "--lab and --config exclude each other");
}

#[test]
fn doctor_reports_one_json_line_per_check() {
    let out = cli().args(["doctor", "--json"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let items: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let names: Vec<&str> = items.iter().filter_map(|v| v["item"].as_str()).collect();
    assert!(names.contains(&"keyring") && names.contains(&"configuration"), "{names:?}");
    for v in &items {
        assert!(matches!(v["verdict"].as_str(), Some("pass" | "warn" | "fail")), "{v}");
    }
}

#[test]
fn doctor_fails_when_the_keyring_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = cli()
        .args(["doctor", "--json"])
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/none", dir.path().display()))
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("DISPLAY")
        .output()
        .expect("run");
    assert!(!out.status.success(), "doctor must fail when the keyring is unreachable");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let keyring = stdout.lines().find(|l| l.contains("\"keyring\"")).expect("keyring line");
    assert!(keyring.contains("\"fail\"") && keyring.contains("not available"), "{keyring}");
}

#[test]
fn sip_lint_prints_one_json_line_per_file_and_fails_only_on_unreadable_files() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures/rfc4475");
    let valid = fixtures.join("valid/wsinv.dat");
    let invalid = fixtures.join("invalid/badinv01.dat");
    let out = cli().arg("sip").arg("lint").arg(&valid).arg(&invalid).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "every file was read: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["file"].as_str(), valid.to_str());
    assert_eq!(lines[0]["ok"], true);
    assert!(lines[0]["error"].is_null(), "{}", lines[0]);
    assert_eq!(lines[1]["ok"], false);
    let error = lines[1]["error"].as_str().expect("an error message");
    assert!(error.contains("Via"), "the error names the bad header: {error}");

    let missing = fixtures.join("no-such-file.dat");
    let out = cli().arg("sip").arg("lint").arg(&valid).arg(&missing).output().expect("run");
    assert_ne!(out.status.code(), Some(0), "an unreadable file is a failure");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "still one line per file: {stdout}");
    assert!(stdout.contains("cannot read the file"), "{stdout}");
}

#[test]
fn doctor_names_the_line_and_field_of_a_bad_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warmline.toml");
    std::fs::write(
        &path,
        "acd = \"pidf\"\n[sip]\nservers = [\"ws://sbc.contoso.example\"]\nuser = \"sip:1001@contoso.example\"\n",
    )
    .expect("write");
    let out = cli().args(["doctor", "--json", "--config"]).arg(&path).output().expect("run");
    assert!(!out.status.success(), "a bad configuration fails the pre-flight check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains("\"configuration\"")).expect("configuration line");
    assert!(line.contains("\"fail\"") && line.contains("warmline.toml:3:") && line.contains("sip.servers"), "{line}");
}

#[test]
fn doctor_accepts_the_shipped_example_and_lists_missing_credentials_by_name_only() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/warmline.example.toml");
    let out = cli().args(["doctor", "--json", "--config"]).arg(&example).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let config = stdout.lines().find(|l| l.contains("\"configuration\"")).expect("configuration line");
    assert!(config.contains("\"pass\""), "{config}");
    if let Some(creds) = stdout.lines().find(|l| l.contains("\"credentials\"")) {
        // Only in a session with a keyring (the test session has one).
        assert!(creds.contains("sip-password:agent1001@contoso.example"), "{creds}");
    }
}

#[test]
fn lab_prints_its_endpoints_then_answers_json_lines_until_quit() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = cli()
        .arg("lab")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run warmline-cli lab");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready: serde_json::Value =
        serde_json::from_str(&lines.next().expect("a ready line").expect("read")).expect("JSON");
    assert_eq!(ready["event"], "ready", "{ready}");
    for url in ["graph_base", "crm_base", "entra_authority"] {
        let u = ready["endpoints"][url].as_str().unwrap_or_default();
        assert!(u.starts_with("http://127.0.0.1:"), "{url} on loopback with an ephemeral port: {ready}");
    }
    writeln!(
        stdin,
        r#"{{"id":7,"cmd":"presence","expert":"Priya Natarajan","availability":"Busy","activity":"InACall"}}"#
    )
    .expect("write");
    let reply: serde_json::Value = serde_json::from_str(&lines.next().expect("a reply").expect("read")).expect("JSON");
    assert_eq!(reply["id"], 7, "the id is echoed: {reply}");
    writeln!(stdin, r#"{{"cmd":"quit"}}"#).expect("write");
    drop(stdin);
    assert!(child.wait().expect("exit").success());
}

#[test]
fn lab_refuses_a_bad_scenario_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "seed = \"many\"\n").expect("write");
    let out = cli().arg("lab").arg("--scenario").arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("s.toml:1:"), "{stderr}");
}

/// Everything under `dir`, read as text.
fn read_all(dir: &std::path::Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("log dir").flatten() {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).expect("read log")));
    }
    all
}

#[test]
fn agent_lab_realtime_trace_and_logs_of_a_call_with_dtmf_and_sign_in_hold_no_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    // The system browser: follows the lab's authorize redirect to the
    // agent's loopback listener, as a person clicking through would.
    let browser = dir.path().join("browser.sh");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -s -L -o /dev/null \"$1\"\n").expect("browser script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut agent = {
        let mut cmd = cli();
        cmd.env("BROWSER", format!("{} %s", browser.display())).env("RUST_LOG", "debug");
        let log_dir = logs.to_string_lossy().into_owned();
        let args = ["agent", "--lab", "--audio-in", "tone:600", "--sip-trace", "--log-dir", log_dir.as_str()];
        Headless::start_with(cmd, &args)
    };
    agent.expect("registration", |v| v["event"] == "registration" && v["registration"]["state"] == "registered");
    agent.send(r#"{"lab":{"cmd":"consent","mode":"auto"}}"#);
    agent.send(r#"{"cmd":"sign_in"}"#);
    let signed_in = agent.expect("signed in", |v| v["event"] == "account" && v["account"]["state"] == "signed_in");
    assert_eq!(signed_in["account"]["name"], "Jordan Lee");
    agent.send(r#"{"cmd":"state","state":"available"}"#);
    agent.send(r#"{"lab":{"cmd":"call","from":"+442079460018","queue":"billing","audio":{"tone_hz":440}}}"#);
    agent.expect("the routed call", |v| v["event"] == "incoming");
    agent.send(r#"{"cmd":"answer"}"#);
    agent.expect("connected", |v| v["event"] == "call" && v["state"]["state"] == "connected");
    // A card number keyed into the call.
    let digits = "4929730215551234";
    agent.send(&format!(r#"{{"cmd":"dtmf","digits":"{digits}"}}"#));
    agent.expect("the DTMF accepted", |v| v["event"] == "ok");
    agent.send(r#"{"cmd":"hangup"}"#);
    agent.expect("ended", |v| v["event"] == "call" && v["state"]["state"] == "ended");
    agent.send(r#"{"cmd":"quit"}"#);
    assert!(agent.child.wait().expect("exit").success());

    let text = read_all(&logs);
    assert!(text.contains("REGISTER sip:"), "the SIP trace is in the log");
    assert!(text.contains("Authorization: Digest [redacted]"), "credentials are masked, not dropped");
    assert!(!text.contains(digits), "DTMF digits never reach the log");
    let password_hint = text.find("response=\"");
    assert!(password_hint.is_none(), "no digest response in the log");
    // JWT-shaped access and ID tokens start with eyJ (base64 of `{"`).
    assert!(!text.contains("eyJ"), "the log holds a JWT");
    for key in ["code_verifier=", "refresh_token=", "access_token=", "password=", "Bearer "] {
        for (at, _) in text.match_indices(key) {
            let after = &text[at + key.len()..];
            assert!(
                after.starts_with("[redacted]"),
                "the log holds a secret after {key}: {}",
                &after[..after.len().min(40)]
            );
        }
    }
}

/// The lab's customer is routed to `agent --lab`, which answers and
/// warm-transfers them to a Teams expert (consult, then complete); after the
/// transfer the customer hears the expert and no longer the agent. The
/// customer's recording is measured in 20 ms windows, as tests/agent_lab
/// does in-process; `make test-windows` runs this against warmline-cli.exe
/// under Wine and prints the share.
#[test]
fn agent_lab_realtime_warm_transfer_leaves_the_customer_hearing_the_expert() {
    use std::time::Duration;
    const AGENT_HZ: f32 = 600.0;
    const EXPERT_HZ: f32 = 880.0;
    const EXPERT: &str = "Priya Natarajan";
    const EXPERT_NUMBER: &str = "+442079460101";
    let dir = tempfile::tempdir().expect("temp dir");
    let heard = dir.path().join("customer-heard.wav");
    let mut agent = Headless::start(&["agent", "--lab", "--audio-in", "tone:600"]);
    agent.expect("registration", |v| v["event"] == "registration" && v["registration"]["state"] == "registered");
    agent.send(r#"{"cmd":"state","state":"available"}"#);
    agent.expect("available", |v| v["event"] == "state" && v["agent"]["state"] == "available");
    let behaviour = serde_json::json!({"lab": {"cmd": "behaviour", "expert": EXPERT,
        "answer": {"after_secs": 0.5}, "audio": {"tone_hz": EXPERT_HZ}}});
    agent.send(&behaviour.to_string());
    agent.expect("the expert's behaviour set", |v| v["event"] == "lab" && v["lab"]["event"] == "ok");
    let call = serde_json::json!({"lab": {"cmd": "call", "from": "+442079460018", "queue": "billing",
        "audio": {"tone_hz": 440}, "record": heard}});
    agent.send(&call.to_string());
    let placed = agent.expect("the customer's call placed", |v| v["event"] == "lab" && v["lab"]["event"] == "ok");
    let customer = placed["lab"]["result"]["customer"].as_str().expect("the customer's id").to_owned();
    let incoming = agent.expect("the routed call", |v| v["event"] == "incoming");
    let call = incoming["call"].as_str().expect("call id").to_owned();
    agent.send(r#"{"cmd":"answer"}"#);
    agent.expect("connected", |v| {
        v["event"] == "call" && v["call"] == call.as_str() && v["state"]["state"] == "connected"
    });
    // Each phase lasts until the agent has reported two seconds of media on
    // it (one `quality` event a second once media flows): paced by what the
    // agent sees, not by the clock.
    for n in 1..=2 {
        agent.expect(&format!("media report {n} of the talk"), |v| {
            v["event"] == "quality" && v["call"] == call.as_str()
        });
    }

    agent.send(&serde_json::json!({"cmd": "transfer", "to": EXPERT_NUMBER, "mode": "warm"}).to_string());
    agent.expect("the consult", |v| v["event"] == "transfer" && v["phase"] == "consulting");
    for n in 1..=2 {
        agent.expect(&format!("media report {n} of the consult"), |v| {
            v["event"] == "quality" && v["call"] != call.as_str()
        });
    }
    agent.send(r#"{"cmd":"complete_transfer"}"#);
    agent.expect("the transfer completed", |v| v["event"] == "transfer" && v["phase"] == "completed");
    // The customer and the expert talk for this long (the agent is gone, so
    // nothing reports on their call here): a span of conversation to
    // measure, as `play(SPAN)` is in tests/agent_lab, not a wait for an event.
    const AFTER_TRANSFER: Duration = Duration::from_secs(5);
    std::thread::sleep(AFTER_TRANSFER);
    agent.send(&serde_json::json!({"lab": {"cmd": "hangup", "customer": customer}}).to_string());
    let ended = agent.expect("the customer's call ended", |v| {
        v["event"] == "lab"
            && v["lab"]["event"] == "customer"
            && v["lab"]["customer"] == customer.as_str()
            && v["lab"]["state"] == "ended"
    });
    assert!(ended["lab"]["detail"].as_str().is_some_and(|d| d.contains("recorded")), "{ended}");
    agent.send(r#"{"cmd":"quit"}"#);
    assert!(agent.child.wait().expect("exit").success(), "quit exits 0");

    // 48 kHz mono 16-bit: the data chunk after the canonical 44-byte header.
    let bytes = std::fs::read(&heard).expect("the customer's recording");
    let samples: Vec<i16> = bytes[44..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let frame = 960;
    let windows: Vec<&[i16]> = samples.chunks_exact(frame).collect();
    let detect = |hz: f32, w: &[i16]| warmline_media::tone::ToneDetector::new(48_000, hz).with_min_ratio(0.3).detect(w);
    // The expert comes in when five windows in a row carry their tone.
    let expert_from = (0..windows.len().saturating_sub(5))
        .find(|&i| windows[i..i + 5].iter().all(|w| detect(EXPERT_HZ, w)))
        .expect("the customer heard the expert");
    let (from, to) = (expert_from + 25, windows.len().saturating_sub(10));
    assert!(to >= from + 100, "at least 2 s after the transfer to measure, got {} windows", to.saturating_sub(from));
    let share = |hz: f32| (from..to).filter(|&i| detect(hz, windows[i])).count() as f32 / (to - from) as f32;
    let (expert, agent) = (share(EXPERT_HZ), share(AGENT_HZ));
    eprintln!(
        "after the transfer the customer hears the expert in {:.1}% of {} 20 ms windows (the agent in {:.1}%)",
        expert * 100.0,
        to - from,
        agent * 100.0
    );
    assert!(expert >= 0.98, "the customer hears the expert in {:.1}% of 20 ms windows", expert * 100.0);
    assert!(agent <= 0.02, "the customer still hears the agent in {:.1}% of 20 ms windows", agent * 100.0);
}
