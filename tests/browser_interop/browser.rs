//! Debian's headless Chromium as a SIP phone: the JsSIP page in `page/`,
//! served by a loopback HTTP server this file starts, driven by
//! `page/driver.mjs` (playwright-core) over JSON lines on its stdin and
//! stdout. Chromium's fake microphone plays a WAV tone written per test;
//! what the page hears is measured per 20 ms window in the page (see
//! `page/listener.js`). Every SDP the page sends or receives is printed
//! and kept in `target/test-artifacts/browser_interop/<test>-sdp.txt`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::kamailio::{DOMAIN, Kamailio};

/// The failure guard of every wait; nothing here takes near this long.
pub const GUARD: Duration = Duration::from_secs(30);
/// A tone's share of a window's energy for it to count as heard (as
/// `warmline_e2e::agent` measures the agent's speaker).
const MIN_RATIO: f64 = 0.3;

fn page_dir() -> PathBuf {
    warmline_e2e::workspace_root().join("tests/browser_interop/page")
}

/// A loopback HTTP server for the page: GET of a file in `page/` (`/` is
/// `index.html`), or of the JsSIP bundle the driver writes into `work`.
struct PageServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl PageServer {
    fn start(work: PathBuf) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
        let port = listener.local_addr().expect("page server address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream, &work);
                }
            }
        });
        PageServer { port, stop }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, work: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/");
    let file = match path {
        "/" | "/index.html" => Some(page_dir().join("index.html")),
        "/phone.js" | "/listener.js" => Some(page_dir().join(&path[1..])),
        "/jssip.js" => Some(work.join("jssip.js")),
        _ => None,
    };
    let mut out = stream;
    match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
        Some((f, body)) => {
            let kind = if f.extension().is_some_and(|e| e == "html") { "text/html" } else { "text/javascript" };
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(&body)
        }
        None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

/// One SDP the page handed to or got from its RTCPeerConnection.
#[derive(Debug, Clone)]
pub struct Sdp {
    /// The page's session number.
    pub session: u64,
    /// `local` (Chromium's) or `remote` (ours, as Kamailio relayed it).
    pub originator: String,
    /// `offer` or `answer`.
    pub kind: String,
    /// The SDP itself.
    pub sdp: String,
}

/// Where the page's microphone track comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Chromium's fake capture device playing the test's WAV tone (the
    /// path a real microphone takes).
    Capture,
    /// A WebAudio oscillator through a MediaStreamDestination.
    Oscillator,
}

/// The phone in the browser.
pub struct Browser {
    /// A name for messages (the SIP user).
    pub user: String,
    test: String,
    pgid: u32,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: UnboundedReceiver<Value>,
    backlog: Vec<Value>,
    history: Vec<String>,
    next: u64,
    /// Every SDP seen, in order.
    pub sdps: Vec<Sdp>,
    _server: PageServer,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("user", &self.user).finish_non_exhaustive()
    }
}

/// A WAV file of `seconds` of `hz` (48 kHz mono, half scale), which
/// Chromium's fake microphone plays in a loop.
fn tone_wav(path: &Path, hz: f32, seconds: usize) {
    let mut g = warmline_media::tone::ToneGenerator::new(48_000, hz, 0.5);
    let samples = g.next_frame(48_000 * seconds);
    warmline_media::backend::write_wav(path, &samples).expect("write the tone file");
}

impl Browser {
    /// Starts Chromium with the page, its microphone playing `tone` Hz,
    /// listening for `listen_for`, and registers `user` at Kamailio.
    pub async fn start(
        test: &str,
        kamailio: &Kamailio,
        user: &str,
        (source, tone): (Source, f32),
        listen_for: &[f32],
    ) -> Browser {
        let page = page_dir();
        assert!(
            page.join("node_modules/jssip").is_dir() && page.join("node_modules/playwright-core").is_dir(),
            "{} has no node_modules: run installer/setup.sh (npm ci there)",
            page.display()
        );
        let dir = tempfile::Builder::new().prefix("warmline-browser-").tempdir().expect("temp dir");
        let wav = dir.path().join("tone.wav");
        // A whole number of periods of every tone used here in 1 s: no click
        // where the loop starts again.
        tone_wav(&wav, tone, 1);
        let server = PageServer::start(dir.path().to_owned());
        let url = format!("http://127.0.0.1:{}/", server.port);
        let mut command = std::process::Command::new("node");
        command
            .arg(page.join("driver.mjs"))
            .arg(&url)
            .arg(&wav)
            .arg(dir.path())
            .current_dir(&page)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        // Its own process group: Drop ends node and every Chromium process
        // under it at once.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = tokio::process::Command::from(command).spawn().expect("run node (installer/setup.sh)");
        let pgid = child.id().expect("driver pid");
        let stdin = child.stdin.take().expect("driver stdin");
        let stdout = child.stdout.take().expect("driver stdout");
        let (tx, lines) = unbounded_channel();
        let who = user.to_owned();
        tokio::spawn(async move {
            let mut out = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = out.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v.get("log").is_some() => println!("[{who} page] {}", v["log"].as_str().unwrap_or("")),
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => println!("[{who} driver] {line}"),
                }
            }
        });
        let mut browser = Browser {
            user: user.to_owned(),
            test: test.to_owned(),
            pgid,
            child,
            stdin,
            lines,
            backlog: Vec::new(),
            history: Vec::new(),
            next: 1,
            sdps: Vec::new(),
            _server: server,
            _dir: dir,
        };
        let version = browser.line("the driver to be ready", |v| v.get("ready").map(|_| v["version"].clone())).await;
        println!("[{user}] Chromium {version} at {url}, microphone {source:?} at {tone} Hz");
        let tones: Vec<f64> = listen_for.iter().map(|&f| f64::from(f)).collect();
        browser
            .call(
                "start",
                json!([{
                    "wsUrl": kamailio.ws_url(),
                    "uri": format!("sip:{user}@{DOMAIN}"),
                    "authUser": user,
                    "password": kamailio.password(user),
                    "displayName": format!("Browser {user}"),
                    "listenFor": tones,
                    "source": match source { Source::Capture => "capture", Source::Oscillator => "oscillator" },
                    "toneHz": f64::from(tone),
                }]),
            )
            .await;
        browser
            .fact("registered", |f| match f["type"].as_str() {
                Some("registered") => Some(()),
                Some("registrationFailed") => panic!("the browser's registration failed: {f}"),
                _ => None,
            })
            .await;
        browser
    }

    /// Reads the driver's lines until `pick` takes one; facts read meanwhile
    /// are kept for [`Browser::fact`].
    async fn line<T>(&mut self, what: &str, mut pick: impl FnMut(&Value) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) => {
                    if let Some(t) = pick(&v) {
                        return t;
                    }
                    if let Some(fact) = v.get("fact") {
                        self.note(fact.clone());
                    }
                }
                Ok(None) => panic!("{}: the driver ended while waiting for {what}; saw {:#?}", self.user, self.history),
                Err(_) => panic!("{}: no {what} within {GUARD:?}; saw {:#?}", self.user, self.history),
            }
        }
    }

    fn note(&mut self, fact: Value) {
        if fact["type"] == "sdp" {
            let sdp = Sdp {
                session: fact["session"].as_u64().unwrap_or(0),
                originator: fact["originator"].as_str().unwrap_or("?").to_owned(),
                kind: fact["kind"].as_str().unwrap_or("?").to_owned(),
                sdp: fact["sdp"].as_str().unwrap_or("").to_owned(),
            };
            let who = if sdp.originator == "local" { "Chromium" } else { "to Chromium" };
            println!(
                "--- SDP {} {} (page session {}), {who}:\n{}",
                sdp.originator,
                sdp.kind,
                sdp.session,
                sdp.sdp.trim_end()
            );
            let file = warmline_e2e::artifacts_dir("browser_interop").join(format!("{}-sdp.txt", self.test));
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
                let _ = writeln!(f, "--- {} {} (page session {})\n{}", sdp.originator, sdp.kind, sdp.session, sdp.sdp);
            }
            self.sdps.push(sdp);
            return;
        }
        self.history.push(fact.to_string());
        self.backlog.push(fact);
    }

    /// Runs `window.phone.<name>(...args)` in the page and returns its value.
    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let line = format!("{}\n", json!({"id": id, "call": name, "args": args}));
        self.stdin.write_all(line.as_bytes()).await.expect("write to the driver");
        self.stdin.flush().await.expect("flush to the driver");
        let reply =
            self.line(&format!("the reply to {name}"), |v| (v["id"].as_u64() == Some(id)).then(|| v.clone())).await;
        if reply["ok"] != true {
            panic!("{}: phone.{name}({args}) failed: {}", self.user, reply["error"]);
        }
        reply["value"].clone()
    }

    /// Waits for the first fact (seen already or still to come) `pick` takes.
    pub async fn fact<T>(&mut self, what: &str, mut pick: impl FnMut(&Value) -> Option<T>) -> T {
        if let Some((i, t)) = self.backlog.iter().enumerate().find_map(|(i, f)| pick(f).map(|t| (i, t))) {
            self.backlog.remove(i);
            return t;
        }
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let Ok(v) = tokio::time::timeout_at(deadline, self.lines.recv()).await else {
                panic!("{}: no {what} within {GUARD:?}; saw {:#?}", self.user, self.history)
            };
            let Some(v) = v else { panic!("{}: the driver ended while waiting for {what}", self.user) };
            let Some(fact) = v.get("fact").cloned() else { continue };
            if fact["type"] != "sdp"
                && let Some(t) = pick(&fact)
            {
                self.history.push(fact.to_string());
                return t;
            }
            self.note(fact);
        }
    }

    /// Waits for a ringing call; returns the page's session number.
    pub async fn incoming(&mut self) -> u64 {
        self.fact("an incoming call", |f| (f["type"] == "incoming").then(|| f["session"].as_u64().unwrap_or(0))).await
    }

    /// Waits for a session of the page (any, if `None`) to be confirmed
    /// (the 2xx and its ACK); returns its number.
    pub async fn confirmed(&mut self, session: Option<u64>) -> u64 {
        self.fact("a confirmed call", |f| {
            let s = f["session"].as_u64()?;
            (f["type"] == "confirmed" && session.is_none_or(|w| w == s)).then_some(s)
        })
        .await
    }

    /// Waits for a session to end or fail; returns the cause JsSIP gives.
    pub async fn ended(&mut self, session: u64) -> String {
        self.fact(&format!("session {session} to end"), |f| {
            (matches!(f["type"].as_str(), Some("ended" | "failed")) && f["session"].as_u64() == Some(session))
                .then(|| f["cause"].as_str().unwrap_or("").to_owned())
        })
        .await
    }

    /// 20 ms windows the page has measured so far.
    pub async fn mark(&mut self) -> usize {
        self.call("mark", json!([])).await.as_u64().unwrap_or(0) as usize
    }

    /// The share of windows in `span` in which `hz` was heard, and how many
    /// windows that was.
    pub async fn heard(&mut self, span: (usize, usize), hz: f32) -> (f64, usize) {
        let v = self.call("heard", json!([span.0, span.1, f64::from(hz), MIN_RATIO])).await;
        (v["share"].as_f64().unwrap_or(0.0), v["windows"].as_u64().unwrap_or(0) as usize)
    }

    /// The page's audio clock, sessions and registration, for messages.
    pub async fn status(&mut self) -> Value {
        self.call("status", json!([])).await
    }

    /// The SDP summary lines of every SDP seen (see [`summary`]).
    pub fn sdp_summary(&self) -> String {
        self.sdps
            .iter()
            .map(|s| format!("[{} {} #{}] {}", s.originator, s.kind, s.session, summary(&s.sdp)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SIGKILL to the group: node and every Chromium process it started.
        let _ = std::process::Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.pgid)]).status();
        let _ = self.child.start_kill();
    }
}

/// What the docs need from an SDP, on one line: the audio codecs, BUNDLE,
/// rtcp-mux, the DTLS setup role, the header extensions, the direction and
/// the candidates' kinds.
pub fn summary(sdp: &str) -> String {
    let attr = |name: &str| -> Vec<&str> {
        sdp.lines().filter_map(|l| l.trim_end().strip_prefix("a=")?.strip_prefix(name)).collect()
    };
    let m = sdp.lines().find(|l| l.starts_with("m=audio")).unwrap_or("m=?");
    let codecs: Vec<&str> = attr("rtpmap:").iter().filter_map(|r| r.split_once(' ').map(|(_, c)| c)).collect();
    let opus_fmtp: Vec<&str> =
        attr("fmtp:").into_iter().filter(|f| f.contains("useinbandfec") || f.contains("minptime")).collect();
    let extmap: Vec<&str> = attr("extmap:")
        .iter()
        .filter_map(|e| e.split_whitespace().nth(1).map(|u| u.rsplit('/').next().unwrap_or(u)))
        .collect();
    let direction = ["sendrecv", "sendonly", "recvonly", "inactive"]
        .into_iter()
        .find(|d| sdp.lines().any(|l| l.trim_end() == format!("a={d}")))
        .unwrap_or("(none: sendrecv)");
    let candidates: Vec<String> = attr("candidate:")
        .iter()
        .filter_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            Some(format!("{}/{}:{}", f.get(7)?, f.get(2)?.to_lowercase(), f.get(4)?))
        })
        .collect();
    format!(
        "{m} | codecs {} | opus fmtp {} | BUNDLE {} | rtcp-mux {} | setup {} | extmap {} | {direction} | candidates {}",
        codecs.join(","),
        opus_fmtp.join(";"),
        attr("group:BUNDLE").first().map_or("no".into(), |g| format!("yes ({})", g.trim())),
        if attr("rtcp-mux").is_empty() { "no" } else { "yes" },
        attr("setup:").join(","),
        if extmap.is_empty() { "none".into() } else { extmap.join(",") },
        candidates.join(" "),
    )
}
