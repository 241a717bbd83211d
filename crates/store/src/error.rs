//! The store's errors. Every variant says what happened and what to do.

use std::path::PathBuf;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database key could not be read from or written to the keyring.
    #[error(transparent)]
    Keyring(#[from] warmline_secrets::Error),
    /// The database exists but its key is not in the keyring: without it the
    /// notes cannot be read, and a new key would not open them either.
    #[error(
        "the key for the database {path} is missing from the OS keyring ({entry}); the file was left \
         untouched. Restore the keyring entry, or move the file away to start with an empty database"
    )]
    KeyMissing {
        /// The database file.
        path: PathBuf,
        /// The keyring entry that should hold the key.
        entry: String,
    },
    /// The database was written by a newer Warmline; it was not modified.
    #[error(
        "the database {path} was written by a newer version of Warmline (schema {found}, this version \
         understands up to {supported}); it was not modified. Install the newer version again"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema this build knows.
        supported: i64,
    },
    /// The disk (or the database's configured size limit) is full.
    #[error(
        "the disk is full (or the database reached its size limit): the last change was NOT saved; \
         everything saved before it is intact. Free some disk space and save again"
    )]
    DiskFull,
    /// A file operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What we tried to do.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Database(rusqlite::Error),
    /// The platform has no data directory to put the database in.
    #[error("no platform data directory (on Linux set XDG_DATA_HOME or HOME)")]
    NoDataDir,
    /// A note, call or customer that was asked for does not exist.
    #[error("no {what} with id {id}")]
    NotFound {
        /// What kind of record.
        what: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The CRM connector failed.
    #[error(transparent)]
    Connector(crate::sync::ConnectorError),
    /// A value given to the store is not acceptable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was given.
        what: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) { Error::DiskFull } else { Error::Database(e) }
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// Whether the file could not be read as a database at all (corrupt, or
    /// encrypted with another key).
    pub(crate) fn is_unreadable_database(&self) -> bool {
        matches!(
            self,
            Error::Database(e) if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            )
        )
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
