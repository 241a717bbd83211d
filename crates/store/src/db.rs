//! Opening the database: key, file modes, durability settings, integrity
//! check, migrations, and recovery from a corrupt file.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, Transaction};
use warmline_secrets::{Keyring, Secret, SecretKind, SecretName};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::recovery::{self, RecoveryReport};
use crate::schema;

/// How the database file is protected at rest.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Encryption {
    /// SQLCipher with this raw 32-byte key (as [`database_key`] returns).
    Key(Secret),
    /// No encryption. For benchmarks and tools only: the application always
    /// opens through [`Store::open`], which takes the key from the keyring.
    Plaintext,
}

/// When the whole file is checked for damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IntegrityCheck {
    /// Check every page before the store is returned (`PRAGMA quick_check`);
    /// a damaged file is moved aside at once. About a second for 100,000 notes.
    #[default]
    AtOpen,
    /// Check only the header and schema at open (milliseconds); the caller
    /// runs [`Store::check_integrity`] in the background and, if it finds
    /// damage, calls [`Store::recover`]. What the desktop app does.
    Deferred,
}

/// How to open the database.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Refuse to grow the file beyond this many bytes; writes past it fail
    /// with [`Error::DiskFull`] as a full disk would. `None`: no limit.
    pub max_size_bytes: Option<u64>,
    /// When to check the whole file.
    pub integrity: IntegrityCheck,
}

/// A database that was opened, and what happened while opening it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Opened {
    /// The store.
    pub store: Store,
    /// Set when the file was unreadable and was moved aside: tell the user.
    pub recovery: Option<RecoveryReport>,
    /// The schema version the file had before it was migrated, if it was.
    pub migrated_from: Option<i64>,
}

/// The durability settings actually in force on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// `PRAGMA journal_mode` (expected: `wal`).
    pub journal_mode: String,
    /// `PRAGMA synchronous` (expected: 2, FULL).
    pub synchronous: i64,
    /// Whether the file is encrypted (SQLCipher reports a cipher version for a keyed connection).
    pub encrypted: bool,
}

/// The local database: notes, customer context, call history, sync outbox.
///
/// One connection behind a mutex: writes are serialised anyway, and each
/// save is one short transaction that returns after `fsync`.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    encryption: Encryption,
    options: Options,
}

/// The keyring entry that holds the key of the database at `path`.
pub fn database_key_name(path: &Path) -> SecretName {
    SecretName::new(SecretKind::DatabaseKey, path.display().to_string())
}

/// The raw key of the database at `path`, from the keyring.
///
/// A new database gets a fresh random 32-byte key, stored and read back
/// before it is used. An existing database whose key is missing fails with
/// [`Error::KeyMissing`]: a new key could not read it, and nothing is touched.
pub fn database_key(keyring: &Keyring, path: &Path) -> Result<Secret> {
    let name = database_key_name(path);
    if let Some(key) = keyring.get(&name)? {
        return Ok(key);
    }
    let has_data = std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
    if has_data {
        return Err(Error::KeyMissing { path: path.to_path_buf(), entry: name.to_string() });
    }
    keyring.set(&name, &Secret::random(32))?;
    keyring.get(&name)?.ok_or_else(|| Error::KeyMissing { path: path.to_path_buf(), entry: name.to_string() })
}

/// Where the database lives by default: `<data dir>/warmline/warmline.db`
/// (`~/.local/share/warmline/warmline.db` on Linux).
pub fn default_path() -> Result<PathBuf> {
    Ok(dirs::data_dir().ok_or(Error::NoDataDir)?.join("warmline").join("warmline.db"))
}

enum Refused {
    Unreadable(String),
    Fatal(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        if e.is_unreadable_database() { Refused::Unreadable(e.to_string()) } else { Refused::Fatal(e) }
    }
}

impl From<rusqlite::Error> for Refused {
    fn from(e: rusqlite::Error) -> Self {
        Error::from(e).into()
    }
}

impl Store {
    /// Opens (or creates) the encrypted database at `path` with its key from
    /// the OS keyring. No keyring, no database: fails closed.
    pub fn open(path: &Path, keyring: &Keyring, options: &Options, now: Timestamp) -> Result<Opened> {
        let key = database_key(keyring, path)?;
        Store::open_with(path, Encryption::Key(key), options, now)
    }

    /// Opens (or creates) the database at `path`.
    ///
    /// Refuses a file from a newer release without modifying it. A file that
    /// cannot be read (corrupt, or not decryptable with this key) is moved
    /// aside with a timestamp, a fresh database is created, whatever rows were
    /// readable are copied over, and [`Opened::recovery`] says what happened.
    pub fn open_with(path: &Path, encryption: Encryption, options: &Options, now: Timestamp) -> Result<Opened> {
        prepare_file(path)?;
        match open_checked(path, &encryption, options) {
            Ok((conn, migrated_from)) => Ok(Opened {
                store: Store::new(conn, path, encryption, options)?,
                recovery: None,
                migrated_from: migrated_from.filter(|v| *v != schema::CURRENT_VERSION),
            }),
            Err(Refused::Fatal(e)) => Err(e),
            Err(Refused::Unreadable(reason)) => rebuild(path, encryption, options, now, reason),
        }
    }

    /// Checks every page of the file on a second connection, so saves go on
    /// meanwhile. Returns what is wrong; empty means sound.
    pub fn check_integrity(&self) -> Result<Vec<String>> {
        let check = || -> Result<Vec<String>> {
            let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            apply_key(&conn, &self.encryption)?;
            integrity_problems(&conn)
        };
        match check() {
            Err(e) if e.is_unreadable_database() => Ok(vec![e.to_string()]),
            other => other,
        }
    }

    /// Closes the store, moves the file aside and starts a new one with
    /// what could be read, as opening a damaged file does. For damage that
    /// [`Store::check_integrity`] found after a deferred open.
    pub fn recover(self, reason: &str, now: Timestamp) -> Result<Opened> {
        let Store { conn, path, encryption, options } = self;
        drop(conn);
        rebuild(&path, encryption, &options, now, reason.to_string())
    }

    fn new(conn: Connection, path: &Path, encryption: Encryption, options: &Options) -> Result<Self> {
        restrict_sidecar_files(path)?;
        Ok(Store { conn: Mutex::new(conn), path: path.to_path_buf(), encryption, options: options.clone() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal mode and synchronous level in force, read back from SQLite.
    pub fn durability(&self) -> Result<Durability> {
        let conn = self.conn();
        let journal_mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        let cipher: Option<String> = conn
            .query_row("PRAGMA cipher_version", [], |r| r.get(0))
            .ok()
            .filter(|_| matches!(self.encryption, Encryption::Key(_)));
        Ok(Durability { journal_mode, synchronous, encrypted: cipher.is_some() })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction
        // behind (rusqlite rolls back on drop), so a poisoned lock is usable.
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` in one transaction; returns after the commit is durable.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Moves the unreadable file aside, creates a fresh one and salvages rows.
fn rebuild(path: &Path, encryption: Encryption, options: &Options, now: Timestamp, reason: String) -> Result<Opened> {
    let aside = recovery::move_aside(path, now)?;
    prepare_file(path)?;
    let (mut conn, _) = open_checked(path, &encryption, options).map_err(|r| match r {
        Refused::Fatal(e) => e,
        Refused::Unreadable(reason) => Error::Invalid { what: "new database", reason },
    })?;
    let open_damaged = || {
        let damaged = Connection::open_with_flags(&aside, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        apply_key(&damaged, &encryption)?;
        Ok(damaged)
    };
    let report = recovery::salvage(&mut conn, &aside, reason, &open_damaged)?;
    reset_interrupted_sends(&conn)?;
    Ok(Opened { store: Store::new(conn, path, encryption, options)?, recovery: Some(report), migrated_from: None })
}

fn open_checked(path: &Path, encryption: &Encryption, options: &Options) -> Result<(Connection, Option<i64>), Refused> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    apply_key(&conn, encryption)?;
    // Another process may be creating or migrating the same file this
    // instant (two headless agents): wait for its lock rather than take a
    // busy file for a damaged one.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Read before anything writes: a newer file must stay byte-for-byte as it was.
    let found = schema::version(&conn)?;
    if found > schema::CURRENT_VERSION {
        return Err(Refused::Fatal(Error::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: schema::CURRENT_VERSION,
        }));
    }
    let problems = match options.integrity {
        IntegrityCheck::AtOpen => integrity_problems(&conn)?,
        // Reading the schema decrypts and verifies its pages at least.
        IntegrityCheck::Deferred => {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))?;
            Vec::new()
        }
    };
    if !problems.is_empty() {
        let all = problems.join("\n");
        let shown: Vec<&str> = all.lines().filter(|l| !l.starts_with("***")).take(3).collect();
        return Err(Refused::Unreadable(format!("integrity check failed: {}", shown.join("; "))));
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Refused::Fatal(Error::Invalid { what: "journal mode", reason: format!("SQLite kept {mode}") }));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")?;
    if let Some(bytes) = options.max_size_bytes {
        // SQLCipher answers `page_size` as text (it is its `cipher_page_size`).
        let page_size = match conn.query_row("PRAGMA page_size", [], |r| r.get::<_, rusqlite::types::Value>(0))? {
            rusqlite::types::Value::Integer(n) => n,
            rusqlite::types::Value::Text(t) => t.parse().unwrap_or(4096),
            _ => 4096,
        };
        let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(512);
        let _: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))?;
    }
    let migrated_from = (found < schema::CURRENT_VERSION).then_some(found);
    schema::migrate(&mut conn)?;
    reset_interrupted_sends(&conn)?;
    Ok((conn, migrated_from.or(Some(found))))
}

fn apply_key(conn: &Connection, encryption: &Encryption) -> rusqlite::Result<()> {
    // Our errors carry the cause; SQLCipher's own log would only add noise on stderr.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    if let Encryption::Key(key) = encryption {
        // Raw key syntax: the 32 bytes are the key, so opening needs no KDF.
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.expose_hex().as_str()))?;
    }
    Ok(())
}

/// `PRAGMA quick_check`: a full structural check of every page and b-tree
/// (it skips only the index-vs-table cross check, which is what makes the
/// full `integrity_check` too slow for start-up).
fn integrity_problems(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut problems = Vec::new();
    for row in rows {
        let row = row?;
        if row != "ok" {
            problems.push(row);
        }
    }
    Ok(problems)
}

/// A send that was in flight when the process died may or may not have
/// reached the CRM; sending it again with the same idempotency key is safe.
fn reset_interrupted_sends(conn: &Connection) -> Result<()> {
    let has_outbox: bool =
        conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'outbox'", [], |r| r.get(0))?;
    if has_outbox {
        conn.execute("UPDATE outbox SET state = 'pending' WHERE state = 'in_flight'", [])?;
    }
    Ok(())
}

/// Creates the parent directory (0700) and the file (0600) before SQLite
/// does, so the modes do not depend on the process umask.
fn prepare_file(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(parent).map_err(Error::io("create the directory", parent))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(Error::io("create", path))?;
    restrict(path)
}

/// SQLite gives -wal and -shm the main file's mode when it creates them;
/// this makes sure of it for files left by an older version or another tool.
fn restrict_sidecar_files(path: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm"] {
        let sidecar = sidecar(path, suffix);
        if sidecar.exists() {
            restrict(&sidecar)?;
        }
    }
    Ok(())
}

pub(crate) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(Error::io("restrict", path))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<()> {
    // Windows and macOS profile directories are private to the user already.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::mock_keyring;

    #[test]
    fn new_database_gets_a_key_that_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let keyring = mock_keyring();
        let first = database_key(&keyring, &path).expect("key");
        assert_eq!(first.len(), 32);
        let again = database_key(&keyring, &path).expect("key");
        assert_eq!(first.expose_bytes(), again.expose_bytes());
    }

    #[test]
    fn existing_database_without_key_fails_closed_and_is_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        std::fs::write(&path, b"not empty").expect("write");
        let err = Store::open(&path, &mock_keyring(), &Options::default(), Timestamp::from_millis(0))
            .expect_err("must refuse");
        assert!(matches!(err, Error::KeyMissing { .. }), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), b"not empty");
    }

    #[test]
    fn opened_database_is_wal_full_and_encrypted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let opened = Store::open(&path, &mock_keyring(), &Options::default(), Timestamp::from_millis(0)).expect("open");
        let d = opened.store.durability().expect("durability");
        assert_eq!(d, Durability { journal_mode: "wal".into(), synchronous: 2, encrypted: true });
        assert!(opened.recovery.is_none());
        let header = std::fs::read(&path).expect("read");
        assert!(!header.starts_with(b"SQLite format 3"), "an encrypted file has no plaintext header");
    }

    #[test]
    fn the_store_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync>() {}
        shared::<Store>();
    }

    #[test]
    fn default_path_is_in_the_data_dir() {
        if let Ok(p) = default_path() {
            assert!(p.ends_with("warmline/warmline.db"), "{}", p.display());
        }
    }
}
