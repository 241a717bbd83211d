//! Starting labs and signing in to them.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;
use sha2::Digest;
use warmline_lab::scenario::ConsentMode;
use warmline_lab::{Clock, Lab, LabOptions, Scenario};

/// Where manual clocks start: 2025-06-15T15:06:40Z.
pub const START_MS: u64 = 1_750_000_000_000;

pub const VERIFIER: &str = "lab-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const SCOPES: &str = "User.Read Presence.Read.All User.ReadBasic.All offline_access";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The default scenario, signing in without a consent page, on a manual clock.
pub async fn lab() -> Lab {
    lab_with(ConsentMode::Auto, Clock::manual(START_MS)).await
}

pub async fn lab_with(consent: ConsentMode, clock: Clock) -> Lab {
    let options = LabOptions { clock, consent: Some(consent), ..LabOptions::default() };
    Lab::start_with(Scenario::default_scenario(), options).await.expect("the lab starts")
}

/// A client that, like an OAuth client must, does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

pub fn oauth(lab: &Lab, endpoint: &str) -> String {
    let e = lab.endpoints();
    format!("{}{}/oauth2/v2.0/{endpoint}", e.entra_authority, e.entra_tenant)
}

pub fn authorize_query<'a>(lab: &'a Lab, state: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut q = vec![
        ("client_id", lab.endpoints().entra_client_id.clone()),
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("response_mode", "query".into()),
        ("scope", SCOPES.into()),
        ("state", state.into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ];
    for (k, v) in extra {
        q.retain(|(key, _)| key != k);
        q.push((k, (*v).to_string()));
    }
    q
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).expect("a Location header");
    let url = url::Url::parse(location).expect("Location is a URL");
    assert!(url.as_str().starts_with(REDIRECT), "redirects to the app: {url}");
    url.query_pairs().into_owned().collect()
}

pub async fn redeem(lab: &Lab, code: &str, verifier: &str) -> reqwest::Response {
    let client_id = lab.endpoints().entra_client_id.clone();
    let form = [
        ("client_id", client_id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    http().post(oauth(lab, "token")).form(&form).send().await.expect("token request")
}

/// Signs in (the lab must be in auto consent) and returns the token response.
pub async fn sign_in(lab: &Lab, login_hint: Option<&str>) -> Value {
    let extra: Vec<(&str, &str)> = login_hint.map(|h| ("login_hint", h)).into_iter().collect();
    let query = authorize_query(lab, "st", &extra);
    let response = http().get(oauth(lab, "authorize")).query(&query).send().await.expect("authorize");
    assert_eq!(response.status(), 302, "auto consent redirects at once");
    let code = redirect_params(&response).remove("code").expect("a code");
    let tokens = redeem(lab, &code, VERIFIER).await;
    assert_eq!(tokens.status(), 200);
    tokens.json().await.expect("JSON")
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().expect("access_token").to_string()
}

/// GET on Graph with a bearer token and optional headers.
pub async fn graph_get(lab: &Lab, path_and_query: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = http().get(format!("{}{path_and_query}", lab.endpoints().graph_base)).bearer_auth(token);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("graph request")
}

pub async fn presences(lab: &Lab, token: &str, ids: &[String]) -> reqwest::Response {
    http()
        .post(format!("{}/communications/getPresencesByUserId", lab.endpoints().graph_base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .await
        .expect("presence request")
}
