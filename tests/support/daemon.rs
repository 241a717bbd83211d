//! Third-party servers for interop tests (rtpengine, coturn, ...): each runs
//! in the foreground as our child, in a temporary directory of its own (pid
//! file, log, database), on ports picked for it, and is killed on drop.
//!
//! Waiting for a server to come up is the one place tests poll: a probe
//! (a request on its port) is retried until a deadline, and an early exit
//! fails at once with the server's log.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed on drop.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `program` with `args` in a fresh temporary directory (its
    /// working directory); `args` may name files in it through
    /// [`Daemon::dir_for`] before the start. Stdout and stderr go to
    /// `<dir>/<name>.out`.
    pub fn start(name: &str, dir: tempfile::TempDir, program: &str, args: &[String]) -> Result<Self, String> {
        let out = dir.path().join(format!("{name}.out"));
        let file = std::fs::File::create(&out).map_err(|e| format!("{name}: log file: {e}"))?;
        let err = file.try_clone().map_err(|e| format!("{name}: log file: {e}"))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {program} (installer/setup.sh installs it): {e}"))?;
        Ok(Self { name: name.to_owned(), child, dir })
    }

    /// A temporary directory for a server that is about to start.
    pub fn dir_for(name: &str) -> Result<tempfile::TempDir, String> {
        tempfile::Builder::new().prefix(&format!("warmline-{name}-")).tempdir().map_err(|e| format!("{name}: {e}"))
    }

    /// The server's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Retries `probe` until it succeeds or `limit` passes; fails early if
    /// the process exits. Each probe bounds its own wait (a socket timeout).
    pub fn wait_ready(&mut self, limit: Duration, mut probe: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if probe() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited with {status} before it was ready:\n{}", self.name, self.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!("{} was not ready within {limit:?}:\n{}", self.name, self.log_tail()));
            }
            // A third-party process starting: polling its port is the only signal there is.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of everything the server wrote (its own log files
    /// in its directory, then stdout/stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "log" || x == "out")) {
                if let Ok(content) = std::fs::read_to_string(path) {
                    let lines: Vec<&str> = content.lines().collect();
                    let start = lines.len().saturating_sub(40);
                    text.push_str(&format!("--- {}\n{}\n", path.display(), lines[start..].join("\n")));
                }
            }
        }
        text
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{} log on failure:\n{}", self.name, self.log_tail());
        }
    }
}

/// A loopback port free for both UDP and TCP right now (a server that
/// listens on both, like a TURN server, takes it next).
pub fn free_port() -> Result<u16, String> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = udp.local_addr().map_err(|e| format!("local addr: {e}"))?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free loopback port for both UDP and TCP".into())
}

/// A range of `len` ports for a server's media or relay sockets: below the
/// kernel's ephemeral range, so they do not collide with the sockets tests
/// open themselves, and spread by process id so parallel runs rarely share
/// one (a server skips ports that are taken in any case).
pub fn port_range(len: u16) -> (u16, u16) {
    let slots = 10_000 / len.max(2);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let slot = ((std::process::id() ^ nanos) % u32::from(slots)) as u16;
    let start = 20_000 + slot * len;
    (start, start + len - 1)
}
