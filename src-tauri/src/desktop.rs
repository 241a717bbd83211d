//! What the desktop adds around the window: the system tray (the agent's
//! state at a glance, state changes, show, quit), global shortcuts that work
//! while another application has the focus (answer, hang up, mute), and
//! closing the window to the tray so calls keep coming. All of it runs in
//! Rust on the agent API: the web view gets no extra permission.

use std::sync::Mutex;

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};
use warmline_agent::{AgentCommand, AgentEvent, AgentState, ChosenState};

use crate::shell::Shell;

/// The global shortcuts and what they do. Ctrl+Alt, so that they do not
/// take the in-window Ctrl+Shift keys from other applications.
pub const GLOBAL_SHORTCUTS: [(&str, GlobalAction); 3] = [
    ("ctrl+alt+KeyA", GlobalAction::Answer),
    ("ctrl+alt+KeyH", GlobalAction::Hangup),
    ("ctrl+alt+KeyM", GlobalAction::Mute),
];

/// What a global shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalAction {
    /// Answer the ringing call.
    Answer,
    /// Hang up the current call (or reject the ringing one).
    Hangup,
    /// Mute or unmute the microphone.
    Mute,
}

/// The command a global shortcut sends, given the session's state now:
/// whether a call rings here, whether another call is up (connected, held,
/// dialling), and whether the microphone is muted.
pub fn command_for(action: GlobalAction, ringing: bool, talking: bool, muted: bool) -> Option<AgentCommand> {
    match action {
        GlobalAction::Answer if ringing => Some(AgentCommand::Answer { call: None }),
        GlobalAction::Hangup if talking => Some(AgentCommand::Hangup { call: None }),
        GlobalAction::Hangup if ringing => Some(AgentCommand::Reject { call: None }),
        GlobalAction::Mute if talking => Some(AgentCommand::Mute { on: !muted }),
        _ => None,
    }
}

/// Registers the global shortcuts (X11 and Windows; Wayland has no global
/// grabs, and a combination another program holds is skipped): each one
/// logged, never fatal.
pub fn register_shortcuts<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let shortcuts: Vec<(Shortcut, GlobalAction)> =
        GLOBAL_SHORTCUTS.iter().filter_map(|(keys, action)| Some((keys.parse::<Shortcut>().ok()?, *action))).collect();
    let table = shortcuts.clone();
    app.plugin(
        tauri_plugin_global_shortcut::Builder::new()
            .with_handler(move |app, shortcut, event| {
                if event.state() != ShortcutState::Pressed {
                    return;
                }
                if let Some((_, action)) = table.iter().find(|(s, _)| s == shortcut) {
                    run_global(app, *action);
                }
            })
            .build(),
    )?;
    for (shortcut, action) in shortcuts {
        match app.global_shortcut().register(shortcut) {
            Ok(()) => eprintln!("warmline: global shortcut {shortcut} ({action:?})"),
            Err(e) => eprintln!("warmline: global shortcut {shortcut} ({action:?}) not available: {e}"),
        }
    }
    Ok(())
}

fn run_global<R: Runtime>(app: &AppHandle<R>, action: GlobalAction) {
    let shell = app.state::<Shell>();
    let (ringing, talking, muted) = shell.call_state();
    let Some(command) = command_for(action, ringing, talking, muted) else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        if let Err(e) = shell.command(command).await {
            eprintln!("warmline: global shortcut {action:?}: {}", e.message);
        }
    });
}

/// The tray's items that change with the agent's state.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    available: CheckMenuItem<R>,
    away: CheckMenuItem<R>,
    offline: CheckMenuItem<R>,
    words: &'static Words,
}

/// The tray's words in the system's language.
#[derive(Debug)]
pub struct Words {
    available: &'static str,
    away: &'static str,
    offline: &'static str,
    on_call: &'static str,
    wrap_up: &'static str,
    show: &'static str,
    quit: &'static str,
}

const ENGLISH: Words = Words {
    available: "Available",
    away: "Away",
    offline: "Offline",
    on_call: "On a call",
    wrap_up: "Wrap-up",
    show: "Show Warmline",
    quit: "Quit Warmline",
};

const SPANISH: Words = Words {
    available: "Disponible",
    away: "Ausente",
    offline: "Desconectado",
    on_call: "En llamada",
    wrap_up: "Cierre de llamada",
    show: "Mostrar Warmline",
    quit: "Salir de Warmline",
};

/// English or Spanish, from the locale variables as POSIX orders them.
pub fn words_for(locale: Option<&str>) -> &'static Words {
    match locale {
        Some(l) if l.to_ascii_lowercase().starts_with("es") => &SPANISH,
        _ => &ENGLISH,
    }
}

fn system_locale() -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"].iter().filter_map(|v| std::env::var(v).ok()).find(|v| !v.is_empty())
}

impl Words {
    /// How the tray names the agent's state.
    pub fn state(&self, state: &AgentState) -> String {
        match state {
            AgentState::Available => self.available.to_owned(),
            AgentState::Away { reason } if !reason.is_empty() => format!("{} ({reason})", self.away),
            AgentState::Away { .. } => self.away.to_owned(),
            AgentState::Offline => self.offline.to_owned(),
            AgentState::OnCall => self.on_call.to_owned(),
            AgentState::WrapUp { .. } => self.wrap_up.to_owned(),
        }
    }
}

/// Builds the tray. Where no tray host runs (a bare X server, GNOME
/// without the AppIndicator extension) it is simply not seen.
pub fn build_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let words = words_for(system_locale().as_deref());
    let status = MenuItem::with_id(app, "status", words.offline, false, None::<&str>)?;
    let available = CheckMenuItem::with_id(app, "available", words.available, true, false, None::<&str>)?;
    let away = CheckMenuItem::with_id(app, "away", words.away, true, false, None::<&str>)?;
    let offline = CheckMenuItem::with_id(app, "offline", words.offline, true, true, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", words.show, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", words.quit, true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &available,
            &away,
            &offline,
            &PredefinedMenuItem::separator(app)?,
            &show,
            &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id("warmline")
        .tooltip(format!("Warmline: {}", words.offline))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "available" => choose(app, ChosenState::Available),
            "away" => choose(app, ChosenState::Away),
            "offline" => choose(app, ChosenState::Offline),
            "show" => show_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    Ok(Tray { icon, status, available, away, offline, words })
}

impl<R: Runtime> Tray<R> {
    /// Follows the agent's state: the checked item, the status line and
    /// the tooltip.
    pub fn on_event(&self, event: &AgentEvent) {
        let AgentEvent::State { agent } = event else { return };
        let text = self.words.state(agent);
        let _ = self.status.set_text(&text);
        let _ = self.icon.set_tooltip(Some(format!("Warmline: {text}")));
        let _ = self.available.set_checked(matches!(agent, AgentState::Available));
        let _ = self.away.set_checked(matches!(agent, AgentState::Away { .. }));
        let _ = self.offline.set_checked(matches!(agent, AgentState::Offline));
    }
}

/// The tray, once built, for the event loop in `start.rs`.
pub struct TrayState<R: Runtime>(pub Mutex<Option<Tray<R>>>);

impl<R: Runtime> std::fmt::Debug for Tray<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tray").finish_non_exhaustive()
    }
}

impl<R: Runtime> std::fmt::Debug for TrayState<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayState").finish_non_exhaustive()
    }
}

impl<R: Runtime> Default for TrayState<R> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

fn choose<R: Runtime>(app: &AppHandle<R>, state: ChosenState) {
    let reason = None;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = app.state::<Shell>().command(AgentCommand::State { state, reason }).await {
            eprintln!("warmline: tray: {}", e.message);
        }
    });
}

/// WebKitGTK's accelerated compositing keeps layer backing stores for a
/// page that has no animation worth them: without it the web process
/// that renders our window holds about 110 MiB less (228 -> 112 MiB PSS,
/// release build, Xvfb), and the window looks the same. Linux only; the
/// bare window of the benchmark keeps WebKit's default, as a plain Tauri
/// app has it.
pub fn lighter_rendering<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// Brings the window back (from the tray, a second launch, a shortcut).
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_shortcuts_parse_and_act_on_the_state() {
        for (keys, _) in GLOBAL_SHORTCUTS {
            assert!(keys.parse::<Shortcut>().is_ok(), "{keys}");
        }
        use GlobalAction::*;
        assert_eq!(command_for(Answer, true, false, false), Some(AgentCommand::Answer { call: None }));
        assert_eq!(command_for(Answer, false, true, false), None, "nothing rings");
        assert_eq!(command_for(Hangup, true, false, false), Some(AgentCommand::Reject { call: None }));
        assert_eq!(
            command_for(Hangup, true, true, false),
            Some(AgentCommand::Hangup { call: None }),
            "the call up first"
        );
        assert_eq!(command_for(Hangup, false, true, false), Some(AgentCommand::Hangup { call: None }));
        assert_eq!(command_for(Hangup, false, false, false), None);
        assert_eq!(command_for(Mute, false, true, false), Some(AgentCommand::Mute { on: true }));
        assert_eq!(command_for(Mute, false, true, true), Some(AgentCommand::Mute { on: false }));
        assert_eq!(command_for(Mute, false, false, false), None, "no call, nothing to mute");
    }

    #[test]
    fn the_tray_speaks_the_system_language() {
        assert_eq!(words_for(Some("es_ES.UTF-8")).state(&AgentState::Available), "Disponible");
        assert_eq!(words_for(Some("en_GB.UTF-8")).state(&AgentState::Away { reason: "Lunch".into() }), "Away (Lunch)");
        assert_eq!(words_for(None).state(&AgentState::OnCall), "On a call");
        assert_eq!(words_for(Some("es")).state(&AgentState::WrapUp { seconds_left: 3 }), "Cierre de llamada");
    }
}
