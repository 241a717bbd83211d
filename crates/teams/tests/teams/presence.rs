//! Presence against the stand-in: the documented request and response,
//! batching at 650, 429/401/403 as Graph sends them.

use std::time::{Duration, Instant};

use warmline_teams::presence::{Activity, Availability, PollingSource, PresenceApi, PresenceEvent, PresenceSource};
use warmline_teams::{Error, PresenceBoard, PresenceBudget};

use crate::server::{Fault, PRESENCE_REQUEST};
use crate::{graph_for, mock_keyring, signed_in};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("00000000-0000-4000-8000-{i:012x}")).collect()
}

#[tokio::test]
async fn documented_presence_request_and_response_round_trip() {
    let (server, _entra, session) = signed_in("presence", mock_keyring()).await;
    let api = PresenceApi::new(graph_for(&server, &session));
    let documented: serde_json::Value = serde_json::from_str(PRESENCE_REQUEST).expect("fixture");
    let ids: Vec<String> = serde_json::from_value(documented["ids"].clone()).expect("ids");
    let list = api.batch(Instant::now(), &ids).await.expect("presence");
    assert_eq!(list[0].availability, Availability::Busy);
    assert_eq!(list[0].activity, Activity::InAMeeting);
    assert_eq!(list[1].availability, Availability::Away);

    let sent = server.state().graph_requests("/communications/getPresencesByUserId").pop().expect("sent");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1.0/communications/getPresencesByUserId");
    assert_eq!(sent.headers.get("content-type").map(String::as_str), Some("application/json"));
    assert!(sent.headers.get("authorization").is_some_and(|a| a.starts_with("Bearer ")));
    let body: serde_json::Value = serde_json::from_str(&sent.body).expect("json body");
    assert_eq!(body, documented, "the body is the documented one");
}

#[tokio::test]
async fn many_ids_go_out_in_batches_of_650() {
    let (server, _entra, session) = signed_in("batches", mock_keyring()).await;
    let api = PresenceApi::new(graph_for(&server, &session));
    let all = ids(1301);
    let list = api.all(Instant::now(), &all).await.expect("presence");
    assert_eq!(list.len(), 1301);
    assert_eq!(list[1300].availability, Availability::PresenceUnknown);
    let sizes: Vec<usize> = server
        .state()
        .graph_requests("/getPresencesByUserId")
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).expect("json")["ids"].as_array().map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(sizes, vec![650, 650, 1]);
    let e = api.batch(Instant::now(), &ids(651)).await.expect_err("651 ids is over Graph's limit");
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[tokio::test]
async fn throttled_replies_carry_graphs_retry_after_including_fractions() {
    let (server, _entra, session) = signed_in("throttle", mock_keyring()).await;
    let api = PresenceApi::new(graph_for(&server, &session));
    server.state().faults.extend([Fault::Throttled, Fault::Throttled10]);
    let e = api.batch(Instant::now(), &ids(2)).await.expect_err("429");
    assert!(matches!(e, Error::Throttled { retry_after: Some(d) } if d == Duration::from_millis(2128)), "{e:?}");
    let e = api.batch(Instant::now(), &ids(2)).await.expect_err("429");
    assert!(matches!(e, Error::Throttled { retry_after: Some(d) } if d == Duration::from_secs(10)), "{e:?}");
    assert!(api.batch(Instant::now(), &ids(2)).await.is_ok(), "fine once the throttle is over");
}

#[tokio::test]
async fn unauthorized_refreshes_once_then_retries() {
    let (server, _entra, session) = signed_in("expired", mock_keyring()).await;
    let api = PresenceApi::new(graph_for(&server, &session));
    server.state().expire_access_tokens();
    let list = api.batch(Instant::now(), &ids(3)).await.expect("retried after one refresh");
    assert_eq!(list.len(), 3);
    let trail: Vec<String> = {
        let s = server.state();
        s.requests
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(trail, vec!["getPresencesByUserId", "token", "getPresencesByUserId"]);

    // A Graph that keeps saying 401 after the refresh: sign in again, no loop.
    server.state().faults.extend([Fault::Unauthorized, Fault::Unauthorized]);
    let e = api.batch(Instant::now(), &ids(3)).await.expect_err("401 twice");
    assert!(matches!(e, Error::SignInRequired { .. }), "{e}");
}

#[tokio::test]
async fn forbidden_explains_the_missing_permission_and_halts_polling() {
    let (server, _entra, session) = signed_in("forbidden", mock_keyring()).await;
    let mut source = PollingSource::new(PresenceApi::new(graph_for(&server, &session)), PresenceBudget::default(), 1);
    source.watch(&ids(2), &[]);
    server.state().faults.push_back(Fault::Forbidden);
    match source.next_event().await {
        PresenceEvent::Halted(e) => {
            let text = e.to_string();
            assert!(text.contains("Presence.Read.All") && text.contains("admin"), "{text}");
        }
        other => panic!("expected a halt, got {other:?}"),
    }
    assert!(source.poller().halted().is_some());
}

#[tokio::test]
async fn polling_source_feeds_the_board_which_keeps_last_known_presence() {
    let (server, _entra, session) = signed_in("board", mock_keyring()).await;
    server.state().presence.insert(ids(1)[0].clone(), ("Available".into(), "Available".into()));
    let mut source = PollingSource::new(PresenceApi::new(graph_for(&server, &session)), PresenceBudget::default(), 1);
    source.watch(&ids(1), &ids(3));
    let PresenceEvent::Updated(list) = source.next_event().await else { panic!("first poll goes at once") };
    assert_eq!(list.len(), 3, "favourite and others share one batch");
    let t0 = Instant::now();
    let mut board = PresenceBoard::new();
    board.apply(t0, list);
    let seen = board.get(&ids(1)[0], t0 + Duration::from_secs(90)).expect("known");
    assert!(seen.presence.takes_calls());
    assert_eq!(seen.age, Duration::from_secs(90), "offline, the age is shown");
}

#[tokio::test]
async fn polling_source_reports_throttling_and_paces_down() {
    let (server, _entra, session) = signed_in("pace", mock_keyring()).await;
    let mut source = PollingSource::new(PresenceApi::new(graph_for(&server, &session)), PresenceBudget::default(), 1);
    source.watch(&ids(2), &[]);
    server.state().faults.push_back(Fault::Throttled);
    match source.next_event().await {
        PresenceEvent::Throttled { retry_after } => assert_eq!(retry_after, Some(Duration::from_millis(2128))),
        other => panic!("expected throttling, got {other:?}"),
    }
    assert_eq!(source.poller().interval(), PresenceBudget::default().slow_interval(), "then the slow pace");
}
