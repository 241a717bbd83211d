//! What Entra remembers between requests: authorization codes, access and
//! refresh tokens, device codes, consent pages waiting for a click. Plain
//! data with the time passed in; the HTTP handlers hold the lock.

use std::collections::HashMap;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::AadError;
use crate::ids;

/// Who a token is for, which app, which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Index in the directory.
    pub user: usize,
    pub client_id: String,
    /// Canonical scopes, Graph permissions and OpenID ones.
    pub scopes: Vec<String>,
}

/// How the PKCE challenge was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkceMethod {
    S256,
    Plain,
}

#[derive(Debug, Clone)]
struct Code {
    grant: Grant,
    redirect_uri: String,
    challenge: String,
    method: PkceMethod,
    nonce: Option<String>,
    expires_at: u64,
    redeemed: bool,
}

/// A live access token.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    pub grant: Grant,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Live,
    /// Used once; Entra rotates refresh tokens and the lab refuses a second use.
    Spent,
    /// Revoked by a command (a password reset, an admin's "revoke sessions").
    Revoked,
}

#[derive(Debug, Clone)]
struct Refresh {
    grant: Grant,
    last_used: u64,
    state: RefreshState,
}

/// Where a device code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceState {
    Pending,
    Approved(usize),
    Denied,
    Redeemed,
}

/// A device authorization.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: u64,
    pub state: DeviceState,
}

/// What the token endpoint hands out.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

/// A validated `/authorize` request waiting on the consent page.
#[derive(Debug, Clone)]
pub(crate) struct PendingAuthorize {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub challenge: String,
    pub method: PkceMethod,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    pub expires_at: u64,
}

/// Authorization codes live ten minutes, as Entra's do.
pub(crate) const CODE_LIFETIME_MS: u64 = 600_000;

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessRefused {
    Missing,
    Unknown,
    Expired,
}

/// All of the token state.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    devices: Vec<Device>,
    pending: HashMap<String, PendingAuthorize>,
}

impl Grants {
    pub(crate) fn issue_code(&mut self, request: &PendingAuthorize, user: usize, now: u64) -> String {
        let code = format!("0.AXoA{}", ids::token(48));
        self.codes.retain(|_, c| c.expires_at + CODE_LIFETIME_MS > now);
        self.codes.insert(
            code.clone(),
            Code {
                grant: Grant { user, client_id: request.client_id.clone(), scopes: request.scopes.clone() },
                redirect_uri: request.redirect_uri.clone(),
                challenge: request.challenge.clone(),
                method: request.method,
                nonce: request.nonce.clone(),
                expires_at: now + CODE_LIFETIME_MS,
                redeemed: false,
            },
        );
        code
    }

    /// Redeems a code once, checking the client, the redirect URI and the
    /// PKCE verifier. A failed verifier spends the code, as a guessed
    /// verifier must not get another try.
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        now: u64,
    ) -> Result<(Grant, Option<String>), AadError> {
        let Some(c) = self.codes.get_mut(code) else {
            return Err(AadError::new(
                "invalid_grant",
                9_002_313,
                "Invalid request. Request is malformed or invalid. The authorization code is not one the lab issued.",
            ));
        };
        if c.redeemed {
            return Err(AadError::new(
                "invalid_grant",
                54_005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an \
                 existing refresh token.",
            ));
        }
        if now >= c.expires_at {
            return Err(AadError::new(
                "invalid_grant",
                70_008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new \
                 interactive authorization request for this user and resource.",
            ));
        }
        if c.grant.client_id != client_id {
            return Err(AadError::new(
                "invalid_grant",
                70_000,
                "The provided value for the 'code' parameter is not valid. The code was issued to another client.",
            ));
        }
        if redirect_uri != Some(c.redirect_uri.as_str()) {
            return Err(AadError::new(
                "invalid_grant",
                500_112,
                "The reply address does not match the reply address provided when requesting the authorization code.",
            ));
        }
        let Some(verifier) = verifier else {
            return Err(AadError::missing("code_verifier"));
        };
        c.redeemed = true;
        let computed = match c.method {
            PkceMethod::S256 => {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
            }
            PkceMethod::Plain => verifier.to_string(),
        };
        if computed != c.challenge {
            return Err(AadError::new(
                "invalid_grant",
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
        Ok((c.grant.clone(), c.nonce.clone()))
    }

    /// An access token (unsigned JWT-shaped, see `entra::jwt`) and, with
    /// `offline_access`, a refresh token.
    pub(crate) fn issue(&mut self, grant: Grant, access_token: String, now: u64, lifetime_secs: u64) -> Issued {
        let refresh_token = grant.scopes.iter().any(|s| s == "offline_access").then(|| {
            let token = format!("1.AXoA{}", ids::token(64));
            self.refresh
                .insert(token.clone(), Refresh { grant: grant.clone(), last_used: now, state: RefreshState::Live });
            token
        });
        self.access.retain(|_, a| a.expires_at + 86_400_000 > now);
        self.access.insert(access_token.clone(), Access { grant, expires_at: now + lifetime_secs * 1000 });
        Issued { access_token, refresh_token, expires_in: lifetime_secs }
    }

    /// Spends a refresh token and returns its grant (narrowed to `scopes`
    /// when the request names some).
    pub(crate) fn use_refresh(
        &mut self,
        token: &str,
        client_id: &str,
        scopes: Option<&[String]>,
        now: u64,
        inactive_ms: u64,
    ) -> Result<Grant, AadError> {
        let Some(r) = self.refresh.get_mut(token) else {
            return Err(AadError::new(
                "invalid_grant",
                9_002_313,
                "Invalid request. Request is malformed or invalid. The refresh token is not one the lab issued.",
            ));
        };
        match r.state {
            RefreshState::Spent => {
                return Err(AadError::new(
                    "invalid_grant",
                    70_000,
                    "The provided value for the 'refresh_token' is not valid: it was already redeemed. Refresh \
                     tokens are rotated; use the one from the last response.",
                ));
            }
            RefreshState::Revoked => {
                return Err(AadError::new(
                    "invalid_grant",
                    50_173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user \
                     might have changed or reset their password.",
                ));
            }
            RefreshState::Live => {}
        }
        if now.saturating_sub(r.last_used) > inactive_ms {
            r.state = RefreshState::Revoked;
            return Err(AadError::new(
                "invalid_grant",
                700_082,
                "The refresh token has expired due to inactivity. The token was issued and was inactive for longer \
                 than the configured period.",
            ));
        }
        if r.grant.client_id != client_id {
            return Err(AadError::new(
                "invalid_grant",
                70_000,
                "The provided value for the 'refresh_token' is not valid: it was issued to another client.",
            ));
        }
        let mut grant = r.grant.clone();
        if let Some(asked) = scopes {
            if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                return Err(AadError::new(
                    "invalid_grant",
                    65_001,
                    format!(
                        "The user or administrator has not consented to use the application with ID '{client_id}'. \
                         The refresh token does not cover {extra}; send an interactive authorization request."
                    ),
                ));
            }
            // offline_access stays so the rotated token keeps working.
            grant.scopes.retain(|s| asked.contains(s) || s == "offline_access");
        }
        r.state = RefreshState::Spent;
        Ok(grant)
    }

    pub(crate) fn access(&self, token: Option<&str>, now: u64) -> Result<&Access, AccessRefused> {
        let token = token.filter(|t| !t.is_empty()).ok_or(AccessRefused::Missing)?;
        let access = self.access.get(token).ok_or(AccessRefused::Unknown)?;
        if now >= access.expires_at { Err(AccessRefused::Expired) } else { Ok(access) }
    }

    /// Every access token issued so far expires now.
    pub(crate) fn expire_access(&mut self, now: u64) {
        self.access.values_mut().for_each(|a| a.expires_at = a.expires_at.min(now));
    }

    /// Revokes the refresh tokens of `user` (everyone's with `None`).
    pub(crate) fn revoke_refresh(&mut self, user: Option<usize>) -> usize {
        let mut n = 0;
        for r in self.refresh.values_mut().filter(|r| user.is_none_or(|u| r.grant.user == u)) {
            if r.state == RefreshState::Live {
                r.state = RefreshState::Revoked;
                n += 1;
            }
        }
        n
    }

    pub(crate) fn add_device(&mut self, client_id: &str, scopes: Vec<String>, now: u64, lifetime_ms: u64) -> Device {
        self.devices.retain(|d| d.expires_at + CODE_LIFETIME_MS > now);
        let device = Device {
            device_code: format!("DAQABAAEAAAD{}", ids::token(48)),
            user_code: ids::user_code(),
            client_id: client_id.to_string(),
            scopes,
            expires_at: now + lifetime_ms,
            state: DeviceState::Pending,
        };
        self.devices.push(device.clone());
        device
    }

    /// Approves (`Some(user)`) or denies (`None`) a pending device code.
    /// `false` when no pending, unexpired code has this user code.
    pub(crate) fn decide_device(&mut self, user_code: &str, user: Option<usize>, now: u64) -> bool {
        let wanted = user_code.trim().replace('-', "").to_ascii_uppercase();
        match self
            .devices
            .iter_mut()
            .find(|d| d.user_code == wanted && d.state == DeviceState::Pending && now < d.expires_at)
        {
            Some(d) => {
                d.state = user.map_or(DeviceState::Denied, DeviceState::Approved);
                true
            }
            None => false,
        }
    }

    /// One poll of the token endpoint with a device code.
    pub(crate) fn poll_device(&mut self, device_code: &str, client_id: &str, now: u64) -> Result<Grant, AadError> {
        let Some(d) = self.devices.iter_mut().find(|d| d.device_code == device_code && d.client_id == client_id) else {
            return Err(AadError::new("bad_verification_code", 70_000, "The device code was not recognised."));
        };
        match d.state {
            DeviceState::Redeemed => {
                Err(AadError::new("invalid_grant", 54_005, "The device code was already redeemed; sign in again."))
            }
            _ if now >= d.expires_at => Err(AadError::new("expired_token", 70_019, "Verification code expired.")),
            DeviceState::Pending => Err(AadError::new(
                "authorization_pending",
                70_016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )),
            DeviceState::Denied => {
                Err(AadError::new("authorization_declined", 65_004, "User declined to consent to access the app."))
            }
            DeviceState::Approved(user) => {
                d.state = DeviceState::Redeemed;
                Ok(Grant { user, client_id: d.client_id.clone(), scopes: d.scopes.clone() })
            }
        }
    }

    /// Pending device codes, newest first (for the device login page and commands).
    pub(crate) fn pending_devices(&self, now: u64) -> Vec<&Device> {
        self.devices.iter().rev().filter(|d| d.state == DeviceState::Pending && now < d.expires_at).collect()
    }

    pub(crate) fn hold_authorize(&mut self, request: PendingAuthorize, now: u64) -> String {
        self.pending.retain(|_, p| p.expires_at > now);
        let id = ids::token(24);
        self.pending.insert(id.clone(), request);
        id
    }

    pub(crate) fn take_authorize(&mut self, id: &str, now: u64) -> Option<PendingAuthorize> {
        self.pending.remove(id).filter(|p| p.expires_at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "client";
    const VERIFIER: &str = "ThisIsntRandomButItNeedsToBe43CharactersLong";

    fn request() -> PendingAuthorize {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        PendingAuthorize {
            client_id: CLIENT.into(),
            redirect_uri: "http://127.0.0.1:5000/".into(),
            response_mode: "query".into(),
            state: Some("s".into()),
            scopes: vec!["User.Read".into(), "offline_access".into()],
            challenge,
            method: PkceMethod::S256,
            nonce: None,
            login_hint: None,
            expires_at: 0,
        }
    }

    #[test]
    fn a_code_is_redeemed_once_with_the_right_verifier() {
        let mut g = Grants::default();
        let code = g.issue_code(&request(), 0, 1_000);
        let redirect = Some("http://127.0.0.1:5000/");
        let (grant, _) = g.redeem_code(&code, CLIENT, redirect, Some(VERIFIER), 2_000).expect("redeemed");
        assert_eq!(grant.user, 0);
        let again = g.redeem_code(&code, CLIENT, redirect, Some(VERIFIER), 2_000).expect_err("twice");
        assert_eq!(again.code, 54_005);
    }

    #[test]
    fn a_wrong_verifier_spends_the_code() {
        let mut g = Grants::default();
        let code = g.issue_code(&request(), 0, 0);
        let redirect = Some("http://127.0.0.1:5000/");
        let e = g.redeem_code(&code, CLIENT, redirect, Some("wrong"), 1).expect_err("wrong verifier");
        assert_eq!((e.error, e.code), ("invalid_grant", 501_481));
        assert!(g.redeem_code(&code, CLIENT, redirect, Some(VERIFIER), 1).is_err(), "no second try");
    }

    #[test]
    fn codes_expire_after_ten_minutes_and_are_bound_to_the_redirect() {
        let mut g = Grants::default();
        let code = g.issue_code(&request(), 0, 0);
        let e = g.redeem_code(&code, CLIENT, Some("http://127.0.0.1:6000/"), Some(VERIFIER), 1).expect_err("uri");
        assert_eq!(e.code, 500_112);
        let e = g
            .redeem_code(&code, CLIENT, Some("http://127.0.0.1:5000/"), Some(VERIFIER), CODE_LIFETIME_MS)
            .expect_err("expired");
        assert_eq!(e.code, 70_008);
    }

    #[test]
    fn refresh_tokens_rotate_and_can_be_revoked() {
        let mut g = Grants::default();
        let grant = Grant { user: 1, client_id: CLIENT.into(), scopes: vec!["offline_access".into()] };
        let first = g.issue(grant, "a1".into(), 0, 3599).refresh_token.expect("offline_access gives one");
        let next = g.use_refresh(&first, CLIENT, None, 10, u64::MAX).expect("first use");
        let e = g.use_refresh(&first, CLIENT, None, 20, u64::MAX).expect_err("second use");
        assert_eq!(e.error, "invalid_grant");
        let second = g.issue(next, "a2".into(), 20, 3599).refresh_token.expect("rotated");
        assert_eq!(g.revoke_refresh(Some(1)), 1);
        assert_eq!(g.use_refresh(&second, CLIENT, None, 30, u64::MAX).expect_err("revoked").code, 50_173);
    }

    #[test]
    fn access_tokens_expire_on_time_and_on_command() {
        let mut g = Grants::default();
        let grant = Grant { user: 0, client_id: CLIENT.into(), scopes: vec![] };
        let issued = g.issue(grant, "tok".into(), 0, 60);
        assert!(issued.refresh_token.is_none(), "no offline_access, no refresh token");
        assert!(g.access(Some("tok"), 59_999).is_ok());
        assert_eq!(g.access(Some("tok"), 60_000).err(), Some(AccessRefused::Expired));
        assert_eq!(g.access(Some("nope"), 0).err(), Some(AccessRefused::Unknown));
        assert_eq!(g.access(None, 0).err(), Some(AccessRefused::Missing));
        let grant = Grant { user: 0, client_id: CLIENT.into(), scopes: vec![] };
        g.issue(grant, "tok2".into(), 0, 60);
        g.expire_access(10);
        assert_eq!(g.access(Some("tok2"), 10).err(), Some(AccessRefused::Expired));
    }

    #[test]
    fn device_codes_are_pending_until_approved_then_redeemed_once() {
        let mut g = Grants::default();
        let d = g.add_device(CLIENT, vec!["User.Read".into()], 0, 900_000);
        assert_eq!(g.poll_device(&d.device_code, CLIENT, 1).expect_err("pending").error, "authorization_pending");
        assert!(g.decide_device(&d.user_code.to_lowercase(), Some(2), 2), "user codes are case-insensitive");
        assert_eq!(g.poll_device(&d.device_code, CLIENT, 3).expect("approved").user, 2);
        assert_eq!(g.poll_device(&d.device_code, CLIENT, 4).expect_err("spent").error, "invalid_grant");
        let late = g.add_device(CLIENT, vec![], 0, 900_000);
        assert_eq!(g.poll_device(&late.device_code, CLIENT, 900_000).expect_err("late").error, "expired_token");
        let no = g.add_device(CLIENT, vec![], 0, 900_000);
        assert!(g.decide_device(&no.user_code, None, 1));
        assert_eq!(g.poll_device(&no.device_code, CLIENT, 2).expect_err("denied").error, "authorization_declined");
        assert_eq!(g.poll_device("x", CLIENT, 2).expect_err("unknown").error, "bad_verification_code");
    }
}
