//! Sign-in against the Entra stand-in: the consent page, PKCE, refresh
//! rotation, device codes, expiry and Entra's error shapes.

use std::time::Duration;

use serde_json::Value;
use warmline_lab::faults::{TokenFault, TokenFaultRule};
use warmline_lab::scenario::ConsentMode;
use warmline_lab::{Clock, LabEvent, SignInFlow};

use crate::support::{self, START_MS, VERIFIER, http, oauth};

/// The value of `name="..." value="..."` attributes in a page, in order.
fn values_of(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find('"').expect("closing quote")].to_string()
        })
        .collect()
}

fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + "action=\"".len();
    html[start..start + html[start..].find('"').expect("quote")].to_string()
}

#[tokio::test]
async fn the_consent_page_signs_in_the_person_picked_and_redirects_with_code_and_state() {
    let lab = support::lab_with(ConsentMode::Page, Clock::manual(START_MS)).await;
    let hint = "sam.patel@northwind.example.com";
    let query = support::authorize_query(&lab, "state-42", &[("login_hint", hint)]);
    let page = http().get(oauth(&lab, "authorize")).query(&query).send().await.expect("authorize");
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    let html = page.text().await.expect("html");
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(html.contains("Presence.Read.All"), "the page lists the permissions asked for");
    assert!(html.contains("(suggested)"), "the login hint is marked");
    let request = values_of(&html, "request").pop().expect("the pending request id");
    let people = values_of(&html, "user");
    assert!(people.contains(&hint.to_string()), "{people:?}");

    let mut events = lab.control().subscribe();
    let action = format!("{}{}", lab.endpoints().entra_authority, form_action(&html).trim_start_matches('/'));
    let form = [("request", request.as_str()), ("user", hint)];
    let back = http().post(&action).form(&form).send().await.expect("consent");
    assert_eq!(back.status(), 302);
    let params = support::redirect_params(&back);
    assert_eq!(params.get("state").map(String::as_str), Some("state-42"));
    let tokens: Value = support::redeem(&lab, &params["code"], VERIFIER).await.json().await.expect("json");
    let me = support::graph_get(&lab, "/me", &support::access(&tokens), &[]).await;
    assert_eq!(me.json::<Value>().await.expect("json")["userPrincipalName"], hint);
    assert_eq!(
        events.try_recv().expect("a sign-in event"),
        LabEvent::SignedIn { upn: hint.into(), flow: SignInFlow::AuthorizationCode }
    );

    let replay = http().post(&action).form(&form).send().await.expect("again");
    assert_eq!(replay.status(), 400, "a consent form works once");
}

#[tokio::test]
async fn cancelling_on_the_consent_page_returns_access_denied_to_the_app() {
    let lab = support::lab_with(ConsentMode::Page, Clock::manual(START_MS)).await;
    let query = support::authorize_query(&lab, "s1", &[]);
    let html =
        http().get(oauth(&lab, "authorize")).query(&query).send().await.expect("page").text().await.expect("html");
    let request = values_of(&html, "request").pop().expect("request id");
    let action = format!("{}{}", lab.endpoints().entra_authority, form_action(&html).trim_start_matches('/'));
    let back =
        http().post(&action).form(&[("request", request.as_str()), ("cancel", "1")]).send().await.expect("cancel");
    let params = support::redirect_params(&back);
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].starts_with("AADSTS65004: "), "{}", params["error_description"]);
    assert_eq!(params["state"], "s1");
}

#[tokio::test]
async fn authorize_refuses_what_entra_refuses() {
    let lab = support::lab().await;
    // Before the app is known good, errors are shown, never redirected.
    for (extra, code) in [
        (("client_id", "11111111-1111-4111-8111-111111111111"), "AADSTS700016"),
        (("redirect_uri", "https://evil.example.com/cb"), "AADSTS50011"),
    ] {
        let query = support::authorize_query(&lab, "s", &[extra]);
        let r = http().get(oauth(&lab, "authorize")).query(&query).send().await.expect("authorize");
        assert_eq!(r.status(), 400, "{extra:?}");
        assert!(r.text().await.expect("html").contains(code), "{extra:?} shows {code}");
    }
    // After, they go back to the app with the state.
    for (extra, error) in [
        (("scope", "User.Read https://foo.microsoft.com/mail.read"), "invalid_scope"),
        (("code_challenge", ""), "invalid_request"),
        (("response_type", "token"), "unsupported_response_type"),
    ] {
        let query = support::authorize_query(&lab, "s", &[extra]);
        let r = http().get(oauth(&lab, "authorize")).query(&query).send().await.expect("authorize");
        assert_eq!(r.status(), 302, "{extra:?}");
        let params = support::redirect_params(&r);
        assert_eq!((params["error"].as_str(), params["state"].as_str()), (error, "s"), "{extra:?}");
    }
    let other_tenant = oauth(&lab, "authorize").replace("northwind.example.com", "fabrikam.example.com");
    let r = http().get(other_tenant).query(&support::authorize_query(&lab, "s", &[])).send().await.expect("authorize");
    assert!(r.text().await.expect("html").contains("AADSTS90002"), "unknown tenant");
}

#[tokio::test]
async fn token_errors_have_entras_json_shape() {
    let lab = support::lab().await;
    let client_id = lab.endpoints().entra_client_id.clone();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("grant_type", "authorization_code"), ("code", "made-up")], "invalid_grant"),
        (&[("grant_type", "password")], "unsupported_grant_type"),
        (&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_secret", "s")], "invalid_client"),
        (&[("code", "x")], "invalid_request"),
    ];
    for (form, error) in cases {
        let mut form = form.to_vec();
        form.push(("client_id", client_id.as_str()));
        let r = http().post(oauth(&lab, "token")).form(&form).send().await.expect("token");
        assert!(r.status().is_client_error(), "{form:?}");
        assert_eq!(r.headers()["cache-control"], "no-store, no-cache");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], error, "{form:?}: {body}");
        let description = body["error_description"].as_str().expect("description");
        assert!(description.starts_with("AADSTS") && description.contains("\r\nTrace ID: "), "{description}");
        assert!(body["error_codes"][0].is_u64() && body["trace_id"].is_string() && body["correlation_id"].is_string());
    }
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_successor_works() {
    let lab = support::lab().await;
    let first = support::sign_in(&lab, None).await;
    let refresh = |token: String| {
        let client_id = lab.endpoints().entra_client_id.clone();
        let url = oauth(&lab, "token");
        async move {
            let form = [("client_id", client_id), ("grant_type", "refresh_token".into()), ("refresh_token", token)];
            http().post(url).form(&form).send().await.expect("refresh")
        }
    };
    let r1 = refresh(first["refresh_token"].as_str().expect("rt").into()).await;
    assert_eq!(r1.status(), 200);
    let second: Value = r1.json().await.expect("json");
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    let reuse = refresh(first["refresh_token"].as_str().expect("rt").into()).await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(reuse.json::<Value>().await.expect("json")["error"], "invalid_grant");
    assert_eq!(refresh(second["refresh_token"].as_str().expect("rt").into()).await.status(), 200);

    // Revoked sign-ins must sign in again.
    let third = support::sign_in(&lab, None).await;
    assert_eq!(lab.control().revoke_sign_ins(Some("jordan.lee@northwind.example.com")).expect("revoke"), 2);
    let revoked = refresh(third["refresh_token"].as_str().expect("rt").into()).await;
    let body: Value = revoked.json().await.expect("json");
    assert!(body["error_description"].as_str().unwrap_or_default().starts_with("AADSTS50173"), "{body}");
}

#[tokio::test]
async fn the_device_code_is_pending_until_approved_through_the_lab() {
    let lab = support::lab().await;
    let mut events = lab.control().subscribe();
    let client_id = lab.endpoints().entra_client_id.clone();
    let form = [("client_id", client_id.as_str()), ("scope", support::SCOPES)];
    let issued: Value = http()
        .post(oauth(&lab, "devicecode"))
        .form(&form)
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("json");
    assert_eq!(issued["expires_in"], 900);
    assert_eq!(issued["interval"], 5);
    let user_code = issued["user_code"].as_str().expect("user_code");
    assert!(issued["message"].as_str().expect("message").contains(user_code));
    assert!(issued["verification_uri"].as_str().expect("uri").starts_with(&lab.endpoints().entra_authority));
    match events.try_recv().expect("an event") {
        LabEvent::DeviceCode { user_code: c, .. } => assert_eq!(c, user_code),
        other => panic!("expected a device code event, got {other:?}"),
    }

    let poll = || {
        let form = [
            ("client_id", client_id.clone()),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code".to_string()),
            ("device_code", issued["device_code"].as_str().expect("device_code").to_string()),
        ];
        http().post(oauth(&lab, "token")).form(&form).send()
    };
    let pending: Value = poll().await.expect("poll").json().await.expect("json");
    assert_eq!(pending["error"], "authorization_pending");
    assert_eq!(pending["error_codes"][0], 70016);
    assert_eq!(lab.control().pending_device_codes(), [user_code]);

    lab.control().approve_device_code(user_code, Some("morgan.clarke@northwind.example.com")).expect("approve");
    let tokens: Value = poll().await.expect("poll").json().await.expect("json");
    let me: Value = support::graph_get(&lab, "/me", &support::access(&tokens), &[]).await.json().await.expect("json");
    assert_eq!(me["displayName"], "Morgan Clarke");
    let again: Value = poll().await.expect("poll").json().await.expect("json");
    assert_eq!(again["error"], "invalid_grant", "a device code is redeemed once");
    assert!(lab.control().approve_device_code("NOSUCHCOD", None).is_err());
}

#[tokio::test]
async fn a_device_code_expires_after_fifteen_minutes() {
    let lab = support::lab().await;
    let client_id = lab.endpoints().entra_client_id.clone();
    let form = [("client_id", client_id.as_str()), ("scope", "User.Read")];
    let issued: Value =
        http().post(oauth(&lab, "devicecode")).form(&form).send().await.expect("dc").json().await.expect("json");
    lab.control().advance(Duration::from_secs(900)).expect("manual clock");
    let poll = [
        ("client_id", client_id.as_str()),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", issued["device_code"].as_str().expect("code")),
    ];
    let body: Value =
        http().post(oauth(&lab, "token")).form(&poll).send().await.expect("poll").json().await.expect("json");
    assert_eq!(body["error"], "expired_token");
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime_and_graph_says_so() {
    let lab = support::lab().await;
    let tokens = support::sign_in(&lab, None).await;
    assert_eq!(tokens["expires_in"], 3599);
    let token = support::access(&tokens);
    assert_eq!(support::graph_get(&lab, "/me", &token, &[]).await.status(), 200);
    lab.control().advance(Duration::from_secs(3599)).expect("manual clock");
    let r = support::graph_get(&lab, "/me", &token, &[]).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("expired"), "{body}");
}

#[tokio::test]
async fn token_endpoint_faults_look_like_entra_outages_and_mfa_prompts() {
    let lab = support::lab().await;
    let tokens = support::sign_in(&lab, None).await;
    let control = lab.control();
    control.inject_token_fault(TokenFaultRule { fault: TokenFault::Unavailable, times: Some(1) });
    control.inject_token_fault(TokenFaultRule { fault: TokenFault::InteractionRequired, times: Some(1) });
    let form = [
        ("client_id", lab.endpoints().entra_client_id.clone()),
        ("grant_type", "refresh_token".into()),
        ("refresh_token", tokens["refresh_token"].as_str().expect("rt").to_string()),
    ];
    let down = http().post(oauth(&lab, "token")).form(&form).send().await.expect("token");
    assert_eq!(down.status(), 503);
    assert!(down.headers().contains_key("retry-after"));
    assert_eq!(down.json::<Value>().await.expect("json")["error"], "temporarily_unavailable");
    let mfa: Value =
        http().post(oauth(&lab, "token")).form(&form).send().await.expect("token").json().await.expect("json");
    assert_eq!((mfa["error"].as_str(), mfa["suberror"].as_str()), (Some("interaction_required"), Some("basic_action")));
    let ok = http().post(oauth(&lab, "token")).form(&form).send().await.expect("token");
    assert_eq!(ok.status(), 200, "faults spent, the refresh token still works (faults do not spend it)");
}

#[tokio::test]
async fn openid_discovery_points_at_the_stand_in() {
    let lab = support::lab().await;
    let e = lab.endpoints();
    let url = format!("{}{}/v2.0/.well-known/openid-configuration", e.entra_authority, e.entra_tenant);
    let doc: Value = http().get(url).send().await.expect("discovery").json().await.expect("json");
    assert_eq!(doc["token_endpoint"], oauth(&lab, "token"));
    assert_eq!(doc["device_authorization_endpoint"], oauth(&lab, "devicecode"));
}
