//! The CRM stand-in through Warmline's REST connector: lookups, notes, and
//! every kind of outage the sync engine must survive.

use serde_json::Value;
use warmline_lab::faults::CrmOutage;
use warmline_lab::{Lab, LabOptions, Scenario};
use warmline_store::CustomerKey;
use warmline_store::sync::{Connector, ConnectorError, NoteWrite};

use crate::store_conformance::{ada, connector};
use crate::support;

fn write(key: &str, body: &str) -> NoteWrite {
    NoteWrite {
        idempotency_key: key.into(),
        client_uid: "client-1".into(),
        revision: 1,
        body: body.into(),
        call_uid: Some("call-7".into()),
        customer_ref: Some("NW-100231".into()),
    }
}

#[tokio::test]
async fn a_seeded_customer_comes_back_with_interactions_by_phone_and_email() {
    let lab = support::lab().await;
    let crm = connector(&lab, lab.crm_token(), 5_000);
    let ada = crm.lookup(&ada()).await.expect("lookup").expect("Ada is a customer");
    assert_eq!(ada.display_name, "Ada Lovelace");
    assert_eq!(ada.crm_id.as_deref(), Some("NW-100231"));
    assert_eq!(ada.fields["tier"], "gold");
    assert_eq!(ada.interactions.len(), 2);
    assert_eq!(ada.interactions[0].summary, "Router replaced after repeated drop-outs; engineer visit booked");
    let by_mail = crm.lookup(&CustomerKey::Email("Ada.Lovelace@example.org".into())).await.expect("lookup");
    assert_eq!(by_mail.map(|c| c.display_name).as_deref(), Some("Ada Lovelace"));
    let raw: Value = support::http()
        .get(format!("{}/customers?phone=%2B442079460018", lab.endpoints().crm_base))
        .bearer_auth(lab.crm_token())
        .send()
        .await
        .expect("raw lookup")
        .json()
        .await
        .expect("json");
    assert_eq!(raw["notes"][0]["author"], "Sam Patel", "the screen pop sees the notes history");
}

#[tokio::test]
async fn a_crm_that_is_down_answers_503_and_nothing_is_written() {
    let lab = support::lab().await;
    let crm = connector(&lab, lab.crm_token(), 5_000);
    lab.control().set_crm_outage(CrmOutage::Unavailable);
    let e = crm.create_note(&write("k1", "during the outage")).await.expect_err("down");
    assert!(matches!(e, ConnectorError::Unavailable { status: 503, .. }), "{e:?}");
    assert!(e.is_transient());
    lab.control().set_crm_outage(CrmOutage::None);
    crm.create_note(&write("k1", "during the outage")).await.expect("back up");
    assert_eq!(lab.control().crm_notes().expect("notes").iter().filter(|n| n.client_id.is_some()).count(), 1);
}

#[tokio::test]
async fn dropped_connections_are_unreachable_not_an_answer() {
    let lab = support::lab().await;
    let crm = connector(&lab, lab.crm_token(), 5_000);
    lab.control().set_crm_outage(CrmOutage::Drop);
    let e = crm.lookup(&ada()).await.expect_err("dropped");
    assert!(matches!(e, ConnectorError::Unreachable(_)), "{e:?}");
    lab.control().set_crm_outage(CrmOutage::None);
    assert!(crm.lookup(&ada()).await.expect("back").is_some());
}

#[tokio::test]
async fn a_slow_crm_makes_a_client_with_a_short_timeout_give_up() {
    let lab = support::lab().await;
    // The CRM waits a minute; the client gives up after 200 ms. Nothing here
    // waits for the minute: the client's timeout ends the request.
    lab.control().set_crm_outage(CrmOutage::Slow { delay_ms: 60_000 });
    let impatient = connector(&lab, lab.crm_token(), 200);
    let e = impatient.lookup(&ada()).await.expect_err("timed out");
    assert!(matches!(e, ConnectorError::Unreachable(_)) && e.is_transient(), "{e:?}");
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_without_a_duplicate() {
    let lab = support::lab().await;
    let crm = connector(&lab, lab.crm_token(), 5_000);
    lab.control().set_crm_outage(CrmOutage::LoseResponses { count: 1 });
    let lost = crm.create_note(&write("k-lost", "written, answer lost")).await.expect_err("lost");
    assert!(lost.is_transient(), "{lost:?}");
    assert_eq!(lab.control().crm_outage(), CrmOutage::None, "one lost answer, then normal");
    let retried = crm.create_note(&write("k-lost", "written, answer lost")).await.expect("retry");
    let mine: Vec<_> =
        lab.control().crm_notes().expect("notes").into_iter().filter(|n| n.client_id.is_some()).collect();
    assert_eq!(mine.len(), 1, "the retry found the first write: {mine:?}");
    assert_eq!(mine[0].id, retried.server_id);
}

#[tokio::test]
async fn the_same_key_with_a_different_note_is_refused() {
    let lab = support::lab().await;
    let crm = connector(&lab, lab.crm_token(), 5_000);
    crm.create_note(&write("k", "one")).await.expect("create");
    let e = crm.create_note(&write("k", "another")).await.expect_err("key reuse");
    assert!(matches!(e, ConnectorError::Rejected { status: 422, .. }), "{e:?}");
}

#[tokio::test]
async fn notes_and_their_keys_survive_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crm.sqlite3");
    let options = || LabOptions { crm_db: Some(path.clone()), ..LabOptions::default() };
    let first = Lab::start_with(Scenario::default_scenario(), options()).await.expect("start");
    let note =
        connector(&first, first.crm_token(), 5_000).create_note(&write("k-restart", "kept")).await.expect("create");
    drop(first);
    let second = Lab::start_with(Scenario::default_scenario(), options()).await.expect("restart");
    let again =
        connector(&second, second.crm_token(), 5_000).create_note(&write("k-restart", "kept")).await.expect("replay");
    assert_eq!(again, note, "the key's reply was kept in the file");
    let seeded = second.control().crm_notes().expect("notes").iter().filter(|n| n.client_id.is_none()).count();
    assert_eq!(seeded, 7, "the scenario's notes history, seeded once");
}
