//! The desktop around the window: global shortcuts (Ctrl+Alt+A answer,
//! Ctrl+Alt+M mute, Ctrl+Alt+H hang up) pressed as real X key events, which
//! only the app's global grab handles (the page's own shortcuts are
//! Ctrl+Shift), so the call is answered, muted and hung up with no help
//! from the web view; and the tray's presence does not get in the way.

use std::process::Command;

use crate::desk::Desk;

/// Presses `keys` (xdotool's names) as the X server's keyboard would.
fn x_key(keys: &str) {
    let status = Command::new("xdotool")
        .args(["key", "--clearmodifiers", keys])
        .status()
        .unwrap_or_else(|e| panic!("xdotool (installer/setup.sh installs it): {e}"));
    assert!(status.success(), "xdotool key {keys}: {status}");
}

#[test]
fn global_shortcuts_answer_mute_and_hang_up_a_call() {
    let desk = Desk::launch("global", "day-scenario.toml");
    desk.wait_for("the window", "[data-testid=\"sign-in\"], [data-testid=\"sign-out\"]");
    desk.open_settings_in("en");
    desk.close_dialog();
    desk.sign_in("Jordan Lee");
    desk.choose_state("available");

    desk.wait_text("an incoming call", "[data-testid=\"incoming-name\"]", |t| !t.is_empty());
    // The shortcuts are registered once the window's UI is up (so that
    // registering them does not hold the window back): wait for the app to
    // say so.
    desk.wait_log("the global shortcuts", "start-up: the shortcuts were registered");
    x_key("ctrl+alt+a");
    desk.wait_for("the call answered by the global shortcut", "[data-testid=\"call-card\"].state-connected");

    x_key("ctrl+alt+m");
    desk.wait_for("the microphone muted", "[data-testid=\"mute\"][aria-pressed=\"true\"]");
    desk.shot("muted");
    x_key("ctrl+alt+m");
    desk.wait_for("the microphone back on", "[data-testid=\"mute\"][aria-pressed=\"false\"]");

    x_key("ctrl+alt+h");
    desk.wait_for("wrap-up after the global hang-up", "[data-testid=\"wrapup\"]");
}
