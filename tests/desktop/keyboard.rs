//! The same work with the keyboard alone: Tab and Enter to move and press,
//! the shortcuts (Ctrl+Shift+A answer, N notes, H hang up) for the call.

use warmline_e2e::webdriver::keys::{CONTROL, ENTER, ESCAPE, SHIFT, SPACE, TAB};

use crate::desk::Desk;

/// Presses Tab until the element with this `data-testid` has the focus.
fn tab_to(desk: &Desk, test_id: &str) {
    for _ in 0..60 {
        if desk.focused() == test_id {
            return;
        }
        desk.app.press(&[], &[TAB]).expect("Tab");
    }
    panic!("Tab never reached {test_id} (focus is on {})", desk.focused());
}

fn shortcut(desk: &Desk, key: &str) {
    desk.app.press(&[CONTROL, SHIFT], &[key]).unwrap_or_else(|e| panic!("Ctrl+Shift+{key}: {e}"));
}

#[test]
fn a_call_from_answer_to_wrap_up_with_the_keyboard_alone() {
    let desk = Desk::launch("keyboard", "day-scenario.toml");
    desk.wait_for("the window", "[data-testid=\"sign-in\"], [data-testid=\"sign-out\"]");
    desk.open_settings_in("en");
    desk.app.press(&[], &[ESCAPE]).expect("Escape closes Settings");
    desk.wait_gone("Settings to close", "[data-testid=\"dialog\"]");

    // Sign in and go available: Tab to the buttons, Enter.
    desk.wait_for("the Sign in button", "[data-testid=\"sign-in\"]");
    tab_to(&desk, "sign-in");
    desk.app.press(&[], &[ENTER]).expect("Enter");
    desk.wait_text("the signed-in name", "[data-testid=\"health-1\"]", |t| t.contains("Jordan Lee"));
    desk.wait_for("the Become available button", "[data-testid=\"go-available\"]");
    tab_to(&desk, "go-available");
    desk.app.press(&[], &[ENTER]).expect("Enter");

    // A call rings: Ctrl+Shift+A answers it.
    let name = desk.wait_text("an incoming call", "[data-testid=\"incoming-name\"]", |t| !t.is_empty());
    desk.shot("incoming");
    shortcut(&desk, "a");
    desk.wait_for("the call to connect", "[data-testid=\"call-card\"].state-connected");
    desk.wait_text("the screen pop", "[data-testid=\"context-name\"]", |t| t == name);

    // Ctrl+Shift+N goes to the notes; type there.
    shortcut(&desk, "n");
    desk.wait("the notes to have the focus", crate::desk::PATIENCE, |_| (desk.focused() == "notes").then_some(()));
    let text = "Typed without a mouse";
    desk.app.press(&[], &[text]).expect("type the note");
    desk.wait_text("the note to be saved", "[data-testid=\"note-sync\"]", crate::desk::note_saved);
    assert_eq!(desk.js("return document.activeElement.value;").as_str(), Some(text));
    desk.shot("connected");

    // Ctrl+Shift+H hangs up; wrap-up by Tab, Space and Enter.
    shortcut(&desk, "h");
    desk.wait_for("wrap-up", "[data-testid=\"wrapup\"]");
    tab_to(&desk, "disposition");
    desk.app.press(&[], &[SPACE]).expect("Space");
    desk.wait("a disposition to be chosen", crate::desk::PATIENCE, |_| {
        (desk.count("[data-testid=\"disposition\"]:checked") == 1).then_some(())
    });
    tab_to(&desk, "wrapup-done");
    desk.shot("wrapup");
    desk.app.press(&[], &[ENTER]).expect("Enter");
    desk.wait_gone("wrap-up to end", "[data-testid=\"wrapup\"]");
}
