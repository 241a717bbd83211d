//! People search: the request Graph needs, the documented answers, and the
//! way from a search hit to a dial target.

use std::time::Instant;

use warmline_teams::directory::{JsonShortlistStore, resolve_dial_target};
use warmline_teams::{DialConfig, Directory, Shortlist, ShortlistStore};

use crate::{graph_for, mock_keyring, signed_in};

#[tokio::test]
async fn search_sends_consistency_level_and_a_narrow_select() {
    let (server, _entra, session) = signed_in("search", mock_keyring()).await;
    let directory = Directory::new(graph_for(&server, &session));
    let found = directory.search(Instant::now(), "wa").await.expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].display_name.as_deref(), Some("Oscar Ward"));

    let sent = server.state().graph_requests("/v1.0/users").pop().expect("sent");
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.headers.get("consistencylevel").map(String::as_str), Some("eventual"));
    assert_eq!(sent.param("$search"), Some(r#""displayName:wa" OR "mail:wa""#));
    let select = sent.param("$select").expect("$select");
    for field in ["id", "displayName", "businessPhones"] {
        assert!(select.split(',').any(|f| f == field), "{field} missing from {select}");
    }
    assert!(!select.contains("mobilePhone"), "only what Warmline shows or dials");
    assert!(sent.param("$top").is_some());
}

#[tokio::test]
async fn a_search_hit_becomes_a_favourite_and_a_dial_target() {
    let (server, _entra, session) = signed_in("dial", mock_keyring()).await;
    let directory = Directory::new(graph_for(&server, &session));
    let found = directory.search(Instant::now(), "MOD").await.expect("search");
    let admin = found.into_iter().find(|e| e.display_name.as_deref() == Some("MOD Administrator")).expect("in list");

    let dir = tempfile::tempdir().expect("tempdir");
    let store = JsonShortlistStore::new(dir.path().join("experts.json"));
    let mut list = Shortlist::default();
    list.add_favourite(admin.clone()).expect("has an id");
    list.tag(admin.id.as_deref().expect("id"), "billing");
    store.save(&list).expect("save");
    let back = store.load().expect("load");
    let expert = back.with_tag("billing").next().expect("tagged favourite");

    let config = DialConfig {
        sbc_domain: Some("sbc.contoso.com".into()),
        default_country_code: Some("1".into()),
        ..DialConfig::default()
    };
    assert_eq!(resolve_dial_target(expert, &config).expect("target"), "sip:+14255550100@sbc.contoso.com;user=phone");
}
