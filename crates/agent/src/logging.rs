//! Logs for support: one file a day in the app's log directory, the last
//! seven kept, and every line passed through the credential redactor before
//! it reaches the disk or the terminal, so passwords, tokens and DTMF never
//! land in a log, even in the SIP trace (`[logging] sip_trace = true`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How many daily files are kept.
pub const KEEP_DAYS: usize = 7;

/// The directory logs go to by default (`~/.local/share/warmline/logs` on Linux).
pub fn default_dir() -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| d.join("warmline").join("logs"))
}

/// Days since the epoch to a civil date (proleptic Gregorian), for file names.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn today() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (y, m, d) = civil(i64::try_from(secs / 86_400).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Daily files `warmline-YYYY-MM-DD.log`, 0600, the oldest removed.
#[derive(Debug)]
struct Rotating {
    dir: PathBuf,
    day: String,
    file: Option<std::fs::File>,
}

impl Rotating {
    fn file(&mut self) -> Option<&mut std::fs::File> {
        let day = today();
        if self.file.is_none() || day != self.day {
            let path = self.dir.join(format!("warmline-{day}.log"));
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            self.file = options.open(&path).ok();
            self.day = day;
            prune(&self.dir);
        }
        self.file.as_mut()
    }
}

fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("warmline-") && n.ends_with(".log"))
        })
        .collect();
    logs.sort();
    let excess = logs.len().saturating_sub(KEEP_DAYS);
    for old in logs.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// Hands out writers that redact each record as a whole before writing it.
#[derive(Debug, Clone)]
struct Redacting {
    file: Option<Arc<Mutex<Rotating>>>,
    stderr: bool,
}

struct Record {
    sink: Redacting,
    buf: Vec<u8>,
}

impl Write for Record {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = warmline_secrets::redact(&text);
        if let Some(file) = &self.sink.file
            && let Ok(mut r) = file.lock()
            && let Some(f) = r.file()
        {
            let _ = f.write_all(clean.as_bytes());
        }
        if self.sink.stderr {
            let _ = std::io::stderr().write_all(clean.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        Record { sink: self.clone(), buf: Vec::with_capacity(256) }
    }
}

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The directory for daily files; `None`: no files.
    pub dir: Option<PathBuf>,
    /// `error`, `warn`, `info`, `debug` or `trace` (`RUST_LOG` overrides).
    pub level: String,
    /// Also write to stderr.
    pub stderr: bool,
}

/// Installs the global logger. Returns the directory files go to. Fails
/// only if the directory cannot be made; a second call keeps the first
/// logger.
pub fn init(settings: &LogSettings) -> std::io::Result<Option<PathBuf>> {
    let file = match &settings.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
            Some(Arc::new(Mutex::new(Rotating { dir: dir.clone(), day: String::new(), file: None })))
        }
        None => None,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let writer = Redacting { file, stderr: settings.stderr };
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(writer).try_init();
    Ok(settings.dir.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_for_file_names() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_781), (2026, 11, 24));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn a_record_is_redacted_before_it_is_written_and_old_days_are_pruned() {
        let dir = tempfile::tempdir().expect("temp dir");
        for day in 1..=9 {
            std::fs::write(dir.path().join(format!("warmline-2026-01-0{day}.log")), "old").expect("old log");
        }
        let sink = Redacting {
            file: Some(Arc::new(Mutex::new(Rotating { dir: dir.path().to_owned(), day: String::new(), file: None }))),
            stderr: false,
        };
        {
            let mut w = sink.make_writer();
            w.write_all(b"INVITE sip:a@b SIP/2.0\r\nAuthorization: Digest username=\"1001\", response=\"abc\"\r\n")
                .expect("write");
        }
        let written = std::fs::read_to_string(dir.path().join(format!("warmline-{}.log", today()))).expect("log");
        assert!(written.contains("Authorization: Digest [redacted]"), "{written}");
        assert!(!written.contains("response="), "{written}");
        let files = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(files, KEEP_DAYS, "only the last {KEEP_DAYS} days are kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(format!("warmline-{}.log", today())))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "logs are readable by the user only");
        }
    }
}
