//! A control that calls Rust through the typed IPC and shows what it returned.

use warmline_e2e::webdriver::TauriDriver;
use warmline_e2e::{artifacts_dir, desktop_binary, picture_stats, require_session};

#[test]
fn system_check_shows_the_version_and_keyring_health_from_rust() {
    require_session();
    let artifacts = artifacts_dir("desktop");
    let driver = TauriDriver::start(&artifacts.join("tauri-driver.log")).expect("tauri-driver");
    let app = driver.session(&desktop_binary(), &[]).expect("launch the warmline window");

    let button = app.by_test_id("check-system").expect("the system check button is on screen");
    assert_eq!(app.title().expect("title"), "Warmline");
    app.click(&button).expect("click");

    // The version comes from Rust (CARGO_PKG_VERSION of warmline-agent), so
    // seeing it proves the click went through the generated IPC bindings.
    let version = app.text(&app.by_test_id("app-version").expect("version appears")).expect("text");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "the window shows the version Rust returned");

    // The test session has an unlocked gnome-keyring: Rust's probe succeeds.
    let keyring = app.text(&app.by_test_id("keyring-status").expect("keyring status")).expect("text");
    assert!(keyring.contains("OS keyring ready"), "keyring status from Rust: {keyring}");

    let png = app.screenshot().expect("screenshot");
    let path = artifacts.join("system-check.png");
    std::fs::write(&path, &png).expect("save screenshot");
    let stats = picture_stats(&png).expect("decode screenshot");
    assert!(stats.width >= 600 && stats.height >= 400, "the window has a real size: {stats:?}");
    assert!(
        stats.distinct_colours >= 16 && stats.non_background_share > 0.02,
        "{} looks blank: {stats:?}",
        path.display()
    );
    app.close().expect("close session");
}
