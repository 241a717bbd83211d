//! The connector contract, run against the test CRM through the REST connector.

use serde_json::json;
use warmline_secrets::Secret;
use warmline_store::rest::{RestConfig, RestConnector};
use warmline_store::sync::{SystemClock, refresh_customer, sync_until_idle};
use warmline_store::{CustomerKey, NewNote, Outbox, PhoneNormaliser, RetryPolicy, SyncState, Timestamp, conformance};

use crate::crm::{Crm, CrmServer, TOKEN};

pub fn ada() -> serde_json::Value {
    json!({
        "id": "C-1",
        "name": "Ada Lovelace",
        "phones": ["+442079460018"],
        "emails": ["ada@example.com"],
        "fields": {"tier": "gold", "open_cases": 2},
        "interactions": [{"id": "case-9", "at": 1_700_000_000_000_i64, "channel": "phone", "summary": "router replaced"}]
    })
}

pub fn connector(server: &CrmServer, token: &str) -> RestConnector {
    let config =
        RestConfig { base_url: server.base_url(), country_code: 44, timeout_ms: 5_000, ..RestConfig::default() };
    RestConnector::new(config, &Secret::from(token)).expect("connector")
}

fn fixture() -> conformance::Fixture {
    let phones = PhoneNormaliser::new(44);
    conformance::Fixture {
        known: CustomerKey::Phone(phones.normalise("020 7946 0018").expect("valid")),
        known_name: Some("Ada Lovelace".into()),
        unknown: CustomerKey::Phone(phones.normalise("020 7946 0999").expect("valid")),
    }
}

#[tokio::test]
async fn the_rest_connector_passes_the_conformance_suite_against_the_test_crm() {
    let server = CrmServer::start(Crm::with_customer(ada()));
    let good = connector(&server, TOKEN);
    let bad = connector(&server, "wrong-token");
    let report = conformance::run(&good, &fixture(), Some(&bad)).await;
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() >= 10, "{report}");
    assert!(report.checks.iter().any(|c| c.name.starts_with("list returns")), "{report}");
}

#[tokio::test]
async fn the_suite_catches_a_crm_that_ignores_idempotency_keys() {
    let mut crm = Crm::with_customer(ada());
    crm.forget_idempotency = true;
    let server = CrmServer::start(crm);
    let report = conformance::run(&connector(&server, TOKEN), &fixture(), None).await;
    let failed: Vec<_> = report.failures().map(|c| c.name).collect();
    assert!(failed.iter().any(|n| n.contains("idempotency key")), "{report}");
}

#[tokio::test]
async fn the_suite_catches_a_crm_whose_listing_loses_the_client_id() {
    let mut crm = Crm::with_customer(ada());
    crm.list_without_client_ids = true;
    let server = CrmServer::start(crm);
    let report = conformance::run(&connector(&server, TOKEN), &fixture(), None).await;
    let failed: Vec<_> = report.failures().map(|c| c.name).collect();
    assert_eq!(failed, ["list returns the note with its client id, revision, version and text"], "{report}");
}

#[tokio::test]
async fn a_lookup_fills_the_customer_cache() {
    let server = CrmServer::start(Crm::with_customer(ada()));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::open(&dir.path().join("w.db")).store;
    let key = fixture().known;
    let cached = refresh_customer(&store, &connector(&server, TOKEN), &key, Timestamp::from_millis(5))
        .await
        .expect("lookup")
        .expect("known customer");
    assert_eq!(cached.record.crm_id.as_deref(), Some("C-1"));
    assert_eq!(cached.record.interactions[0].summary, "router replaced");
    let by_mail = store.customer(&CustomerKey::Email("ada@example.com".into())).expect("cache").expect("by e-mail");
    assert_eq!(by_mail.id, cached.id);
    let (crm, unknown) = (connector(&server, TOKEN), fixture().unknown);
    let found = refresh_customer(&store, &crm, &unknown, Timestamp::from_millis(6)).await.expect("lookup");
    assert!(found.is_none(), "an unknown caller is not an error");
}

#[tokio::test]
async fn a_note_changed_in_the_crm_meanwhile_is_a_conflict_not_an_overwrite() {
    let server = CrmServer::start(Crm::with_customer(ada()));
    let crm = connector(&server, TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::open(&dir.path().join("w.db")).store;
    let mut outbox = Outbox::new(RetryPolicy::default(), 3);
    let now = Timestamp::now();
    let id = store.create_note(&NewNote::default(), now).expect("create");
    store.save_note(id, "agent: first", now).expect("save");
    sync_until_idle(&store, &mut outbox, &crm, &SystemClock).await.expect("sync");
    let server_id = store.note(id).expect("note").server_id.expect("synced");
    server.crm().edit_on_server(&server_id, "supervisor: edited in the CRM");

    store.save_note(id, "agent: second", now).expect("save");
    let round = sync_until_idle(&store, &mut outbox, &crm, &SystemClock).await.expect("sync");
    assert_eq!(round.conflicts, 1, "{round:?}");
    assert_eq!(store.sync_state(id).expect("state"), SyncState::Conflict);
    let conflict = &store.conflicts(id).expect("conflicts")[0];
    assert_eq!(
        (conflict.local_body.as_str(), conflict.server_body.as_str()),
        ("agent: second", "supervisor: edited in the CRM")
    );
    assert_eq!(store.note(id).expect("note").body, "agent: second", "the local text is kept");

    store.resolve_conflict(id, "agent: second (and the supervisor's edit)", now).expect("resolve");
    sync_until_idle(&store, &mut outbox, &crm, &SystemClock).await.expect("sync");
    assert_eq!(store.sync_state(id).expect("state"), SyncState::Synced);
    assert_eq!(
        server.crm().arrivals.len(),
        2,
        "first and resolved revisions only; the conflicting one never overwrote"
    );
}
