//! The customer context cache: what the CRM said about a caller, found by
//! phone number or any other identifier, with its age so the screen pop can
//! show a cached answer at once and refresh it when it is stale.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::phone::E164;

/// A cached customer's local id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(pub i64);

/// Something that identifies a customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CustomerKey {
    /// A phone number.
    Phone(E164),
    /// An e-mail address (compared case-insensitively).
    Email(String),
    /// The CRM's own id.
    CrmId(String),
    /// An account or contract number.
    Account(String),
}

impl CustomerKey {
    /// The identifier's kind as stored: `phone`, `email`, `crm`, `account`.
    pub fn kind(&self) -> &'static str {
        match self {
            CustomerKey::Phone(_) => "phone",
            CustomerKey::Email(_) => "email",
            CustomerKey::CrmId(_) => "crm",
            CustomerKey::Account(_) => "account",
        }
    }

    /// The identifier's value as stored.
    pub fn value(&self) -> String {
        match self {
            CustomerKey::Phone(p) => p.as_str().to_string(),
            CustomerKey::Email(e) => e.trim().to_lowercase(),
            CustomerKey::CrmId(v) | CustomerKey::Account(v) => v.trim().to_string(),
        }
    }
}

/// One past contact with the customer, as the CRM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    /// The CRM's id for it (keeps refreshes from duplicating it).
    pub source_ref: String,
    /// When it happened.
    pub at: Timestamp,
    /// Phone, e-mail, chat...
    pub channel: String,
    /// What it was about.
    pub summary: String,
}

/// What the CRM knows about a customer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerRecord {
    /// The CRM's id.
    pub crm_id: Option<String>,
    /// The name to show.
    pub display_name: String,
    /// Every other identifier (phones, e-mails, account numbers).
    pub keys: Vec<CustomerKey>,
    /// The CRM's fields, as it sent them.
    pub fields: serde_json::Value,
    /// Past contacts, newest first.
    pub interactions: Vec<Interaction>,
}

/// A customer from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedCustomer {
    /// Local id.
    pub id: CustomerId,
    /// What the CRM said.
    pub record: CustomerRecord,
    /// When the CRM said it.
    pub fetched_at: Timestamp,
}

/// Whether a cached customer can be shown as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Freshness {
    /// Younger than the allowed age.
    Fresh,
    /// Older: show it, marked as such, and refresh it.
    Stale {
        /// How old it is.
        age: Duration,
    },
}

impl CachedCustomer {
    /// Whether this entry is younger than `max_age` at `now`.
    pub fn freshness(&self, now: Timestamp, max_age: Duration) -> Freshness {
        let age = now.since(self.fetched_at);
        if age <= max_age { Freshness::Fresh } else { Freshness::Stale { age } }
    }
}

impl Store {
    /// Stores what the CRM said about a customer, replacing the earlier entry
    /// for the same CRM id or identifiers. Interactions accumulate.
    pub fn cache_customer(&self, record: &CustomerRecord, now: Timestamp) -> Result<CustomerId> {
        if record.display_name.trim().is_empty() {
            return Err(Error::Invalid { what: "customer", reason: "the display name is empty".into() });
        }
        let mut keys = record.keys.clone();
        if let Some(crm) = &record.crm_id {
            keys.push(CustomerKey::CrmId(crm.clone()));
        }
        let phone = keys.iter().find_map(|k| match k {
            CustomerKey::Phone(p) => Some(p.as_str().to_string()),
            _ => None,
        });
        let fields = serde_json::to_string(&record.fields)
            .map_err(|e| Error::Invalid { what: "customer fields", reason: e.to_string() })?;
        self.write(|tx| {
            let mut existing = None;
            for key in &keys {
                existing = find(tx, key)?;
                if existing.is_some() {
                    break;
                }
            }
            let id = match existing {
                Some(id) => {
                    tx.execute("UPDATE customers SET phone = NULL WHERE phone = ?1 AND id <> ?2", params![phone, id.0])?;
                    tx.execute(
                        "UPDATE customers SET crm_id = ?2, display_name = ?3, fields = ?4, phone = ?5, fetched_at = ?6
                         WHERE id = ?1",
                        params![id.0, record.crm_id, record.display_name, fields, phone, now],
                    )?;
                    tx.execute("DELETE FROM customer_identifiers WHERE customer_id = ?1", [id.0])?;
                    id
                }
                None => {
                    tx.execute("UPDATE customers SET phone = NULL WHERE phone = ?1", [&phone])?;
                    tx.execute(
                        "INSERT INTO customers (crm_id, display_name, fields, phone, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![record.crm_id, record.display_name, fields, phone, now],
                    )?;
                    CustomerId(tx.last_insert_rowid())
                }
            };
            for key in &keys {
                // An identifier moves to the customer the CRM now says has it.
                tx.execute(
                    "INSERT OR REPLACE INTO customer_identifiers (kind, value, customer_id) VALUES (?1, ?2, ?3)",
                    params![key.kind(), key.value(), id.0],
                )?;
            }
            for i in &record.interactions {
                tx.execute(
                    "INSERT INTO interactions (customer_id, source_ref, at, channel, summary) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (customer_id, source_ref) DO UPDATE SET at = ?3, channel = ?4, summary = ?5",
                    params![id.0, i.source_ref, i.at, i.channel, i.summary],
                )?;
            }
            Ok(id)
        })
    }

    /// The cached customer with this identifier, however old.
    pub fn customer(&self, key: &CustomerKey) -> Result<Option<CachedCustomer>> {
        let id = find(&self.conn(), key)?;
        id.map(|id| self.customer_by_id(id)).transpose()
    }

    /// The cached customer with this local id.
    pub fn customer_by_id(&self, id: CustomerId) -> Result<CachedCustomer> {
        let conn = self.conn();
        let (crm_id, display_name, fields, fetched_at): (Option<String>, String, String, Timestamp) = conn
            .query_row("SELECT crm_id, display_name, fields, fetched_at FROM customers WHERE id = ?1", [id.0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?
            .ok_or_else(|| Error::NotFound { what: "customer", id: id.0.to_string() })?;
        let mut stmt = conn.prepare_cached(
            "SELECT kind, value FROM customer_identifiers WHERE customer_id = ?1 AND kind <> 'crm' ORDER BY kind, value",
        )?;
        let keys = stmt
            .query_map([id.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .filter_map(|row| match row {
                Ok((kind, value)) => key_from_parts(&kind, value).map(Ok),
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT source_ref, at, channel, summary FROM interactions WHERE customer_id = ?1 ORDER BY at DESC, id DESC",
        )?;
        let interactions = stmt
            .query_map([id.0], |r| {
                Ok(Interaction { source_ref: r.get(0)?, at: r.get(1)?, channel: r.get(2)?, summary: r.get(3)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let fields = serde_json::from_str(&fields).unwrap_or(serde_json::Value::Null);
        Ok(CachedCustomer {
            id,
            record: CustomerRecord { crm_id, display_name, keys, fields, interactions },
            fetched_at,
        })
    }
}

fn find(conn: &rusqlite::Connection, key: &CustomerKey) -> Result<Option<CustomerId>> {
    Ok(conn
        .query_row(
            "SELECT customer_id FROM customer_identifiers WHERE kind = ?1 AND value = ?2",
            params![key.kind(), key.value()],
            |r| r.get(0).map(CustomerId),
        )
        .optional()?)
}

fn key_from_parts(kind: &str, value: String) -> Option<CustomerKey> {
    match kind {
        "phone" => crate::PhoneNormaliser::new(1).normalise(&value).map(CustomerKey::Phone),
        "email" => Some(CustomerKey::Email(value)),
        "account" => Some(CustomerKey::Account(value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PhoneNormaliser;
    use crate::test_support::plaintext_store;

    fn phone(raw: &str) -> CustomerKey {
        CustomerKey::Phone(PhoneNormaliser::new(44).normalise(raw).expect("valid number"))
    }

    fn ada() -> CustomerRecord {
        CustomerRecord {
            crm_id: Some("C-1".into()),
            display_name: "Ada Lovelace".into(),
            keys: vec![phone("020 7946 0018"), CustomerKey::Email("Ada@Example.com".into())],
            fields: serde_json::json!({"tier": "gold", "open_cases": 2}),
            interactions: vec![Interaction {
                source_ref: "case-9".into(),
                at: Timestamp::from_millis(5),
                channel: "phone".into(),
                summary: "router replaced".into(),
            }],
        }
    }

    #[test]
    fn found_by_any_identifier_and_refreshed_in_place() {
        let (_dir, store) = plaintext_store();
        let id = store.cache_customer(&ada(), Timestamp::from_millis(10)).expect("cache");
        let by_phone = store.customer(&phone("+44 20 7946 0018")).expect("lookup").expect("cached");
        assert_eq!(by_phone.id, id);
        assert_eq!(by_phone.record.fields["tier"], "gold");
        let by_mail = store.customer(&CustomerKey::Email("ada@example.COM".into())).expect("lookup").expect("cached");
        assert_eq!(by_mail.id, id);
        let mut newer = ada();
        newer.fields = serde_json::json!({"tier": "platinum"});
        newer.interactions[0].summary = "router replaced twice".into();
        assert_eq!(store.cache_customer(&newer, Timestamp::from_millis(20)).expect("refresh"), id);
        let again = store.customer(&CustomerKey::CrmId("C-1".into())).expect("lookup").expect("cached");
        assert_eq!(again.record.fields["tier"], "platinum");
        assert_eq!(again.record.interactions.len(), 1, "a refresh does not duplicate interactions");
        assert_eq!(again.fetched_at, Timestamp::from_millis(20));
    }

    #[test]
    fn staleness_follows_the_injected_clock() {
        let (_dir, store) = plaintext_store();
        store.cache_customer(&ada(), Timestamp::from_millis(0)).expect("cache");
        let c = store.customer(&phone("02079460018")).expect("lookup").expect("cached");
        let hour = Duration::from_secs(3600);
        assert_eq!(c.freshness(Timestamp::from_millis(1_000), hour), Freshness::Fresh);
        assert_eq!(
            c.freshness(Timestamp::from_millis(7_200_000), hour),
            Freshness::Stale { age: Duration::from_secs(7200) }
        );
    }

    #[test]
    fn customers_are_searchable() {
        let (_dir, store) = plaintext_store();
        let id = store.cache_customer(&ada(), Timestamp::from_millis(0)).expect("cache");
        let hits = store.search("lovel", 5).expect("search");
        assert_eq!(hits.first().map(|h| h.target), Some(crate::SearchTarget::Customer(id)));
    }
}
