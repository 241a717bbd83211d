//! The connector contract as a runnable suite: point it at any CRM endpoint
//! (a test server, the lab's CRM, a customer's staging CRM) through a
//! [`Connector`] and it reports which promises hold.
//!
//! ```no_run
//! # async fn check(connector: warmline_store::rest::RestConnector) {
//! use warmline_store::{CustomerKey, PhoneNormaliser, conformance};
//!
//! let phones = PhoneNormaliser::new(44);
//! let fixture = conformance::Fixture {
//!     known: CustomerKey::Phone(phones.normalise("020 7946 0018").expect("valid")),
//!     known_name: Some("Ada Lovelace".into()),
//!     unknown: CustomerKey::Phone(phones.normalise("020 7946 0999").expect("valid")),
//! };
//! let report = conformance::run(&connector, &fixture, None).await;
//! println!("{report}");
//! assert!(report.passed());
//! # }
//! ```

use std::fmt;

use crate::clock::Timestamp;
use crate::customers::CustomerKey;
use crate::sync::{Connector, ConnectorError, NoteWrite, RemoteNote, ServerNote};

/// What the CRM under test is known to hold.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// A customer the CRM has.
    pub known: CustomerKey,
    /// That customer's display name, if it should be checked.
    pub known_name: Option<String>,
    /// An identifier the CRM does not know.
    pub unknown: CustomerKey,
}

/// One promise of the contract and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which promise.
    pub name: &'static str,
    /// `Err` says what went wrong.
    pub outcome: Result<(), String>,
}

/// The suite's findings.
#[derive(Debug, Clone)]
pub struct Report {
    /// The connector's name.
    pub connector: String,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.outcome.is_ok())
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome.is_err())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "connector conformance: {}", self.connector)?;
        for c in &self.checks {
            match &c.outcome {
                Ok(()) => writeln!(f, "  ok    {}", c.name)?,
                Err(why) => writeln!(f, "  FAIL  {}: {why}", c.name)?,
            }
        }
        Ok(())
    }
}

/// Runs every check against `connector`. With `unauthorised` (the same CRM
/// with a wrong token) it also checks that bad credentials are reported as such.
/// Creates a few notes whose client ids start with `conformance-`.
pub async fn run<C: Connector>(connector: &C, fixture: &Fixture, unauthorised: Option<&C>) -> Report {
    let mut checks = Vec::new();
    let mut check = |name: &'static str, outcome: Result<(), String>| checks.push(Check { name, outcome });

    check("lookup finds a known customer", lookup_known(connector, fixture).await);
    check(
        "lookup of an unknown customer is None, not an error",
        match connector.lookup(&fixture.unknown).await {
            Ok(None) => Ok(()),
            other => Err(format!("expected Ok(None), got {other:?}")),
        },
    );

    let run_id = run_id();
    let write = |n: u32, body: &str| NoteWrite {
        idempotency_key: format!("conformance-{run_id}/k{n}"),
        client_uid: format!("conformance-{run_id}"),
        revision: i64::from(n),
        body: body.into(),
        call_uid: None,
        customer_ref: Some(fixture.known.value()),
    };
    let first = write(1, "conformance: first text");
    let created = connector.create_note(&first).await;
    check(
        "create returns the note with an id and a version",
        match &created {
            Ok(n) if n.server_id.is_empty() || n.version.is_empty() => Err(format!("empty id or version: {n:?}")),
            Ok(n) if n.body != first.body => Err(format!("body not echoed: {:?}", n.body)),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
    );
    let Ok(created) = created else {
        return Report { connector: connector.name().into(), checks };
    };
    check("create repeated with the same idempotency key returns the same note", {
        same_note(&created, connector.create_note(&first).await)
    });
    check(
        "create with a new idempotency key makes a new note",
        match connector.create_note(&write(9, "other")).await {
            Ok(n) if n.server_id != created.server_id => Ok(()),
            other => Err(format!("expected a different note, got {other:?}")),
        },
    );

    let second = write(2, "conformance: second text");
    let updated = connector.update_note(&created.server_id, &created.version, &second).await;
    check(
        "update at the current version succeeds with a new version",
        match &updated {
            Ok(n) if n.version != created.version && n.body == second.body => Ok(()),
            other => Err(format!("expected a new version with the new body, got {other:?}")),
        },
    );
    let Ok(updated) = updated else {
        return Report { connector: connector.name().into(), checks };
    };
    check("update repeated with the same key returns the first result, not a conflict", {
        same_note(&updated, connector.update_note(&created.server_id, &created.version, &second).await)
    });
    check("update at a stale version is a conflict carrying the CRM's copy", {
        match connector.update_note(&created.server_id, &created.version, &write(3, "conformance: stale")).await {
            Err(ConnectorError::Conflict(server))
                if server.version == updated.version && server.body == updated.body =>
            {
                Ok(())
            }
            other => Err(format!("expected Conflict with version {}, got {other:?}", updated.version)),
        }
    });
    check(
        "list returns the note with its client id, revision, version and text",
        match find_listed(connector, &updated.server_id).await {
            Ok(Some(n))
                if n.remote == updated
                    && n.client_uid.as_deref() == Some(second.client_uid.as_str())
                    && n.revision == second.revision =>
            {
                Ok(())
            }
            Ok(Some(n)) => Err(format!(
                "expected {updated:?} from client {} revision {}, got {n:?}",
                second.client_uid, second.revision
            )),
            Ok(None) => Err(format!("note {} is not in the listing", updated.server_id)),
            Err(e) => Err(e),
        },
    );
    check("update of a note that does not exist is refused, not retried", {
        match connector.update_note("conformance-no-such-note", "1", &write(4, "x")).await {
            Err(e) if !e.is_transient() && !matches!(e, ConnectorError::Conflict(_)) => Ok(()),
            other => Err(format!("expected a permanent error, got {other:?}")),
        }
    });
    if let Some(bad) = unauthorised {
        check(
            "a wrong token is reported as unauthorised",
            match bad.lookup(&fixture.known).await {
                Err(ConnectorError::Unauthorized { .. }) => Ok(()),
                other => Err(format!("expected Unauthorized, got {other:?}")),
            },
        );
    }
    Report { connector: connector.name().into(), checks }
}

async fn lookup_known<C: Connector>(connector: &C, fixture: &Fixture) -> Result<(), String> {
    match connector.lookup(&fixture.known).await {
        Ok(Some(c)) => match &fixture.known_name {
            Some(name) if &c.display_name != name => Err(format!("name {:?}, expected {name:?}", c.display_name)),
            _ if c.display_name.trim().is_empty() => Err("empty display name".into()),
            _ => Ok(()),
        },
        other => Err(format!("expected a customer, got {other:?}")),
    }
}

/// Pages through the notes changed in the last day (generous, for clock
/// skew between this machine and the CRM) looking for `server_id`.
async fn find_listed<C: Connector>(connector: &C, server_id: &str) -> Result<Option<ServerNote>, String> {
    const DAY_MS: i64 = 86_400_000;
    let since = Timestamp::from_millis(Timestamp::now().millis().saturating_sub(DAY_MS));
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page = connector.list_notes(Some(since), cursor.as_deref()).await.map_err(|e| e.to_string())?;
        if let Some(found) = page.notes.into_iter().find(|n| n.remote.server_id == server_id) {
            return Ok(Some(found));
        }
        match page.next {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            Some(next) => return Err(format!("the same cursor {next:?} was returned twice")),
            None => return Ok(None),
        }
    }
    Err("more than 10,000 pages of notes".into())
}

fn same_note(first: &RemoteNote, again: Result<RemoteNote, ConnectorError>) -> Result<(), String> {
    match again {
        Ok(n) if &n == first => Ok(()),
        other => Err(format!("expected {first:?} again, got {other:?}")),
    }
}

fn run_id() -> String {
    let mut bytes = [0u8; 6];
    // Distinct runs only need distinct ids; a failed random source still gives a usable one.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
