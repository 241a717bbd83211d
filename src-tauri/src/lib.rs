//! The Warmline desktop shell: Tauri commands and events over the
//! `warmline-agent` API, the window, and single-instance handling. No
//! business logic lives here: each command is a few lines that call the
//! agent and map its errors to `{code, message}`.
//!
//! Commands and events are declared once, in Rust; [`specta_builder`]
//! generates the UI's TypeScript bindings (`ui/src/lib/bindings.ts`), and a
//! test fails when the checked-in file drifts from what Rust declares.

use tauri::Manager;

pub mod commands;
pub mod desktop;
pub mod events;
pub mod shell;
pub mod start;

/// Where the generated TypeScript bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/bindings.ts";

/// Every command and event the UI can use, for the invoke handler and the
/// bindings generator alike.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::about::app_info,
            commands::about::restart_app,
            commands::agent::agent_command,
            commands::agent::agent_snapshot
        ])
        .events(tauri_specta::collect_events![events::AgentUpdate])
        .error_handling(tauri_specta::ErrorHandlingMode::Result)
}

/// The TypeScript bindings as Rust declares them now.
pub fn render_bindings() -> Result<String, String> {
    // One directory per call: tests in one process render at the same time.
    static RENDERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RENDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("warmline-bindings-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bindings.ts");
    specta_builder()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from the Rust commands and events by `make bindings`. Do not edit.\n"),
            &path,
        )
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(text)
}

/// What of the window is remembered between runs: where it was, its size,
/// and whether it was maximized (not whether it was hidden in the tray).
const WINDOW_STATE: tauri_plugin_window_state::StateFlags = tauri_plugin_window_state::StateFlags::POSITION
    .union(tauri_plugin_window_state::StateFlags::SIZE)
    .union(tauri_plugin_window_state::StateFlags::MAXIMIZED);

/// How long the global shortcuts wait for the window's UI before they are
/// registered anyway.
const SHORTCUTS_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the desktop app and blocks until it quits.
pub fn run() {
    let started = std::time::Instant::now();
    // WARMLINE_BARE=1: an empty Tauri window and nothing else, the baseline
    // `make bench` measures the app against; WARMLINE_BARE=lighter: the
    // same, rendered as the app renders (no accelerated compositing), for
    // the like-for-like line.
    let bare_mode = std::env::var("WARMLINE_BARE").ok();
    let bare = bare_mode.is_some();
    let bare_lighter = bare_mode.as_deref() == Some("lighter");
    let logs = warmline_agent::logging::LogSettings {
        dir: warmline_agent::logging::default_dir(),
        level: "info".into(),
        stderr: true,
    };
    if let Err(e) = warmline_agent::logging::init(&logs) {
        eprintln!("warmline: logs cannot be written: {e}");
    }
    let builder = specta_builder();
    let mut app = tauri::Builder::default()
        // First: a second launch focuses the running window instead of
        // registering a second SIP endpoint for the same agent.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| desktop::show_window(app)));
    if !bare {
        // Where the agent left the window, and its size, come back next
        // time (not whether it was hidden in the tray: it opens shown).
        app = app.plugin(tauri_plugin_window_state::Builder::default().with_state_flags(WINDOW_STATE).build());
    }
    let result = app
        .manage(desktop::TrayState::<tauri::Wry>::default())
        .manage(shell::Shell::new(started))
        .manage(start::Backing::default())
        .invoke_handler(builder.invoke_handler())
        .on_page_load(move |window, payload| {
            static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            let loaded = match payload.event() {
                tauri::webview::PageLoadEvent::Started => "the page started loading",
                tauri::webview::PageLoadEvent::Finished => "the page loaded",
            };
            window.state::<shell::Shell>().mark(loaded);
            if bare
                && matches!(payload.event(), tauri::webview::PageLoadEvent::Finished)
                && !READY.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                eprintln!("warmline: window ready {} ms after start", started.elapsed().as_millis());
            }
        })
        .setup(move |app| {
            let shell = app.state::<shell::Shell>();
            shell.mark("set-up");
            builder.mount_events(app);
            let config = app.config().app.windows.first().cloned().unwrap_or_default();
            let window = if bare {
                let url = tauri::WebviewUrl::App("bare.html".into());
                tauri::WebviewWindowBuilder::new(app, "main", url)
                    .title("Tauri")
                    .inner_size(config.width, config.height)
                    .build()?
            } else {
                tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?
            };
            shell.mark("the window was built");
            // The app renders lighter; so does the like-for-like bare window.
            if !bare || bare_lighter {
                desktop::lighter_rendering(&window);
            }
            if !bare {
                match desktop::build_tray(app.handle()) {
                    Ok(tray) => {
                        if let Ok(mut t) = app.state::<desktop::TrayState<tauri::Wry>>().0.lock() {
                            *t = Some(tray);
                        }
                        // With a tray, closing the window keeps the agent
                        // reachable: it hides, and the tray (or launching
                        // Warmline again) brings it back; Quit is in the tray.
                        let hide = window.clone();
                        window.on_window_event(move |event| {
                            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                                api.prevent_close();
                                let _ = hide.hide();
                                // The plugin writes its file only on exit; a
                                // session that ends without one keeps this.
                                use tauri_plugin_window_state::AppHandleExt;
                                let _ = hide.app_handle().save_window_state(WINDOW_STATE);
                            }
                        });
                    }
                    Err(e) => eprintln!("warmline: no system tray: {e}"),
                }
                shell.mark("the tray was built");
                // The global shortcuts wait for the window's UI: on X11 the
                // registration holds the main thread (the hotkey thread
                // answers every 50 ms), and done here it held back the
                // page's load by about 500 ms. Later, and off this thread,
                // it costs the window nothing.
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    let shell = handle.state::<shell::Shell>();
                    let _ = tokio::time::timeout(SHORTCUTS_AT_THE_LATEST, shell.window_attached()).await;
                    let registering = handle.clone();
                    let _ = tauri::async_runtime::spawn_blocking(move || {
                        if let Err(e) = desktop::register_shortcuts(&registering) {
                            eprintln!("warmline: no global shortcuts: {e}");
                        }
                        registering.state::<shell::Shell>().mark("the shortcuts were registered");
                    })
                    .await;
                });
                tauri::async_runtime::spawn(start::run(app.handle().clone()));
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("warmline: the desktop shell failed to start: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UI is type-checked against bindings.ts; if a command's signature
    /// changes in Rust and the file is not regenerated, the UI would compile
    /// against a lie. Regenerate with `make bindings`.
    #[test]
    fn checked_in_bindings_match_the_rust_declarations() {
        let fresh = render_bindings().expect("render bindings");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        if std::env::var_os("WARMLINE_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
            return;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "{} is out of date with the Rust commands and events: run `make bindings` and commit the result",
            path.display()
        );
    }

    #[test]
    fn every_command_has_a_permission() {
        let listed: Vec<&str> = include!("commands/list.in").to_vec();
        let bindings = render_bindings().expect("render bindings");
        for name in &listed {
            assert!(bindings.contains(&format!("\"{name}\"")), "{name} is listed in list.in but not a command");
        }
        let capability = include_str!("../capabilities/main-window.json");
        for name in &listed {
            let permission = format!("allow-{}", name.replace('_', "-"));
            assert!(capability.contains(&permission), "the main window is not granted {permission}");
        }
    }
}
