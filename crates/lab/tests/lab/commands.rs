//! Starting the lab, its endpoints, and the JSON-lines commands the CLI
//! will pass through.

use serde_json::{Value, json};
use warmline_lab::scenario::ConsentMode;
use warmline_lab::{Clock, Error, LabEvent};

use crate::support;

fn reply(control: &warmline_lab::Control, line: &str) -> Value {
    serde_json::from_str(&control.execute_line(line)).expect("every reply is one JSON line")
}

#[tokio::test]
async fn the_lab_listens_on_loopback_ephemeral_ports_and_says_where() {
    let (a, b) = (support::lab().await, support::lab().await);
    let e = a.endpoints();
    for url in [&e.entra_authority, &e.graph_base, &e.crm_base] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
    let sip = e.sip_ws.as_deref().expect("the SIP WebSocket is filled when the lab starts");
    assert!(sip.starts_with("ws://127.0.0.1:"), "{sip}");
    assert_ne!(a.endpoints().sip_ws, b.endpoints().sip_ws, "two labs' SIP ports never collide");
    assert_eq!(e.entra_tenant, "northwind.example.com");
    assert_ne!(a.endpoints().graph_base, b.endpoints().graph_base, "two labs never collide");
    let line = serde_json::to_value(e).expect("endpoints serialise");
    for field in ["sip_ws", "entra_authority", "entra_tenant", "entra_client_id", "graph_base", "crm_base"] {
        assert!(line.get(field).is_some(), "{field} in {line}");
    }
    assert!(!line.to_string().contains(a.crm_token()), "the endpoints line carries no credential");
    for account in a.control().sip_accounts() {
        assert!(!line.to_string().contains(&account.password), "no SIP password in the endpoints line");
        assert!(!format!("{account:?}").contains(&account.password), "Debug hides the SIP password");
    }
}

#[tokio::test]
async fn sip_accounts_and_customer_calls_are_commands() {
    let lab = support::lab().await;
    let control = lab.control();
    let r = reply(&control, r#"{"id":1,"cmd":"sip_accounts"}"#);
    let accounts = r["result"].as_array().expect("a list");
    assert_eq!(accounts.len(), lab.scenario().agents.len(), "{r}");
    assert_eq!(accounts[0]["aor"], "sip:1001@northwind.example.com");
    assert!(accounts[0]["password"].as_str().is_some_and(|p| p.len() >= 16), "a generated password");

    let mut events = control.subscribe();
    let r = reply(&control, r#"{"id":2,"cmd":"call","from":"+442079460018","queue":"billing","audio":"silence"}"#);
    assert_eq!(r["result"]["customer"], "K1", "{r}");
    // Nobody is available: the call waits in its queue.
    let queued = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(e @ LabEvent::Sip(_)) => {
                    let line = serde_json::to_value(&e).expect("serialises");
                    if line["event"] == "queued" {
                        return line;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the customer's call is queued");
    assert_eq!(queued["queue"], "billing");
    assert_eq!(queued["from"], "sip:+442079460018@northwind.example.com");
    assert_eq!(queued["position"], 1);
    let r = reply(&control, r#"{"id":3,"cmd":"hangup","customer":"K1"}"#);
    assert_eq!(r["event"], "ok", "{r}");
    let r = reply(&control, r#"{"id":4,"cmd":"hangup","customer":"K9"}"#);
    assert_eq!(r["code"], "lab.bad_command", "{r}");
}

#[tokio::test]
async fn commands_drive_the_lab_and_replies_echo_their_id() {
    let lab = support::lab().await;
    let control = lab.control();
    let mut events = control.subscribe();

    let r =
        reply(&control, r#"{"id":1,"cmd":"presence","expert":"Emily Carter","availability":"Away","activity":"Away"}"#);
    assert_eq!((r["event"].as_str(), r["id"].as_i64()), (Some("ok"), Some(1)), "{r}");
    assert_eq!(r["result"]["presence"], json!({"availability": "Away", "activity": "Away"}));
    assert!(matches!(events.try_recv(), Ok(LabEvent::Presence { .. })));
    let event =
        serde_json::to_value(LabEvent::SignedIn { upn: "x".into(), flow: warmline_lab::SignInFlow::DeviceCode })
            .expect("events serialise");
    assert_eq!(event, json!({"event": "signed_in", "upn": "x", "flow": "device_code"}));

    let r = reply(
        &control,
        r#"{"id":"b","cmd":"behaviour","expert":"emily.carter@northwind.example.com","answer":"never","audio":{"tone_hz":300}}"#,
    );
    assert_eq!(r["result"]["answer"], "never", "{r}");
    assert_eq!(r["result"]["audio"], json!({"tone_hz": 300.0}));

    let r = reply(&control, r#"{"cmd":"experts"}"#);
    assert_eq!(r["result"].as_array().map(Vec::len), Some(8));

    let r = reply(&control, r#"{"cmd":"crm_outage","outage":{"mode":"unavailable"}}"#);
    assert_eq!(r["event"], "ok");
    assert_eq!(control.crm_outage(), warmline_lab::faults::CrmOutage::Unavailable);

    let r = reply(&control, r#"{"cmd":"graph_fault","fault":{"kind":"missing_consent"},"until_cleared":true}"#);
    assert_eq!(r["event"], "ok");
    let token = support::access(&support::sign_in(&lab, None).await);
    assert_eq!(support::graph_get(&lab, "/me", &token, &[]).await.status(), 403);
    reply(&control, r#"{"cmd":"clear_graph_faults"}"#);
    assert_eq!(support::graph_get(&lab, "/me", &token, &[]).await.status(), 200);

    let r = reply(&control, r#"{"cmd":"advance","secs":60}"#);
    assert_eq!(r["result"]["now_ms"], support::START_MS + 60_000);
}

#[tokio::test]
async fn bad_commands_get_error_replies_with_stable_codes() {
    let lab = support::lab().await;
    let control = lab.control();
    for (line, code) in [
        (
            r#"{"id":7,"cmd":"presence","expert":"Nobody","availability":"Away","activity":"Away"}"#,
            "lab.unknown_expert",
        ),
        (r#"{"id":8,"cmd":"explode"}"#, "lab.bad_command"),
        ("not json", "lab.bad_command"),
        (r#"{"cmd":"approve_device","user_code":"NOPENOPE"}"#, "lab.unknown_device_code"),
        (r#"{"cmd":"revoke_permission","permission":"Mail.Send"}"#, "lab.unknown_permission"),
    ] {
        let r = reply(&control, line);
        assert_eq!((r["event"].as_str(), r["code"].as_str()), (Some("error"), Some(code)), "{line}: {r}");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(reply(&control, r#"{"id":8,"cmd":"explode"}"#)["id"], 8, "the id is echoed even for an unknown command");
}

#[tokio::test]
async fn time_only_moves_on_a_manual_clock() {
    let lab = support::lab_with(ConsentMode::Auto, Clock::system()).await;
    assert!(matches!(lab.control().advance(std::time::Duration::from_secs(1)), Err(Error::ClockNotManual)));
}

#[tokio::test]
async fn a_json_lines_session_prints_ready_then_replies_and_events_until_quit() {
    let lab = support::lab().await;
    let input = concat!(
        r#"{"id":1,"cmd":"presence","expert":"Emily Carter","availability":"Busy","activity":"InACall"}"#,
        "\n\n",
        r#"{"id":2,"cmd":"quit"}"#,
        "\n",
        r#"{"id":3,"cmd":"experts"}"#,
        "\n"
    );
    let mut out = Vec::new();
    lab.serve_lines(input.as_bytes(), &mut out).await.expect("the session ends cleanly");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0]["event"], "ready");
    assert_eq!(lines[0]["protocol"], 1);
    assert_eq!(lines[0]["endpoints"]["graph_base"], lab.endpoints().graph_base.as_str());
    assert_eq!(lines[0]["crm_token"], lab.crm_token());
    assert_eq!((lines[1]["event"].as_str(), lines[1]["id"].as_i64()), (Some("ok"), Some(1)));
    assert_eq!((lines[2]["event"].as_str(), lines[2]["cause"].as_str()), (Some("presence"), Some("command")));
    assert_eq!(lines[2]["expert"], "emily.carter@northwind.example.com");
    assert_eq!((lines[3]["event"].as_str(), lines[3]["id"].as_i64()), (Some("ok"), Some(2)), "nothing after quit");
}
