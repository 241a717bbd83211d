//! Graph as the stand-in serves it: `/me`, people search with its rules and
//! paging, presence batches, churn, permissions and injected faults.

use std::time::Duration;

use serde_json::Value;
use warmline_lab::faults::{GraphApi, GraphFault, GraphFaultRule};
use warmline_lab::presence::{Activity, Availability, Presence};
use warmline_lab::{LabEvent, PresenceCause};

use crate::support::{self, graph_get, presences};

const EVENTUAL: (&str, &str) = ("ConsistencyLevel", "eventual");

#[tokio::test]
async fn me_is_the_signed_in_user_with_graphs_default_properties() {
    let lab = support::lab().await;
    let token = support::access(&support::sign_in(&lab, Some("sam.patel@northwind.example.com")).await);
    let r = graph_get(&lab, "/me", &token, &[("client-request-id", "abc-123")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["client-request-id"], "abc-123");
    assert!(r.headers().contains_key("request-id"));
    let me: Value = r.json().await.expect("json");
    assert_eq!(me["displayName"], "Sam Patel");
    assert_eq!(me["userPrincipalName"], "sam.patel@northwind.example.com");
    for field in ["id", "businessPhones", "givenName", "surname", "jobTitle", "mail", "preferredLanguage"] {
        assert!(me.get(field).is_some(), "{field} in {me}");
    }
    let selected: Value = graph_get(&lab, "/me?$select=id,displayName", &token, &[]).await.json().await.expect("json");
    assert!(selected.get("mail").is_none() && selected["id"].is_string(), "{selected}");
}

#[tokio::test]
async fn search_needs_consistency_level_eventual() {
    let lab = support::lab().await;
    let token = support::access(&support::sign_in(&lab, None).await);
    let path = "/users?$search=%22displayName:pri%22";
    let r = graph_get(&lab, path, &token, &[]).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    let found: Value = graph_get(&lab, path, &token, &[EVENTUAL]).await.json().await.expect("json");
    assert_eq!(found["value"][0]["displayName"], "Priya Natarajan");
}

#[tokio::test]
async fn search_pages_with_top_and_next_link_and_projects_select() {
    let lab = support::lab().await;
    let token = support::access(&support::sign_in(&lab, None).await);
    // Everyone whose display name has a word starting with a letter in a..m (most of the tenant).
    let clauses: Vec<String> = "abcdefghijklm".chars().map(|c| format!("\"displayName:{c}\"")).collect();
    let mut url = url::Url::parse(&format!("{}/users", lab.endpoints().graph_base)).expect("url");
    url.query_pairs_mut()
        .append_pair("$search", &clauses.join(" OR "))
        .append_pair("$select", "id,displayName,mail")
        .append_pair("$top", "3")
        .append_pair("$count", "true")
        .append_pair("$orderby", "displayName");
    let mut names = Vec::new();
    let mut next = Some(url.to_string());
    let mut pages = 0;
    let mut total = None;
    while let Some(link) = next {
        let page: Value = support::http()
            .get(&link)
            .bearer_auth(&token)
            .header(EVENTUAL.0, EVENTUAL.1)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        let value = page["value"].as_array().expect("value");
        assert!(value.len() <= 3, "$top is the page size");
        for u in value {
            assert_eq!(u.as_object().map(|o| o.len()), Some(3), "only the $select fields: {u}");
            names.push(u["displayName"].as_str().expect("name").to_string());
        }
        total = page["@odata.count"].as_u64().or(total);
        next = page["@odata.nextLink"].as_str().map(str::to_string);
        if let Some(n) = &next {
            assert!(n.starts_with(&lab.endpoints().graph_base) && n.contains("%24skiptoken="), "{n}");
        }
        pages += 1;
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(total, Some(names.len() as u64), "@odata.count counts every match");
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "$orderby=displayName holds across pages");
    assert!(names.contains(&"Emily Carter".to_string()) && names.contains(&"Jordan Lee".to_string()));
}

#[tokio::test]
async fn bad_queries_get_graphs_400s() {
    let lab = support::lab().await;
    let token = support::access(&support::sign_in(&lab, None).await);
    for (query, code) in [
        ("/users?$top=1000", "Request_BadRequest"),
        ("/users?$select=shoeSize", "Request_BadRequest"),
        ("/users?$search=displayName:pri", "Request_UnsupportedQuery"),
        ("/users?$skiptoken=stale", "Directory_ExpiredPageToken"),
    ] {
        let r = graph_get(&lab, query, &token, &[EVENTUAL]).await;
        assert_eq!(r.status(), 400, "{query}");
        assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], code, "{query}");
    }
    let r = graph_get(&lab, "/nonsense", &token, &[]).await;
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["message"],
        "Resource not found for the segment 'nonsense'."
    );
    let r = graph_get(&lab, "/users/nobody@northwind.example.com", &token, &[]).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn presence_batches_carry_one_to_650_ids_and_unknown_ids_are_presence_unknown() {
    let lab = support::lab().await;
    let token = support::access(&support::sign_in(&lab, None).await);
    let experts = lab.control().experts();
    let known: Vec<String> = experts.iter().map(|e| e.id.clone()).collect();
    let r = presences(&lab, &token, &known).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let value = body["value"].as_array().expect("value");
    assert_eq!(value.len(), known.len());
    for (p, e) in value.iter().zip(&experts) {
        assert_eq!(p["id"], e.id.as_str());
        assert_eq!(p["availability"], e.presence.availability.as_str());
        assert_eq!(p["activity"], e.presence.activity.as_str());
    }
    let made_up: Vec<String> = (0..650).map(|i| format!("00000000-0000-4000-8000-{i:012x}")).collect();
    let all: Value = presences(&lab, &token, &made_up).await.json().await.expect("json");
    assert_eq!(all["value"].as_array().map(Vec::len), Some(650));
    assert_eq!(all["value"][0]["availability"], "PresenceUnknown");
    let mut too_many = made_up.clone();
    too_many.push(known[0].clone());
    for ids in [Vec::new(), too_many, vec!["not-a-guid".to_string()]] {
        let r = presences(&lab, &token, &ids).await;
        assert_eq!(r.status(), 400, "{} ids", ids.len());
        assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], "BadRequest");
    }
}

#[tokio::test]
async fn presence_set_by_command_shows_in_graph_and_holds_against_the_schedule() {
    let lab = support::lab().await;
    let control = lab.control();
    let token = support::access(&support::sign_in(&lab, None).await);
    let mut events = control.subscribe();
    let busy = Presence { availability: Availability::DoNotDisturb, activity: Activity::Presenting };
    let priya = control.set_presence("Priya Natarajan", busy).expect("set");
    assert!(priya.pinned);
    match events.try_recv().expect("an event") {
        LabEvent::Presence { expert, availability, cause, .. } => {
            assert_eq!(
                (expert.as_str(), availability, cause),
                (priya.upn.as_str(), Availability::DoNotDisturb, PresenceCause::Command)
            );
        }
        other => panic!("{other:?}"),
    }
    let one: Value =
        graph_get(&lab, &format!("/users/{}/presence", priya.id), &token, &[]).await.json().await.expect("json");
    assert_eq!((one["availability"].as_str(), one["activity"].as_str()), (Some("DoNotDisturb"), Some("Presenting")));

    // Two hours of the seeded schedule: others change, Priya stays put.
    let before: Vec<Presence> = control.experts().iter().map(|e| e.presence).collect();
    control.advance(Duration::from_secs(7200)).expect("manual clock");
    let after = control.experts();
    assert_eq!(after[0].presence, busy);
    let churning: Vec<usize> = after.iter().filter(|e| e.churn && e.index != 0).map(|e| e.index).collect();
    assert!(churning.iter().any(|i| after[*i].presence != before[*i]), "the schedule moved someone");
    let still = after.iter().find(|e| !e.churn).expect("an expert without churn");
    assert_eq!(still.presence, before[still.index], "{} does not churn", still.name);
    // Two hours outlive the access token; sign in again.
    let token = support::access(&support::sign_in(&lab, None).await);
    let batch: Value = presences(&lab, &token, &[after[1].id.clone()]).await.json().await.expect("json");
    assert_eq!(batch["value"][0]["availability"], after[1].presence.availability.as_str(), "Graph shows the schedule");

    control.resume_churn("Priya Natarajan").expect("resume");
    control.advance(Duration::from_secs(7200)).expect("manual clock");
    assert!(!control.expert("priya.natarajan@northwind.example.com").expect("by upn").pinned);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_presence_day_in_two_labs() {
    let (a, b) = (support::lab().await, support::lab().await);
    for lab in [&a, &b] {
        lab.control().advance(Duration::from_secs(3 * 3600)).expect("manual clock");
    }
    let presence =
        |lab: &warmline_lab::Lab| lab.control().experts().into_iter().map(|e| e.presence).collect::<Vec<_>>();
    assert_eq!(presence(&a), presence(&b));
}

#[tokio::test]
async fn an_expert_on_a_call_is_busy_in_a_call_and_back_afterwards() {
    let lab = support::lab().await;
    let control = lab.control();
    let before = control.expert("Grace Thompson").expect("grace").presence;
    assert_eq!(control.set_on_call("Grace Thompson", true).expect("on").presence, Presence::IN_A_CALL);
    control.advance(Duration::from_secs(3600)).expect("manual clock");
    assert_eq!(control.expert("Grace Thompson").expect("grace").presence, Presence::IN_A_CALL, "held during the call");
    let after = control.set_on_call("Grace Thompson", false).expect("off");
    assert_eq!((after.presence, after.pinned), (before, false));
}

#[tokio::test]
async fn injected_faults_have_graphs_shapes_and_run_out() {
    let lab = support::lab().await;
    let control = lab.control();
    let token = support::access(&support::sign_in(&lab, None).await);
    let ids = vec![control.experts()[0].id.clone()];
    control.inject_graph_fault(GraphFaultRule {
        fault: GraphFault::Throttle { retry_after: 10.0 },
        times: Some(2),
        api: Some(GraphApi::Presence),
    });
    assert_eq!(graph_get(&lab, "/me", &token, &[]).await.status(), 200, "only presence calls are throttled");
    for _ in 0..2 {
        let r = presences(&lab, &token, &ids).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "10");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "TooManyRequests");
        assert_eq!(body["error"]["innerError"]["status"], "429");
    }
    assert_eq!(presences(&lab, &token, &ids).await.status(), 200, "two times, then done");

    control.inject_graph_fault(GraphFaultRule::once(GraphFault::ExpiredToken));
    let r = graph_get(&lab, "/me", &token, &[]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(graph_get(&lab, "/me", &token, &[]).await.status(), 200, "the token itself is still good");

    control.inject_graph_fault(GraphFaultRule {
        fault: GraphFault::Unavailable { retry_after: 1.5 },
        times: None,
        api: None,
    });
    for _ in 0..3 {
        let r = graph_get(&lab, "/me", &token, &[]).await;
        assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().ok()), (503, Some("1.5")));
    }
    control.clear_graph_faults();
    assert_eq!(graph_get(&lab, "/me", &token, &[]).await.status(), 200);
}

#[tokio::test]
async fn a_permission_without_consent_is_403_for_the_calls_that_need_it() {
    let lab = support::lab().await;
    let control = lab.control();
    let token = support::access(&support::sign_in(&lab, None).await);
    let ids = vec![control.experts()[0].id.clone()];
    control.revoke_permission("presence.read.all").expect("a known permission");
    let r = presences(&lab, &token, &ids).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    assert_eq!(graph_get(&lab, "/me", &token, &[]).await.status(), 200, "other permissions still hold");
    let fresh = support::sign_in(&lab, None).await;
    assert!(!fresh["scope"].as_str().unwrap_or_default().contains("Presence.Read.All"), "left out of new tokens");
    control.grant_permission("Presence.Read.All").expect("grant");
    assert_eq!(presences(&lab, &token, &ids).await.status(), 200);
    assert!(control.revoke_permission("Mail.Send").is_err());
}

#[tokio::test]
async fn graph_refuses_missing_and_made_up_tokens() {
    let lab = support::lab().await;
    let r = support::http().get(format!("{}/me", lab.endpoints().graph_base)).send().await.expect("request");
    assert_eq!(r.status(), 401);
    for token in ["not-a-token", "eyJhbGciOiJub25lIn0.eyJ9.", ""] {
        let r = graph_get(&lab, "/me", token, &[]).await;
        assert_eq!(r.status(), 401, "{token:?}");
        assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], "InvalidAuthenticationToken");
    }
}
