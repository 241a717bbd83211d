//! A small W3C WebDriver client: just the calls the desktop tests use.
//! Waiting for elements is done by the driver (implicit wait), not by
//! sleeping here.

use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An error from the driver or the transport, with the driver's message.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(4444)
}

/// A running `tauri-driver`, killed on drop.
#[derive(Debug)]
pub struct TauriDriver {
    child: Child,
    port: u16,
}

impl TauriDriver {
    /// Starts `tauri-driver` on a free loopback port (with WebKitWebDriver
    /// on another) and waits until it accepts connections.
    pub fn start(log: &Path) -> Result<Self> {
        Self::start_with_env(log, &[])
    }

    /// As [`TauriDriver::start`], with extra environment variables that
    /// the driver passes on to the app it launches (`BROWSER`,
    /// `WARMLINE_LAB_SCENARIO`, ...).
    pub fn start_with_env(log: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Result<Self> {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(log).map_err(|e| Error(format!("driver log: {e}")))?;
        let log2 = log.try_clone().map_err(|e| Error(format!("driver log: {e}")))?;
        let mut command = Command::new("tauri-driver");
        // Its own process group, so WebKitWebDriver and the app go with it.
        // (These tests run on Linux only; Windows builds them, see docs/windows.md.)
        #[cfg(unix)]
        command.process_group(0);
        let child = command
            .envs(env.iter().copied())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| Error(format!("cannot start tauri-driver (installer/setup.sh installs it): {e}")))?;
        let driver = TauriDriver { child, port };
        // Readiness of other processes: tauri-driver accepts connections
        // before WebKitWebDriver behind it listens, so wait for both ports.
        let deadline = Instant::now() + Duration::from_secs(20);
        for p in [port, native] {
            let addr = SocketAddr::from(([127, 0, 0, 1], p));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    return Err(Error(format!(
                        "tauri-driver (port {port}, native {native}) did not start within 20 s"
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(driver)
    }

    /// Opens a session that launches `application`.
    pub fn session(&self, application: &Path, args: &[&str]) -> Result<Session> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(90)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({
            "capabilities": {"alwaysMatch": {"tauri:options": {
                "application": application.to_string_lossy(),
                "args": args,
            }}}
        });
        let v = call(&agent, "POST", &format!("{base}/session"), Some(caps))?;
        let id = v["sessionId"].as_str().ok_or_else(|| Error(format!("no session id in {v}")))?.to_string();
        let session = Session { agent, url: format!("{base}/session/{id}") };
        session.set_implicit_wait(Duration::from_secs(15))?;
        Ok(session)
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        // tauri-driver does not stop the WebKitWebDriver it started: end the group.
        // `--` matters: procps kill reads "-TERM -PID" as a signal to -1 (everything).
        let _ = Command::new("kill").args(["-s", "TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(b),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut response = response.map_err(|e| Error(format!("{method} {url}: {e}")))?;
    let status = response.status();
    let v: Value = response.body_mut().read_json().map_err(|e| Error(format!("{method} {url}: bad JSON: {e}")))?;
    if !status.is_success() {
        return Err(Error(format!("{method} {url}: {status}: {}", v["value"])));
    }
    Ok(v["value"].clone())
}

/// A WebDriver session: one running app window.
#[derive(Debug)]
pub struct Session {
    agent: ureq::Agent,
    url: String,
}

/// A reference to an element in the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        call(&self.agent, method, &format!("{}{path}", self.url), body)
    }

    /// How long element look-ups wait for the element to appear.
    pub fn set_implicit_wait(&self, wait: Duration) -> Result<()> {
        self.cmd("POST", "/timeouts", Some(json!({"implicit": wait.as_millis() as u64}))).map(drop)
    }

    /// Finds one element by CSS selector (waiting up to the implicit wait).
    pub fn find(&self, css: &str) -> Result<Element> {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})))?;
        v[ELEMENT_KEY]
            .as_str()
            .map(|s| Element(s.to_string()))
            .ok_or_else(|| Error(format!("{css}: no element in {v}")))
    }

    /// Finds an element by its `data-testid`.
    pub fn by_test_id(&self, id: &str) -> Result<Element> {
        self.find(&format!("[data-testid=\"{id}\"]"))
    }

    /// Every element matching a CSS selector (waiting up to the implicit
    /// wait for the first).
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css})))?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_string()))).collect())
            .unwrap_or_default())
    }

    /// Finds one element by CSS selector inside another.
    pub fn find_in(&self, parent: &Element, css: &str) -> Result<Element> {
        let v = self.cmd(
            "POST",
            &format!("/element/{}/element", parent.0),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT_KEY]
            .as_str()
            .map(|s| Element(s.to_string()))
            .ok_or_else(|| Error(format!("{css}: no element in {v}")))
    }

    /// Types text into an element (W3C "Element Send Keys").
    pub fn send_keys(&self, el: &Element, text: &str) -> Result<()> {
        self.cmd("POST", &format!("/element/{}/value", el.0), Some(json!({"text": text}))).map(drop)
    }

    /// Presses keys on whatever has the focus: each character of `keys`
    /// is pressed and released with the `modifiers` held (W3C actions;
    /// special keys are code points such as [`keys::TAB`]).
    pub fn press(&self, modifiers: &[&str], keys: &[&str]) -> Result<()> {
        let mut actions = Vec::new();
        for m in modifiers {
            actions.push(json!({"type": "keyDown", "value": m}));
        }
        for k in keys {
            for c in k.chars() {
                actions.push(json!({"type": "keyDown", "value": c.to_string()}));
                actions.push(json!({"type": "keyUp", "value": c.to_string()}));
            }
        }
        for m in modifiers.iter().rev() {
            actions.push(json!({"type": "keyUp", "value": m}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.cmd("POST", "/actions", Some(body))?;
        self.cmd("DELETE", "/actions", None).map(drop)
    }

    /// An element's attribute (`None` when it has none).
    pub fn attribute(&self, el: &Element, name: &str) -> Result<Option<String>> {
        Ok(self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)?.as_str().map(str::to_string))
    }

    /// Whether an element is enabled.
    pub fn enabled(&self, el: &Element) -> Result<bool> {
        Ok(self.cmd("GET", &format!("/element/{}/enabled", el.0), None)?.as_bool().unwrap_or(false))
    }

    /// Clicks an element.
    pub fn click(&self, el: &Element) -> Result<()> {
        self.cmd("POST", &format!("/element/{}/click", el.0), None).map(drop)
    }

    /// The rendered text of an element.
    pub fn text(&self, el: &Element) -> Result<String> {
        Ok(self.cmd("GET", &format!("/element/{}/text", el.0), None)?.as_str().unwrap_or_default().to_string())
    }

    /// The window's title.
    pub fn title(&self) -> Result<String> {
        Ok(self.cmd("GET", "/title", None)?.as_str().unwrap_or_default().to_string())
    }

    /// Runs a script in the page and returns its result.
    pub fn execute(&self, script: &str) -> Result<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Runs a script with arguments (`arguments[0]`, ...).
    pub fn execute_with(&self, script: &str, args: Value) -> Result<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Waits until the page has painted twice more, so a screenshot shows
    /// the DOM as the last assertion saw it.
    pub fn wait_for_paint(&self) -> Result<()> {
        let script = "const done = arguments[arguments.length - 1]; \
                      requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        self.cmd("POST", "/execute/async", Some(json!({"script": script, "args": []}))).map(drop)
    }

    /// A PNG screenshot of the window, after the next paint.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        self.wait_for_paint()?;
        let v = self.cmd("GET", "/screenshot", None)?;
        let b64 = v.as_str().ok_or_else(|| Error("screenshot was not a string".into()))?;
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| Error(format!("screenshot base64: {e}")))
    }

    /// Ends the session (the driver closes the app).
    pub fn close(self) -> Result<()> {
        self.cmd("DELETE", "", None).map(drop)
    }
}

/// W3C WebDriver code points for keys that are not characters.
pub mod keys {
    /// Tab.
    pub const TAB: &str = "\u{E004}";
    /// Enter (the main keyboard's).
    pub const ENTER: &str = "\u{E007}";
    /// Shift (left).
    pub const SHIFT: &str = "\u{E008}";
    /// Control (left).
    pub const CONTROL: &str = "\u{E009}";
    /// Escape.
    pub const ESCAPE: &str = "\u{E00C}";
    /// Space.
    pub const SPACE: &str = "\u{E00D}";
    /// Arrow down.
    pub const DOWN: &str = "\u{E015}";
}
