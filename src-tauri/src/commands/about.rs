//! The about box: version and keyring health.

use warmline_agent::{AppInfo, ErrorPayload};

/// The app's version and whether the OS keyring works (a probe entry is
/// written, read back and deleted).
#[tauri::command]
#[specta::specta]
pub async fn app_info() -> Result<AppInfo, ErrorPayload> {
    // The keyring talks D-Bus synchronously; keep it off the async workers.
    tauri::async_runtime::spawn_blocking(warmline_agent::app_info)
        .await
        .map_err(|e| ErrorPayload { code: warmline_agent::ErrorCode::Internal, message: e.to_string() })
}

/// Restarts the app, so that connection settings saved from the settings
/// screen take effect (the session reads the file when it starts).
#[tauri::command]
#[specta::specta]
pub fn restart_app(app: tauri::AppHandle) {
    app.restart();
}
