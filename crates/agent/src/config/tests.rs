//! Tests of `config.rs`, on simulated time where time matters.
use super::*;

const MINIMAL: &str = "[sip]\nservers = [\"wss://sbc.example.com\"]\nuser = \"sip:1001@pbx.example.com\"\n";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("warmline.toml"), text)
}

#[test]
fn the_shipped_example_parses_and_means_what_its_comments_say() {
    let text = include_str!("../../../../assets/warmline.example.toml");
    let c = parse(text).expect("the example is valid");
    assert_eq!(c.sip.servers, ["wss://sbc1.contoso.example:443", "wss://sbc2.contoso.example:443"]);
    assert_eq!(c.sip.auth_user, "agent1001");
    assert_eq!(c.acd, AcdKind::Pidf);
    assert!(c.is_locked(Setting::Sip) && c.is_locked(Setting::DialPolicy) && !c.is_locked(Setting::Audio));
    assert!(c.media.turn.iter().any(|t| t.url.starts_with("turns:") && t.url.contains(":443")));
    assert!(c.dial_policy.allows("+14255550100").is_ok());
    assert!(c.dial_policy.allows("+900555").is_err());
    assert!(c.dial_policy.allows("911").is_ok(), "emergency numbers are always allowed");
    assert!(matches!(c.crm, CrmConfig::Rest { .. }));
    assert_eq!(c.sip_password_name().user(), "sip-password:agent1001@contoso.example");
    assert_eq!(c.secret_names().len(), 4, "SIP password, two TURN credentials, the CRM token");
}

#[test]
fn a_minimal_file_gets_safe_defaults() {
    let c = parse(MINIMAL).expect("valid");
    assert_eq!(c.sip.auth_user, "1001");
    assert_eq!(c.sip.register_expires, 600);
    assert!(!c.sip.auto_answer, "auto-answer is off unless the admin turns it on");
    assert!(c.sip.accept_transfers);
    assert_eq!(c.acd, AcdKind::None);
    assert_eq!(c.crm, CrmConfig::None);
    assert!(c.microsoft365.is_none());
    assert_eq!(c.audio, AudioConfig::default());
    assert!(c.dial_policy.allows("112").is_ok());
    assert!(c.dial_policy.allows("+14255550100").is_ok(), "no allow-list means any number");
}

#[test]
fn syntax_errors_name_the_line() {
    let e = parse("[sip]\nservers = [\"wss://a\"\nuser = 1\n").expect_err("refused");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert!(e.to_string().starts_with("warmline.toml:"), "{e}");
    assert!(e.line().is_some_and(|l| l >= 2), "{e}");
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let e = parse(&format!("{MINIMAL}registar = \"x\"\n")).expect_err("refused");
    assert_eq!(e.line(), Some(4), "{e}");
    assert!(e.to_string().contains("registar"), "{e}");
}

#[test]
fn wrong_types_name_the_field() {
    let e = parse("[sip]\nservers = \"wss://sbc.example.com\"\nuser = \"sip:1@x\"\n").expect_err("refused");
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn invalid_values_name_line_and_field() {
    let cases = [
        ("[sip]\nservers = [\"ws://sbc.example.com\"]\nuser = \"sip:1@x\"\n", 2, "sip.servers", "loopback"),
        ("[sip]\nservers = []\nuser = \"sip:1@x\"\n", 2, "sip.servers", "at least one"),
        ("[sip]\nservers = [\"https://sbc\"]\nuser = \"sip:1@x\"\n", 2, "sip.servers", "not a WebSocket"),
        ("[sip]\nservers = [\"wss://sbc\"]\nuser = \"1001\"\n", 3, "sip.user", "address of record"),
        (&format!("{MINIMAL}register_expires = 5\n"), 4, "sip.register_expires", "between"),
        (&format!("{MINIMAL}[microsoft365]\ntenant = \"contoso\"\nclient_id = \"abc\"\n"), 6, "client_id", "GUID"),
        (&format!("{MINIMAL}[crm]\nkind = \"salesforce\"\n"), 5, "crm.kind", "rest"),
        (&format!("{MINIMAL}[crm]\nkind = \"rest\"\nurl = \"http://crm.example.com\"\n"), 6, "crm.url", "https"),
        (&format!("{MINIMAL}[dial_policy]\nallowed = [\"+1 425 ???\"]\n"), 5, "dial_policy.allowed", ""),
        (&format!("{MINIMAL}[admin]\nlocked = [\"everything\"]\n"), 5, "admin.locked", "dial_policy"),
        (&format!("{MINIMAL}[media]\nrelay_only = true\n"), 5, "media.relay_only", "turn"),
        (&format!("{MINIMAL}[media]\nstun = [\"stun.example.com\"]\n"), 5, "media.stun", "stun:"),
        (&format!("{MINIMAL}[logging]\nlevel = \"loud\"\n"), 5, "logging.level", "info"),
        (&format!("{MINIMAL}[agent]\nafter_wrap_up = \"lunch\"\n"), 5, "agent.after_wrap_up", "wrap_up"),
        (&format!("{MINIMAL}[agent]\ncall_waiting = \"beep\"\n"), 5, "agent.call_waiting", "refuse"),
        (&format!("{MINIMAL}[agent]\nmissed_offers_before_away = -1\n"), 5, "agent.missed_offers_before_away", "0"),
    ];
    for (text, line, field, hint) in cases {
        let e = parse(text).expect_err("refused");
        assert_eq!(e.line(), Some(line), "{e}\n--- in ---\n{text}");
        let msg = e.to_string();
        assert!(msg.contains(field) && msg.contains(hint), "{msg}");
    }
}

#[test]
fn the_desk_settings_follow_the_file() {
    let c = parse(&format!(
        "{MINIMAL}[agent]\nafter_wrap_up = \"wrap_up\"\ndisposition_required = true\nmissed_offers_before_away = 0\ncall_waiting = \"ring\"\n"
    ))
    .expect("valid");
    let p = c.agent.desk_policy();
    assert_eq!(p.after_wrap_up, crate::control::desk::AfterWrapUp::StayInWrapUp);
    assert!(p.disposition_required);
    assert_eq!(p.missed_offers_before_away, 0);
    assert_eq!(c.agent.call_waiting, CallWaiting::Ring);
    let d = parse(MINIMAL).expect("valid").agent;
    assert_eq!((d.call_waiting, d.missed_offers_before_away), (CallWaiting::Auto, 2), "the defaults");
}

#[test]
fn loopback_lab_urls_may_be_plain() {
    let text = "[sip]\nservers = [\"ws://127.0.0.1:5066\"]\nuser = \"sip:1@lab\"\n[crm]\nkind = \"rest\"\nurl = \"http://127.0.0.1:8080/\"\n";
    let c = parse(text).expect("loopback is fine");
    assert_eq!(c.crm, CrmConfig::Rest { url: "http://127.0.0.1:8080".into() });
}

#[test]
fn an_explicit_path_wins_and_nothing_found_means_the_lab() {
    assert_eq!(Config::locate(Some(Path::new("/x/w.toml"))), Some(PathBuf::from("/x/w.toml")));
    if std::env::var_os("WARMLINE_TEST_SESSION").is_some() {
        // The test session's XDG_CONFIG_HOME is a fresh directory.
        assert!(Config::locate(None).is_none_or(|p| Some(p) == Config::system_path()));
    }
}

#[test]
fn the_machine_wide_file_is_where_the_admin_docs_say() {
    let path = Config::system_path().expect("a machine-wide path on Unix and Windows");
    if cfg!(windows) {
        let data = std::env::var_os("ProgramData").expect("Windows sets ProgramData");
        assert_eq!(path, PathBuf::from(data).join("Warmline").join("warmline.toml"));
    } else {
        assert_eq!(path, PathBuf::from("/etc/warmline/warmline.toml"));
    }
}

#[test]
fn an_unreadable_file_says_which() {
    let e = Config::load(Path::new("/nonexistent/warmline.toml")).expect_err("refused");
    assert!(e.to_string().contains("/nonexistent/warmline.toml"), "{e}");
}
