//! The one door to the OS keyring.
//!
//! Warmline keeps every credential (the SIP password, the Microsoft 365
//! refresh token, the database key, CRM tokens) in the operating system's
//! keyring and nowhere else: not in `warmline.toml`, not in SQLite, not in a
//! log. This crate is the only code that talks to the keyring, so that rule
//! can be checked in one place.
//!
//! * **Named entries.** A secret is addressed by a [`SecretName`]: a
//!   [`SecretKind`] (what it is for) and an account (whose it is). On Linux
//!   the Secret Service item carries the attributes `service=warmline` and
//!   `username=<kind>:<account>`, so an admin can inspect it with
//!   `secret-tool lookup service warmline username sip-password:alice@example.com`.
//! * **Fail closed.** When no keyring is reachable (no D-Bus session, no
//!   Secret Service, a locked collection), [`Keyring::open`] and every call
//!   return [`Error::Unavailable`] or [`Error::Locked`] with a message an IT
//!   admin can act on. There is no fallback to a file, ever.
//! * **Redaction.** [`Secret`] never prints its value (`Debug` and `Display`
//!   show `[redacted]`) and wipes its memory on drop; [`redact`] removes
//!   credentials from text (SIP `Authorization` headers, bearer tokens,
//!   OAuth parameters) before it reaches a log or a trace.
//!
//! ```no_run
//! use warmline_secrets::{Keyring, Secret, SecretKind, SecretName};
//!
//! let keyring = Keyring::open()?;
//! let name = SecretName::new(SecretKind::SipPassword, "alice@sbc.example.com");
//! keyring.set(&name, &Secret::from("hunter2"))?;
//! let back = keyring.get(&name)?.expect("just stored");
//! assert_eq!(back.expose_str(), Some("hunter2"));
//! # Ok::<(), warmline_secrets::Error>(())
//! ```
#![deny(missing_docs)]

mod redact;
mod secret;

use std::fmt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

pub use redact::{Redactor, redact};
pub use secret::Secret;

/// The keyring service name under which every Warmline entry is stored.
pub const SERVICE: &str = "warmline";

/// Errors from the keyring. Every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No keyring could be reached at all.
    #[error(
        "the OS keyring is not available ({backend}): {reason}. Warmline keeps credentials only in \
         the OS keyring and will not fall back to a file; start or unlock the keyring (on Linux a \
         Secret Service such as gnome-keyring or KWallet on the D-Bus session) and try again"
    )]
    Unavailable {
        /// Which platform keyring was tried.
        backend: &'static str,
        /// What the platform said.
        reason: String,
    },
    /// The keyring is there but locked, and unlocking was refused or needs a prompt.
    #[error("the OS keyring is locked ({reason}); unlock it and try again")]
    Locked {
        /// What the platform said.
        reason: String,
    },
    /// Several keyring items match one name; Warmline will not guess which is right.
    #[error("{count} keyring items match {name}; remove the extra ones (for example with seahorse or secret-tool)")]
    Ambiguous {
        /// The entry's name.
        name: String,
        /// How many items matched.
        count: usize,
    },
    /// The keyring refused the operation.
    #[error("the OS keyring refused to {action} {name}: {reason}")]
    Platform {
        /// What we tried to do.
        action: &'static str,
        /// The entry's name.
        name: String,
        /// What the platform said.
        reason: String,
    },
    /// The name or value is not acceptable to the keyring.
    #[error("invalid keyring entry {name}: {reason}")]
    Invalid {
        /// The entry's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a secret is for. The kind is part of the keyring entry's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretKind {
    /// The SIP digest password of the agent's SIP account.
    SipPassword,
    /// The Microsoft 365 (Entra ID) refresh token.
    RefreshToken,
    /// The raw key that encrypts the local database.
    DatabaseKey,
    /// A token or API key for the CRM connector.
    CrmToken,
    /// A TURN server credential.
    TurnCredential,
    /// A test entry (used by `warmline-cli doctor` and the health check).
    Probe,
}

impl SecretKind {
    /// The stable label used in the keyring entry's user name.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::SipPassword => "sip-password",
            SecretKind::RefreshToken => "refresh-token",
            SecretKind::DatabaseKey => "database-key",
            SecretKind::CrmToken => "crm-token",
            SecretKind::TurnCredential => "turn-credential",
            SecretKind::Probe => "probe",
        }
    }
}

/// The name of one keyring entry: a kind and the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretName {
    kind: SecretKind,
    account: String,
}

impl SecretName {
    /// A name for `kind` belonging to `account` (a SIP AOR, a Microsoft 365
    /// user principal name, a database path, a CRM base URL).
    pub fn new(kind: SecretKind, account: impl Into<String>) -> Self {
        SecretName { kind, account: account.into() }
    }

    /// What the secret is for.
    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    /// Whose it is.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The keyring user name: `<kind>:<account>`.
    pub fn user(&self) -> String {
        format!("{}:{}", self.kind.label(), self.account)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", SERVICE, self.user())
    }
}

/// What a health check found, for `doctor` and the settings screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Which platform keyring is in use.
    pub backend: String,
    /// Whether a probe entry could be written, read back and deleted.
    pub usable: bool,
    /// A sentence for the user.
    pub detail: String,
}

/// A handle on the OS keyring.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<CredentialStore>,
    backend: &'static str,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("backend", &self.backend).finish()
    }
}

impl Keyring {
    /// Connects to the platform keyring: the Secret Service on Linux and the
    /// BSDs, the login Keychain on macOS, the Credential Manager on Windows.
    ///
    /// Fails with [`Error::Unavailable`] when there is none.
    pub fn open() -> Result<Self, Error> {
        let (store, backend) = platform_store()?;
        Ok(Keyring { store, backend })
    }

    /// Uses a given credential store. Tests use keyring-core's mock store;
    /// production code calls [`Keyring::open`].
    pub fn with_store(store: Arc<CredentialStore>, backend: &'static str) -> Self {
        Keyring { store, backend }
    }

    /// Which platform keyring this is.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    fn entry(&self, name: &SecretName) -> Result<Entry, Error> {
        self.store.build(SERVICE, &name.user(), None).map_err(|e| map_error(e, "open", name, self.backend))
    }

    /// Stores `secret` under `name`, replacing any earlier value.
    pub fn set(&self, name: &SecretName, secret: &Secret) -> Result<(), Error> {
        self.entry(name)?.set_secret(secret.expose_bytes()).map_err(|e| map_error(e, "store", name, self.backend))
    }

    /// Reads the secret stored under `name`; `Ok(None)` when there is none.
    pub fn get(&self, name: &SecretName) -> Result<Option<Secret>, Error> {
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Some(Secret::from_bytes(bytes))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e, "read", name, self.backend)),
        }
    }

    /// Deletes the entry; deleting an entry that does not exist succeeds.
    pub fn delete(&self, name: &SecretName) -> Result<(), Error> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, "delete", name, self.backend)),
        }
    }

    /// Writes, reads back and deletes a probe entry.
    pub fn health(&self) -> Health {
        let name = SecretName::new(SecretKind::Probe, "health-check");
        let probe = Secret::random(16);
        let outcome = self.set(&name, &probe).and_then(|()| self.get(&name)).and_then(|back| {
            self.delete(&name)?;
            Ok(back)
        });
        match outcome {
            Ok(Some(back)) if back.expose_bytes() == probe.expose_bytes() => Health {
                backend: self.backend.to_string(),
                usable: true,
                detail: format!("{} is unlocked and usable", self.backend),
            },
            Ok(_) => Health {
                backend: self.backend.to_string(),
                usable: false,
                detail: format!("{} did not return what was stored", self.backend),
            },
            Err(e) => Health { backend: self.backend.to_string(), usable: false, detail: e.to_string() },
        }
    }
}

/// Opens the platform keyring and runs [`Keyring::health`]; never panics.
pub fn health() -> Health {
    match Keyring::open() {
        Ok(k) => k.health(),
        Err(e) => Health { backend: platform_backend_name().to_string(), usable: false, detail: e.to_string() },
    }
}

/// The name of the keyring [`Keyring::open`] uses on this platform.
pub fn platform_backend_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service (D-Bus)"
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), Error> {
    let backend = platform_backend_name();
    // Without a session bus the Secret Service client would try to spawn one
    // through X11 autolaunch; refuse early with a clear reason instead.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        return Err(Error::Unavailable {
            backend,
            reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset)".into(),
        });
    }
    match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Ok((store, backend)),
        Err(e) => Err(Error::Unavailable { backend, reason: e.to_string() }),
    }
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), Error> {
    let backend = platform_backend_name();
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| (s as Arc<CredentialStore>, backend))
        .map_err(|e| Error::Unavailable { backend, reason: e.to_string() })
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), Error> {
    let backend = platform_backend_name();
    windows_native_keyring_store::store::Store::new()
        .map(|s| (s as Arc<CredentialStore>, backend))
        .map_err(|e| Error::Unavailable { backend, reason: e.to_string() })
}

fn map_error(e: keyring_core::Error, action: &'static str, name: &SecretName, backend: &'static str) -> Error {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(inner) => Error::Locked { reason: inner.to_string() },
        K::PlatformFailure(inner) => {
            let reason = inner.to_string();
            // zbus reports a missing bus or service as a platform failure.
            let lower = reason.to_ascii_lowercase();
            if lower.contains("serviceunknown")
                || lower.contains("no such file")
                || lower.contains("connection refused")
            {
                Error::Unavailable { backend, reason }
            } else {
                Error::Platform { action, name: name.to_string(), reason }
            }
        }
        K::Ambiguous(entries) => Error::Ambiguous { name: name.to_string(), count: entries.len() },
        K::TooLong(attr, limit) => Error::Invalid {
            name: name.to_string(),
            reason: format!("{attr} is longer than the keyring's limit of {limit}"),
        },
        K::Invalid(attr, why) => Error::Invalid { name: name.to_string(), reason: format!("{attr}: {why}") },
        other => Error::Platform { action, name: name.to_string(), reason: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keyring {
        Keyring::with_store(keyring_core::mock::Store::new().expect("mock store"), "mock")
    }

    #[test]
    fn set_get_delete_round_trip() {
        let k = mock();
        let name = SecretName::new(SecretKind::RefreshToken, "alice@contoso.com");
        assert!(k.get(&name).expect("get").is_none(), "a fresh store has no entry");
        k.set(&name, &Secret::from("0.AAAA-refresh")).expect("set");
        assert_eq!(k.get(&name).expect("get").expect("present").expose_str(), Some("0.AAAA-refresh"));
        k.delete(&name).expect("delete");
        k.delete(&name).expect("deleting twice is not an error");
    }

    #[test]
    fn entry_user_names_carry_the_kind() {
        let name = SecretName::new(SecretKind::SipPassword, "alice@sbc.example.com");
        assert_eq!(name.user(), "sip-password:alice@sbc.example.com");
        assert_eq!(name.to_string(), "warmline/sip-password:alice@sbc.example.com");
    }

    #[test]
    fn locked_store_is_reported_as_locked() {
        let e = map_error(
            keyring_core::Error::NoStorageAccess(Box::new(std::io::Error::other("collection is locked"))),
            "read",
            &SecretName::new(SecretKind::DatabaseKey, "db"),
            "mock",
        );
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        assert!(e.to_string().contains("unlock"), "the message tells the user what to do: {e}");
    }

    #[test]
    fn mock_health_is_usable() {
        assert!(mock().health().usable);
    }
}
