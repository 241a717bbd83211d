//! A generic JSON-over-HTTPS CRM connector: a base URL, an auth header with
//! a token from the keyring, and a mapping from the CRM's JSON to ours.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use warmline_secrets::{Keyring, Secret, SecretKind, SecretName};

use super::{Connector, ConnectorError, NotePage, NoteWrite, RemoteNote, ServerNote};
use crate::clock::Timestamp;
use crate::customers::{CustomerKey, CustomerRecord, Interaction};
use crate::error::{Error, Result};
use crate::phone::PhoneNormaliser;

/// Where the CRM is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestConfig {
    /// The API's base URL, e.g. `https://crm.example.com/api/v1`.
    pub base_url: String,
    /// The header that carries the credential.
    pub auth_header: String,
    /// The header's value, with `{token}` replaced by the keyring's CRM token.
    pub auth_template: String,
    /// An HTTPS proxy URL, e.g. `http://proxy.corp:3128`.
    pub https_proxy: Option<String>,
    /// An extra CA certificate (PEM) to trust, for CRMs behind a corporate CA.
    pub extra_ca_pem: Option<String>,
    /// Per-request timeout in milliseconds.
    pub timeout_ms: u64,
    /// Where things are in the CRM's API.
    pub mapping: RestMapping,
    /// Default country code for numbers the CRM writes in national form.
    pub country_code: u16,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            base_url: String::new(),
            auth_header: "Authorization".into(),
            auth_template: "Bearer {token}".into(),
            https_proxy: None,
            extra_ca_pem: None,
            timeout_ms: 15_000,
            mapping: RestMapping::default(),
            country_code: 1,
        }
    }
}

/// Paths (relative to the base URL) and JSON pointers into the CRM's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestMapping {
    /// Customer lookup; `{kind}` (phone, email, crm, account) and `{value}` are filled in.
    pub lookup_path: String,
    /// Note creation (POST).
    pub create_note_path: String,
    /// Note update (PUT); `{id}` is the CRM's note id.
    pub update_note_path: String,
    /// Note listing (GET); `{since}` (Unix milliseconds, 0 for all) and
    /// `{cursor}` (empty on the first page) are filled in.
    pub list_notes_path: String,
    /// Pointer to the array of notes in a listing (empty: the answer is the array).
    pub list_notes_items: String,
    /// Pointer to the next page's cursor in a listing (absent or null: last page).
    pub list_notes_next: String,
    /// Pointers into a customer: id, name, fields, phones (array), emails (array), interactions (array).
    pub customer_id: String,
    /// See `customer_id`.
    pub customer_name: String,
    /// See `customer_id`.
    pub customer_fields: String,
    /// See `customer_id`.
    pub customer_phones: String,
    /// See `customer_id`.
    pub customer_emails: String,
    /// See `customer_id`.
    pub customer_interactions: String,
    /// Pointers into each interaction: id, time (Unix milliseconds), channel, summary.
    pub interaction_id: String,
    /// See `interaction_id`.
    pub interaction_at: String,
    /// See `interaction_id`.
    pub interaction_channel: String,
    /// See `interaction_id`.
    pub interaction_summary: String,
    /// Pointers into a note: id, version, body.
    pub note_id: String,
    /// See `note_id`.
    pub note_version: String,
    /// See `note_id`.
    pub note_body: String,
    /// Pointers into a listed note: the client id and revision it was written with, call, customer.
    pub note_client_uid: String,
    /// See `note_client_uid`.
    pub note_revision: String,
    /// See `note_client_uid`.
    pub note_call: String,
    /// See `note_client_uid`.
    pub note_customer: String,
    /// Field names of a note write: body, client id, revision, call, customer, base version.
    pub write_body: String,
    /// See `write_body`.
    pub write_client_uid: String,
    /// See `write_body`.
    pub write_revision: String,
    /// See `write_body`.
    pub write_call: String,
    /// See `write_body`.
    pub write_customer: String,
    /// See `write_body`.
    pub write_base_version: String,
}

impl Default for RestMapping {
    fn default() -> Self {
        let s = |v: &str| v.to_string();
        RestMapping {
            lookup_path: s("/customers?{kind}={value}"),
            create_note_path: s("/notes"),
            update_note_path: s("/notes/{id}"),
            list_notes_path: s("/notes?since={since}&cursor={cursor}"),
            list_notes_items: s("/notes"),
            list_notes_next: s("/next"),
            customer_id: s("/id"),
            customer_name: s("/name"),
            customer_fields: s("/fields"),
            customer_phones: s("/phones"),
            customer_emails: s("/emails"),
            customer_interactions: s("/interactions"),
            interaction_id: s("/id"),
            interaction_at: s("/at"),
            interaction_channel: s("/channel"),
            interaction_summary: s("/summary"),
            note_id: s("/id"),
            note_version: s("/version"),
            note_body: s("/body"),
            note_client_uid: s("/client_id"),
            note_revision: s("/revision"),
            note_call: s("/call_id"),
            note_customer: s("/customer"),
            write_body: s("body"),
            write_client_uid: s("client_id"),
            write_revision: s("revision"),
            write_call: s("call_id"),
            write_customer: s("customer"),
            write_base_version: s("base_version"),
        }
    }
}

/// The generic REST connector.
#[derive(Debug, Clone)]
pub struct RestConnector {
    client: reqwest::Client,
    config: RestConfig,
    name: String,
}

/// The keyring entry holding the token for the CRM at `base_url`.
pub fn crm_token_name(base_url: &str) -> SecretName {
    SecretName::new(SecretKind::CrmToken, base_url)
}

impl RestConnector {
    /// A connector whose token is in the OS keyring under [`crm_token_name`].
    /// No token: fails closed with [`Error::KeyMissing`].
    pub fn from_keyring(config: RestConfig, keyring: &Keyring) -> Result<Self> {
        let name = crm_token_name(&config.base_url);
        let token = keyring
            .get(&name)?
            .ok_or_else(|| Error::KeyMissing { path: config.base_url.clone().into(), entry: name.to_string() })?;
        RestConnector::new(config, &token)
    }

    /// A connector with this token.
    pub fn new(config: RestConfig, token: &Secret) -> Result<Self> {
        let invalid = |reason: String| Error::Invalid { what: "CRM connector settings", reason };
        let token = token.expose_str().ok_or_else(|| invalid("the CRM token is not text".into()))?;
        let mut auth = HeaderValue::from_str(&config.auth_template.replace("{token}", token))
            .map_err(|_| invalid("the CRM token cannot be sent in a header".into()))?;
        auth.set_sensitive(true);
        let header = HeaderName::from_bytes(config.auth_header.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert(header, auth);
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .default_headers(headers)
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(10_000)));
        if let Some(proxy) = &config.https_proxy {
            builder = builder.proxy(reqwest::Proxy::https(proxy).map_err(|e| invalid(format!("proxy: {e}")))?);
        }
        if let Some(pem) = &config.extra_ca_pem {
            let bundle =
                reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| invalid(format!("CA: {e}")))?;
            if bundle.is_empty() {
                return Err(invalid("the extra CA has no PEM certificate in it".into()));
            }
            for ca in bundle {
                builder = builder.add_root_certificate(ca);
            }
        }
        let client = builder.build().map_err(|e| invalid(e.to_string()))?;
        let name = format!("REST {}", config.base_url);
        Ok(RestConnector { client, config, name })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), ConnectorError> {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| ConnectorError::Unreachable(error_chain(&e)))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ConnectorError::Unreachable(error_chain(&e)))?;
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, json))
    }

    fn note(&self, json: &Value) -> Result<RemoteNote, ConnectorError> {
        let m = &self.config.mapping;
        Ok(RemoteNote {
            server_id: text_at(json, &m.note_id).ok_or_else(|| missing("note id", &m.note_id, json))?,
            version: text_at(json, &m.note_version).ok_or_else(|| missing("note version", &m.note_version, json))?,
            body: text_at(json, &m.note_body).unwrap_or_default(),
        })
    }

    fn server_note(&self, json: &Value) -> Result<ServerNote, ConnectorError> {
        let m = &self.config.mapping;
        let revision = match json.pointer(&m.note_revision) {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(ServerNote {
            remote: self.note(json)?,
            client_uid: text_at(json, &m.note_client_uid).filter(|u| !u.is_empty()),
            revision,
            call_uid: text_at(json, &m.note_call),
            customer_ref: text_at(json, &m.note_customer),
        })
    }

    fn customer(&self, json: &Value) -> Result<CustomerRecord, ConnectorError> {
        let m = &self.config.mapping;
        let phones = PhoneNormaliser::new(self.config.country_code);
        let list = |pointer: &str| json.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
        let mut keys: Vec<CustomerKey> = list(&m.customer_phones)
            .iter()
            .filter_map(|v| v.as_str().and_then(|p| phones.normalise(p)).map(CustomerKey::Phone))
            .collect();
        keys.extend(list(&m.customer_emails).iter().filter_map(Value::as_str).map(|e| CustomerKey::Email(e.into())));
        let interactions = list(&m.customer_interactions)
            .iter()
            .filter_map(|i| {
                Some(Interaction {
                    source_ref: text_at(i, &m.interaction_id)?,
                    at: Timestamp::from_millis(i.pointer(&m.interaction_at)?.as_i64()?),
                    channel: text_at(i, &m.interaction_channel).unwrap_or_default(),
                    summary: text_at(i, &m.interaction_summary).unwrap_or_default(),
                })
            })
            .collect();
        Ok(CustomerRecord {
            crm_id: text_at(json, &m.customer_id),
            display_name: text_at(json, &m.customer_name)
                .ok_or_else(|| missing("customer name", &m.customer_name, json))?,
            keys,
            fields: json.pointer(&m.customer_fields).cloned().unwrap_or(Value::Null),
            interactions,
        })
    }

    fn write_json(&self, write: &NoteWrite, base_version: Option<&str>) -> Value {
        let m = &self.config.mapping;
        let mut o = Map::new();
        o.insert(m.write_body.clone(), write.body.clone().into());
        o.insert(m.write_client_uid.clone(), write.client_uid.clone().into());
        o.insert(m.write_revision.clone(), write.revision.into());
        o.insert(m.write_call.clone(), write.call_uid.clone().into());
        o.insert(m.write_customer.clone(), write.customer_ref.clone().into());
        if let Some(base) = base_version {
            o.insert(m.write_base_version.clone(), base.into());
        }
        Value::Object(o)
    }
}

impl Connector for RestConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn lookup(&self, key: &CustomerKey) -> Result<Option<CustomerRecord>, ConnectorError> {
        let path = self
            .config
            .mapping
            .lookup_path
            .replace("{kind}", key.kind())
            .replace("{value}", &percent_encode(&key.value()));
        let (status, json) = self.send(Method::GET, &path, &[], None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                // A search endpoint may answer with a list.
                let one = match &json {
                    Value::Array(items) => match items.first() {
                        Some(first) => first,
                        None => return Ok(None),
                    },
                    other => other,
                };
                self.customer(one).map(Some)
            }
            s => Err(classify(s, &json)),
        }
    }

    async fn create_note(&self, write: &NoteWrite) -> Result<RemoteNote, ConnectorError> {
        let headers = [("Idempotency-Key", write.idempotency_key.as_str())];
        let path = self.config.mapping.create_note_path.clone();
        let (status, json) = self.send(Method::POST, &path, &headers, Some(self.write_json(write, None))).await?;
        if status.is_success() { self.note(&json) } else { Err(classify(status, &json)) }
    }

    async fn update_note(
        &self,
        server_id: &str,
        base_version: &str,
        write: &NoteWrite,
    ) -> Result<RemoteNote, ConnectorError> {
        let headers = [("Idempotency-Key", write.idempotency_key.as_str()), ("If-Match", base_version)];
        let path = self.config.mapping.update_note_path.replace("{id}", &percent_encode(server_id));
        let body = self.write_json(write, Some(base_version));
        let (status, json) = self.send(Method::PUT, &path, &headers, Some(body)).await?;
        match status {
            s if s.is_success() => self.note(&json),
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Err(ConnectorError::Conflict(self.note(&json)?)),
            s => Err(classify(s, &json)),
        }
    }

    async fn list_notes(&self, since: Option<Timestamp>, cursor: Option<&str>) -> Result<NotePage, ConnectorError> {
        let m = &self.config.mapping;
        let path = m
            .list_notes_path
            .replace("{since}", &since.map_or(0, Timestamp::millis).to_string())
            .replace("{cursor}", &percent_encode(cursor.unwrap_or_default()));
        let (status, json) = self.send(Method::GET, &path, &[], None).await?;
        if !status.is_success() {
            return Err(classify(status, &json));
        }
        let items = json
            .pointer(&m.list_notes_items)
            .and_then(Value::as_array)
            .ok_or_else(|| missing("list of notes", &m.list_notes_items, &json))?;
        let notes = items.iter().map(|n| self.server_note(n)).collect::<Result<Vec<_>, _>>()?;
        let next = text_at(&json, &m.list_notes_next).filter(|c| !c.is_empty());
        if next.is_some() && notes.is_empty() {
            // A cursor that never ends would make a caller loop forever.
            return Err(ConnectorError::Protocol("an empty page of notes with a next cursor".into()));
        }
        Ok(NotePage { notes, next })
    }
}

fn classify(status: StatusCode, body: &Value) -> ConnectorError {
    let mut reason = match body {
        Value::String(s) => s.clone(),
        Value::Null => status.canonical_reason().unwrap_or("no reason given").to_string(),
        other => other
            .get("error")
            .or_else(|| other.get("message"))
            .map_or_else(|| other.to_string(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
    };
    reason.truncate(300);
    let status_code = status.as_u16();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            ConnectorError::Unauthorized { status: status_code, reason }
        }
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
            ConnectorError::Unavailable { status: status_code, reason }
        }
        s if s.is_server_error() => ConnectorError::Unavailable { status: status_code, reason },
        _ => ConnectorError::Rejected { status: status_code, reason },
    }
}

fn text_at(json: &Value, pointer: &str) -> Option<String> {
    match json.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn missing(what: &str, pointer: &str, json: &Value) -> ConnectorError {
    let mut shown = json.to_string();
    shown.truncate(200);
    ConnectorError::Protocol(format!("no {what} at {pointer} in {shown}"))
}

/// The whole cause chain: reqwest's top-level message alone ("error sending
/// request") does not say that the connection was refused.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_values_are_percent_encoded() {
        assert_eq!(percent_encode("+44 20/x"), "%2B44%2020%2Fx");
    }

    #[test]
    fn statuses_are_classified_for_retry() {
        assert!(classify(StatusCode::SERVICE_UNAVAILABLE, &Value::Null).is_transient());
        assert!(classify(StatusCode::TOO_MANY_REQUESTS, &Value::Null).is_transient());
        let e = classify(StatusCode::UNPROCESSABLE_ENTITY, &serde_json::json!({"error": "body too long"}));
        assert_eq!(e, ConnectorError::Rejected { status: 422, reason: "body too long".into() });
        assert!(matches!(classify(StatusCode::UNAUTHORIZED, &Value::Null), ConnectorError::Unauthorized { .. }));
    }

    #[test]
    fn token_comes_from_the_keyring_or_not_at_all() {
        let keyring = crate::test_support::mock_keyring();
        let config = RestConfig { base_url: "https://crm.example.com".into(), ..RestConfig::default() };
        let err = RestConnector::from_keyring(config.clone(), &keyring).expect_err("no token yet");
        assert!(matches!(err, Error::KeyMissing { .. }), "{err}");
        keyring.set(&crm_token_name(&config.base_url), &Secret::from("t0ken")).expect("set");
        RestConnector::from_keyring(config, &keyring).expect("token present");
    }

    #[test]
    fn a_proxy_and_an_extra_ca_are_accepted_and_a_bad_ca_is_refused() {
        let config = RestConfig {
            base_url: "https://crm.example.com".into(),
            https_proxy: Some("http://proxy.corp.example:3128".into()),
            ..RestConfig::default()
        };
        RestConnector::new(config.clone(), &Secret::from("t")).expect("proxy accepted");
        let bad = RestConfig { extra_ca_pem: Some("not a certificate".into()), ..config };
        assert!(RestConnector::new(bad, &Secret::from("t")).is_err());
    }
}
