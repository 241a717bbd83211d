//! Declares Warmline's own commands to Tauri's permission system, so the web
//! view may call only the ones a capability grants (see capabilities/).

fn main() {
    let commands: &[&str] = &include!("src/commands/list.in");
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .unwrap_or_else(|e| panic!("tauri build script failed: {e:#}"));
}
