//! The window under test: `warmline` launched through `tauri-driver` with a
//! lab scenario and a `$BROWSER` that completes the Microsoft 365 sign-in,
//! and the waits, look-ups and screenshots the tests share.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warmline_e2e::webdriver::{Element, Session, TauriDriver};
use warmline_e2e::{artifacts_dir, desktop_binary, picture_stats, require_session};

/// One window at a time: each embeds a lab and shares the session's
/// keyring and lab database, so tests in this binary take turns even under
/// plain `cargo test` (nextest runs them one at a time anyway).
static ONE_WINDOW: Mutex<()> = Mutex::new(());

/// How long the lab may take to do something a person would wait for: a
/// sign-in, a call arriving, an expert answering, a CRM write.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A running window and what it needs.
pub struct Desk {
    pub app: Session,
    pub artifacts: PathBuf,
    // Dropped after `app`: the driver takes the app with it; the lock last.
    _driver: TauriDriver,
    _browser_dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Desk {
    /// Launches the window on `scenario` (a file in `tests/desktop/`).
    pub fn launch(suite: &str, scenario: &str) -> Desk {
        require_session();
        let turn = ONE_WINDOW.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let artifacts = artifacts_dir(&format!("desktop/{suite}"));
        let _ = std::fs::remove_file(artifacts.join("timeout.png"));
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("desktop").join(scenario);
        assert!(scenario.is_file(), "{} is missing", scenario.display());
        // The system browser for the Microsoft 365 sign-in: fetching the
        // authorize URL is enough, as the lab's consent is "auto" and
        // redirects to the app's loopback listener.
        let browser_dir = tempfile::tempdir().expect("temp dir");
        let browser = browser_dir.path().join("browser.sh");
        std::fs::write(&browser, "#!/bin/sh\nexec curl -sL -o /dev/null \"$1\"\n").expect("write browser script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).expect("chmod browser script");
        }
        let env: [(&str, &OsStr); 2] =
            [("BROWSER", browser.as_os_str()), ("WARMLINE_LAB_SCENARIO", scenario.as_os_str())];
        let driver =
            TauriDriver::start_with_env(&artifacts.join("tauri-driver.log"), &env).expect("tauri-driver starts");
        let app = driver.session(&desktop_binary(), &[]).expect("launch the warmline window");
        Desk { app, artifacts, _driver: driver, _browser_dir: browser_dir, _turn: turn }
    }

    /// Polls `probe` until it returns `Some`, failing after `within`.
    pub fn wait<T>(&self, what: &str, within: Duration, mut probe: impl FnMut(&Session) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = probe(&self.app) {
                return v;
            }
            if Instant::now() > deadline {
                let png = self.app.screenshot().unwrap_or_default();
                let path = self.artifacts.join("timeout.png");
                let _ = std::fs::write(&path, png);
                panic!("timed out after {within:?} waiting for {what} (window: {})", path.display());
            }
            // A poll interval, not a synchronisation: the deadline decides.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the app has written `line` to its standard error (which
    /// tauri-driver's log keeps), for what the page cannot show.
    pub fn wait_log(&self, what: &str, line: &str) {
        let log = self.artifacts.join("tauri-driver.log");
        self.wait(what, PATIENCE, |_| {
            std::fs::read_to_string(&log).ok().filter(|text| text.contains(line)).map(|_| ())
        });
    }

    /// Runs `script` (which returns a value) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.app.execute(script).unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The text of the first element matching `css`, or `None` if there is none.
    pub fn text_now(&self, css: &str) -> Option<String> {
        let v = self
            .app
            .execute_with(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : null;",
                json!([css]),
            )
            .ok()?;
        v.as_str().map(str::to_string)
    }

    /// How many elements match `css` now.
    pub fn count(&self, css: &str) -> usize {
        self.app
            .execute_with("return document.querySelectorAll(arguments[0]).length;", json!([css]))
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as usize
    }

    /// Waits until an element matching `css` has text that `ok` accepts.
    pub fn wait_text(&self, what: &str, css: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait(what, PATIENCE, |_| self.text_now(css).filter(|t| ok(t)))
    }

    /// Waits until something matches `css`.
    pub fn wait_for(&self, what: &str, css: &str) -> Element {
        self.wait(what, PATIENCE, |_| (self.count(css) > 0).then_some(()));
        self.app.find(css).unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Waits until nothing matches `css`.
    pub fn wait_gone(&self, what: &str, css: &str) {
        self.wait(what, PATIENCE, |_| (self.count(css) == 0).then_some(()));
    }

    /// Clicks the element with this `data-testid`.
    pub fn click(&self, test_id: &str) {
        let el = self.app.by_test_id(test_id).unwrap_or_else(|e| panic!("{test_id}: {e}"));
        self.app.click(&el).unwrap_or_else(|e| panic!("click {test_id}: {e}"));
    }

    /// The `data-testid` (or else the id, or the tag) of the focused element.
    pub fn focused(&self) -> String {
        self.js("const e = document.activeElement; \
             return e ? (e.getAttribute('data-testid') || e.id || e.tagName.toLowerCase()) : '';")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves a screenshot as `<name>.png` and checks it is not blank.
    pub fn shot(&self, name: &str) {
        let png = self.app.screenshot().expect("screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("save screenshot");
        let stats = picture_stats(&png).expect("decode screenshot");
        assert!(
            stats.width >= 600 && stats.height >= 400,
            "{}: the window has no real size: {stats:?}",
            path.display()
        );
        assert!(
            stats.distinct_colours >= 16 && stats.non_background_share > 0.02,
            "{} looks blank: {stats:?}",
            path.display()
        );
    }

    /// Opens Settings, picks `lang` ("en" or "es") and leaves the dialog open.
    pub fn open_settings_in(&self, lang: &str) {
        self.click("open-settings");
        let option = self.app.find(&format!("[data-testid=\"language\"] option[value=\"{lang}\"]")).expect("language");
        self.app.click(&option).expect("choose the language");
        self.wait(&format!("<html lang={lang}>"), PATIENCE, |_| {
            (self.js("return document.documentElement.lang;").as_str() == Some(lang)).then_some(())
        });
    }

    /// Closes the open dialog.
    pub fn close_dialog(&self) {
        self.click("dialog-close");
        self.wait_gone("the dialog to close", "[data-testid=\"dialog\"]");
    }

    /// Signs in to Microsoft 365 with the header's button and waits for the
    /// header to show `name`.
    pub fn sign_in(&self, name: &str) {
        // A previous window in this session may have left a refresh token
        // from another lab: its silent sign-in fails, then the button shows.
        self.wait_for("the Sign in button", "[data-testid=\"sign-in\"]");
        self.click("sign-in");
        self.wait_text("the signed-in name in the header", "[data-testid=\"health-1\"]", |t| t.contains(name));
    }

    /// Chooses a state in the header's state selector.
    pub fn choose_state(&self, value: &str) {
        let option = self
            .app
            .find(&format!("[data-testid=\"agent-state\"] option[value=\"{value}\"]"))
            .unwrap_or_else(|e| panic!("state {value}: {e}"));
        self.app.click(&option).unwrap_or_else(|e| panic!("choose {value}: {e}"));
        self.wait(&format!("the agent state {value}"), PATIENCE, |_| {
            let now = self.js("return document.querySelector('[data-testid=\"agent-state\"]').value;");
            // A call may arrive the moment the agent is available.
            let busy = value == "available" && now.as_str() == Some("on_call");
            (now.as_str() == Some(value) || busy).then_some(())
        });
    }
}

/// Whether the notes' status (in English) says the note is saved, on this
/// PC or in the CRM.
pub fn note_saved(status: &str) -> bool {
    status == "Saved on this PC" || status == "Saved in the CRM"
}
