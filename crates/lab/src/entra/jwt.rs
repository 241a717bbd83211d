//! Tokens shaped like Entra's JWTs but unsigned (`"alg": "none"`): a client
//! that peeks at the claims sees the usual ones, and nothing can mistake
//! them for real tokens. The lab checks them by lookup, not by signature.
//! A random `uti` claim makes each one unguessable.

use serde_json::{Value, json};

use super::grants::Grant;
use crate::directory::User;
use crate::ids;
use crate::scenario::Tenant;

/// Graph's application id, the `aud` of Graph access tokens.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

fn unsigned(claims: &Value) -> String {
    let header = ids::b64url(br#"{"typ":"JWT","alg":"none"}"#);
    let payload = ids::b64url(claims.to_string().as_bytes());
    format!("{header}.{payload}.")
}

/// A v1-style Graph access token for `user`.
pub(crate) fn access_token(tenant: &Tenant, user: &User, grant: &Grant, now_ms: u64, lifetime_secs: u64) -> String {
    let iat = now_ms / 1000;
    let scp: Vec<&str> =
        grant.scopes.iter().map(String::as_str).filter(|s| !super::scopes::OIDC_SCOPES.contains(s)).collect();
    unsigned(&json!({
        "aud": GRAPH_APP_ID,
        "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime_secs,
        "appid": grant.client_id,
        "name": user.display_name,
        "oid": user.id,
        "scp": scp.join(" "),
        "tid": tenant.id,
        "upn": user.upn,
        "unique_name": user.upn,
        "uti": ids::token(16),
        "ver": "1.0",
    }))
}

/// A v2 ID token for the app.
pub(crate) fn id_token(
    issuer: &str,
    tenant: &Tenant,
    user: &User,
    client_id: &str,
    nonce: Option<&str>,
    now_ms: u64,
) -> String {
    let iat = now_ms / 1000;
    let mut claims = json!({
        "aud": client_id,
        "iss": issuer,
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3600,
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.upn,
        "sub": ids::b64url(format!("{}:{}", user.id, client_id).as_bytes()),
        "tid": tenant.id,
        "ver": "2.0",
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    unsigned(&claims)
}
