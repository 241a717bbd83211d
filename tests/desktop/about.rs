//! A control that calls Rust through the typed IPC and shows what it returned.

use crate::desk::Desk;

#[test]
fn system_check_shows_the_version_and_keyring_health_from_rust() {
    let desk = Desk::launch("about", "day-scenario.toml");
    let app = &desk.app;
    assert_eq!(app.title().expect("title"), "Warmline");

    // The system check lives in Settings (About), in English for this test.
    desk.open_settings_in("en");
    let button = app.by_test_id("check-system").expect("the system check button is in Settings");
    app.click(&button).expect("click");

    // The version comes from Rust (CARGO_PKG_VERSION of warmline-agent), so
    // seeing it proves the click went through the generated IPC bindings.
    let version = app.text(&app.by_test_id("app-version").expect("version appears")).expect("text");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "the window shows the version Rust returned");

    // The test session has an unlocked gnome-keyring: Rust's probe succeeds.
    let keyring = app.text(&app.by_test_id("keyring-status").expect("keyring status")).expect("text");
    assert!(keyring.contains("OS keyring ready"), "keyring status from Rust: {keyring}");

    desk.shot("system-check");
}
