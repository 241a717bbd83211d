//! Starting the agent: the configuration file when there is one, else the
//! embedded lab in-process (what `make run` shows a newcomer). Events go to
//! the window as `agent-update`, through the snapshot for late windows, and
//! an incoming call also raises an OS notification and the ringtone.

use std::sync::Mutex;

use tauri::{AppHandle, Manager};
use tauri_specta::Event as _;
use warmline_agent::alerting::Alerting;
use warmline_agent::session::{AudioInput, AudioOutput, SessionConfig, StoreSetup};
use warmline_agent::{AgentEvent, Config, Error, ErrorPayload, Session};

use crate::events::AgentUpdate;
use crate::shell::Shell;

/// What must live as long as the app: the embedded lab, when it runs.
#[derive(Default)]
pub struct Backing(pub Mutex<Option<warmline_lab::Lab>>);

impl std::fmt::Debug for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backing").finish_non_exhaustive()
    }
}

fn device(id: &str) -> Option<String> {
    (id != "default").then(|| id.to_owned())
}

/// Where the lab's records live: beside the real database, in their own file.
fn lab_store() -> Result<StoreSetup, Error> {
    let store_err = |e: warmline_store::Error| Error::Store(e.to_string());
    let real = warmline_store::default_path().map_err(store_err)?;
    let path = real.with_file_name("warmline-lab.db");
    let keyring = warmline_secrets::Keyring::open()?;
    let key = warmline_store::database_key(&keyring, &path).map_err(store_err)?;
    Ok(StoreSetup { path, encryption: warmline_store::Encryption::Key(key) })
}

async fn session_config(app: &AppHandle) -> Result<(SessionConfig, String), Error> {
    let audio = |c: &warmline_agent::config::AudioConfig| {
        (AudioInput::Device(device(&c.input)), AudioOutput::Device(device(&c.output)), c.ringer.clone())
    };
    match Config::locate(None).filter(|p| p.exists()) {
        Some(path) => {
            let config = Config::load(&path).map_err(|e| Error::Config(e.to_string()))?;
            let (input, output, ringer) = audio(&config.audio);
            let session = tauri::async_runtime::spawn_blocking(move || {
                SessionConfig::from_config_with_keyring(&config, input, output)
            })
            .await
            .map_err(|e| Error::Config(e.to_string()))??;
            Ok((session, ringer))
        }
        None => {
            let (input, output, ringer) = audio(&warmline_agent::config::AudioConfig::default());
            // A different lab scenario (tests, demos): WARMLINE_LAB_SCENARIO=FILE.
            let scenario = std::env::var_os("WARMLINE_LAB_SCENARIO").map(std::path::PathBuf::from);
            // The lab and the agent, composed here: the lab writes the
            // agent's configuration and hands over its secrets.
            let lab = warmline_lab::Lab::start_from(scenario.as_deref())
                .await
                .map_err(|e| Error::Config(format!("the embedded lab: {e}")))?;
            let sign_in = lab.agent_sign_in(None).map_err(|e| Error::Config(format!("the lab's agent: {e}")))?;
            let (_, mut session) = warmline_agent::embedded::lab_session(
                &sign_in.config,
                sign_in.password,
                &sign_in.crm_token,
                input,
                output,
            )?;
            session.store = Some(
                tauri::async_runtime::spawn_blocking(lab_store).await.map_err(|e| Error::Store(e.to_string()))??,
            );
            if let Some(backing) = app.try_state::<Backing>()
                && let Ok(mut backing_lab) = backing.0.lock()
            {
                *backing_lab = Some(lab);
            }
            Ok((session, ringer))
        }
    }
}

/// Starts the session and forwards its events until it ends.
pub async fn run(app: AppHandle) {
    let shell = app.state::<Shell>();
    let started = match session_config(&app).await {
        Ok((config, ringer)) => {
            shell.mark("the agent's configuration was read");
            Session::start(config).await.map(|s| (s, ringer))
        }
        Err(e) => Err(e),
    };
    shell.mark("the agent session started");
    let ((session, mut events), ringer) = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warmline: the agent session did not start: {e}");
            let payload = ErrorPayload::from(e);
            shell.failed(payload.clone());
            let _ = AgentUpdate(AgentEvent::Error(payload)).emit(&app);
            return;
        }
    };
    shell.started(session);
    let mut alerting = Alerting::new(device(&ringer));
    let tray = app.state::<crate::desktop::TrayState<tauri::Wry>>();
    // While it rings, the ringer device is checked for being unplugged.
    let mut ringer_check = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
            _ = ringer_check.tick(), if alerting.is_ringing() => {
                if let Some(what) = alerting.tick() {
                    eprintln!("warmline: {what}");
                }
                continue;
            }
        };
        shell.observe(&event);
        if let Ok(t) = tray.0.lock()
            && let Some(t) = t.as_ref()
        {
            t.on_event(&event);
        }
        if let Some(note) = alerting.on_event(&event) {
            notify(&note.title, &note.body);
        }
        if let Err(e) = AgentUpdate(event).emit(&app) {
            eprintln!("warmline: an event could not reach the window: {e}");
        }
    }
}

/// An OS notification (freedesktop notifications over D-Bus), raised from
/// Rust so the web view needs no notification permission.
fn notify(title: &str, body: &str) {
    // Some notification daemons read the body as markup: a caller's name
    // must show as text.
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let (title, body) = (title.to_owned(), escape(body));
    std::thread::spawn(move || {
        if let Err(e) = notify_rust::Notification::new()
            .appname("Warmline")
            .summary(&title)
            .body(&body)
            .urgency(notify_rust::Urgency::Critical)
            .show()
        {
            eprintln!("warmline: notification: {e}");
        }
    });
}
