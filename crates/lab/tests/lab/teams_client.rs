//! Warmline's own Graph client (crates/teams) against the lab: what the
//! agent will do, end to end over HTTP.

use std::sync::Arc;
use std::time::Instant;

use warmline_lab::presence::{Activity, Availability, Presence};
use warmline_secrets::Secret;
use warmline_teams::presence::PresenceApi;
use warmline_teams::{AccessTokens, BoxFuture, Directory, DirectoryConfig, Error, Graph, Http};

use crate::support;
use crate::teams_conformance::teams_config;

/// A token from the lab's sign-in, handed to the client as is.
#[derive(Debug)]
struct Fixed(Secret);

impl AccessTokens for Fixed {
    fn access_token(&self, _now: Instant) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn reject<'a>(&'a self, _token: &'a Secret) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

async fn graph(lab: &warmline_lab::Lab) -> Graph {
    let config = teams_config(lab);
    let token = support::access(&support::sign_in(lab, None).await);
    Graph::new(Http::new(&config).expect("client"), config.graph.clone(), Arc::new(Fixed(Secret::from(token.as_str()))))
}

#[tokio::test]
async fn the_teams_client_searches_the_lab_across_pages_and_reads_presence() {
    let lab = support::lab().await;
    let graph = graph(&lab).await;
    let now = Instant::now();
    let me = graph.me(now).await.expect("/me");
    assert_eq!(me.user_principal_name, "jordan.lee@northwind.example.com");

    // Two people a page, so the client must follow @odata.nextLink on the lab's origin.
    let directory = Directory::with_config(graph.clone(), &DirectoryConfig { page_size: 2, max_results: 100 });
    let found = directory.search(now, "northwind").await.expect("search by mail");
    assert_eq!(found.len(), 11, "every agent and expert has a northwind.example.com address");
    let grace = directory.search(now, "grace").await.expect("search").pop().expect("Grace");
    assert_eq!(grace.business_phones, ["+442079460103"]);
    assert_eq!(grace.department.as_deref(), Some("Customer Operations"));

    let control = lab.control();
    control
        .set_presence("Grace Thompson", Presence { availability: Availability::Busy, activity: Activity::InAMeeting })
        .expect("set");
    let ids: Vec<String> = control.experts().into_iter().map(|e| e.id).collect();
    let seen = PresenceApi::new(graph).all(now, &ids).await.expect("presence");
    let grace_now = seen.iter().find(|p| Some(&p.id) == grace.id.as_ref()).expect("Grace's presence");
    assert_eq!((grace_now.availability.as_str(), grace_now.activity.as_str()), ("Busy", "InAMeeting"));
}

#[tokio::test]
async fn the_teams_client_reports_a_missing_permission_and_throttling_as_such() {
    let lab = support::lab().await;
    let graph = graph(&lab).await;
    let control = lab.control();
    let ids: Vec<String> = control.experts().into_iter().map(|e| e.id).collect();
    control.revoke_permission("Presence.Read.All").expect("revoke");
    let e = PresenceApi::new(graph.clone()).batch(Instant::now(), &ids).await.expect_err("403");
    assert_eq!(e.code(), "teams.permission_missing", "{e}");
    control.grant_permission("Presence.Read.All").expect("grant");
    control.inject_graph_fault(warmline_lab::faults::GraphFaultRule::once(
        warmline_lab::faults::GraphFault::Throttle { retry_after: 2.128 },
    ));
    match PresenceApi::new(graph).batch(Instant::now(), &ids).await {
        Err(Error::Throttled { retry_after }) => {
            assert_eq!(retry_after, Some(std::time::Duration::from_millis(2128)));
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}
