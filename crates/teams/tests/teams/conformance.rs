//! The conformance suite and the test server check each other: the server
//! passes, and a server with a known bug fails the right check.

use warmline_teams::conformance::{self, Target, Verdict};

use crate::server::{ME_ID, TestServer};

fn target(server: &TestServer) -> Target {
    Target { config: server.config(), user_ids: vec![ME_ID.into()], search: "wa".into() }
}

#[tokio::test]
async fn the_test_server_meets_the_contract() {
    let server = TestServer::start("conformance").await;
    let report = conformance::run(&target(&server), Some(&server)).await.expect("suite runs");
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() >= 14, "{report}");
    assert!(report.checks.iter().all(|(_, v)| *v == Verdict::Pass), "nothing skipped with faults: {report}");
}

#[tokio::test]
async fn a_search_that_ignores_consistency_level_fails_the_suite() {
    let server = TestServer::start("lenient").await;
    server.state().lenient_search = true;
    let report = conformance::run(&target(&server), None).await.expect("suite runs");
    assert!(!report.passed());
    assert!(matches!(report.verdict("graph.users_search_needs_consistency_level"), Some(Verdict::Fail(_))), "{report}");
    assert!(matches!(report.verdict("graph.throttled_shape"), Some(Verdict::Skipped(_))), "{report}");
}
