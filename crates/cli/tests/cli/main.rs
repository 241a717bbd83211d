//! `warmline-cli` as a user runs it.

use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warmline-cli"))
}

#[test]
fn subcommands_not_built_yet_say_so_and_do_not_panic() {
    let args = ["agent", "--lab"];
    // The headless agent runs with --config; the lab's SIP side is not built yet.
    let out = cli().args(args).output().expect("run warmline-cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{args:?}: exit status EX_UNAVAILABLE; stderr: {stderr}");
    assert!(stderr.contains("not available yet"), "{args:?}: clear message, got {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
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
