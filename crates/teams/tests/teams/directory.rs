//! People search: the request Graph needs, the documented answers, and the
//! way from a search hit to a dial target.

use std::time::Instant;

use warmline_teams::directory::{JsonShortlistStore, resolve_dial_target};
use warmline_teams::{DialConfig, Directory, DirectoryConfig, Error, Shortlist, ShortlistStore};

use crate::server::TestServer;
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

/// The nextLink Graph would give for page one of a `$search` on `server`'s Graph.
fn next_link(graph: &url::Url) -> String {
    let mut url = graph.clone();
    url.path_segments_mut().expect("base").pop_if_empty().push("users");
    url.query_pairs_mut()
        .append_pair("$search", r#""displayName:page" OR "mail:page""#)
        .append_pair("$select", warmline_teams::directory::SELECT)
        .append_pair("$top", "2")
        .append_pair("$skiptoken", "RFNwdAIAAQAAACpHcm91cF8");
    url.to_string()
}

#[tokio::test]
async fn search_follows_next_link_with_consistency_level() {
    let (server, _entra, session) = signed_in("paging", mock_keyring()).await;
    let link = next_link(&server.graph());
    server.state().next_link = Some(link.clone());
    let directory = Directory::new(graph_for(&server, &session));
    let found = directory.search(Instant::now(), "page").await.expect("search");
    let names: Vec<_> = found.iter().filter_map(|e| e.display_name.as_deref()).collect();
    assert_eq!(names, ["Conf Room Adams", "MOD Administrator", "Oscar Ward", "contosoAdmin1"], "both pages, in order");

    let sent = server.state().graph_requests("/v1.0/users");
    assert_eq!(sent.len(), 2, "one request per page");
    assert_eq!(sent[0].param("$skiptoken"), None);
    let second = &sent[1];
    let link = url::Url::parse(&link).expect("link");
    let expected: Vec<(String, String)> = link.query_pairs().into_owned().collect();
    assert_eq!(second.path, link.path());
    assert_eq!(second.query, expected, "the second request is the nextLink as given");
    assert_eq!(second.headers.get("consistencylevel").map(String::as_str), Some("eventual"));
    assert!(second.headers.get("authorization").is_some_and(|a| a.starts_with("Bearer ")));
}

#[tokio::test]
async fn search_stops_at_the_configured_limit() {
    let (server, _entra, session) = signed_in("limit", mock_keyring()).await;
    server.state().next_link = Some(next_link(&server.graph()));
    let graph = graph_for(&server, &session);

    // Three wanted: page two is fetched and cut.
    let config = DirectoryConfig { max_results: 3, ..DirectoryConfig::default() };
    let found = Directory::with_config(graph.clone(), &config).search(Instant::now(), "page").await.expect("search");
    assert_eq!(found.len(), 3);
    assert_eq!(found[2].display_name.as_deref(), Some("Oscar Ward"));
    let sent = server.state().graph_requests("/v1.0/users");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].param("$top"), Some("3"), "no bigger page than the limit");

    // Two wanted: page one has them, so the nextLink is not followed.
    server.state().requests.clear();
    let config = DirectoryConfig { max_results: 2, ..DirectoryConfig::default() };
    let found = Directory::with_config(graph, &config).search(Instant::now(), "page").await.expect("search");
    assert_eq!(found.len(), 2);
    let sent = server.state().graph_requests("/v1.0/users");
    assert_eq!(sent.len(), 1, "the limit was reached on page one");
    assert_eq!(sent[0].param("$top"), Some("2"));
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused() {
    let (server, _entra, session) = signed_in("origin", mock_keyring()).await;
    let elsewhere = TestServer::start("elsewhere").await;
    let directory = Directory::new(graph_for(&server, &session));
    let base = server.graph();
    let https_same_port = next_link(&base).replacen("http://", "https://", 1);
    for link in [
        next_link(&elsewhere.graph()),
        https_same_port,
        next_link(&"https://graph.microsoft.com/v1.0".parse().expect("url")),
    ] {
        server.state().next_link = Some(link.clone());
        match directory.search(Instant::now(), "page").await {
            Err(Error::Protocol(why)) => {
                assert!(why.contains("nextLink") && why.contains("not followed"), "{link}: {why}");
                assert!(!why.contains("skiptoken"), "only the origin is named: {why}");
            }
            other => panic!("{link}: a nextLink to another origin must be refused: {other:?}"),
        }
    }
    assert!(elsewhere.state().requests.is_empty(), "the bearer token never went to another origin");
    let sent = server.state().graph_requests("/v1.0/users");
    assert_eq!(sent.len(), 3, "only the first page, once per search");
    assert!(sent.iter().all(|r| r.param("$skiptoken").is_none()));
}
