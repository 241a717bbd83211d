//! Kamailio on loopback for one test: its own ports, runtime directory and
//! pid file, the config kept in `tests/interop/kamailio/kamailio.cfg`, its
//! stderr in `target/test-artifacts/interop/<test>-kamailio.log`; stopped
//! when dropped.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{TcpListener, TcpStream, UdpSocket};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Kamailio may take to start listening (it takes well under a
/// second here; the deadline is a failure guard).
const START_LIMIT: Duration = Duration::from_secs(20);

/// The SIP domain the test users register in (an alias in the config).
pub const DOMAIN: &str = "warmline.test";

/// A running Kamailio.
#[derive(Debug)]
pub struct Kamailio {
    child: Child,
    /// The WebSocket (TCP) port.
    pub ws_port: u16,
    /// The UDP port (for sipp).
    pub udp_port: u16,
    secret: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// A random token from the standard library's per-process hash keys: enough
/// for a throwaway test secret, with no extra dependency.
pub fn random_token() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    let a = h.finish();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free TCP port")
}

/// A free loopback UDP port (bound, then released for the next user).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free UDP port")
}

fn config_path() -> PathBuf {
    warmline_e2e::workspace_root().join("tests/interop/kamailio/kamailio.cfg")
}

impl Kamailio {
    /// Starts Kamailio for the test named `test` and waits until both its
    /// WebSocket and UDP sockets answer. Panics with the log on failure.
    pub fn start(test: &str) -> Self {
        Self::start_with(test, None)
    }

    /// Starts Kamailio with every SDP offer and answer anchored at the
    /// rtpengine whose ng control socket is `ng` (the config's MEDIA route).
    pub fn start_with_media_relay(test: &str, ng: std::net::SocketAddr) -> Self {
        Self::start_with(test, Some(ng))
    }

    fn start_with(test: &str, relay: Option<std::net::SocketAddr>) -> Self {
        // The ports are free when picked but could be taken before Kamailio
        // binds them; a second try with new ports covers that race.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(test, relay) {
                Ok(k) => return k,
                Err(e) => last = e,
            }
        }
        panic!("Kamailio did not start: {last}");
    }

    fn try_start(test: &str, relay: Option<std::net::SocketAddr>) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("warmline-kamailio-").tempdir().map_err(|e| e.to_string())?;
        let (ws_port, udp_port) = (free_tcp_port(), free_udp_port());
        let secret = random_token();
        let log = warmline_e2e::artifacts_dir("interop").join(format!("{test}-kamailio.log"));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let stderr = file.try_clone().map_err(|e| e.to_string())?;
        let run = dir.path().display().to_string();
        let relay_args = match relay {
            Some(ng) => {
                vec!["-A".to_owned(), "WITH_RTPENGINE".into(), "-A".into(), format!("RTPENGINE_SOCK=\"udp:{ng}\"")]
            }
            None => Vec::new(),
        };
        let mut command = Command::new("kamailio");
        // Its own process group, so that Drop can end it and its children
        // at once (see Drop). Kamailio is a Unix program: on Windows these
        // tests build but do not run (docs/windows.md).
        #[cfg(unix)]
        command.process_group(0);
        let child = command
            .arg("-f")
            .arg(config_path())
            .args(["-DD", "-E", "-m", "64", "-M", "8"])
            .args(["-Y", &run, "-w", &run, "-P", &format!("{run}/kamailio.pid")])
            .args(["-l", &format!("udp:127.0.0.1:{udp_port}"), "-l", &format!("tcp:127.0.0.1:{ws_port}")])
            .args(["-A", &format!("WS_PORT={ws_port}")])
            // A define, never logged by the config; it is on this
            // process's command line only for the length of the test.
            .args(["-A", &format!("AUTH_SECRET=\"{secret}\"")])
            .args(&relay_args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot run kamailio (installer/setup.sh installs it): {e}"))?;
        let mut k = Self { child, ws_port, udp_port, secret, log, _dir: dir };
        k.wait_ready()?;
        Ok(k)
    }

    /// Polls the WebSocket port until it accepts and the UDP socket until
    /// an OPTIONS is answered: waiting for a third-party process is the one
    /// place these tests poll, under a deadline.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_LIMIT;
        let udp = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        udp.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
        let local = udp.local_addr().map_err(|e| e.to_string())?;
        let options = format!(
            "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{port}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@{DOMAIN}>;tag=ready\r\nTo: <sip:{DOMAIN}>\r\n\
             Call-ID: ready-{port}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            port = local.port()
        );
        let (mut tcp_ok, mut udp_ok) = (false, false);
        while !(tcp_ok && udp_ok) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("kamailio exited with {status}:\n{}", self.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!("kamailio not listening within {START_LIMIT:?}:\n{}", self.log_tail()));
            }
            if !tcp_ok {
                tcp_ok = TcpStream::connect_timeout(&([127, 0, 0, 1], self.ws_port).into(), Duration::from_millis(100))
                    .is_ok();
            }
            if !udp_ok {
                let _ = udp.send_to(options.as_bytes(), ("127.0.0.1", self.udp_port));
                let mut buf = [0u8; 2048];
                // Blocks up to the read timeout: this is the poll interval.
                udp_ok = udp.recv(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"SIP/2.0 200"));
            } else if !tcp_ok {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// The WebSocket URL Warmline connects to.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.ws_port)
    }

    /// Where sipp sends its requests.
    pub fn udp_addr(&self) -> String {
        format!("127.0.0.1:{}", self.udp_port)
    }

    /// The password the config derives for `user`.
    pub fn password(&self, user: &str) -> String {
        format!("{user}-{}", self.secret)
    }

    /// The in-dialog requests Kamailio loose-routed so far, by method (the
    /// config logs each one).
    pub fn loose_routed(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split("in-dialog ").nth(1)?.strip_suffix(" loose-routed").map(str::to_owned))
            .collect()
    }

    /// How many SIP messages Kamailio handed to rtpengine (the config logs
    /// each one), by method.
    pub fn anchored(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| l.split("media of ").nth(1)?.strip_suffix(" anchored").map(str::to_owned)).collect()
    }

    /// The last lines of Kamailio's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {} (last 60 lines)\n{}", self.log.display(), lines[lines.len().saturating_sub(60)..].join("\n"))
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGKILL to the whole process group, never SIGTERM: Kamailio 5.6 run
        // in the foreground (-DD) stops its children on SIGTERM by walking
        // its process table, and a run where the whole machine received
        // SIGTERM (make, nextest, every shell) coincided with that shutdown.
        // Killing the group needs no cooperation and leaves no child behind.
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}
